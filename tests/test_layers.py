"""The package's layer contract ([tool.importlinter] in pyproject.toml), checked with
import-linter: the layers (cli over the models over training, the store and text, over
the engine), the engine imports nothing else of charlm, text never touches a model,
only the command line imports click and rich, and so on."""

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINT = shutil.which("lint-imports", path=str(pathlib.Path(sys.executable).parent)) \
    or shutil.which("lint-imports")

pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed")


def _lint(tree):
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run([LINT, "--config", str(tree / "pyproject.toml"), "--no-cache"],
                          cwd=tree, capture_output=True, text=True, env=env)


def _copy(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "charlm", tree / "charlm",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_layer_contract_holds(tmp_path):
    out = _lint(_copy(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


@pytest.mark.parametrize("module, line", [
    ("engine/ops.py", "import click"),
    ("engine/cells.py", "from charlm.errors import CharlmError"),
    ("text/vocab.py", "from charlm.engine import ops"),
    ("store/info.py", "from charlm.training import trainer"),
    ("training/trainer.py", "from charlm.lm import model"),
    # the store knows no model kind: each kind registers with it from above
    ("store/kinds.py", "from charlm.lm import model"),
    ("store/modelfile.py", "from charlm.lm.model import LanguageModel"),
    ("store/tagfile.py", "from charlm.tagger.model import TaggerModel"),
    ("store/validate.py", "from charlm.text.vocab import Vocab"),
    ("store/info.py", "from charlm.cli import app"),
    # the models are independent of each other, and nothing below them imports them
    ("lm/filekind.py", "from charlm.tagger import filekind"),
    ("tagger/filekind.py", "from charlm.lm import filekind"),
    ("text/vocab.py", "from charlm.store import kinds"),
    ("files.py", "from charlm.engine import ops"),
])
def test_a_forbidden_import_breaks_the_contract(tmp_path, module, line):
    tree = _copy(tmp_path)
    path = tree / "charlm" / module
    path.write_text(line + "\n" + path.read_text())
    out = _lint(tree)
    assert out.returncode != 0
    assert "BROKEN" in out.stdout


def test_every_package_of_charlm_is_in_the_wheel():
    """A sub-package missing from pyproject's list works from a source checkout and
    vanishes from `pip install .`."""
    tomllib = pytest.importorskip("tomllib")      # Python 3.11 and later

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    found = {"charlm." + p.parent.name for p in (ROOT / "charlm").glob("*/__init__.py")}
    assert found | {"charlm", "charlm.corpora"} <= listed
