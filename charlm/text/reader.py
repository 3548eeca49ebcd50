"""Reading text in chunks: sources, UTF-8 decoding, line endings, and a record of what
is odd about a file.

A file is read in pieces of about :data:`CHUNK_BYTES` cut just after a newline, so a
chunk never splits a line, a UTF-8 sequence, a CRLF pair or anything Unicode
normalisation looks at together. Memory therefore depends on the chunk size, not on
the file's size. Every chunk is decoded (a leading byte-order mark dropped) and its
line endings made ``\\n`` (CRLF and lone CR both count as one line end).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

import numpy as np
import regex

from charlm.errors import CorpusError

CHUNK_BYTES = 1 << 23           # 8 MiB
BOM = b"\xef\xbb\xbf"
# C0 controls other than tab, line feed and carriage return; DEL; C1 controls.
CONTROL = regex.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
SURROGATE = regex.compile(r"[\udc80-\udcff]")     # undecodable bytes (surrogateescape)


@dataclass
class Source:
    """Text to read: a file, or bytes already in memory (stdin, a bundled corpus)."""

    name: str
    path: str | None = None
    data: bytes | None = None

    def open(self):
        if self.path is not None:
            try:
                return open(self.path, "rb")
            except FileNotFoundError:
                raise CorpusError(f"{self.path}: no such file") from None
            except IsADirectoryError:
                raise CorpusError(f"{self.path}: is a directory, expected a text file") \
                    from None
            except OSError as e:
                raise CorpusError(f"{self.path}: cannot read: {e.strerror}") from None
        return io.BytesIO(self.data or b"")

    def size(self):
        if self.path is not None:
            try:
                return os.path.getsize(self.path)
            except OSError:
                return 0
        return len(self.data or b"")


def check_readable(sources):
    """Raise the reader's own one-line error for a source file that is missing, a
    directory or unreadable, before any work is done (or any output file is looked at)."""
    for source in sources:
        if source.path is not None:
            source.open().close()


@dataclass
class Chunk:
    text: str           # decoded, "\n" line ends; ends with "\n" unless it is the last
    first_line: int     # 1-based number of its first line in the source
    byte_offset: int    # of its first byte in the source
    nbytes: int
    last: bool          # the last chunk of its source


@dataclass
class Oddities:
    """What a careful user wants to know about a file before training on it."""

    bytes: int = 0
    lines: int = 0
    chars: int = 0
    words: int = 0                   # whitespace-separated
    nul_bytes: int = 0
    control_chars: int = 0
    bom: bool = False                # a byte-order mark at the start
    crlf: int = 0
    lone_cr: int = 0
    long_lines: int = 0
    longest_line: int = 0            # characters
    longest_line_at: int = 0         # its line number
    invalid_utf8: int = 0            # undecodable bytes
    first: dict = field(default_factory=dict)   # what → "line N, byte B"

    def note_first(self, what, line, byte):
        self.first.setdefault(what, {"line": line, "byte": byte})


def read_chunks(source, encoding_errors="strict", chunk_bytes=CHUNK_BYTES, oddities=None,
                long_line=10000):
    """Yield the :class:`Chunk` objects of ``source``.

    ``encoding_errors``: "strict" stops at the first invalid UTF-8 with a
    :class:`CorpusError` naming the line and byte offset; "replace" puts U+FFFD
    instead. With ``oddities`` (an :class:`Oddities`) the chunks are also inspected,
    and invalid bytes are counted instead of stopping.
    """
    line = 1
    offset = 0
    carry = b""
    first = True
    with source.open() as f:
        while True:
            data = f.read(chunk_bytes)
            eof = not data
            buf = carry + data if carry else data
            if eof:
                piece, carry = buf, b""
            else:
                cut = buf.rfind(b"\n") + 1
                if cut == 0:            # no line end yet: a very long line, read on
                    carry = buf
                    continue
                piece, carry = buf[:cut], buf[cut:]
            start = offset
            if first:
                first = False
                if piece.startswith(BOM):
                    piece = piece[len(BOM):]
                    offset += len(BOM)
                    start = offset
                    if oddities is not None:
                        oddities.bom = True
                        oddities.bytes += len(BOM)
            if oddities is None and b"\x00" in piece:
                i = piece.find(b"\x00")
                at = line + piece.count(b"\n", 0, i)
                raise CorpusError(
                    f"{source.name}: a NUL byte at line {at}, byte offset {start + i}: this "
                    "looks like a binary file, not text (`charlm tokenize` shows what is "
                    "in it)")
            text = _decode(piece, source.name, line, start, encoding_errors, oddities)
            if oddities is not None:
                _inspect(piece, text, line, start, oddities, long_line, eof)
            if "\r" in text:
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            yield Chunk(text, line, start, len(piece), eof)
            line += piece.count(b"\n")
            offset += len(piece)
            if eof:
                return


def _decode(piece, name, line, start, errors, oddities):
    if oddities is not None:
        text = piece.decode("utf-8", errors="surrogateescape")
        bad = SURROGATE.search(text)
        if bad is not None:
            n = len(SURROGATE.findall(text))
            oddities.invalid_utf8 += n
            byte = len(text[:bad.start()].encode("utf-8", "surrogateescape"))
            oddities.note_first("invalid_utf8", line + text.count("\n", 0, bad.start()),
                                start + byte)
            text = SURROGATE.sub("\ufffd", text)
        return text
    try:
        return piece.decode("utf-8", errors=errors)
    except UnicodeDecodeError as e:
        at = line + piece.count(b"\n", 0, e.start)
        raise CorpusError(
            f"{name}: invalid UTF-8 at line {at}, byte offset {start + e.start}; "
            "convert the file to UTF-8 or pass --encoding-errors replace") from None


def _inspect(piece, text, line, start, odd, long_line, eof):
    odd.bytes += len(piece)
    newlines = piece.count(b"\n")
    odd.lines += newlines + (1 if eof and piece and not piece.endswith(b"\n") else 0)
    odd.chars += len(text) - text.count("\r\n")
    odd.words += len(text.split())
    nul = piece.count(b"\x00")
    if nul:
        odd.nul_bytes += nul
        i = piece.find(b"\x00")
        odd.note_first("nul", line + piece.count(b"\n", 0, i), start + i)
    controls = CONTROL.findall(text)
    if controls:
        odd.control_chars += len(controls)
        m = CONTROL.search(text)
        odd.note_first("control", line + text.count("\n", 0, m.start()),
                       start + len(text[:m.start()].encode("utf-8", "surrogatepass")))
    crlf = piece.count(b"\r\n")
    cr = piece.count(b"\r") - crlf
    if crlf:
        odd.crlf += crlf
        i = piece.find(b"\r\n")
        odd.note_first("crlf", line + piece.count(b"\n", 0, i), start + i)
    if cr:
        odd.lone_cr += cr
    # Line lengths from the positions of the line ends, in bytes; a line is at most as
    # long in characters, so only lines over the limit in bytes need decoding.
    ends = np.flatnonzero(np.frombuffer(piece, dtype=np.uint8) == 10)
    tail = [len(piece)] if eof and not piece.endswith(b"\n") else []
    bounds = np.concatenate((np.array([-1]), ends, np.array(tail, dtype=np.int64)))
    lengths = np.diff(bounds) - 1
    if not len(lengths):
        return

    def chars(k):
        raw = piece[bounds[k] + 1:bounds[k] + 1 + lengths[k]]
        return len(raw.decode("utf-8", "replace").rstrip("\r"))

    k = int(np.argmax(lengths))
    if lengths[k] > odd.longest_line and chars(k) > odd.longest_line:
        odd.longest_line, odd.longest_line_at = chars(k), line + k
    for k in np.flatnonzero(lengths > long_line):
        if chars(k) > long_line:
            odd.long_lines += 1
            odd.note_first("long_line", line + int(k), start + int(bounds[k]) + 1)
