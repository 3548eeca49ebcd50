"""Readers and writers of tagged sentences: CoNLL-U, column files, raw text."""

import io
import json

import pytest

from charlm.errors import CorpusError, UsageError
from charlm.text import conll
from charlm.text.conll import (Sentence, detect_format, format_sentence, read_raw,
                               read_tagged)
from conftest import shared_file

CONLLU = """\
# newdoc id = d1
# sent_id = s1
# text = I can't go.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_
2\tca\tcan\tAUX\tMD\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
4.1\tgone\t_\t_\t_\t_\t_\t_\t_\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = s2
# text = Hi
1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_

"""

IOB = """\
-DOCSTART- -X- O

EU B-ORG
rejects O
German B-MISC

# O
Peter B-PER
Blackburn I-PER
"""

UNER = "# text = Al went\n1\tAl\tB-PER\t-\tann\n2\twent\tO\n\n1\tOK\tO\t-\t-\n"


def write(tmp_path, text, name="f.txt", mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return str(p)


def test_conllu_reads_tokens_tags_comments_text(tmp_path):
    sents = list(read_tagged(write(tmp_path, CONLLU)))
    assert [s.tokens for s in sents] == [["I", "ca", "n't", "go", "."], ["Hi"]]
    assert sents[0].tags == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert sents[0].text == "I can't go."
    assert sents[0].comments == ["# newdoc id = d1", "# sent_id = s1", "# text = I can't go."]
    assert sents[0].line == 1 and sents[1].line == 12
    assert [i for i, _ in sents[0].extra_rows] == [1, 4]
    xpos = list(read_tagged(write(tmp_path, CONLLU), tag_column="xpos"))
    assert xpos[0].tags == ["PRP", "MD", "RB", "VB", "."]


def test_conllu_without_tags_gives_none(tmp_path):
    text = "1\tHi\t_\t_\t_\t_\t_\t_\t_\t_\n2\tyou\t_\t_\t_\t_\t_\t_\t_\t_\n"
    (s,) = read_tagged(write(tmp_path, text))
    assert s.tokens == ["Hi", "you"] and s.tags is None


def test_column_file_iob_style(tmp_path):
    sents = list(read_tagged(write(tmp_path, IOB)))
    assert [s.tokens for s in sents] == [["EU", "rejects", "German"],
                                         ["#", "Peter", "Blackburn"]]
    assert sents[1].tags == ["O", "B-PER", "I-PER"]    # "# O" is a token, not a comment
    assert sents[0].line == 3


def test_column_file_uner_style_finds_id_and_tag_columns(tmp_path):
    sents = list(read_tagged(write(tmp_path, UNER)))
    assert sents[0].tokens == ["Al", "went"] and sents[0].tags == ["B-PER", "O"]
    assert sents[0].text == "Al went" and sents[0].tag_col == 2
    assert sents[1].tokens == ["OK"]


def test_column_indices_can_be_given(tmp_path):
    text = "a\tX\tNOUN\nb\tY\tVERB\n"
    (s,) = read_tagged(write(tmp_path, text), fmt="conll", token_col=0, tag_col=1)
    assert s.tags == ["X", "Y"]
    (s,) = read_tagged(write(tmp_path, text))
    assert s.tags == ["NOUN", "VERB"]        # default: the last column


def test_detect_format():
    assert detect_format(CONLLU.splitlines()) == "conllu"
    assert detect_format(IOB.splitlines()) == "conll"
    with pytest.raises(CorpusError, match="cannot tell"):
        detect_format(["a B", "c", ""])
    with pytest.raises(CorpusError, match="no token lines"):
        detect_format(["# only a comment"])


def test_reads_crlf_bom_and_streams(tmp_path):
    data = ("\ufeff" + IOB).replace("\n", "\r\n").encode("utf-8")
    sents = list(read_tagged(io.BytesIO(data)))
    assert sents[0].tokens == ["EU", "rejects", "German"]
    # lazy: the first sentence comes before a broken line far below is read
    broken = CONLLU + "x\ty\n" * 10
    it = read_tagged(write(tmp_path, broken), fmt="conllu")
    assert next(it).tokens[0] == "I"
    assert next(it).tokens == ["Hi"]
    with pytest.raises(CorpusError, match=":16: expected 10"):
        next(it)


def test_reader_is_lazy_over_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(conll, "PEEK_LINES", 5)
    body = "".join(f"w{i} O\n\n" for i in range(5000))
    path = write(tmp_path, body)
    calls = []
    real = conll.read_chunks

    def spy(*a, **k):
        for chunk in real(*a, **dict(k, chunk_bytes=256)):
            calls.append(chunk)
            yield chunk

    monkeypatch.setattr(conll, "read_chunks", spy)
    it = read_tagged(path, fmt="conll", tag_col=1)
    next(it)
    assert len(calls) <= 2          # not the whole file


@pytest.mark.parametrize("text, message", [
    ("1\tA\tB\n", ":1: expected 10"),
    ("1\ta\ta\tNOUN\t_\t_\t_\t_\t_\t_\n1\ta\ta\tNOUN\t_\t_\t_\t_\n", ":2: expected 10"),
    ("# c\n1\ta\ta\tNOUN\t_\t_\t_\t_\t_\t_\nx\ta\ta\tNOUN\t_\t_\t_\t_\t_\t_\n",
     ":3: token ID 'x' is not an integer"),
    ("1\ta\ta\tNOUN\t_\t_\t_\t_\t_\t_\n3\ta\ta\tNOUN\t_\t_\t_\t_\t_\t_\n", ":2: token ID 3 out"),
    ("1\ta\ta\tNOUN\t_\t_\t_\t_\t_\t_\n2\tb\tb\t_\t_\t_\t_\t_\t_\t_\n", ":2: missing tag"),
    ("1\ta\ta\t\t_\t_\t_\t_\t_\t_\n", ":1: empty FORM or tag"),
])
def test_malformed_conllu(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(CorpusError, match=message):
        list(read_tagged(path, fmt="conllu"))


@pytest.mark.parametrize("text, message", [
    ("a O\nb O\nc O X\n", r"f\.txt:3: expected 2 columns"),
    ("a\tO\nb\t\n", r":2: missing tag"),
    ("\n\n# just a comment\n\n", "no token lines|no sentences"),
    ("", "no token lines|no sentences"),
])
def test_malformed_column_files(tmp_path, text, message):
    with pytest.raises(CorpusError, match=message):
        list(read_tagged(write(tmp_path, text)))


def test_binary_junk_names_file_and_line(tmp_path):
    path = write(tmp_path, b"a O\nb O\n\x00\x01\x02 O\n", mode="wb")
    with pytest.raises(CorpusError, match=r"f\.txt: a NUL byte at line 3, byte offset 8"):
        list(read_tagged(path, fmt="conll"))
    path = write(tmp_path, b"a O\n\xff\xfe O\n", mode="wb")
    with pytest.raises(CorpusError, match=r"f\.txt: invalid UTF-8 at line 2"):
        list(read_tagged(path))


def test_missing_file_and_bad_options(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        list(read_tagged(str(tmp_path / "nope.conllu")))
    with pytest.raises(UsageError):
        list(read_tagged(write(tmp_path, IOB), fmt="xml"))
    with pytest.raises(UsageError):
        list(read_tagged(write(tmp_path, IOB), tag_column="deprel"))


def test_read_raw_offsets_index_the_line(tmp_path):
    text = "Zoë can't visit Zürich.\n\n  naïve  café \n"
    sents = list(read_raw(write(tmp_path, text)))
    assert len(sents) == 3 and sents[1].tokens == []
    s = sents[0]
    assert s.tokens == ["Zoë", "ca", "n't", "visit", "Zürich", "."]
    assert [s.text[a:b] for a, b in s.offsets] == s.tokens
    p = list(read_raw(write(tmp_path, text), pretokenized=True))[2]
    assert p.tokens == ["naïve", "café"] and p.offsets == [(2, 7), (9, 13)]


# --- writers ---------------------------------------------------------------------------

def test_conllu_round_trips_through_the_reader(tmp_path):
    sents = list(read_tagged(write(tmp_path, CONLLU)))
    out = "".join(format_sentence(s, ["X"] * len(s.tokens), "conllu") for s in sents)
    again = list(read_tagged(write(tmp_path, out, "out.conllu")))
    assert [s.tokens for s in again] == [s.tokens for s in sents]
    assert [s.tags for s in again] == [["X"] * 5, ["X"]]
    assert again[0].comments == sents[0].comments
    assert [r for _, r in again[0].extra_rows] == [r for _, r in sents[0].extra_rows]
    # unchanged tags write the file back byte for byte
    same = "".join(format_sentence(s, s.tags, "conllu") for s in sents)
    assert same == CONLLU


def test_raw_text_to_conllu_re_reads(tmp_path):
    (s,) = read_raw(io.BytesIO("Zoë can't go.\n".encode()))
    out = format_sentence(s, ["PROPN", "AUX", "PART", "VERB", "PUNCT"], "conllu")
    (back,) = read_tagged(write(tmp_path, out))
    assert back.tokens == s.tokens and back.tags[0] == "PROPN"
    assert back.text == "Zoë can't go."
    assert "SpaceAfter=No" in out.splitlines()[2]      # ca|n't
    out = format_sentence(s, ["A", "B", "C", "D", "E"], "conllu", tag_column="xpos")
    assert out.splitlines()[1].split("\t")[4] == "A"


def test_column_formats(tmp_path):
    (_, s) = read_tagged(write(tmp_path, IOB))
    tags = ["O", "B-PER", "I-PER"]
    assert format_sentence(s, tags, "conll") == "# O\nPeter B-PER\nBlackburn I-PER\n\n"
    assert format_sentence(s, tags, "tsv") == "#\tO\nPeter\tB-PER\nBlackburn\tI-PER\n\n"
    assert format_sentence(s, tags, "inline") == "#/O Peter/B-PER Blackburn/I-PER\n"
    assert json.loads(format_sentence(s, tags, "jsonl")) == {
        "tokens": ["#", "Peter", "Blackburn"], "tags": tags}
    assert format_sentence(s, tags, "conll", scheme="bioes") == \
        "# O\nPeter B-PER\nBlackburn E-PER\n\n"
    (u, _) = read_tagged(write(tmp_path, UNER))
    assert format_sentence(u, ["O", "B-LOC"], "conll") == \
        "# text = Al went\n1\tAl\tO\t-\tann\n2\twent\tB-LOC\n\n"


def test_spans_offsets_index_the_input_line():
    line = "Ünal Çelik flew to São Paulo."
    (s,) = read_raw(io.BytesIO((line + "\n").encode()))
    assert s.tokens == ["Ünal", "Çelik", "flew", "to", "São", "Paulo", "."]
    tags = ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O"]
    record = json.loads(format_sentence(s, tags, "spans"))
    assert record["text"] == line
    assert record["entities"] == [
        {"text": "Ünal Çelik", "type": "PER", "start": 0, "end": 10},
        {"text": "São Paulo", "type": "LOC", "start": 19, "end": 28}]
    for e in record["entities"]:
        assert line[e["start"]:e["end"]] == e["text"]


def test_spans_for_conllu_and_column_input(tmp_path):
    (s, _) = read_tagged(write(tmp_path, CONLLU))
    record = json.loads(format_sentence(s, ["B-PER", "O", "O", "B-X", "O"], "spans"))
    assert record["entities"][0] == {"text": "I", "type": "PER", "start": 0, "end": 1}
    assert record["entities"][1]["start"] == 8        # "go" in "I can't go."
    (e, _) = read_tagged(write(tmp_path, IOB))
    record = json.loads(format_sentence(e, ["B-ORG", "O", "B-MISC"], "spans"))
    assert record["text"] == "EU rejects German"
    assert record["entities"][1] == {"text": "German", "type": "MISC", "start": 11,
                                     "end": 17}


def test_empty_sentence_keeps_line_alignment():
    s = Sentence([], None, text="")
    assert format_sentence(s, [], "inline") == "\n"
    assert json.loads(format_sentence(s, [], "spans")) == {"text": "", "entities": []}
    assert format_sentence(s, [], "conllu") == ""
    with pytest.raises(UsageError):
        format_sentence(s, [], "xml")


# --- real files ---------------------------------------------------------------------------

@pytest.mark.realdata
def test_real_files():
    ewt = shared_file("tagging/en_ewt/en_ewt-ud-dev.conllu")
    sents = list(read_tagged(str(ewt)))
    assert len(sents) == 2001 and sum(len(s.tokens) for s in sents) == 25147
    assert all(s.text for s in sents)
    uner = list(read_tagged(str(shared_file("tagging/uner_en_ewt/en_ewt-ud-dev.iob2"))))
    assert len(uner) == 2001
    assert {t for s in uner for t in s.tags} == {"O", "B-PER", "I-PER", "B-LOC", "I-LOC",
                                                 "B-ORG", "I-ORG"}
    wiki = list(read_tagged(str(shared_file("eval/wikigold/wikigold.conll.txt"))))
    assert len(wiki) == 1696                       # 1841 blocks less 145 -DOCSTART-
    assert {t for s in wiki for t in s.tags} == {"O", "I-PER", "I-LOC", "I-ORG", "I-MISC"}
    pud = list(read_tagged(str(shared_file("eval/uner_en_pud/en_pud-ud-test.iob2"))))
    assert len(pud) == 1000 and pud[0].text.startswith("“While")


@pytest.mark.realdata
@pytest.mark.parametrize("rel, fmt", [("tagging/en_ewt/en_ewt-ud-dev.conllu", "conllu"),
                                      ("tagging/uner_en_ewt/en_ewt-ud-dev.iob2", "conll")])
def test_real_files_write_back_byte_for_byte(rel, fmt):
    path = shared_file(rel)
    out = "".join(format_sentence(s, s.tags, fmt) for s in read_tagged(str(path)))
    assert out == path.read_text(encoding="utf-8")


class _Trickle(io.RawIOBase):
    """A pipe that gives one line per read and fails if read past what was asked for."""

    def __init__(self, lines):
        self.lines = list(lines)
        self.reads = 0

    def readable(self):
        return True

    def read1(self, n=-1):
        self.reads += 1
        return self.lines.pop(0) if self.lines else b""

    read = read1


def test_stdin_is_read_as_it_comes(monkeypatch):
    pipe = _Trickle([b"first line here\n", b"second\n", b"third\n"])
    monkeypatch.setattr("sys.stdin", type("Stdin", (), {"buffer": pipe})())
    it = read_raw("-")
    first = next(it)
    assert first.tokens == ["first", "line", "here"] and first.source == "<stdin>"
    assert pipe.reads == 1              # tagged before the rest of the pipe arrived
    assert [s.text for s in it] == ["second", "third"]


def test_conllu_on_stdin_is_read_one_sentence_ahead(monkeypatch):
    lines = [ln.encode() + b"\n" for ln in CONLLU.splitlines()]
    pipe = _Trickle(lines)
    monkeypatch.setattr("sys.stdin", type("Stdin", (), {"buffer": pipe})())
    it = read_tagged("-")
    assert next(it).tokens[0] == "I"
    assert pipe.reads <= 12             # the first sentence and its blank line
    assert next(it).tokens == ["Hi"]


def test_raw_text_refuses_nul_but_not_a_stray_control():
    (s,) = read_raw(io.BytesIO(b"a\x1bb c\n"))
    assert s.tokens[-1] == "c"
    with pytest.raises(CorpusError, match=r"<stream>: a NUL byte at line 2, byte offset 3"):
        list(read_raw(io.BytesIO(b"ok\n\x00\x00\n")))
