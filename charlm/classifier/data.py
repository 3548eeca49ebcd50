"""A classifier's vocabularies (tokens, labels) and batches of lines.

Lines become tokens with the language model's text settings
(:class:`~charlm.text.tokens.TextConfig`: characters or words, case folding, Unicode
normalisation). Token id 0 is padding and id 1 is UNK, which stands for every token
seen fewer than ``min_count`` times in training (or cut by ``max_vocab``). Labels keep
the order of first appearance sorted by frequency, most frequent first.

A batch is N lines of similar length (shuffled, then sorted by length into buckets, so
little of a batch is padding), padded to the longest, longest first.

Word dropout: in training, a token seen c times is replaced by UNK with probability
α / (α + c) (Kiperwasser and Goldberg, 2016), so the UNK embedding is trained on the
rare tokens it will stand for at test time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from charlm.engine.linear import SparseRows
from charlm.errors import CorpusError
from charlm.training.batching import length_batches, word_dropout
from charlm.text.tokens import normalize_text, split_tokens

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
# A line is read up to this many tokens (a whole book on one line would otherwise
# cost minutes and gigabytes); what follows does not change its label.
MAX_TOKENS = 20_000


@dataclass
class ClassVocab:
    """Tokens and labels. Stored in the model file's header."""

    tokens: list                    # id → token; 0 PAD, 1 UNK
    labels: list                    # id → label
    counts: list = field(default_factory=list)        # training counts, per token id
    label_counts: list = field(default_factory=list)  # training examples, per label id

    def __post_init__(self):
        self.token_ids = {t: i for i, t in enumerate(self.tokens)}
        self.label_ids = {t: i for i, t in enumerate(self.labels)}

    @classmethod
    def build(cls, token_lists, labels, min_count=1, max_vocab=None):
        """From the training lines' tokens and their labels (one per line)."""
        counts = Counter()
        for toks in token_lists:
            counts.update(toks)
        by_label = Counter(labels)
        # Most frequent first, ties by text: ids never depend on the hash seed.
        order = lambda c: sorted(c, key=lambda k: (-c[k], k))
        kept = [t for t in order(counts) if counts[t] >= min_count]
        if max_vocab is not None:
            kept = kept[:max(max_vocab - 2, 0)]
        labs = order(by_label)
        return cls([PAD, UNK] + kept, labs, [0, 0] + [counts[t] for t in kept],
                   [by_label[lab] for lab in labs])

    def to_dict(self):
        return {"tokens": self.tokens, "labels": self.labels, "counts": self.counts,
                "label_counts": self.label_counts}

    @classmethod
    def from_dict(cls, d):
        return cls(list(d["tokens"]), list(d["labels"]), list(d.get("counts") or []),
                   list(d.get("label_counts") or []))

    def encode(self, tokens):
        """Token ids of a line (its first MAX_TOKENS); a line with no tokens is one UNK
        (it still gets an answer)."""
        get = self.token_ids.get
        return np.array([get(t, UNK_ID) for t in tokens[:MAX_TOKENS]] or [UNK_ID],
                        dtype=np.int64)

    def unk_probability(self, alpha):
        """Per token id, the chance word dropout replaces it by UNK: α / (α + count)."""
        counts = np.array(self.counts or [0] * len(self.tokens), dtype=np.float64)
        p = alpha / (alpha + np.maximum(counts, 1e-9))
        p[:2] = 0.0
        return p


def line_tokens(text, text_cfg):
    """The tokens of one line under the model's text settings."""
    return split_tokens(normalize_text(text, text_cfg), text_cfg)


@dataclass
class Batch:
    """N padded lines, longest first: ids (N, T), lengths (N,) non-increasing, order
    (N,) the lines' positions in the list they were batched from; grams: the lines'
    n-gram rows g in the same order (:mod:`charlm.classifier.ngrams`), for a classifier
    with an n-gram part when it predicts (training the recurrent part needs none)."""

    ids: np.ndarray
    lengths: np.ndarray
    order: np.ndarray
    grams: SparseRows | None = None

    @property
    def size(self):
        return int(self.lengths.sum())

    def rows(self, rows):
        """Some lines (a slice: one worker's share of a batch); the width T stays the
        batch's."""
        grams = self.grams.take(rows) if self.grams is not None else None
        return Batch(np.ascontiguousarray(self.ids[rows]), self.lengths[rows], self.order[rows],
                     grams)


def make_batch(id_lists, order, grams=None):
    """A :class:`Batch` of encoded lines (any order in, longest first out); ``grams``:
    their n-gram rows, in the order of ``id_lists``, or None."""
    lengths = np.array([len(x) for x in id_lists], dtype=np.int64)
    sort = np.argsort(-lengths, kind="stable")
    ids = np.zeros((len(id_lists), int(lengths.max())), dtype=np.int64)   # (N, T)
    for row, k in enumerate(sort):
        ids[row, :lengths[k]] = id_lists[k]
    return Batch(ids, lengths[sort], np.asarray(order)[sort],
                 grams.take(sort) if grams is not None else None), sort


class LineBatches:
    """Encoded lines and labels cut into batches for the shared training loop:
    ``epoch(rng)`` → a list of (Batch, y (N,), None), ``tokens()``.

    With an ``rng`` (training) every pass shuffles the lines, sorts them by length
    (equal lengths stay shuffled), cuts batches of ``batch_size``, shuffles the
    batches and applies word dropout. Without one (validation) the batches are the
    same every time. ``gold``: per line, the set of label ids that count as right
    (several for a fastText line with several labels). ``grams``: the lines' n-gram
    rows (a :class:`SparseRows`), which validation batches carry."""

    def __init__(self, id_lists, label_ids, batch_size, word_dropout=0.0, vocab=None,
                 gold=None, grams=None):
        self.id_lists = id_lists
        self.grams = grams
        self.label_ids = np.asarray(label_ids, dtype=np.int64)
        self.gold = gold
        self.batch_size = batch_size
        self.unk_p = vocab.unk_probability(word_dropout) if word_dropout > 0 else None
        self.lengths = np.array([len(x) for x in id_lists])
        self._fixed = None
        if len(id_lists) == 0:
            raise CorpusError("no lines to train on")

    def tokens(self):
        return int(self.lengths.sum())

    def __len__(self):
        return -(-len(self.id_lists) // self.batch_size)

    @staticmethod
    def share(item, rows):
        """Some lines (a slice) of a batch (x, y, None), for one of several workers."""
        x, y, _ = item
        return x.rows(rows), y[rows], None

    def epoch(self, rng=None):
        if rng is None and self._fixed is not None:
            return self._fixed
        out = []
        for idx in length_batches(self.lengths, self.batch_size, rng):
            lines = [self.id_lists[i] for i in idx]
            if rng is not None and self.unk_p is not None:
                lines = word_dropout(lines, self.unk_p, UNK_ID, rng)
            grams = self.grams.take(idx) if self.grams is not None and rng is None else None
            batch, sort = make_batch(lines, idx, grams)
            out.append((batch, self.label_ids[idx][sort], None))
        if rng is None:
            self._fixed = out
        return out
