"""`charlm train-tagger`, `tag`, `evaluate` and `info` on taggers: data on stdout
only, one-line errors with the right exit status, every output format parses."""

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from charlm.cli.app import cli

ANSI = re.compile(r"\x1b\[")
POS = [("the dog runs .", "DET NOUN VERB PUNCT"),
       ("a cat sleeps .", "DET NOUN VERB PUNCT"),
       ("dogs run fast", "NOUN VERB ADV"),
       ("the old man sleeps well .", "DET ADJ NOUN VERB ADV PUNCT")]
NER = [("John lives in Paris", "B-PER O O B-LOC"),
       ("Mary Ann Smith visited New York", "B-PER I-PER I-PER O B-LOC I-LOC"),
       ("it rains", "O O")]


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input,
                              catch_exceptions=False)


def write_conllu(path, pairs, times=8):
    lines = []
    for w, t in pairs * times:
        lines.append(f"# text = {w}")
        for i, (a, b) in enumerate(zip(w.split(), t.split()), 1):
            lines.append(f"{i}\t{a}\t{a.lower()}\t{b}\t_\t_\t0\t_\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_columns(path, pairs, times=8):
    lines = []
    for w, t in pairs * times:
        lines += [f"{a} {b}" for a, b in zip(w.split(), t.split())] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SMALL = ("--hidden", "8", "--embed", "6", "--char-embed", "4", "--char-hidden", "4")


@pytest.fixture(scope="module")
def pos_tagger(tmp_path_factory):
    d = tmp_path_factory.mktemp("pos")
    train = write_conllu(d / "train.conllu", POS)
    out = d / "pos.npz"
    r = run("train-tagger", train, "--dev", train, "-o", out, "--epochs", "12", "--batch-size", "4", "--lr", "0.01",
            *SMALL, "--progress", "off", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["best_metrics"]["accuracy"] > 0.9
    return out, train


@pytest.fixture(scope="module")
def ner_tagger(tmp_path_factory):
    d = tmp_path_factory.mktemp("ner")
    train = write_columns(d / "train.iob2", NER)
    out = d / "ner.npz"
    r = run("train-tagger", train, "--dev", train, "-o", out, "--epochs", "15", "--batch-size", "3", "--lr", "0.01",
            *SMALL, "--progress", "off", "-q")
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    return out, train


def test_train_tagger_reports_on_stderr_only(tmp_path):
    train = write_conllu(tmp_path / "t.conllu", POS)
    r = run("train-tagger", train, "-o", tmp_path / "x.npz", "--steps", "3", *SMALL,
            "--progress", "off")
    assert r.exit_code == 0 and r.stdout == ""
    assert "acc " in r.stderr and "held out" in r.stderr and not ANSI.search(r.stderr)


def test_tag_inline_and_stdin(pos_tagger):
    model, _ = pos_tagger
    r = run("tag", "-m", model, input="the dog runs .\n\na cat sleeps .\n")
    assert r.exit_code == 0 and r.stderr == ""
    lines = r.stdout.split("\n")
    assert lines[0] == "the/DET dog/NOUN runs/VERB ./PUNCT"
    assert lines[1] == ""                                  # empty lines stay aligned
    assert lines[2].startswith("a/DET cat/NOUN")


@pytest.mark.parametrize("fmt", ["tsv", "jsonl", "conllu", "conll"])
def test_tag_formats_parse(pos_tagger, fmt):
    model, _ = pos_tagger
    r = run("tag", "-m", model, "--format", fmt, input="the dog runs .\ndogs run fast\n")
    assert r.exit_code == 0, r.output
    if fmt == "jsonl":
        rows = [json.loads(line) for line in r.stdout.splitlines()]
        assert len(rows) == 2 and rows[0]["tags"][:2] == ["DET", "NOUN"]
    elif fmt == "conllu":
        blocks = [b for b in r.stdout.strip().split("\n\n")]
        assert len(blocks) == 2
        rows = [line.split("\t") for line in blocks[0].splitlines() if not line.startswith("#")]
        assert all(len(row) == 10 for row in rows) and rows[1][3] == "NOUN"
    else:
        blocks = r.stdout.strip().split("\n\n")
        assert len(blocks) == 2
        assert blocks[1].splitlines()[1].split()[-1] == "VERB"


def test_tag_fills_a_conllu_file(pos_tagger):
    model, train = pos_tagger
    r = run("tag", "-m", model, train)
    assert r.exit_code == 0
    assert r.stdout.count("# text = ") == train.read_text().count("# text = ")


def test_tag_spans_for_entities(ner_tagger):
    model, _ = ner_tagger
    line = "John lives in Paris"
    r = run("tag", "-m", model, "--format", "spans", input=line + "\n")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    found = {(e["text"], e["type"]) for e in rec["entities"]}
    assert ("John", "PER") in found and ("Paris", "LOC") in found
    for e in rec["entities"]:
        assert line[e["start"]:e["end"]] == e["text"]


def test_evaluate_json_and_text(pos_tagger, ner_tagger):
    model, gold = pos_tagger
    r = run("evaluate", "-m", model, gold, "--format", "json")
    assert r.exit_code == 0
    d = json.loads(r.stdout)
    assert 0.9 < d["accuracy"] <= 1.0 and "entities" not in d
    r = run("evaluate", "-m", model, gold)
    assert r.exit_code == 0 and "accuracy" in r.stdout and not ANSI.search(r.stdout)
    model, gold = ner_tagger
    d = json.loads(run("evaluate", "-m", model, gold, "--format", "json").stdout)
    assert set(d["entities"]) >= {"precision", "recall", "f1"}
    assert d["entities"]["f1"] > 0.8
    assert d["decoding"] == "constrained viterbi"
    d = json.loads(run("evaluate", "-m", model, gold, "--format", "json",
                       "--no-constrain").stdout)
    assert d["decoding"] == "argmax"


def test_info_shows_the_notation(pos_tagger):
    model, _ = pos_tagger
    r = run("info", model)
    assert r.exit_code == 0
    assert "W_y [a→⟨t⟩; a←⟨t⟩]" in r.stdout and "a←" in r.stdout
    d = json.loads(run("info", model, "--format", "json").stdout)
    assert d["kind"] == "tagger" and d["vocab"]["tags"]


def test_wrong_kind_of_model_fails_in_one_line(pos_tagger, trained_names):
    model, _ = pos_tagger
    for args in (("generate", "-m", model), ("score", "-m", model)):
        r = run(*args, input="abc\n")
        assert r.exit_code == 1 and r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1 and "is a tagger" in r.stderr
    r = run("tag", "-m", trained_names, input="abc\n")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "not a tagger" in r.stderr


def test_usage_errors_exit_2(pos_tagger, tmp_path):
    model, _ = pos_tagger
    r = run("tag", "-m", model, "--format", "spans", input="a b\n")
    assert r.exit_code == 2 and "entity tagger" in r.stderr
    r = run("train-tagger")
    assert r.exit_code == 2
    r = run("tag", "-m", tmp_path / "missing.npz", input="a\n")
    assert r.exit_code == 1 and "no such tagger file" in r.stderr


def test_resume_a_tagger_run(tmp_path):
    train = write_conllu(tmp_path / "t.conllu", POS)
    out = tmp_path / "r.npz"
    r = run("train-tagger", train, "-o", out, "--steps", "4", *SMALL, "--progress", "off")
    assert r.exit_code == 0
    r = run("train-tagger", "--resume", tmp_path / "r.ckpt.npz", "--steps", "6",
            "--progress", "off", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["steps"] == 6 and "resuming" in r.stderr
    r = run("train-tagger", "--resume", tmp_path / "r.ckpt.npz", "--steps", "8",
            "--hidden", "9", "--progress", "off")
    assert r.exit_code == 2 and "cannot resume" in r.stderr


def test_help_of_every_tagging_command():
    for name in ("train-tagger", "tag", "evaluate"):
        r = run(name, "--help")
        assert r.exit_code == 0 and "Usage:" in r.stdout


def test_tag_uses_one_blas_thread_unless_told_otherwise():
    import os
    import subprocess
    import sys

    code = ("import os, sys; from charlm.cli import set_thread_env; "
            "set_thread_env(sys.argv[1:]); print(os.environ.get('OPENBLAS_NUM_THREADS'))")
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                        "CHARLM_THREADS")}

    def threads(*args):
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                              text=True, env=env).stdout.strip()

    assert threads("tag", "-m", "x.npz") == "1"
    assert threads("--threads", "2", "tag") == "2"
    assert threads("train-tagger", "x.conllu") == "1"
    assert threads("evaluate", "x.conllu") == "1"
    assert threads("--threads", "2", "train-tagger", "x.conllu") == "2"


def test_train_tagger_never_overwrites_another_runs_file(tmp_path, pos_tagger):
    model, train = pos_tagger
    out = tmp_path / "taken.npz"
    out.write_bytes(model.read_bytes())
    r = run("train-tagger", train, "-o", out, "--steps", "2", *SMALL, "--progress", "off")
    assert r.exit_code == 2 and "--force" in r.stderr
    assert out.read_bytes() == model.read_bytes()
    r = run("train-tagger", train, "-o", out, "--steps", "2", *SMALL, "--progress", "off",
            "--force")
    assert r.exit_code == 0


def test_a_line_longer_than_max_tokens_is_tagged_in_valid_pieces(ner_tagger, monkeypatch):
    """A huge line (a whole file on one line) is tagged in pieces of MAX_TOKENS, so
    memory stays bounded; every token gets a tag and entity spans stay valid."""
    from charlm.tagger import tagging
    from charlm.text.schemes import convert

    model, _ = ner_tagger
    line = " ".join(["John lives in Paris"] * 7)
    whole = run("tag", "-m", model, "--pretokenized", "--format", "inline", input=line + "\n")
    monkeypatch.setattr(tagging, "MAX_TOKENS", 3)
    cut = run("tag", "-m", model, "--pretokenized", "--format", "inline", input=line + "\n")
    assert whole.exit_code == cut.exit_code == 0, cut.output
    tags = [w.rsplit("/", 1)[1] for w in cut.stdout.split()]
    assert [w.rsplit("/", 1)[0] for w in cut.stdout.split()] == line.split()
    assert len(tags) == 28
    # valid IOB2: converting to IOB2 again changes nothing (no I- without its B-)
    assert convert(tags, "iob2", "iob2") == tags
    assert all(not (t.startswith("I-") and (i == 0 or tags[i - 1][2:] != t[2:]))
               for i, t in enumerate(tags))


def test_tsv_keeps_empty_lines(pos_tagger):
    model, _ = pos_tagger
    text = "the dog runs .\n\n\na cat sleeps .\n"
    r = run("tag", "-m", model, "--format", "tsv", input=text)
    assert r.exit_code == 0
    # one blank line per input line: each sentence's block ends in one, an empty line is one
    lines = r.stdout.split("\n")
    assert lines[:6] == ["the\tDET", "dog\tNOUN", "runs\tVERB", ".\tPUNCT", "", ""]
    assert lines[6] == "" and lines[7] == "a\tDET"


def test_probs_in_tsv_and_jsonl(pos_tagger):
    from charlm.store import tagfile
    from charlm.tagger.data import make_batch
    from charlm.tagger.tagging import attach

    model_path, _ = pos_tagger
    text = "the dog runs .\n\ndogs run fast\n"
    r = run("tag", "-m", model_path, "--format", "tsv", "--probs", input=text)
    assert r.exit_code == 0
    rows = [line.split("\t") for line in r.stdout.splitlines() if line]
    assert len(rows) == 7 and all(len(row) == 3 for row in rows)
    tsv_probs = [float(row[2]) for row in rows]
    assert all(0.0 < p <= 1.0 for p in tsv_probs)
    assert r.stdout.split("\n")[4:6] == ["", ""]          # the empty line kept
    r = run("tag", "-m", model_path, "--format", "jsonl", "--all-probs", input=text)
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(recs) == 3 and recs[1]["tokens"] == recs[1]["probs"] == []
    for rec in (recs[0], recs[2]):
        assert len(rec["probs"]) == len(rec["tokens"]) == len(rec["distributions"])
        for tag, p, dist in zip(rec["tags"], rec["probs"], rec["distributions"]):
            assert dist[tag] == p and max(dist, key=dist.get) == tag
            assert sum(dist.values()) == pytest.approx(1.0, abs=1e-4)
    assert [p for rec in (recs[0], recs[2]) for p in rec["probs"]] == \
        pytest.approx(tsv_probs, rel=1e-5)
    # the softmax of the model itself
    bundle = tagfile.load(model_path)
    model = attach(bundle)
    x, _, _ = make_batch(bundle.vocab, [recs[0]["tokens"]], [0])
    p = np.exp(model.log_probs(x))[0]
    want = [p[t, bundle.vocab.tag_ids[tag]] for t, tag in enumerate(recs[0]["tags"])]
    assert recs[0]["probs"] == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("args", [("--probs",), ("--probs", "--format", "conllu"),
                                  ("--all-probs", "--format", "tsv")])
def test_probs_need_a_format_that_holds_them(pos_tagger, args):
    model, _ = pos_tagger
    r = run("tag", "-m", model, *args, input="the dog runs .\n")
    assert r.exit_code == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1


def test_entities_go_to_misc_in_conllu(ner_tagger, tmp_path):
    model, _ = ner_tagger
    r = run("tag", "-m", model, "--format", "conllu", input="John lives in Paris\n")
    assert r.exit_code == 0
    rows = [line.split("\t") for line in r.stdout.splitlines()
            if line and not line.startswith("#")]
    assert [row[9] for row in rows] == ["NER=B-PER", "NER=O", "NER=O", "NER=B-LOC"]
    assert all(row[3] == "_" for row in rows)             # UPOS untouched
    # a CoNLL-U file keeps its UPOS and its other MISC attributes
    src = tmp_path / "in.conllu"
    src.write_text("# text = John lives in Paris\n"
                   "1\tJohn\tjohn\tPROPN\t_\t_\t2\tnsubj\t_\tNER=I-ORG\n"
                   "2\tlives\tlive\tVERB\t_\t_\t0\troot\t_\t_\n"
                   "3\tin\tin\tADP\t_\t_\t4\tcase\t_\t_\n"
                   "4\tParis\tParis\tPROPN\t_\t_\t2\tobl\t_\tSpaceAfter=No\n\n")
    r = run("tag", "-m", model, src)
    rows = [line.split("\t") for line in r.stdout.splitlines()
            if line and not line.startswith("#")]
    assert [row[3] for row in rows] == ["PROPN", "VERB", "ADP", "PROPN"]
    assert rows[0][9] == "NER=B-PER" and rows[3][9] == "SpaceAfter=No|NER=B-LOC"
