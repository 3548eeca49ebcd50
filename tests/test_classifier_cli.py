"""`charlm train-classifier`, `classify`, `evaluate` and `info` on classifiers: data on
stdout only, one-line errors with the right exit status, every output format parses,
resume continues exactly, another run's file is never overwritten."""

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from charlm.cli.app import cli

ANSI = re.compile(r"\x1b\[")
LINES = [("a fine and funny film", "pos"), ("dull , slow and long", "neg"),
         ("loved every minute", "pos"), ("an awful mess", "neg"),
         ("great fun for all", "pos"), ("boring and bad", "neg")]
SMALL = ("--hidden", "8", "--embed", "6", "--batch-size", "4", "--lr", "0.02",
         "--dropout", "0.1")


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input,
                              catch_exceptions=False)


def write_tsv(path, rows=LINES, times=4):
    path.write_text("".join(f"{t}\t{lab}\n" for t, lab in rows * times), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    d = tmp_path_factory.mktemp("cls")
    train = write_tsv(d / "train.tsv")
    out = d / "s.npz"
    r = run("train-classifier", train, "--dev", train, "-o", out, "--epochs", "15", *SMALL,
            "--progress", "off", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["best_metrics"]["accuracy"] == 1.0
    return out, train


def test_train_classifier_reports_on_stderr_only(tmp_path):
    train = write_tsv(tmp_path / "t.tsv")
    r = run("train-classifier", train, "-o", tmp_path / "x.npz", "--steps", "3", *SMALL,
            "--progress", "off")
    assert r.exit_code == 0 and r.stdout == ""
    assert "acc " in r.stderr and "held out" in r.stderr and not ANSI.search(r.stderr)
    assert "pooling max;" in r.stderr                  # the default at word level


def test_classify_formats(sentiment):
    model, _ = sentiment
    text = "a fine and funny film\n\nboring and bad\n"
    r = run("classify", "-m", model, input=text)
    assert r.exit_code == 0 and r.stderr == ""
    rows = r.stdout.split("\n")[:-1]
    assert len(rows) == 3
    assert rows[0].split("\t")[0] == "pos" and rows[0].endswith("\ta fine and funny film")
    assert rows[1] == "\t\t"
    assert rows[2].split("\t")[0] == "neg"
    r = run("classify", "-m", model, "--format", "text", "-k", "2", input=text)
    assert r.stdout.split("\n")[:-1] == ["pos neg", "", "neg pos"]
    r = run("classify", "-m", model, "--format", "jsonl", "--top-k", "5", input=text)
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert recs[0]["label"] == "pos" and len(recs[0]["top"]) == 2       # only 2 labels
    assert sum(t["probability"] for t in recs[0]["top"]) == pytest.approx(1, abs=1e-5)
    assert recs[1]["label"] is None and recs[1]["text"] == ""


def test_classify_a_file_in_order(sentiment, tmp_path):
    model, _ = sentiment
    lines = [t for t, _ in LINES] * 300
    p = tmp_path / "in.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = run("classify", "-m", model, "--format", "jsonl", p)
    got = [json.loads(x)["text"] for x in r.stdout.splitlines()]
    assert got == lines


def test_evaluate_a_classifier(sentiment):
    model, train = sentiment
    r = run("evaluate", "-m", model, train, "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["accuracy"] == 1.0 and d["macro_f1"] == 1.0 and d["lines"] == 24
    assert d["confusion"] == [[12, 0], [0, 12]]
    assert set(d["per_class"]) == {"pos", "neg"}
    r = run("evaluate", "-m", model, train)
    assert "accuracy 100.00%" in r.stdout and "confusion matrix" in r.stdout
    assert not ANSI.search(r.stdout)


def test_evaluate_counts_unknown_labels_and_multi_label_lines(sentiment, tmp_path):
    model, _ = sentiment
    p = tmp_path / "g.txt"
    p.write_text("__label__pos __label__neg a fine and funny film\n"
                 "__label__neu an awful mess\n", encoding="utf-8")
    d = json.loads(run("evaluate", "-m", model, p, "--format", "json").stdout)
    assert d["lines"] == 2 and d["accuracy"] == 0.5
    assert d["unknown_labels"] == ["neu"] and d["multi_label_lines"] == 1


def test_info_shows_the_many_to_one_notation(sentiment):
    model, _ = sentiment
    r = run("info", model)
    assert r.exit_code == 0
    assert "ŷ = softmax(½ (W_y h + b_y) + ½ (W_g g + b_g))" in r.stdout
    assert "a←⟨t+1⟩" in r.stdout and "h = max_t [a→⟨t⟩; a←⟨t⟩]" in r.stdout
    assert "labels  2" in r.stdout and "n-grams of 1-2 words" in r.stdout
    assert re.search(r"ngram\.W_g\s+\(2, \d+\)", r.stdout)
    d = json.loads(run("info", model, "--format", "json").stdout)
    assert d["kind"] == "classifier" and d["vocab"]["labels"] == ["neg", "pos"]
    assert d["model"]["ngrams"] == 2 and d["ngrams"]["count"] > 0
    assert set(d["ngrams"]["strongest"]) == {"neg", "pos"}


def test_without_the_ngram_part(tmp_path):
    train = write_tsv(tmp_path / "t.tsv")
    r = run("train-classifier", train, "-o", tmp_path / "x.npz", "--steps", "3", *SMALL,
            "--ngrams", "0", "--progress", "off")
    assert r.exit_code == 0 and "n-gram part" not in r.stderr
    info = run("info", tmp_path / "x.npz").stdout
    assert "ŷ = softmax(W_y h + b_y)" in info and "ngram.W_g" not in info
    assert run("classify", "-m", tmp_path / "x.npz", input="loved it\n").exit_code == 0


def test_the_ngram_part_is_fitted_and_reported(tmp_path):
    train = write_tsv(tmp_path / "t.tsv")
    r = run("train-classifier", train, "-o", tmp_path / "x.npz", "--steps", "3", *SMALL,
            "--level", "char", "--progress", "off")
    assert r.exit_code == 0
    assert re.search(r"n-gram part: [\d,]+ n-grams of 1-4 characters .* fitted in", r.stderr)
    assert "pooling max+mean;" in r.stderr             # the default at character level
    for bad in ("9", "-1"):
        r = run("train-classifier", train, "--ngrams", bad, "-o", tmp_path / "y.npz")
        assert r.exit_code == 2 and "--ngrams" in r.stderr


def test_ngrams_too_long_for_the_vocabulary_are_a_usage_error(tmp_path):
    rows = [(" ".join(f"w{i}x{j}" for j in range(3)), "ab"[i % 2]) for i in range(400)]
    train = write_tsv(tmp_path / "t.tsv", rows, times=2)
    r = run("train-classifier", train, "-o", tmp_path / "x.npz", "--steps", "1", "--ngrams",
            "8", "--min-count", "1", "--progress", "off")
    assert r.exit_code == 2
    assert re.search(r"--ngrams 8 is too long for a vocabulary of 1,1\d\d tokens \(at most 6\)",
                     r.stderr)


def test_resume_continues_exactly(tmp_path):
    train = write_tsv(tmp_path / "t.tsv")
    # a constant rate: the cosine schedule of a 4-step run differs from an 8-step one's
    flat = ("--lr-schedule", "constant", "--progress", "off")
    r = run("train-classifier", train, "-o", tmp_path / "whole.npz", "--steps", "8", *SMALL, *flat)
    assert r.exit_code == 0
    r = run("train-classifier", train, "-o", tmp_path / "part.npz", "--steps", "4", *SMALL, *flat)
    assert r.exit_code == 0
    r = run("train-classifier", "--resume", tmp_path / "part.ckpt.npz", "--steps", "8",
            "--progress", "off", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["steps"] == 8 and "resuming" in r.stderr
    from charlm.classifier import file as classfile

    a = classfile.load(tmp_path / "whole.ckpt.npz").model.params
    b = classfile.load(tmp_path / "part.ckpt.npz").model.params
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    r = run("train-classifier", "--resume", tmp_path / "part.ckpt.npz", "--steps", "9",
            "--hidden", "9", "--progress", "off")
    assert r.exit_code == 2 and "cannot resume" in r.stderr


def test_never_overwrites_another_runs_file(tmp_path, sentiment):
    model, train = sentiment
    out = tmp_path / "taken.npz"
    out.write_bytes(model.read_bytes())
    r = run("train-classifier", train, "-o", out, "--steps", "2", *SMALL, "--progress", "off")
    assert r.exit_code == 2 and "--force" in r.stderr
    assert out.read_bytes() == model.read_bytes()
    r = run("train-classifier", train, "-o", out, "--steps", "2", *SMALL, "--progress", "off",
            "--force")
    assert r.exit_code == 0


def test_char_level_from_a_folder(tmp_path):
    d = tmp_path / "by-language"
    d.mkdir()
    (d / "Russian.txt").write_text("Ivanov\nPetrov\nSidorov\nSmirnov\n" * 3, encoding="utf-8")
    (d / "Irish.txt").write_text("O'Brien\nMurphy\nKelly\nOSullivan\n" * 3, encoding="utf-8")
    out = tmp_path / "n.npz"
    r = run("train-classifier", d, "--level", "char", "-o", out, "--steps", "4", *SMALL,
            "--progress", "off")
    assert r.exit_code == 0, r.output
    assert "embedding 6" in r.stderr
    r = run("classify", "-m", out, "--format", "text", input="Ivanov\n")
    assert r.stdout.strip() in ("Russian", "Irish")


def test_wrong_kinds_and_bad_input_fail_in_one_line(sentiment, tmp_path, trained_names):
    model, train = sentiment
    r = run("classify", "-m", trained_names, input="x\n")
    assert r.exit_code == 1 and "not a classifier" in r.stderr
    r = run("classify", "-m", tmp_path / "missing.npz", input="x\n")
    assert r.exit_code == 1 and "no such classifier file" in r.stderr
    r = run("train-classifier")
    assert r.exit_code == 2
    bad = tmp_path / "bad.tsv"
    bad.write_text("good\tpos\n\tneg\nbad\tneg\nfine\tpos\n", encoding="utf-8")
    r = run("train-classifier", bad, "-o", tmp_path / "b.npz", "--steps", "2", "--progress", "off")
    assert r.exit_code == 1 and "bad.tsv:2" in r.stderr
    assert not (tmp_path / "b.npz").exists()
    r = run("train-classifier", train, "--pool", "sum", "-o", tmp_path / "c.npz", "--steps", "2")
    assert r.exit_code == 2 and "pooling" in r.stderr


def test_help_of_the_classifier_commands():
    for name in ("train-classifier", "classify", "evaluate"):
        r = run(name, "--help")
        assert r.exit_code == 0 and "Usage:" in r.stdout and "Examples" in r.stdout


def test_ctrl_c_saves_and_the_run_resumes(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    train = write_tsv(tmp_path / "t.tsv", times=40)
    log = tmp_path / "train.log"
    env = dict(os.environ, CHARLM_THREADS="1", PYTHONUNBUFFERED="1")
    with open(log, "w") as err:
        p = subprocess.Popen([sys.executable, "-m", "charlm", "train-classifier", str(train),
                              "-o", str(tmp_path / "c.npz"), "--steps", "100000",
                              "--eval-every", "1", "--progress", "off", *SMALL],
                             stdout=subprocess.DEVNULL, stderr=err, env=env)
    deadline = time.monotonic() + 60
    while p.poll() is None and time.monotonic() < deadline:
        if "\nstep" in "\n" + log.read_text() and (tmp_path / "c.ckpt.npz").exists():
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=60) == 130
    text = log.read_text()
    assert "resume with: charlm train-classifier --resume" in text and "Traceback" not in text
    from charlm.classifier import file as classfile

    ckpt = tmp_path / "c.ckpt.npz"
    step = classfile.load(ckpt).training["resume"]["state"]["step"]
    r = run("train-classifier", "--resume", ckpt, "--steps", step + 2, "--progress", "off")
    assert r.exit_code == 0, r.output
    assert classfile.load(ckpt).training["resume"]["state"]["step"] == step + 2
