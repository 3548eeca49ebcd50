"""The bidirectional layer and the character features: float64 central-difference
gradient checks with small, all-different dimensions, and padding that never changes
a real position."""

import numpy as np
import pytest

from charlm.engine.bidirectional import (birnn_backward, birnn_forward, birnn_run,
                                         char_features_backward, char_features_forward,
                                         char_features_run, reverse_index, reverse_time)
from charlm.engine.cells import CELLS
from gradcheck import numerical_grad, rel_error

N, T, D, H = 3, 4, 5, 2          # batch, time, input width, hidden: all different
TOL = 1e-6
LENGTHS = np.array([4, 2, 3])


def direction(cell, rng, D, H):
    GH = cell.width(H)
    return (rng.standard_normal((GH, D)) * 0.5, rng.standard_normal((GH, H)) * 0.5,
            rng.standard_normal(GH) * 0.1)


def test_reverse_index_reverses_each_column_within_its_length():
    idx = reverse_index(np.array([3, 1, 2]), 4)
    assert idx[:, 0].tolist() == [2, 1, 0, 3]
    assert idx[:, 1].tolist() == [0, 1, 2, 3]
    assert idx[:, 2].tolist() == [1, 0, 2, 3]
    X = np.arange(4 * 3).reshape(4, 1, 3).astype(float)
    assert np.array_equal(reverse_time(reverse_time(X, idx), idx), X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reverse_time_reverses_every_feature_of_each_column_within_its_length(dtype, rng):
    lengths = np.array([5, 5, 3, 1, 4])
    T, D, N = 6, 7, len(lengths)
    X = rng.standard_normal((T, D, N)).astype(dtype)
    out = reverse_time(X, reverse_index(lengths, T))
    for n, L in enumerate(lengths):
        assert np.array_equal(out[:L, :, n], X[:L, :, n][::-1])
        assert np.array_equal(out[L:, :, n], X[L:, :, n])          # padding stays put
    assert out.dtype == dtype and out.flags.c_contiguous


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
def test_birnn_gradients(name, rng):
    cell = CELLS[name]
    fw, bw = direction(cell, rng, D, H), direction(cell, rng, D, H)
    X = rng.standard_normal((T, D, N))
    mask = (np.arange(T)[:, None] < LENGTHS[None, :]).astype(float)        # (T, N)
    dout = rng.standard_normal((T, 2 * H, N)) * mask[:, None, :]
    out, cache = birnn_forward(cell, X, LENGTHS, fw, bw)
    assert out.shape == (T, 2 * H, N)
    dX, g_f, g_b = birnn_backward(dout, cache)

    def f():
        return (birnn_forward(cell, X, LENGTHS, fw, bw)[0] * dout).sum()

    assert rel_error(dX, numerical_grad(f, X)) < TOL
    for params, grads in ((fw, g_f), (bw, g_b)):
        for p, g in zip(params, grads):
            assert rel_error(g, numerical_grad(f, p)) < TOL
    # Padding gets no gradient from real positions.
    assert np.all(dX * (1 - mask[:, None, :]) == 0)


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
def test_birnn_padding_changes_nothing_real(name, rng):
    cell = CELLS[name]
    fw, bw = direction(cell, rng, D, H), direction(cell, rng, D, H)
    X = rng.standard_normal((T, D, N))
    out, _ = birnn_forward(cell, X, LENGTHS, fw, bw)
    X2 = X.copy()
    for n, L in enumerate(LENGTHS):
        X2[L:, :, n] = rng.standard_normal((T - L, D)) * 100     # different padding
    out2, _ = birnn_forward(cell, X2, LENGTHS, fw, bw)
    for n, L in enumerate(LENGTHS):
        assert np.allclose(out[:L, :, n], out2[:L, :, n], rtol=0, atol=1e-12)
        # ... and each sentence alone, unpadded, gives the same outputs.
        alone, _ = birnn_forward(cell, X[:L, :, n:n + 1], [L], fw, bw)
        assert np.allclose(out[:L, :, n], alone[:, :, 0], rtol=0, atol=1e-12)
    # The backward direction at t = 0 has read the whole sentence: it differs from
    # a run over the first word only.
    first, _ = birnn_forward(cell, X[:1, :, :1], [1], fw, bw)
    assert not np.allclose(out[0, H:, 0], first[0, H:, 0])


@pytest.mark.parametrize("name", ["rnn", "lstm"])
def test_birnn_run_matches_forward(name, rng):
    cell = CELLS[name]
    fw, bw = direction(cell, rng, D, H), direction(cell, rng, D, H)
    X = rng.standard_normal((T, D, N))
    out, _ = birnn_forward(cell, X, LENGTHS, fw, bw)
    order = np.argsort(-LENGTHS, kind="stable")                      # longest first
    fast = birnn_run(cell, X[:, :, order], LENGTHS[order], fw, bw)
    for k, n in enumerate(order):
        L = LENGTHS[n]
        assert np.allclose(fast[:L, :, k], out[:L, :, n], atol=1e-12)
    unsorted = birnn_run(cell, X, LENGTHS, fw, bw)
    for n, L in enumerate(LENGTHS):
        assert np.allclose(unsorted[:L, :, n], out[:L, :, n], atol=1e-12)


@pytest.mark.parametrize("name", ["gru", "lstm"])
def test_char_features_gradients(name, rng):
    cell = CELLS[name]
    C, Ec, Hc, Tc, W = 7, 3, 2, 5, 4
    lengths = np.array([5, 1, 3, 2])
    chars = rng.integers(0, C, (Tc, W))
    chars[1, 0] = chars[3, 0] = chars[0, 2]                # shared ids accumulate
    W_ce = rng.standard_normal((Ec, C))
    fw, bw = direction(cell, rng, Ec, Hc), direction(cell, rng, Ec, Hc)
    dF = rng.standard_normal((2 * Hc, W))
    F, cache = char_features_forward(cell, chars, lengths, W_ce, fw, bw)
    assert F.shape == (2 * Hc, W)
    dW_ce, g_f, g_b = char_features_backward(dF, cache)

    def f():
        return (char_features_forward(cell, chars, lengths, W_ce, fw, bw)[0] * dF).sum()

    assert rel_error(dW_ce, numerical_grad(f, W_ce)) < TOL
    for params, grads in ((fw, g_f), (bw, g_b)):
        for p, g in zip(params, grads):
            assert rel_error(g, numerical_grad(f, p)) < TOL


def test_char_features_ignore_padding_and_match_forward_only_run(rng):
    cell = CELLS["lstm"]
    C, Ec, Hc, Tc = 7, 3, 2, 5
    lengths = np.array([5, 3, 2, 1])
    chars = rng.integers(1, C, (Tc, 4))
    W_ce = rng.standard_normal((Ec, C))
    fw, bw = direction(cell, rng, Ec, Hc), direction(cell, rng, Ec, Hc)
    F, _ = char_features_forward(cell, chars, lengths, W_ce, fw, bw)
    other = chars.copy()
    for w, L in enumerate(lengths):
        other[L:, w] = (other[L:, w] + 1) % C
    F2, _ = char_features_forward(cell, other, lengths, W_ce, fw, bw)
    assert np.allclose(F, F2, atol=1e-12)
    for w, L in enumerate(lengths):
        alone, _ = char_features_forward(cell, chars[:L, w:w + 1], [L], W_ce, fw, bw)
        assert np.allclose(F[:, w], alone[:, 0], atol=1e-12)
    assert np.allclose(char_features_run(cell, chars, lengths, W_ce, fw, bw), F, atol=1e-12)
