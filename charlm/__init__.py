"""charlm: recurrent language models and taggers in pure NumPy.

The package is the engine: NumPy and the standard library only (plus ``regex`` for
tokenizing). It never imports click or rich, never prints and never exits; the
command line in :mod:`charlm.cli` renders what the engine returns or yields.

Importing ``charlm`` itself is cheap (no NumPy): the command line sets the BLAS
thread count before NumPy is loaded.
"""

from charlm.errors import CharlmError

__version__ = "0.1.0"

__all__ = ["CharlmError", "__version__"]
