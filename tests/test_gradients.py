"""Central-difference gradient checks in float64 for every primitive, cell, layer and
whole model. Dimensions are small and all different (N, T, E, H, V = 2, 3, 4, 5, 7)
so that a transposed weight cannot pass; relative error must be below 1e-6."""

import numpy as np
import pytest

from charlm.engine import ops
from charlm.engine.cells import CELLS
from charlm.engine.layers import recurrent_backward, recurrent_forward
from charlm.lm.model import LanguageModel, ModelConfig
from gradcheck import directional_check, numerical_grad, rel_error
from reference import gru_step, lstm_step, rnn_step, split_gates

N, T, E, H, V = 2, 3, 4, 5, 7
TOL = 1e-6


def check(f, analytic, x):
    assert rel_error(analytic, numerical_grad(f, x)) < TOL


def test_sigmoid_matches_definition_and_never_overflows():
    z = np.linspace(-30, 30, 101)
    assert np.allclose(ops.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-12, atol=1e-15)
    with np.errstate(all="raise"):
        big = ops.sigmoid(np.array([-1e4, 1e4], dtype=np.float32))
    assert big.tolist() == [0.0, 1.0]


def test_lookup_gradient(rng):
    W = rng.standard_normal((E, V))
    ids = rng.integers(0, V, (T, N))
    ids[:, 0] = 3                                     # repeated ids must accumulate
    keep = np.ones((T, N))
    keep[1, 1] = 0
    dout = rng.standard_normal((T, E, N))
    out, cache = ops.lookup_forward(W, ids, keep)
    assert np.allclose(out[0, :, 0], W[:, 3]) and np.all(out[1, :, 1] == 0)
    check(lambda: (ops.lookup_forward(W, ids, keep)[0] * dout).sum(),
          ops.lookup_backward(dout, cache), W)


def test_lookup_gradient_large_vocabulary_path(rng):
    big_v = ops._ONE_HOT_MAX_V + 5                    # the scattered-add branch
    W = rng.standard_normal((3, big_v))
    ids = rng.integers(0, big_v, (T, N))
    ids[2, 1] = ids[0, 0]
    dout = rng.standard_normal((T, 3, N))
    _, cache = ops.lookup_forward(W, ids)
    dW = ops.lookup_backward(dout, cache)
    expect = np.zeros_like(W)
    for n in range(N):
        for t in range(T):
            expect[:, ids[t, n]] += dout[t, :, n]
    assert np.allclose(dW, expect)


def test_affine_gradients(rng):
    X = rng.standard_normal((T, E, N))
    W = rng.standard_normal((H, E))
    b = rng.standard_normal(H)
    dout = rng.standard_normal((T, H, N))
    _, cache = ops.affine_forward(X, W, b)
    dX, dW, db = ops.affine_backward(dout, cache)
    f = lambda: (ops.affine_forward(X, W, b)[0] * dout).sum()
    check(f, dX, X)
    check(f, dW, W)
    check(f, db, b)


def test_softmax_cross_entropy_gradient_with_mask(rng):
    logits = rng.standard_normal((T, V, N))
    y = rng.integers(0, V, (T, N))
    mask = np.array([[1, 1], [1, 0], [0, 0]], dtype=float)          # (T, N)
    loss, cache = ops.softmax_cross_entropy_forward(logits, y, mask)
    dlogits = ops.softmax_cross_entropy_backward(1.0, cache)
    check(lambda: ops.softmax_cross_entropy_forward(logits, y, mask)[0], dlogits, logits)
    assert np.all(dlogits[1, :, 1] == 0) and np.all(dlogits[2] == 0)


def test_a_float32_mask_keeps_a_float64_gradient_exact(rng):
    """The batches' masks are float32; a float64 model's gradient must not round
    1/#tokens to float32 (which made data-parallel ranks differ from one process
    by 1e-8 in float64)."""
    logits = rng.standard_normal((T, V, N))
    y = rng.integers(0, V, (T, N))
    mask = np.array([[1, 1], [1, 1], [1, 0]], dtype=np.float32)     # 5 tokens
    _, cache = ops.softmax_cross_entropy_forward(logits, y, mask)
    dlogits = ops.softmax_cross_entropy_backward(1.0, cache)
    p = np.exp(ops.log_softmax(logits, axis=1))
    p[np.arange(T)[:, None], y, np.arange(N)[None, :]] -= 1.0
    expected = p * mask.astype(np.float64)[:, None, :] / 5.0
    assert dlogits.dtype == np.float64
    assert np.abs(dlogits - expected).max() <= 1e-16


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[[1e4], [0.0], [-1e4]]], dtype=np.float32)    # (T, V, N) = (1, 3, 1)
    with np.errstate(over="raise", invalid="raise"):
        loss, _ = ops.softmax_cross_entropy_forward(logits, np.array([[0]]))
    assert loss == pytest.approx(0.0, abs=1e-6)


def test_dropout_gradient(rng):
    X = rng.standard_normal((T, H, N))
    dout = rng.standard_normal((T, H, N))
    out, cache = ops.dropout_forward(X, 0.4, np.random.default_rng(5))
    f = lambda: (ops.dropout_forward(X, 0.4, np.random.default_rng(5))[0] * dout).sum()
    check(f, ops.dropout_backward(dout, cache), X)


def test_clip_by_global_norm(rng):
    grads = {"a": np.full(3, 3.0), "b": np.full(4, 4.0)}
    norm = np.sqrt(27 + 64)
    got, clipped = ops.clip_by_global_norm(grads, 5.0)
    assert clipped and got == pytest.approx(norm)
    assert ops.global_norm(grads) == pytest.approx(5.0)
    _, clipped = ops.clip_by_global_norm(grads, 10.0)
    assert not clipped


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_step_gradients(name, rng):
    cell = CELLS[name]
    GH = cell.width(H)
    xp = rng.standard_normal((GH, N))
    W = rng.standard_normal((GH, H)) * 0.5
    state = tuple(rng.standard_normal((H, N)) for _ in range(cell.n_states))
    douts = tuple(rng.standard_normal((H, N)) for _ in range(cell.n_states))

    def f():
        new, _ = cell.step_forward(xp, state, W)
        return sum((s * d).sum() for s, d in zip(new, douts))

    _, cache = cell.step_forward(xp, state, W)
    dz, dprev = cell.step_backward(douts, cache)
    check(f, dz, xp)
    for d, s in zip(dprev, state):
        check(f, d, s)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_sequence_layer_gradients_with_resets(name, rng):
    cell = CELLS[name]
    GH = cell.width(H)
    xp = rng.standard_normal((T, GH, N))
    W = rng.standard_normal((GH, H)) * 0.5
    s0 = tuple(rng.standard_normal((H, N)) for _ in range(cell.n_states))
    keep = np.ones((T, N))
    keep[1, 0] = 0                                    # sequence 0: a new line at t = 1
    dA = rng.standard_normal((T, H, N))
    f = lambda: (recurrent_forward(cell, xp, W, s0, keep)[0] * dA).sum()
    _, _, cache = recurrent_forward(cell, xp, W, s0, keep)
    dxp, dW, ds0 = recurrent_backward(dA, cache)
    check(f, dxp, xp)
    check(f, dW, W)
    for d, s in zip(ds0, s0):
        check(f, d, s)
    # Nothing flows back across the reset: with no gradient at t = 0, column 0 of the
    # initial state gets none, although steps after the reset have gradients.
    dA[0, :, 0] = 0.0
    _, _, cache = recurrent_forward(cell, xp, W, s0, keep)
    _, _, ds0 = recurrent_backward(dA, cache)
    assert all(np.all(d[:, 0] == 0.0) for d in ds0)
    assert all(np.any(d[:, 1] != 0.0) for d in ds0)


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("embed", [0, E])
def test_whole_two_layer_model_gradients(name, embed, rng):
    cfg = ModelConfig(vocab_size=V, cell=name, hidden=H, layers=2, embed=embed)
    model = LanguageModel.create(cfg, rng, np.float64)
    x = rng.integers(0, V, (N, T))
    x[1, 1] = cfg.eos_id                              # a line starts mid-window
    y = rng.integers(0, V, (N, T))
    mask = np.ones((N, T))
    mask[1, 2] = 0
    state = [tuple(rng.standard_normal((H, N)) for _ in range(cfg.cell_spec.n_states))
             for _ in range(2)]
    f = lambda: model.forward(x, y, mask, state, train=False)[0]
    _, _, cache = model.forward(x, y, mask, state, train=False)
    grads = model.backward(cache)
    assert set(grads) == set(model.params)
    for k, p in model.params.items():
        assert rel_error(grads[k], numerical_grad(f, p)) < TOL, k
    assert directional_check(f, model.params, grads, rng) < TOL


def test_model_gradients_with_dropout(rng):
    cfg = ModelConfig(vocab_size=V, cell="lstm", hidden=H, layers=2, embed=E, dropout=0.3)
    model = LanguageModel.create(cfg, rng, np.float64)
    x = rng.integers(0, V, (N, T))
    y = rng.integers(0, V, (N, T))
    f = lambda: model.forward(x, y, rng=np.random.default_rng(9))[0]
    _, _, cache = model.forward(x, y, rng=np.random.default_rng(9))
    grads = model.backward(cache)
    assert directional_check(f, model.params, grads, rng) < TOL
    for k in ("layer2.W_ax", "W_ya"):
        assert rel_error(grads[k], numerical_grad(f, model.params[k])) < TOL


@pytest.mark.parametrize("name,step", [("rnn", rnn_step), ("gru", gru_step), ("lstm", lstm_step)])
def test_fused_cell_matches_naive_per_gate_cell(name, step, rng):
    cell = CELLS[name]
    D = E
    GH = cell.width(H)
    W_aa = rng.standard_normal((GH, H)) * 0.5
    W_ax = rng.standard_normal((GH, D)) * 0.5
    b = rng.standard_normal(GH)
    W = split_gates(W_aa, W_ax, b, cell.gates, H)
    x = rng.standard_normal((T, D, N))
    state = tuple(rng.standard_normal((H, N)) for _ in range(cell.n_states))
    xp, _ = ops.affine_forward(x, W_ax, b)
    A, _, _ = recurrent_forward(cell, xp, W_aa, state)
    ref = state
    for t in range(T):
        out = step(x[t], *ref, W)
        ref = out if isinstance(out, tuple) else (out,)
        assert np.allclose(A[t], ref[0], rtol=1e-12, atol=1e-12)
