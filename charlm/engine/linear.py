"""A linear softmax over sparse features, and its fit: the classifier's n-gram part.

A line is a sparse vector g (M,) of feature weights (for the classifier, the tf-idf
weights of its n-grams); K scores are z = W_g g + b_g with W_g (K, M), as every
weight matrix here is stored (out, in). N lines are the rows of a :class:`SparseRows`
matrix (compressed rows: the nonzero entries of row n are ``values[indptr[n]:
indptr[n+1]]`` in the columns ``indices[...]``), so a product costs the number of
nonzero entries times K, whatever M is.

* ``sparse_affine_forward/backward``: z = W_g g + b_g for every row, and its gradients.
* ``fit_softmax``: W_g, b_g that minimise the mean cross-entropy of softmax(z) plus
  an L2 penalty ½ λ ‖W_g‖², by full-batch Adam (the objective is convex: any start
  leads to the same minimum, and a fixed number of steps gives the same result every
  time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlm.engine.ops import log_softmax


@dataclass
class SparseRows:
    """N rows of width M in compressed-row form: indptr (N+1,), indices (nnz,) column of
    each entry, values (nnz,)."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    width: int

    def __len__(self):
        return len(self.indptr) - 1

    @classmethod
    def from_rows(cls, rows, width, dtype=np.float64):
        """From a list of (columns, values) pairs, one per row."""
        lengths = np.array([len(c) for c, _ in rows], dtype=np.int64)
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        cols = [np.asarray(c, dtype=np.int64) for c, _ in rows]
        vals = [np.asarray(v, dtype=dtype) for _, v in rows]
        indices = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        values = np.concatenate(vals) if vals else np.zeros(0, dtype=dtype)
        return cls(indptr, indices, values, width)

    def take(self, rows):
        """The rows ``rows`` (an index array or slice), in that order."""
        rows = np.arange(len(self))[rows]
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        pick = (np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1]))
        return SparseRows(indptr, self.indices[pick], self.values[pick], self.width)

    def row_of_entry(self):
        """(nnz,) the row of every entry."""
        return np.repeat(np.arange(len(self)), np.diff(self.indptr))

    def dense(self):
        """(N, M) as a dense array (tests and small cases only)."""
        out = np.zeros((len(self), self.width), dtype=self.values.dtype)
        np.add.at(out, (self.row_of_entry(), self.indices), self.values)
        return out


def _gather_columns(A, idx, out):
    """out[k] = A[k, idx] for every row k: row by row, several times faster than
    ``np.take(A, idx, axis=1)`` for a few long rows."""
    for k in range(A.shape[0]):
        np.take(A[k], idx, out=out[k])
    return out


def _segment_sums(P, starts, n_segments, present):
    """Sums over axis 1 of P (K, nnz) in segments beginning at ``starts`` (of the
    ``present`` segments, those with entries); absent segments are 0."""
    out = np.zeros((P.shape[0], n_segments), dtype=P.dtype)
    if len(starts):
        out[:, present] = np.add.reduceat(P, starts, axis=1)
    return out


def sparse_affine_forward(W, b, X):
    """z = W g + b for every row g of X.

    Inputs: W (K, M), b (K,), X a :class:`SparseRows` of N rows of width M.
    Returns: z (K, N), cache.
    """
    P = _gather_columns(W, X.indices, np.empty((W.shape[0], len(X.indices)), W.dtype))
    P *= X.values.astype(W.dtype, copy=False)                           # (K, nnz)
    nonempty = np.diff(X.indptr) > 0
    z = _segment_sums(P, X.indptr[:-1][nonempty], len(X), nonempty)
    z += b[:, None]
    return z, (W.shape, X)


def sparse_affine_backward(dz, cache):
    """Gradients of sparse_affine_forward: (dW (K, M), db (K,)); none for X."""
    (_, M), X = cache
    rows, values, starts, present = _by_column(X)
    P = dz[:, rows] * values.astype(dz.dtype, copy=False)
    present_mask = np.zeros(M, dtype=bool)
    present_mask[present] = True
    dW = _segment_sums(P, starts, M, present_mask)
    return dW, dz.sum(axis=1)


def _by_column(X):
    """The entries of X sorted by column: (their rows, their values, where each
    column's run starts, the columns that have entries); kept on X after the first
    call (a fit asks for it at every step)."""
    if getattr(X, "_columns", None) is None:
        order = np.argsort(X.indices, kind="stable")
        cols = X.indices[order]
        starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]]) if len(cols) else cols
        X._columns = (X.row_of_entry()[order], X.values[order], starts, cols[starts])
    return X._columns


def softmax_l2_loss(W, b, X, y, l2, buffer=None):
    """Mean cross-entropy of softmax(W g + b) over the rows of X with labels y (N,),
    plus ½ l2 ‖W‖²: (loss, dW, db). ``buffer``: a (K, nnz) float64 array to work in
    (a fit calls this at every step; fresh arrays of that size cost more in page
    faults than the products themselves)."""
    K, n = W.shape[0], len(y)
    P = np.empty((K, len(X.indices))) if buffer is None else buffer
    rows, values, starts, present = _by_column(X)
    # z = W g + b (sparse_affine_forward, in the buffer)
    _gather_columns(W, X.indices, P)
    P *= X.values
    nonempty = np.diff(X.indptr) > 0
    z = _segment_sums(P, X.indptr[:-1][nonempty], n, nonempty)
    z += b[:, None]
    logp = log_softmax(z, axis=0)                                          # (K, N)
    cols = np.arange(n)
    loss = -logp[y, cols].mean() + 0.5 * l2 * float((W * W).sum())
    dz = np.exp(logp)
    dz[y, cols] -= 1.0
    dz /= n
    # dW = dz Xᵀ (sparse_affine_backward, in the buffer)
    _gather_columns(dz, rows, P)
    P *= values
    mask = np.zeros(W.shape[1], dtype=bool)
    mask[present] = True
    dW = _segment_sums(P, starts, W.shape[1], mask)
    dW += l2 * W
    return loss, dW, dz.sum(axis=1)


def fit_softmax(X, y, n_classes, l2, steps=150, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8):
    """(W (K, M), b (K,), losses) minimising :func:`softmax_l2_loss` from zero by
    ``steps`` of full-batch Adam, in float64. Deterministic: the same data give the
    same weights."""
    X = SparseRows(X.indptr, X.indices, X.values.astype(np.float64), X.width)
    y = np.asarray(y, dtype=np.int64)
    W = np.zeros((n_classes, X.width))
    b = np.zeros(n_classes)
    moments = [(np.zeros_like(W), np.zeros_like(W)), (np.zeros_like(b), np.zeros_like(b))]
    buffer = np.empty((n_classes, len(X.indices)))
    losses = []
    for t in range(1, steps + 1):
        loss, dW, db = softmax_l2_loss(W, b, X, y, l2, buffer)
        losses.append(loss)
        for p, g, (m, v) in ((W, dW, moments[0]), (b, db, moments[1])):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            p -= lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return W, b, losses
