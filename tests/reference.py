"""Naive per-gate cells written straight from the notes' equations, with separate
W_u, W_f, … acting on the stacked column [a⟨t-1⟩; x⟨t⟩]. The fused cells must agree.
Vectors are columns: x (D, N), a (H, N)."""

import numpy as np


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def split_gates(W_aa, W_ax, b, gates, H):
    """Per-gate W_g = [W_g,a | W_g,x] (H, H + D) and b_g from the fused matrices."""
    out = {}
    for k, g in enumerate(gates):
        rows = slice(k * H, (k + 1) * H)
        out[g] = (np.hstack([W_aa[rows], W_ax[rows]]), b[rows])
    return out


def stack(a, x):
    """[a⟨t-1⟩; x⟨t⟩]: the notes' stacking, (H + D, N)."""
    return np.concatenate([a, x], axis=0)


def lin(W, v):
    Wg, bg = W
    return Wg @ v + bg[:, None]


def rnn_step(x, a_prev, W):
    return np.tanh(lin(W["a"], stack(a_prev, x)))


def gru_step(x, c_prev, W):
    ax = stack(c_prev, x)
    gu = sig(lin(W["u"], ax))
    gr = sig(lin(W["r"], ax))
    c_tilde = np.tanh(lin(W["c"], stack(gr * c_prev, x)))
    return gu * c_tilde + (1 - gu) * c_prev


def lstm_step(x, a_prev, c_prev, W):
    ax = stack(a_prev, x)
    gu = sig(lin(W["u"], ax))
    gf = sig(lin(W["f"], ax))
    go = sig(lin(W["o"], ax))
    c_tilde = np.tanh(lin(W["c"], ax))
    c = gu * c_tilde + gf * c_prev
    return go * np.tanh(c), c
