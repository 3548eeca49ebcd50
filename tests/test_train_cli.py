"""`charlm train` features a user relies on to watch, stop, resume and trust a run."""

import json
import re
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from charlm.store import modelfile
from charlm.cli.app import cli

ANSI = re.compile(r"\x1b\[")


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input,
                              catch_exceptions=False)


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("\n".join(["anna", "bob", "carla", "dan", "eve", "frank", "gina"] * 30) + "\n")
    return p


def test_log_file_json_summary_and_samples(tmp_path, corpus):
    out, log = tmp_path / "m.npz", tmp_path / "log.jsonl"
    r = run("train", corpus, "-o", out, "--steps", "12", "--eval-every", "4", "--hidden", "8",
            "--log-file", log, "--json", "--progress", "off")
    assert r.exit_code == 0
    summary = json.loads(r.stdout)                      # stdout: only the JSON summary
    assert summary["steps"] == 12 and summary["model"] == str(out)
    assert summary["best_val_loss"] > 0 and summary["parameters"] > 0
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [rec["step"] for rec in recs] == [4, 8, 12]
    for key in ("tokens", "time", "train_loss", "val_loss", "val_bits_per_char", "lr",
                "grad_norm"):
        assert key in recs[0]
    assert r.stderr.count("sample:") == 3
    assert not ANSI.search(r.stderr)


def test_progress_on_draws_and_quiet_is_silent(tmp_path, corpus):
    r = run("train", corpus, "-o", tmp_path / "m.npz", "--steps", "3", "--hidden", "4",
            "--progress", "on")
    assert r.exit_code == 0 and ANSI.search(r.stderr)
    q = run("train", corpus, "-o", tmp_path / "q.npz", "--steps", "3", "--hidden", "4", "-q")
    assert q.exit_code == 0 and q.stderr == "" and q.stdout == ""


def test_no_color_is_respected(tmp_path, corpus):
    r = CliRunner().invoke(cli, ["train", str(corpus), "-o", str(tmp_path / "m.npz"),
                                 "--steps", "3", "--hidden", "4", "--progress", "on"],
                           env={"NO_COLOR": "1"})
    assert r.exit_code == 0
    assert not re.search(r"\x1b\[[0-9;]*3[0-9]m", r.stderr)     # no colour codes


def test_schedules_and_patience_options(tmp_path, corpus):
    for i, extra in enumerate((["--lr-schedule", "cosine", "--warmup", "3"],
                               ["--lr-schedule", "step", "--lr-decay-every", "0.5"],
                               ["--patience", "1", "--eval-every", "2"])):
        r = run("train", corpus, "-o", tmp_path / f"m{i}.npz", "--steps", "8", "--hidden", "4",
                "--progress", "off", "--json", *extra)
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)["steps"] <= 8


def test_resume_from_cli_and_refusals(tmp_path, corpus):
    out = tmp_path / "m.npz"
    ckpt = tmp_path / "m.ckpt.npz"
    run("train", corpus, "-o", out, "--steps", "5", "--hidden", "8", "--progress", "off")
    r = run("train", "--resume", ckpt, "--steps", "9", "--lr", "0.001", "--progress", "off")
    assert r.exit_code == 0
    assert "resuming" in r.stderr and "changed lr: 0.008 → 0.001" in r.stderr
    assert modelfile.load(ckpt).training["resume"]["state"]["step"] == 9
    bad = CliRunner().invoke(cli, ["train", "--resume", str(ckpt), "--hidden", "16",
                                   "--steps", "20"])
    assert bad.exit_code == 2 and "hidden" in bad.stderr
    model = CliRunner().invoke(cli, ["train", "--resume", str(out), "--steps", "20"])
    assert model.exit_code == 2 and "checkpoint" in model.stderr


def test_divergence_is_one_line_and_keeps_model(tmp_path, corpus):
    out = tmp_path / "m.npz"
    run("train", corpus, "-o", out, "--steps", "6", "--hidden", "8", "--progress", "off")
    before = out.read_bytes()
    r = CliRunner().invoke(cli, ["train", "--resume", str(tmp_path / "m.ckpt.npz"),
                                 "--steps", "100", "--lr", "1e38", "--clip", "0",
                                 "--progress", "off"])
    assert r.exit_code == 1
    assert "diverged" in r.stderr and "Traceback" not in r.stderr
    assert out.read_bytes() == before


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_and_prints_resume_command(tmp_path, sig, code):
    corpus = tmp_path / "big.txt"
    corpus.write_text("\n".join(f"line number {i} of some text" for i in range(3000)) + "\n")
    out = tmp_path / "m.npz"
    p = subprocess.Popen([sys.executable, "-m", "charlm", "train", str(corpus), "-o", str(out),
                          "--hidden", "32", "--time", "120", "--progress", "off",
                          "--eval-every", "100000"],
                         stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    # Wait until training has started, then signal.
    line = ""
    while "output" not in line:
        line = p.stderr.readline()
        assert line, "training never started"
    time.sleep(1.5)
    p.send_signal(sig)
    err = p.stderr.read()
    assert p.wait(timeout=60) == code
    assert "resume with: charlm train --resume" in err and "Traceback" not in err
    assert modelfile.load(out).kind == "model"          # evaluated and saved at the stop
    ckpt = modelfile.load(tmp_path / "m.ckpt.npz")
    assert ckpt.training["resume"]["state"]["step"] > 0


@pytest.mark.parametrize("cell,gates", [("rnn", 1), ("gru", 3), ("lstm", 4)])
def test_info_shows_shapes_in_notation(tmp_path, corpus, cell, gates):
    out = tmp_path / "m.npz"
    run("train", corpus, "-o", out, "--steps", "2", "--hidden", "10", "--layers", "2",
        "--cell", cell, "--progress", "off")
    r = run("info", out)
    V = modelfile.load(out).model.config.vocab_size
    G = gates * 10
    assert "layer1.W_aa" in r.stdout and f"({G}, 10)" in r.stdout
    assert f"({G}, {V})" in r.stdout                     # W_ax on the one-hot input
    assert f"layer1.W_a = [W_aa | W_ax]  ({G}, {10 + V})" in r.stdout
    assert "command charlm train" in r.stdout or "command" not in r.stdout
    d = json.loads(run("info", out, "--format", "json").stdout)
    assert d["model"]["cell"] == cell and d["version"] == 1
    assert {a["name"]: tuple(a["shape"]) for a in d["arrays"]}["W_ya"] == (V, 10)
    ck = json.loads(run("info", tmp_path / "m.ckpt.npz", "--format", "json").stdout)
    assert ck["kind"] == "checkpoint" and ck["resume"]["step"] == 2


def test_info_word_level_notes_example(tmp_path):
    """The issue's example: an RNN with H = 100 on a large word vocabulary."""
    words = [f"w{i}" for i in range(400)]
    p = tmp_path / "w.txt"
    p.write_text("\n".join(" ".join(words[i:i + 7]) for i in range(0, 400, 3)) * 2)
    out = tmp_path / "w.npz"
    run("train", p, "-o", out, "--level", "word", "--embed", "0", "--min-count", "1",
        "--cell", "rnn", "--hidden", "100", "--layers", "1", "--steps", "1", "--progress", "off")
    V = modelfile.load(out).model.config.vocab_size
    r = run("info", out).stdout
    assert "(100, 100)" in r and f"(100, {V})" in r and f"(100, {100 + V})" in r


@pytest.mark.parametrize("lines,want", [(2_000, (32, 64)), (100_000, (64, 128))])
def test_batch_and_window_follow_the_corpus_size_unless_given(tmp_path, lines, want):
    from charlm.training.defaults import LARGE_FROM_TOKENS

    p = tmp_path / "c.txt"
    p.write_text("\n".join(["anna", "bob", "carla", "dan", "eve", "frank", "gina",
                            "hannah", "ivo", "julia kowalski"] * (lines // 10)) + "\n")
    tokens = len(p.read_text())
    assert (tokens >= LARGE_FROM_TOKENS / 0.9) == (want == (64, 128))
    r = run("train", p, "-o", tmp_path / "m.npz", "--steps", "1", "--hidden", "4",
            "--progress", "off", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["tokens"] == want[0] * want[1]
    cfg = modelfile.load(tmp_path / "m.npz").training["config"]
    assert (cfg["batch_size"], cfg["seq_len"]) == want
    r = run("train", p, "-o", tmp_path / "g.npz", "--steps", "1", "--hidden", "4",
            "--batch-size", "5", "--progress", "off", "--json")
    cfg = modelfile.load(tmp_path / "g.npz").training["config"]
    assert (cfg["batch_size"], cfg["seq_len"]) == (5, want[1])
