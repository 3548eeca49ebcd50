"""A tagger with a CRF output layer (`train-tagger --crf`): whole-model gradients in
float64, marginals that sum to one, padding, overfitting a tiny entity set with valid
decoding, the transitions in the tagger file, and the CLI end to end."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from charlm.cli.app import cli
from charlm.engine.crf import crf_viterbi
from charlm.store import tagfile
from charlm.tagger.data import TagBatches, TagVocab, make_batch
from charlm.tagger.model import TaggerConfig, TaggerModel
from charlm.tagger.tagging import prepare, tag_tokens
from charlm.text.conll import Sentence
from charlm.text.schemes import convert
from gradcheck import directional_check, numerical_grad, rel_error

NER = [("John lives in Paris", "B-PER O O B-LOC"),
       ("Mary Ann Smith visited New York", "B-PER I-PER I-PER O B-LOC I-LOC"),
       ("it rains", "O O"),
       ("Paris is big", "B-LOC O O")]


def sentences():
    return [Sentence(w.split(), t.split()) for w, t in NER]


def crf_model(dtype=np.float64, seed=0, dropout=0.0, hidden=3):
    vocab = TagVocab.build(sentences())
    cfg = TaggerConfig(len(vocab.words), len(vocab.chars), len(vocab.tags), hidden=hidden,
                       layers=1, embed=4, char_embed=2, char_hidden=5, dropout=dropout,
                       crf=True)
    model = TaggerModel.create(cfg, np.random.default_rng(seed), dtype)
    prepare(model, vocab.tags, "iob2")
    # non-zero transitions, so that their gradients are not trivially symmetric
    rng = np.random.default_rng(seed + 1)
    for name in ("crf.trans", "crf.start", "crf.end"):
        model.params[name][...] = rng.standard_normal(model.params[name].shape)
    return vocab, model


def one_batch(vocab, sents):
    return make_batch(vocab, [s.tokens for s in sents], range(len(sents)),
                      tag_ids=[vocab.encode_tags(s.tags) for s in sents])


def test_config_and_file_layout():
    vocab, model = crf_model()
    K = len(vocab.tags)
    shapes = model.config.param_shapes()
    assert shapes["crf.trans"] == (K, K) and shapes["crf.start"] == shapes["crf.end"] == (K,)
    assert "crf.trans" not in TaggerConfig(5, 5, K).param_shapes()


def test_whole_crf_tagger_gradients():
    vocab, model = crf_model()
    x, y, mask = one_batch(vocab, sentences())
    _, _, cache = model.forward(x, y, mask, train=False)
    grads = model.backward(cache)
    f = lambda: model.forward(x, y, mask, train=False)[0]
    allowed = model.constraints[0]
    for name, p in model.params.items():
        num = numerical_grad(f, p)
        if name == "crf.trans":          # forbidden entries are constants (NEG)
            assert np.all(grads[name][~allowed] == 0)
            assert rel_error(grads[name][allowed], num[allowed]) < 1e-6, name
        else:
            assert rel_error(grads[name], num) < 1e-6, name


def test_crf_gradients_with_dropout_by_random_direction():
    vocab, model = crf_model(dropout=0.3)
    x, y, mask = one_batch(vocab, sentences())

    def f():
        return model.forward(x, y, mask, rng=np.random.default_rng(5), train=True)[0]

    _, _, cache = model.forward(x, y, mask, rng=np.random.default_rng(5), train=True)
    grads = model.backward(cache)
    # leave out the forbidden transitions: constants of the forward
    params = {k: v for k, v in model.params.items() if k != "crf.trans"}
    assert directional_check(f, params, grads, np.random.default_rng(1)) < 1e-6


def test_marginals_sum_to_one_and_padding_changes_nothing():
    vocab, model = crf_model()
    sents = sentences()
    x, _, _ = one_batch(vocab, sents)
    scores = model.scores(x)
    probs = model.probabilities(scores, x.lengths)
    for row, k in enumerate(x.order):
        L = len(sents[k].tokens)
        assert np.allclose(probs[row, :L].sum(axis=1), 1.0)
        xs, _, _ = one_batch(vocab, [sents[k]])
        alone = model.probabilities(model.scores(xs), xs.lengths)
        assert np.allclose(probs[row, :L], alone[0, :L], atol=1e-12)
    assert np.allclose(np.exp(model.log_probs(x)), probs)


def test_decoding_is_the_viterbi_path_and_always_valid():
    vocab, model = crf_model()
    x, _, _ = one_batch(vocab, sentences())
    scores = model.scores(x)
    paths = model.decode(scores, x.lengths)
    assert paths == crf_viterbi(scores, x.lengths, *model.transitions())
    for path in paths:
        tags = [vocab.tags[j] for j in path]
        assert convert(tags, "iob2", "iob2") == tags


def test_overfits_a_tiny_entity_set():
    from charlm.engine.optim import Adam

    vocab, model = crf_model(dtype=np.float32, hidden=8)
    batches = TagBatches(vocab, sentences(), 2)
    rng = np.random.default_rng(0)
    opt = Adam(model.params, 0.05)
    for _ in range(60):
        for x, y, mask in batches.epoch(rng):
            _, _, cache = model.forward(x, y, mask, rng=rng, train=True)
            opt.step(model.params, model.backward(cache))
    assert tag_tokens(model, vocab, [s.tokens for s in sentences()]) == \
        [s.tags for s in sentences()]


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input,
                              catch_exceptions=False)


@pytest.fixture(scope="module")
def crf_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("crf")
    train = d / "train.iob2"
    lines = []
    for w, t in NER * 8:
        lines += [f"{a} {b}" for a, b in zip(w.split(), t.split())] + [""]
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = d / "crf.npz"
    r = run("train-tagger", train, "--dev", train, "-o", out, "--epochs", "15",
            "--batch-size", "3", "--lr", "0.01", "--crf", "--hidden", "8", "--embed", "6",
            "--char-embed", "4", "--char-hidden", "4", "--progress", "off", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["best_metrics"]["f1"] > 0.9
    return out, train


def test_the_file_holds_the_transitions(crf_file):
    out, _ = crf_file
    bundle = tagfile.load(out)
    assert bundle.model.config.crf is True
    K = len(bundle.vocab.tags)
    assert bundle.model.params["crf.trans"].shape == (K, K)
    # a file without them (or with the wrong shape) is refused in one line
    import zipfile
    broken = out.parent / "broken.npz"
    with zipfile.ZipFile(out) as zin, zipfile.ZipFile(broken, "w") as zout:
        for item in zin.infolist():
            if item.filename != "crf.trans.npy":
                zout.writestr(item, zin.read(item.filename))
    r = run("tag", "-m", broken, input="John lives in Paris\n")
    assert r.exit_code == 1 and "crf.trans" in r.output and len(r.output.splitlines()) == 1


def test_tag_evaluate_info_with_a_crf(crf_file):
    out, train = crf_file
    r = run("tag", "-m", out, "--format", "spans", input="John lives in Paris\n")
    assert r.exit_code == 0, r.output
    found = {(e["text"], e["type"]) for e in json.loads(r.stdout)["entities"]}
    assert ("John", "PER") in found and ("Paris", "LOC") in found
    r = run("evaluate", "-m", out, train, "--format", "json")
    assert r.exit_code == 0
    res = json.loads(r.stdout)
    assert res["entities"]["f1"] > 0.9 and res["decoding"] == "crf viterbi"
    r = run("info", out)
    assert r.exit_code == 0
    assert "crf.trans" in r.stdout and "CRF" in r.stdout
    r = run("info", out, "--format", "json")
    d = json.loads(r.stdout)
    assert d["model"]["crf"] is True
    assert any(a["name"] == "crf.trans" for a in d["arrays"])


def test_probs_of_a_crf_tagger_are_its_marginals(crf_file):
    out, _ = crf_file
    r = run("tag", "-m", out, "--format", "jsonl", "--all-probs",
            input="Mary Ann Smith visited New York\n")
    assert r.exit_code == 0
    rec = json.loads(r.stdout)
    for tag, p, dist in zip(rec["tags"], rec["probs"], rec["distributions"]):
        assert dist[tag] == p and 0.0 < p <= 1.0
        assert sum(dist.values()) == pytest.approx(1.0, abs=1e-4)
    # a tag the scheme forbids first has probability 0
    assert all(v == 0.0 for k, v in rec["distributions"][0].items() if k.startswith("I-"))
