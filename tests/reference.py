"""Naive per-gate cells written straight from the notes' equations, with separate
W_u, W_f, … acting on the stacked [a⟨t-1⟩, x⟨t⟩]. The fused cells must agree."""

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


def rnn_step(x, a_prev, W):
    Wa, ba = W["a"]
    return np.tanh(np.concatenate([a_prev, x], axis=1) @ Wa.T + ba)


def gru_step(x, c_prev, W):
    ax = np.concatenate([c_prev, x], axis=1)
    gu = sig(ax @ W["u"][0].T + W["u"][1])
    gr = sig(ax @ W["r"][0].T + W["r"][1])
    c_tilde = np.tanh(np.concatenate([gr * c_prev, x], axis=1) @ W["c"][0].T + W["c"][1])
    return gu * c_tilde + (1 - gu) * c_prev


def lstm_step(x, a_prev, c_prev, W):
    ax = np.concatenate([a_prev, x], axis=1)
    gu = sig(ax @ W["u"][0].T + W["u"][1])
    gf = sig(ax @ W["f"][0].T + W["f"][1])
    go = sig(ax @ W["o"][0].T + W["o"][1])
    c_tilde = np.tanh(ax @ W["c"][0].T + W["c"][1])
    c = gu * c_tilde + gf * c_prev
    return go * np.tanh(c), c
