"""Every command against every kind of bad input a user can give it.

Each cell of the matrix either works (exit 0) or fails the way a user can act on: exit
2 (usage) or 1 (runtime), a few lines on stderr saying what to do, nothing on stdout,
no traceback, and no output file left behind. The suite runs with CHARLM_DEBUG=1, so an
unexpected exception surfaces here as an error with its traceback, never as a
friendly line that hides a bug.

Adding a command is one entry in COMMANDS (how it is called on an input) and one
column in MATRIX (what each input should give); adding an input is one function in
tests/badinput.py and one row in MATRIX.
"""

import builtins
import io
import json
import os
import re

import pytest
from click.testing import CliRunner

import badinput
from charlm.cli.app import cli
from charlm.store import modelfile

MAX_ERROR_LINES = 5
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("matrix")
    corpus = d / "names.txt"
    corpus.write_text("\n".join(["anna", "bob", "carla", "dan"] * 20) + "\n")
    out = d / "m.npz"
    r = invoke(["train", corpus, "-o", out, "--steps", "5", "--hidden", "8", "--layers", "1",
                "-q"])
    assert r.exit_code == 0, r.stderr
    # and a classifier beside it (m.parent / "c.npz"), for `classify`
    labelled = d / "names.tsv"
    labelled.write_text("anna\tf\nbob\tm\ncarla\tf\ndan\tm\n" * 5)
    r = invoke(["train-classifier", labelled, "--level", "char", "-o", d / "c.npz",
                "--steps", "2", "--hidden", "4", "-q"])
    assert r.exit_code == 0, r.stderr
    return out


def invoke(args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input,
                              catch_exceptions=False)


# How each command is called on an input; ``out`` is a folder that must stay empty when
# the command fails.
COMMANDS = {
    "train": lambda p, out, m: ["train", p, "-o", out / "m.npz", "--steps", "2",
                                "--hidden", "4", "--layers", "1", "--progress", "off",
                                "--sample-every", "0"],
    # the input as the validation text of a good corpus (the model's)
    "train --dev": lambda p, out, m: ["train", m.parent / "names.txt", "--dev", p,
                                      "-o", out / "m.npz", "--steps", "2", "--hidden", "4",
                                      "--layers", "1", "--progress", "off",
                                      "--sample-every", "0"],
    "tokenize": lambda p, out, m: ["tokenize", p, "--vocab-out", out / "vocab.json"],
    "score": lambda p, out, m: ["score", "-m", m, p, "--summary-only"],
    "generate": lambda p, out, m: ["generate", "-m", p, "-n", "1", "--seed", "1"],
    "info": lambda p, out, m: ["info", p],
    "train-tagger": lambda p, out, m: ["train-tagger", p, "-o", out / "t.npz", "--steps", "2",
                                       "--hidden", "4", "--progress", "off"],
    "tag": lambda p, out, m: ["tag", p, "--format", "inline"],      # the bundled tagger
    "evaluate": lambda p, out, m: ["evaluate", p],                  # the bundled tagger
    "train-classifier": lambda p, out, m: ["train-classifier", p, "-o", out / "c.npz",
                                           "--steps", "2", "--hidden", "4", "--progress",
                                           "off"],
    "classify": lambda p, out, m: ["classify", "-m", m.parent / "c.npz", p],
}

OK = (0, None)
NOT_A_MODEL = (1, "not a charlm model file")
SLOW = "slow"

# input: {command: (exit status, what stderr must say) or OK; a regex after "ok" is
# what the output must mention}. Commands that read a model file (generate, info) get
# the text inputs as their model file.
MATRIX = {
    "missing": {"train": (1, "no such file"), "tokenize": (1, "no such file"),
                "score": (2, "No such file"), "generate": (1, "no such model file"),
                "info": (1, "no such model file")},
    "directory": {"train": (1, r"holds no \*\.txt files; name the files"),
                  "tokenize": (1, r"holds no \*\.txt files"), "score": (2, "directory"),
                  "generate": (2, "is a directory"), "info": (2, "is a directory")},
    "unreadable": {"train": (1, "cannot read: Permission denied"),
                   "tokenize": (1, "cannot read: Permission denied"),
                   "score": (2, "Permission denied"), "generate": (1, "Permission denied"),
                   "info": (1, "Permission denied")},
    "empty": {"train": (1, "nothing to train on"), "tokenize": (0, "no text to learn from"),
              "score": (0, "0 lines"), "generate": NOT_A_MODEL, "info": NOT_A_MODEL},
    "blank_lines": {"train": (1, "no text to learn from"),
                    "tokenize": (0, "no text to learn from"), "score": (0, "250 lines"),
                    "generate": NOT_A_MODEL, "info": NOT_A_MODEL},
    "binary": {"train": (1, r"NUL byte at line 1, byte offset 0: this looks like a binary"),
               "tokenize": (0, "NUL bytes"),
               "score": (1, r"invalid UTF-8 at line \d+, byte offset \d+; .*--encoding-errors"),
               "generate": NOT_A_MODEL, "info": NOT_A_MODEL},
    "invalid_utf8": {
        "train": (1, r"latin1\.txt: invalid UTF-8 at line 3, byte offset 12; .*"
                     r"--encoding-errors replace"),
        "tokenize": (0, "invalid UTF-8"),
        "score": (1, r"latin1\.txt: invalid UTF-8 at line 3, byte offset 12; .*"
                     r"--encoding-errors replace"),
        "generate": NOT_A_MODEL, "info": NOT_A_MODEL},
    "bom": {"train": OK, "tokenize": (0, "byte-order mark"), "score": (0, "30 lines.* 0 OOVs"),
            "generate": NOT_A_MODEL, "info": NOT_A_MODEL},
    "crlf": {"train": OK, "tokenize": (0, "CRLF"), "score": (0, "30 lines.* 0 OOVs"),
             "generate": NOT_A_MODEL, "info": NOT_A_MODEL},
    "cr_only": {"train": OK, "tokenize": (0, "lone CR"), "score": (0, "30 lines.* 0 OOVs"),
                "generate": NOT_A_MODEL, "info": NOT_A_MODEL},
    "one_huge_line": {"train": OK, "tokenize": (0, "longer than 10000 characters"),
                      "score": (SLOW, "1 lines"), "generate": NOT_A_MODEL,
                      "info": NOT_A_MODEL},
    "shorter_than_a_window": {"train": OK, "tokenize": OK, "score": (0, "1 lines"),
                              "generate": NOT_A_MODEL, "info": NOT_A_MODEL},
    "one_character": {"train": OK, "tokenize": (0, "vocab +3 tokens"), "score": OK,
                      "generate": NOT_A_MODEL, "info": NOT_A_MODEL},
}


# The tagger's commands read tagged files (CoNLL-U or columns): plain text is refused
# as not tagged, saying how to give the format; `tag` reads raw text, one sentence a
# line, and tags it with the bundled tagger.
NOT_TAGGED = (1, r"cannot tell whether this is CoNLL-U or a column file .*--format")
NO_TOKENS = (1, "no token lines to tell the format from")
TAGGER_MATRIX = {
    "missing": {"train-tagger": (2, "does not exist"), "tag": (1, "no such file"),
                "evaluate": (2, "does not exist")},
    "directory": {"train-tagger": (2, "is a directory"), "tag": (2, "is a directory"),
                  "evaluate": (2, "is a directory")},
    "unreadable": {"train-tagger": (1, "Permission denied"), "tag": (1, "Permission denied"),
                   "evaluate": (1, "Permission denied")},
    "empty": {"train-tagger": NO_TOKENS, "tag": OK, "evaluate": NO_TOKENS},
    "blank_lines": {"train-tagger": NO_TOKENS, "tag": OK, "evaluate": NO_TOKENS},
    "binary": {c: (1, "NUL byte at line 1, byte offset 0") for c in
               ("train-tagger", "tag", "evaluate")},
    "invalid_utf8": {c: (1, r"latin1\.txt: invalid UTF-8 at line 3, byte offset 12; .*"
                             r"--encoding-errors replace") for c in
                     ("train-tagger", "tag", "evaluate")},
    "bom": {"train-tagger": NOT_TAGGED, "tag": (0, "^anna/"), "evaluate": NOT_TAGGED},
    "crlf": {"train-tagger": NOT_TAGGED, "tag": (0, "^anna/"), "evaluate": NOT_TAGGED},
    "cr_only": {"train-tagger": NOT_TAGGED, "tag": (0, "^anna/"), "evaluate": NOT_TAGGED},
    # one line of 10 MB reads as a column file of one token: tag "dog" for "the"
    "one_huge_line": {"train-tagger": (1, "every token has the tag 'dog': nothing to learn"),
                      "tag": (SLOW, "^the/DET quick/"),
                      "evaluate": (1, r"none of the gold file's tags \(dog\) is a tag of "
                                      "this tagger")},
    "shorter_than_a_window": {"train-tagger": NOT_TAGGED, "tag": (0, "^ab/"),
                              "evaluate": NOT_TAGGED},
    "one_character": {"train-tagger": NOT_TAGGED, "tag": (0, "^aaaa/"),
                      "evaluate": NOT_TAGGED},
}
for _name, _row in TAGGER_MATRIX.items():
    MATRIX[_name].update(_row)

# train-classifier reads labelled lines (TSV/CSV, fastText, a folder of one file per
# class): plain lines are refused with a hint to give the format. `classify` reads
# any text, one answer per line, with a small classifier of names.
NOT_LABELLED = (2, r"cannot tell how its lines are labelled .*--format tsv")
NOT_LINES = (1, "no labelled lines")
CLASSIFIER_MATRIX = {
    "missing": {"train-classifier": (2, "does not exist"), "classify": (1, "no such file")},
    "directory": {"train-classifier": (1, "every line has the label 'notes'"),
                  "classify": (2, "is a directory")},
    "unreadable": {"train-classifier": (1, "Permission denied"),
                   "classify": (1, "Permission denied")},
    "empty": {"train-classifier": NOT_LINES, "classify": OK},
    "blank_lines": {"train-classifier": NOT_LINES, "classify": (0, r"\t\t {3}\n")},
    "binary": {c: (1, "NUL byte at line 1, byte offset 0") for c in
               ("train-classifier", "classify")},
    "invalid_utf8": {c: (1, r"latin1\.txt: invalid UTF-8 at line 3, byte offset 12; .*"
                             r"--encoding-errors replace") for c in
                     ("train-classifier", "classify")},
    "bom": {"train-classifier": NOT_LABELLED, "classify": (0, r"^[fm]\t[\d.]+\tanna\n")},
    "crlf": {"train-classifier": NOT_LABELLED, "classify": (0, r"^[fm]\t[\d.]+\tanna\n")},
    "cr_only": {"train-classifier": NOT_LABELLED, "classify": (0, r"^[fm]\t[\d.]+\tanna\n")},
    # read up to its first 20,000 characters (MAX_TOKENS)
    "one_huge_line": {"train-classifier": NOT_LABELLED, "classify": (0, r"^[fm]\t[\d.]+\tthe ")},
    "shorter_than_a_window": {"train-classifier": NOT_LABELLED,
                              "classify": (0, r"^[fm]\t[\d.]+\tab\n")},
    "one_character": {"train-classifier": NOT_LABELLED, "classify": OK},
}
for _name, _row in CLASSIFIER_MATRIX.items():
    MATRIX[_name].update(_row)

# Bad validation text fails as bad training text does; empty text is named as dev text.
DEV_EMPTY = (1, "the dev text is empty")
for _name, _row in MATRIX.items():
    _row["train --dev"] = {"empty": DEV_EMPTY, "blank_lines": DEV_EMPTY,
                           "one_huge_line": (SLOW, None)}.get(_name, _row["train"])


def _cells():
    for name in badinput.INPUTS:
        for command in COMMANDS:
            code, expect = MATRIX[name][command]
            marks = [pytest.mark.slow] if code == SLOW else []
            yield pytest.param(name, command, 0 if code == SLOW else code, expect,
                               id=f"{command}-{name}", marks=marks)


def test_every_cell_has_an_expectation():
    assert set(MATRIX) == set(badinput.INPUTS)
    for row in MATRIX.values():
        assert set(row) == set(COMMANDS)


@pytest.fixture
def deny_reading(monkeypatch):
    """Make opening ``path`` fail as it would for an unprivileged user (as root,
    chmod 000 does not stop reading)."""
    def deny(path):
        if not IS_ROOT:
            return
        denied = os.path.abspath(path)
        real_open = builtins.open

        def guarded(file, *a, **k):
            if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) == denied:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *a, **k)
        monkeypatch.setattr(builtins, "open", guarded)
        monkeypatch.setattr(io, "open", guarded)
    return deny


def check(r, code, expect, out):
    """The common contract of a cell; returns the text the command printed."""
    text = r.stdout + r.stderr
    assert "Traceback" not in text
    assert r.exit_code == code, text
    if code == 0:
        if expect:
            assert re.search(expect, text), text
        return text
    assert r.stdout == "", "data on stdout from a failed command"
    lines = r.stderr.strip().splitlines()
    assert 1 <= len(lines) <= MAX_ERROR_LINES, r.stderr
    assert re.search(expect, r.stderr), r.stderr
    assert list(out.iterdir()) == [], "a failed command left files behind"
    return text


@pytest.mark.parametrize("name,command,code,expect", list(_cells()))
def test_bad_input(tmp_path, model, deny_reading, name, command, code, expect):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    path = badinput.INPUTS[name](src)
    if name == "unreadable":
        deny_reading(path)
    r = invoke(COMMANDS[command](path, out, model))
    check(r, code, expect, out)
    if command == "train" and code == 0:
        b = modelfile.load(out / "m.npz")
        assert "\ufeff" not in b.vocab.tokens and "\r" not in b.vocab.tokens
        assert sorted(p.name for p in out.iterdir()) == ["m.ckpt.npz", "m.npz"]


@pytest.mark.parametrize("command", ["train", "score"])
def test_encoding_errors_replace(tmp_path, model, command):
    path = badinput.invalid_utf8(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    r = invoke(COMMANDS[command](path, out, model) + ["--encoding-errors", "replace"])
    check(r, 0, None, out)
    if command == "train":
        assert "\ufffd" in modelfile.load(out / "m.npz").vocab.tokens


def test_word_vocabulary_past_two_byte_ids(tmp_path):
    """70,000 distinct words: ids need 4 bytes, and every command still works."""
    words = [f"w{i}" for i in range(70_000)]
    corpus = tmp_path / "words.txt"
    corpus.write_text("\n".join(" ".join(words[i:i + 10]) for i in range(0, len(words), 10))
                      + "\n")
    out = tmp_path / "w.npz"
    r = invoke(["train", corpus, "-o", out, "--level", "word", "--min-count", "1",
                "--hidden", "4", "--embed", "4", "--layers", "1", "--batch-size", "2",
                "--seq-len", "4", "--steps", "1", "--val-fraction", "0", "-q",
                "--sample-every", "0"])
    assert r.exit_code == 0, r.stderr
    b = modelfile.load(out)
    assert len(b.vocab) == 70_002 and b.model.config.vocab_size == 70_002
    r = invoke(["tokenize", corpus, "--level", "word", "--min-count", "1", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["vocab"]["size"] == 70_002
    r = invoke(["score", "-m", out, "--summary-only"], input="w1 w69999 w5\n")
    assert r.exit_code == 0 and "0 OOVs" in r.stdout, r.stderr
    r = invoke(["generate", "-m", out, "-n", "2", "-l", "5", "--seed", "1"])
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 2
    assert invoke(["info", out]).exit_code == 0


# Absurd option values: (command line after the command's input, exit status, message).
ABSURD = [
    ("train", ["--hidden", "-1"], 2, "hidden"),
    ("train", ["--batch-size", "0"], 2, "batch-size"),
    ("train", ["--seq-len", "0"], 2, "seq-len"),
    ("train", ["--steps", "-5"], 2, "steps"),
    ("train", ["--epochs", "0"], 2, "epochs"),
    ("train", ["--time", "0"], 2, "duration"),
    ("train", ["--lr", "-1"], 2, "lr"),
    ("train", ["--val-fraction", "1"], 2, "val-fraction"),
    ("train", ["--dropout", "1"], 2, "dropout"),
    ("train", ["--layers", "0"], 2, "layers"),
    ("train", ["--embed", "-3"], 2, "embed"),
    ("train", ["--max-vocab", "2"], 2, "max-vocab"),
    ("train", ["--min-count", "0"], 2, "min-count"),
    ("train", ["--clip", "-1"], 2, "clip"),
    ("train", ["--seed", "-1"], 2, "seed"),
    ("train", ["--hidden", "1000000000"], 2, "needs about .* GB of memory"),
    ("train", ["--layers", "100000", "--hidden", "100000"], 2, "GB of memory"),
    ("train", ["--layers", "1000000000"], 2, "GB of memory"),
    ("train", ["--epochs", "nan"], 2, "not a finite number"),
    ("train", ["--lr", "inf"], 2, "not a finite number"),
    ("generate", ["--temperature", "0"], 2, "--greedy"),
    ("generate", ["--temperature", "-1"], 2, "temperature"),
    ("generate", ["--temperature", "nan"], 2, "not a finite number"),
    ("generate", ["--top-p", "1.5"], 2, "top-p"),
    ("generate", ["--top-p", "0"], 2, "top-p"),
    ("generate", ["--top-k", "0"], 2, "top-k"),
    ("generate", ["-n", "0"], 2, "num-samples"),
    ("generate", ["-l", "0"], 2, "length"),
    ("generate", ["--seed", "-1"], 2, "seed"),
    ("generate", ["-n", "1000000000000"], 2, "GB of memory"),
    ("score", ["--batch-size", "0"], 2, "batch-size"),
    ("tokenize", ["--top", "0"], 2, "top"),
    ("tokenize", ["--long-line", "-1"], 2, "long-line"),
    ("tokenize", ["--max-vocab", "1"], 2, "max-vocab"),
    ("info", ["--format", "xml"], 2, "format"),
    ("train-classifier", ["--pool", "sum"], 2, "pooling 'sum'"),
    ("train-classifier", ["--dropout", "1"], 2, "dropout"),
    ("train-classifier", ["--hidden", "0"], 2, "hidden"),
    ("train-classifier", ["--format", "xml"], 2, "format"),
    ("classify", ["--top-k", "0"], 2, "top-k"),
    ("classify", ["--format", "xml"], 2, "format"),
]


@pytest.mark.parametrize("command,options,code,message", ABSURD,
                         ids=[f"{c}{''.join(o)}" for c, o, _, _ in ABSURD])
def test_absurd_option_values(tmp_path, model, command, options, code, message):
    corpus = badinput.one_character(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    target = model if command in ("generate", "info") else corpus
    r = invoke(COMMANDS[command](target, out, model) + options)
    check(r, code, message, out)


def test_absurd_but_harmless_values_just_work(tmp_path, model):
    """Sizes larger than the data are clipped to it, not refused."""
    corpus = badinput.shorter_than_a_window(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    r = invoke(COMMANDS["train"](corpus, out, model) + ["--batch-size", "100000000",
                                                         "--seq-len", "100000"])
    check(r, 0, None, out)
    r = invoke(["score", "-m", model, "--batch-size", "1000000000", "--summary-only"],
               input="anna\n")
    check(r, 0, "1 lines", out)


# Other files a user names: (what to write there or None for missing, options, exit
# status, message). ``{f}`` in the options is the file.
OTHER_FILES = [
    (None, ["--vocab", "{f}"], 2, "no such vocabulary file"),
    (b"", ["--vocab", "{f}"], 1, "not a readable vocabulary file"),
    (b"[1, 2]", ["--vocab", "{f}"], 1, "not a charlm vocabulary file"),
    (b'{"format": "charlm-vocab", "version": 1}', ["--vocab", "{f}"], 1, "damaged"),
    (b'{"format": "charlm-vocab", "version": 1, "text": {}, "tokens": ["a"]}',
     ["--vocab", "{f}"], 1, "must start with <eos>"),
    (b'{"format": "charlm-vocab", "version": 1, "text": {"level": "x"}, '
     b'"tokens": ["<eos>", "<unk>"]}', ["--vocab", "{f}"], 1, "level must be one of"),
    (b'{"format": "charlm-vocab", "version": 9}', ["--vocab", "{f}"], 1, "version 9"),
    ("dir", ["--log-file", "{f}/no/such/log.jsonl"], 1, "cannot write the log file"),
    (None, ["--resume", "{f}"], 1, "no such model file"),
    (b"anna\n", ["--resume", "{f}"], 1, "not a charlm model file"),
]


@pytest.mark.parametrize("content,options,code,message", OTHER_FILES,
                         ids=[f"{o[0]}-{i}" for i, (_, o, _, _) in enumerate(OTHER_FILES)])
def test_other_files_train_reads(tmp_path, content, options, code, message):
    corpus = badinput.one_character(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    f = tmp_path / "file"
    if content == "dir":
        f.mkdir()
    elif content is not None:
        f.write_bytes(content)
    r = invoke(COMMANDS["train"](corpus, out, None) + [o.format(f=f) for o in options])
    check(r, code, message, out)


@pytest.mark.parametrize("damage", ["meta-not-json", "meta-list", "no-types", "bad-ids",
                                    "ids-out-of-range"])
def test_a_damaged_token_cache_entry_is_a_miss(tmp_path, monkeypatch, damage):
    import numpy as np

    from charlm.lm import session
    from charlm.text import cache
    from charlm.text.tokens import TextConfig

    monkeypatch.setenv("CHARLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "MIN_BYTES", 0)
    f = tmp_path / "c.txt"
    f.write_text("abc\nbcd\n" * 50)
    _, fresh = session.read_corpus([str(f)], TextConfig())
    meta = next((tmp_path / "cache").glob("*.json"))
    ids = next((tmp_path / "cache").glob("*.ids.npy"))
    if damage == "meta-not-json":
        meta.write_text("{not json")
    elif damage == "meta-list":
        meta.write_text("[1, 2]")
    elif damage == "no-types":
        d = json.loads(meta.read_text())
        del d["types"]
        meta.write_text(json.dumps(d))
    elif damage == "bad-ids":
        ids.write_bytes(b"garbage")
    else:
        np.save(ids, np.full(len(fresh.ids), 60000, dtype=np.uint16))
    _, again = session.read_corpus([str(f)], TextConfig())
    assert not isinstance(again.ids, np.memmap)            # read again, not from the cache
    assert np.array_equal(again.ids, fresh.ids) and again.types == fresh.types
