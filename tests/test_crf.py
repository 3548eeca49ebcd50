"""The CRF layer: log Z, marginals and Viterbi against brute force over every path on
small cases (with forbidden transitions and padding), and a float64 gradient check."""

import itertools

import numpy as np
import pytest

from charlm.engine.crf import (NEG, constrain, crf_backward, crf_forward, crf_marginals,
                               crf_viterbi, gold_score)
from gradcheck import numerical_grad, rel_error

K = 3


def params(rng, k=K):
    return (rng.standard_normal((k, k)), rng.standard_normal(k), rng.standard_normal(k))


def path_score(s, path, trans, start, end):
    total = start[path[0]] + end[path[-1]] + sum(s[t, j] for t, j in enumerate(path))
    return total + sum(trans[i, j] for i, j in zip(path, path[1:]))


def brute(s, trans, start, end):
    """(log Z, marginals (L, K), best path) by enumerating all K^L paths."""
    L, k = s.shape
    paths = list(itertools.product(range(k), repeat=L))
    scores = np.array([path_score(s, p, trans, start, end) for p in paths])
    log_z = np.logaddexp.reduce(scores)
    probs = np.exp(scores - log_z)
    marg = np.zeros((L, k))
    for p, pr in zip(paths, probs):
        marg[np.arange(L), list(p)] += pr
    return log_z, marg, list(paths[int(scores.argmax())])


def batch(rng, lengths, k=K):
    """Scores (N, T, K) with garbage (large values) in the padding, and gold ids."""
    N, T = len(lengths), max(lengths)
    s = rng.standard_normal((N, T, k))
    y = rng.integers(0, k, size=(N, T))
    for n, L in enumerate(lengths):
        s[n, L:] = 50.0 * rng.standard_normal((T - L, k))
        y[n, L:] = 0
    return s, y, np.array(lengths)


MASKS = {
    "free": (np.ones((K, K), bool), np.ones(K, bool), np.ones(K, bool)),
    # tag 2 only after 1 or 2 (an I- after its B-), never first; tag 1 never last
    "constrained": (np.array([[1, 1, 0], [1, 1, 1], [1, 1, 1]], bool),
                    np.array([1, 1, 0], bool), np.array([1, 0, 1], bool)),
}


@pytest.mark.parametrize("mask", MASKS)
def test_partition_marginals_and_viterbi_match_brute_force(mask):
    rng = np.random.default_rng(0)
    trans, start, end = constrain(*params(rng), *MASKS[mask])
    lengths = [4, 1, 3, 2]
    s, y, lengths = batch(rng, lengths)
    # gold paths valid under the mask, so that the loss is finite
    for n, L in enumerate(lengths):
        y[n, :L] = brute(s[n, :L], trans, start, end)[2]
    loss, _ = crf_forward(s, y, lengths, trans, start, end)
    marg = crf_marginals(s, lengths, trans, start, end)
    paths = crf_viterbi(s, lengths, trans, start, end)
    want_loss = 0.0
    for n, L in enumerate(lengths):
        log_z, m, best = brute(s[n, :L], trans, start, end)
        want_loss += log_z - path_score(s[n, :L], list(y[n, :L]), trans, start, end)
        assert np.allclose(marg[n, :L], m, atol=1e-12)
        assert np.all(marg[n, L:] == 0)
        assert paths[n] == best
    assert loss == pytest.approx(want_loss, rel=1e-12)


def test_forbidden_steps_get_no_probability_and_no_path():
    rng = np.random.default_rng(1)
    trans, start, end = constrain(*params(rng), *MASKS["constrained"])
    s, _, lengths = batch(rng, [4, 3])
    s[:, :, 2] += 10.0                     # tag 2 wants to be everywhere, also first
    marg = crf_marginals(s, lengths, trans, start, end)
    assert np.all(marg[:, 0, 2] == 0.0)                  # never first
    for path in crf_viterbi(s, lengths, trans, start, end):
        assert path[0] != 2 and path[-1] != 1
        assert all(not (i == 0 and j == 2) for i, j in zip(path, path[1:]))


def test_padding_changes_nothing():
    rng = np.random.default_rng(2)
    trans, start, end = params(rng)
    s, y, lengths = batch(rng, [5, 2, 3])
    loss, cache = crf_forward(s, y, lengths, trans, start, end)
    ds, dt, dst, den = crf_backward(1.0, cache)
    total = 0.0
    for n, L in enumerate(lengths):
        one, c1 = crf_forward(s[n:n + 1, :L], y[n:n + 1, :L], [L], trans, start, end)
        total += one
        ds1 = crf_backward(1.0, c1)[0]
        assert np.allclose(ds[n, :L], ds1[0], atol=1e-12)
        assert np.all(ds[n, L:] == 0)
    assert loss == pytest.approx(total, rel=1e-12)


def test_gold_score_is_the_path_score():
    rng = np.random.default_rng(3)
    trans, start, end = params(rng)
    s, y, lengths = batch(rng, [4, 1])
    got = gold_score(s, y, lengths, trans, start, end)
    for n, L in enumerate(lengths):
        assert got[n] == pytest.approx(path_score(s[n, :L], list(y[n, :L]), trans, start, end))


@pytest.mark.parametrize("mask", MASKS)
def test_gradients_float64(mask):
    rng = np.random.default_rng(4)
    k = 4
    allowed = np.ones((k, k), bool)
    allowed_start, allowed_end = np.ones(k, bool), np.ones(k, bool)
    if mask == "constrained":
        allowed[0, 3] = allowed[2, 3] = False
        allowed_start[3] = False
    raw = params(rng, k)
    s, y, lengths = batch(rng, [3, 5, 1], k)
    y[:, :] = 0                                 # an always-allowed gold path
    trans, start, end = constrain(*raw, allowed, allowed_start, allowed_end)

    def f():
        return crf_forward(s, y, lengths, trans, start, end)[0]

    dout = 0.7
    ds, dt, dst, den = crf_backward(dout, crf_forward(s, y, lengths, trans, start, end)[1])
    live = np.arange(s.shape[1])[None, :] < lengths[:, None]
    num_s = numerical_grad(f, s) * dout
    assert rel_error(ds[live], num_s[live]) < 1e-6
    assert rel_error(dst, numerical_grad(f, start) * dout) < 1e-6
    assert rel_error(den, numerical_grad(f, end) * dout) < 1e-6
    # forbidden entries hold NEG; perturbing them by 1e-5 is invisible, as it should be
    num_t = numerical_grad(f, trans) * dout
    assert rel_error(dt[allowed], num_t[allowed]) < 1e-6
    assert np.all(dt[~allowed] == 0)


def test_neg_is_exactly_zero_probability():
    assert np.exp(np.float32(NEG) - np.float32(-50.0)) == 0.0
