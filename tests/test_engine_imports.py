"""Nothing but charlm/cli/ imports click or rich (checked by importing every other
module in a fresh interpreter), and importing charlm itself does not load NumPy."""

import pathlib
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "charlm"


def _module(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NON_CLI = sorted(_module(p) for p in PACKAGE.rglob("*.py")
                 if "cli" not in p.relative_to(PACKAGE).parts and p.stem != "__main__")


def test_every_module_outside_cli_imports_neither_click_nor_rich():
    code = (
        "import importlib, sys\n"
        f"for name in {NON_CLI!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'rich'))\n"
        "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert {"charlm.engine.ops", "charlm.text.corpus", "charlm.lm.model",
            "charlm.training.trainer", "charlm.store.modelfile"} <= set(NON_CLI)
    assert out == ""


def test_importing_charlm_does_not_load_numpy():
    """So the command line can set the BLAS thread count before NumPy starts."""
    code = "import sys, charlm, charlm.cli; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
