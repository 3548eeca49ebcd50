"""Bidirectional recurrent layers over padded batches, and character features of words.

A bidirectional RNN (notes, "Bidirectional RNN") runs one cell left to right and
another right to left over the same sentence and puts their outputs side by side::

    a→⟨t⟩ = cell→(a→⟨t-1⟩, W_ax→ x⟨t⟩ + b_a→)          t = 1 .. T_x
    a←⟨t⟩ = cell←(a←⟨t+1⟩, W_ax← x⟨t⟩ + b_a←)          t = T_x .. 1
    out⟨t⟩ = [a→⟨t⟩; a←⟨t⟩]                            (2H, N)

A batch holds sentences of different lengths padded at the end. The forward
direction never sees padding before a real position. The backward direction must
start at each sentence's own last word, not at the end of the padded window, so each
column is reversed only up to its real length (``reverse_index``); after the reversal
the padding is again at the end, where it cannot reach a real position. Outputs at
padded positions are meaningless and must be masked by the caller.

Character features (notes: a BRNN is a many-to-many network; here it is used as a
many-to-one one, per word): each distinct word of a batch is a sequence of character
ids; a small character BiRNN reads it and the word's feature is its last forward
output next to its first backward output, [a→⟨len⟩; a←⟨1⟩] (Plank et al., 2016;
Lample et al., 2016). Both ends have then read the whole word, so prefixes and
suffixes (capitals, "-ly", "-ing", digits) reach the tagger even for words it never
saw.

Arrays are as in :mod:`charlm.engine.layers`: a window is (T, D, N), one column per
sequence; ``lengths`` is (N,) integers ≥ 1. Parameters of one direction are a tuple
``(W_ax, W_aa, b_a)`` with shapes (G*H, D), (G*H, H), (G*H,).
"""

from __future__ import annotations

import numpy as np

from charlm.engine.layers import recurrent_backward, recurrent_forward, recurrent_run, zero_state
from charlm.engine.ops import (affine_backward, affine_forward, lookup_backward,
                               lookup_forward)


def reverse_index(lengths, T):
    """(T, N) time indices that reverse each column within its real length:
    index[t, n] = lengths[n] - 1 - t for t < lengths[n], and t itself in the padding.
    The map is its own inverse, so the same index undoes the reversal."""
    lengths = np.asarray(lengths)
    t = np.arange(T)[:, None]                                         # (T, 1)
    rev = lengths[None, :] - 1 - t                                    # (T, N)
    return np.where(t < lengths[None, :], rev, t)


def reverse_time(X, index):
    """X (T, D, N) with each column's steps reordered by ``index`` (T, N):
    out[t, :, n] = X[index[t, n], :, n].

    Gathered as whole rows of the (T·N, D) layout, one row per (t, n), which is 2-4
    times faster than ``np.take_along_axis`` with the index broadcast over D."""
    T, D, N = X.shape
    rows = (index * N + np.arange(N)).reshape(-1)                      # into (T*N) rows
    out = X.transpose(0, 2, 1).reshape(T * N, D)[rows]                 # (T*N, D)
    return np.ascontiguousarray(out.reshape(T, N, D).transpose(0, 2, 1))


def live_counts(lengths, T):
    """Columns still going at each step, when ``lengths`` is non-increasing (longest
    first); None otherwise. Lets forward-only runs skip finished columns."""
    lengths = np.asarray(lengths)
    if len(lengths) > 1 and np.any(np.diff(lengths) > 0):
        return None
    return [int(np.count_nonzero(lengths > t)) for t in range(T)]


# --- the bidirectional layer ---------------------------------------------------------

def birnn_forward(cell, X, lengths, fw, bw):
    """Both directions of one layer over a padded window.

    Inputs:
      cell: a :class:`~charlm.engine.cells.Cell`.
      X: (T, D, N) inputs x⟨t⟩.
      lengths: (N,) real lengths; positions t ≥ lengths[n] are padding.
      fw, bw: (W_ax, W_aa, b_a) of the forward and backward direction.
    Returns:
      out: (T, 2H, N) [a→⟨t⟩; a←⟨t⟩]
      cache
    """
    T, _, N = X.shape
    H = fw[1].shape[1]
    index = reverse_index(lengths, T)
    xp_f, c_af = affine_forward(X, fw[0], fw[2])                      # (T, G*H, N)
    A_f, _, c_rf = recurrent_forward(cell, xp_f, fw[1], zero_state(cell, N, H, X.dtype))
    X_r = reverse_time(X, index)                                      # (T, D, N) reversed
    xp_b, c_ab = affine_forward(X_r, bw[0], bw[2])
    A_br, _, c_rb = recurrent_forward(cell, xp_b, bw[1], zero_state(cell, N, H, X.dtype))
    out = np.concatenate((A_f, reverse_time(A_br, index)), axis=1)    # (T, 2H, N)
    return out, (index, H, c_af, c_rf, c_ab, c_rb)


def birnn_backward(dout, cache):
    """Returns dX (T, D, N), (dW_ax, dW_aa, db_a) forward, (dW_ax, dW_aa, db_a)
    backward."""
    index, H, c_af, c_rf, c_ab, c_rb = cache
    dxp_f, dW_aa_f, _ = recurrent_backward(dout[:, :H], c_rf)
    dX, dW_ax_f, db_f = affine_backward(dxp_f, c_af)
    dA_br = reverse_time(dout[:, H:], index)                          # into reversed time
    dxp_b, dW_aa_b, _ = recurrent_backward(dA_br, c_rb)
    dX_r, dW_ax_b, db_b = affine_backward(dxp_b, c_ab)
    dX += reverse_time(dX_r, index)                                   # the reversal undone
    return dX, (dW_ax_f, dW_aa_f, db_f), (dW_ax_b, dW_aa_b, db_b)


def birnn_run(cell, X, lengths, fw, bw):
    """Forward only (tagging): like :func:`birnn_forward` without caches; when the
    columns are sorted longest first, finished columns are not computed."""
    T, _, N = X.shape
    H = fw[1].shape[1]
    index = reverse_index(lengths, T)
    live = live_counts(lengths, T)
    out = np.empty((T, 2 * H, N), dtype=X.dtype)                      # (T, 2H, N)
    xp_f, _ = affine_forward(X, fw[0], fw[2], live)
    out[:, :H], _ = recurrent_run(cell, xp_f, fw[1], zero_state(cell, N, H, X.dtype),
                                  live=live)
    xp_b, _ = affine_forward(reverse_time(X, index), bw[0], bw[2], live)
    A_br, _ = recurrent_run(cell, xp_b, bw[1], zero_state(cell, N, H, X.dtype), live=live)
    out[:, H:] = reverse_time(A_br, index)
    return out


# --- character features of words -----------------------------------------------------

def _ends(out, lengths, H):
    """[a→⟨len⟩; a←⟨1⟩] of every column: (2H, W)."""
    cols = np.arange(out.shape[2])
    return np.concatenate((out[lengths - 1, :H, cols].T, out[0, H:, :]), axis=0)


def char_features_forward(cell, chars, lengths, W_ce, fw, bw):
    """Features of W words from their characters.

    Inputs:
      chars: (Tc, W) character ids, padded after each word's end (any id).
      lengths: (W,) characters per word, ≥ 1.
      W_ce: (Ec, C) character embedding (column = one character).
      fw, bw: (W_ax, W_aa, b_a) of the two directions, W_ax (G*Hc, Ec).
    Returns:
      F: (2Hc, W), one column [a→⟨len⟩; a←⟨1⟩] per word
      cache
    """
    lengths = np.asarray(lengths)
    e, c_e = lookup_forward(W_ce, chars)                              # (Tc, Ec, W)
    out, c_bi = birnn_forward(cell, e, lengths, fw, bw)               # (Tc, 2Hc, W)
    H = fw[1].shape[1]
    return _ends(out, lengths, H), (c_e, c_bi, lengths, H, out.shape)


def char_features_backward(dF, cache):
    """Returns dW_ce (Ec, C), forward (dW_ax, dW_aa, db_a), backward (...)."""
    c_e, c_bi, lengths, H, shape = cache
    dout = np.zeros(shape, dtype=dF.dtype)                            # (Tc, 2Hc, W)
    cols = np.arange(shape[2])
    dout[lengths - 1, :H, cols] = dF[:H].T
    dout[0, H:, :] += dF[H:]
    de, g_f, g_b = birnn_backward(dout, c_bi)
    return lookup_backward(de, c_e), g_f, g_b


def char_features_run(cell, chars, lengths, W_ce, fw, bw):
    """Forward only; fastest with words sorted longest first."""
    lengths = np.asarray(lengths)
    e, _ = lookup_forward(W_ce, chars)                                # (Tc, Ec, W)
    out = birnn_run(cell, e, lengths, fw, bw)
    return _ends(out, lengths, fw[1].shape[1])


# --- initial weights --------------------------------------------------------------------

def init_params(shapes, cell, hidden_of, rng, embeddings=("W_ex",), dtype=np.float32):
    """Initial parameters of a model of (bi)directional layers and a softmax on top.

    ``shapes``: {name: shape} in a fixed order (the draw follows it); ``hidden_of(name)``:
    H of the layer a parameter belongs to. Recurrent and output weights are uniform in
    ±1/√H (PyTorch's choice), the ``embeddings`` normal with standard deviation 1/√E,
    biases (and CRF transition scores) zero but the LSTM forget gate at 1 (the cell starts by remembering): the
    recipe the bundled tagger was trained and measured with. The language model's
    random biases (Cell.bias_init with an rng) were tuned on long character windows,
    not on sentences of ~20 words. Column 0 of every embedding (padding) is zero."""
    params = {}
    for name, shape in shapes.items():
        H = hidden_of(name)
        if name in embeddings:
            w = rng.standard_normal(shape) / np.sqrt(shape[0])
        elif name.endswith(".b_a"):
            w = cell.bias_init(H, dtype)
            if "f" in cell.gates:
                f = cell.gates.index("f")
                w[f * H:(f + 1) * H] = 1.0
        elif name in ("b_y", "b_y2") or name.startswith("crf."):   # CRF transitions too
            w = np.zeros(shape)
        else:
            s = 1.0 / np.sqrt(H)
            w = rng.uniform(-s, s, size=shape)
        params[name] = np.ascontiguousarray(w, dtype=dtype)
    for name in embeddings:
        params[name][:, 0] = 0.0
    return params
