"""Vocabularies of a tagger (words, characters, tags) and batches of sentences.

Words are looked up after a light normalisation (lower case, every digit → 0), so
"The"/"the" and "1984"/"2001" share an embedding; the character features still see
the word exactly as written, capitals and digits included. Id 0 of the word and
character vocabularies is padding, id 1 is UNK.

A batch is N sentences of similar length (sorted by length into buckets, so little
is padding), padded to the longest, longest first. Its words' characters are encoded
once per distinct word form of the batch, not once per token.

Word dropout: in training, a word seen c times is replaced by UNK with probability
α / (α + c) (Kiperwasser and Goldberg, 2016), so rare words are often UNK and the
model learns to tag from the character features, as it must for unseen words.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from charlm.errors import CorpusError
from charlm.training.batching import length_batches, word_dropout

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
MAX_WORD_CHARS = 24   # longer words keep their first and last 12 characters
_DIGIT = re.compile(r"\d")


def word_key(form, lowercase=True):
    """The form under which a word is looked up: lower case, digits as 0."""
    form = _DIGIT.sub("0", form)
    return form.lower() if lowercase else form


def clip_chars(form):
    """A word's characters for the character BiRNN: all of them, or its first and
    last MAX_WORD_CHARS/2 (URLs and the like add nothing past that but time)."""
    if len(form) <= MAX_WORD_CHARS:
        return form
    half = MAX_WORD_CHARS // 2
    return form[:half] + form[-half:]


@dataclass
class TagVocab:
    """The vocabularies. Stored in the model file's header."""

    words: list                     # id → word key; 0 PAD, 1 UNK
    chars: list                     # id → character; 0 PAD, 1 UNK
    tags: list                      # id → tag
    word_counts: list = field(default_factory=list)   # training counts, per word id
    lowercase: bool = True
    tags2: list = field(default_factory=list)  # id → tag of a joint tagger's second layer

    def __post_init__(self):
        self.word_ids = {w: i for i, w in enumerate(self.words)}
        self.char_ids = {c: i for i, c in enumerate(self.chars)}
        self.tag_ids = {t: i for i, t in enumerate(self.tags)}
        self.tag2_ids = {t: i for i, t in enumerate(self.tags2)}

    def second(self):
        """The vocabulary as the second output layer sees it: its tags in place of the
        first layer's."""
        return TagVocab(self.words, self.chars, list(self.tags2), self.word_counts,
                        self.lowercase)

    @classmethod
    def build(cls, sentences, min_count=1, lowercase=True):
        """From training sentences: every tag, every character, and the words seen
        at least ``min_count`` times."""
        words, chars, tags, tags2 = Counter(), Counter(), Counter(), Counter()
        for s in sentences:
            for form in s.tokens:
                words[word_key(form, lowercase)] += 1
                chars.update(form)
            tags.update(s.tags)
            tags2.update(s.tags2 or ())
        if not tags:
            raise CorpusError("the training data holds no tagged tokens")
        # Most frequent first, ties alphabetical: ids do not depend on the hash seed.
        order = lambda c: sorted(c, key=lambda k: (-c[k], k))
        kept = [w for w in order(words) if words[w] >= min_count]
        return cls([PAD, UNK] + kept, [PAD, UNK] + order(chars), order(tags),
                   [0, 0] + [words[w] for w in kept], lowercase, order(tags2))

    def to_dict(self):
        d = {"words": self.words, "chars": self.chars, "tags": self.tags,
             "word_counts": self.word_counts, "lowercase": self.lowercase}
        if self.tags2:
            d["tags2"] = self.tags2
        return d

    @classmethod
    def from_dict(cls, d):
        return cls(list(d["words"]), list(d["chars"]), list(d["tags"]),
                   list(d.get("word_counts") or []), bool(d.get("lowercase", True)),
                   list(d.get("tags2") or []))

    def encode_words(self, tokens):
        get = self.word_ids.get
        return np.array([get(word_key(t, self.lowercase), UNK_ID) for t in tokens],
                        dtype=np.int64)

    def encode_chars(self, form):
        get = self.char_ids.get
        return [get(c, UNK_ID) for c in clip_chars(form)] or [UNK_ID]

    def encode_tags(self, tags, where="", second=False):
        ids, known = (self.tag2_ids, self.tags2) if second else (self.tag_ids, self.tags)
        try:
            return np.array([ids[t] for t in tags], dtype=np.int64)
        except KeyError as e:
            raise CorpusError(f"{where}tag {e.args[0]!r} is not one the tagger knows "
                              f"({', '.join(known[:20])}{' …' if len(known) > 20 else ''})"
                              ) from None

    def encode_sentence(self, sent):
        """A tagged sentence's tag ids: (len,), or (len, 2) for a joint tagger (the
        first layer's ids, then the second's)."""
        where = f"{sent.source}:{sent.line}: "
        ids = self.encode_tags(sent.tags, where)
        if not self.tags2:
            return ids
        if sent.tags2 is None:
            raise CorpusError(f"{where}the sentence has no tags for the second layer")
        return np.stack([ids, self.encode_tags(sent.tags2, where, second=True)], axis=1)

    def unk_probability(self, alpha):
        """Per word id, the chance word dropout replaces it by UNK: α / (α + count)."""
        counts = np.array(self.word_counts or [0] * len(self.words), dtype=np.float64)
        p = alpha / (alpha + np.maximum(counts, 1e-9)) if alpha > 0 else np.zeros_like(counts)
        p[:2] = 0.0
        return p


@dataclass
class Batch:
    """N padded sentences, longest first (the model's input ``x``).

    words: (N, T) word ids; types: (N, T) index of each token's form in ``chars``;
    chars: (Tc, W) character ids of the W distinct forms, longest first;
    char_lengths: (W,); lengths: (N,) real sentence lengths, non-increasing;
    order: (N,) the sentences' positions in the list they were batched from;
    lm: (T, H_f + H_b, N) character-LM features of every token, or None."""

    words: np.ndarray
    types: np.ndarray
    chars: np.ndarray
    char_lengths: np.ndarray
    lengths: np.ndarray
    order: np.ndarray
    lm: np.ndarray | None = None

    @property
    def size(self):
        return int(self.lengths.sum())

    def rows(self, rows):
        """Some sentences (a slice: one worker's share of a batch), keeping only the
        character forms they use; the width T stays the batch's."""
        types = self.types[rows]
        used, inverse = np.unique(types, return_inverse=True)      # still longest first
        clen = self.char_lengths[used]
        return Batch(np.ascontiguousarray(self.words[rows]), inverse.reshape(types.shape),
                     self.chars[:int(clen.max()), used], clen, self.lengths[rows],
                     self.order[rows],
                     None if self.lm is None else np.ascontiguousarray(self.lm[:, :, rows]))


def encode_forms(vocab, forms):
    """Character ids of word forms, longest first: (chars (Tc, W), lengths (W,),
    rank) where rank[i] is the column of forms[i]."""
    encoded = [vocab.encode_chars(f) for f in forms]
    clen = np.array([len(c) for c in encoded], dtype=np.int64)
    by_len = np.argsort(-clen, kind="stable")                  # longest first
    rank = np.empty_like(by_len)
    rank[by_len] = np.arange(len(by_len))
    chars = np.zeros((int(clen.max()), len(encoded)), dtype=np.int64)   # (Tc, W)
    for col, w in enumerate(by_len):
        chars[:clen[w], col] = encoded[w]
    return chars, clen[by_len], rank


def make_batch(vocab, sentences, order, word_ids=None, tag_ids=None, forms=None, lm=None):
    """One :class:`Batch` of ``sentences`` (their token lists), plus (N, T) tag ids
    ((N, T, 2) for a joint tagger) and mask when ``tag_ids`` is given. ``word_ids``:
    pre-encoded words per sentence. ``forms``: a {form: column} dict shared by several batches whose character
    features are computed once (then the batch carries no characters of its own).
    ``lm``: character-LM features per sentence, (len, H_f + H_b) each."""
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    sort = np.argsort(-lengths, kind="stable")
    N, T = len(sentences), int(lengths.max())
    words = np.zeros((N, T), dtype=np.int64)
    types = np.zeros((N, T), dtype=np.int64)
    shared = forms is not None
    forms = {} if forms is None else forms
    for row, k in enumerate(sort):
        tokens = sentences[k]
        words[row, :len(tokens)] = (word_ids[k] if word_ids is not None
                                    else vocab.encode_words(tokens))
        types[row, :len(tokens)] = [forms.setdefault(f, len(forms)) for f in tokens]
    if shared:
        batch = Batch(words, types, None, None, lengths[sort], np.asarray(order)[sort])
    else:
        chars, clen, rank = encode_forms(vocab, list(forms))
        batch = Batch(words, rank[types], chars, clen, lengths[sort],
                      np.asarray(order)[sort])
    if lm is not None:
        batch.lm = np.zeros((T, lm[0].shape[1], N), dtype=lm[0].dtype)
        for row, k in enumerate(sort):
            batch.lm[:lengths[k], :, row] = lm[k]
    if tag_ids is None:
        return batch, None, None
    y = np.zeros((N, T) + tag_ids[0].shape[1:], dtype=np.int64)    # (N, T[, 2])
    mask = np.zeros((N, T), dtype=np.float32)
    for row, k in enumerate(sort):
        y[row, :lengths[k]] = tag_ids[k]
        mask[row, :lengths[k]] = 1.0
    return batch, y, mask


class TagBatches:
    """Sentences cut into batches for the shared training loop: ``epoch(rng)`` → a
    list of (Batch, y, mask), ``tokens()``.

    With an ``rng`` (training) each pass shuffles the sentences, sorts them by length
    (equal lengths stay shuffled), cuts batches of ``batch_size`` sentences, shuffles
    the batches' order and applies word dropout. Without one (validation) the
    batches are the same every time and nothing is dropped.
    """

    def __init__(self, vocab, sentences, batch_size, word_dropout=0.0, lm=None):
        self.vocab = vocab
        # Character-LM features per sentence (frozen LMs: computed once), or None.
        self.lm = lm
        self.tokens_ = [s.tokens for s in sentences]
        self.word_ids = [vocab.encode_words(t) for t in self.tokens_]
        self.tag_ids = [vocab.encode_sentence(s) for s in sentences]
        self.batch_size = batch_size
        self.unk_p = vocab.unk_probability(word_dropout) if word_dropout > 0 else None
        self.lengths = np.array([len(t) for t in self.tokens_])
        self._fixed = None

    def tokens(self):
        return int(self.lengths.sum())

    def __len__(self):
        return -(-len(self.tokens_) // self.batch_size)

    def epoch(self, rng=None):
        if rng is None and self._fixed is not None:
            return self._fixed
        out = []
        for idx in length_batches(self.lengths, self.batch_size, rng):
            words = [self.word_ids[i] for i in idx]
            if rng is not None and self.unk_p is not None:
                words = word_dropout(words, self.unk_p, UNK_ID, rng)
            out.append(make_batch(self.vocab, [self.tokens_[i] for i in idx], idx, words,
                                  [self.tag_ids[i] for i in idx],
                                  lm=None if self.lm is None else [self.lm[i] for i in idx]))
        if rng is None:
            self._fixed = out
        return out

    @staticmethod
    def share(item, rows):
        """Some sentences (a slice) of a batch (x, y, mask), for one of several
        workers."""
        x, y, mask = item
        return x.rows(rows), np.ascontiguousarray(y[rows]), np.ascontiguousarray(mask[rows])

    def gold(self):
        """Tag ids per sentence, in input order."""
        return self.tag_ids
