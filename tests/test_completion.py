"""Shell completion: the scripts, what a TAB offers, and that answering it loads
neither NumPy nor the engine (so it stays quick)."""

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from charlm.cli.app import cli


def complete(words, cwd=None, shell="bash"):
    """What charlm answers a TAB after ``words`` (the last one being completed), and
    the modules it had loaded, in a fresh interpreter as the shell would run it."""
    code = ("import sys\n"
            "from charlm.cli import main\n"
            "try:\n    main([])\n"
            "except SystemExit:\n    pass\n"
            "loaded = sorted({m.split('.')[0] for m in sys.modules} & "
            "{'numpy', 'rich', 'regex'} | {m for m in sys.modules "
            "if m.startswith(('charlm.engine', 'charlm.lm', 'charlm.training.trainer'))})\n"
            "print('LOADED', ' '.join(loaded))\n")
    env = dict(os.environ, _CHARLM_COMPLETE=f"{shell}_complete",
               COMP_WORDS=" ".join(words), COMP_CWORD=str(len(words) - 1))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=cwd, check=True).stdout
    body, loaded = out.rsplit("LOADED", 1)
    items = [line.split(",", 1) for line in body.splitlines() if line]
    return items, loaded.split()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_for_each_shell(shell):
    r = CliRunner().invoke(cli, ["completion", shell])
    assert r.exit_code == 0
    assert "_CHARLM_COMPLETE" in r.output and f"{shell}_complete" in r.output


def test_completion_refuses_an_unknown_shell():
    r = CliRunner().invoke(cli, ["completion", "tcsh"])
    assert r.exit_code == 2


def test_commands_complete_without_loading_numpy():
    items, loaded = complete(["charlm", "tr"])
    assert ["plain", "train"] in items
    assert loaded == []


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_options_of_every_command_complete_without_loading_numpy(command):
    items, loaded = complete(["charlm", command, "--"])
    offered = {value for _, value in items}
    assert "--help" in offered
    assert loaded == [], f"completing `charlm {command} --` loaded {loaded}"


def test_choices_complete():
    items, _ = complete(["charlm", "train", "--cell", ""])
    assert [v for _, v in items] == ["rnn", "gru", "lstm"]


def test_model_options_offer_model_files(tmp_path):
    for name in ("a.npz", "a.ckpt.npz", "notes.txt"):
        (tmp_path / name).write_text("")
    (tmp_path / "runs").mkdir()
    for words in (["charlm", "generate", "-m", ""], ["charlm", "score", "--model", ""],
                  ["charlm", "train", "--resume", ""], ["charlm", "info", ""]):
        items, loaded = complete(words, cwd=tmp_path)
        assert sorted(v for t, v in items if t == "plain") == ["a.ckpt.npz", "a.npz"], words
        assert ["dir", ""] in items           # folders, when no model file matches
        assert loaded == []


def test_corpus_argument_offers_bundled_names_and_files(tmp_path):
    items, loaded = complete(["charlm", "train", "sur"], cwd=tmp_path)
    assert ["plain", "surnames"] in items and ["file", "sur"] in items
    items, _ = complete(["charlm", "tokenize", ""], cwd=tmp_path)
    assert {"names", "surnames"} <= {v for t, v in items if t == "plain"}
    assert loaded == []
