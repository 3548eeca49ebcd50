"""Reading and preparing corpora in chunks and blocks gives exactly what reading
everything at once would."""

import os

import numpy as np
import pytest

from charlm.text import cache
from charlm.text import corpus
from charlm.text.corpus import Batches, prepare, shuffle_lines, type_stream
from charlm.errors import CorpusError
from charlm.text.reader import Oddities, Source, read_chunks
from charlm.text.tokens import TextConfig, tokenize
from charlm.text.vocab import EOS, EOS_ID

TEXT = ("Héllo wörld, ça va?\r\nЗдравствуй, мир!\n\n\nline with e\u0301 accent\r"
        "👍🏽 emoji and tab\there\n" * 7 + "last line without end")


@pytest.mark.parametrize("chunk", [5, 13, 64, 1 << 20])
def test_chunked_reading_equals_whole_decoding(chunk):
    data = TEXT.encode("utf-8")
    chunks = list(read_chunks(Source("t", data=data), chunk_bytes=chunk))
    expect = TEXT.replace("\r\n", "\n").replace("\r", "\n")
    assert "".join(c.text for c in chunks) == expect
    assert all(c.text.endswith("\n") for c in chunks[:-1]) and chunks[-1].last
    assert chunks[0].first_line == 1


@pytest.mark.parametrize("level,split,graphemes", [("char", "lines", False),
                                                   ("char", "none", False),
                                                   ("char", "lines", True),
                                                   ("word", "lines", False),
                                                   ("word", "none", False)])
def test_type_stream_does_not_depend_on_chunk_size(level, split, graphemes):
    cfg = TextConfig(level=level, split=split, graphemes=graphemes)
    whole = type_stream([TEXT, "second file\n"], cfg, collect_lines=True)
    small = type_stream([TEXT, "second file\n"], cfg, collect_lines=True, chunk_bytes=11)
    as_text = lambda s: [s.types[i] for i in s.ids]
    assert as_text(whole) == as_text(small)
    if split == "lines":
        assert np.array_equal(whole.line_keys, small.line_keys)
    # And it is what tokenizing the whole text at once gives.
    texts = [TEXT.replace("\r\n", "\n").replace("\r", "\n"), "second file\n"]
    if split == "lines":
        expect = [t for text in texts for line in text.split("\n")
                  for t in (tokenize(line, cfg) + [EOS] if tokenize(line, cfg) else [])]
    else:
        expect = tokenize(texts[0], cfg) + ["\n"] + tokenize(texts[1], cfg)
    assert as_text(whole) == expect


def test_many_types_switch_to_uint32():
    text = "".join(chr(0x10000 + i) for i in range(70000))      # 70,000 distinct characters
    s = type_stream([text], TextConfig(split="none", normalize="none"), chunk_bytes=1 << 16)
    assert s.ids.dtype == np.uint32 and len(s.types) > 70000
    assert "".join(s.types[i] for i in s.ids) == text + "\n"


def naive_prepare(stream, fraction, rng, split):
    ids = stream.ids
    if split == "none":
        cut = len(ids) - int(round(len(ids) * fraction))
        return ids[:cut], ids[cut:]
    ends = np.flatnonzero(ids == 0)
    n = len(ends)
    is_val = np.zeros(n, bool)
    is_val[rng.permutation(n)[:min(int(round(n * fraction)), n - 1)]] = True
    lengths = np.diff(np.concatenate(([-1], ends)))
    m = np.repeat(is_val, lengths)
    return ids[~m], ids[m]


@pytest.mark.parametrize("split", ["lines", "none"])
def test_blockwise_prepare_equals_naive(monkeypatch, split):
    monkeypatch.setattr(corpus, "_BLOCK", 37)                   # many tiny blocks
    rng = np.random.default_rng(0)
    text = "\n".join("".join(rng.choice(list("abcdefgh"), rng.integers(1, 30)))
                     for _ in range(300))
    cfg = TextConfig(split=split)
    s = type_stream([text], cfg)
    p = prepare(s, cfg, 0.2, np.random.default_rng(5))
    train, val = naive_prepare(s, 0.2, np.random.default_rng(5), split)
    lut = corpus.encode_lut(s, p.vocab)
    assert np.array_equal(p.train_ids, lut[train]) and np.array_equal(p.val_ids, lut[val])
    assert p.train_ids.dtype == np.uint8


def test_validation_is_capped_in_tokens():
    text = "\n".join("abcdefghij" for _ in range(1000))
    s = type_stream([text], TextConfig())
    p = prepare(s, TextConfig(), 0.5, np.random.default_rng(0), val_max_tokens=110)
    assert len(p.val_ids) == 110                                # 10 lines of 11 tokens
    s = type_stream([text], TextConfig(split="none"))
    p = prepare(s, TextConfig(split="none"), 0.5, np.random.default_rng(0), val_max_tokens=50)
    assert len(p.val_ids) == 50


def test_block_shuffle_is_a_permutation_of_lines():
    rng = np.random.default_rng(1)
    ids = np.concatenate([np.append(rng.integers(1, 9, rng.integers(1, 12)), 0)
                          for _ in range(500)]).astype(np.uint8)
    out = shuffle_lines(ids, np.flatnonzero(ids == 0), rng, block=50)
    lines = lambda a: sorted(tuple(x) for x in np.split(a, np.flatnonzero(a == 0) + 1) if len(x))
    assert lines(out) == lines(ids) and not np.array_equal(out, ids)


def windows(ep):
    parts = [ep[i] for i in range(len(ep))]
    x = np.concatenate([p[0] for p in parts], axis=1)
    y = np.concatenate([p[1] for p in parts], axis=1)
    mask = np.concatenate([np.ones_like(p[1], float) if p[2] is None else p[2] for p in parts],
                          axis=1)
    return x, y, mask


def test_batch_windows_rebuild_inputs_and_masks_from_targets():
    ids = np.array([3, 4, 0, 5, 6, 7, 0, 8, 0, 9, 9, 9, 9, 0], dtype=np.uint8)
    x, y, mask = windows(Batches(ids, N=2, T=3).epoch())
    assert y.tolist() == [[3, 4, 0, 5, 6, 7, 0], [8, 0, 9, 9, 9, 9, 0]]    # cut at a line end
    assert x.tolist() == [[0, 3, 4, 0, 5, 6, 7], [0, 8, 0, 9, 9, 9, 9]]    # EOS, then y shifted
    assert mask.all()
    ids = np.array([1, 1, 0, 2, 0, 3, 3, 3, 3, 3, 0], dtype=np.uint8)
    x, y, mask = windows(Batches(ids, N=2, T=4).epoch())
    assert mask.tolist() == [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]]       # row 0 is padded
    assert y[0, :5].tolist() == [1, 1, 0, 2, 0] and x[1].tolist() == [0, 3, 3, 3, 3, 3]
    # A stream (--split none) cut mid-text: a row's first input is the token before it.
    ids = np.arange(1, 11, dtype=np.uint8)
    x, y, _ = windows(Batches(ids, N=2, T=3, lines=False).epoch())
    assert x[1, 0] == y[0, -1] and x[0, 0] == EOS_ID


def test_cache_hits_and_is_never_stale(tmp_path, monkeypatch):
    from charlm.lm import session

    monkeypatch.setenv("CHARLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "MIN_BYTES", 0)
    f = tmp_path / "c.txt"
    f.write_text("abc\nbcd\n" * 50)
    _, s1 = session.read_corpus([str(f)], TextConfig())
    assert len(os.listdir(tmp_path / "cache")) == 3            # ids, line keys, json
    _, s2 = session.read_corpus([str(f)], TextConfig())
    assert isinstance(s2.ids, np.memmap) and np.array_equal(s1.ids, s2.ids)
    f.write_text("abc\nxyz\n" * 50)                             # same size, new content
    _, s3 = session.read_corpus([str(f)], TextConfig())
    assert "x" in s3.types and not isinstance(s3.ids, np.memmap)
    _, s4 = session.read_corpus([str(f)], TextConfig(lowercase=True))
    assert not isinstance(s4.ids, np.memmap)                    # other options, other key


def test_oddities_are_found_with_their_place():
    data = b"\xef\xbb\xbfok line\r\nnul\x00here\nctl\x07x\n" + b"y" * 50 + b"\nbad \xff\xfe\nlast\rcr\n"
    odd = Oddities()
    for _ in read_chunks(Source("f", data=data), oddities=odd, long_line=40):
        pass
    assert odd.bom and odd.crlf == 1 and odd.lone_cr == 1 and odd.nul_bytes == 1
    assert odd.control_chars == 2                               # NUL and BEL
    assert odd.invalid_utf8 == 2 and odd.first["invalid_utf8"]["line"] == 5
    assert odd.long_lines == 1 and odd.first["long_line"]["line"] == 4
    assert odd.first["nul"] == {"line": 2, "byte": data.index(b"\x00")}   # file offsets


def test_strict_decoding_names_file_line_and_offset():
    with pytest.raises(CorpusError, match=r"f: invalid UTF-8 at line 3, byte offset 8"):
        list(read_chunks(Source("f", data=b"ab\ncd\nef\xffgh\n")))


def test_bundled_corpora_found_in_a_source_checkout_without_the_data_package(monkeypatch):
    """Running from a checkout whose charlm/ shadows the installed wheel: the data
    package charlm.corpora is not importable, and the top-level corpora/ is used."""
    from charlm.text import bundled

    def missing(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(bundled.resources, "files", missing)
    root = bundled._root()
    assert (root / "index.json").is_file()
    assert root.name == "corpora"
