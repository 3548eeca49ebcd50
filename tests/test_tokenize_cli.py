"""`charlm tokenize`, shared vocabularies, and corpus inputs."""

import json

import pytest
from click.testing import CliRunner

from charlm.store import modelfile
from charlm.cli.app import cli


def run(*args, input=None, code=0):
    r = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    assert r.exit_code == code, r.stderr
    return r


@pytest.fixture
def odd_file(tmp_path):
    p = tmp_path / "odd.txt"
    p.write_bytes(b"\xef\xbb\xbfHello world\r\nctl\x07here\n\n" + b"z" * 120 + b"\nbad \xff\n")
    return p


def test_report_json_fields(odd_file):
    r = json.loads(run("tokenize", odd_file, "--format", "json", "--long-line", "100").stdout)
    f = r["files"][0]
    assert f["bytes"] == odd_file.stat().st_size and f["lines"] == 5
    assert f["bom"] and f["crlf_lines"] == 1 and f["control_chars"] == 1
    assert f["invalid_utf8_bytes"] == 1 and f["first"]["invalid_utf8"]["line"] == 5
    assert f["long_lines"] == 1 and f["longest_line"] == 120
    assert r["examples"] == 4 and r["types"] > 5
    assert 0 < r["vocab"]["coverage"] <= 1
    assert any("invalid UTF-8" in s for s in r["suspicious"])
    assert r["most_frequent"][0][0] == "z"


def test_report_table_and_vocab_coverage(tmp_path):
    p = tmp_path / "w.txt"
    p.write_text("the cat sat\nthe dog sat\nthe end\n")
    r = run("tokenize", p, "--level", "word", "--min-count", "2").stdout
    assert "covers 62.50%" in r and "nothing suspicious" in r       # the ×3, sat ×2 of 8
    j = json.loads(run("tokenize", p, "--level", "word", "--max-vocab", "3",
                       "--format", "json").stdout)
    assert j["vocab"]["size"] == 3 and j["vocab"]["unk_tokens"] == 8 - 3


def test_vocab_out_and_train_with_a_shared_vocabulary(tmp_path):
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    a.write_text("abc abd\nbca\n" * 20)
    b.write_text("cab dab\nxyz\n" * 20)
    vocab = tmp_path / "v.json"
    run("tokenize", a, b, "--vocab-out", vocab, "--lowercase")
    d = json.loads(vocab.read_text())
    assert d["format"] == "charlm-vocab" and d["text"]["lowercase"] is True
    for corpus, out in ((a, "ma.npz"), (b, "mb.npz")):
        run("train", corpus, "--vocab", vocab, "-o", tmp_path / out, "--steps", "2",
            "--hidden", "8", "--progress", "off")
    va, vb = (modelfile.load(tmp_path / m) for m in ("ma.npz", "mb.npz"))
    assert va.vocab.tokens == vb.vocab.tokens == d["tokens"]
    assert va.text.lowercase and vb.text.lowercase
    bad = run("train", a, "--vocab", vocab, "--level", "word", "--steps", "1",
              "-o", tmp_path / "x.npz", code=2)
    assert "--level" in bad.stderr
    run("train", a, "--vocab", tmp_path / "nope.json", "-o", tmp_path / "x.npz", code=2)


def test_directory_and_stdin_inputs(tmp_path):
    d = tmp_path / "docs"
    (d / "sub").mkdir(parents=True)
    (d / "one.txt").write_text("alpha\n")
    (d / "sub" / "two.txt").write_text("beta\n")
    (d / "skip.md").write_text("gamma\n")
    r = json.loads(run("tokenize", d, "--format", "json").stdout)
    assert [f["name"].split("/")[-1] for f in r["files"]] == ["one.txt", "two.txt"]
    s = json.loads(run("tokenize", "-", "--format", "json", input="abc\n").stdout)
    assert s["files"][0]["name"] == "<stdin>" and s["tokens"] == 3
    run("tokenize", tmp_path / "empty_dir_missing", code=1)
    assert "bundled" in run("tokenize", "nope-corpus", code=1).stderr


def test_bundled_corpora_train_by_name(tmp_path):
    r = json.loads(run("tokenize", "surnames", "--format", "json").stdout)
    assert r["files"][0]["name"] == "bundled:surnames" and r["examples"] == 88799
    run("train", "surnames", "-o", tmp_path / "s.npz", "--steps", "2", "--hidden", "8",
        "--progress", "off")
    corpora = run("corpora").stdout
    assert "names" in corpora and "public domain" in corpora
