"""From text files to the token-id streams that training reads.

Steps, each a function here:

1. :func:`read_text` decodes files (UTF-8, a leading byte-order mark dropped, any
   line ending read as ``\\n``) and says where undecodable bytes are.
2. :func:`type_stream` turns text into a stream of *type* ids: every distinct token
   seen gets one, id 0 marks the end of a line (``--split lines``). At character
   level this is vectorised over code points; no per-character Python loop.
3. :func:`split_validation` holds out whole random lines (``lines``) or the tail of
   the stream (``none``).
4. :func:`build_vocab` counts types in the training part only and keeps those that
   pass ``min_count``/``max_vocab``; :func:`encode` maps types to vocabulary ids
   (UNK for the rest) in the smallest integer dtype that fits.
5. :class:`Batches` cuts a stream into N rows and windows of T steps for truncated
   backpropagation through time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from charlm.errors import CorpusError
from charlm.text import NEWLINE, normalize_text, split_tokens
from charlm.vocab import EOS, EOS_ID, UNK_ID, Vocab

_EOS_CODE = 0x110000          # one past the last Unicode code point: the EOS marker


def read_text(path, encoding_errors="strict"):
    """The text of one file, decoded as UTF-8 with universal newlines."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a directory, expected a text file") from None
    except OSError as e:
        raise CorpusError(f"{path}: cannot read: {e.strerror}") from None
    return decode_bytes(data, path, encoding_errors)


def decode_bytes(data, name, encoding_errors="strict"):
    try:
        text = data.decode("utf-8-sig", errors=encoding_errors)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise CorpusError(
            f"{name}: invalid UTF-8 at line {line}, byte offset {e.start}; "
            "convert the file to UTF-8 or pass --encoding-errors replace") from None
    # Universal newlines, as Python's text mode would do.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


@dataclass
class TypeStream:
    """A corpus as type ids. ``types[i]`` is the text of type i; type 0 is EOS."""

    ids: np.ndarray        # (L,) uint32
    types: list

    def __len__(self):
        return len(self.ids)


def type_stream(texts, cfg):
    """Tokenize ``texts`` (a list of strings, one per file) into one :class:`TypeStream`.

    ``lines``: each non-empty line becomes its tokens followed by EOS.
    ``none``: files are joined into one stream (separated by a newline when a file
    does not end with one) and the newline is an ordinary token.
    """
    texts = [normalize_text(t, cfg) for t in texts]
    if cfg.split == "none":
        joined = [t if t.endswith(NEWLINE) or not t else t + NEWLINE for t in texts]
        texts = ["".join(joined)]
    if cfg.level == "char" and not cfg.graphemes:
        return _char_type_stream(texts, cfg)
    return _token_type_stream(texts, cfg)


def _char_type_stream(texts, cfg):
    parts = []
    for text in texts:
        if not text:
            continue
        cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        if cfg.split == "lines":
            if cp[-1] != ord(NEWLINE):
                cp = np.append(cp, np.uint32(ord(NEWLINE)))
            nl = cp == ord(NEWLINE)
            # A newline right after another newline (or at the start) closes an
            # empty line: drop it. The others become EOS.
            empty = nl & np.concatenate(([True], nl[:-1]))
            cp = np.where(nl, np.uint32(_EOS_CODE), cp)[~empty]
        parts.append(cp)
    cp = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)
    counts = np.bincount(cp, minlength=_EOS_CODE + 1)
    present = np.flatnonzero(counts)
    present = present[present != _EOS_CODE]
    remap = np.zeros(_EOS_CODE + 1, dtype=np.uint32)
    remap[present] = np.arange(1, len(present) + 1, dtype=np.uint32)
    types = [EOS] + [chr(c) for c in present]
    return TypeStream(remap[cp], types)


def _token_type_stream(texts, cfg):
    index = {EOS: 0}
    types = [EOS]
    out = []
    for text in texts:
        lines = text.split(NEWLINE)
        if lines and lines[-1] == "":
            lines.pop()
        for i, line in enumerate(lines):
            toks = split_tokens(line, cfg)
            if cfg.split == "lines" and not toks:
                continue
            for tok in toks:
                j = index.get(tok)
                if j is None:
                    j = index[tok] = len(types)
                    types.append(tok)
                out.append(j)
            if cfg.split == "lines":
                out.append(0)
            elif i < len(lines) - 1 or text.endswith(NEWLINE):
                j = index.get(NEWLINE)
                if j is None:
                    j = index[NEWLINE] = len(types)
                    types.append(NEWLINE)
                out.append(j)
    return TypeStream(np.array(out, dtype=np.uint32), types)


def split_validation(stream, fraction, split, rng):
    """(train ids, validation ids), both type-id arrays.

    ``lines``: a random ``fraction`` of the lines (drawn with ``rng``) is held out,
    so the validation set is spread over the whole corpus. ``none``: the last
    ``fraction`` of the stream, as char-rnn does, so no text leaks across the cut.
    """
    ids = stream.ids
    if fraction <= 0 or len(ids) == 0:
        return ids, ids[:0]
    if split == "none":
        cut = len(ids) - int(round(len(ids) * fraction))
        return ids[:cut], ids[cut:]
    ends = np.flatnonzero(ids == 0)
    n_lines = len(ends)
    n_val = int(round(n_lines * fraction))
    if n_lines < 2 or n_val == 0:
        return ids, ids[:0]
    n_val = min(n_val, n_lines - 1)
    is_val = np.zeros(n_lines, dtype=bool)
    is_val[rng.permutation(n_lines)[:n_val]] = True
    lengths = np.diff(np.concatenate(([-1], ends)))          # tokens per line, EOS included
    token_is_val = np.repeat(is_val, lengths)
    return ids[~token_is_val], ids[token_is_val]


def build_vocab(stream, train_ids, min_count=1, max_vocab=None):
    """A :class:`Vocab` from the training part's type counts."""
    counts = np.bincount(train_ids, minlength=len(stream.types))
    counts[0] = 0                                          # EOS is always in
    return Vocab.build(stream.types, counts.tolist(), min_count, max_vocab)


def encode(stream, ids, vocab):
    """Type ids → vocabulary ids (UNK for types outside the vocabulary)."""
    lut = np.full(len(stream.types), UNK_ID, dtype=np.int64)
    for i, tok in enumerate(stream.types):
        j = vocab.index.get(tok)
        if j is not None:
            lut[i] = j
    lut[0] = EOS_ID
    return lut[ids].astype(vocab.dtype)


def count_lines(ids):
    return int(np.count_nonzero(ids == EOS_ID))


class Batches:
    """Windows of a token stream for truncated BPTT.

    The stream is cut into N rows that are read in parallel, each left to right in
    windows of T steps; the state at the end of one window is where the row's next
    window starts. With ``lines`` framing rows are cut at line ends, so every row
    starts a line and no line is split between two rows; rows of unequal length are
    padded at the end and the padding is masked out of the loss.

    The input at each position is the previous token of the stream; where a line
    starts it is EOS, which the model reads as x⟨1⟩ = 0 and a state reset.
    """

    def __init__(self, ids, N, T, lines=True):
        if len(ids) == 0:
            raise CorpusError("nothing to train on: the corpus has no tokens")
        self.ids = ids
        self.N, self.T = N, T
        self.lines = lines
        self.line_ends = np.flatnonzero(ids == EOS_ID) if lines else None

    def _layout(self, ids):
        """(x, y, mask) as (N, R) arrays for one ordering of the stream."""
        L = len(ids)
        N = min(self.N, L)
        if self.lines:
            ends = np.flatnonzero(ids == EOS_ID) + 1
            want = (np.arange(1, N) * L) // N
            cuts = ends[np.minimum(np.searchsorted(ends, want), len(ends) - 1)]
            bounds = np.unique(np.concatenate(([0], cuts, [L])))
        else:
            bounds = np.linspace(0, L, N + 1).round().astype(np.int64)
            bounds = np.unique(bounds)
        starts, stops = bounds[:-1], bounds[1:]
        R = int((stops - starts).max())
        x = np.full((len(starts), R), EOS_ID, dtype=ids.dtype)
        y = np.full((len(starts), R), EOS_ID, dtype=ids.dtype)
        mask = np.zeros((len(starts), R), dtype=bool)
        for r, (a, b) in enumerate(zip(starts, stops)):
            n = b - a
            y[r, :n] = ids[a:b]
            x[r, 1:n] = ids[a:b - 1]
            x[r, 0] = ids[a - 1] if a > 0 and not self.lines else EOS_ID
            mask[r, :n] = True
        return x, y, mask

    def epoch(self, rng=None):
        """The windows of one pass over the stream, as an :class:`Epoch`. With ``rng``
        and ``lines`` framing the line order is shuffled first."""
        ids = self.ids
        if rng is not None and self.lines:
            ids = shuffle_lines(ids, self.line_ends, rng)
        return Epoch(*self._layout(ids), self.T)

    def tokens(self):
        return len(self.ids)


class Epoch:
    """``len(epoch)`` windows; ``epoch[i]`` is (x, y, mask), each (N, ≤T), with
    ``mask`` None when the window holds no padding."""

    def __init__(self, x, y, mask, T):
        self.x, self.y, self.mask, self.T = x, y, mask, T

    def __len__(self):
        return -(-self.x.shape[1] // self.T)

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(i)
        sl = slice(i * self.T, (i + 1) * self.T)
        m = self.mask[:, sl]
        return self.x[:, sl], self.y[:, sl], None if m.all() else m.astype(np.float32)


def shuffle_lines(ids, line_ends, rng):
    """The stream with its lines (each with its EOS) in a random order."""
    starts = np.concatenate(([0], line_ends[:-1] + 1))
    lengths = line_ends - starts + 1
    order = rng.permutation(len(starts))
    new_lengths = lengths[order]
    offsets = np.repeat(starts[order] - (np.cumsum(new_lengths) - new_lengths), new_lengths)
    return ids[offsets + np.arange(len(offsets))]


def expand_paths(paths):
    """Files to read: each path as given, or every ``*.txt`` below a directory."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(
                os.path.join(root, f)
                for root, _, files in os.walk(p) for f in files if f.endswith(".txt"))
            if not found:
                raise CorpusError(f"{p}: directory holds no *.txt files")
            out.extend(found)
        else:
            out.append(p)
    return out


# --- from sources to training data ---------------------------------------------------

def resolve_sources(sources, encoding_errors="strict", stdin_bytes=None):
    """Texts to train on, as [(name, text)].

    Each source is a file, a directory (every ``*.txt`` below it), ``-`` for standard
    input (its bytes passed as ``stdin_bytes``), or the name of a bundled corpus.
    No sources means the bundled default corpus.
    """
    from charlm import bundled

    if not sources:
        sources = [bundled.DEFAULT]
    out = []
    for src in sources:
        if src == "-":
            if stdin_bytes is None:
                raise CorpusError("standard input is not available")
            out.append(("<stdin>", decode_bytes(stdin_bytes, "<stdin>", encoding_errors)))
        elif os.path.exists(src):
            for path in expand_paths([src]):
                out.append((path, read_text(path, encoding_errors)))
        elif bundled.find(src) is not None:
            out.append((f"bundled:{src}", bundled.read(src)))
        else:
            raise CorpusError(f"{src}: no such file, directory or bundled corpus "
                              f"(bundled: {', '.join(bundled.names())})")
    return out


@dataclass
class Prepared:
    """A corpus ready for training: the vocabulary and both parts as id streams."""

    vocab: Vocab
    train_ids: np.ndarray
    val_ids: np.ndarray
    types: int                 # distinct tokens in the whole corpus
    unk_rate: float            # share of training tokens that became UNK


def prepare(texts, cfg, val_fraction, rng, min_count=1, max_vocab=None, vocab=None):
    """Tokenize, hold out validation, build (or apply) the vocabulary, encode."""
    stream = type_stream(texts, cfg)
    if len(stream) == 0 or (cfg.split == "lines" and count_lines(stream.ids) == 0):
        raise CorpusError("nothing to train on: the corpus has no non-empty lines")
    train_t, val_t = split_validation(stream, val_fraction, cfg.split, rng)
    if vocab is None:
        vocab = build_vocab(stream, train_t, min_count, max_vocab)
    train_ids = encode(stream, train_t, vocab)
    val_ids = encode(stream, val_t, vocab)
    unk = float(np.count_nonzero(train_ids == UNK_ID)) / max(1, len(train_ids))
    return Prepared(vocab, train_ids, val_ids, len(stream.types) - 1, unk)
