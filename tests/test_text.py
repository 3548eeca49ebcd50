import numpy as np
import pytest

from charlm.text.corpus import Batches, build_vocab, encode, shuffle_lines, split_validation, type_stream
from charlm.errors import UsageError
from charlm.text.tokens import TextConfig, detokenize, tokenize
from charlm.text.vocab import EOS, EOS_ID, UNK, UNK_ID, Vocab, id_dtype


def words(text, **kw):
    return tokenize(text, TextConfig(level="word", **kw))


def test_word_tokenizer_english():
    assert words("Don't stop, Mary-Jane! It costs 3.14 (or 1,000).") == [
        "Don't", "stop", ",", "Mary-Jane", "!", "It", "costs", "3.14", "(", "or",
        "1,000", ")", "."]


def test_word_tokenizer_other_scripts_and_runs():
    assert words("Отцы и дети... «Ну?»") == ["Отцы", "и", "дети", "...", "«", "Ну", "?", "»"]
    assert words("l'homme — Straße") == ["l'homme", "—", "Straße"]


def test_nfc_makes_one_character_of_two_spellings():
    cfg = TextConfig()
    assert tokenize("e\u0301", cfg) == ["\u00e9"]
    assert tokenize("e\u0301", TextConfig(normalize="none")) == ["e", "\u0301"]


def test_graphemes_keep_clusters_whole():
    cfg = TextConfig(graphemes=True, normalize="none")
    assert tokenize("a\u0301\u0302b👍🏽", cfg) == ["a\u0301\u0302", "b", "👍🏽"]


def test_detokenize_restores_normal_spacing():
    cfg = TextConfig(level="word")
    text = 'He said: "Don\'t go!" (3.14, well-known...) Fine.\nNext'
    assert detokenize(tokenize(text, cfg), cfg) == text


def test_text_config_rejects_unknown_values():
    with pytest.raises(UsageError):
        TextConfig(level="byte")


def test_vocab_order_and_special_ids():
    v = Vocab.build(["<eos>", "b", "a", "c"], [0, 5, 5, 1], min_count=2)
    assert v.tokens == [EOS, UNK, "a", "b"]
    assert (v.eos_id, v.unk_id) == (0, 1)
    ids, oov = v.encode(["a", "c", "zz"])
    assert ids == [2, UNK_ID, UNK_ID] and oov == 2
    assert Vocab.from_dict(v.to_dict()).tokens == v.tokens
    assert id_dtype(256) == np.uint8 and id_dtype(257) == np.uint16 and id_dtype(70000) == np.uint32


def test_max_vocab_counts_specials():
    v = Vocab.build(["<eos>", "a", "b", "c"], [0, 3, 2, 1], max_vocab=4)
    assert v.tokens == [EOS, UNK, "a", "b"]


def test_char_stream_lines_drops_empty_lines_and_frames_with_eos():
    s = type_stream(["ab\n\n\nba\r\nc"], TextConfig())
    text = [s.types[i] for i in s.ids]
    assert text == ["a", "b", EOS, "b", "a", EOS, "c", EOS]          # CRLF is one line end


def test_char_stream_none_keeps_newlines():
    s = type_stream(["ab\n\nc", "d"], TextConfig(split="none"))
    assert "".join(s.types[i] for i in s.ids) == "ab\n\nc\nd\n"


def test_word_stream_lines_and_none():
    s = type_stream(["a b\n\nb c\n"], TextConfig(level="word"))
    assert [s.types[i] for i in s.ids] == ["a", "b", EOS, "b", "c", EOS]
    s = type_stream(["a b\n\nb"], TextConfig(level="word", split="none"))
    assert [s.types[i] for i in s.ids] == ["a", "b", "\n", "\n", "b", "\n"]


def test_validation_holds_out_whole_lines(rng):
    s = type_stream(["\n".join(f"line{i}" for i in range(100))], TextConfig())
    train, val = split_validation(s, 0.1, "lines", rng)
    assert np.count_nonzero(val == 0) == 10 and np.count_nonzero(train == 0) == 90
    assert len(train) + len(val) == len(s.ids)
    assert val[-1] == 0 and train[-1] == 0


def test_validation_none_takes_the_tail(rng):
    s = type_stream(["abcdefghij"], TextConfig(split="none"))
    train, val = split_validation(s, 0.2, "none", rng)
    assert np.array_equal(np.concatenate([train, val]), s.ids) and len(val) == 2


def test_vocab_comes_from_training_part_only(rng):
    s = type_stream(["aaa\nbbb\nccc\nz"], TextConfig())
    train = s.ids[:8]                                  # "aaa bbb" with their EOS
    v = build_vocab(s, np.bincount(train, minlength=len(s.types)))
    assert set(v.tokens) == {EOS, UNK, "a", "b"}
    ids = encode(s, s.ids, v)
    assert np.count_nonzero(ids == UNK_ID) == 4        # c c c z


def test_shuffle_lines_is_a_permutation_of_lines(rng):
    ids = np.array([5, 6, 0, 7, 0, 8, 9, 9, 0])
    out = shuffle_lines(ids, np.flatnonzero(ids == 0), rng)
    lines = lambda a: sorted(tuple(x) for x in np.split(a, np.flatnonzero(a == 0) + 1) if len(x))
    assert lines(out) == lines(ids)


@pytest.mark.parametrize("lines", [True, False])
def test_batches_cover_every_target_once(lines, rng):
    text = "\n".join("x" * int(k) for k in rng.integers(1, 9, 50))
    s = type_stream([text], TextConfig(split="lines" if lines else "none"))
    b = Batches(s.ids, N=4, T=5, lines=lines)
    epoch = b.epoch(rng if lines else None)
    seen = []
    for x, y, mask in (epoch[i] for i in range(len(epoch))):
        m = np.ones(y.shape, bool) if mask is None else mask.astype(bool)
        seen.append(np.sort(y[m]))
    assert np.array_equal(np.sort(np.concatenate(seen)), np.sort(s.ids))
    if lines:
        # Every row starts at a line start (its first input is EOS), and inside a row
        # the input is always the previous target.
        x = np.concatenate([epoch[i][0] for i in range(len(epoch))], axis=1)
        y = epoch.y
        mask = np.arange(y.shape[1])[None, :] < epoch.lengths[:, None]
        assert np.all(x[:, 0] == EOS_ID)
        assert np.all(x[:, 1:][mask[:, 1:]] == y[:, :-1][mask[:, 1:]])
