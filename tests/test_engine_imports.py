"""The engine never imports click or rich: only charlm/cli/ may."""

import pathlib
import subprocess
import sys

ENGINE = sorted(
    "charlm." + p.stem if p.stem != "__init__" else "charlm"
    for p in (pathlib.Path(__file__).resolve().parent.parent / "charlm").glob("*.py")
    if p.stem != "__main__")


def test_engine_modules_import_neither_click_nor_rich():
    code = (
        "import importlib, sys\n"
        f"for name in {ENGINE!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'rich'))\n"
        "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert len(ENGINE) > 10
    assert out == ""


def test_importing_charlm_does_not_load_numpy():
    """So the command line can set the BLAS thread count before NumPy starts."""
    code = "import sys, charlm, charlm.cli; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
