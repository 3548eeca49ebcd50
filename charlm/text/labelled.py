"""Reading labelled lines for line classification: one example (a text and its label)
per line, in the layouts people already keep them in.

* ``tsv``: ``text<TAB>label`` or ``label<TAB>text`` (any number of columns), with or
  without a header line. ``csv``: the same with commas and CSV quoting.
* ``fasttext``: ``__label__X text`` lines, the labels first. A line may carry several
  labels (``__label__a __label__b text``): charlm's classifier gives one label per
  line, so in training such a line is an example of each of its labels (what
  fastText's softmax does on average, drawing one of them each time it sees the
  line); in evaluation a prediction is right when it is any of them.
* ``folder``: a directory with one file per class (``by-language/Russian.txt``), one
  example per line; the class is the file's name without its extension.

``auto`` decides from what it sees: a directory is a folder; lines that start with
``__label__`` are fastText; a tab in the first line makes TSV; a ``.csv`` name makes
CSV; anything else is refused with a hint to give the format.

Columns (TSV/CSV): ``text_col`` and ``label_col`` are 0-based indices (negative ones
count from the end) or header names. A first line is a header when its fields name
the columns (``text``/``sentence``/…, ``label``/``class``/…) or when its label field
occurs nowhere else while the other labels repeat. Without a header and without
``label_col`` the label column is the one with the fewest distinct values over the
first lines (SST-2's 0/1, the names' 20 languages); a tie is refused with a hint.

Every problem names the file and line. Wholly blank lines are skipped and counted;
a line with a label but no text, or a text but no label, is an error.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass, field

from charlm.errors import CorpusError, UsageError
from charlm.text.conll import _NUL, _lines, as_source

FORMATS = ("auto", "tsv", "csv", "fasttext", "folder")
FASTTEXT_PREFIX = "__label__"
PEEK_LINES = 2000
TEXT_NAMES = ("text", "sentence", "sentences", "review", "content", "document", "name",
              "line", "body", "question", "tweet", "title")
LABEL_NAMES = ("label", "labels", "class", "category", "target", "y", "tag", "language",
               "sentiment", "polarity")


@dataclass
class Example:
    """One labelled line; ``labels`` is empty for unlabelled input."""

    text: str
    labels: tuple
    source: str
    line: int

    @property
    def label(self):
        return self.labels[0] if self.labels else None


@dataclass
class ReadReport:
    """What the reader skipped or noticed, for the caller to show."""

    blank_lines: int = 0
    notes: list = field(default_factory=list)


# --- format detection -----------------------------------------------------------------

def detect_format(path, first_line):
    if os.path.isdir(path):
        return "folder"
    if not first_line.strip():
        raise CorpusError(f"{path}: no labelled lines (the file is empty or blank)")
    if first_line.lstrip().startswith(FASTTEXT_PREFIX):
        return "fasttext"
    if "\t" in first_line:
        return "tsv"
    if str(path).lower().endswith(".csv"):
        return "csv"
    raise UsageError(f"{path}: cannot tell how its lines are labelled (no tab, no "
                     f"{FASTTEXT_PREFIX}, not a .csv file); give --format tsv, csv, "
                     "fasttext or folder")


def _first_line(path, encoding_errors):
    for _, line in _lines(as_source(path), encoding_errors, binary=_NUL):
        if line.strip():
            return line
    return ""


# --- the readers ----------------------------------------------------------------------

def read_labelled(path, fmt="auto", text_col=None, label_col=None, header=None,
                  encoding_errors="strict", report=None):
    """The examples of ``path`` (a file or a folder), in file order.

    ``header``: True/False to say whether a TSV/CSV file starts with a header line,
    None to decide. ``report``: a :class:`ReadReport` to fill in."""
    report = report if report is not None else ReadReport()
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if os.path.isdir(path):
        if fmt not in ("auto", "folder"):
            raise UsageError(f"{path}: is a directory; a folder of one file per class "
                             "needs --format folder (or auto)")
        return _read_folder(path, encoding_errors, report)
    if fmt == "folder":
        raise UsageError(f"{path}: --format folder needs a directory with one file per "
                         "class")
    if fmt == "auto":
        fmt = detect_format(path, _first_line(path, encoding_errors))
    if fmt == "fasttext":
        return _read_fasttext(path, encoding_errors, report)
    return _read_columns(path, fmt, text_col, label_col, header, encoding_errors, report)


def _read_folder(path, encoding_errors, report):
    files = sorted(f for f in os.listdir(path) if not f.startswith(".")
                   and os.path.isfile(os.path.join(path, f)))
    if not files:
        raise CorpusError(f"{path}: the folder holds no files (one file per class, one "
                          "example per line)")
    out = []
    for name in files:
        label = os.path.splitext(name)[0]
        file = os.path.join(path, name)
        before = len(out)
        for lineno, line in _lines(as_source(file), encoding_errors, binary=_NUL):
            text = line.strip()
            if not text:
                report.blank_lines += 1
                continue
            out.append(Example(text, (label,), file, lineno))
        if len(out) == before:
            report.notes.append(f"{file}: class {label!r} has no examples; it is left out")
    return out


def _read_fasttext(path, encoding_errors, report):
    src = as_source(path)
    out = []
    for lineno, line in _lines(src, encoding_errors, binary=_NUL):
        words = line.split()
        if not words:
            report.blank_lines += 1
            continue
        labels = []
        while words and words[0].startswith(FASTTEXT_PREFIX):
            labels.append(words.pop(0)[len(FASTTEXT_PREFIX):])
        if not labels or not all(labels):
            raise CorpusError(f"{src.name}:{lineno}: no {FASTTEXT_PREFIX}LABEL at the start "
                              "of the line")
        if not words:
            raise CorpusError(f"{src.name}:{lineno}: the line has labels but no text")
        out.append(Example(" ".join(words), tuple(labels), src.name, lineno))
    return out


def _rows(path, fmt, encoding_errors):
    """(line number, fields) of every non-blank line; blank lines as None fields."""
    src = as_source(path)
    for lineno, line in _lines(src, encoding_errors, binary=_NUL):
        if not line.strip():
            yield lineno, None
        elif fmt == "tsv":
            yield lineno, [f.strip() for f in line.split("\t")]
        else:
            try:
                fields = next(csv.reader(io.StringIO(line)))
            except csv.Error as e:
                raise CorpusError(f"{src.name}:{lineno}: not a CSV line ({e})") from None
            yield lineno, [f.strip() for f in fields]


def _column(spec, names, width, what, where):
    """A 0-based column index from an index or a header name."""
    if spec is None:
        return None
    if isinstance(spec, str) and not spec.lstrip("-").isdigit():
        if names is None:
            raise UsageError(f"{where}: --{what}-col {spec!r} names a column but the file "
                             "has no header line; give its index (0 is the first)")
        lowered = [n.lower() for n in names]
        if spec.lower() not in lowered:
            raise UsageError(f"{where}: no column named {spec!r} (the header has "
                             f"{', '.join(names)})")
        return lowered.index(spec.lower())
    index = int(spec)
    if not -width <= index < width:
        raise UsageError(f"{where}: --{what}-col {index} is out of range: the lines have "
                         f"{width} columns")
    return index % width


def _named(fields, candidates):
    lowered = [f.lower() for f in fields]
    for i, f in enumerate(lowered):
        if f in candidates:
            return i
    return None


def _decide(head, name, text_col, label_col, header):
    """(has header, text column, label column) from the first rows."""
    width = len(head[0])
    first = head[0]
    named_label, named_text = _named(first, LABEL_NAMES), _named(first, TEXT_NAMES)
    auto_header = header is None
    if auto_header:
        header = named_label is not None or named_text is not None
    names = first if header else None
    label = _column(label_col, names, width, "label", name)
    text = _column(text_col, names, width, "text", name)
    if header and label is None and named_label is not None:
        label = named_label
    if header and text is None and named_text is not None and named_text != label:
        text = named_text
    body = head[1:] if header else head
    if label is None:
        if not body:
            raise CorpusError(f"{name}: no labelled lines")
        distinct = [len({r[i] for r in body if i < len(r)}) for i in range(width)]
        candidates = [i for i in range(width) if i != text]
        fewest = min(distinct[i] for i in candidates)
        best = [i for i in candidates if distinct[i] == fewest]
        if len(best) > 1:
            raise UsageError(f"{name}: cannot tell which column holds the labels; give "
                             "--label-col (an index, 0 the first, or a header name)")
        label = best[0]
    if text is None:
        others = [i for i in range(width) if i != label]
        if len(others) > 1:
            # The longest column on average is the text.
            lengths = [sum(len(r[i]) for r in body if i < len(r)) for i in others]
            text = others[lengths.index(max(lengths))]
        else:
            text = others[0]
    if text == label:
        raise UsageError(f"{name}: the text and the label column are the same column")
    if auto_header and not header and _header_by_values(head, label):
        header = True
    return bool(header), text, label


def _header_by_values(head, label):
    """A first line whose label occurs nowhere else, while the others repeat, is a
    header (``sentence<TAB>label`` above 0/1 lines)."""
    if len(head) < 3:
        return False
    counts = Counter(r[label] for r in head[1:] if label < len(r))
    return head[0][label] not in counts and min(counts.values()) >= 2


def _read_columns(path, fmt, text_col, label_col, header, encoding_errors, report):
    name = str(path)
    rows = _rows(path, fmt, encoding_errors)
    head = []
    for lineno, fields in rows:
        if fields is None:
            report.blank_lines += 1
            continue
        head.append((lineno, fields))
        if len(head) >= PEEK_LINES:
            break
    if not head:
        raise CorpusError(f"{name}: no labelled lines")
    width = len(head[0][1])
    if width < 2:
        raise CorpusError(f"{name}:{head[0][0]}: one column only; a labelled line needs a "
                          f"text and a label ({'tab' if fmt == 'tsv' else 'comma'}-separated)")
    has_header, text, label = _decide([f for _, f in head], name, text_col, label_col, header)
    out = []

    def take(lineno, fields):
        if fields is None:
            report.blank_lines += 1
            return
        if len(fields) <= max(text, label):
            raise CorpusError(f"{name}:{lineno}: {len(fields)} column(s), expected at least "
                              f"{max(text, label) + 1}")
        t, lab = fields[text], fields[label]
        if not t:
            raise CorpusError(f"{name}:{lineno}: the line has a label but no text")
        if not lab:
            raise CorpusError(f"{name}:{lineno}: the line has a text but no label")
        out.append(Example(t, (lab,), name, lineno))

    for k, (lineno, fields) in enumerate(head):
        if k == 0 and has_header:
            continue
        take(lineno, fields)
    for lineno, fields in rows:
        take(lineno, fields)
    if not out:
        raise CorpusError(f"{name}: no labelled lines (only a header)")
    return out


def check_examples(examples, where):
    """Notes about a training set: labels seen once. Raises when nothing is left."""
    if not examples:
        raise CorpusError(f"{where}: no labelled lines")
    counts = Counter(lab for ex in examples for lab in ex.labels)
    once = sorted(lab for lab, c in counts.items() if c == 1)
    notes = []
    if once:
        shown = ", ".join(repr(lab) for lab in once[:5]) + (" …" if len(once) > 5 else "")
        notes.append(f"{where}: {len(once)} label(s) seen once ({shown}): too few to learn "
                     "from, and a typo more often than a class")
    if len(counts) < 2:
        raise CorpusError(f"{where}: every line has the label {next(iter(counts))!r}: "
                          "nothing to learn; is the label column right (--label-col)?")
    return notes
