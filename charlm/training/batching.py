"""Batches of independent sequences (sentences, lines) of similar length, shared by
the tagger and the classifier.

Sorting by length before cutting batches keeps padding small: a batch of 64 lines of
5 to 7 tokens costs 7 steps, not the 60 of its longest member in a random batch. In
training the order still changes every pass: the sequences are shuffled first (so
equal lengths come in a new order), and the batches themselves are shuffled after.
"""

from __future__ import annotations

import numpy as np


def length_batches(lengths, batch_size, rng=None):
    """Index arrays of the sequences in each batch, in the order to train on them.

    ``lengths``: (n,) sequence lengths. With an ``rng`` (training) the draw is
    ``rng.permutation(n)`` then ``rng.permutation(batches)``, always those two, so a
    resumed run that restores the generator rebuilds the same pass. Without one
    (validation) batches go shortest first and never change."""
    lengths = np.asarray(lengths)
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
    else:
        perm = rng.permutation(n)
        order = perm[np.argsort(lengths[perm], kind="stable")]
    chunks = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if rng is not None:
        chunks = [chunks[i] for i in rng.permutation(len(chunks))]
    return chunks


def word_dropout(id_lists, unk_p, unk_id, rng):
    """Each sequence of ``id_lists`` with every id ``w`` replaced by ``unk_id`` with
    probability ``unk_p[w]`` (rare words more often, so the UNK row learns to stand in
    for the words it will meet at run time). One ``rng.random(len)`` draw per sequence,
    in order, so a resumed run draws the same masks."""
    return [np.where(rng.random(len(x)) < unk_p[x], unk_id, x) for x in id_lists]
