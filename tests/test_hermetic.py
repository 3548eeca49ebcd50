"""The suite gives the same result from any folder, whatever files lie there, and the
trainers look at their inputs before their outputs."""
import os
import pathlib
import shutil

import pytest
from click.testing import CliRunner

from charlm.cli.app import cli

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_each_test_runs_in_an_empty_folder_of_its_own(tmp_path):
    assert pathlib.Path.cwd() == tmp_path
    assert list(tmp_path.iterdir()) == []


def test_no_user_setting_reaches_the_tests():
    for name in ("CHARLM_MODEL", "CHARLM_TAGGER", "CHARLM_THREADS"):
        assert name not in os.environ
    # The token cache is the suite's own, never the user's.
    assert "charlm-pytest-cache" in os.environ["CHARLM_CACHE"]


@pytest.fixture
def other_runs(trained_names, tmp_path):
    """The current folder holds a model, checkpoint and tagger that another run wrote
    (as the README's first command leaves them)."""
    for name in ("model.npz", "model.ckpt.npz", "tagger.npz"):
        shutil.copy(trained_names, tmp_path / name)
    return tmp_path


@pytest.mark.parametrize("args", [
    ["train", "no/such/file.txt"],
    ["train", "names", "no/such/file.txt"],
])
def test_a_missing_corpus_is_reported_before_the_output_files(other_runs, args):
    before = {p.name: p.stat().st_mtime_ns for p in other_runs.iterdir()}
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 1
    assert "no such file" in r.stderr and "already holds" not in r.stderr
    assert {p.name: p.stat().st_mtime_ns for p in other_runs.iterdir()} == before


def test_an_unreadable_corpus_is_reported_before_the_output_files(other_runs):
    r = CliRunner().invoke(cli, ["train", str(other_runs)])   # a folder with no text
    assert r.exit_code == 1 and "already holds" not in r.stderr
    r = CliRunner().invoke(cli, ["train", "a_dir/"])
    assert r.exit_code == 1 and "no such file" in r.stderr


def test_a_missing_tagger_dev_file_is_reported_before_the_output_files(other_runs, tmp_path):
    train = tmp_path / "train.conllu"
    train.write_text("1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n\n"
                     "2\tyou\tyou\tPRON\t_\t_\t0\troot\t_\t_\n\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["train-tagger", str(train), "--dev", "no/such.conllu"])
    assert r.exit_code != 0 and "already holds" not in r.stderr
    assert "no/such.conllu" in r.stderr and "does not exist" in r.stderr


def test_a_missing_classifier_train_file_is_reported_before_the_output_files(other_runs):
    shutil.copy(other_runs / "model.npz", other_runs / "classifier.npz")
    before = {p.name: p.stat().st_mtime_ns for p in other_runs.iterdir()}
    r = CliRunner().invoke(cli, ["train-classifier", "no/such.tsv"])
    assert r.exit_code != 0 and "already holds" not in r.stderr
    assert "no/such.tsv" in r.stderr
    assert {p.name: p.stat().st_mtime_ns for p in other_runs.iterdir()} == before
