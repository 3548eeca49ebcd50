"""Reading and writing tagged sentences: CoNLL-U, column files (CoNLL-2003 / IOB style)
and raw text, one sentence at a time.

Readers are generators over :func:`charlm.text.reader.read_chunks`, so a file of any
size is read in bounded memory, with its encoding, byte-order mark and line endings
handled there; invalid UTF-8 is reported with its line and byte offset. Every malformed
line raises :class:`~charlm.errors.CorpusError` as ``"FILE:LINE: what is wrong; what
to do"``.

* CoNLL-U: 10 tab-separated columns ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS
  MISC``; multiword-token lines (``3-4``) and empty nodes (``8.1``) are kept for writing
  back but are not tokens; ``#`` comments are kept verbatim and ``# text = ...`` is the
  sentence's text. A tag of ``_`` on every token means the file has no tags.
* Column files: one token per line, columns split on tabs when the line has one, else
  on runs of spaces; a blank line ends a sentence; ``-DOCSTART-`` lines are skipped; a
  line starting with ``#`` is a comment unless it splits into the file's column count
  (``# O`` is the token ``#``). Token column: 0, or 1 when column 0 numbers the tokens
  1, 2, 3...; tag column: the last, or, when the last does not hold entity tags and
  another column does, that one (UNER's ``id token tag - annotator``). Both are decided
  on the first lines and can be given.
* Raw text: one sentence per line, tokenized by :mod:`charlm.text.ud_tokenize` (or on
  whitespace), with each token's character offsets into the line.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import regex

from charlm.errors import CorpusError, UsageError
from charlm.text.reader import Source, read_chunks
from charlm.text.schemes import convert, is_entity_tag, is_entity_tagset, spans

FORMATS = ("auto", "conllu", "conll")
OUTPUT_FORMATS = ("conllu", "conll", "tsv", "jsonl", "inline", "spans")
MISC = 9            # CoNLL-U column of the MISC attributes
# CoNLL-U column of each tag kind; "ner" is the NER= attribute of MISC (NER=B-PER),
# where `charlm tag --format conllu` writes entity tags
TAG_COLUMNS = {"upos": 3, "xpos": 4, "ner": MISC}
CONLLU_COLUMNS = 10
PEEK_LINES = 500              # lines read ahead to decide the format and the columns
_ID = regex.compile(r"\d+|\d+-\d+|\d+\.\d+")
_BINARY = regex.compile(r"[\x00-\x08\x0e-\x1f]")   # controls no tagged file holds
_NUL = regex.compile(r"\x00")              # raw text is let off other stray controls


@dataclass
class Sentence:
    tokens: list[str]            # word forms (CoNLL-U FORM; multiword 3-4 and 8.1 skipped)
    tags: list[str] | None       # gold tags (None when the file has none / raw text)
    text: str | None = None      # "# text = ..." for CoNLL-U, or the raw input line
    rows: list[list[str]] | None = None   # original columns of each token line
    comments: list[str] = field(default_factory=list)  # original comment lines, verbatim
    line: int = 0                # 1-based line number where the sentence starts
    source: str = ""             # file name for messages
    offsets: list[tuple[int, int]] | None = None  # char offsets of tokens in `text`
    fmt: str = "raw"             # where it came from: "conllu", "conll" or "raw"
    tag_col: int | None = None   # the column of `rows` holding the tag (written back)
    delimiter: str = "\t"        # between the columns of `rows` ("\t" or " ")
    # CoNLL-U lines that are not tokens (multiword 3-4, empty nodes 8.1), with the index
    # of the token they come before, so that a written block keeps them in place.
    extra_rows: list[tuple[int, list[str]]] = field(default_factory=list)
    tags2: list[str] | None = None   # a second tag column (for a joint tagger)


# --- sources and lines ----------------------------------------------------------------

class _StreamSource(Source):
    """An open binary stream (stdin) read as it comes: read() returns what is there
    rather than waiting for a whole chunk, so a pipe is tagged line by line."""

    def __init__(self, name, stream):
        super().__init__(name)
        self.stream = stream

    def open(self):
        return _Unclosed(self.stream)


class _Unclosed(io.RawIOBase):
    def __init__(self, stream):
        self.stream = stream

    def read(self, n=-1):
        read1 = getattr(self.stream, "read1", None)
        return read1(n) if read1 is not None else self.stream.read(n)

    def close(self):            # the caller owns the stream
        pass


def as_source(source) -> Source:
    """A path, ``"-"`` (stdin), a :class:`Source` or a binary file object → Source."""
    if isinstance(source, Source):
        return source
    if source == "-":
        return _StreamSource("<stdin>", sys.stdin.buffer)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return Source(path, path=path)
    name = getattr(source, "name", "<stream>")
    return _StreamSource(name if isinstance(name, str) else "<stream>", source)


def _lines(src: Source, encoding_errors: str, binary=_BINARY) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its newline) of a source, lazily; a
    :class:`CorpusError` at the first character that ``binary`` matches."""
    for chunk in read_chunks(src, encoding_errors=encoding_errors):
        if not chunk.text:
            continue
        bad = binary.search(chunk.text)
        if bad is not None:
            at = chunk.first_line + chunk.text.count("\n", 0, bad.start())
            raise CorpusError(f"{src.name}:{at}: binary data (control bytes), not a text "
                              "file; give a CoNLL-U or column file in UTF-8")
        lines = chunk.text.split("\n")
        if chunk.text.endswith("\n"):
            lines.pop()
        for i, line in enumerate(lines):
            yield chunk.first_line + i, line


def _fail(src, lineno, message) -> CorpusError:
    return CorpusError(f"{src.name}:{lineno}: {message}")


# --- format detection -----------------------------------------------------------------

def _split_columns(line: str) -> list[str]:
    return line.rstrip(" ").split("\t") if "\t" in line else line.split()


def _token_lines(lines):
    """The data lines among ``lines`` (no blanks, comments, -DOCSTART-)."""
    return [ln for ln in lines if ln.strip() and not ln.startswith("#")
            and not ln.split()[0] == "-DOCSTART-"]


def detect_format(path_or_first_lines) -> str:
    """``"conllu"`` or ``"conll"`` for a path or a list of a file's first lines; a
    :class:`CorpusError` when the lines do not tell (give the format then)."""
    if isinstance(path_or_first_lines, (str, os.PathLike)):
        src = as_source(path_or_first_lines)
        first = []
        for _, line in _lines(src, "replace"):
            first.append(line)
            if len(first) >= PEEK_LINES:
                break
        return _detect(first, src.name)
    return _detect(list(path_or_first_lines), "<lines>")


def _detect(lines, name):
    data = _token_lines(lines)
    if not data:
        raise CorpusError(f"{name}: no token lines to tell the format from; "
                          "is it empty or not a tagged file?")
    if _looks_conllu([(0, ln) for ln in data]):
        return "conllu"
    if all(len(_split_columns(ln)) >= 2 for ln in data):
        return "conll"
    raise CorpusError(f"{name}: cannot tell whether this is CoNLL-U or a column file "
                      "(some lines have one column: tokens without tags?); "
                      "give the format (--format conllu or conll) and the columns")


# --- reading ----------------------------------------------------------------------------

def read_tagged(source, fmt="auto", tag_column="upos", token_col=None, tag_col=None,
                encoding_errors="strict", tag_column2=None) -> Iterator[Sentence]:
    """The sentences of a CoNLL-U or column file, lazily (see the module docstring).

    ``source``: a path, ``"-"`` for stdin, or a binary file object. ``fmt``: one of
    :data:`FORMATS`. ``tag_column``: "upos", "xpos" or "ner" (CoNLL-U; ner: the NER=
    attribute of MISC, ``_`` where a token has none). ``token_col``,
    ``tag_col``: column indices for column files (negative counts from the end);
    None decides from the first lines. ``tag_column2``: CoNLL-U only, a second column
    read in the same pass into ``Sentence.tags2`` (a joint tagger's), checked as the
    first is.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    for column in (tag_column, tag_column2 or tag_column):
        if column not in TAG_COLUMNS:
            raise UsageError(f"unknown tag column {column!r}; expected upos, xpos or ner")
    src = as_source(source)
    lines = _lines(src, encoding_errors)
    head = _peek(lines, fmt)
    if fmt == "auto":
        fmt = _detect([ln for _, ln in head], src.name)
    all_lines = _chain(head, lines)
    if fmt == "conllu":
        sentences = _read_conllu(src, all_lines, TAG_COLUMNS[tag_column],
                                 TAG_COLUMNS[tag_column2] if tag_column2 else None)
    else:
        spec = _decide_columns([ln for _, ln in head], token_col, tag_col)
        sentences = _read_columns(src, all_lines, spec)
    any_sentence = False
    for sent in sentences:
        any_sentence = True
        yield sent
    if not any_sentence:
        raise CorpusError(f"{src.name}: no sentences found; is it empty or not a "
                          f"{fmt} file?")


def _peek(lines, fmt):
    """The first lines, read ahead to decide the format and the columns: up to
    :data:`PEEK_LINES`, or only the first sentence of a CoNLL-U file (whose columns are
    fixed), so that a CoNLL-U stream on a pipe is tagged without waiting."""
    head = []
    for item in lines:
        head.append(item)
        if len(head) >= PEEK_LINES:
            break
        if not item[1].strip() and _token_lines([ln for _, ln in head]):
            if fmt == "conllu" or (fmt == "auto" and _looks_conllu(head)):
                break
    return head


def _looks_conllu(head):
    return all(len(ln.split("\t")) == CONLLU_COLUMNS and _ID.fullmatch(ln.split("\t")[0])
               for ln in _token_lines([ln for _, ln in head]))


def _chain(head, rest):
    yield from head
    yield from rest


def _blocks(src, lines):
    """Blank-line separated blocks: (first line number, [(lineno, line), ...])."""
    block = []
    for lineno, line in lines:
        if line.strip():
            block.append((lineno, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _tag(cols, index):
    return misc_value(cols[MISC], "NER") if index == MISC else cols[index]


def _gold(src, tags, token_lines):
    """A sentence's tags of one column: None when every token has ``_`` (untagged)."""
    if all(t == "_" for t in tags):
        return None
    if "_" in tags:
        raise _fail(src, token_lines[tags.index("_")], "missing tag (_) on a token "
                    "of a tagged sentence; tag every token or none")
    return tags


def _read_conllu(src, lines, tag_index, tag_index2=None) -> Iterator[Sentence]:
    for block in _blocks(src, lines):
        comments, text = [], None
        tokens, tags, tags2, rows, extra, token_lines = [], [], [], [], [], []
        for lineno, line in block:
            if line.startswith("#"):
                comments.append(line)
                if line.startswith("# text =") and text is None:
                    text = line[len("# text ="):].strip()
                continue
            cols = line.split("\t")
            if len(cols) != CONLLU_COLUMNS:
                raise _fail(src, lineno, f"expected {CONLLU_COLUMNS} tab-separated "
                            f"columns (CoNLL-U), found {len(cols)}; is it a column file? "
                            "give --format conll")
            ident = cols[0]
            if "-" in ident or "." in ident:
                if not _ID.fullmatch(ident):
                    raise _fail(src, lineno, f"token ID {ident!r} is not an integer, "
                                "a range like 3-4 or an empty node like 8.1")
                extra.append((len(tokens), cols))
                continue
            if not (ident.isascii() and ident.isdigit()):
                raise _fail(src, lineno, f"token ID {ident!r} is not an integer")
            if int(ident) != len(tokens) + 1:
                raise _fail(src, lineno, f"token ID {ident} out of order "
                            f"(expected {len(tokens) + 1})")
            if not cols[1] or not cols[tag_index] or (tag_index2 is not None
                                                      and not cols[tag_index2]):
                raise _fail(src, lineno, "empty FORM or tag column; CoNLL-U writes _ "
                            "for a missing value")
            tokens.append(cols[1])
            tags.append(_tag(cols, tag_index))
            if tag_index2 is not None:
                tags2.append(_tag(cols, tag_index2))
            rows.append(cols)
            token_lines.append(lineno)
        if not tokens:
            if extra:
                raise _fail(src, block[0][0], "sentence with no tokens (only multiword "
                            "or empty-node lines)")
            continue            # a block of comments only (e.g. a trailing # newdoc)
        yield Sentence(tokens, _gold(src, tags, token_lines), text=text, rows=rows,
                       comments=comments, line=block[0][0], source=src.name, fmt="conllu",
                       tag_col=tag_index, extra_rows=extra,
                       tags2=_gold(src, tags2, token_lines) if tag_index2 is not None
                       else None)


def _is_comment(line, counts, tabbed):
    """A '#' line is a comment unless it splits like a token line of the file."""
    if not line.startswith("#"):
        return False
    if tabbed:
        return "\t" not in line or len(_split_columns(line)) not in counts
    return len(line.split()) not in counts


@dataclass
class _Columns:
    counts: frozenset      # the column counts a token line may have
    token_col: int
    tag_col: int           # may equal token_col's index: no tags
    tabbed: bool           # columns split on tabs (else on spaces)


def _decide_columns(head_lines, token_col, tag_col) -> _Columns:
    """How to read a column file, from its first lines (see the module docstring).

    Every token line must have the column count of the first one, except in files whose
    first column numbers the tokens: those may mix the counts seen in the first lines
    (UNER's training file has 5 columns where annotated and 3 elsewhere), and then the
    tag column is one that every line has."""
    data = [_split_columns(ln) for ln in _token_lines(head_lines)]
    tabbed = "\t" in _first_data_line(head_lines)
    if not data:
        return _Columns(frozenset(), token_col or 0, -1 if tag_col is None else tag_col,
                        tabbed)
    counts = frozenset(len(row) for row in data)
    numbered = _numbers_tokens(head_lines)
    if not numbered:
        counts = frozenset([len(data[0])])      # any other count is an error
    width = min(counts)             # columns every line has
    if token_col is None:
        token_col = 1 if width >= 3 and numbered else 0
    if tag_col is None:
        tag_col = width - 1
        if max(counts) > 2:
            candidates = [c for c in range(width) if c != token_col
                          and not (token_col == 1 and c == 0)]
            entity_cols = [c for c in candidates
                           if is_entity_tagset(row[c] for row in data)]
            last_is_entity = len(counts) == 1 and width - 1 in entity_cols
            if entity_cols and not last_is_entity:
                tag_col = entity_cols[0]
    return _Columns(counts, token_col, tag_col, tabbed)


def _first_data_line(head_lines):
    return next((ln for ln in _token_lines(head_lines)), "")


def _numbers_tokens(head_lines):
    """Whether column 0 counts 1, 2, 3... within each sentence of the first lines."""
    expected = 1
    seen = False
    for line in head_lines:
        if not line.strip():
            expected = 1
            continue
        if line.startswith("#") or line.split()[0] == "-DOCSTART-":
            continue
        if _split_columns(line)[0] != str(expected):
            return False
        expected += 1
        seen = True
    return seen


def _read_columns(src, lines, spec: _Columns) -> Iterator[Sentence]:
    counts = spec.counts
    for block in _blocks(src, lines):
        comments, tokens, tags, rows = [], [], [], []
        text = None
        for lineno, line in block:
            if counts and not tokens and _is_comment(line, counts, spec.tabbed):
                comments.append(line)
                if line.startswith("# text =") and text is None:
                    text = line[len("# text ="):].strip()
                continue
            cols = _split_columns(line)
            if cols[0] == "-DOCSTART-":
                continue
            if not counts:
                counts = frozenset([len(cols)])
            if len(cols) not in counts:
                want = " or ".join(str(c) for c in sorted(counts))
                raise _fail(src, lineno, f"expected {want} columns as on the file's first "
                            f"lines, found {len(cols)}")
            try:
                token, tag = cols[spec.token_col], cols[spec.tag_col]
            except IndexError:
                raise _fail(src, lineno, f"no column {spec.token_col} or {spec.tag_col} in "
                            f"a line of {len(cols)} columns; check the token and tag "
                            "columns") from None
            if not token:
                raise _fail(src, lineno, "empty token column")
            if not tag:
                raise _fail(src, lineno, "missing tag (empty tag column)")
            tokens.append(token)
            tags.append(tag)
            rows.append(cols)
        if not tokens:
            continue
        width = len(rows[0])
        tag_index = spec.tag_col % width
        no_tags = tag_index == spec.token_col % width
        yield Sentence(tokens, None if no_tags else tags, text=text, rows=rows,
                       comments=comments, line=block[0][0], source=src.name, fmt="conll",
                       tag_col=None if no_tags else tag_index,
                       delimiter="\t" if spec.tabbed else " ")


def read_raw(source, pretokenized=False, encoding_errors="strict") -> Iterator[Sentence]:
    """One :class:`Sentence` per input line (tags None), tokens with their character
    offsets into the line; an empty line gives a sentence with no tokens, so output
    stays line for line with the input."""
    from charlm.text.ud_tokenize import tokenize   # noqa: PLC0415 (a heavy regex set)

    src = as_source(source)
    for lineno, line in _lines(src, encoding_errors, binary=_NUL):
        if pretokenized:
            found = [(m.group(), m.start(), m.end()) for m in regex.finditer(r"\S+", line)]
        else:
            found = tokenize(line)
        yield Sentence([t for t, _, _ in found], None, text=line, line=lineno,
                       source=src.name, offsets=[(s, e) for _, s, e in found])


# --- writing ---------------------------------------------------------------------------

def format_sentence(sent: Sentence, tags: list[str], fmt: str, scheme: str | None = None,
                    tag_column: str = "upos", probs: list[float] | None = None,
                    distributions: list[dict] | None = None,
                    also: tuple[str, list[str]] | None = None) -> str:
    """The text to write for one sentence tagged ``tags``, ending in a newline.

    conllu: the sentence's own CoNLL-U block with the tag column filled (other columns,
    comments, multiword lines kept), or a fresh block ``ID FORM _ UPOS _ _ _ _ _ MISC``
    (``tag_column`` "xpos" fills XPOS instead) for other input, ``# text`` and
    ``SpaceAfter=No`` from the raw line; then a blank line. Entity tags (a ``scheme``)
    go to MISC as ``NER=B-PER`` instead, every other column kept. conll: the column file's own
    comments and columns with the tag column filled (``-DOCSTART-`` lines are not kept),
    or ``token tag``; then a blank line. tsv:
    ``token<TAB>tag`` lines and a blank line. jsonl: one JSON object per sentence
    (``tokens``, ``tags``, and ``text``/``offsets`` when known). inline: ``word/TAG``
    separated by spaces, one line. spans: one JSON line ``{"text", "entities": [{"text",
    "type", "start", "end"}]}``, offsets into the input line (or into the CoNLL-U
    ``# text``, or the tokens joined by spaces when there is no text).

    ``scheme``: rewrite entity tags in this scheme first (not for spans). A sentence with
    no tokens (an empty input line) gives an empty line for inline, a record with no
    tokens for jsonl and spans, a blank line for tsv (so a tsv file has one blank line per
    input line: a sentence's block ends in one, an empty line is one), and nothing for
    conllu and conll (a CoNLL-U file cannot hold an empty sentence).

    ``probs`` (tsv, jsonl): each token's probability of its tag, a third tsv column
    ``token<TAB>tag<TAB>prob`` or a jsonl ``probs`` list; ``distributions`` (jsonl):
    each token's {tag: probability} over every tag, a ``distributions`` list.

    ``also`` (conllu): (column, tags) of a joint tagger's other layer, written to that
    column too ("ner": MISC's NER=), so one block carries both annotations.
    """
    if fmt not in OUTPUT_FORMATS:
        raise UsageError(f"unknown output format {fmt!r}; expected one of "
                         f"{', '.join(OUTPUT_FORMATS)}")
    if len(tags) != len(sent.tokens):
        raise ValueError(f"{len(tags)} tags for {len(sent.tokens)} tokens")
    if fmt == "spans":
        return _format_spans(sent, tags)
    if scheme is not None and tags and all(is_entity_tag(t) for t in tags):
        tags = convert(tags, scheme, scheme)
    if fmt == "inline":
        return " ".join(f"{w}/{t}" for w, t in zip(sent.tokens, tags)) + "\n"
    if fmt == "jsonl":
        record = {"tokens": sent.tokens, "tags": list(tags)}
        if probs is not None:
            record["probs"] = [float(f"{p:.6g}") for p in probs]
        if distributions is not None:
            record["distributions"] = [{t: float(f"{p:.6g}") for t, p in d.items()}
                                       for d in distributions]
        if sent.text is not None:
            record["text"] = sent.text
        if sent.offsets is not None:
            record["offsets"] = [list(o) for o in sent.offsets]
        return json.dumps(record, ensure_ascii=False) + "\n"
    if fmt == "tsv":
        if probs is not None:
            return "".join(f"{w}\t{t}\t{p:.6g}\n"
                           for w, t, p in zip(sent.tokens, tags, probs)) + "\n"
        return "".join(f"{w}\t{t}\n" for w, t in zip(sent.tokens, tags)) + "\n"
    if not sent.tokens:
        return ""
    if fmt == "conll":
        if sent.fmt == "conll" and sent.rows is not None:
            return _write_rows(sent, tags) + "\n"
        return "".join(f"{w} {t}\n" for w, t in zip(sent.tokens, tags)) + "\n"
    if also is not None:
        sent = _with_column(sent, *also, TAG_COLUMNS.get(tag_column, 3))
    if scheme is not None:
        return _format_conllu(sent, tags, None)
    return _format_conllu(sent, tags, TAG_COLUMNS.get(tag_column, 3))


def _with_column(sent, column, tags, tag_index):
    """``sent`` with ``tags`` written into CoNLL-U ``column`` of its rows (made fresh
    for input that was not CoNLL-U, whose own tags then go to ``tag_index``), for
    :func:`_format_conllu` to keep."""
    sent = _as_conllu(sent, tag_index)
    index = TAG_COLUMNS[column]
    rows = [list(r) for r in sent.rows]
    for row, tag in zip(rows, tags):
        if index == MISC:
            row[MISC] = with_misc(row[MISC], "NER", tag)
        else:
            row[index] = tag
    return dataclasses.replace(sent, rows=rows)


def _as_conllu(sent, tag_index):
    """``sent`` as a CoNLL-U sentence: itself if it was read from CoNLL-U, else a fresh
    block ``ID FORM _ _ _ _ _ _ _ MISC`` (``SpaceAfter=No`` from the raw line's
    offsets, ``# text`` from it) whose tags go to column ``tag_index`` (None: MISC's
    NER=)."""
    if sent.fmt == "conllu" and sent.rows is not None:
        return sent
    rows = [[str(i + 1), w] + ["_"] * 8 for i, w in enumerate(sent.tokens)]
    if sent.offsets is not None:
        for i in range(min(len(rows), len(sent.offsets)) - 1):
            if sent.offsets[i][1] == sent.offsets[i + 1][0]:
                rows[i][MISC] = "SpaceAfter=No"
    comments = [f"# text = {sent.text.strip()}"] if sent.text is not None else []
    return dataclasses.replace(sent, rows=rows, comments=comments, extra_rows=[],
                               fmt="conllu", tag_col=tag_index)


def _write_rows(sent, tags):
    out = [c + "\n" for c in sent.comments]
    for row, tag in zip(sent.rows, tags):
        cols = list(row)
        if sent.tag_col is None:
            cols.append(tag)
        else:
            cols[sent.tag_col] = tag
        out.append(sent.delimiter.join(cols) + "\n")
    return "".join(out)


def misc_value(misc, key):
    """The value of ``key`` in a MISC field (``A=x|B=y``), ``_`` when it has none."""
    for attr in ([] if misc in ("", "_") else misc.split("|")):
        k, _, v = attr.partition("=")
        if k == key and v:
            return v
    return "_"


def with_misc(misc, key, value):
    """A MISC field (``_`` or ``A=x|B=y``) with ``key=value`` set, replacing any value
    the key had."""
    kept = [a for a in ([] if misc in ("", "_") else misc.split("|"))
            if a.split("=", 1)[0] != key]
    return "|".join(kept + [f"{key}={value}"])


def _format_conllu(sent, tags, tag_index):
    """``tag_index`` None: entity tags, written to MISC as ``NER=B-PER`` (the other
    columns, UPOS included, kept), where UD tools look for extra annotation."""
    lines = []

    def put(cols, tag, index):
        if tag_index is None or index == MISC:
            cols[MISC] = with_misc(cols[MISC], "NER", tag)
        else:
            cols[index] = tag

    sent = _as_conllu(sent, tag_index)
    lines.extend(sent.comments)
    extra = list(sent.extra_rows)
    for i, (row, tag) in enumerate(zip(sent.rows, tags)):
        while extra and extra[0][0] == i:
            lines.append("\t".join(extra.pop(0)[1]))
        cols = list(row)
        put(cols, tag, sent.tag_col)
        lines.append("\t".join(cols))
    lines.extend("\t".join(cols) for _, cols in extra)
    return "\n".join(lines) + "\n\n"


def align(tokens: list[str], text: str) -> list[tuple[int, int]] | None:
    """Character offsets of ``tokens`` found in order in ``text``, skipping whitespace
    between them; None when they do not spell the text that way."""
    out = []
    at = 0
    for token in tokens:
        while at < len(text) and text[at].isspace():
            at += 1
        if not text.startswith(token, at):
            return None
        out.append((at, at + len(token)))
        at += len(token)
    return out


def _format_spans(sent, tags):
    text, offsets = sent.text, sent.offsets
    if offsets is None and text is not None:
        offsets = align(sent.tokens, text)
    if offsets is None:
        text, offsets, at = " ".join(sent.tokens), [], 0
        for token in sent.tokens:
            offsets.append((at, at + len(token)))
            at += len(token) + 1
    entities = []
    for start, end, type_ in spans(tags):
        a, b = offsets[start][0], offsets[end - 1][1]
        entities.append({"text": text[a:b], "type": type_, "start": a, "end": b})
    return json.dumps({"text": text or "", "entities": entities}, ensure_ascii=False) + "\n"
