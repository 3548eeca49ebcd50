"""`charlm generate` from the command line."""

import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from charlm.cli.app import cli


def run(*args, input=None):
    r = CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def names_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    corpus = d / "n.txt"
    names = ["anna", "anne", "annie", "bob", "bobby", "carla", "carl", "dan", "dana", "eve",
             "evelyn", "frank", "frances", "gina", "gino", "hana", "hank", "ivan", "ivana"]
    corpus.write_text("\n".join(names * 12) + "\n")
    out = d / "m.npz"
    run("train", corpus, "-o", out, "--steps", "150", "--hidden", "32", "--lr", "0.01",
        "--progress", "off", "--sample-every", "0")
    return out, set(names)


def test_jsonl_agrees_with_score(names_model):
    model, _ = names_model
    r = run("generate", "-m", model, "-n", "6", "--seed", "3", "--format", "jsonl",
            "--logprobs", "--prime", "a")
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [rec["index"] for rec in recs] == list(range(6))
    ended = [rec for rec in recs if rec["end"] == "eos"]
    assert ended
    scored = run("score", "-m", model, "--format", "jsonl",
                 input="".join(rec["text"] + "\n" for rec in ended))
    for rec, line in zip(ended, scored.stdout.splitlines()):
        s = json.loads(line)
        assert s["text"] == rec["text"] and s["tokens"] == rec["tokens"]
        assert s["logprob"] == pytest.approx(rec["logprob"], abs=1e-4)
        assert sum(t["logprob"] for t in rec["token_logprobs"]) == pytest.approx(rec["logprob"])
        assert rec["token_logprobs"][0]["token"] == "a"        # the prime is scored too


def test_controls_run_and_are_reproducible(names_model):
    model, _ = names_model
    for extra in (["--top-k", "2"], ["--top-p", "0.5"], ["-t", "0.3"], ["--greedy"]):
        a = run("generate", "-m", model, "-n", "5", "--seed", "4", *extra).stdout
        b = run("generate", "-m", model, "-n", "5", "--seed", "4", *extra).stdout
        assert a == b and len(a.splitlines()) == 5
    greedy = run("generate", "-m", model, "-n", "3", "--greedy").stdout.splitlines()
    assert len(set(greedy)) == 1                          # no randomness at all


def test_stop_and_length(names_model):
    model, _ = names_model
    out = run("generate", "-m", model, "-n", "20", "--seed", "1", "--stop", "n").stdout
    for line in out.splitlines():
        assert line.endswith("n") and "n" not in line[:-1] or "n" not in line
    short = run("generate", "-m", model, "-n", "10", "--seed", "1", "-l", "2").stdout
    assert all(len(line) <= 2 for line in short.splitlines())


def test_novel_names_are_not_training_lines(names_model):
    model, names = names_model
    out = run("generate", "-m", model, "-n", "8", "--seed", "2", "--novel", "-t", "1.5").stdout
    got = out.splitlines()
    assert len(got) == 8 and len(set(got)) == 8
    assert not set(got) & names


def test_novel_needs_a_line_model(stream_model):
    r = CliRunner().invoke(cli, ["generate", "-m", str(stream_model), "--novel"])
    assert r.exit_code == 2 and "--split none" in r.stderr


def test_usage_errors(names_model):
    model, _ = names_model
    for args in (["--logprobs"], ["--top-p", "1.5"], ["--top-k", "0"], ["-t", "-1"]):
        r = CliRunner().invoke(cli, ["generate", "-m", str(model), *args])
        assert r.exit_code == 2, args


@pytest.fixture(scope="module")
def stream_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    corpus = d / "s.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog\n" * 50)
    model = d / "s.npz"
    run("train", corpus, "-o", model, "--split", "none", "--steps", "3", "--hidden", "8",
        "--progress", "off")
    return model


def test_output_streams_before_the_sample_ends(stream_model):
    model = stream_model
    p = subprocess.Popen([sys.executable, "-m", "charlm", "generate", "-m", str(model),
                          "-l", "2000000", "--seed", "1"], stdout=subprocess.PIPE)
    t0 = time.perf_counter()
    first = p.stdout.read(20)
    elapsed = time.perf_counter() - t0
    p.kill()
    p.wait()
    # Two million tokens take minutes; the first bytes arrive long before that.
    assert len(first) == 20 and elapsed < 30


def test_stream_samples_are_separated_by_blank_lines(stream_model):
    out = run("generate", "-m", stream_model, "-n", "3", "-l", "30", "--seed", "1").stdout
    assert out.count("\n\n") >= 2 and out.endswith("\n")
