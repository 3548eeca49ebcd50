"""The tagger on real data (../shared/corpora, skipped when absent) and the bundled
English tagger."""

import json
import os

import pytest
from click.testing import CliRunner

from charlm.cli.app import cli
from charlm.store import tagfile
from conftest import shared_file


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input,
                              catch_exceptions=False)


def head_sentences(src, dst, n):
    """The first n sentences (blank-line separated blocks) of a tagged file."""
    blocks = src.read_text(encoding="utf-8").split("\n\n")[:n]
    dst.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    return dst


def test_bundled_tagger_works_without_a_model_option():
    if not os.path.exists(tagfile.BUNDLED_TAGGER):
        pytest.fail("the bundled tagger is missing: run corpora/build_tagger.py")
    r = run("tag", input="The old man the boat.\n")
    assert r.exit_code == 0 and r.stderr == ""
    words = r.stdout.split()
    assert [w.rsplit("/", 1)[0] for w in words] == ["The", "old", "man", "the", "boat", "."]
    assert words[0] == "The/DET" and words[-1] == "./PUNCT"
    r = run("tag", "--format", "jsonl", input="I can't go.\n")
    assert json.loads(r.stdout)["tokens"] == ["I", "ca", "n't", "go", "."]


@pytest.mark.realdata
def test_bundled_tagger_accuracy_on_ewt_test():
    gold = shared_file("tagging/en_ewt/en_ewt-ud-test.conllu")
    r = run("evaluate", gold, "--format", "json")          # its UPOS layer
    assert r.exit_code == 0
    result = json.loads(r.stdout)
    assert result["accuracy"] >= 0.95 and "entities" not in result


@pytest.mark.realdata
def test_small_pos_run_end_to_end(tmp_path):
    train = head_sentences(shared_file("tagging/en_ewt/en_ewt-ud-train.conllu"),
                           tmp_path / "train.conllu", 400)
    dev = head_sentences(shared_file("tagging/en_ewt/en_ewt-ud-dev.conllu"),
                         tmp_path / "dev.conllu", 100)
    out = tmp_path / "pos.npz"
    r = run("train-tagger", train, "--dev", dev, "-o", out, "--epochs", "4", "--batch-size", "8", "--lr", "0.01", "--hidden", "32",
            "--embed", "32", "--char-hidden", "16", "--progress", "off", "--json")
    assert r.exit_code == 0, r.output
    r = run("evaluate", "-m", out, dev, "--format", "json")
    d = json.loads(r.stdout)
    assert d["accuracy"] > 0.6 and d["tokens"] > 1000
    r = run("tag", "-m", out, "--format", "conllu", dev)
    assert r.exit_code == 0 and r.stdout.count("\n\n") == 100


@pytest.mark.realdata
@pytest.mark.slow
def test_small_ner_run_end_to_end(tmp_path):
    train = head_sentences(shared_file("tagging/uner_en_ewt/en_ewt-ud-train.draft-normalized.iob2"),
                           tmp_path / "train.iob2", 3000)
    dev = head_sentences(shared_file("tagging/uner_en_ewt/en_ewt-ud-dev.iob2"),
                         tmp_path / "dev.iob2", 300)
    out = tmp_path / "ner.npz"
    # 8 epochs: after 4 the dev entity F1 of this small run is only 0.14 (0.375 after 8)
    r = run("train-tagger", train, "--dev", dev, "-o", out, "--epochs", "8",
            "--progress", "off")
    assert r.exit_code == 0, r.output
    d = json.loads(run("evaluate", "-m", out, dev, "--format", "json").stdout)
    assert d["entities"]["f1"] > 0.2
    r = run("tag", "-m", out, "--format", "spans", input="Barack Obama visited Paris.\n")
    assert r.exit_code == 0 and "entities" in json.loads(r.stdout)


@pytest.mark.realdata
@pytest.mark.slow
def test_small_crf_ner_run_end_to_end(tmp_path):
    train = head_sentences(shared_file("tagging/uner_en_ewt/en_ewt-ud-train.draft-normalized.iob2"),
                           tmp_path / "train.iob2", 3000)
    dev = head_sentences(shared_file("tagging/uner_en_ewt/en_ewt-ud-dev.iob2"),
                         tmp_path / "dev.iob2", 300)
    out = tmp_path / "crf.npz"
    r = run("train-tagger", train, "--dev", dev, "-o", out, "--epochs", "8", "--crf",
            "--progress", "off")
    assert r.exit_code == 0, r.output
    d = json.loads(run("evaluate", "-m", out, dev, "--format", "json").stdout)
    assert d["decoding"] == "crf viterbi" and d["entities"]["f1"] > 0.2
    r = run("tag", "-m", out, "--format", "jsonl", "--probs",
            input="Barack Obama visited Paris.\n")
    rec = json.loads(r.stdout)
    assert r.exit_code == 0 and all(0 < p <= 1 for p in rec["probs"])


def test_bundled_entity_tagger_finds_people_places_and_organisations():
    if not os.path.exists(tagfile.BUNDLED_ENTITY_TAGGER):
        pytest.fail("the bundled tagger is missing: run corpora/build_tagger.py")
    r = run("tag", "--entities", "--format", "spans",
            input="Barack Obama visited Paris with Angela Merkel.\n")
    assert r.exit_code == 0 and r.stderr == ""
    spans = json.loads(r.stdout)["entities"]
    found = {(s["text"], s["type"]) for s in spans}
    assert ("Barack Obama", "PER") in found and ("Paris", "LOC") in found
    line = "Barack Obama visited Paris with Angela Merkel."
    for s in spans:
        assert line[s["start"]:s["end"]] == s["text"]
    r = run("tag", "--entities", "--format", "conllu", input=line + "\n")
    assert r.exit_code == 0
    rows = [row.split("\t") for row in r.stdout.splitlines() if row[:1].isdigit()]
    assert rows[0][1] == "Barack" and rows[0][9] == "NER=B-PER"
    assert rows[0][3] == "PROPN"             # the joint tagger fills UPOS in the same pass


def test_entities_with_a_missing_model_file_is_one_line(tmp_path):
    r = CliRunner().invoke(cli, ["tag", "--entities", "-m", str(tmp_path / "x.npz")],
                           input="Hello.\n")
    assert r.exit_code == 1 and "no such tagger file" in r.output
    assert len(r.output.strip().splitlines()) == 1


@pytest.mark.realdata
def test_bundled_entity_tagger_f1_on_uner_ewt_test():
    gold = shared_file("tagging/uner_en_ewt/en_ewt-ud-test.iob2")
    r = run("evaluate", gold, "--format", "json")           # a column file: entities
    assert r.exit_code == 0
    assert json.loads(r.stdout)["entities"]["f1"] >= 0.68


def test_bundled_tagger_is_one_joint_file_within_the_size_budget_with_its_lm():
    assert tagfile.BUNDLED_TAGGER == tagfile.BUNDLED_ENTITY_TAGGER
    assert os.path.getsize(tagfile.BUNDLED_TAGGER) <= 12_000_000
    bundle = tagfile.load(tagfile.BUNDLED_TAGGER)
    cfg = bundle.model.config
    assert cfg.lm_forward > 0 and set(bundle.model.lm.models) == {"fw"}
    assert bundle.tagging["scheme"] == "iob2" and set(bundle.vocab.tags) == {
        "O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"}
    assert cfg.n_tags2 == 17 and bundle.tagging["tag_column2"] == "upos"
