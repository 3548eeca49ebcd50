import numpy as np
import pytest

from charlm.model import LanguageModel, ModelConfig
from charlm.sampling import Piece, draw, encode_prime, in_order, sample
from charlm.text import TextConfig
from charlm.vocab import EOS_ID, UNK_ID, Vocab

VOCAB = Vocab(["<eos>", "<unk>", "a", "b", "c", "d"])


def model(rng, **kw):
    return LanguageModel.create(ModelConfig(vocab_size=len(VOCAB), hidden=8, **kw), rng)


def texts(m, cfg=TextConfig(), seed=0, **kw):
    out = {}
    for p in sample(m, VOCAB, cfg, rng=np.random.default_rng(seed), **kw):
        out.setdefault(p.index, [])
        if not p.end:
            out[p.index].append(p.token)
    return ["".join(v) for _, v in sorted(out.items())]


def test_same_seed_same_samples_other_seed_other_samples(rng):
    m = model(rng)
    a = texts(m, num_samples=5, length=30, seed=1)
    assert a == texts(m, num_samples=5, length=30, seed=1)
    assert a != texts(m, num_samples=5, length=30, seed=2)


def test_unk_is_never_sampled_and_samples_are_never_empty(rng):
    m = model(rng)
    m.params["b_y"][UNK_ID] = 50.0                   # UNK would win almost every draw
    m.params["b_y"][EOS_ID] = 5.0
    for s in texts(m, num_samples=50, length=20):
        assert "<unk>" not in s and len(s) > 0


def test_low_temperature_is_greedy(rng):
    m = model(rng)
    for k, p in m.params.items():                    # fresh biases are 0: no ties
        if k.endswith("b_a") or k == "b_y":
            p[...] = rng.standard_normal(p.shape)
    got = texts(m, num_samples=1, length=12, temperature=1e-6)[0]
    stepper, state = m.stepper(), m.initial_state(1)
    prev, want = np.array([EOS_ID]), []
    for i in range(12):
        logits, state = stepper.step(prev, state)
        logits[0, UNK_ID] = -np.inf
        if i == 0:
            logits[0, EOS_ID] = -np.inf
        nxt = int(np.argmax(logits[0]))
        if nxt == EOS_ID:
            break
        want.append(VOCAB.tokens[nxt])
        prev = np.array([nxt])
    assert got == "".join(want)


def test_draw_frequencies_match_softmax():
    """A chi-square test at a fixed seed: 60,000 draws from a known distribution."""
    logits = np.log(np.array([[0.05, 0.0001, 0.4, 0.3, 0.15, 0.0999]]))
    rng = np.random.default_rng(11)
    draws = np.concatenate([draw(np.repeat(logits, 1000, axis=0), 1.0, rng)
                            for _ in range(60)])
    p = np.exp(logits[0])
    p /= p.sum()
    counts = np.bincount(draws, minlength=6)
    expected = p * len(draws)
    keep = expected > 5
    chi2 = (((counts - expected) ** 2 / expected)[keep]).sum()
    assert chi2 < 20.5                              # 99.9% point of χ² with 5 dof


def test_draw_respects_banned_ids_and_temperature(rng):
    logits = np.zeros((2000, 4))
    logits[:, 0] = 3.0
    d = draw(logits, 1.0, rng, banned=[0])
    assert not np.any(d == 0)
    assert np.all(draw(logits, 1e-3, rng) == 0)


def test_in_order_streams_first_unfinished_sample():
    pieces = [Piece(1, "x"), Piece(0, "a"), Piece(1, None, True), Piece(2, "p"),
              Piece(0, "b"), Piece(0, None, True), Piece(2, "q"), Piece(2, None, True)]
    out = list(in_order(pieces, 3))
    assert out == [(0, "a"), (0, "b"), (0, None), (1, "x"), (1, None), (2, "p"),
                   (2, "q"), (2, None)]


def test_prime_is_read_and_unknown_tokens_reported(rng):
    ids, unknown = encode_prime("abz", VOCAB, TextConfig())
    assert ids == [2, 3, UNK_ID] and unknown == ["z"]
    m = model(rng)
    m.params["b_y"][EOS_ID] = -50.0                 # no early end: 5 tokens each
    assert [len(s) for s in texts(m, num_samples=3, length=5, prime_ids=ids)] == [5, 5, 5]
