"""Tag schemes: spans under the conlleval convention, conversions, detection."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charlm.errors import UsageError
from charlm.text.schemes import (SCHEMES, convert, detect_scheme, is_entity_tagset, render,
                                 retype, spans)

TYPES = ["PER", "LOC", "B-X"]      # a type with a hyphen and a prefix-like start


def test_spans_iob2_hand_worked():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O"]
    assert spans(tags) == [(0, 2, "PER"), (3, 4, "LOC"), (4, 6, "LOC")]


def test_leading_i_is_an_entity_as_in_conlleval():
    # conlleval: O→I- starts a chunk, so does the sentence start and a type change.
    assert spans(["I-PER", "I-PER", "O", "I-LOC"]) == [(0, 2, "PER"), (3, 4, "LOC")]
    assert spans(["B-PER", "I-LOC", "I-LOC"]) == [(0, 1, "PER"), (1, 3, "LOC")]


def test_iob1_and_iob2_score_alike():
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]
    iob2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
    assert spans(iob1) == spans(iob2) == [(0, 2, "PER"), (2, 3, "PER"), (4, 5, "LOC")]


def test_bioes_spans():
    tags = ["S-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "E-LOC", "I-ORG", "O"]
    # E- after E- starts a new entity (seqeval/conlleval rule), so does I- after E-.
    assert spans(tags) == [(0, 1, "PER"), (1, 2, "PER"), (2, 5, "LOC"), (5, 6, "LOC"),
                           (6, 7, "ORG")]


def test_non_entity_tags_are_outside():
    assert spans(["NOUN", "VERB"]) == []
    assert spans([]) == []


def test_types_with_hyphens():
    assert spans(["B-B-X", "I-B-X"]) == [(0, 2, "B-X")]


def test_render_each_scheme():
    ents = [(0, 2, "PER"), (2, 3, "PER"), (4, 5, "LOC")]
    assert render(ents, 6, "iob2") == ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "O"]
    assert render(ents, 6, "iob1") == ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "O"]
    assert render(ents, 6, "bioes") == ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "O"]
    assert render(ents, 6, "io") == ["I-PER", "I-PER", "I-PER", "O", "I-LOC", "O"]


def test_convert_repairs_invalid_iob2():
    assert convert(["O", "I-PER", "I-PER"], "iob2", "iob2") == ["O", "B-PER", "I-PER"]


def test_unknown_scheme_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown tag scheme"):
        convert(["O"], "bilou", "iob2")


def test_is_entity_tagset():
    assert is_entity_tagset(["O", "B-PER", "I-PER", "S-LOC", "E-LOC"])
    assert not is_entity_tagset(["NOUN", "O"])
    assert not is_entity_tagset(["O", "O"])
    assert not is_entity_tagset(["B-"])


def test_retype():
    tags = ["I-MISC", "I-PER", "O", "B-GPE", "NOUN"]
    assert retype(tags, {"MISC": None, "GPE": "LOC"}) == ["O", "I-PER", "O", "B-LOC", "NOUN"]


def test_detect_scheme():
    assert detect_scheme([["NOUN", "VERB"]]) is None
    assert detect_scheme([["O", "O"]]) is None
    assert detect_scheme([["B-PER", "I-PER"], ["O"]]) == "iob2"
    assert detect_scheme([["I-PER", "B-PER"], ["I-LOC", "O"]]) == "iob1"
    assert detect_scheme([["I-PER", "I-PER", "O"]]) == "io"
    assert detect_scheme([["S-PER", "O"]]) == "bioes"
    assert detect_scheme(iter([["B-PER"], ["NOUN"]])) is None


# --- properties: random entity layouts ---------------------------------------------

@st.composite
def entity_layouts(draw, max_len=12):
    """(length, non-overlapping sorted spans) with adjacent entities allowed."""
    n = draw(st.integers(0, max_len))
    ents = []
    i = 0
    while i < n:
        if draw(st.booleans()):
            end = draw(st.integers(i + 1, n))
            ents.append((i, end, draw(st.sampled_from(TYPES))))
            i = end
        else:
            i += 1
    return n, ents


def _merge_adjacent_same_type(ents):
    out = []
    for s, e, t in ents:
        if out and out[-1][1] == s and out[-1][2] == t:
            out[-1] = (out[-1][0], e, t)
        else:
            out.append((s, e, t))
    return out


@settings(max_examples=300, deadline=None)
@given(entity_layouts(), st.sampled_from(SCHEMES))
def test_render_then_spans_round_trips(layout, scheme):
    n, ents = layout
    tags = render(ents, n, scheme)
    expected = _merge_adjacent_same_type(ents) if scheme == "io" else ents
    assert spans(tags) == expected


@settings(max_examples=300, deadline=None)
@given(entity_layouts(), st.sampled_from(SCHEMES[1:]), st.sampled_from(SCHEMES[1:]))
def test_convert_both_ways_round_trips(layout, a, b):
    n, ents = layout
    tags = render(ents, n, a)
    there = convert(tags, a, b)
    assert spans(there) == ents
    assert convert(there, b, a) == tags


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC",
                                 "I-LOC", "E-LOC", "S-LOC"]), max_size=12))
def test_any_sequence_keeps_its_spans_through_every_lossless_scheme(tags):
    for scheme in ("iob1", "iob2", "bioes"):
        assert spans(convert(tags, "bioes", scheme)) == spans(tags)
        # converting is idempotent: a converted sequence is already canonical
        once = convert(tags, "bioes", scheme)
        assert convert(once, scheme, scheme) == once


@settings(max_examples=200, deadline=None)
@given(entity_layouts(), st.sampled_from(SCHEMES))
def test_detect_scheme_finds_the_scheme_when_the_data_show_it(layout, scheme):
    n, ents = layout
    tags = render(ents, n, scheme)
    found = detect_scheme([tags])
    if not ents:
        assert found is None
    else:
        # The data show the scheme except where it coincides with a simpler one
        # (e.g. IOB1 without adjacent same-type entities reads as IO).
        assert found in {"io": {"io"}, "iob1": {"io", "iob1"}, "iob2": {"iob2"},
                         "bioes": {"bioes"}}[scheme]
        assert spans(convert(tags, found, "iob2")) == spans(tags)
