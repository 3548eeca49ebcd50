"""The raw-text tokenizer: EWT's conventions, offsets, and its accuracy on EWT dev."""

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from charlm.text.conll import align, read_tagged
from charlm.text.ud_tokenize import tokenize
from conftest import shared_file


def words(line):
    return [t for t, _, _ in tokenize(line)]


@pytest.mark.parametrize("line, expected", [
    ("I can't go.", ["I", "ca", "n't", "go", "."]),
    ("We won't, they cannot.", ["We", "wo", "n't", ",", "they", "can", "not", "."]),
    ("She's here; we'll see, they're late, I've, I'm, he'd",
     ["She", "'s", "here", ";", "we", "'ll", "see", ",", "they", "'re", "late", ",", "I",
      "'ve", ",", "I", "'m", ",", "he", "'d"]),
    ("Don’t I’m", ["Do", "n’t", "I", "’m"]),
    ("I'm gonna wanna", ["I", "'m", "gon", "na", "wan", "na"]),
    ("the parents' house", ["the", "parents", "'", "house"]),
    ("Mr. Smith of the U.S. met Dr. Who at 5:30 p.m. on 9/11.",
     ["Mr.", "Smith", "of", "the", "U.S.", "met", "Dr.", "Who", "at", "5:30", "p.m.", "on",
      "9/11", "."]),
    ("apples, pears, etc.", ["apples", ",", "pears", ",", "etc", "."]),
    ("It cost $1,000.50 (about 3.5%)!!!",
     ["It", "cost", "$", "1,000.50", "(", "about", "3.5", "%", ")", "!!!"]),
    ("Wait... what?!", ["Wait", "...", "what", "?!"]),
    ("see http://www.example.com/a?b=1. or mail me@enron.com",
     ["see", "http://www.example.com/a?b=1", ".", "or", "mail", "me@enron.com"]),
    ("a search-engine e-mail non-profit", ["a", "search", "-", "engine", "e-mail",
                                           "non-profit"]),
    ("call 713-853-3989 -- now", ["call", "713-853-3989", "--", "now"]),
    ("won 4-0 in the '80s and '67", ["won", "4", "-", "0", "in", "the", "'", "80s", "and",
                                     "'67"]),
    ("great :) b/c", ["great", ":)", "b/c"]),
    ("", []),
    ("   ", []),
])
def test_ewt_conventions(line, expected):
    assert words(line) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
               max_size=40))
def test_offsets_index_the_line_and_cover_all_non_space(line):
    toks = tokenize(line)
    covered = set()
    last = 0
    for token, start, end in toks:
        assert line[start:end] == token and token
        assert start >= last               # in order, no overlap
        last = end
        covered.update(range(start, end))
    # every character that is not white space (as the tokenizer's regex defines it)
    assert covered == {i for i, c in enumerate(line) if not regex.match(r"\s", c)}


def test_non_ascii_offsets():
    line = "Zoë’s café — naïve!"
    toks = tokenize(line)
    assert [t for t, _, _ in toks] == ["Zoë", "’s", "café", "—", "naïve", "!"]
    assert all(line[a:b] == t for t, a, b in toks)


@pytest.mark.realdata
def test_token_f1_on_ewt_dev():
    path = shared_file("tagging/en_ewt/en_ewt-ud-dev.conllu")
    gold_n = pred_n = hit = 0
    for sent in read_tagged(str(path)):
        spans = align(sent.tokens, sent.text)
        pred = {(a, b) for _, a, b in tokenize(sent.text)}
        gold_n += len(spans)
        pred_n += len(pred)
        hit += len(set(spans) & pred)
    f1 = 2 * hit / (gold_n + pred_n)
    assert f1 > 0.98


def test_an_acronym_without_a_final_dot_keeps_its_last_letter():
    assert tokenize("A.A") == [("A.A", 0, 3)]
    assert tokenize("in the U.S") == [("in", 0, 2), ("the", 3, 6), ("U.S", 7, 10)]
    assert tokenize("in the U.S.") == [("in", 0, 2), ("the", 3, 6), ("U.S", 7, 10),
                                       (".", 10, 11)]
