"""Sequence layers: a cell run over a window of T steps, forward and backward (BPTT).

The input part of every step's pre-activations, W_ax x⟨t⟩ + b_a, is computed for the
whole window before the time loop (one large matrix product instead of T small ones);
the loop only adds W_aa a⟨t-1⟩ and applies the gates. Backward mirrors it: the loop
carries dstate from t+1 to t and records dz⟨t⟩; the weight gradients
dW_aa = Σ_t dz⟨t⟩ᵀ a⟨t-1⟩ and dW_ax = Σ_t dz⟨t⟩ᵀ x⟨t⟩ are then single products over
all steps — the "+=" of shared weights in backpropagation through time.

Resets: ``keep[n, t] = 0`` sets the state of row n to zero before step t (a new line
starts there: a⟨0⟩ = 0). No gradient flows back across a reset.

Truncated BPTT: the state at the end of a window is returned so the next window can
start from it; the next window's backward stops there (the caller passes it in as a
constant), which is what "truncated" means.
"""

from __future__ import annotations

import numpy as np


def zero_state(cell, N, H, dtype):
    """a⟨0⟩ = 0 (and c⟨0⟩ = 0 for the LSTM)."""
    return tuple(np.zeros((N, H), dtype=dtype) for _ in range(cell.n_states))


def _apply_keep(state, keep_t):
    return tuple(s * keep_t for s in state)


def recurrent_forward(cell, xp, W_aa, state0, keep=None):
    """Run ``cell`` over a window.

    Inputs:
      xp: (N, T, G*H) input projections W_ax x⟨t⟩ + b_a for every step.
      W_aa: (G*H, H) fused recurrent weights.
      state0: tuple of (N, H) arrays, the state before the first step.
      keep: optional (N, T) 0/1; 0 resets the state before that step.
    Returns:
      A: (N, T, H) outputs a⟨t⟩ of every step.
      state: the state after the last step (to carry into the next window).
      cache: for :func:`recurrent_backward`.
    """
    N, T, _ = xp.shape
    H = W_aa.shape[1]
    A = np.empty((N, T, H), dtype=xp.dtype)              # (N, T, H)
    caches = []
    state = state0
    for t in range(T):
        if keep is not None:
            state = _apply_keep(state, keep[:, t, None])
        state, cache = cell.step_forward(xp[:, t], state, W_aa)
        A[:, t] = state[0]
        caches.append(cache)
    return A, state, (cell, caches, keep, H, xp.dtype)


def recurrent_backward(dA, cache, dstate_T=None):
    """Backpropagation through time over one window.

    Inputs:
      dA: (N, T, H) gradient of the loss with respect to every output a⟨t⟩.
      dstate_T: gradient with respect to the final state, or None (truncated BPTT:
        nothing flows back from the next window).
    Returns:
      dxp: (N, T, G*H) gradient of the input projections (equal to dz⟨t⟩).
      dW_aa: (G*H, H)
      dstate0: gradient with respect to the initial state (zero across resets).
    """
    cell, caches, keep, H, dtype = cache
    N, T, _ = dA.shape
    GH = cell.width(H)
    dZ = np.empty((N, T, GH), dtype=dtype)              # (N, T, G*H)
    if dstate_T is None:
        dstate = tuple(np.zeros((N, H), dtype=dtype) for _ in range(cell.n_states))
    else:
        dstate = tuple(dstate_T)
    for t in range(T - 1, -1, -1):
        # a⟨t⟩ feeds both the layer above (dA) and step t+1 (dstate[0]): add them.
        dstate = (dstate[0] + dA[:, t],) + dstate[1:]
        dz, dstate = cell.step_backward(dstate, caches[t])
        dZ[:, t] = dz
        if keep is not None:
            dstate = _apply_keep(dstate, keep[:, t, None])
    dW_aa = np.zeros((GH, H), dtype=dtype)
    blocks = [cell.weight_inputs(c, H) for c in caches]
    for k, (rows, _) in enumerate(blocks[0]):
        inputs = np.stack([b[k][1] for b in blocks], axis=1)        # (N, T, H)
        dZk = dZ[:, :, rows].reshape(N * T, -1)
        dW_aa[rows] = dZk.T @ inputs.reshape(N * T, H)
    return dZ, dW_aa, dstate


def recurrent_run(cell, xp, W_aa, state0, keep=None):
    """Forward only, for scoring and evaluation: like :func:`recurrent_forward` but
    keeps no per-step caches, so memory does not grow with what backward would need."""
    N, T, _ = xp.shape
    H = W_aa.shape[1]
    A = np.empty((N, T, H), dtype=xp.dtype)
    state = state0
    for t in range(T):
        if keep is not None:
            state = _apply_keep(state, keep[:, t, None])
        state, _ = cell.step_forward(xp[:, t], state, W_aa)
        A[:, t] = state[0]
    return A, state
