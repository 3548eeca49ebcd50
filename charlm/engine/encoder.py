"""Many-to-one: a recurrent encoder reads a whole line and one ŷ comes out at the end.

The notes' third shape of recurrent network (a review in, a rating out)::

    a⟨1⟩ … a⟨T_x⟩ = RNN over x⟨1⟩ … x⟨T_x⟩          one layer, or a stack of them
    h = pool(a⟨1⟩ … a⟨T_x⟩)                          one vector per line
    ŷ = softmax(W_y h + b_y)                         (K,) one distribution per line

The pooling says which summary of the states reaches the softmax; ``modes`` is a tuple
of one or more of these, concatenated in this order:

* ``last``: the notes' final state, a→⟨T_x⟩, and a←⟨1⟩ next to it when the encoder is
  bidirectional (both directions have then read the whole line);
* ``max``: the largest value of each unit over the line's steps, max_t a⟨t⟩;
* ``mean``: the mean of each unit over the line's steps.

Lines of a batch have different lengths and are padded at the end; T_x is each
line's own length (``lengths``), so padding never reaches h: ``last`` reads step
T_x - 1 of each column, ``max`` and ``mean`` look at steps t < T_x only. A
unidirectional layer needs nothing more (the forward direction never sees padding
before a real step); the bidirectional one reverses each column within its own length
(:mod:`charlm.engine.bidirectional`).

Arrays are time-major windows as in :mod:`charlm.engine.layers`: (T, D, N), one
column per line; h is (F, N), F = (number of modes) × D.
"""

from __future__ import annotations

import numpy as np

from charlm.engine.bidirectional import (birnn_backward, birnn_forward, birnn_run,
                                         live_counts)
from charlm.engine.layers import recurrent_backward, recurrent_forward, recurrent_run, zero_state
from charlm.engine.ops import affine_backward, affine_forward

POOLS = ("last", "max", "mean")


# --- a unidirectional layer over padded lines ------------------------------------------

def rnn_forward(cell, X, lengths, params):
    """One direction of one layer: a⟨t⟩ = cell(a⟨t-1⟩, W_ax x⟨t⟩ + b_a), a⟨0⟩ = 0.

    Inputs: X (T, D, N); lengths (N,) (unused: padding comes after every real step, so
    it cannot reach one); params (W_ax, W_aa, b_a).
    Returns: A (T, H, N), cache.
    """
    W_ax, W_aa, b_a = params
    N, H = X.shape[2], W_aa.shape[1]
    xp, c_a = affine_forward(X, W_ax, b_a)                            # (T, G*H, N)
    A, _, c_r = recurrent_forward(cell, xp, W_aa, zero_state(cell, N, H, X.dtype))
    return A, (c_a, c_r)


def rnn_backward(dA, cache):
    """Returns dX (T, D, N), (dW_ax, dW_aa, db_a)."""
    c_a, c_r = cache
    dxp, dW_aa, _ = recurrent_backward(dA, c_r)
    dX, dW_ax, db_a = affine_backward(dxp, c_a)
    return dX, (dW_ax, dW_aa, db_a)


def rnn_run(cell, X, lengths, params):
    """Forward only; finished columns are skipped when sorted longest first."""
    W_ax, W_aa, b_a = params
    N, H = X.shape[2], W_aa.shape[1]
    live = live_counts(lengths, X.shape[0])
    xp, _ = affine_forward(X, W_ax, b_a, live)
    A, _ = recurrent_run(cell, xp, W_aa, zero_state(cell, N, H, X.dtype), live=live)
    return A


def layer_forward(cell, X, lengths, fw, bw=None):
    """One encoder layer, bidirectional when ``bw`` is given: (T, H or 2H, N), cache."""
    if bw is None:
        A, cache = rnn_forward(cell, X, lengths, fw)
        return A, (False, cache)
    out, cache = birnn_forward(cell, X, lengths, fw, bw)
    return out, (True, cache)


def layer_backward(dout, cache):
    """Returns dX and the gradients of each direction: [(dW_ax, dW_aa, db_a), ...]."""
    bidirectional, c = cache
    if not bidirectional:
        dX, g = rnn_backward(dout, c)
        return dX, [g]
    dX, gf, gb = birnn_backward(dout, c)
    return dX, [gf, gb]


def layer_run(cell, X, lengths, fw, bw=None):
    return rnn_run(cell, X, lengths, fw) if bw is None else birnn_run(cell, X, lengths, fw, bw)


# --- pooling over time ------------------------------------------------------------------

def pool_width(modes, D):
    """F, the width of h for states of width D."""
    return len(modes) * D


def pool_forward(A, lengths, modes, H=None):
    """h of every line from its states.

    Inputs:
      A: (T, D, N) states a⟨t⟩; padded steps t ≥ lengths[n] hold anything.
      lengths: (N,) real lengths ≥ 1.
      modes: a tuple of POOLS, in the order their parts are stacked.
      H: for a bidirectional layer (D = 2H), the width of one direction: ``last`` then
        takes a→⟨T_x⟩ from the first H rows and a←⟨1⟩ from the others. None: the
        states are one direction and ``last`` is a⟨T_x⟩.
    Returns:
      h: (F, N), F = len(modes) × D
      cache
    """
    T, D, N = A.shape
    lengths = np.asarray(lengths)
    cols = np.arange(N)
    parts, caches = [], []
    valid = np.arange(T)[:, None] < lengths[None, :]                 # (T, N)
    for mode in modes:
        if mode == "last":
            h = A[lengths - 1, :, cols].T                             # (D, N)
            if H is not None:
                h = np.concatenate((h[:H], A[0, H:, :]), axis=0)
            caches.append(None)
        elif mode == "max":
            # Padding can never win: it is -inf before the max is taken.
            masked = np.where(valid[:, None, :], A, -np.inf)          # (T, D, N)
            arg = masked.argmax(axis=0)                               # (D, N)
            h = np.take_along_axis(A, arg[None], axis=0)[0]           # (D, N)
            caches.append(arg)
        elif mode == "mean":
            w = (valid / lengths[None, :]).astype(A.dtype)            # (T, N)
            h = np.einsum("tdn,tn->dn", A, w)                         # (D, N)
            caches.append(w)
        else:
            raise ValueError(f"unknown pooling {mode!r}")
        parts.append(h)
    h = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)   # (F, N)
    return np.ascontiguousarray(h), (modes, caches, lengths, H, A.shape, A.dtype)


def pool_run(A, lengths, modes, H=None):
    """Forward only (classifying): h as :func:`pool_forward` gives it, without the
    argmax that backward would need. ``A`` may be overwritten."""
    T, D, N = A.shape
    lengths = np.asarray(lengths)
    valid = np.arange(T)[:, None] < lengths[None, :]                 # (T, N)
    parts = []
    for mode in modes:
        if mode == "last":
            h = A[lengths - 1, :, np.arange(N)].T                     # (D, N)
            parts.append(h if H is None else np.concatenate((h[:H], A[0, H:, :]), axis=0))
        elif mode == "mean":
            parts.append(np.einsum("tdn,tn->dn", A, (valid / lengths[None, :]).astype(A.dtype)))
    if "max" in modes:
        A[~np.broadcast_to(valid[:, None, :], A.shape)] = -np.inf
        parts.insert(list(modes).index("max"), A.max(axis=0))
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


def pool_backward(dh, cache):
    """Returns dA (T, D, N): zero at padded steps."""
    modes, caches, lengths, H, shape, dtype = cache
    T, D, N = shape
    cols = np.arange(N)
    dA = np.zeros(shape, dtype=dtype)                                 # (T, D, N)
    for k, (mode, c) in enumerate(zip(modes, caches)):
        g = dh[k * D:(k + 1) * D]                                     # (D, N)
        if mode == "last":
            if H is None:
                dA[lengths - 1, :, cols] += g.T
            else:
                dA[lengths - 1, :H, cols] += g[:H].T
                dA[0, H:, :] += g[H:]
        elif mode == "max":
            # Each (unit, line) has exactly one argmax step: a scatter, no collisions.
            picked = np.take_along_axis(dA, c[None], axis=0)
            np.put_along_axis(dA, c[None], picked + g[None], axis=0)
        else:                                                         # mean
            dA += g[None, :, :] * c[:, None, :]
    return dA


# --- the many-to-one head -----------------------------------------------------------------

def head_forward(h, W_y, b_y):
    """Scores z = W_y h + b_y of every line: (K, N), cache. ŷ = softmax(z) over K."""
    z, cache = affine_forward(h[None], W_y, b_y)                      # (1, K, N)
    return z[0], cache


def head_backward(dz, cache):
    """Returns dh (F, N), dW_y (K, F), db_y (K,)."""
    dh, dW_y, db_y = affine_backward(dz[None], cache)
    return dh[0], dW_y, db_y
