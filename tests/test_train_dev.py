"""`charlm train --dev FILE`: validation on separate text, the whole corpus trained on."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from charlm.cli.app import cli
from charlm.lm import session
from charlm.store import modelfile
from charlm.text import cache
from charlm.text.tokens import TextConfig
from charlm.text.vocab import UNK_ID
from charlm.training.trainer import TrainConfig

NAMES = ["anna", "bob", "carla", "dan", "eve", "frank", "gina", "hal", "ida"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def texts(tmp_path):
    corpus = tmp_path / "train.txt"
    corpus.write_text("\n".join(NAMES * 20) + "\n", encoding="utf-8")
    dev = tmp_path / "dev.txt"
    # 'z' and 'é' never occur in the corpus: UNK in the dev text.
    dev.write_text("zoe\nbella\nandré\ncarl\n", encoding="utf-8")
    return corpus, dev


def _start(corpus, dev, out, split="lines", **cfg):
    cfg = dict(dict(steps=6, batch_size=4, seq_len=8, seed=2, val_fraction=0.0), **cfg)
    return session.start([str(corpus)], TextConfig(split=split), TrainConfig(**cfg),
                         hidden=8, layers=1, output=str(out), dev=[str(dev)])


@pytest.mark.parametrize("split", ["lines", "none"])
def test_whole_corpus_trained_and_dev_validated(tmp_path, texts, split):
    corpus, dev = texts
    r = _start(corpus, dev, tmp_path / "m.npz", split)
    p = r.prepared
    assert len(p.train_ids) == len(corpus.read_text())   # nothing held out of the corpus
    assert len(p.val_ids) == len(dev.read_text())
    assert np.count_nonzero(p.val_ids == UNK_ID) == 2    # z and é
    assert p.val_unk_rate == pytest.approx(2 / len(p.val_ids))
    assert r.dev == [str(dev)]


def test_validation_loss_is_what_score_says(tmp_path, texts):
    """The dev loss counts UNK as `charlm score` counts it: the best validation loss
    saved in the model file equals score's nats per token on the dev file."""
    corpus, dev = texts
    out = tmp_path / "m.npz"
    r = run("train", corpus, "--dev", dev, "-o", out, "--steps", "5", "--eval-every", "5",
            "--hidden", "8", "--layers", "1", "--progress", "off", "--dtype", "float64")
    assert r.exit_code == 0, r.output
    assert "dev     " in r.stderr and "UNK)" in r.stderr
    best = modelfile.load(str(out)).training["best_val_loss"]
    s = run("score", "-m", out, dev, "--summary-only", "--format", "json")
    summary = json.loads(s.stdout)
    assert best == pytest.approx(-summary["logprob"] / summary["tokens"], rel=1e-4)
    info = run("info", out)
    assert f"dev     {dev}" in info.stdout


def test_resume_rereads_dev_and_refuses_other_dev_text(tmp_path, texts):
    corpus, dev = texts
    out = tmp_path / "m.npz"
    for _ in _start(corpus, dev, out).trainer.run():
        pass
    ckpt = session.checkpoint_path(str(out))
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "dev.txt").write_text(dev.read_text(), encoding="utf-8")
    r = session.resume(ckpt, {"steps": 8}, dev=[str(moved / "dev.txt")])
    assert r.trainer.state.step == 6 and len(r.prepared.val_ids) == len(dev.read_text())
    for _ in r.trainer.run():
        pass
    # The checkpoint now names the moved copy; other text there is refused.
    (moved / "dev.txt").write_text("other text\n", encoding="utf-8")
    res = run("train", "--resume", ckpt, "--steps", "10", "--progress", "off")
    assert res.exit_code == 2 and "dev text" in res.stderr
    res = run("train", "--resume", ckpt, "--steps", "10", "--dev", dev, "--progress", "off")
    assert res.exit_code == 0, res.output


def test_resume_of_split_run_refuses_dev(tmp_path, texts):
    corpus, dev = texts
    out = tmp_path / "m.npz"
    r = run("train", corpus, "-o", out, "--steps", "3", "--hidden", "4", "--progress", "off")
    assert r.exit_code == 0
    res = run("train", "--resume", session.checkpoint_path(str(out)), "--steps", "5",
              "--dev", dev, "--progress", "off")
    assert res.exit_code == 2 and "needs a new run" in res.stderr


def test_fixed_vocab_counts_dev_oov_as_unk(tmp_path, texts):
    corpus, dev = texts
    vocab = tmp_path / "vocab.json"
    assert run("tokenize", corpus, "--vocab-out", vocab).exit_code == 0
    out = tmp_path / "m.npz"
    r = run("train", corpus, "--dev", dev, "--vocab", vocab, "-o", out, "--steps", "2",
            "--hidden", "4", "--progress", "off")
    assert r.exit_code == 0, r.output
    assert "dev     " in r.stderr and "0.00% UNK" not in r.stderr


def test_dev_goes_through_token_cache(tmp_path, texts, monkeypatch):
    corpus, dev = texts
    monkeypatch.setenv("CHARLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "MIN_BYTES", 0)
    first = _start(corpus, dev, tmp_path / "a.npz")
    assert len(os.listdir(tmp_path / "cache")) == 6      # two entries: corpus and dev
    second = _start(corpus, dev, tmp_path / "b.npz")
    assert np.array_equal(first.prepared.val_ids, second.prepared.val_ids)


def test_bad_dev_files_are_one_line_errors_and_write_nothing(tmp_path, texts):
    corpus, dev = texts
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9\n")
    out = tmp_path / "m.npz"
    cases = [
        (["--dev", tmp_path / "missing.txt"], 1, "no such file"),
        (["--dev", empty], 1, "dev text is empty"),
        (["--dev", latin], 1, "invalid UTF-8"),
        (["--dev", corpus], 2, "part of the corpus"),
        (["--dev", "-"], 2, "not standard input"),
        (["--dev", dev, "--val-fraction", "0.2"], 2, "cannot be combined with --dev"),
    ]
    for extra, code, message in cases:
        r = run("train", corpus, "-o", out, "--steps", "2", "--hidden", "4",
                "--progress", "off", *extra)
        assert r.exit_code == code, (extra, r.output)
        lines = [line for line in r.stderr.splitlines() if line.startswith("Error")]
        assert len(lines) == 1 and message in lines[0], r.stderr
        assert not out.exists() and not os.path.exists(session.checkpoint_path(str(out)))
