"""Constrained decoding: the best tag sequence that the tag scheme allows.

A softmax tagger picks each token's tag on its own, so it can write ``I-PER`` after
``O``, which no IOB2 file contains. Constrained Viterbi instead finds

    argmax over valid y of  sum_t s⟨t⟩[y⟨t⟩]

where s⟨t⟩ are per-token additive scores (log-probabilities) and a sequence is valid
when its first tag may start a sentence, each pair (y⟨t-1⟩, y⟨t⟩) is an allowed
transition, and its last tag may end one. The recursion, for one sentence,

    δ⟨0⟩[j] = s⟨0⟩[j] + log allowed_start[j]
    δ⟨t⟩[j] = s⟨t⟩[j] + max_i (δ⟨t-1⟩[i] + log allowed[i, j])
    best    = argmax_j (δ⟨T-1⟩[j] + log allowed_end[j]),  then follow the back-pointers,

runs for all N sentences of a batch at once; a row stops updating after its length.

Rules per scheme (a tag that is not O or X-TYPE counts as O):

* iob2: ``I-X`` only after ``B-X`` or ``I-X``; never first.
* iob1: ``I-X`` anywhere (it opens an entity after O or another type); ``B-X`` only
  after ``B-X`` or ``I-X`` (it separates two entities of one type), so never first.
* bioes: after ``B-X`` or ``I-X`` only ``I-X`` or ``E-X``; ``I-X``/``E-X`` only after
  those; never first: ``I-``, ``E-``; never last: ``B-``, ``I-``.
* io and tag sets that are not entity tags: everything allowed.
"""

from __future__ import annotations

import numpy as np

from charlm.text.schemes import split_tag


def transition_mask(tags: list[str], scheme: str | None):
    """``(allowed (K, K) from i to j, allowed_start (K,), allowed_end (K,))``, bool."""
    K = len(tags)
    allowed = np.ones((K, K), dtype=bool)
    start = np.ones(K, dtype=bool)
    end = np.ones(K, dtype=bool)
    parts = [split_tag(t) for t in tags]
    if scheme not in ("iob1", "iob2", "bioes") or all(p == "O" for p, _ in parts):
        return allowed, start, end
    for j, (pj, tj) in enumerate(parts):
        for i, (pi, ti) in enumerate(parts):
            continues = pi in "BI" and ti == tj      # i leaves an entity of type tj open
            if scheme == "iob2" and pj == "I":
                allowed[i, j] = continues
            elif scheme == "iob1" and pj == "B":
                allowed[i, j] = continues
            elif scheme == "bioes":
                if pj in "IE":
                    allowed[i, j] = continues
                elif pi in "BI":        # an open entity must go on with I- or E-
                    allowed[i, j] = False
        if scheme == "iob2":
            start[j] = pj != "I"
        elif scheme == "iob1":
            start[j] = pj != "B"
        elif scheme == "bioes":
            start[j] = pj not in "IE"
            end[j] = pj not in "BI"
    return allowed, start, end


def viterbi(scores, lengths, allowed, allowed_start, allowed_end) -> list[list[int]]:
    """Best allowed tag-id path of each row of ``scores`` (N, T, K) over its real length
    ``lengths[n]``; returns N lists of ints. A row with no allowed path (a tag set that
    cannot form one) gets the best unconstrained-start path the penalties leave."""
    scores = np.asarray(scores, dtype=np.float64)
    N, T, K = scores.shape
    lengths = np.asarray(lengths, dtype=np.int64).reshape(N)
    if N == 0 or T == 0:
        return [[] for _ in range(N)]
    with np.errstate(divide="ignore"):
        log_trans = np.log(np.asarray(allowed, dtype=np.float64))      # (K, K) 0 or -inf
        log_start = np.log(np.asarray(allowed_start, dtype=np.float64))  # (K,)
        log_end = np.log(np.asarray(allowed_end, dtype=np.float64))      # (K,)
    delta = scores[:, 0] + log_start                                   # (N, K)
    back = np.zeros((N, T, K), dtype=np.int64)
    for t in range(1, T):
        cand = delta[:, :, None] + log_trans[None]                     # (N, K from, K to)
        prev = cand.argmax(axis=1)                                     # (N, K)
        best = np.take_along_axis(cand, prev[:, None, :], axis=1)[:, 0]  # (N, K)
        live = (t < lengths)[:, None]                                  # (N, 1)
        delta = np.where(live, best + scores[:, t], delta)
        back[:, t] = prev
    last = (delta + log_end).argmax(axis=1)                            # (N,)
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
