"""The vocabulary: token strings ↔ integer ids, with EOS and UNK.

Id 0 is EOS (end of a line; as an input, the start of the next one) and id 1 is UNK,
which stands for every token that is not in the vocabulary (notes: "if the word is
not in the vocabulary, use UNK"). The remaining ids follow descending training
frequency, ties broken by the token's text, so the same corpus always gives the
same ids.
"""

from __future__ import annotations

import numpy as np

from charlm.errors import ModelFileError

EOS = "<eos>"
UNK = "<unk>"
EOS_ID = 0
UNK_ID = 1


def id_dtype(vocab_size):
    """The smallest unsigned integer type that holds every id."""
    if vocab_size <= 1 << 8:
        return np.uint8
    if vocab_size <= 1 << 16:
        return np.uint16
    return np.uint32


class Vocab:
    """An ordered list of tokens; ``tokens[0]`` is EOS and ``tokens[1]`` is UNK."""

    def __init__(self, tokens, counts=None):
        tokens = list(tokens)
        if tokens[:2] != [EOS, UNK]:
            raise ModelFileError("a vocabulary must start with <eos> and <unk>")
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}
        if len(self.index) != len(tokens):
            raise ModelFileError("the vocabulary lists a token twice")
        # Training counts, kept for reports; None when unknown.
        self.counts = None if counts is None else [int(c) for c in counts]

    eos_id = EOS_ID
    unk_id = UNK_ID

    def __len__(self):
        return len(self.tokens)

    @property
    def dtype(self):
        return id_dtype(len(self))

    @classmethod
    def build(cls, type_tokens, type_counts, min_count=1, max_vocab=None):
        """From candidate tokens and their training counts.

        Tokens seen fewer than ``min_count`` times are left out (they become UNK);
        ``max_vocab`` caps the total size, EOS and UNK included.
        """
        order = sorted(
            (i for i, c in enumerate(type_counts) if c >= min_count and c > 0),
            key=lambda i: (-type_counts[i], type_tokens[i]))
        if max_vocab is not None:
            order = order[:max(0, max_vocab - 2)]
        tokens = [EOS, UNK] + [type_tokens[i] for i in order]
        counts = [0, 0] + [int(type_counts[i]) for i in order]
        return cls(tokens, counts)

    def encode(self, tokens):
        """Token strings → (ids as a list, number of OOV tokens)."""
        get = self.index.get
        ids = [get(t, UNK_ID) for t in tokens]
        oov = sum(1 for t in tokens if t not in self.index)
        return ids, oov

    def decode(self, ids):
        return [self.tokens[i] for i in ids]

    def to_dict(self):
        d = {"tokens": self.tokens, "eos_id": EOS_ID, "unk_id": UNK_ID}
        if self.counts is not None:
            d["counts"] = self.counts
        return d

    @classmethod
    def from_dict(cls, d):
        if d.get("eos_id", EOS_ID) != EOS_ID or d.get("unk_id", UNK_ID) != UNK_ID:
            raise ModelFileError("unsupported special-token ids in the vocabulary")
        return cls(d["tokens"], d.get("counts"))
