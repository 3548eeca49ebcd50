"""Entity tag schemes: IO, IOB1, IOB2 (BIO) and BIOES; reading entity spans out of a tag
sequence and writing spans back in any scheme.

An entity tag is ``O`` or ``X-TYPE`` with the prefix X one of B (begin), I (inside),
E (end), S (single); the type may itself contain hyphens (``B-PER-DERIV``).

* IO: ``I-TYPE`` on every token of an entity. Two entities of one type side by side
  cannot be told apart, so IO loses that boundary.
* IOB1 (CoNLL-2003): ``I-TYPE`` inside an entity; ``B-TYPE`` only on the first token of
  an entity that directly follows another entity of the same type.
* IOB2 (BIO): ``B-TYPE`` on the first token of every entity, ``I-TYPE`` on the others.
* BIOES: ``S-TYPE`` for a one-token entity; else ``B-``, ``I-``... , ``E-TYPE``.

Counting convention (the one conlleval uses; seqeval's default mode copies it and
adds S-/E-): an entity *starts* at a token tagged

* ``B-`` or ``S-``;
* ``I-`` or ``E-`` after ``O``, after the start of the sentence, after an ``E-``
  or ``S-`` (that closed the previous entity);
* any prefix whose type differs from the previous token's type;

and it *ends* before a token that starts another, before ``O``, and after ``E-`` or
``S-``. So a leading ``I-PER`` is an entity (NCRF++, by contrast, drops it), an invalid
IOB2 sequence is scored exactly as conlleval scores it, and one set of rules reads all
four schemes: IOB1 and IOB2 files that mark the same entities give the same
:func:`spans`. :func:`convert` is therefore "read spans, write them in the target
scheme", which also repairs invalid sequences.
"""

from __future__ import annotations

from collections.abc import Iterable

from charlm.errors import UsageError

SCHEMES = ("io", "iob1", "iob2", "bioes")
PREFIXES = "BIES"


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` → ``("B", "PER")``; ``"O"`` → ``("O", "")``; anything else (a POS
    tag, a tag without a type) → ``("O", "")``, i.e. outside every entity."""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in PREFIXES:
        return tag[0], tag[2:]
    return "O", ""


def is_entity_tag(tag: str) -> bool:
    return tag == "O" or (len(tag) > 2 and tag[1] == "-" and tag[0] in PREFIXES)


def is_entity_tagset(tags: Iterable[str]) -> bool:
    """True when every tag is ``O`` or ``X-TYPE`` (X in BIES) and at least one is not O."""
    some_entity = False
    for tag in tags:
        if not is_entity_tag(tag):
            return False
        some_entity = some_entity or tag != "O"
    return some_entity


def _starts(prev_prefix, prev_type, prefix, type_):
    """Whether a token (prefix, type_) starts an entity after (prev_prefix, prev_type)."""
    if prefix == "O":
        return False
    if prefix in "BS":
        return True
    # I- or E-: continues only an open entity (after B- or I-) of the same type.
    return prev_prefix not in "BI" or prev_type != type_


def spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """The entities of one tag sequence as ``(start, end_exclusive, type)``, in order,
    under the conlleval convention of the module docstring; any of the four schemes."""
    out = []
    start = None
    prev_prefix, prev_type = "O", ""
    for i, tag in enumerate(tags):
        prefix, type_ = split_tag(tag)
        if start is not None and (prefix == "O" or prev_prefix in "ES"
                                  or _starts(prev_prefix, prev_type, prefix, type_)):
            out.append((start, i, prev_type))
            start = None
        if start is None and prefix != "O":
            start = i
        prev_prefix, prev_type = prefix, type_
    if start is not None:
        out.append((start, len(tags), prev_type))
    return out


def render(entities: list[tuple[int, int, str]], length: int, scheme: str) -> list[str]:
    """Tags of ``length`` tokens marking ``entities`` (sorted, non-overlapping) in
    ``scheme``."""
    _check_scheme(scheme)
    tags = ["O"] * length
    prev_end, prev_type = -1, None
    for start, end, type_ in entities:
        for i in range(start, end):
            tags[i] = "I-" + type_
        if scheme == "iob2" or (scheme == "iob1" and prev_end == start and prev_type == type_):
            tags[start] = "B-" + type_
        elif scheme == "bioes":
            if end - start == 1:
                tags[start] = "S-" + type_
            else:
                tags[start] = "B-" + type_
                tags[end - 1] = "E-" + type_
        prev_end, prev_type = end, type_
    return tags


def convert(tags: list[str], source: str, target: str) -> list[str]:
    """``tags`` (written in ``source``) rewritten in ``target``. Both are one of
    :data:`SCHEMES`; the reading follows the module's convention whatever ``source``
    says, so invalid input comes out valid. IO as target merges adjacent entities of one
    type (IO cannot mark their boundary)."""
    _check_scheme(source)
    _check_scheme(target)
    return render(spans(tags), len(tags), target)


def retype(tags: list[str], mapping: dict[str, str | None]) -> list[str]:
    """Entity types renamed by ``mapping`` (a type missing from it is kept; one mapped to
    None becomes O), e.g. to score a PER/ORG/LOC tagger on wikigold's
    ``{"MISC": None}``. Prefixes are kept, so the result is in the same scheme."""
    out = []
    for tag in tags:
        prefix, type_ = split_tag(tag)
        if prefix == "O" or type_ not in mapping:
            out.append(tag)
        elif mapping[type_] is None:
            out.append("O")
        else:
            out.append(f"{prefix}-{mapping[type_]}")
    return out


def detect_scheme(sequences: Iterable[list[str]]) -> str | None:
    """The scheme a collection of tag sequences is written in, or None when the tags are
    not entity tags (parts of speech, say).

    E- or S- anywhere → bioes; no B- at all → io; a B- that opens an entity after O, the
    sentence start or another type → iob2; B- only between two entities of one type →
    iob1.
    """
    seen_entity = False
    has_b = has_es = b_opens = False
    for tags in sequences:
        prev_prefix, prev_type = "O", ""
        for tag in tags:
            if not is_entity_tag(tag):
                return None
            prefix, type_ = split_tag(tag)
            if prefix != "O":
                seen_entity = True
            if prefix in "ES":
                has_es = True
            elif prefix == "B":
                has_b = True
                if prev_prefix not in "BI" or prev_type != type_:
                    b_opens = True
            prev_prefix, prev_type = prefix, type_
    if not seen_entity:
        return None
    if has_es:
        return "bioes"
    if not has_b:
        return "io"
    return "iob2" if b_opens else "iob1"


def _check_scheme(scheme):
    if scheme not in SCHEMES:
        raise UsageError(f"unknown tag scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
