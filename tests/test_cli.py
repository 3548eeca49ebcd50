"""The command line through click's CliRunner: stdout carries data only, stderr the
rest; exit status 0 on success, 1 on runtime errors, 2 on usage errors."""

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from charlm.cli.app import cli

ANSI = re.compile(r"\x1b\[")


def run(*args, input=None, env=None):
    return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    corpus = d / "c.txt"
    corpus.write_text("\n".join(["anna", "bob", "carla", "dan", "eve", "frank"] * 20) + "\n")
    out = d / "m.npz"
    r = run("train", str(corpus), "-o", str(out), "--steps", "30", "--hidden", "16",
            "--layers", "1", "--progress", "off")
    assert r.exit_code == 0, r.stderr
    return out, r


def test_help_lists_commands():
    r = run("--help")
    assert r.exit_code == 0
    for cmd in ("train", "generate", "score", "corpora"):
        assert cmd in r.stdout


def test_train_writes_model_and_only_stderr(model):
    out, r = model
    assert out.exists()
    assert r.stdout == ""
    assert "val" in r.stderr and "best val loss" in r.stderr
    assert not ANSI.search(r.stderr)


def test_generate_is_reproducible_and_clean(model):
    out, _ = model
    a = run("generate", "-m", str(out), "-n", "4", "--seed", "5")
    b = run("generate", "-m", str(out), "-n", "4", "--seed", "5")
    assert a.exit_code == 0 and a.stdout == b.stdout and a.stderr == ""
    lines = a.stdout.split("\n")
    assert len(lines) == 5 and lines[-1] == "" and all(lines[:4])


def test_generate_uses_charlm_model_env(model):
    out, _ = model
    r = run("generate", "-n", "2", "--seed", "1", env={"CHARLM_MODEL": str(out)})
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 2


def test_generate_warns_once_about_unknown_prime(model):
    out, _ = model
    r = run("generate", "-m", str(out), "--prime", "zq", "--seed", "1", "-n", "2")
    assert r.exit_code == 0
    assert r.stderr.count("warning") == 1
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("zq") for line in lines)


def test_score_tsv_and_jsonl(model):
    out, _ = model
    r = run("score", "-m", str(out), input="anna\nbob\n\nzzz\n")
    assert r.exit_code == 0
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert rows[0][:3] == ["log10prob", "logprob", "tokens"]
    assert [row[-1] for row in rows[1:]] == ["anna", "bob", "", "zzz"]
    assert rows[4][3] == "3"                            # three OOVs in "zzz"
    assert "perplexity" in r.stderr
    j = run("score", "-m", str(out), "--format", "jsonl", input="anna\nbob\n")
    recs = [json.loads(line) for line in j.stdout.splitlines()]
    assert recs[0]["text"] == "anna" and recs[0]["tokens"] == 5
    assert float(rows[1][1]) == pytest.approx(recs[0]["logprob"], abs=1e-5)


def test_score_reads_files_and_handles_crlf(model, tmp_path):
    out, _ = model
    f = tmp_path / "in.txt"
    f.write_bytes(b"anna\r\nbob\r\n")
    r = run("score", "-m", str(out), str(f))
    assert [line.split("\t")[-1] for line in r.stdout.splitlines()[1:]] == ["anna", "bob"]


def test_score_invalid_utf8_names_the_line(model, tmp_path):
    out, _ = model
    f = tmp_path / "bad.txt"
    f.write_bytes(b"anna\nb\xffb\n")
    r = run("score", "-m", str(out), str(f))
    assert r.exit_code == 1 and "line 2" in r.stderr and "Traceback" not in r.stderr
    r = run("score", "-m", str(out), "--encoding-errors", "replace", str(f))
    assert r.exit_code == 0


@pytest.mark.parametrize("args,code,message", [
    (["generate", "-m", "nope.npz"], 1, "no such model file"),
    (["train", "no/such/file.txt"], 1, "no such file"),
    (["generate", "--temperature", "0"], 2, "temperature"),
    (["train", "--time", "soon"], 2, "duration"),
    (["train", "--hidden", "0"], 2, "hidden"),
])
def test_errors_are_one_line_with_exit_status(args, code, message, tmp_path):
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == code
    assert message in r.stderr.lower()
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_train_rejects_empty_corpus(tmp_path):
    f = tmp_path / "empty.txt"
    f.write_text("\n\n")
    r = run("train", str(f), "-o", str(tmp_path / "m.npz"))
    assert r.exit_code == 1 and "nothing to train on" in r.stderr


def test_train_from_stdin(tmp_path):
    out = tmp_path / "m.npz"
    r = run("train", "-", "-o", str(out), "--steps", "2", "--hidden", "8", "--progress", "off",
            input="abc\nbca\ncab\n" * 5)
    assert r.exit_code == 0 and out.exists()


def test_corpora_lists_bundled():
    r = run("corpora", "--format", "json")
    names = [c["name"] for c in json.loads(r.stdout)]
    assert "names" in names and "surnames" in names


def test_broken_pipe_exits_quietly(model):
    out, _ = model
    p = subprocess.Popen([sys.executable, "-m", "charlm", "generate", "-m", str(out),
                          "-n", "100000", "--seed", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.read(100)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 0
    assert err == ""


def test_threads_option_sets_blas_env():
    code = ("import os, sys; from charlm.cli import set_thread_env; "
            "set_thread_env(sys.argv[1:]); print(os.environ.get('OPENBLAS_NUM_THREADS'))")
    env = dict(os.environ)
    env.pop("OPENBLAS_NUM_THREADS", None)
    env.pop("CHARLM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", code, "--threads", "1", "train"],
                         capture_output=True, text=True, env=env).stdout
    assert out.strip() == "1"


# A training step's temporaries: arrays of several sizes over the mmap threshold,
# made and dropped ten times; prints whether memory is kept, then the minor page
# faults of those ten steps (each fresh page from the kernel is one).
_STEPS = """
import resource, sys
import numpy as np
from charlm.cli import keep_freed_memory
kept = keep_freed_memory()
def step(k):
    arrays = [np.ones((k * 37 + i * 101) % 400_000 + 200_000) for i in range(40)]
    del arrays
for k in range(3):
    step(k)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for k in range(3, 13):
    step(k)
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _glibc():
    try:
        return sys.platform.startswith("linux") and bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError):
        return False


@pytest.mark.skipif(not _glibc(), reason="glibc's malloc only")
@pytest.mark.parametrize("preset", [None, "MALLOC_ARENA_MAX"])
def test_freed_memory_is_reused_without_page_faults_unless_the_environment_says(preset):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    if preset:
        env[preset] = "4"
    kept, faults = subprocess.run([sys.executable, "-c", _STEPS], capture_output=True,
                                  text=True, env=env, check=True).stdout.split()
    if preset:
        assert kept == "False"          # the user's own malloc settings stay theirs
    else:
        # 10 steps of 40 arrays of 1.6-4.8 MB: glibc's defaults fault in about
        # 150,000 fresh pages here; kept memory needs next to none.
        assert kept == "True" and int(faults) < 2000


@pytest.mark.parametrize("preset, expected", [(None, "1"), ("2", "2")])
def test_one_blas_thread_by_default_unless_the_environment_says(preset, expected):
    code = ("import os, sys; from charlm.cli import set_thread_env; "
            "set_thread_env(sys.argv[1:]); print(os.environ.get('OPENBLAS_NUM_THREADS'), "
            "os.environ.get('OMP_NUM_THREADS'))")
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CHARLM_THREADS"):
        env.pop(var, None)
    if preset:
        env["OPENBLAS_NUM_THREADS"] = preset
    out = subprocess.run([sys.executable, "-c", code, "train"],
                         capture_output=True, text=True, env=env).stdout.split()
    assert out[0] == expected
    assert out[1] == ("1" if preset is None else "None")


def _man_text(name=""):
    import pathlib

    page = f"charlm-{name}.1" if name else "charlm.1"
    text = (pathlib.Path(__file__).resolve().parent.parent / "man" / page).read_text()
    return text.replace("\\-", "-")


def test_every_option_of_every_command_is_in_the_man_page():
    commands = {"": cli, **cli.commands}
    missing = []
    for name, cmd in commands.items():
        man = _man_text(name)
        assert name == "" or f"charlm {name}" in man
        for param in cmd.params:
            for opt in param.opts + param.secondary_opts:
                if opt.startswith("-") and not re.search(re.escape(opt) + r"\b", man):
                    missing.append(f"{name or 'charlm'} {opt}")
    assert not missing, sorted(missing)


def test_every_option_has_help_text():
    for name, cmd in cli.commands.items():
        for param in cmd.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts}"
