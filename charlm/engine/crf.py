"""A linear-chain conditional random field over per-token scores: the log partition
function by the forward algorithm, its gradient by forward-backward, Viterbi decoding
and per-token marginals. All in log space, for N sentences of a batch at once.

A sentence of length L with emission scores s⟨t⟩ (K,) — the tagger's W_y [a→; a←] + b_y
— and tags y⟨1⟩ … y⟨L⟩ gets the path score

    score(y) = start[y⟨1⟩] + Σ_t s⟨t⟩[y⟨t⟩] + Σ_{t≥2} trans[y⟨t-1⟩, y⟨t⟩] + end[y⟨L⟩]

and p(y | x) = exp(score(y)) / Z, Z = Σ over all K^L paths of exp(score). The forward
algorithm gives log Z in O(L K²):

    α⟨1⟩[j] = start[j] + s⟨1⟩[j]
    α⟨t⟩[j] = s⟨t⟩[j] + logsumexp_i (α⟨t-1⟩[i] + trans[i, j])
    log Z   = logsumexp_j (α⟨L⟩[j] + end[j])

and the backward recursion β⟨L⟩[j] = end[j], β⟨t⟩[i] = logsumexp_j (trans[i, j] +
s⟨t+1⟩[j] + β⟨t+1⟩[j]) gives the marginals p(y⟨t⟩ = j) = exp(α⟨t⟩[j] + β⟨t⟩[j] − log Z)
and p(y⟨t-1⟩ = i, y⟨t⟩ = j) = exp(α⟨t-1⟩[i] + trans[i, j] + s⟨t⟩[j] + β⟨t⟩[j] − log Z),
which are the gradient of log Z with respect to s and trans. The loss is
Σ_n (log Z_n − score_n(gold)), so its gradient is "expected counts − gold counts".

Forbidden transitions are given as scores of :data:`NEG` (see :func:`constrain`): a
large finite negative rather than −inf, so that no ``inf − inf`` can ever appear, yet
exp(NEG − anything real) is exactly 0 in float32 and float64.

Layout: scores (N, T, K) batch-major; ``lengths`` (N,) real lengths ≥ 1; positions at
or after a row's length are padding and change nothing.
"""

from __future__ import annotations

import numpy as np

NEG = -1e30      # the score of a forbidden transition: exp(NEG - x) == 0.0 exactly


def _logsumexp(a, axis):
    """log Σ exp(a) along ``axis`` (dropped), shifted by the max so nothing overflows."""
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def _live(lengths, T):
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]             # (N, T)


def constrain(trans, start, end, allowed, allowed_start, allowed_end):
    """The scores with forbidden entries (False in the bool masks) set to NEG."""
    return (np.where(allowed, trans, NEG).astype(trans.dtype, copy=False),
            np.where(allowed_start, start, NEG).astype(start.dtype, copy=False),
            np.where(allowed_end, end, NEG).astype(end.dtype, copy=False))


def crf_alphas(scores, lengths, trans, start):
    """α (N, T, K) by the forward algorithm; past a row's length α stays at its last
    real value, so α[:, -1] is every row's α⟨L⟩."""
    N, T, K = scores.shape
    live = _live(lengths, T)
    alpha = np.empty_like(scores)
    alpha[:, 0] = start + scores[:, 0]
    for t in range(1, T):
        new = _logsumexp(alpha[:, t - 1, :, None] + trans[None], axis=1) + scores[:, t]
        alpha[:, t] = np.where(live[:, t, None], new, alpha[:, t - 1])      # (N, K)
    return alpha


def crf_betas(scores, lengths, trans, end):
    """β (N, T, K) by the backward recursion; β⟨L⟩ = end (and the same past L)."""
    N, T, K = scores.shape
    live = _live(lengths, T)
    beta = np.empty_like(scores)
    beta[:, T - 1] = end
    for t in range(T - 2, -1, -1):
        nxt = scores[:, t + 1] + beta[:, t + 1]                              # (N, K)
        rec = _logsumexp(trans[None] + nxt[:, None, :], axis=2)              # (N, K)
        beta[:, t] = np.where(live[:, t + 1, None], rec, end)
    return beta


def gold_score(scores, y, lengths, trans, start, end):
    """score(y) of each row (N,)."""
    N, T, K = scores.shape
    live = _live(lengths, T)
    rows = np.arange(N)
    last = np.asarray(lengths) - 1
    s = np.take_along_axis(scores, y[:, :, None], axis=2)[:, :, 0]          # (N, T)
    pair = trans[y[:, :-1], y[:, 1:]]                                        # (N, T-1)
    return ((s * live).sum(axis=1) + (pair * live[:, 1:]).sum(axis=1)
            + start[y[:, 0]] + end[y[rows, last]])


def crf_forward(scores, y, lengths, trans, start, end):
    """Negative log-likelihood of the gold paths, summed over the batch.

    Inputs:
      scores: (N, T, K) emission scores; y: (N, T) gold tag ids (padding: any id);
      lengths: (N,) ≥ 1; trans: (K, K) from i to j; start, end: (K,).
    Returns: (loss, cache), loss = Σ_n (log Z_n − score_n(y_n)).
    """
    alpha = crf_alphas(scores, lengths, trans, start)
    log_z = _logsumexp(alpha[:, -1] + end, axis=1)                           # (N,)
    loss = float((log_z - gold_score(scores, y, lengths, trans, start, end)).sum())
    return loss, (scores, y, np.asarray(lengths), trans, start, end, alpha, log_z)


def crf_backward(dloss, cache):
    """Gradients (dscores (N, T, K), dtrans (K, K), dstart (K,), dend (K,)) of
    ``dloss`` × the loss of :func:`crf_forward`."""
    scores, y, lengths, trans, start, end, alpha, log_z = cache
    N, T, K = scores.shape
    live = _live(lengths, T)
    beta = crf_betas(scores, lengths, trans, end)
    gamma = np.exp(alpha + beta - log_z[:, None, None]) * live[:, :, None]   # (N, T, K)
    onehot = np.zeros_like(scores)
    np.put_along_axis(onehot, y[:, :, None], 1.0, axis=2)
    onehot *= live[:, :, None]
    dscores = gamma - onehot
    dtrans = np.zeros_like(trans)
    for t in range(1, T):
        # p(y⟨t-1⟩ = i, y⟨t⟩ = j) of the rows still running at t
        xi = np.exp(alpha[:, t - 1, :, None] + trans[None]
                    + (scores[:, t] + beta[:, t])[:, None, :] - log_z[:, None, None])
        dtrans += (xi * live[:, t, None, None]).sum(axis=0)                  # (K, K)
    # Gold pair counts; np.add.at because a pair may occur many times.
    w = live[:, 1:].astype(trans.dtype)
    np.add.at(dtrans, (y[:, :-1], y[:, 1:]), -w)
    rows = np.arange(N)
    last = lengths - 1
    dstart = gamma[:, 0].sum(axis=0)
    np.add.at(dstart, y[:, 0], -1.0)
    dend = gamma[rows, last].sum(axis=0)
    np.add.at(dend, y[rows, last], -1.0)
    return dloss * dscores, dloss * dtrans, dloss * dstart, dloss * dend


def crf_marginals(scores, lengths, trans, start, end):
    """p(y⟨t⟩ = k | x) for every token (N, T, K); padding rows are 0."""
    scores = np.asarray(scores, dtype=np.float64)
    live = _live(lengths, scores.shape[1])
    alpha = crf_alphas(scores, lengths, trans, start)
    beta = crf_betas(scores, lengths, trans, end)
    log_z = _logsumexp(alpha[:, -1] + end, axis=1)
    return np.exp(alpha + beta - log_z[:, None, None]) * live[:, :, None]


def crf_viterbi(scores, lengths, trans, start, end) -> list[list[int]]:
    """The highest-scoring path of each row of ``scores`` (N, T, K) over its real
    length: δ⟨1⟩ = start + s⟨1⟩, δ⟨t⟩[j] = s⟨t⟩[j] + max_i (δ⟨t-1⟩[i] + trans[i, j]),
    best last tag argmax_j (δ⟨L⟩[j] + end[j]), then the back-pointers. Returns N lists
    of ints. Scores may hold −inf (a forbidden step) as well as NEG."""
    scores = np.asarray(scores, dtype=np.float64)
    N, T, K = scores.shape
    lengths = np.asarray(lengths, dtype=np.int64).reshape(N)
    if N == 0 or T == 0:
        return [[] for _ in range(N)]
    delta = scores[:, 0] + start                                       # (N, K)
    back = np.zeros((N, T, K), dtype=np.int64)
    for t in range(1, T):
        cand = delta[:, :, None] + trans[None]                         # (N, K from, K to)
        prev = cand.argmax(axis=1)                                     # (N, K)
        best = np.take_along_axis(cand, prev[:, None, :], axis=1)[:, 0]  # (N, K)
        live = (t < lengths)[:, None]                                  # (N, 1)
        delta = np.where(live, best + scores[:, t], delta)
        back[:, t] = prev
    last = (delta + end).argmax(axis=1)                                # (N,)
    paths = np.zeros((N, T), dtype=np.int64)
    rows = np.arange(N)
    cur = last
    for t in range(T - 1, -1, -1):
        here = t < lengths                                             # rows that reach t
        at_end = t == lengths - 1
        cur = np.where(at_end, last, cur)
        paths[:, t] = np.where(here, cur, 0)
        if t > 0:
            cur = np.where(here, back[rows, t, cur], cur)
    return [paths[n, :lengths[n]].tolist() for n in range(N)]
