"""The classifier's n-gram part: a linear model on the line's n-grams, beside the
recurrent encoder.

The n-grams are runs of 1 … n of the line's tokens (the ids the recurrent part reads,
UNK included). At word level, every run of the line. At character level, the runs
inside each word, the word padded with a boundary mark on each side, so that the
start and the end of a word count apart from its middle (" Mc", "ov ", "ski "): the
marks are the white space between words and the line's two ends, and a run may hold a
mark only at its first or last place.

The line becomes g (M,), one weight per n-gram kept (those in at least ``MIN_LINES``
training lines, at most ``MAX_GRAMS`` of them, the most widespread first):

    g_j = (1 + ln tf_j) · idf_j,  idf_j = ln((1 + N) / (1 + df_j)) + 1,  then ‖g‖ = 1

with tf_j the n-gram's count in the line and df_j the number of the N training lines
it occurs in (a sublinear tf-idf). The part's scores are W_g g + b_g
(:mod:`charlm.engine.linear`), fitted once on the training lines before the recurrent
part trains and fixed after: the mean cross-entropy plus ½ λ ‖W_g‖², λ = 1 / (C · N).

An n-gram is stored as one integer, its key: the digits (token id + 1) in base
B = V + 1, the first token lowest (a boundary mark is id 0, digit 1). Keys of
different lengths differ, since the highest digit is never 0, and every step below is
a NumPy array operation over all the lines of a batch at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlm.engine.linear import SparseRows, fit_softmax
from charlm.errors import UsageError

MAX_NGRAM = 8           # the longest n-grams --ngrams allows
MIN_LINES = 2           # an n-gram must occur in this many training lines to be kept
MAX_GRAMS = 200_000     # and at most this many are kept, the most widespread first
C = 10.0                # inverse strength of the L2 penalty, per line (scikit-learn's C)
FIT_STEPS = 150         # full-batch Adam steps of the fit
FIT_LR = 0.1


def check_fits(n, n_tokens):
    """Refuse n-grams whose keys would not fit in 63 bits."""
    if (n_tokens + 1) ** n >= 2 ** 63:
        longest = max(k for k in range(1, MAX_NGRAM + 1) if (n_tokens + 1) ** k < 2 ** 63)
        raise UsageError(f"--ngrams {n} is too long for a vocabulary of {n_tokens:,} tokens "
                         f"(at most {longest}); give a shorter one, or --ngrams 0")


@dataclass
class NgramTable:
    """The n-grams kept (by key, ascending) and their idf: turns encoded lines into
    rows g. ``marks``: the token ids that separate words at character level (white
    space), read as boundary marks."""

    level: str              # char | word
    n: int                  # longest n-gram
    n_tokens: int           # V of the classifier's vocabulary
    keys: np.ndarray        # (M,) int64, ascending
    idf: np.ndarray         # (M,)
    marks: tuple = ()

    @property
    def base(self):
        return self.n_tokens + 1

    @classmethod
    def build(cls, id_lists, level, n, n_tokens, marks=(), min_lines=MIN_LINES,
              max_grams=MAX_GRAMS):
        """From the training lines (token id arrays)."""
        check_fits(n, n_tokens)
        table = cls(level, n, n_tokens, np.zeros(0, dtype=np.int64), np.zeros(0),
                    tuple(marks))
        line, key = table.occurrences(id_lists)
        # df: in how many lines each key occurs (each (key, line) pair counted once)
        order = np.lexsort((line, key))
        key, line = key[order], line[order]
        pair_key = key[np.flatnonzero(np.diff(key, prepend=-1) | np.diff(line, prepend=-1))]
        first = np.flatnonzero(np.diff(pair_key, prepend=-1))
        keys, df = pair_key[first], np.diff(np.r_[first, len(pair_key)])
        keep = df >= min_lines
        keys, df = keys[keep], df[keep]
        if len(keys) > max_grams:
            top = np.lexsort((keys, -df))[:max_grams]               # most lines, then key
            top.sort()
            keys, df = keys[top], df[top]
        table.keys = keys
        table.idf = np.log((1.0 + len(id_lists)) / (1.0 + df)) + 1.0
        return table

    def occurrences(self, id_lists):
        """(line (P,), key (P,)): every n-gram occurrence of the lines, by key."""
        lengths = np.array([len(x) for x in id_lists], dtype=np.int64)
        N = len(id_lists)
        body = (np.concatenate(id_lists).astype(np.int64) if N and lengths.sum()
                else np.zeros(0, dtype=np.int64))
        # the lines one after the other, each after a 0 and the last followed by one
        pos = np.arange(len(body)) + np.repeat(np.arange(1, N + 1), lengths)
        flat = np.zeros(len(body) + N + 1, dtype=np.int64)
        flat[pos] = body
        if self.level == "char" and self.marks:
            flat[np.isin(flat, self.marks)] = 0                  # white space: a mark
        owner = np.full(len(flat), -1, dtype=np.int64)
        owner[pos] = np.repeat(np.arange(N), lengths)
        zero = flat == 0
        zeros_before = np.concatenate([[0], np.cumsum(zero)])  # zeros in flat[:i]
        digit = flat + 1
        key = np.zeros(len(flat), dtype=np.int64)
        lines, keys = [], []
        for k in range(1, self.n + 1):
            last = len(flat) - k + 1                           # windows start at 0 … last-1
            if last <= 0:
                break
            key = key[:last] + digit[k - 1:k - 1 + last] * self.base ** (k - 1)
            p = np.arange(last)
            if self.level == "char":
                # marks only at the ends, and not marks alone
                inner = zeros_before[p + k - 1] - zeros_before[np.minimum(p + 1, p + k - 1)]
                ok = (inner == 0) & ~(zero[p] & zero[p + k - 1])
            else:
                ok = zeros_before[p + k] - zeros_before[p] == 0
            first = np.where(zero[p], p + 1, p)                # the window's first token
            lines.append(owner[np.minimum(first[ok], len(flat) - 1)])
            keys.append(key[ok])
        if not lines:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(lines), np.concatenate(keys)

    def rows(self, id_lists, dtype=np.float64):
        """:class:`SparseRows`, one row g per line (an empty row for a line with no
        n-gram kept)."""
        N, M = len(id_lists), max(len(self.keys), 1)
        line, key = self.occurrences(id_lists)
        col = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        known = self.keys[col] == key if len(self.keys) else np.zeros(len(key), bool)
        # each (line, n-gram) pair once, with its count tf, in line then column order
        pairs = line[known] * M + col[known]
        pairs.sort()
        first = np.flatnonzero(np.diff(pairs, prepend=-1))
        tf = np.diff(np.r_[first, len(pairs)])
        line, col = np.divmod(pairs[first], M)
        values = (1.0 + np.log(tf)) * self.idf[col]
        norms = np.sqrt(np.bincount(line, values * values, minlength=N))
        values /= norms[line]
        indptr = np.zeros(N + 1, dtype=np.int64)
        np.cumsum(np.bincount(line, minlength=N), out=indptr[1:])
        return SparseRows(indptr, col, values.astype(dtype), len(self.keys))

    def text_of(self, key, tokens):
        """An n-gram as text: its tokens (joined by a space at word level), a boundary
        mark shown as a space."""
        parts = []
        key = int(key)
        while key:
            parts.append(tokens[key % self.base - 1] if key % self.base > 1 else " ")
            key //= self.base
        return ("" if self.level == "char" else " ").join(parts)


@dataclass
class NgramPart:
    """The fitted n-gram part of a classifier: its table and its scores' weights."""

    table: NgramTable
    W_g: np.ndarray         # (K, M)
    b_g: np.ndarray         # (K,)

    @classmethod
    def fit(cls, id_lists, label_ids, n_labels, table, dtype=np.float32):
        """Fit W_g, b_g on the training lines (token id arrays) and their labels."""
        X = table.rows(id_lists)
        W, b, _ = fit_softmax(X, label_ids, n_labels, 1.0 / (C * max(len(id_lists), 1)),
                              FIT_STEPS, FIT_LR)
        return cls(table, W.astype(dtype), b.astype(dtype))

    def rows(self, id_lists):
        return self.table.rows(id_lists, self.W_g.dtype)

    def arrays(self):
        """What the classifier file stores beside the parameters."""
        return {"ngram.keys": self.table.keys, "ngram.idf": self.table.idf,
                "ngram.W_g": self.W_g, "ngram.b_g": self.b_g}


def marks_of(tokens, level):
    """The token ids that separate words at character level (white space)."""
    return tuple(i for i, t in enumerate(tokens) if level == "char" and i > 1 and t.isspace())
