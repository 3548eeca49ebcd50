"""A joint tagger: two output layers (entities, and parts of speech) over one BiRNN.

Float64 gradients of L = L₁ + L₂ (softmax and CRF first layers), the second layer
seen as a tagger of its own, CoNLL-U's NER= attribute as a tag column, and the
commands: train-tagger --also-tag, tag (the second layer by default, --entities the
first), evaluate (the layer the gold file is for), info, exact resume, and the
one-line errors."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from charlm.cli.app import cli
from charlm.store import tagfile
from charlm.tagger.data import TagVocab, make_batch
from charlm.tagger.model import TaggerConfig, TaggerModel
from charlm.tagger.tagging import output_layer, prepare, tag_tokens
from charlm.text.conll import Sentence, misc_value, read_tagged
from gradcheck import dropout_direction_error, model_gradients_error
from resumecheck import check_exact_resume

# token, UPOS, entity tag
DATA = [("John lives in Paris .", "PROPN VERB ADP PROPN PUNCT", "B-PER O O B-LOC O"),
        ("Mary Smith visited New York", "PROPN PROPN VERB PROPN PROPN",
         "B-PER I-PER O B-LOC I-LOC"),
        ("it rains .", "PRON VERB PUNCT", "O O O"),
        ("the dog runs", "DET NOUN VERB", "O O O")]
SMALL = ("--hidden", "8", "--embed", "6", "--char-embed", "4", "--char-hidden", "4")


def sentences():
    out = []
    for w, u, n in DATA:
        s = Sentence(w.split(), n.split())
        s.tags2 = u.split()
        out.append(s)
    return out


def tiny(crf=False, dropout=0.0, dtype=np.float64):
    sents = sentences()
    vocab = TagVocab.build(sents)
    cfg = TaggerConfig(len(vocab.words), len(vocab.chars), len(vocab.tags), hidden=3,
                       embed=4, char_embed=2, char_hidden=5, dropout=dropout, crf=crf,
                       n_tags2=len(vocab.tags2))
    model = TaggerModel.create(cfg, np.random.default_rng(0), dtype)
    prepare(model, vocab.tags, "iob2")
    x, y, mask = make_batch(vocab, [s.tokens for s in sents], range(len(sents)),
                            tag_ids=[vocab.encode_sentence(s) for s in sents])
    return vocab, model, x, y, mask


@pytest.mark.parametrize("crf", [False, True])
def test_joint_gradients_float64(crf):
    vocab, model, x, y, mask = tiny(crf)
    assert y.shape[2] == 2 and "W_y2" in model.params and "b_y2" in model.params
    errors = model_gradients_error(model, x, y, mask)
    assert max(errors.values()) < 1e-6, errors


def test_joint_gradients_with_dropout_by_random_direction():
    vocab, model, x, y, mask = tiny(dropout=0.3)
    assert dropout_direction_error(model, x, y, mask) < 1e-6


def test_joint_loss_is_the_sum_of_the_two_layers_losses():
    vocab, model, x, y, mask = tiny()
    both = model.forward(x, y, mask, train=False)[0]
    first = model.forward(x, y[:, :, 0], mask, train=False)[0]
    second = model.second_layer()
    assert second.config.n_tags == len(vocab.tags2) and not second.config.n_tags2
    assert second.params["W_y"] is model.params["W_y2"]        # shared, not copied
    assert second.params["W_ex"] is model.params["W_ex"]
    alone = second.forward(x, y[:, :, 1], mask, train=False)[0]
    assert both == pytest.approx(first + alone, rel=1e-12)


def test_the_second_layer_tags_as_a_tagger_of_its_own():
    vocab, model, x, y, mask = tiny()
    view = output_layer(tagfile.TaggerBundle(model, vocab, {"scheme": "iob2",
                                                             "tag_column": "ner",
                                                             "tag_column2": "upos"}))
    assert view.tagging["scheme"] is None and view.tagging["tag_column"] == "upos"
    assert view.vocab.tags == vocab.tags2
    tags = tag_tokens(prepare(view.model, view.vocab.tags, None), view.vocab,
                      [s.tokens for s in sentences()])
    assert all(t in vocab.tags2 for ts in tags for t in ts)
    metrics = model.evaluate(_Batches([(x, y, mask)]))
    assert set(metrics) >= {"loss", "accuracy", "f1", "accuracy2", "joint"}
    assert metrics["joint"] == pytest.approx(metrics["f1"] + metrics["accuracy2"])


class _Batches:
    def __init__(self, items):
        self.items = items

    def epoch(self, rng=None):
        return self.items


def test_conllu_ner_attribute_is_a_tag_column(tmp_path):
    assert misc_value("SpaceAfter=No|NER=B-PER", "NER") == "B-PER"
    assert misc_value("_", "NER") == "_" and misc_value("NER=", "NER") == "_"
    path = write_joint(tmp_path / "j.conllu", times=1)
    sents = list(read_tagged(str(path), "conllu", "ner"))
    assert sents[0].tags == DATA[0][2].split()
    assert list(read_tagged(str(path), "conllu", "upos"))[0].tags == DATA[0][1].split()
    plain = tmp_path / "plain.conllu"
    plain.write_text("1\tHi\thi\tINTJ\t_\t_\t0\t_\t_\t_\n\n", encoding="utf-8")
    assert next(read_tagged(str(plain), "conllu", "ner")).tags is None


# --- the commands ----------------------------------------------------------------------

def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input,
                              catch_exceptions=False)


def write_joint(path, times=8):
    lines = []
    for w, u, n in DATA * times:
        lines.append(f"# text = {w}")
        for i, (a, b, c) in enumerate(zip(w.split(), u.split(), n.split()), 1):
            lines.append(f"{i}\t{a}\t{a.lower()}\t{b}\t_\t_\t0\t_\t_\tNER={c}")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_iob2(path):
    lines = []
    for w, _, n in DATA:
        lines += [f"{a} {c}" for a, c in zip(w.split(), n.split())] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def joint(tmp_path_factory):
    d = tmp_path_factory.mktemp("joint")
    train = write_joint(d / "train.conllu")
    out = d / "joint.npz"
    r = run("train-tagger", train, "--dev", train, "--tag-column", "ner", "--also-tag",
            "upos", "-o", out, "--epochs", "25", "--batch-size", "4", "--lr", "0.02",
            *SMALL, "--progress", "off", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["best_metrics"]["accuracy2"] > 0.9
    assert "acc₂" in r.stderr and "second layer of" in r.stderr
    return out, train


def test_tag_shows_the_second_layer_and_entities_the_first(joint, tmp_path):
    model, _ = joint
    r = run("tag", "-m", model, "--format", "tsv", input="John lives in Paris .\n")
    assert r.exit_code == 0 and r.stderr == ""
    assert [ln.split("\t")[1] for ln in r.stdout.split("\n") if ln] == DATA[0][1].split()
    r = run("tag", "-m", model, "--entities", "--format", "spans",
            input="John lives in Paris .\n")
    assert r.exit_code == 0, r.output
    found = {(s["text"], s["type"]) for s in json.loads(r.stdout)["entities"]}
    assert found == {("John", "PER"), ("Paris", "LOC")}
    for extra in (("--entities",), ()):          # CoNLL-U: both layers, either way
        r = run("tag", "-m", model, *extra, "--format", "conllu",
                input="John lives in Paris .\n")
        rows = [row.split("\t") for row in r.stdout.splitlines() if row[:1].isdigit()]
        assert [row[3] for row in rows] == DATA[0][1].split()
        assert [row[9] for row in rows] == [f"NER={t}" for t in DATA[0][2].split()]
    gold = write_joint(tmp_path / "in.conllu", times=1)
    r = run("tag", "-m", model, "--format", "conllu", gold)     # read back as written
    assert r.exit_code == 0
    assert r.stdout.replace("\n\n", "\n") == gold.read_text(encoding="utf-8").replace(
        "\n\n", "\n")


def test_one_pass_gives_both_layers_as_two_passes_do(joint):
    model, _ = joint
    whole = tagfile.load(str(model))
    ent = output_layer(whole, True)
    pos = output_layer(whole, False)
    prepare(ent.model, ent.vocab.tags, "iob2")
    prepare(pos.model, pos.vocab.tags, None)
    lists = [w.split() for w, _, _ in DATA] + [["Paris"] * 600]      # one cut in pieces
    both = tag_tokens(ent.model, ent.vocab, lists, also=(pos.model, pos.vocab.tags))
    assert [b[0] for b in both] == tag_tokens(ent.model, ent.vocab, lists)
    assert [b[1] for b in both] == tag_tokens(pos.model, pos.vocab, lists)


def test_evaluate_measures_the_layer_the_gold_file_is_for(joint, tmp_path):
    model, train = joint
    r = run("evaluate", "-m", model, train, "--format", "json")          # UPOS column
    res = json.loads(r.stdout)
    assert r.exit_code == 0 and "entities" not in res and res["accuracy"] > 0.9
    r = run("evaluate", "-m", model, train, "--tag-column", "ner", "--format", "json")
    assert json.loads(r.stdout)["entities"]["f1"] > 0.9
    r = run("evaluate", "-m", model, write_iob2(tmp_path / "g.iob2"), "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["entities"]["f1"] > 0.9


def test_info_shows_both_layers(joint):
    model, _ = joint
    r = run("info", model)
    assert r.exit_code == 0
    assert "tags₂" in r.stdout and "W_y2" in r.stdout and "ŷ₂⟨t⟩" in r.stdout
    b = tagfile.load(str(model))
    assert b.vocab.tags2 and b.tagging["tag_column2"] == "upos"
    assert b.model.params["W_y2"].shape == (len(b.vocab.tags2), 2 * b.model.config.hidden)


def test_joint_resume_is_exact(tmp_path):
    from charlm.tagger import session
    from charlm.training.trainer import TrainConfig

    train = str(write_joint(tmp_path / "t.conllu"))
    data = session.DataConfig(min_count=1, tag_column="ner", also_tag="upos")
    opts = dict(hidden=4, embed=3, char_embed=2, char_hidden=3, dropout=0.2)

    def start(out):
        cfg = TrainConfig(steps=10, batch_size=4, eval_every=3, seed=2)
        return session.start(train, None, cfg, data, output=str(out), **opts)

    full, resumed = check_exact_resume(start, session.resume, tmp_path)
    assert resumed.trainer.state.step == 10 and "W_y2" in full.model.params
    assert "accuracy2" in full.trainer.state.best_metrics


@pytest.mark.parametrize("extra, message", [
    (("--also-tag", "upos"), "is the column of the first layer"),
    (("--tag-column", "upos", "--also-tag", "xpos", "--format", "conll"), "column file"),
])
def test_bad_joint_options_are_one_line_usage_errors(tmp_path, extra, message):
    train = write_joint(tmp_path / "t.conllu", times=1)
    if "conll" in extra:
        train = write_iob2(tmp_path / "t.iob2")
    r = CliRunner().invoke(cli, ["train-tagger", str(train), "-o", str(tmp_path / "x.npz"),
                                 "--steps", "1", *extra])
    assert r.exit_code == 2 and message in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


def test_second_column_of_entity_tags_is_refused(tmp_path):
    path = tmp_path / "swap.conllu"
    lines = []
    for w, u, n in DATA:
        for i, (a, b, c) in enumerate(zip(w.split(), u.split(), n.split()), 1):
            lines.append(f"{i}\t{a}\t_\t{b}\t{c}\t_\t0\t_\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["train-tagger", str(path), "-o", str(tmp_path / "x.npz"),
                                 "--steps", "1", "--tag-column", "upos", "--also-tag", "xpos"])
    assert r.exit_code == 2 and "holds entity tags" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_the_reader_gives_a_second_column_in_the_same_pass(tmp_path):
    path = write_joint(tmp_path / "t.conllu", times=1)
    got = list(read_tagged(path, "conllu", "ner", tag_column2="upos"))
    assert [s.tags for s in got] == [n.split() for _, _, n in DATA]
    assert [s.tags2 for s in got] == [u.split() for _, u, _ in DATA]
    assert all(s.tags2 is None for s in read_tagged(path, "conllu", "ner"))


@pytest.mark.parametrize("upos, message", [
    ("_", "the sentence has no upos tags (--also-tag)"),       # a sentence without any
    ("gap", "t.conllu:2: missing tag (_) on a token"),          # one token without
])
def test_gaps_in_the_second_column_are_one_line_errors(tmp_path, upos, message):
    path = tmp_path / "t.conllu"
    lines = []
    for k, (w, u, n) in enumerate(DATA * 2):
        tags = u.split()
        if k == 0:
            tags = ["_"] * len(tags) if upos == "_" else [tags[0], "_"] + tags[2:]
        for i, (a, b, c) in enumerate(zip(w.split(), tags, n.split()), 1):
            lines.append(f"{i}\t{a}\t_\t{b}\t_\t_\t0\t_\t_\tNER={c}")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["train-tagger", str(path), "-o", str(tmp_path / "x.npz"),
                                 "--steps", "1", "--tag-column", "ner", "--also-tag", "upos"])
    assert r.exit_code == 1 and message in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


def test_entities_from_a_tagger_without_an_entity_layer_is_refused(tmp_path):
    train = tmp_path / "pos.conllu"
    lines = []
    for w, u, _ in DATA * 4:
        for i, (a, b) in enumerate(zip(w.split(), u.split()), 1):
            lines.append(f"{i}\t{a}\t_\t{b}\t{b}\t_\t0\t_\t_\t_")
        lines.append("")
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for extra in ((), ("--also-tag", "xpos")):
        out = tmp_path / f"m{len(extra)}.npz"
        assert run("train-tagger", train, "-o", out, "--steps", "2", *extra, *SMALL,
                   "--progress", "off", "-q").exit_code == 0
        r = CliRunner().invoke(cli, ["tag", "-m", str(out), "--entities"], input="Hi .\n")
        assert r.exit_code == 2 and "--entities" in r.output, r.output
        assert len(r.output.strip().splitlines()) == 1
