"""End-to-end runs on the real corpora in ../shared/corpora (skipped when absent)."""

import json

import pytest
from click.testing import CliRunner

from charlm.text import bundled
from charlm.cli.app import cli
from conftest import shared_file

pytestmark = pytest.mark.realdata


def run(*args, input=None):
    r = CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return r


def test_shakespeare_stream_model(tmp_path):
    corpus = shared_file("text/tinyshakespeare.txt")
    out = tmp_path / "shk.npz"
    r = run("train", corpus, "--split", "none", "--hidden", "48", "--layers", "2",
            "--steps", "40", "--progress", "off", "-o", out)
    assert "best val loss" in r.stderr
    g = run("generate", "-m", out, "-l", "300", "--seed", "3", "--prime", "ROMEO:")
    assert g.stdout.startswith("ROMEO:") and len(g.stdout) >= 300
    s = run("score", "-m", out, "--format", "jsonl", input="To be, or not to be.\n")
    assert json.loads(s.stdout)["tokens"] > 0


def test_word_level_alice(tmp_path):
    corpus = shared_file("text/en_alice.txt")
    out = tmp_path / "alice.npz"
    run("train", corpus, "--level", "word", "--hidden", "32", "--steps", "30",
        "--progress", "off", "-o", out)
    g = run("generate", "-m", out, "-n", "3", "--seed", "2", "-l", "30")
    assert len(g.stdout.splitlines()) == 3 and "<unk>" not in g.stdout
    s = run("score", "-m", out, input="Alice was beginning to get very tired.\n"
                                       "Zyxwvut blorptastic.\n")
    rows = [line.split("\t") for line in s.stdout.splitlines()[1:]]
    assert int(rows[0][3]) == 0 and int(rows[1][3]) == 2          # OOVs counted


@pytest.mark.parametrize("name", ["text/ru_turgenev_ottsy_i_deti.txt", "text/de_faust_1.txt",
                                  "text/fr_monte_cristo_1.txt"])
def test_non_english_text(tmp_path, name):
    corpus = shared_file(name)
    out = tmp_path / "m.npz"
    run("train", corpus, "--hidden", "32", "--layers", "1", "--steps", "20",
        "--progress", "off", "-o", out)
    g = run("generate", "-m", out, "-n", "2", "--seed", "1", "-l", "40")
    assert len(g.stdout.splitlines()) == 2


@pytest.mark.slow
def test_default_run_invents_plausible_new_names(tmp_path, monkeypatch):
    """The README's first command: defaults, bundled names, well under two minutes."""
    monkeypatch.chdir(tmp_path)
    r = run("train", "--progress", "off")
    best = float(r.stderr.split("best val loss")[1].split()[0])
    assert best < 2.0
    names = run("generate", "-n", "100", "--seed", "1").stdout.split()
    known = set(bundled.read("names").split())
    assert len(names) == 100
    assert sum(n not in known for n in names) > 60
    assert run("generate", "-n", "5", "--seed", "1").stdout == \
        run("generate", "-n", "5", "--seed", "1").stdout


LANGUAGE_FILES = {"en": "text/en_alice.txt", "fr": "text/fr_monte_cristo_1.txt",
                  "de": "text/de_faust_1.txt", "ru": "text/ru_turgenev_ottsy_i_deti.txt"}


@pytest.mark.parametrize("lang", sorted(LANGUAGE_FILES))
def test_word_tokenizer_on_real_text(lang):
    import regex

    from charlm.text.tokens import TextConfig, detokenize, tokenize

    path = shared_file(LANGUAGE_FILES[lang])
    cfg = TextConfig(level="word")
    lines = [" ".join(line.split()) for line in path.read_text(encoding="utf-8").split("\n")
             if line.strip()]
    tokens = [t for line in lines for t in tokenize(line, cfg)]
    words = [t for t in tokens if regex.match(r"\p{L}", t)]
    # Words keep their letters together, whatever the script.
    assert all(regex.fullmatch(r"[\p{L}\p{M}\p{N}]+(?:['’\-][\p{L}\p{M}\p{N}]+)*", w)
               for w in words)
    assert not any(" " in t for t in tokens)
    expected = {"en": ["Alice", "Rabbit", "it’s"], "fr": ["l'homme", "Dantès", "aujourd'hui"],
                "de": ["Faust", "Schüler", "ß"], "ru": ["Базаров", "Николай"]}[lang]
    for w in expected:
        assert any(w in t for t in words), w
    # Detokenizing gives the original line back for almost every line.
    same = sum(detokenize(tokenize(line, cfg), cfg) == line for line in lines)
    assert same / len(lines) > 0.97


def test_char_level_cyrillic_and_accents_are_single_tokens():
    from charlm.text.corpus import type_stream
    from charlm.text.reader import Source
    from charlm.text.tokens import TextConfig

    path = shared_file(LANGUAGE_FILES["ru"])
    s = type_stream([Source(str(path), path=str(path))], TextConfig())
    assert all(len(t) == 1 for t in s.types[1:])
    assert {"Б", "ё", "й"} <= set(s.types)
    fr = shared_file(LANGUAGE_FILES["fr"])
    s = type_stream([Source(str(fr), path=str(fr))], TextConfig())
    assert {"é", "è", "ç"} <= set(s.types)
