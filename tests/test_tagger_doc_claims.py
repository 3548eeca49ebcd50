"""What docs/model-format.md says a port of the tagger must do exactly, checked against
the code: digits, lower case, no normalisation, code points, the 24-character cut,
no zero-input first step, and each scheme's forbidden transitions."""

import unicodedata

import numpy as np

from charlm.tagger.data import MAX_WORD_CHARS, TagVocab, clip_chars, make_batch, word_key
from charlm.tagger.decode import transition_mask
from charlm.tagger.model import TaggerConfig, TaggerModel
from charlm.text.conll import Sentence


def test_only_unicode_decimal_digits_become_zero():
    assert word_key("1984") == "0000"
    assert word_key("٣७１") == "000"                 # Arabic-Indic, Devanagari, fullwidth
    assert word_key("x²½Ⅻ") == "x²½ⅻ"               # other numerals stay (Ⅻ lower-cased)


def test_lower_case_is_not_case_folding():
    assert word_key("Straße") == "straße"            # casefold would give "strasse"
    assert word_key("İ") == "i\u0307"
    assert word_key("ΣΑΣ") == "σας"
    assert word_key("ABC", lowercase=False) == "ABC"


def test_no_normalisation_and_code_points():
    nfc, nfd = "café", unicodedata.normalize("NFD", "café")
    assert word_key(nfc) != word_key(nfd)
    vocab = TagVocab.build([Sentence([nfd], ["NOUN"])])
    assert len(vocab.encode_chars(nfd)) == 5 and "\u0301" in vocab.chars


def test_the_cut_is_for_characters_only():
    long = "a" * 13 + "b" * 5 + "c" * 13
    assert MAX_WORD_CHARS == 24
    assert clip_chars(long) == "a" * 12 + "c" * 12
    assert word_key(long) == long
    vocab = TagVocab.build([Sentence([long], ["X"])])
    assert vocab.words[2] == long and len(vocab.encode_chars(long)) == 24


def test_no_zero_input_first_step():
    """The forward direction's first output is the cell applied to x⟨1⟩ from a zero
    state: a one-token sentence equals one step of the cell by hand."""
    vocab = TagVocab.build([Sentence(["a", "b"], ["X", "Y"])])
    cfg = TaggerConfig(len(vocab.words), len(vocab.chars), len(vocab.tags), cell="rnn",
                       hidden=3, embed=2, char_embed=2, char_hidden=2)
    model = TaggerModel.create(cfg, np.random.default_rng(0), np.float64)
    p = model.params
    x, _, _ = make_batch(vocab, [["a"]], [0])
    chi = model.char_features(np.array([[vocab.char_ids["a"]]]), np.array([1]))[:, 0]
    x1 = np.concatenate([p["W_ex"][:, vocab.word_ids["a"]], chi])
    a_fw = np.tanh(p["layer1.fw.W_ax"] @ x1 + p["layer1.fw.b_a"])
    a_bw = np.tanh(p["layer1.bw.W_ax"] @ x1 + p["layer1.bw.b_a"])
    logits = p["W_y"] @ np.concatenate([a_fw, a_bw]) + p["b_y"]
    want = logits - np.log(np.exp(logits).sum())
    assert np.allclose(model.log_probs(x)[0, 0], want, atol=1e-12)
    # and the character features: one step of each direction of the character RNN
    e = p["char.W_ce"][:, vocab.char_ids["a"]]
    c_fw = np.tanh(p["char.fw.W_ax"] @ e + p["char.fw.b_a"])
    c_bw = np.tanh(p["char.bw.W_ax"] @ e + p["char.bw.b_a"])
    assert np.allclose(chi, np.concatenate([c_fw, c_bw]), atol=1e-12)


TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-PER", "S-PER"]


def _forbidden(scheme, tags):
    allowed, start, end = transition_mask(tags, scheme)
    pairs = {(tags[i], tags[j]) for i in range(len(tags)) for j in range(len(tags))
             if not allowed[i, j]}
    return pairs, {t for t, ok in zip(tags, start) if not ok}, \
        {t for t, ok in zip(tags, end) if not ok}


def test_forbidden_transitions_as_the_table_says():
    iob = TAGS[:5]
    pairs, first, last = _forbidden("iob2", iob)
    assert pairs == {(i, j) for i in iob for j in ("I-PER", "I-LOC")
                     if i[2:] != j[2:] or i == "O"}
    assert first == {"I-PER", "I-LOC"} and last == set()
    pairs, first, last = _forbidden("iob1", iob)
    assert pairs == {(i, j) for i in iob for j in ("B-PER", "B-LOC")
                     if i[2:] != j[2:] or i == "O"}
    assert first == {"B-PER", "B-LOC"} and last == set()
    bioes = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "E-LOC"]
    pairs, first, last = _forbidden("bioes", bioes)
    opening = ("B-PER", "I-PER", "B-LOC")
    want = set()
    for i in bioes:
        for j in bioes:
            continues = i[0] in "BI" and i[2:] == j[2:]
            if j[0] in "IE" and not continues:
                want.add((i, j))
            elif j[0] not in "IE" and i in opening:
                want.add((i, j))
    assert pairs == want
    assert first == {"I-PER", "E-PER", "E-LOC"} and last == set(opening)
    for scheme in ("io", None):
        assert _forbidden(scheme, iob) == (set(), set(), set())
    # a tag that is not X-TYPE counts as O; an all-O tag set forbids nothing
    assert _forbidden("iob2", ["O", "B-", "NOUN"]) == (set(), set(), set())
