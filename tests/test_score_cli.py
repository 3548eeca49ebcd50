"""`charlm score` as a command-line scorer: formats, framings, edge cases."""

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from charlm.store import modelfile
from charlm.cli.app import cli
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.text.tokens import TextConfig
from charlm.text.vocab import Vocab

ANSI = re.compile(r"\x1b\[")
CHARS = list("abcdefgh ,.") + ["\n"]


def make_model(path, split, seed=0):
    vocab = Vocab(["<eos>", "<unk>"] + CHARS)
    rng = np.random.default_rng(seed)
    model = LanguageModel.create(ModelConfig(vocab_size=len(vocab), hidden=12, layers=2), rng)
    for p in model.params.values():
        p += (rng.standard_normal(p.shape) * 0.3).astype(p.dtype)
    modelfile.save(path, modelfile.Bundle(model, vocab, TextConfig(split=split)))
    return path


@pytest.fixture
def lines_model(tmp_path):
    return make_model(tmp_path / "lines.npz", "lines")


@pytest.fixture
def stream_model(tmp_path):
    return make_model(tmp_path / "stream.npz", "none")


def score(model, *args, input=None):
    r = CliRunner().invoke(cli, ["score", "-m", str(model), *map(str, args)], input=input,
                           catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return r


def parse_kenlm(text):
    """A small parser of KenLM `query` output, as scripts in the wild do it."""
    lines, summary = [], {}
    for row in text.splitlines():
        if row.startswith(("Perplexity including OOVs:", "Perplexity excluding OOVs:",
                           "OOVs:", "Tokens:")):
            key, value = row.split(":\t")
            summary[key] = float(value)
            continue
        words, total = row.split("Total: ")
        tot, oov = total.split(" OOV: ")
        toks = []
        for chunk in words.rstrip("\t").split("\t"):
            word_id, order, prob = chunk.rsplit(" ", 2)
            word, wid = word_id.rsplit("=", 1)
            toks.append((word, int(wid), int(order), float(prob)))
        lines.append({"tokens": toks, "total": float(tot), "oov": int(oov)})
    return lines, summary


def test_kenlm_format_round_trips_through_a_kenlm_parser(lines_model):
    text = "abc def\nzz a\n\n"
    r = score(lines_model, "--format", "kenlm", input=text)
    lines, summary = parse_kenlm(r.stdout)
    tsv = score(lines_model, "--format", "tsv", input=text).stdout.splitlines()[1:]
    assert len(lines) == 3
    for parsed, row in zip(lines, tsv):
        cols = row.split("\t")
        assert parsed["total"] == pytest.approx(float(cols[0]), abs=1e-5)
        assert sum(t[3] for t in parsed["tokens"]) == pytest.approx(parsed["total"], abs=1e-4)
        assert parsed["oov"] == int(cols[3])
        assert parsed["tokens"][-1][0] == "</s>"
    assert lines[0]["tokens"][3][0] == "␠"              # a space stays one field
    assert lines[1]["oov"] == 2
    total_log10 = sum(l["total"] for l in lines)
    tokens = sum(len(l["tokens"]) for l in lines)
    assert summary["Tokens"] == tokens and summary["OOVs"] == 2
    assert summary["Perplexity including OOVs"] == pytest.approx(
        10 ** (-total_log10 / tokens), rel=1e-4)
    oov_log10 = sum(t[3] for l in lines for t in l["tokens"] if t[1] == 1)
    assert summary["Perplexity excluding OOVs"] == pytest.approx(
        10 ** (-(total_log10 - oov_log10) / (tokens - 2)), rel=1e-4)


def test_json_has_summary_last_and_summary_only(lines_model):
    out = score(lines_model, "--format", "json", input="abc\nfed\n").stdout.splitlines()
    recs = [json.loads(x) for x in out]
    assert [r["text"] for r in recs[:2]] == ["abc", "fed"]
    assert recs[-1]["summary"]["lines"] == 2
    only = score(lines_model, "--summary-only", "--format", "jsonl", input="abc\nfed\n")
    d = json.loads(only.stdout)
    assert d["lines"] == 2 and d["tokens"] == 8
    assert d["perplexity"] == pytest.approx(recs[-1]["summary"]["perplexity"])


def test_per_token_values_add_up(lines_model):
    r = score(lines_model, "--format", "jsonl", "--per-token", input="abc d\n")
    rec = json.loads(r.stdout)
    toks = rec["token_scores"]
    assert [t["token"] for t in toks] == list("abc d") + ["<eos>"]
    assert sum(t["logprob"] for t in toks) == pytest.approx(rec["logprob"], abs=1e-6)
    for t in toks:
        assert t["surprisal_bits"] == pytest.approx(-t["logprob"] / math.log(2))
        assert t["prob"] == pytest.approx(math.exp(t["logprob"]))
    tsv = score(lines_model, "--format", "tsv", "--per-token", input="abc d\n").stdout
    header, row = tsv.splitlines()
    assert header.split("\t")[-2] == "surprisal_bits"
    assert len(row.split("\t")[-2].split()) == 6


def test_stream_framing_scores_lines_in_context(stream_model):
    text = "abc def\nfed cba\nabc\n"
    rows = [json.loads(x) for x in score(stream_model, "--format", "jsonl", input=text)
            .stdout.splitlines()]
    b = modelfile.load(stream_model)
    ids = [b.vocab.index[c] for c in text]
    x = np.array([[0] + ids[:-1]])
    lp, _ = b.model.log_probs(x, np.array([ids]))
    bounds = np.cumsum([0] + [len(line) + 1 for line in text.splitlines()])
    for k, rec in enumerate(rows):
        assert rec["tokens"] == len(text.splitlines()[k]) + 1       # its newline included
        assert rec["logprob"] == pytest.approx(lp[0, bounds[k]:bounds[k + 1]].sum(), abs=1e-4)
    d = json.loads(score(stream_model, "--summary-only", "--format", "json",
                         input=text).stdout)
    assert d["bits_per_char"] == pytest.approx(-lp.sum() / math.log(2) / len(text), rel=1e-5)
    # The same line scores differently alone: context matters in a stream.
    alone = json.loads(score(stream_model, "--format", "jsonl", input="fed cba\n").stdout)
    assert alone["logprob"] != pytest.approx(rows[1]["logprob"], abs=1e-6)
    # --split lines: every line from the initial state, ended by its newline.
    forced = [json.loads(x) for x in score(stream_model, "--split", "lines", "--format",
                                           "jsonl", input=text).stdout.splitlines()]
    assert forced[1]["logprob"] == pytest.approx(alone["logprob"], abs=1e-5)


def test_stream_no_eos_still_reads_newlines(stream_model):
    text = "abc\ndef\n"
    with_eos = [json.loads(x) for x in score(stream_model, "--format", "jsonl",
                                             "--per-token", input=text).stdout.splitlines()]
    without = [json.loads(x) for x in score(stream_model, "--format", "jsonl", "--per-token",
                                            "--no-eos", input=text).stdout.splitlines()]
    assert without[1]["tokens"] == 3
    assert [t["logprob"] for t in without[1]["token_scores"]] == pytest.approx(
        [t["logprob"] for t in with_eos[1]["token_scores"][:3]])


def test_edge_cases(lines_model):
    long = "abcdefgh " * 11112                            # 100,008 characters
    text = "\nzzzz\n" + long + "\n"
    rows = [json.loads(x) for x in score(lines_model, "--format", "jsonl", input=text)
            .stdout.splitlines()]
    assert rows[0]["tokens"] == 1                        # empty line: only EOS
    assert rows[1]["oovs"] == 4 and rows[1]["tokens"] == 5
    assert rows[2]["tokens"] == len(long) + 1 and math.isfinite(rows[2]["logprob"])
    crlf = score(lines_model, "--format", "jsonl", input="abc\r\nzzzz\r\n").stdout
    assert [json.loads(x)["text"] for x in crlf.splitlines()] == ["abc", "zzzz"]


def test_line_alone_equals_line_in_batch(lines_model):
    lines = ["abc", "a", "hgfedcba " * 30, "", "cab", "ba ba"]
    together = [json.loads(x)["logprob"] for x in score(
        lines_model, "--format", "jsonl", "--batch-size", "4",
        input="\n".join(lines) + "\n").stdout.splitlines()]
    for line, lp in zip(lines, together):
        alone = json.loads(score(lines_model, "--format", "jsonl", input=line + "\n").stdout)
        assert alone["logprob"] == pytest.approx(lp, abs=1e-5)


def test_heatmap(lines_model, monkeypatch):
    plain = score(lines_model, "--heatmap", input="abc\nzz\n").stdout
    assert plain.splitlines()[0].startswith("abc↵") and not ANSI.search(plain)
    from charlm.cli.score_render import HeatmapWriter
    from charlm.lm.scoring import Scorer
    import io

    b = modelfile.load(lines_model)
    out = io.StringIO()
    w = HeatmapWriter(out, None, False, b.vocab, b.text, color=True)
    w.start()
    for s in Scorer(b.model, b.vocab, b.text).score(["abc"]):
        w.row(s)
    text = out.getvalue()
    assert "surprisal" in text and ANSI.search(text)
    assert re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()[1].startswith("abc↵")
    bad = CliRunner().invoke(cli, ["score", "-m", str(lines_model), "--heatmap",
                                   "--format", "tsv"], input="a\n")
    assert bad.exit_code == 2


def test_unbuffered_answers_each_line_at_once(lines_model):
    p = subprocess.Popen([sys.executable, "-m", "charlm", "score", "-m", str(lines_model), "-b",
                          "--format", "tsv"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("log10prob")
    p.stdin.write("abc\n")
    p.stdin.flush()
    assert p.stdout.readline().rstrip("\n").endswith("\tabc")     # before stdin closes
    p.stdin.write("cab\n")
    p.stdin.flush()
    assert p.stdout.readline().rstrip("\n").endswith("\tcab")
    p.stdin.close()
    assert p.wait(timeout=30) == 0


def test_format_choices_are_the_writers():
    """score's --format choices are named without importing the writers (so completion
    stays light); they must stay the writers' names."""
    from charlm.cli.score_cmd import FORMATS
    from charlm.cli.score_render import WRITERS

    assert sorted(FORMATS) == sorted(WRITERS)
