"""Character-LM features for the tagger (`train-tagger --lm/--lm-backward`): each token
gets the forward LM's state after its last character and the backward LM's state after
its first (read right to left), exactly the states the language model itself computes;
the tagger's gradients stay right with them; the tagger file carries both LMs and runs
on its own; wrong models are refused in one line."""

import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from charlm.cli.app import cli
from charlm.errors import ModelFileError
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.store import tagfile
from charlm.tagger.data import TagVocab, make_batch
from charlm.tagger.lmfeatures import CharLM, LMFeatures
from charlm.tagger.model import TaggerConfig, TaggerModel
from charlm.text.conll import Sentence
from charlm.text.tokens import TextConfig
from charlm.text.vocab import EOS, UNK, Vocab
from gradcheck import numerical_grad, rel_error

CHARS = list(" .abcdeilmnorstvABEJMP")


def tiny_lm(reverse, embed=0, layers=2, cell="lstm", seed=0, lowercase=False):
    vocab = Vocab([EOS, UNK] + CHARS)
    cfg = ModelConfig(len(vocab), cell=cell, hidden=4, layers=layers, embed=embed)
    model = LanguageModel.create(cfg, np.random.default_rng(seed), np.float64)
    text = TextConfig(reverse=reverse, lowercase=lowercase)
    return model, vocab, text, CharLM.from_model(model, vocab, text, "lm.npz")


def stepped(model, vocab, chars):
    """The top layer's state after each input, the LM stepped one token at a time from
    x⟨1⟩ = 0: (len(chars) + 1, H), row 0 the state after the start."""
    stepper, state = model.stepper(), model.initial_state(1)
    out = []
    for c in [EOS] + chars:
        _, state = stepper.step(np.array([vocab.index.get(c, 1)]), state)
        out.append(state[-1][0][:, 0].copy())
    return np.array(out)


@pytest.mark.parametrize("cell,embed,layers", [("lstm", 0, 2), ("gru", 3, 1), ("rnn", 0, 1)])
def test_forward_features_are_the_state_after_each_token(cell, embed, layers):
    model, vocab, _, lm = tiny_lm(False, embed, layers, cell)
    tokens = ["Alice", "met", "Bob", "."]
    ref = stepped(model, vocab, list("Alice met Bob ."))
    got = lm.features([tokens])[0]
    # "Alice" ends at character 5, "met" at 9, "Bob" at 13, "." at 15
    assert np.allclose(got, ref[[5, 9, 13, 15]], atol=1e-12)


@pytest.mark.parametrize("cell,embed,layers", [("lstm", 0, 2), ("gru", 3, 1)])
def test_backward_features_are_the_state_after_each_tokens_first_character(cell, embed,
                                                                           layers):
    model, vocab, _, lm = tiny_lm(True, embed, layers, cell)
    tokens = ["Alice", "met", "Bob", "."]
    line = "Alice met Bob ."
    ref = stepped(model, vocab, list(reversed(line)))
    got = lm.features([tokens])[0]
    # read right to left, "Alice"'s "A" is the 15th character read, "m" the 9th …
    assert np.allclose(got, ref[[15, 9, 5, 1]], atol=1e-12)


def test_each_direction_sees_only_its_side():
    _, _, _, fw = tiny_lm(False)
    _, _, _, bw = tiny_lm(True)
    a, b = ["Alice", "met", "Bob"], ["Alice", "met", "Eve"]
    assert np.allclose(fw.features([a])[0][:2], fw.features([b])[0][:2])
    assert not np.allclose(fw.features([a])[0][2], fw.features([b])[0][2])
    c = ["Jim", "met", "Bob"]
    assert np.allclose(bw.features([a])[0][1:], bw.features([c])[0][1:])
    assert not np.allclose(bw.features([a])[0][0], bw.features([c])[0][0])


def test_batched_sentences_and_unknown_characters_match_one_at_a_time():
    model, vocab, _, lm = tiny_lm(False, lowercase=True)
    sents = [["Alice", "met", "Bob"], ["Zoë", "!"], ["a"], ["Bob", "met", "Alice", "."]]
    together = lm.features(sents)
    for s, f in zip(sents, together):
        assert np.allclose(f, lm.features([s])[0], atol=1e-12)
    # the LM's text settings apply: case folded, unknown characters are UNK
    ref = stepped(model, vocab, list("zoë !"))
    assert np.allclose(together[1], ref[[3, 5]], atol=1e-12)


def test_a_very_long_sentence_is_read_in_pieces(monkeypatch):
    import charlm.tagger.lmfeatures as lmf

    monkeypatch.setattr(lmf, "MAX_CHARS", 12)
    model, vocab, _, lm = tiny_lm(False)
    tokens = ["Alice", "met", "Bob", "and", "Eve"]
    got = lm.features([tokens])[0]
    assert got.shape == (5, 4)
    first = stepped(model, vocab, list("Alice met"))
    assert np.allclose(got[:2], first[[5, 9]], atol=1e-12)
    second = stepped(model, vocab, list("Bob and Eve"))
    assert np.allclose(got[2:], second[[3, 7, 11]], atol=1e-12)


def test_tagger_gradients_with_lm_features():
    sents = [Sentence("the dog runs".split(), "DET NOUN VERB".split()),
             Sentence("a cat".split(), "DET NOUN".split()),
             Sentence("dogs run fast now".split(), "NOUN VERB ADV ADV".split())]
    vocab = TagVocab.build(sents)
    cfg = TaggerConfig(len(vocab.words), len(vocab.chars), len(vocab.tags), hidden=3,
                       layers=2, embed=4, char_embed=2, char_hidden=3, dropout=0.0,
                       lm_forward=3, lm_backward=2)
    model = TaggerModel.create(cfg, np.random.default_rng(0), np.float64)
    rng = np.random.default_rng(1)
    lm = [rng.standard_normal((len(s.tokens), 5)) for s in sents]
    x, y, mask = make_batch(vocab, [s.tokens for s in sents], range(3),
                            tag_ids=[vocab.encode_tags(s.tags) for s in sents], lm=lm)
    _, _, cache = model.forward(x, y, mask, train=False)
    grads = model.backward(cache)
    f = lambda: model.forward(x, y, mask, train=False)[0]
    for name, p in model.params.items():
        assert rel_error(grads[name], numerical_grad(f, p)) < 1e-6, name
    # the features do reach the output: other features, other loss
    x.lm = x.lm + 1.0
    assert abs(f() - model.forward(*make_batch(
        vocab, [s.tokens for s in sents], range(3),
        tag_ids=[vocab.encode_tags(s.tags) for s in sents], lm=lm), train=False)[0]) > 1e-6


def run(*args, code=0, input=None):
    r = CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)
    assert r.exit_code == code, r.output
    return r


NER = [("John lives in Paris", "B-PER O O B-LOC"),
       ("Mary Ann Smith visited New York", "B-PER I-PER I-PER O B-LOC I-LOC"),
       ("it rains in Rome", "O O O B-LOC")]
SMALL = ("--hidden", "6", "--embed", "5", "--char-embed", "4", "--char-hidden", "3")


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    d = tmp_path_factory.mktemp("lms")
    text = d / "text.txt"
    text.write_text("John lives in Paris\nMary visited New York\nit rains\n" * 30,
                    encoding="utf-8")
    for name, extra in (("fw", ()), ("bw", ("--reverse",)), ("word", ("--level", "word"))):
        run("train", text, "-o", d / f"{name}.npz", "--hidden", "5", "--layers", "1",
            "--steps", "3", "--progress", "off", *extra)
    conll = d / "ner.conll"
    conll.write_text("".join("\n".join(f"{a} {b}" for a, b in zip(w.split(), t.split()))
                             + "\n\n" for w, t in NER * 6), encoding="utf-8")
    return d, conll


def test_a_tagger_with_lm_features_runs_on_its_own(lms, tmp_path):
    d, conll = lms
    out = tmp_path / "t.npz"
    r = run("train-tagger", conll, "-o", out, "--lm", d / "fw.npz", "--lm-backward",
            d / "bw.npz", "--steps", "4", "--batch-size", "4", *SMALL, "--progress", "off",
            "--json")
    assert json.loads(r.stdout)["steps"] == 4
    # the tagger file holds both language models, and nothing else is needed to tag
    for f in ("fw.npz", "bw.npz"):
        (d / f).rename(tmp_path / f)
    try:
        bundle = tagfile.load(str(out))
        assert bundle.model.config.lm_forward == 5 and bundle.model.config.lm_backward == 5
        assert set(bundle.model.lm.models) == {"fw", "bw"}
        with zipfile.ZipFile(out) as z:
            names = set(z.namelist())
        assert {"lm.fw.layer1.W_aa.npy", "lm.bw.layer1.W_ax.npy"} <= names
        tagged = run("tag", "-m", out, "--format", "jsonl", input="John visited Rome\n")
        assert len(json.loads(tagged.stdout)["tokens"]) == 3
        info = run("info", out).stdout
        assert "λ⟨t⟩" in info and "backward LSTM 1×5" in info
        # the LM's states at the tokens are what the tagger reads
        from charlm.tagger.tagging import attach, tag_tokens

        model = attach(bundle)
        probs = tag_tokens(model, bundle.vocab, [["John", "visited", "Rome"]], probs=True)
        model.lm.models["fw"].params["layer1.b_a"] += 1.0
        moved = tag_tokens(model, bundle.vocab, [["John", "visited", "Rome"]], probs=True)
        assert not np.allclose(probs[0][1], moved[0][1])
    finally:
        for f in ("fw.npz", "bw.npz"):
            (tmp_path / f).rename(d / f)


def test_resume_with_lm_features_is_exact(lms, tmp_path):
    d, conll = lms
    common = ("--lm", d / "fw.npz", "--batch-size", "4", "--eval-every", "2", *SMALL,
              "--lr-schedule", "constant",
              "--dtype", "float64", "--progress", "off", "--val-fraction", "0.2")
    run("train-tagger", conll, "-o", tmp_path / "full.npz", "--steps", "6", *common)
    run("train-tagger", conll, "-o", tmp_path / "part.npz", "--steps", "3", *common)
    run("train-tagger", "--resume", tmp_path / "part.ckpt.npz", "--steps", "6",
        "--progress", "off")
    full = tagfile.load(str(tmp_path / "full.ckpt.npz")).model.params
    part = tagfile.load(str(tmp_path / "part.ckpt.npz")).model.params
    for k in full:
        assert np.array_equal(full[k], part[k]), k
    r = run("train-tagger", "--resume", tmp_path / "part.ckpt.npz", "--steps", "8", "--lm",
            d / "fw.npz", code=2)
    assert "--lm" in r.output and len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("option,model,says", [
    ("--lm", "bw.npz", "backward language model"),
    ("--lm-backward", "fw.npz", "forward language model"),
    ("--lm", "word.npz", "character-level"),
    ("--lm", "nothing.npz", "no such model file"),
])
def test_wrong_language_models_are_refused_in_one_line(lms, tmp_path, option, model, says):
    d, conll = lms
    r = run("train-tagger", conll, "-o", tmp_path / "t.npz", option, d / model, "--steps",
            "1", "--progress", "off", code=2 if "model file" not in says else 1)
    assert says in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "t.npz").exists()


def test_a_tagger_given_as_lm_is_refused(lms, tmp_path):
    d, conll = lms
    run("train-tagger", conll, "-o", tmp_path / "t.npz", "--steps", "1", *SMALL,
        "--progress", "off")
    r = run("train-tagger", conll, "-o", tmp_path / "u.npz", "--lm", tmp_path / "t.npz",
            "--steps", "1", "--progress", "off", code=1)
    assert "not a language model" in r.output and len(r.output.strip().splitlines()) == 1


def test_a_file_whose_lm_is_missing_or_wrong_is_refused(lms, tmp_path):
    d, conll = lms
    out = tmp_path / "t.npz"
    run("train-tagger", conll, "-o", out, "--lm", d / "fw.npz", "--steps", "1", *SMALL,
        "--progress", "off")

    def rewrite(change):
        with zipfile.ZipFile(out) as z:
            members = {n: z.read(n) for n in z.namelist()}
        header = json.loads(members["header.json"])
        change(header, members)
        members["header.json"] = json.dumps(header).encode()
        bad = tmp_path / "bad.npz"
        with zipfile.ZipFile(bad, "w") as z:
            for n, b in members.items():
                z.writestr(n, b)
        return bad

    def no_lm(h, m):
        del h["lm"]

    def wrong_direction(h, m):
        h["lm"]["fw"]["text"]["reverse"] = True

    def few_chars(h, m):
        h["lm"]["fw"]["chars"] = h["lm"]["fw"]["chars"][:-1]

    def no_array(h, m):
        del h["arrays"]["lm.fw.layer1.W_aa"]
        del m["lm.fw.layer1.W_aa.npy"]

    for change in (no_lm, wrong_direction, few_chars, no_array):
        with pytest.raises(ModelFileError):
            tagfile.load(str(rewrite(change)))
    assert isinstance(tagfile.load(str(out)).model.lm, LMFeatures)
