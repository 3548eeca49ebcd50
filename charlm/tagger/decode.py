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

from charlm.engine.crf import crf_viterbi
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
    with np.errstate(divide="ignore"):
        log_trans = np.log(np.asarray(allowed, dtype=np.float64))      # (K, K) 0 or -inf
        log_start = np.log(np.asarray(allowed_start, dtype=np.float64))  # (K,)
        log_end = np.log(np.asarray(allowed_end, dtype=np.float64))      # (K,)
    return crf_viterbi(scores, lengths, log_trans, log_start, log_end)
