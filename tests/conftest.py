import os
import pathlib
import shutil
import tempfile

import numpy as np
import pytest

# Unexpected exceptions keep their traceback in tests (and in the charlm processes
# that tests start), so a friendly one-line message can never hide a bug.
os.environ["CHARLM_DEBUG"] = "1"

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("CHARLM_SHARED_CORPORA", ROOT.parent / "shared" / "corpora"))


# Variables that only configure the suite itself; every other CHARLM_* variable (a
# default model, tagger, thread count, cache folder: today's and any added later) is
# cleared so that the user's environment cannot change a result. This happens when the
# suite starts, before any test module is imported, so that environments copied at
# import time are clean too; the token cache is the suite's own.
SUITE_VARIABLES = {"CHARLM_DEBUG", "CHARLM_SHARED_CORPORA", "CHARLM_FUZZ_EXAMPLES"}
for _name in [n for n in os.environ if n.startswith("CHARLM_")]:
    if _name not in SUITE_VARIABLES:
        del os.environ[_name]
_CACHE = tempfile.mkdtemp(prefix="charlm-pytest-cache-")
os.environ["CHARLM_CACHE"] = _CACHE


@pytest.fixture(scope="session", autouse=True)
def _hermetic_session(tmp_path_factory):
    """The whole suite runs in a scratch folder as the current directory, so
    `python -m pytest` gives the same result from any folder, whatever model files lie
    there."""
    saved_cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("session-cwd"))
    yield
    os.chdir(saved_cwd)
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _hermetic_test(tmp_path, monkeypatch):
    """Each test runs in its own empty folder: commands that write model.npz by default
    write it there, and no file another test (or the user) left can change a result."""
    monkeypatch.chdir(tmp_path)


def shared_file(rel):
    """A file under ../shared/corpora, or skip the test when it is not there."""
    path = SHARED / rel
    if not path.is_file():
        pytest.skip(f"{path} not available")
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


TINY_LINES = ["abc", "abd", "bca", "cab", "dab", "bad", "cad", "dac"]


@pytest.fixture
def tiny_corpus(tmp_path):
    p = tmp_path / "tiny.txt"
    p.write_text("\n".join(TINY_LINES * 4) + "\n", encoding="utf-8")
    return p


@pytest.fixture(scope="session")
def trained_names(tmp_path_factory):
    """A small model trained briefly on the bundled names (shared by many tests)."""
    from charlm.lm import session
    from charlm.text.tokens import TextConfig
    from charlm.training.trainer import TrainConfig

    out = tmp_path_factory.mktemp("names") / "names.npz"
    run = session.start(["names"], TextConfig(), TrainConfig(steps=60, batch_size=32, seed=3),
                        hidden=32, layers=1, output=str(out))
    for _ in run.trainer.run():
        pass
    return out
