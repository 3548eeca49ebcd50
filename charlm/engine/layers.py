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

from charlm.engine.ops import affine_forward


def zero_state(cell, N, H, dtype):
    """a⟨0⟩ = 0 (and c⟨0⟩ = 0 for the LSTM): (H, N) columns of zeros."""
    return tuple(np.zeros((H, N), dtype=dtype) for _ in range(cell.n_states))


def _apply_keep(state, keep_t):
    return tuple(s * keep_t for s in state)


def _resets(keep, T):
    """Per step: does any row start afresh there? Most windows have no reset, and
    multiplying the state by ones would cost a pass over it every step."""
    if keep is None:
        return [False] * T
    return (keep == 0).any(axis=1).tolist()


def recurrent_forward(cell, xp, W_aa, state0, keep=None):
    """Run ``cell`` over a window.

    Inputs:
      xp: (T, G*H, N) input projections W_ax x⟨t⟩ + b_a for every step.
      W_aa: (G*H, H) fused recurrent weights.
      state0: tuple of (H, N) arrays, the state before the first step.
      keep: optional (T, N) 0/1; 0 resets the state before that step.
    Returns:
      A: (T, H, N) outputs a⟨t⟩ of every step.
      state: the state after the last step (to carry into the next window).
      cache: for :func:`recurrent_backward`.
    """
    T, _, N = xp.shape
    H = W_aa.shape[1]
    A = np.empty((T, H, N), dtype=xp.dtype)              # (T, H, N)
    resets = _resets(keep, T)
    caches = []
    state = state0
    for t in range(T):
        if resets[t]:
            state = _apply_keep(state, keep[t])
        state, cache = cell.step_forward(xp[t], state, W_aa)
        A[t] = state[0]
        caches.append(cache)
    return A, state, (cell, caches, keep, H, xp.dtype)


def recurrent_backward(dA, cache, dstate_T=None):
    """Backpropagation through time over one window.

    Inputs:
      dA: (T, H, N) gradient of the loss with respect to every output a⟨t⟩.
      dstate_T: gradient with respect to the final state, or None (truncated BPTT:
        nothing flows back from the next window).
    Returns:
      dxp: (T, G*H, N) gradient of the input projections (equal to dz⟨t⟩).
      dW_aa: (G*H, H)
      dstate0: gradient with respect to the initial state (zero across resets).
    """
    cell, caches, keep, H, dtype = cache
    T, _, N = dA.shape
    GH = cell.width(H)
    dZ = np.empty((T, GH, N), dtype=dtype)              # (T, G*H, N)
    if dstate_T is None:
        dstate = tuple(np.zeros((H, N), dtype=dtype) for _ in range(cell.n_states))
    else:
        dstate = tuple(dstate_T)
    resets = _resets(keep, T)
    for t in range(T - 1, -1, -1):
        # a⟨t⟩ feeds both the layer above (dA) and step t+1 (dstate[0]): add them.
        dstate = (dstate[0] + dA[t],) + dstate[1:]
        # The cell writes dz⟨t⟩ straight into its row of dZ.
        _, dstate = cell.step_backward(dstate, caches[t], out=dZ[t])
        if resets[t]:
            dstate = _apply_keep(dstate, keep[t])
    dW_aa = np.zeros((GH, H), dtype=dtype)
    blocks = [cell.weight_inputs(c, H) for c in caches]
    for k, (rows, _) in enumerate(blocks[0]):
        inputs = np.stack([b[k][1] for b in blocks])                 # (T, H, N)
        dW_aa[rows] = np.tensordot(dZ[:, rows], inputs, axes=([0, 2], [0, 2]))
    return dZ, dW_aa, dstate


def recurrent_run(cell, xp, W_aa, state0, keep=None, live=None):
    """Forward only, for scoring and evaluation: like :func:`recurrent_forward` but
    keeps no per-step caches, so memory does not grow with what backward would need.

    ``live``: optional non-increasing counts, one per step: only the first live[t]
    columns are still going at step t (sequences sorted longest first), so the others
    are not computed. Their outputs are left at zero and the returned state has
    live[-1] columns.
    """
    T, _, N = xp.shape
    H = W_aa.shape[1]
    A = (np.empty if live is None else np.zeros)((T, H, N), dtype=xp.dtype)
    state = state0
    for t in range(T):
        n = N if live is None else live[t]
        if n < state[0].shape[1]:
            state = tuple(s[:, :n] for s in state)
        if keep is not None and not keep[t, :n].all():
            state = _apply_keep(state, keep[t, :n])
        state, _ = cell.step_forward(xp[t, :, :n], state, W_aa)
        A[t, :, :n] = state[0]
    return A, state


class OneHotInputs:
    """Layer 1's W_ax x⟨t⟩ + b_a for one-hot inputs, gathered one step at a time and
    only for the columns asked for: indexing ``[t, :, :n]`` returns (G*H, n), like
    slicing a precomputed (T, G*H, N) array, without building the whole padded
    window first (forward only). ``table``: (G*H, V), the columns of W_ax (or of
    W_ax W_ex with an embedding); ``ids``: (T, N); ``keep``: (T, N), 0 where a line
    starts (x⟨1⟩ = 0 there)."""

    def __init__(self, table, b_a, ids, keep):
        self.W, self.b, self.ids, self.keep = table, b_a[:, None], ids, keep
        T, N = ids.shape
        self.shape = (T, table.shape[0], N)
        self.dtype = table.dtype

    def __getitem__(self, key):
        t, _, cols = key
        out = np.take(self.W, self.ids[t, cols], axis=1)                # (G*H, n)
        keep = self.keep[t, cols]
        if not keep.all():
            out *= keep                       # x⟨1⟩ = 0 where a line starts
        out += self.b
        return out


def stacked_shapes(cell, hidden, layers, vocab_size, embed=0):
    """{name: shape} of a stacked one-directional network read by token id, the
    language model's input side: ``W_ex`` (E, V) when ``embed`` > 0, then for each
    layer l ``layer{l}.W_aa`` (G*H, H), ``layer{l}.W_ax`` (G*H, D) and ``layer{l}.b_a``
    (G*H,), with D = E (or V, one-hot) for layer 1 and H above, in that order."""
    GH = cell.width(hidden)
    shapes = {}
    if embed:
        shapes["W_ex"] = (embed, vocab_size)
    for layer in range(1, layers + 1):
        shapes[f"layer{layer}.W_aa"] = (GH, hidden)
        shapes[f"layer{layer}.W_ax"] = (GH, (embed or vocab_size) if layer == 1 else hidden)
        shapes[f"layer{layer}.b_a"] = (GH,)
    return shapes


def stacked_run(cell, params, xp, layers, state, keep=None, live=None):
    """Forward only through stacked one-directional layers (the language model's):
    a⟨t⟩[1] from ``xp`` = W_ax[1] x⟨t⟩ + b_a[1] ((T, G*H, N) or :class:`OneHotInputs`),
    a⟨t⟩[l] = cell(a⟨t-1⟩[l], W_ax[l] a⟨t⟩[l-1] + b_a[l]) above, with the weights
    ``params["layer{l}.W_aa" | ".W_ax" | ".b_a"]``. ``state``: one state tuple per layer;
    ``keep``, ``live``: as :func:`recurrent_run`. Returns the top layer's a⟨t⟩
    (T, H, N) and the final state of each layer."""
    h, new_state = None, []
    for layer in range(1, layers + 1):
        if layer > 1:
            xp, _ = affine_forward(h, params[f"layer{layer}.W_ax"], params[f"layer{layer}.b_a"],
                                   live)
        h, st = recurrent_run(cell, xp, params[f"layer{layer}.W_aa"], state[layer - 1], keep,
                              live)
        new_state.append(st)
    return h, new_state
