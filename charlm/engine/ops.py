"""Stateless primitives: each forward next to its backward.

Dimension letters used throughout charlm: N batch, T time, V vocabulary, E embedding,
H hidden, G number of fused gates, D an input width (V, E or H), K tags.

Vectors are columns, as in the notes: a⟨t⟩ is (H, N), one column per sequence, and
a weight matrix is stored (out, in), so ``W_ax`` (G*H, D) multiplies x⟨t⟩ (D, N)
from the left. A window of T steps is a (T, D, N) array: every step's (D, N) slice
is contiguous, which keeps the per-step gate arithmetic fast (the gates of a fused
pre-activation are then contiguous row blocks). Token ids come as (T, N).

Forward functions return ``(out, cache)``; backward functions take ``(dout, cache)``
and return the gradients in the order of the forward's inputs.

What is here:

* ``sigmoid``: σ(z) = 1 / (1 + e^(-z)), computed so it cannot overflow.
* ``lookup_forward/backward``: W x for a one-hot x, done as a column lookup.
* ``affine_forward/backward``: y = W x + b for every step of a window at once.
* ``softmax_cross_entropy_forward/backward``: L = -Σ_t log ŷ⟨t⟩[y⟨t⟩] with a mask,
  through a max-shifted log-softmax over the vocabulary axis.
* ``dropout_forward/backward``: inverted dropout.
* ``clip_by_global_norm``: gradient clipping.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z, out=None):
    """σ(z) elementwise, as ½·tanh(z/2) + ½.

    The textbook 1 / (1 + exp(-z)) overflows exp for z < -88 in float32; tanh
    saturates instead, so this form needs no clipping and no warnings.
    """
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


# --- one-hot products as lookups -------------------------------------------------

# Up to this vocabulary size the lookup's gradient is computed as a dense product
# with the one-hot inputs; above it, by scattered adds (cost independent of V).
_ONE_HOT_MAX_V = 512


def lookup_forward(W, ids, keep=None):
    """W x⟨t⟩ for one-hot x⟨t⟩ = e_{ids[t, n]}: column ids[t, n] of W.

    Inputs:
      W: (D, V) weights in the notes' orientation.
      ids: (T, N) integer token ids.
      keep: optional (T, N) 0/1 array; where it is 0 the input is the zero vector
        (x⟨1⟩ = 0 at the start of a line, as in the notes), so the output column is 0.
    Returns:
      out: (T, D, N)
      cache: (ids, keep, W.shape)
    """
    # Gathering along W's rows gives (D, T, N) with every row of N contiguous; the
    # (T, D, N) view of it serves the time loop without a transposing copy.
    out = np.take(W, ids, axis=1).transpose(1, 0, 2)                # (T, D, N)
    if keep is not None:
        out *= keep[:, None, :]
    return out, (ids, keep, W.shape)


def lookup_backward(dout, cache):
    """Gradient of :func:`lookup_forward` with respect to W, shape (D, V).

    Several (t, n) can read the same column, so their gradients must be summed;
    ``np.add.at`` accumulates repeated indices, where ``dW[:, ids] += dout`` would
    keep only the last write.
    """
    ids, keep, shape = cache
    D, V = shape
    T, _, N = dout.shape
    flat = ids.reshape(-1)                                           # (T*N,)
    # (D, T*N), the columns in the order of ``flat``: free when dout is the (T, D, N)
    # view of a (D, T, N) array, as the recurrent layers return their gradients.
    dcolsT = dout.transpose(1, 0, 2).reshape(D, T * N)
    weight = None if keep is None else keep.reshape(-1)             # 0: x⟨1⟩ = 0, unused
    if V <= _ONE_HOT_MAX_V:
        # Small vocabularies: Σ_t dout⟨t⟩ x⟨t⟩ᵀ as the product with the one-hot
        # matrix itself, which BLAS does ~10x faster than scattered adds.
        onehot = np.zeros((len(flat), V), dtype=dout.dtype)
        onehot[np.arange(len(flat)), flat] = 1.0 if weight is None else weight
        return dcolsT @ onehot                                       # (D, V)
    dcols = dcolsT.T
    if weight is not None:
        used = weight != 0
        dcols, flat = dcols[used], flat[used]
    dWT = np.zeros((V, D), dtype=dout.dtype)
    np.add.at(dWT, flat, dcols)
    return np.ascontiguousarray(dWT.T)                               # (D, V)


# --- affine maps over a whole window -------------------------------------------------

def affine_forward(X, W, b=None, live=None):
    """out⟨t⟩ = W X⟨t⟩ + b for every step t of the window.

    Inputs: X (T, D, N); W (M, D); b (M,) or None; live: optional counts per step
    (forward only): at step t only the first live[t] columns are computed, the rest
    of the output is zero.
    Returns: out (T, M, N), cache.
    """
    if live is None:
        out = W @ X                                                  # (T, M, N)
    else:
        out = np.zeros((X.shape[0], W.shape[0], X.shape[2]), dtype=X.dtype)
        for t, n in enumerate(live):
            np.matmul(W, X[t, :, :n], out=out[t, :, :n])
    if b is not None:
        out += b[:, None]
    return out, (X, W, b is not None)


def affine_backward(dout, cache):
    """Returns dX (T, D, N), dW (M, D), db (M,) or None.

    dW = Σ_t dout⟨t⟩ X⟨t⟩ᵀ: the shared weights collect every step's gradient in one
    contraction over time and batch."""
    X, W, has_b = cache
    dX = W.T @ dout                                                  # (T, D, N)
    dW = np.tensordot(dout, X, axes=([0, 2], [0, 2]))                # (M, D)
    db = dout.sum(axis=(0, 2)) if has_b else None
    return dX, dW, db


# --- softmax and the cross-entropy loss ----------------------------------------------

def log_softmax(logits, axis=1):
    """log ŷ = z - log Σ exp z along ``axis`` (the vocabulary), shifted by the max
    first so that exp never overflows (the shift cancels out exactly)."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def softmax_cross_entropy_forward(logits, targets, mask=None):
    """Mean over unmasked positions of L⟨t⟩ = -log ŷ⟨t⟩[y⟨t⟩], ŷ⟨t⟩ = softmax(logits⟨t⟩).

    Inputs:
      logits: (T, V, N), one column of V scores per sequence and step
      targets: (T, N) integer ids y⟨t⟩
      mask: (T, N) 0/1, or None for all ones. Masked positions (padding) add
        nothing to the loss and receive zero gradient.
    Returns:
      loss: float, nats per unmasked token
      cache
    """
    T, V, N = logits.shape
    logp = log_softmax(logits, axis=1)                                # (T, V, N)
    picked = np.take_along_axis(logp, targets[:, None, :], axis=1)[:, 0, :]   # (T, N)
    if mask is None:
        count = T * N
        total = -picked.sum(dtype=np.float64)
    else:
        count = float(mask.sum())
        total = -(picked * mask).sum(dtype=np.float64)
    count = max(count, 1.0)
    return float(total / count), (logp, targets, mask, count)


def softmax_cross_entropy_backward(dloss, cache):
    """dL/dlogits = (ŷ - onehot(y)) · mask / count, times the upstream dloss."""
    logp, targets, mask, count = cache
    dlogits = np.exp(logp)                                            # ŷ, (T, V, N)
    idx = targets[:, None, :]
    np.put_along_axis(dlogits, idx, np.take_along_axis(dlogits, idx, axis=1) - 1.0, axis=1)
    scale = dloss / count
    if mask is None:
        dlogits *= scale
    else:
        # In the gradient's dtype: a float32 mask times 1/count would round the scale
        # to float32 in a float64 model.
        dlogits *= (mask.astype(dlogits.dtype, copy=False) * scale)[:, None, :]
    return dlogits


# --- dropout -----------------------------------------------------------------------

def dropout_forward(X, p, rng):
    """Inverted dropout: zero each unit with probability p and scale the rest by
    1/(1-p), so nothing needs rescaling at inference time (p = 0 is the identity)."""
    if p <= 0.0:
        return X, None
    keep = (rng.random(X.shape, dtype=np.float32) >= p).astype(X.dtype)
    keep *= 1.0 / (1.0 - p)
    return X * keep, keep


def dropout_backward(dout, cache):
    return dout if cache is None else dout * cache


# --- gradient clipping ---------------------------------------------------------------

def global_norm(grads):
    """‖g‖ over every array of a {name: array} dict, accumulated in float64."""
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


def clip_by_global_norm(grads, max_norm, norm=None):
    """Scale all gradients by max_norm/‖g‖ when ‖g‖ > max_norm (in place).

    Returns (norm before clipping, whether it clipped). Clipping by the global norm
    keeps the direction of the update and only shortens it, which tames exploding
    gradients without favouring any one weight. ``norm``: ‖g‖ when it is already
    known (a data-parallel rank holds one block of g; the ranks sum their squares).
    """
    norm = global_norm(grads) if norm is None else norm
    if max_norm and max_norm > 0 and norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= scale
        return norm, True
    return norm, False
