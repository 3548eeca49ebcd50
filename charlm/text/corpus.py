"""From text files to the token-id streams that training reads.

Steps, each a function here:

1. :func:`resolve_sources` turns corpus arguments (files, directories, ``-``,
   bundled names) into :class:`~charlm.text.reader.Source` objects.
2. :func:`type_stream` reads them chunk by chunk (:mod:`charlm.text.reader`) and turns
   the text into a stream of *type* ids: every distinct token gets one, id 0 marks
   the end of a line (``--split lines``). At character level this is vectorised over
   code points. Memory holds the id stream (2 bytes a token, 4 beyond 65,535 types)
   and the distinct tokens, never the text itself.
3. :func:`prepare` holds out validation — whole random lines (``lines``) or the tail
   of the stream (``none``) — counts types in the training part only, builds the
   vocabulary (``min_count``/``max_vocab``), and encodes both parts in the smallest
   integer dtype the vocabulary allows, working through the stream in blocks.
4. :class:`Batches` cuts a stream into N rows and windows of T steps for truncated
   backpropagation through time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from charlm.errors import CorpusError
from charlm.text.reader import CHUNK_BYTES, Source, read_chunks
from charlm.text.tokens import NEWLINE, TOKEN_PATTERN, GRAPHEME_PATTERN, normalize_text
from charlm.text.vocab import EOS, EOS_ID, UNK_ID, Vocab

_UNSEEN = np.uint32(0xFFFFFFFF)
_BLOCK = 1 << 23                # tokens per block when splitting and encoding
# Hashes of corpus lines (for `generate --novel`) are kept up to this many lines.
MAX_NOVEL_LINES = 1_000_000


# --- sources ----------------------------------------------------------------------------

def expand_paths(paths):
    """Files to read: each path as given, or every ``*.txt`` below a directory."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(
                os.path.join(root, f)
                for root, _, files in os.walk(p) for f in files if f.endswith(".txt"))
            if not found:
                raise CorpusError(f"{p}: directory holds no *.txt files; name the files "
                                  "to read")
            out.extend(found)
        else:
            out.append(p)
    return out


def resolve_sources(sources, stdin_bytes=None):
    """:class:`Source` objects for corpus arguments.

    Each argument is a file, a directory (every ``*.txt`` below it), ``-`` for
    standard input (its bytes passed as ``stdin_bytes``), or the name of a bundled
    corpus. No arguments means the bundled default corpus.
    """
    from charlm.text import bundled

    if not sources:
        sources = [bundled.DEFAULT]
    out = []
    for src in sources:
        if src == "-":
            if stdin_bytes is None:
                raise CorpusError("standard input is not available")
            out.append(Source("<stdin>", data=stdin_bytes))
        elif os.path.exists(src):
            out.extend(Source(path, path=path) for path in expand_paths([src]))
        elif bundled.find(src) is not None:
            out.append(Source(f"bundled:{src}", data=bundled.read(src).encode("utf-8")))
        else:
            raise CorpusError(f"{src}: no such file, directory or bundled corpus "
                              f"(bundled: {', '.join(bundled.names())})")
    return out


# --- the type stream -----------------------------------------------------------------------

@dataclass
class TypeStream:
    """A corpus as type ids. ``types[i]`` is the text of type i; type 0 is EOS.
    ``line_keys``: sorted hashes of the corpus lines (line framing, up to
    MAX_NOVEL_LINES lines), else None."""

    ids: np.ndarray        # (L,) uint16 or uint32; empty when only counted
    types: list
    line_keys: np.ndarray | None = None
    counts: np.ndarray | None = None    # (len(types),) int64, when counted

    def __len__(self):
        return len(self.ids)


class _Builder:
    """Accumulates type ids chunk by chunk (see :func:`type_stream`)."""

    def __init__(self, cfg, capacity, collect_lines, keep_ids=True):
        self.cfg = cfg
        self.lines = cfg.split == "lines"
        # Without keep_ids only the count of every type is kept: memory then depends
        # on the number of types, not on the corpus size.
        self.ids = np.empty(max(capacity, 16) if keep_ids else 0, dtype=np.uint16)
        self.counts = None if keep_ids else np.zeros(16, dtype=np.int64)
        self.n = 0
        self.types = [EOS]
        self.index = {}
        if self.lines:
            self.index[NEWLINE] = 0                   # a line end is EOS
        self.char = cfg.level == "char" and not cfg.graphemes
        if self.char:
            self.lut = np.full(0x110000, _UNSEEN, dtype=np.uint32)
            if self.lines:
                self.lut[10] = 0
        self.at_line_start = True
        # The distinct lines seen (hashed at the end, for `generate --novel`).
        self.seen_lines = set() if collect_lines and self.lines else None

    # -- ids of one chunk --

    def _char_ids(self, text):
        cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = self.lut[cp]
        if (ids == _UNSEEN).any():
            new = np.unique(cp[ids == _UNSEEN])
            self.lut[new] = np.arange(len(self.types), len(self.types) + len(new),
                                      dtype=np.uint32)
            self.types.extend(chr(c) for c in new)
            ids = self.lut[cp]
        return ids

    def _token_ids(self, text):
        if self.cfg.level == "word":
            toks = [m.group() for m in TOKEN_PATTERN.finditer(text)]
        else:
            toks = GRAPHEME_PATTERN.findall(text)
        index = self.index
        # Sorted, so type ids do not depend on the interpreter's hash seed.
        for tok in sorted(set(toks).difference(index)):
            index[tok] = len(self.types)
            self.types.append(tok)
        return np.fromiter(map(index.__getitem__, toks), dtype=np.uint32, count=len(toks))

    # -- feeding --

    def feed(self, text, last):
        """Add one chunk of normalised text; ``last`` ends its source."""
        if not text:
            return
        if self.seen_lines is not None:
            self.seen_lines.update(text.split(NEWLINE))
            if len(self.seen_lines) > MAX_NOVEL_LINES + 1:
                self.seen_lines = None
        ids = self._char_ids(text) if self.char else self._token_ids(text)
        ends_line = text.endswith(NEWLINE)
        if self.lines:
            # A line end right after another (or at the start) closes an empty line.
            nl = ids == 0
            empty = nl & np.concatenate(([self.at_line_start], nl[:-1]))
            if empty.any():
                ids = ids[~empty]
            if last and not ends_line and len(ids) and ids[-1] != 0:
                ids = np.append(ids, np.uint32(0))      # the last line ends too
            self.at_line_start = ends_line or last
        elif last and not ends_line:
            ids = np.append(ids, np.uint32(self._newline_type()))
        self._append(ids)

    def _newline_type(self):
        if self.char:
            if self.lut[10] == _UNSEEN:
                self.lut[10] = len(self.types)
                self.types.append(NEWLINE)
            return int(self.lut[10])
        if NEWLINE not in self.index:
            self.index[NEWLINE] = len(self.types)
            self.types.append(NEWLINE)
        return self.index[NEWLINE]

    def _append(self, ids):
        if self.counts is not None:
            if len(self.types) > len(self.counts):
                grown = np.zeros(max(len(self.types), 2 * len(self.counts)), dtype=np.int64)
                grown[:len(self.counts)] = self.counts
                self.counts = grown
            self.counts[:len(self.types)] += np.bincount(ids, minlength=len(self.types))
            self.n += len(ids)
            return
        need = self.n + len(ids)
        if len(self.types) > 0xFFFF and self.ids.dtype == np.uint16:
            self.ids = self.ids.astype(np.uint32)
        if need > len(self.ids):
            grown = np.empty(max(need, int(len(self.ids) * 1.5)), dtype=self.ids.dtype)
            grown[:self.n] = self.ids[:self.n]
            self.ids = grown
        self.ids[self.n:need] = ids
        self.n = need

    def finish(self):
        ids = self.ids[:self.n]
        if len(ids) < len(self.ids) // 2:
            ids = ids.copy()
        counts = None if self.counts is None else self.counts[:len(self.types)].copy()
        return TypeStream(ids, self.types, self._line_keys(), counts)

    def _line_keys(self):
        """Sorted hashes of the distinct non-empty lines, keyed as samples are."""
        if self.seen_lines is None:
            return None
        from charlm.text.tokens import key_join, line_key, split_tokens, text_key

        lines = [line for line in self.seen_lines if line]
        if self.cfg.level == "char":
            keys = {text_key(line) for line in lines}       # tokens joined by "" = the line
        else:
            join = key_join(self.cfg)
            keys = {line_key(split_tokens(line, self.cfg), join) for line in lines}
            keys.discard(line_key([], join))
        return np.array(sorted(keys), dtype=np.uint64)


def type_stream(sources, cfg, encoding_errors="strict", collect_lines=False, progress=None,
                oddities=None, chunk_bytes=None, long_line=10000, keep_ids=True):
    """Tokenize ``sources`` into one :class:`TypeStream`.

    ``sources``: :class:`Source` objects, or strings (text, for small inputs and tests).
    ``lines``: each non-empty line becomes its tokens followed by EOS.
    ``none``: sources are joined into one stream (a newline added after a source that
    does not end with one) and the newline is an ordinary token.
    ``collect_lines``: also keep hashes of the lines (for ``generate --novel``).
    ``progress``: called with (bytes read, bytes in all) after every chunk.
    ``oddities``: a dict filled with an :class:`~charlm.text.reader.Oddities` per source.
    ``chunk_bytes``: read size (the result does not depend on it).
    ``long_line``: with ``oddities``, report lines longer than this.
    ``keep_ids``: False keeps only ``counts`` (how often each type occurs) and an
    empty ``ids``, so memory does not grow with the corpus (reports).
    """
    from charlm.text.reader import Oddities

    sources = [s if isinstance(s, Source) else Source("<text>", data=s.encode("utf-8"))
               for s in sources]
    total = sum(s.size() for s in sources)
    builder = _Builder(cfg, total + len(sources), collect_lines, keep_ids)
    done = 0
    for src in sources:
        odd = None
        if oddities is not None:
            odd = oddities[src.name] = Oddities()
        for chunk in read_chunks(src, encoding_errors, chunk_bytes or CHUNK_BYTES,
                                 oddities=odd, long_line=long_line):
            builder.feed(normalize_text(chunk.text, cfg), chunk.last)
            done += chunk.nbytes
            if progress is not None:
                progress(done, total)
    stream = builder.finish()
    if cfg.reverse and len(stream.ids):
        stream.ids = reverse_lines(stream.ids)
    return stream


def reverse_lines(ids):
    """Each line's tokens (the ids before each EOS, id 0) in reverse order, the EOS
    where they were: a backward model's stream. Works through blocks of lines so that
    its index arrays stay small whatever the corpus size."""
    out = ids.copy()
    ends = np.flatnonzero(ids == 0)
    if not len(ends):
        return out
    starts = np.concatenate(([0], ends[:-1] + 1))
    for i0, i1 in _line_blocks(ends - starts + 1):
        idx = np.arange(starts[i0], ends[i1 - 1] + 1)
        line = np.searchsorted(ends[i0:i1], idx) + i0       # the line holding each position
        src = starts[line] + ends[line] - 1 - idx           # its mirror within the line
        eos = idx == ends[line]
        src[eos] = idx[eos]
        out[idx] = ids[src]
    return out


# --- validation split, vocabulary, encoding -----------------------------------------------

@dataclass
class Prepared:
    """A corpus ready for training: the vocabulary and both parts as id streams."""

    vocab: Vocab
    train_ids: np.ndarray
    val_ids: np.ndarray
    types: int                 # distinct tokens in the whole corpus
    unk_rate: float            # share of training tokens that became UNK
    line_keys: np.ndarray | None = None
    val_unk_rate: float = 0.0  # share of validation tokens that are UNK (--dev text)


def _line_blocks(lengths, block=_BLOCK):
    """Runs of consecutive lines of about ``block`` tokens: [(first, stop), ...]."""
    bounds = np.searchsorted(np.cumsum(lengths), np.arange(block, lengths.sum(), block))
    edges = np.unique(np.concatenate(([0], bounds + 1, [len(lengths)])))
    return list(zip(edges[:-1], edges[1:]))


def split_plan(ids, fraction, split, rng, max_tokens=None):
    """How to hold out validation: ("none", cut) — the stream's tail from ``cut`` — or
    ("lines", starts, lengths, is_val) for whole random lines. At most about
    ``max_tokens`` tokens are held out."""
    L = len(ids)
    if split == "none":
        n_val = int(round(L * fraction)) if fraction > 0 else 0
        if max_tokens is not None:
            n_val = min(n_val, max_tokens)
        return ("none", L - n_val)
    ends = np.flatnonzero(ids == 0)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1                                   # EOS included
    n_lines = len(ends)
    n_val = int(round(n_lines * fraction)) if fraction > 0 else 0
    if max_tokens is not None and n_lines:
        n_val = min(n_val, max(1, int(max_tokens * n_lines / max(L, 1))))
    is_val = np.zeros(n_lines, dtype=bool)
    if n_lines >= 2 and n_val > 0:
        is_val[rng.permutation(n_lines)[:min(n_val, n_lines - 1)]] = True
    return ("lines", starts, lengths, is_val)


def _parts(ids, plan, want_val):
    """Yield the pieces of the training (or validation) part, block by block."""
    if plan[0] == "none":
        cut = plan[1]
        part = (cut, len(ids)) if want_val else (0, cut)
        for a in range(part[0], part[1], _BLOCK):
            yield ids[a:min(a + _BLOCK, part[1])]
        return
    _, starts, lengths, is_val = plan
    keep = is_val if want_val else ~is_val
    for i0, i1 in _line_blocks(lengths):
        a = starts[i0]
        b = starts[i1 - 1] + lengths[i1 - 1]
        mask = np.repeat(keep[i0:i1], lengths[i0:i1])
        block = ids[a:b]
        yield block if mask.all() else block[mask]


def _part_size(ids, plan, want_val):
    if plan[0] == "none":
        return len(ids) - plan[1] if want_val else plan[1]
    _, _, lengths, is_val = plan
    n_val = int(lengths[is_val].sum())
    return n_val if want_val else int(lengths.sum()) - n_val


def build_vocab(stream, counts, min_count=1, max_vocab=None):
    """A :class:`Vocab` from type counts (EOS is always in)."""
    counts = np.asarray(counts).copy()
    counts[0] = 0
    return Vocab.build(stream.types, counts.tolist(), min_count, max_vocab)


def encode_lut(stream, vocab):
    """Type id → vocabulary id (UNK for types outside it), in the vocabulary's dtype."""
    lut = np.full(len(stream.types), UNK_ID, dtype=vocab.dtype)
    for i, tok in enumerate(stream.types):
        j = vocab.index.get(tok)
        if j is not None:
            lut[i] = j
    lut[0] = EOS_ID
    return lut


def encode(stream, ids, vocab):
    """Type ids → vocabulary ids (UNK for types outside the vocabulary)."""
    return encode_lut(stream, vocab)[ids]


def split_validation(stream, fraction, split, rng, max_tokens=None):
    """(train ids, validation ids) as type ids (small corpora and tests)."""
    plan = split_plan(stream.ids, fraction, split, rng, max_tokens)
    cat = lambda want: (np.concatenate(list(_parts(stream.ids, plan, want)))
                        if _part_size(stream.ids, plan, want) else stream.ids[:0])
    return cat(False), cat(True)


def prepare(stream, cfg, val_fraction, rng, min_count=1, max_vocab=None, vocab=None,
            val_max_tokens=None):
    """Hold out validation, build (or apply) the vocabulary, encode both parts.

    ``stream`` is a :class:`TypeStream` (or a list of texts, tokenized first). The
    work goes block by block, so besides the stream only the encoded parts (one byte
    a token for vocabularies up to 256) are held in memory.
    """
    if not isinstance(stream, TypeStream):
        stream = type_stream(stream, cfg)
    ids = stream.ids
    if len(ids) == 0 or (cfg.split == "lines" and not (ids == 0).any()):
        raise CorpusError("nothing to train on: the corpus has no non-empty lines")
    if not any(t.strip() for t in stream.types[1:]):
        raise CorpusError("no text to learn from: the corpus holds only empty or blank "
                          "lines; check that it is the file you meant")
    plan = split_plan(ids, val_fraction, cfg.split, rng, val_max_tokens)
    if vocab is None:
        counts = np.zeros(len(stream.types), dtype=np.int64)
        for part in _parts(ids, plan, want_val=False):
            counts += np.bincount(part, minlength=len(counts))
        vocab = build_vocab(stream, counts, min_count, max_vocab)
    lut = encode_lut(stream, vocab)
    out = []
    for want_val in (False, True):
        arr = np.empty(_part_size(ids, plan, want_val), dtype=vocab.dtype)
        pos = 0
        for part in _parts(ids, plan, want_val):
            arr[pos:pos + len(part)] = lut[part]
            pos += len(part)
        out.append(arr)
    train_ids, val_ids = out
    if len(train_ids) == 0:
        raise CorpusError("nothing to train on: every line went to validation")
    unk = float(np.count_nonzero(train_ids == UNK_ID)) / max(1, len(train_ids))
    return Prepared(vocab, train_ids, val_ids, len(stream.types) - 1, unk, stream.line_keys)


def encode_dev(stream, vocab, cfg, name, max_tokens=None):
    """Validation ids from separate dev text (``train --dev``), encoded with the
    training vocabulary: a token outside it becomes UNK and counts in the loss, as
    ``charlm score`` counts it. At most about ``max_tokens`` tokens are kept, cut at
    a line end when lines frame the text. Returns (ids, share of UNK)."""
    if len(stream.ids) == 0 or not any(t.strip() for t in stream.types[1:]):
        raise CorpusError(f"{name}: the dev text is empty; --dev needs text to "
                          "validate on")
    ids = stream.ids
    if max_tokens is not None and len(ids) > max_tokens:
        cut = max_tokens
        if cfg.split == "lines":
            ends = np.flatnonzero(ids[:max_tokens] == 0)
            cut = ends[-1] + 1 if len(ends) else int(np.flatnonzero(ids == 0)[0]) + 1
        ids = ids[:cut]
    out = encode_lut(stream, vocab)[ids]
    return out, float(np.count_nonzero(out == UNK_ID)) / max(1, len(out))


# --- batches for truncated BPTT ---------------------------------------------------------

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
        """Rows of targets (N, R), each row's length, and each row's first input."""
        L = len(ids)
        N = min(self.N, L)
        if self.lines:
            ends = np.flatnonzero(ids == EOS_ID) + 1
            want = (np.arange(1, N) * L) // N
            cuts = ends[np.minimum(np.searchsorted(ends, want), len(ends) - 1)]
            bounds = np.unique(np.concatenate(([0], cuts, [L])))
        else:
            bounds = np.unique(np.linspace(0, L, N + 1).round().astype(np.int64))
        starts, stops = bounds[:-1], bounds[1:]
        lengths = stops - starts
        R = int(lengths.max())
        y = np.full((len(starts), R), EOS_ID, dtype=ids.dtype)
        first = np.full(len(starts), EOS_ID, dtype=ids.dtype)
        for r, (a, b) in enumerate(zip(starts, stops)):
            y[r, :b - a] = ids[a:b]
            if a > 0 and not self.lines:
                first[r] = ids[a - 1]
        return y, lengths, first

    def epoch(self, rng=None):
        """The windows of one pass over the stream, as an :class:`Epoch`. With ``rng``
        and ``lines`` framing the line order is shuffled first."""
        ids = self.ids
        if rng is not None and self.lines:
            ids = shuffle_lines(ids, self.line_ends, rng)
        return Epoch(*self._layout(ids), self.T)

    def tokens(self):
        return len(self.ids)

    def __len__(self):
        """Windows in a pass (for line framing, rows cut at line ends may make it a
        few more)."""
        row = -(-len(self.ids) // min(self.N, len(self.ids)))      # tokens a row, rounded up
        return -(-row // self.T)


class Epoch:
    """``len(epoch)`` windows; ``epoch[i]`` is (x, y, mask), each (N, ≤T), with
    ``mask`` None when the window holds no padding. Only the targets are stored: a
    window's inputs are its targets shifted by one, and its mask follows from the
    rows' lengths."""

    def __init__(self, y, lengths, first, T):
        self.y, self.lengths, self.first, self.T = y, lengths, first, T

    def __len__(self):
        return -(-self.y.shape[1] // self.T)

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(i)
        t0 = i * self.T
        y = self.y[:, t0:t0 + self.T]
        x = np.empty_like(y)
        x[:, 1:] = y[:, :-1]
        x[:, 0] = self.first if t0 == 0 else self.y[:, t0 - 1]
        if (self.lengths >= t0 + y.shape[1]).all():
            return x, y, None
        mask = (np.arange(t0, t0 + y.shape[1])[None, :] < self.lengths[:, None])
        return x, y, mask.astype(np.float32)


def shuffle_lines(ids, line_ends, rng, block=_BLOCK):
    """The stream with its lines (each with its EOS) in a random order.

    Up to ``block`` tokens this is a uniform permutation of the lines. Longer streams
    are shuffled in two levels — the order of blocks of consecutive lines, then the
    lines inside each block — so the index arrays stay small whatever the corpus size.
    """
    starts = np.concatenate(([0], line_ends[:-1] + 1))
    lengths = line_ends - starts + 1
    blocks = _line_blocks(lengths, block)
    out = np.empty_like(ids)
    pos = 0
    for b in rng.permutation(len(blocks)):
        i0, i1 = blocks[b]
        order = rng.permutation(i1 - i0) + i0
        ln = lengths[order]
        offsets = np.repeat(starts[order] - (np.cumsum(ln) - ln), ln)
        seg = ids[offsets + np.arange(len(offsets))]
        out[pos:pos + len(seg)] = seg
        pos += len(seg)
    return out
