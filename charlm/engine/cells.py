"""Recurrent cells: one time step forward and backward, with fused gates.

Every cell receives ``xp = W_ax x⟨t⟩ + b_a``, the input part of its pre-activations,
already computed for the whole window by one matrix product (see
:mod:`charlm.engine.layers`), and adds the recurrent part ``W_aa a⟨t-1⟩`` itself. Together
that is the notes' ``W_a [a⟨t-1⟩, x⟨t⟩] + b_a`` with ``W_a = [W_aa | W_ax]``.

The gates of a cell are fused: their weights are stacked by rows into one
``W_aa`` of shape (G*H, H) and one ``W_ax`` of shape (G*H, D), in the order given by
``*_GATES`` below, so one matrix product per step serves every gate.

Vanilla RNN (notes, "Forward prop")::

    a⟨t⟩ = tanh(W_aa a⟨t-1⟩ + W_ax x⟨t⟩ + b_a)

GRU, the full unit of the notes (memory cell c⟨t⟩ = a⟨t⟩)::

    Γ_u = σ(W_u [c⟨t-1⟩, x⟨t⟩] + b_u)
    Γ_r = σ(W_r [c⟨t-1⟩, x⟨t⟩] + b_r)
    c̃⟨t⟩ = tanh(W_c [Γ_r * c⟨t-1⟩, x⟨t⟩] + b_c)
    c⟨t⟩ = Γ_u * c̃⟨t⟩ + (1 - Γ_u) * c⟨t-1⟩

  Because Γ_r multiplies c⟨t-1⟩ *before* the candidate's product, the candidate
  needs a second product per step: one for both gates, one for c̃. (PyTorch and
  cuDNN apply the relevance gate after the product instead; that is a different
  model, and its weights do not load here unchanged.)

LSTM::

    Γ_u = σ(W_u [a⟨t-1⟩, x⟨t⟩] + b_u)      update (input) gate
    Γ_f = σ(W_f [a⟨t-1⟩, x⟨t⟩] + b_f)      forget gate
    Γ_o = σ(W_o [a⟨t-1⟩, x⟨t⟩] + b_o)      output gate
    c̃⟨t⟩ = tanh(W_c [a⟨t-1⟩, x⟨t⟩] + b_c)
    c⟨t⟩ = Γ_u * c̃⟨t⟩ + Γ_f * c⟨t-1⟩
    a⟨t⟩ = Γ_o * tanh(c⟨t⟩)

Step functions::

    step_forward(xp, state, W_aa) -> (state, cache)
    step_backward(dstate, cache, out=None) -> (dz, dstate_prev)   (dz written to out if given)

Vectors are columns, one per sequence: ``state`` is a tuple of (H, N) arrays, ``(a,)``
for RNN and GRU, ``(a, c)`` for LSTM; ``state[0]`` is the cell's output a⟨t⟩. ``xp`` and
``dz`` are (G*H, N): the pre-activations' gradient, which is also the gradient of
``xp``. Gate k is the contiguous row block k*H:(k+1)*H. The weight gradient
``dW_aa`` is not formed per step: the layer sums dz⟨t⟩ a⟨t-1⟩ᵀ over all steps in one
contraction after the loop, using the per-step inputs that
:meth:`Cell.weight_inputs` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from charlm.engine.ops import sigmoid

# Row blocks of the fused matrices, top to bottom. Sigmoid gates come first so one
# call activates all of them; the tanh candidate is last.
RNN_GATES = ("a",)
GRU_GATES = ("u", "r", "c")
LSTM_GATES = ("u", "f", "o", "c")


# --- vanilla RNN ---------------------------------------------------------------------

def rnn_activate(z, state):
    """(a⟨t⟩,) from the full pre-activation z = W_aa a⟨t-1⟩ + W_ax x⟨t⟩ + b_a, computed
    in place; returns (new state, None)."""
    return (np.tanh(z, out=z),), None


def rnn_step_forward(xp, state, W_aa):
    """xp: (H, N); state: (a_prev (H, N),); W_aa: (H, H)."""
    (a_prev,) = state
    z = W_aa @ a_prev                                    # (H, N)
    z += xp
    (a,), _ = rnn_activate(z, state)
    return (a,), (a_prev, a, W_aa)


def rnn_step_backward(dstate, cache, out=None):
    """``out``: optional (H, N) array to write dz into (the layer's row of dZ)."""
    (da,) = dstate
    a_prev, a, W_aa = cache
    dz = np.multiply(a, a, out=out)
    np.subtract(1.0, dz, out=dz)                         # tanh' = 1 - a²
    dz *= da
    return dz, (W_aa.T @ dz,)


# --- GRU (the notes' full unit) ----------------------------------------------------

def gru_step_forward(xp, state, W_aa):
    """xp: (3H, N) in GRU_GATES order; state: (c_prev (H, N),); W_aa: (3H, H)."""
    (c_prev,) = state
    H = c_prev.shape[0]
    g = W_aa[:2 * H] @ c_prev                            # (2H, N): Γ_u, Γ_r together
    g += xp[:2 * H]
    sigmoid(g, out=g)
    g_u, g_r = g[:H], g[H:]
    rc = g_r * c_prev                                    # Γ_r * c⟨t-1⟩
    c_tilde = W_aa[2 * H:] @ rc                          # (H, N)
    c_tilde += xp[2 * H:]
    np.tanh(c_tilde, out=c_tilde)
    c = c_tilde - c_prev                                 # Γ_u c̃ + (1-Γ_u) c⟨t-1⟩
    c *= g_u
    c += c_prev
    return (c,), (c_prev, g, rc, c_tilde, W_aa)


def gru_step_backward(dstate, cache, out=None):
    """``out``: optional (3H, N) array to write dz into (the layer's row of dZ)."""
    (dc,) = dstate
    c_prev, g, rc, c_tilde, W_aa = cache
    H = c_prev.shape[0]
    g_u, g_r = g[:H], g[H:]
    dz = np.empty((3 * H, dc.shape[1]), dtype=dc.dtype) if out is None else out
    dz_c = dz[2 * H:]
    tanh_d = np.multiply(c_tilde, c_tilde)
    np.subtract(1.0, tanh_d, out=tanh_d)                         # tanh' = 1 - c̃²
    np.multiply(dc, g_u, out=dz_c)
    dz_c *= tanh_d
    drc = W_aa[2 * H:].T @ dz_c                                  # d(Γ_r * c⟨t-1⟩)
    # σ' = Γ - Γ² for both gates at once.
    sig_d = np.multiply(g, g)
    np.subtract(g, sig_d, out=sig_d)
    dz_u, dz_r = dz[:H], dz[H:2 * H]
    np.subtract(c_tilde, c_prev, out=dz_u)
    dz_u *= dc
    dz_u *= sig_d[:H]
    np.multiply(drc, c_prev, out=dz_r)
    dz_r *= sig_d[H:]
    dc_prev = W_aa[:2 * H].T @ dz[:2 * H]
    drc *= g_r
    dc_prev += drc
    dc_prev += dc                                                # dc (1 - Γ_u)
    dc_prev -= np.multiply(dc, g_u, out=sig_d[:H])               # (σ' no longer needed)
    return dz, (dc_prev,)


# --- LSTM ------------------------------------------------------------------------------

def lstm_activate(z, state):
    """(a⟨t⟩, c⟨t⟩) from the full pre-activation z = W_aa a⟨t-1⟩ + W_ax x⟨t⟩ + b_a;
    z is turned into the gate values in place. Returns (new state, tanh(c⟨t⟩))."""
    c_prev = state[1]
    H = c_prev.shape[0]
    sigmoid(z[:3 * H], out=z[:3 * H])                    # Γ_u, Γ_f, Γ_o
    np.tanh(z[3 * H:], out=z[3 * H:])                    # c̃⟨t⟩
    g_u, g_f, g_o, c_tilde = z[:H], z[H:2 * H], z[2 * H:3 * H], z[3 * H:]
    c = g_u * c_tilde
    c += g_f * c_prev
    tanh_c = np.tanh(c)
    return (g_o * tanh_c, c), tanh_c


def lstm_step_forward(xp, state, W_aa):
    """xp: (4H, N) in LSTM_GATES order; state: (a_prev, c_prev), each (H, N);
    W_aa: (4H, H)."""
    a_prev, c_prev = state
    z = W_aa @ a_prev                                    # (4H, N)
    z += xp
    (a, c), tanh_c = lstm_activate(z, state)
    return (a, c), (a_prev, c_prev, z, tanh_c, W_aa)


def lstm_step_backward(dstate, cache, out=None):
    """``out``: optional (4H, N) array to write dz into (the layer's row of dZ)."""
    da, dc_next = dstate
    a_prev, c_prev, z, tanh_c, W_aa = cache
    H = a_prev.shape[0]
    g_u, g_f, g_o, c_tilde = z[:H], z[H:2 * H], z[2 * H:3 * H], z[3 * H:]
    dz = np.empty_like(z) if out is None else out        # (4H, N)
    # The activations' derivatives from their outputs, all four blocks in three
    # passes: σ' = Γ - Γ² for the gates, tanh' = 1 - c̃² for the candidate.
    np.multiply(z, z, out=dz)
    np.subtract(z[:3 * H], dz[:3 * H], out=dz[:3 * H])
    np.subtract(1.0, dz[3 * H:], out=dz[3 * H:])
    # dc⟨t⟩ = dc from step t+1 + da Γ_o tanh'(c⟨t⟩), since a = Γ_o tanh(c).
    dc = np.multiply(tanh_c, tanh_c)
    np.subtract(1.0, dc, out=dc)
    dc *= g_o
    dc *= da
    dc += dc_next
    dz[:H] *= c_tilde                                    # c = Γ_u c̃ + Γ_f c⟨t-1⟩
    dz[:H] *= dc
    dz[H:2 * H] *= c_prev
    dz[H:2 * H] *= dc
    dz[2 * H:3 * H] *= tanh_c
    dz[2 * H:3 * H] *= da
    dz[3 * H:] *= g_u
    dz[3 * H:] *= dc
    da_prev = W_aa.T @ dz
    dc *= g_f                                            # dc⟨t-1⟩
    return dz, (da_prev, dc)


# --- the registry ------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """What a sequence layer needs to know about a cell."""

    name: str
    gates: tuple            # row blocks of the fused matrices, in order
    n_states: int           # 1: (a,), 2: (a, c)
    step_forward: Callable
    step_backward: Callable
    # state⟨t⟩ from the whole pre-activation W_a [a⟨t-1⟩; x⟨t⟩] + b_a, for inference
    # with the stacked W_a = [W_aa | W_ax]; None for the GRU, whose candidate needs
    # Γ_r before its product.
    activate: Callable | None = None

    def width(self, H):
        """Rows of the fused matrices: G*H."""
        return len(self.gates) * H

    def weight_inputs(self, cache, H):
        """The recurrent input that each row block of W_aa multiplied at this step,
        as [(row slice, array (H, N)), ...]: dW_aa[rows] = Σ_t dz⟨t⟩[rows] inputᵀ."""
        if self.name == "gru":
            c_prev, _, rc, _, _ = cache
            return [(slice(0, 2 * H), c_prev), (slice(2 * H, 3 * H), rc)]
        return [(slice(0, self.width(H)), cache[0])]

    def bias_init(self, H, dtype, rng=None):
        """b_a at initialisation, (G*H,).

        With ``rng``: the sum of two draws from U(±1/√H), every gate alike. That is
        the distribution of PyTorch's b_ih + b_hh, and it measurably learns faster
        per update than zero biases with the LSTM forget gate at 1 (Jozefowicz et
        al., 2015): on character streams with windows of 64–128 steps, the forget
        gate at 1 keeps the cell on the initial plateau longer (benchmarks/parity.py:
        +0.1 nats after 200 updates), and random biases give the units of a
        one-hot-fed layer distinct starting points. Without ``rng``: zeros.
        """
        G = len(self.gates)
        if rng is None:
            return np.zeros(G * H, dtype=dtype)
        s = 1.0 / np.sqrt(H)
        b = rng.uniform(-s, s, size=G * H) + rng.uniform(-s, s, size=G * H)
        return b.astype(dtype)


CELLS = {
    "rnn": Cell("rnn", RNN_GATES, 1, rnn_step_forward, rnn_step_backward, rnn_activate),
    "gru": Cell("gru", GRU_GATES, 1, gru_step_forward, gru_step_backward),
    "lstm": Cell("lstm", LSTM_GATES, 2, lstm_step_forward, lstm_step_backward,
                 lstm_activate),
}
