"""Readers of labelled lines: TSV/CSV either way round, with or without a header,
columns by index or name; fastText lines with one or several labels; a folder with
one file per class; errors that name the file and line; notes on what is odd."""

import pytest

from charlm.errors import CorpusError, UsageError
from charlm.text.labelled import ReadReport, check_examples, read_labelled
from conftest import shared_file


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


ROWS = [("a fine film", "pos"), ("dull and slow", "neg"), ("loved it", "pos"),
        ("awful", "neg"), ("great fun", "pos")]


def texts_labels(examples):
    return [(e.text, e.label) for e in examples]


def test_tsv_text_then_label_without_header(tmp_path):
    p = write(tmp_path / "a.tsv", "".join(f"{t}\t{lab}\n" for t, lab in ROWS))
    ex = read_labelled(p)
    assert texts_labels(ex) == ROWS
    assert (ex[1].source, ex[1].line) == (p, 2)


def test_tsv_label_first_is_detected(tmp_path):
    p = write(tmp_path / "a.tsv", "".join(f"{lab}\t{t}\n" for t, lab in ROWS))
    assert texts_labels(read_labelled(p)) == ROWS


def test_tsv_with_a_named_header(tmp_path):
    p = write(tmp_path / "a.tsv", "sentence\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in ROWS))
    ex = read_labelled(p)
    assert texts_labels(ex) == ROWS and ex[0].line == 2


def test_header_detected_by_its_label_occurring_only_once(tmp_path):
    p = write(tmp_path / "a.tsv", "words\tkind\n" + "".join(f"{t}\t{lab}\n" for t, lab in ROWS))
    assert texts_labels(read_labelled(p)) == ROWS
    # ... and forced off, the header line is an example
    assert len(read_labelled(p, header=False)) == len(ROWS) + 1


def test_columns_by_index_and_by_name(tmp_path):
    body = "".join(f"{k}\t{lab}\t{t}\n" for k, (t, lab) in enumerate(ROWS))
    p = write(tmp_path / "a.tsv", body)
    assert texts_labels(read_labelled(p, text_col="2", label_col="1")) == ROWS
    assert texts_labels(read_labelled(p, text_col="-1", label_col="1")) == ROWS
    p = write(tmp_path / "b.tsv", "id\tstars\treview\n" + body)
    assert texts_labels(read_labelled(p, text_col="review", label_col="stars")) == ROWS
    with pytest.raises(UsageError, match="no column named 'nope'"):
        read_labelled(p, text_col="nope")
    with pytest.raises(UsageError, match="out of range"):
        read_labelled(p, label_col="7")


def test_csv_with_quotes(tmp_path):
    p = write(tmp_path / "a.csv", 'text,label\n"good, really",pos\n"bad ""acting""",neg\n'
                                  "fine,pos\nugly,neg\n")
    ex = read_labelled(p)
    assert texts_labels(ex) == [("good, really", "pos"), ('bad "acting"', "neg"),
                                ("fine", "pos"), ("ugly", "neg")]


def test_fasttext_lines_with_one_or_several_labels(tmp_path):
    p = write(tmp_path / "a.txt", "__label__pos a fine film\n\n__label__neg __label__meh so so\n")
    report = ReadReport()
    ex = read_labelled(p, report=report)
    assert [(e.text, e.labels) for e in ex] == [("a fine film", ("pos",)),
                                               ("so so", ("neg", "meh"))]
    assert report.blank_lines == 1


def test_folder_with_one_file_per_class(tmp_path):
    d = tmp_path / "by-language"
    d.mkdir()
    write(d / "Russian.txt", "Ivanov\nPetrov\n")
    write(d / "Irish.txt", "O'Brien\n\nMurphy\n")
    write(d / "Empty.txt", "")
    report = ReadReport()
    ex = read_labelled(str(d), report=report)
    assert sorted(texts_labels(ex)) == sorted([("Ivanov", "Russian"), ("Petrov", "Russian"),
                                               ("O'Brien", "Irish"), ("Murphy", "Irish")])
    assert report.blank_lines == 1
    assert any("'Empty' has no examples" in n for n in report.notes)
    assert ex[[e.text for e in ex].index("Murphy")].line == 3


@pytest.mark.parametrize("body, fmt, message", [
    ("good\tpos\n\tneg\nbad\tneg\n", "auto", r"a\.tsv:2: the line has a label but no text"),
    ("good\tpos\nbad\t\nok\tneg\nfine\tpos\nmeh\tneg\n", "auto", r"a\.tsv:2: the line has a text but no label"),
    ("good\tpos\nbad\nok\tneg\n", "tsv", r"a\.tsv:2: 1 column"),
    ("__label__pos good\n__label__neg\n", "auto", r"a\.tsv:2: the line has labels but no text"),
    ("__label__pos good\nbad\n", "fasttext", r"a\.tsv:2: no __label__"),
])
def test_errors_name_the_file_and_line(tmp_path, body, fmt, message):
    p = write(tmp_path / "a.tsv", body)
    with pytest.raises(CorpusError, match=message):
        read_labelled(p, fmt)


def test_ambiguous_layouts_are_refused_with_a_hint(tmp_path):
    p = write(tmp_path / "a.txt", "no tabs here\nnor here\n")
    with pytest.raises(UsageError, match="--format"):
        read_labelled(p)
    p = write(tmp_path / "b.tsv", "a\tb\nc\td\n")             # as many distinct values
    with pytest.raises(UsageError, match="--label-col"):
        read_labelled(p)
    with pytest.raises(UsageError, match="needs a directory"):
        read_labelled(p, "folder")


def test_check_examples_notes_a_label_seen_once_and_refuses_one_label(tmp_path):
    p = write(tmp_path / "a.tsv", "x\tpos\ny\tpos\nz\tneg\nw\tneg\nv\tneu\n")
    notes = check_examples(read_labelled(p, label_col="1"), "a.tsv")
    assert len(notes) == 1 and "seen once ('neu')" in notes[0]
    p = write(tmp_path / "b.tsv", "x\tpos\ny\tpos\n")
    with pytest.raises(CorpusError, match="every line has the label 'pos'"):
        check_examples(read_labelled(p, label_col="1"), "b.tsv")


def test_the_shared_sets_are_read_as_intended():
    sst_dev = read_labelled(str(shared_file("classify/sst2/dev.tsv")))
    assert len(sst_dev) == 872 and {e.label for e in sst_dev} == {"0", "1"}
    sst_test = read_labelled(str(shared_file("classify/sst2/test.tsv")))   # no header
    assert len(sst_test) == 1821
    names = read_labelled(str(shared_file("classify/names/test.tsv")))
    assert len(names) == 2027 and names[0].text == "Aamer" and names[0].label == "Arabic"
