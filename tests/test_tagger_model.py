"""The tagging model: whole-model gradient checks in float64, initial loss ≈ ln K,
overfitting a tiny set, padding that changes nothing, determinism, constrained
decoding of entity tags, and exact resume through the shared training loop."""

import math

import numpy as np
import pytest

from charlm.tagger.data import TagBatches, TagVocab, make_batch
from charlm.tagger.model import TaggerConfig, TaggerModel
from charlm.tagger.tagging import make_decoder, tag_tokens
from charlm.text.conll import Sentence
from gradcheck import dropout_direction_error, model_gradients_error
from resumecheck import check_exact_resume

SENTS = [("the dog runs", "DET NOUN VERB"),
         ("a cat sleeps", "DET NOUN VERB"),
         ("dogs run fast", "NOUN VERB ADV"),
         ("the old man sleeps well", "DET ADJ NOUN VERB ADV"),
         ("run", "VERB")]


def sentences(pairs=SENTS):
    return [Sentence(w.split(), t.split()) for w, t in pairs]


def tiny_model(cell="lstm", layers=2, dtype=np.float64, dropout=0.0, seed=0, vocab=None):
    vocab = vocab or TagVocab.build(sentences())
    cfg = TaggerConfig(len(vocab.words), len(vocab.chars), len(vocab.tags), cell=cell,
                       hidden=3, layers=layers, embed=4, char_embed=2, char_hidden=5,
                       dropout=dropout)
    return vocab, TaggerModel.create(cfg, np.random.default_rng(seed), dtype)


def one_batch(vocab, sents):
    tokens = [s.tokens for s in sents]
    return make_batch(vocab, tokens, range(len(sents)),
                      tag_ids=[vocab.encode_tags(s.tags) for s in sents])


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_whole_tagger_gradients(cell):
    vocab, model = tiny_model(cell)
    x, y, mask = one_batch(vocab, sentences()[:4])
    errors = model_gradients_error(model, x, y, mask)
    assert max(errors.values()) < 1e-6, errors


def test_tagger_gradients_with_dropout_by_random_direction():
    vocab, model = tiny_model(dropout=0.3)
    x, y, mask = one_batch(vocab, sentences())
    assert dropout_direction_error(model, x, y, mask) < 1e-6


def test_initial_loss_is_about_ln_k():
    vocab, model = tiny_model(dtype=np.float32)
    x, y, mask = one_batch(vocab, sentences())
    loss = model.forward(x, y, mask, train=False)[0]
    K = len(vocab.tags)
    assert abs(loss - math.log(K)) < 0.15 * math.log(K)
    assert model.chance_loss() == pytest.approx(math.log(K))


def test_padding_changes_nothing():
    vocab, model = tiny_model()
    sents = sentences()
    x, y, mask = one_batch(vocab, sents)
    logp = model.log_probs(x)
    for row, k in enumerate(x.order):
        xs, _, _ = one_batch(vocab, [sents[k]])
        alone = model.log_probs(xs)
        L = len(sents[k].tokens)
        assert np.allclose(logp[row, :L], alone[0, :L], atol=1e-12)
    # The masked loss of the batch is the token-weighted mean of the sentences' own.
    total = 0.0
    for s in sents:
        xs, ys, ms = one_batch(vocab, [s])
        total += model.forward(xs, ys, ms, train=False)[0] * len(s.tokens)
    loss = model.forward(x, y, mask, train=False)[0]
    assert loss == pytest.approx(total / sum(len(s.tokens) for s in sents), rel=1e-10)


def test_forward_only_matches_training_forward():
    vocab, model = tiny_model()
    x, y, mask = one_batch(vocab, sentences())
    logp = model.log_probs(x)
    picked = np.take_along_axis(logp, y[:, :, None], axis=2)[:, :, 0]
    loss = model.forward(x, y, mask, train=False)[0]
    assert loss == pytest.approx(-(picked * mask).sum() / mask.sum(), rel=1e-10)


def _train(model, batches, steps, lr=0.05, seed=0):
    from charlm.engine.optim import Adam

    rng = np.random.default_rng(seed)
    opt = Adam(model.params, lr)
    for step in range(steps):
        for x, y, mask in batches.epoch(rng):
            loss, _, cache = model.forward(x, y, mask, rng=rng, train=True)
            opt.step(model.params, model.backward(cache))
    return loss


def test_overfits_a_tiny_set():
    vocab, model = tiny_model(dtype=np.float32)
    batches = TagBatches(vocab, sentences(), 2)
    _train(model, batches, 60)
    predicted = tag_tokens(model, vocab, [s.tokens for s in sentences()])
    assert predicted == [s.tags for s in sentences()]


def test_same_seed_same_model():
    out = []
    for _ in range(2):
        vocab, model = tiny_model(dtype=np.float32, dropout=0.2, seed=3)
        batches = TagBatches(vocab, sentences(), 2, word_dropout=0.5)
        _train(model, batches, 3, seed=9)
        out.append(model.params)
    for k in out[0]:
        assert np.array_equal(out[0][k], out[1][k])


def test_word_dropout_replaces_rare_words_only_in_training():
    vocab = TagVocab.build(sentences())
    batches = TagBatches(vocab, sentences() * 50, 300, word_dropout=1.0)
    (x, y, mask), = batches.epoch(np.random.default_rng(0))
    real = mask > 0
    assert ((x.words == 1) & real).any()
    (xv, _, _), = batches.epoch()
    assert not ((xv.words == 1) & (mask > 0)).any()
    the = vocab.word_ids["the"]
    assert vocab.unk_probability(0.25)[the] < vocab.unk_probability(0.25)[vocab.word_ids["fast"]]


def test_unknown_words_and_lowercase_lookup():
    vocab = TagVocab.build(sentences())
    ids = vocab.encode_words(["The", "DOG", "zebra", "1984"])
    assert ids[0] == vocab.word_ids["the"] and ids[1] == vocab.word_ids["dog"]
    assert ids[2] == 1 and ids[3] == 1
    assert vocab.encode_chars("Zé") == [vocab.char_ids.get("Z", 1), 1]


def test_entity_decoding_never_emits_an_invalid_sequence():
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    decode = make_decoder(tags, "iob2")
    rng = np.random.default_rng(0)
    logp = np.log(rng.dirichlet(np.ones(5) * 0.3, size=(20, 7)))     # (N, T, K)
    logp[:, :, 2] += 2.0                                  # I-PER tempting everywhere
    lengths = rng.integers(1, 8, 20)
    for path, L in zip(decode(logp, lengths), lengths):
        assert len(path) == L
        seq = [tags[i] for i in path]
        for prev, cur in zip(["O"] + seq, seq):
            if cur.startswith("I-"):
                assert prev != "O" and prev[2:] == cur[2:], seq
    assert make_decoder(["NOUN", "VERB"], None) is None


def test_resume_is_exact(tmp_path):
    from charlm.tagger import session
    from charlm.training.trainer import TrainConfig

    train = tmp_path / "train.conllu"
    lines = []
    for k, (w, t) in enumerate(SENTS * 6):
        lines.append(f"# text = {w}")
        for i, (a, b) in enumerate(zip(w.split(), t.split()), 1):
            lines.append(f"{i}\t{a}\t_\t{b}\t_\t_\t_\t_\t_\t_")
        lines.append("")
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = session.DataConfig(min_count=1)
    opts = dict(hidden=4, embed=3, char_embed=2, char_hidden=3, dropout=0.2)

    def start(out, steps):
        cfg = TrainConfig(steps=steps, batch_size=4, eval_every=3, seed=2)
        return session.start(str(train), None, cfg, data, output=str(out), **opts)

    _, resumed = check_exact_resume(lambda out: start(out, 10), session.resume, tmp_path)
    assert resumed.trainer.state.step == 10


def test_tag_stream_is_lazy_and_keeps_input_order():
    from charlm.tagger.tagging import tag_stream

    vocab, model = tiny_model(dtype=np.float32)
    rng = np.random.default_rng(4)
    words = ["the", "dog", "runs", "a", "cat", "fast"]
    inputs = [Sentence([words[i] for i in rng.integers(0, 6, rng.integers(0, 9))], None)
              for _ in range(23)]
    consumed = []

    def source():
        for k, s in enumerate(inputs):
            consumed.append(k)
            yield s

    stream = tag_stream(model, vocab, source(), chunk=5)
    first = next(stream)
    assert len(consumed) <= 5                         # read no further than one chunk
    out = [first] + list(stream)
    assert [s for s, _ in out] == inputs
    assert all(len(t) == len(s.tokens) for s, t in out)
    alone = tag_tokens(model, vocab, [s.tokens for s in inputs])
    assert [t for _, t in out] == alone
