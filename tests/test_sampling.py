import numpy as np
import pytest

from charlm.errors import CharlmError
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.text.corpus import type_stream
from charlm.lm.sampling import (Piece, collect, draw, encode_prime, in_order, novel_samples,
                                prime_logprobs, sample)
from charlm.text.tokens import TextConfig, line_key
from charlm.text.vocab import EOS_ID, UNK_ID, Vocab

VOCAB = Vocab(["<eos>", "<unk>", "a", "b", "c", "d"])


def model(rng, random_biases=False, **kw):
    m = LanguageModel.create(ModelConfig(vocab_size=len(VOCAB), hidden=8, **kw), rng)
    if random_biases:                                 # fresh biases are 0: no ties
        for k, p in m.params.items():
            if k.endswith("b_a") or k == "b_y":
                p[...] = rng.standard_normal(p.shape)
    return m


def texts(m, cfg=TextConfig(), seed=0, **kw):
    n = kw.get("num_samples", 1)
    out = [None] * n
    for s in collect(sample(m, VOCAB, cfg, rng=np.random.default_rng(seed), **kw), n):
        out[s.index] = "".join(s.tokens)
    return out


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
    allowed = texts(m, num_samples=5, length=3, allow_unk=True)
    assert all("<unk>" in s for s in allowed)


def test_low_temperature_and_greedy_take_the_argmax(rng):
    m = model(rng, random_biases=True)
    stepper, state = m.stepper(), m.initial_state(1)
    prev, want = np.array([EOS_ID]), []
    for i in range(12):
        logits, state = stepper.step(prev, state)
        logits[UNK_ID] = -np.inf
        if i == 0:
            logits[EOS_ID] = -np.inf
        nxt = int(np.argmax(logits[:, 0]))
        if nxt == EOS_ID:
            break
        want.append(VOCAB.tokens[nxt])
        prev = np.array([nxt])
    assert texts(m, length=12, temperature=1e-6)[0] == "".join(want)
    assert texts(m, length=12, greedy=True, seed=5)[0] == "".join(want)


def column(p):
    return np.log(np.array(p))[:, None]


def test_draw_frequencies_match_softmax():
    """A chi-square test at a fixed seed: 60,000 draws from a known distribution."""
    logits = column([0.05, 0.0001, 0.4, 0.3, 0.15, 0.0999])
    rng = np.random.default_rng(11)
    draws = np.concatenate([draw(np.repeat(logits, 1000, axis=1), rng) for _ in range(60)])
    p = np.exp(logits[:, 0])
    p /= p.sum()
    counts = np.bincount(draws, minlength=6)
    expected = p * len(draws)
    keep = expected > 5
    chi2 = (((counts - expected) ** 2 / expected)[keep]).sum()
    assert chi2 < 20.5                              # 99.9% point of χ² with 5 dof


def test_temperature_reshapes_the_distribution():
    logits = np.repeat(column([0.6, 0.3, 0.1]), 20000, axis=1)
    rng = np.random.default_rng(3)
    hot = np.bincount(draw(logits, rng, temperature=2.0), minlength=3) / 20000
    q = np.array([0.6, 0.3, 0.1]) ** 0.5
    assert np.allclose(hot, q / q.sum(), atol=0.015)


def test_top_k_never_draws_outside_the_top_k():
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((30, 500))
    d = draw(logits, rng, temperature=3.0, top_k=4)
    top4 = np.argsort(-logits, axis=0)[:4]
    assert all(d[k] in top4[:, k] for k in range(500))


def test_top_p_draws_only_from_the_smallest_set_reaching_p():
    p = np.array([0.5, 0.2, 0.15, 0.1, 0.05])
    logits = np.repeat(column(p), 20000, axis=1)
    rng = np.random.default_rng(5)
    d = draw(logits, rng, top_p=0.8)                # 0.5 + 0.2 + 0.15 = 0.85 >= 0.8
    freq = np.bincount(d, minlength=5) / len(d)
    assert freq[3] == 0 and freq[4] == 0
    assert np.allclose(freq[:3], p[:3] / p[:3].sum(), atol=0.015)
    d = draw(logits, rng, top_p=0.5)                # the top token alone reaches 0.5
    assert np.all(d == 0)


def test_order_is_temperature_then_top_k_then_top_p():
    p = np.array([0.4, 0.3, 0.2, 0.1])
    logits = np.repeat(column(p), 20000, axis=1)
    rng = np.random.default_rng(6)
    d = draw(logits, rng, temperature=10.0, top_k=3, top_p=0.6)
    # At T = 10 the top three are almost equal (~1/3 each): top-p 0.6 keeps two.
    assert set(np.unique(d)) == {0, 1}


def test_draw_respects_banned_ids(rng):
    logits = np.zeros((4, 2000))
    logits[0] = 3.0
    assert not np.any(draw(logits, rng, banned=[0]) == 0)


def test_in_order_streams_first_unfinished_sample():
    pieces = [Piece(1, "x"), Piece(0, "a"), Piece(1, None, True), Piece(2, "p"),
              Piece(0, "b"), Piece(0, None, True), Piece(2, "q"), Piece(2, None, True)]
    out = [(p.index, p.token) for p in in_order(pieces, 3)]
    assert out == [(0, "a"), (0, "b"), (0, None), (1, "x"), (1, None), (2, "p"),
                   (2, "q"), (2, None)]


def test_prime_is_read_and_unknown_tokens_reported(rng):
    ids, unknown = encode_prime("abz", VOCAB, TextConfig())
    assert ids == [2, 3, UNK_ID] and unknown == ["z"]
    m = model(rng)
    m.params["b_y"][EOS_ID] = -50.0                 # no early end: 5 tokens each
    assert [len(s) for s in texts(m, num_samples=3, length=5, prime_ids=ids)] == [5, 5, 5]


def test_stop_ends_a_sample_right_after_the_text(rng):
    m = model(rng, random_biases=True)
    m.params["b_y"][EOS_ID] = -50.0
    for s in texts(m, num_samples=20, length=200, stop="ab", temperature=2.0):
        assert s.endswith("ab") and "ab" not in s[:-2]


def test_logprobs_are_the_models_at_temperature_one(rng):
    m = model(rng, random_biases=True)
    pieces = list(sample(m, VOCAB, TextConfig(), num_samples=1, length=30, temperature=0.5,
                         rng=np.random.default_rng(2), logprobs=True, prime_ids=[2]))
    s = next(collect(pieces, 1))
    ids = [2] + [VOCAB.index[t] for t in s.tokens]
    targets = ids + ([EOS_ID] if s.reason == "eos" else [])
    x = np.array([[EOS_ID] + targets[:-1]])
    lp, _ = m.log_probs(x, np.array([targets]))
    got = prime_logprobs(m, [2]) + s.logprobs + ([s.eos_logprob] if s.eos_logprob else [])
    assert np.allclose(got, lp[0], atol=1e-5)


def line_hashes(texts, cfg):
    return type_stream(texts, cfg, collect_lines=True).line_keys


def test_novel_samples_avoid_training_lines(rng):
    m = model(rng, random_biases=True)
    common = texts(m, num_samples=200, length=6, seed=9)
    known = line_hashes(["\n".join(common)], TextConfig())
    assert len(known) == len(set(common))
    got = list(novel_samples(m, VOCAB, TextConfig(), 20, known, length=6,
                             rng=np.random.default_rng(9)))
    keys = [line_key(s.tokens, "") for s in got]
    assert len(got) == 20 and len(set(keys)) == 20
    assert not set(keys) & set(int(k) for k in known)


def test_novel_gives_up_with_a_clear_error(rng):
    m = model(rng, random_biases=True)
    m.params["b_y"][EOS_ID] = 80.0                  # every sample: one token
    m.params["b_y"][2:] = [9.0, -9, -9, -9]          # and it is "a"
    known = line_hashes(["a\nb\n"], TextConfig())
    with pytest.raises(CharlmError, match="novel"):
        list(novel_samples(m, VOCAB, TextConfig(), 3, known, length=5, max_tries=100,
                           rng=np.random.default_rng(0)))
