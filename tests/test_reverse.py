"""Backward language models (`charlm train --reverse`): each line read right to left,
the file says so, and score and generate use it that way."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from charlm.cli.app import cli
from charlm.store import modelfile
from charlm.text.corpus import reverse_lines, type_stream
from charlm.text.tokens import TextConfig

NAMES = ["anna", "annette", "bob", "colette", "carl", "dan", "dana", "eve", "juliette",
         "frank", "gina", "hank", "ivan", "ivana", "odette"]


def run(*args, input=None, code=0):
    r = CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)
    assert r.exit_code == code, r.output
    return r


def test_reverse_lines_turns_each_line_round():
    ids = np.array([3, 4, 5, 0, 6, 0, 7, 8, 0], dtype=np.uint16)
    assert reverse_lines(ids).tolist() == [5, 4, 3, 0, 6, 0, 8, 7, 0]
    assert reverse_lines(reverse_lines(ids)).tolist() == ids.tolist()


@pytest.mark.parametrize("level", ["char", "word"])
def test_the_stream_of_a_backward_model(level):
    text = "the cat sat\nno\n"
    fwd = type_stream([text], TextConfig(level=level))
    bwd = type_stream([text], TextConfig(level=level, reverse=True))
    assert fwd.types == bwd.types
    words = lambda s: [s.types[i] for i in s.ids]
    want = (list("tas tac eht") + ["<eos>"] + list("on") + ["<eos>"] if level == "char"
            else ["sat", "cat", "the", "<eos>", "no", "<eos>"])
    assert words(bwd) == want


def test_reverse_needs_lines():
    with pytest.raises(Exception, match="--split lines"):
        TextConfig(split="none", reverse=True)
    r = run("train", "--reverse", "--split", "none", "--steps", "1", code=2)
    assert "--split lines" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def backward(tmp_path_factory):
    d = tmp_path_factory.mktemp("back")
    corpus = d / "names.txt"
    corpus.write_text("\n".join(NAMES * 10) + "\n")
    out = d / "back.npz"
    run("train", corpus, "--reverse", "-o", out, "--steps", "150", "--hidden", "32",
        "--lr", "0.01", "--progress", "off", "--sample-every", "0")
    return out


def test_the_file_says_it_is_backward(backward):
    assert modelfile.load(backward).text.reverse is True
    r = run("info", backward)
    assert "reversed" in r.stdout
    r = run("info", backward, "--format", "json")
    assert json.loads(r.stdout)["text"]["reverse"] is True


def test_score_reads_each_line_right_to_left(backward):
    b = modelfile.load(backward)
    r = run("score", "-m", backward, "--format", "jsonl", input="annette\n")
    got = json.loads(r.stdout)["logprob"]
    ids = [b.vocab.index[c] for c in reversed("annette")]
    x = np.array([[0] + ids])                     # EOS input first, as for any line
    y = np.array([ids + [0]])
    lp, _ = b.model.log_probs(x, y)
    assert got == pytest.approx(float(lp.sum()), abs=1e-4)


def test_generate_prints_in_reading_order_and_agrees_with_score(backward):
    r = run("generate", "-m", backward, "-n", "8", "--seed", "3", "--prime", "ette",
            "--format", "jsonl", "--logprobs")
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert all(rec["text"].endswith("ette") for rec in recs)
    # the prime is read first, right to left
    assert [t["token"] for t in recs[0]["token_logprobs"][:4]] == list("ette"[::-1])
    ended = [rec for rec in recs if rec["end"] == "eos"]
    assert ended
    scored = run("score", "-m", backward, "--format", "jsonl",
                 input="".join(rec["text"] + "\n" for rec in ended))
    for rec, line in zip(ended, scored.stdout.splitlines()):
        assert json.loads(line)["logprob"] == pytest.approx(rec["logprob"], abs=1e-4)
    text = run("generate", "-m", backward, "-n", "8", "--seed", "3", "--prime", "ette")
    assert text.stdout.splitlines() == [rec["text"] for rec in recs]


def test_stop_and_novel_with_a_backward_model(backward):
    r = run("generate", "-m", backward, "-n", "10", "--seed", "1", "--stop", "a")
    for line in r.stdout.splitlines():
        assert line.startswith("a") or "a" not in line
        assert "a" not in line[1:] or not line.startswith("a")
    r = run("generate", "-m", backward, "-n", "5", "--seed", "2", "--novel", "-t", "1.5")
    got = r.stdout.splitlines()
    assert len(got) == 5 and not set(got) & set(NAMES)
