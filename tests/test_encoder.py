"""The many-to-one pieces: the unidirectional layer over padded lines, pooling over
time (last state, max, mean) and the head. Float64 central-difference gradient
checks with small, all-different dimensions; padding never changes h."""

import numpy as np
import pytest

from charlm.engine.cells import CELLS
from charlm.engine.encoder import (head_backward, head_forward, layer_backward,
                                   layer_forward, layer_run, pool_backward, pool_forward)
from gradcheck import numerical_grad, rel_error

N, T, D, H, K = 3, 5, 4, 2, 7
TOL = 1e-6
LENGTHS = np.array([5, 2, 3])
MODES = [("last",), ("max",), ("mean",), ("last", "max"), ("max", "mean", "last")]


def direction(cell, rng, D, H):
    GH = cell.width(H)
    return (rng.standard_normal((GH, D)) * 0.5, rng.standard_normal((GH, H)) * 0.5,
            rng.standard_normal(GH) * 0.1)


@pytest.mark.parametrize("modes", MODES)
@pytest.mark.parametrize("half", [None, 3])
def test_pool_gradients(modes, half, rng):
    Dp = 6
    A = rng.standard_normal((T, Dp, N))
    h, cache = pool_forward(A, LENGTHS, modes, half)
    assert h.shape == (len(modes) * Dp, N)
    dh = rng.standard_normal(h.shape)
    dA = pool_backward(dh, cache)

    def f():
        return (pool_forward(A, LENGTHS, modes, half)[0] * dh).sum()

    assert rel_error(dA, numerical_grad(f, A)) < TOL
    for n, L in enumerate(LENGTHS):
        assert np.all(dA[L:, :, n] == 0)                  # padding gets nothing


@pytest.mark.parametrize("modes", MODES)
def test_pool_ignores_padding(modes, rng):
    A = rng.standard_normal((T, 2 * H, N))
    h, _ = pool_forward(A, LENGTHS, modes, H)
    A2 = A.copy()
    for n, L in enumerate(LENGTHS):
        A2[L:, :, n] = 1e6                                # would win any max
    h2, _ = pool_forward(A2, LENGTHS, modes, H)
    assert np.array_equal(h, h2)
    for n, L in enumerate(LENGTHS):                       # and each line alone agrees
        alone, _ = pool_forward(A[:L, :, n:n + 1], [L], modes, H)
        assert np.allclose(alone[:, 0], h[:, n], rtol=0, atol=1e-12)


def test_pool_values():
    A = np.arange(3 * 2 * 2, dtype=float).reshape(3, 2, 2)    # (T, D, N)
    h, _ = pool_forward(A, np.array([3, 2]), ("last", "max", "mean"), H=1)
    # column 0: a→⟨3⟩ = A[2,0,0] = 8, a←⟨1⟩ = A[0,1,0] = 2
    assert h[:2, 0].tolist() == [8.0, 2.0]
    # column 1 has length 2: a→⟨2⟩ = A[1,0,1] = 5, a←⟨1⟩ = A[0,1,1] = 3
    assert h[:2, 1].tolist() == [5.0, 3.0]
    assert h[2:4, 1].tolist() == [5.0, 7.0]                    # max over t < 2
    assert h[4:, 1].tolist() == [3.0, 5.0]                     # mean over t < 2


def test_head_gradients(rng):
    F = 6
    h = rng.standard_normal((F, N))
    W_y, b_y = rng.standard_normal((K, F)), rng.standard_normal(K)
    z, cache = head_forward(h, W_y, b_y)
    assert z.shape == (K, N)
    dz = rng.standard_normal(z.shape)
    dh, dW, db = head_backward(dz, cache)

    def f():
        return (head_forward(h, W_y, b_y)[0] * dz).sum()

    for x, g in ((h, dh), (W_y, dW), (b_y, db)):
        assert rel_error(g, numerical_grad(f, x)) < TOL


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_gradients_through_pooling(name, bidirectional, rng):
    cell = CELLS[name]
    fw = direction(cell, rng, D, H)
    bw = direction(cell, rng, D, H) if bidirectional else None
    X = rng.standard_normal((T, D, N))
    modes = ("last", "max")
    half = H if bidirectional else None

    def run():
        out, c_l = layer_forward(cell, X, LENGTHS, fw, bw)
        h, c_p = pool_forward(out, LENGTHS, modes, half)
        return h, c_l, c_p

    h, c_l, c_p = run()
    dh = rng.standard_normal(h.shape)
    dX, grads = layer_backward(pool_backward(dh, c_p), c_l)

    def f():
        return (run()[0] * dh).sum()

    assert rel_error(dX, numerical_grad(f, X)) < TOL
    for params, g in zip([fw] + ([bw] if bw else []), grads):
        for p, gp in zip(params, g):
            assert rel_error(gp, numerical_grad(f, p)) < TOL
    for n, L in enumerate(LENGTHS):
        assert np.all(dX[L:, :, n] == 0)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_run_matches_forward(bidirectional, rng):
    cell = CELLS["lstm"]
    fw = direction(cell, rng, D, H)
    bw = direction(cell, rng, D, H) if bidirectional else None
    X = rng.standard_normal((T, D, N))
    out, _ = layer_forward(cell, X, LENGTHS, fw, bw)
    fast = layer_run(cell, X, np.sort(LENGTHS)[::-1], fw, bw)
    slow, _ = layer_forward(cell, X, np.sort(LENGTHS)[::-1], fw, bw)
    for n, L in enumerate(np.sort(LENGTHS)[::-1]):
        assert np.allclose(fast[:L, :, n], slow[:L, :, n], rtol=0, atol=1e-12)
    assert out.shape == fast.shape


@pytest.mark.parametrize("modes", MODES)
@pytest.mark.parametrize("half", [None, 2])
def test_pool_run_matches_pool_forward(modes, half, rng):
    from charlm.engine.encoder import pool_run

    A = rng.standard_normal((T, 2 * H, N))
    h, _ = pool_forward(A, LENGTHS, modes, half)
    assert np.array_equal(pool_run(A.copy(), LENGTHS, modes, half), h)
