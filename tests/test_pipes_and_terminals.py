"""Pipes, terminals and interrupts, with real processes: a reader that goes away ends a
command quietly, a terminal on stdin gets a hint instead of a silent wait, Ctrl-C ends
any command with status 130 and one line, scoring shows a status line on a terminal,
tokenizing counts in memory that does not grow with the corpus, and CHARLM_DEBUG=1
shows the traceback of an unexpected error that is otherwise one line.

Each table has one row per command; a new command joins with one row.
"""

import os
import pty
import signal
import subprocess
import sys
import time
import tracemalloc

import pytest
from click.testing import CliRunner

from charlm.cli.app import cli

ENV = dict(os.environ, CHARLM_THREADS="1")


def charlm_cmd(*args):
    return [sys.executable, "-m", "charlm", *map(str, args)]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("pipes")
    corpus = d / "names.txt"
    corpus.write_text("\n".join(["anna", "bob", "carla", "dan", "eve"] * 20) + "\n")
    out = d / "m.npz"
    r = CliRunner().invoke(cli, ["train", str(corpus), "-o", str(out), "--steps", "5",
                                 "--hidden", "8", "--layers", "1", "-q"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    labelled = d / "names.tsv"          # and a classifier beside it: m.parent / "c.npz"
    labelled.write_text("anna\tf\nbob\tm\ncarla\tf\ndan\tm\n" * 5)
    r = CliRunner().invoke(cli, ["train-classifier", str(labelled), "--level", "char", "-o",
                                 str(d / "c.npz"), "--steps", "2", "--hidden", "4", "-q"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def big_text(tmp_path_factory):
    p = tmp_path_factory.mktemp("big") / "big.txt"
    p.write_text("anna\nbob carla\n" * 100_000)
    return p


# Commands whose output is piped into `head`: argv (model, big text file).
PIPED = {
    "generate": lambda m, big: ["generate", "-m", m, "-n", "1000", "--seed", "1"],
    "score": lambda m, big: ["score", "-m", m, big],
    "score-kenlm": lambda m, big: ["score", "-m", m, big, "--format", "kenlm"],
    "tag": lambda m, big: ["tag", big],
    "tag-conllu": lambda m, big: ["tag", big, "--format", "conllu"],
    "classify": lambda m, big: ["classify", "-m", m.parent / "c.npz", big],
}


@pytest.mark.parametrize("name", sorted(PIPED))
def test_reader_going_away_ends_quietly(model, big_text, name):
    p = subprocess.Popen(charlm_cmd(*PIPED[name](model, big_text)), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ENV)
    assert p.stdout.readline()                    # `| head -1`
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 0, err
    assert err == ""


# Commands that would read a terminal on stdin: argv.
READS_STDIN = {
    "score": lambda m: ["score", "-m", m],
    "score-dash": lambda m: ["score", "-m", m, "-"],
    "train": lambda m: ["train", "-", "-o", os.devnull + ".npz"],
    "tokenize": lambda m: ["tokenize", "-"],
    "tag": lambda m: ["tag"],
    "tag-dash": lambda m: ["tag", "-"],
    "classify": lambda m: ["classify", "-m", m.parent / "c.npz"],
}


@pytest.mark.parametrize("name", sorted(READS_STDIN))
def test_terminal_on_stdin_gets_a_hint_not_a_wait(model, name):
    leader, follower = pty.openpty()
    try:
        p = subprocess.run(charlm_cmd(*READS_STDIN[name](model)), stdin=follower,
                           capture_output=True, text=True, env=ENV, timeout=30)
    finally:
        os.close(leader)
        os.close(follower)
    assert p.returncode == 2, p.stderr
    assert "pipe" in p.stderr and "Traceback" not in p.stderr and p.stdout == ""


# Commands interrupted while they work or wait: (argv, what stdin is).
INTERRUPTED = {
    "score-waiting-for-input": (lambda m, big: ["score", "-m", m], "open pipe"),
    "score-working": (lambda m, big: ["score", "-m", m, big, "--summary-only"], None),
    "generate": (lambda m, big: ["generate", "-m", m, "-n", "100000", "--seed", "1"], None),
    "tokenize-waiting-for-input": (lambda m, big: ["tokenize", "-"], "open pipe"),
    "tag-waiting-for-input": (lambda m, big: ["tag"], "open pipe"),
    "tag-working": (lambda m, big: ["tag", big, "--pretokenized"], None),
    "classify-waiting-for-input": (lambda m, big: ["classify", "-m", m.parent / "c.npz"],
                                   "open pipe"),
    "classify-working": (lambda m, big: ["classify", "-m", m.parent / "c.npz", big], None),
}


@pytest.mark.parametrize("name", sorted(INTERRUPTED))
def test_ctrl_c_exits_130_with_one_line(model, big_text, tmp_path, name):
    make, stdin = INTERRUPTED[name]
    out = open(tmp_path / "out", "wb")
    p = subprocess.Popen(charlm_cmd(*make(model, big_text)), stdout=out,
                         stderr=subprocess.PIPE,
                         stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, env=ENV)
    time.sleep(1.5)                               # well into its work (or its wait)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    out.close()
    assert p.returncode == 130, err
    assert err.decode().strip() == "charlm: interrupted"


def test_score_shows_progress_only_when_asked_or_on_a_terminal(model):
    line = "anna bob carla " * 2000 + "\n"
    on = CliRunner().invoke(cli, ["score", "-m", str(model), "--progress", "on"], input=line,
                            catch_exceptions=False)
    assert on.exit_code == 0 and "scoring: " in on.stderr and "tokens/s" in on.stderr
    assert "scoring" not in on.stdout
    for mode in ("auto", "off"):                  # CliRunner's stderr is no terminal
        r = CliRunner().invoke(cli, ["score", "-m", str(model), "--progress", mode],
                               input=line, catch_exceptions=False)
        assert r.exit_code == 0 and "scoring: " not in r.stderr
        assert r.stdout == on.stdout


def test_score_progress_on_a_terminal(model, tmp_path):
    """stderr a terminal, a long line: the status line appears after a second."""
    text = tmp_path / "long.txt"
    text.write_text("anna bob carla " * 14_000 + "\n")     # 210,000 characters
    leader, follower = pty.openpty()
    try:
        p = subprocess.run(charlm_cmd("score", "-m", model, text, "--summary-only"),
                           stderr=follower, stdout=subprocess.PIPE, env=ENV, timeout=120)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert p.returncode == 0
    assert b"scoring: " in seen and b"tokens/s" in seen
    assert b"scoring" not in p.stdout


def test_tokenize_memory_does_not_grow_with_the_corpus(tmp_path, monkeypatch):
    """The report counts tokens chunk by chunk: peak memory is the same for a corpus
    four times as big (it used to hold 10 bytes per token)."""
    from charlm.text import corpus as corpus_mod
    from charlm.text.reader import Source
    from charlm.text.report import analyze
    from charlm.text.tokens import TextConfig

    monkeypatch.setattr(corpus_mod, "CHUNK_BYTES", 1 << 16)
    line = "The quick brown fox jumps over the lazy dog, said Anna.\n"
    peaks = []
    for n in (20_000, 80_000):
        p = tmp_path / f"c{n}.txt"
        p.write_text(line * n)
        tracemalloc.start()
        report, _ = analyze([Source(str(p), path=str(p))], TextConfig())
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert report["tokens"] == (len(line) - 1) * n       # characters, no line ends
    assert peaks[1] < 1.3 * peaks[0] + (1 << 20), peaks


def test_unexpected_errors_are_one_line_unless_debugging(model, monkeypatch):
    from charlm.lm import scoring

    def broken(*a, **k):
        raise ZeroDivisionError("a bug")
    monkeypatch.setattr(scoring.Scorer, "score", broken)
    args = ["score", "-m", str(model)]
    r = CliRunner().invoke(cli, args, input="anna\n", env={"CHARLM_DEBUG": "0"},
                           catch_exceptions=False)
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and "internal error (ZeroDivisionError: a bug)" in r.stderr
    assert "CHARLM_DEBUG=1" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(ZeroDivisionError):
        CliRunner().invoke(cli, args, input="anna\n", env={"CHARLM_DEBUG": "1"},
                           catch_exceptions=False)


def test_debug_traceback_from_a_real_process(model, tmp_path):
    """A process started with CHARLM_DEBUG=1 prints the traceback (and the suite sets it
    for the processes it starts)."""
    assert os.environ.get("CHARLM_DEBUG") == "1"
    code = ("import sys; from charlm.lm import scoring\n"
            "def broken(*a, **k): raise ZeroDivisionError('a bug')\n"
            "scoring.Scorer.score = broken\n"
            "from charlm.cli import main; main(sys.argv[1:])")
    p = subprocess.run([sys.executable, "-c", code, "score", "-m", str(model)], input="anna\n",
                       capture_output=True, text=True, env=ENV, timeout=60)
    assert p.returncode == 1 and "Traceback" in p.stderr and "ZeroDivisionError" in p.stderr


@pytest.mark.slow
def test_scoring_an_endless_stream_keeps_memory_flat(tmp_path):
    """50 MB of lines through `charlm score` stays far under 500 MB resident
    (benchmarks/score_memory.py runs the same with 1 GB)."""
    import importlib.util
    import pathlib

    spec = importlib.util.spec_from_file_location(
        "score_memory", pathlib.Path(__file__).parent.parent / "benchmarks" / "score_memory.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model = bench.tiny_model(tmp_path)
    seconds, peak_mb, rows = bench.measure(model, 50)
    assert rows > 1_000_000 and peak_mb < 500
