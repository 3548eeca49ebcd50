"""What is in a corpus, before training on it (``charlm tokenize``), and vocabulary
files that several models can share.

:func:`analyze` reads the sources once, chunk by chunk, and returns a plain dict:
sizes (bytes, lines, characters, words), the tokens and their distinct types, the
vocabulary that ``min_count``/``max_vocab`` would give and how much of the text it
covers (the rest becomes UNK), the most frequent and the rarest tokens, and anything
suspicious: control characters, NUL bytes, a byte-order mark, CR or CRLF line ends,
over-long lines, invalid UTF-8 — each with where it first occurs.
"""

from __future__ import annotations

import json

import numpy as np

from charlm.text.corpus import build_vocab, type_stream
from charlm.errors import ModelFileError, UsageError
from charlm.files import atomic_write
from charlm.text.tokens import TextConfig, display_token
from charlm.text.vocab import Vocab

VOCAB_FORMAT = "charlm-vocab"
VOCAB_VERSION = 1


def analyze(sources, cfg, min_count=1, max_vocab=None, long_line=10000, top=20,
            progress=None):
    """A report on ``sources`` (:class:`~charlm.text.reader.Source` objects) as ``cfg``
    would tokenize them. Returns (report dict, the Vocab it describes)."""
    oddities = {}
    # Counted chunk by chunk: memory holds the types and their counts, never the ids.
    stream = type_stream(sources, cfg, encoding_errors="replace", progress=progress,
                         oddities=oddities, long_line=long_line, keep_ids=False)
    counts = stream.counts
    lines = int(counts[0]) if cfg.split == "lines" else None
    counts[0] = 0
    vocab = build_vocab(stream, counts, min_count, max_vocab)
    tokens = int(counts.sum())
    in_vocab = int(sum(counts[i] for i, t in enumerate(stream.types) if t in vocab.index
                       and i != 0))
    # Ties broken by the token's text, so the report is the same on every run.
    seen = [(int(c), t) for t, c in zip(stream.types[1:], counts[1:]) if c > 0]
    frequent = [[t, c] for c, t in sorted(seen, key=lambda ct: (-ct[0], ct[1]))[:top]]
    rarest = [[t, c] for c, t in sorted(seen)[:min(top, 10)]]
    files = []
    totals = {"bytes": 0, "lines": 0, "chars": 0, "words": 0}
    suspicious = []
    for src in sources:
        odd = oddities[src.name]
        f = {"name": src.name, "bytes": odd.bytes, "lines": odd.lines, "chars": odd.chars,
             "words": odd.words, "nul_bytes": odd.nul_bytes,
             "control_chars": odd.control_chars, "bom": odd.bom, "crlf_lines": odd.crlf,
             "lone_cr": odd.lone_cr, "long_lines": odd.long_lines,
             "longest_line": odd.longest_line, "longest_line_at": odd.longest_line_at,
             "invalid_utf8_bytes": odd.invalid_utf8, "first": odd.first}
        files.append(f)
        for k in totals:
            totals[k] += f[k]
        suspicious.extend(_findings(src.name, odd, long_line))
    if not any(t.strip() for t, c in zip(stream.types[1:], counts[1:]) if c > 0):
        suspicious.append("no text to learn from: only empty or blank lines; "
                          "`charlm train` refuses it")
    report = {
        "files": files,
        "total": totals,
        "text": cfg.to_dict(),
        "examples": lines,
        "tokens": tokens,
        "types": len(stream.types) - 1,
        "vocab": {"size": len(vocab), "min_count": min_count, "max_vocab": max_vocab,
                  "coverage": in_vocab / tokens if tokens else 1.0,
                  "unk_tokens": tokens - in_vocab,
                  "unk_types": len(stream.types) - 1 - (len(vocab) - 2)},
        "most_frequent": frequent,
        "rarest": rarest,
        "suspicious": suspicious,
    }
    return report, vocab


def _where(first, what):
    f = first.get(what)
    return f" (first at line {f['line']}, byte {f['byte']})" if f else ""


def _findings(name, odd, long_line):
    out = []
    if odd.invalid_utf8:
        out.append(f"{name}: {odd.invalid_utf8} bytes of invalid UTF-8"
                   f"{_where(odd.first, 'invalid_utf8')}; training stops there unless "
                   "--encoding-errors replace")
    if odd.nul_bytes:
        out.append(f"{name}: {odd.nul_bytes} NUL bytes{_where(odd.first, 'nul')}: "
                   "is this a binary file?")
    if odd.control_chars:
        out.append(f"{name}: {odd.control_chars} control characters"
                   f"{_where(odd.first, 'control')}")
    if odd.bom:
        out.append(f"{name}: starts with a byte-order mark (ignored)")
    if odd.crlf:
        out.append(f"{name}: {odd.crlf} CRLF line ends{_where(odd.first, 'crlf')} "
                   "(read as plain line ends)")
    if odd.lone_cr:
        out.append(f"{name}: {odd.lone_cr} lone CR characters (read as line ends)")
    if odd.long_lines:
        out.append(f"{name}: {odd.long_lines} lines longer than {long_line} characters"
                   f"{_where(odd.first, 'long_line')}; the longest has "
                   f"{odd.longest_line} (line {odd.longest_line_at})")
    return out


# --- vocabulary files ----------------------------------------------------------------------

def save_vocab(path, vocab, cfg, min_count=None, max_vocab=None, sources=()):
    """Write a vocabulary (and the text settings it was made with) as JSON, atomically."""
    d = {"format": VOCAB_FORMAT, "version": VOCAB_VERSION, "text": cfg.to_dict(),
         "min_count": min_count, "max_vocab": max_vocab, "sources": list(sources),
         **vocab.to_dict()}
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(d, f, ensure_ascii=False, indent=0)
        f.write("\n")


def load_vocab(path):
    """(Vocab, TextConfig) from a file written by :func:`save_vocab`."""
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such vocabulary file") from None
    except (OSError, ValueError) as e:
        raise ModelFileError(f"{path}: not a readable vocabulary file ({e})") from None
    if not isinstance(d, dict) or d.get("format") != VOCAB_FORMAT:
        raise ModelFileError(f"{path}: not a charlm vocabulary file "
                             "(write one with charlm tokenize --vocab-out)")
    if d.get("version") != VOCAB_VERSION:
        raise ModelFileError(f"{path}: vocabulary format version {d.get('version')} "
                             "is not supported")
    tokens, text = d.get("tokens"), d.get("text")
    if (not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens)
            or not isinstance(text, dict)):
        raise ModelFileError(f"{path}: the vocabulary file is damaged (no list of tokens "
                             "or text settings); write it again with charlm tokenize "
                             "--vocab-out")
    counts = d.get("counts")
    if counts is not None and (not isinstance(counts, list) or len(counts) != len(tokens)
                               or not all(isinstance(c, int) for c in counts)):
        raise ModelFileError(f"{path}: the vocabulary's counts do not match its tokens")
    try:
        return Vocab.from_dict(d), TextConfig.from_dict(text)
    except (ModelFileError, UsageError) as e:
        raise ModelFileError(f"{path}: {e}") from None
    except TypeError:
        raise ModelFileError(f"{path}: the vocabulary file has unknown text settings") \
            from None


def shown(tok):
    """A token for display: space, newline and tab made visible, other unprintable
    characters escaped."""
    if tok in (" ", "\n", "\t"):
        return display_token(tok)
    return tok if tok.isprintable() else repr(tok)[1:-1]
