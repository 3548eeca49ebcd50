"""The command line: the only part of charlm that imports click and rich.

:func:`main` sets the BLAS thread count from ``--threads`` or ``CHARLM_THREADS``
*before* NumPy is imported (OpenBLAS reads it once, at load time), then runs the
click group in :mod:`charlm.cli.app`.
"""

import os
import sys

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# The arguments charlm was started with, kept so that a model file can record the
# command that trained it (None when the CLI is driven from Python, as in tests).
invoked_args = None


def _threads_from_argv(argv):
    """The value of a --threads option that comes before the subcommand, if any."""
    for i, arg in enumerate(argv):
        if not arg.startswith("-"):
            return None                    # the subcommand: group options end here
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return None


# BLAS threads when neither --threads, CHARLM_THREADS nor a BLAS variable says
# otherwise. Measured on a 2-core machine (benchmarks/threads.py, 2×256 LSTM,
# 1 vs 2 OpenBLAS threads alternating in one process): idle, 2 threads were
# 1.4x faster for training, scoring and sampling; with one other process busy on
# a core, 1.5-2x slower; on a machine loaded by several others (load average 7),
# 5-25x slower, because every product waits for the thread whose core is taken.
# One thread gives up at most 1.4x and never collapses.
DEFAULT_THREADS = "1"


def set_thread_env(argv):
    """Export the thread count for NumPy's BLAS: --threads, else CHARLM_THREADS, else
    DEFAULT_THREADS unless a BLAS thread variable is already set."""
    value = _threads_from_argv(argv) or os.environ.get("CHARLM_THREADS")
    if value and value.isdigit() and int(value) > 0:
        for var in THREAD_VARS:
            os.environ[var] = value
    elif not any(os.environ.get(var) for var in THREAD_VARS):
        for var in THREAD_VARS:
            os.environ[var] = DEFAULT_THREADS


# glibc's malloc variables: a user who sets one keeps their own choice.
MALLOC_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
               "MALLOC_ARENA_MAX")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3          # mallopt's parameter numbers


def keep_freed_memory():
    """Ask glibc's malloc to keep freed memory for reuse instead of handing it back
    to the system. Returns whether it was set.

    By default arrays over a threshold (128 KB at first, raised to the largest one
    freed so far) get fresh pages from the kernel and return them when freed, and
    free memory at the top of the heap goes back once it passes twice that threshold,
    so a training step that makes and drops hundreds of large temporaries pays a page
    fault and a page of zeros for every 4 KB of many of them, again at every step.
    Arrays up to 32 MB now come from the heap, which keeps up to 1 GB of freed memory
    at its top. Measured on this project's 2-core machine, tagger at batch 64, 120 steps:
    one process about 5% faster; two data-parallel ranks 22-23k tokens/s instead
    of 17-18k; about 860 page faults a step before, none after. The peak memory is
    about the same (509 MB instead of 501); a process's resident memory stays at its
    peak until it exits.
    Linux with glibc only; elsewhere, or when a MALLOC_ variable is set, nothing
    changes."""
    if not sys.platform.startswith("linux") or any(os.environ.get(v) for v in MALLOC_VARS):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20) and
                mallopt(_M_TRIM_THRESHOLD, 1 << 30))


def main(argv=None):
    global invoked_args
    argv = sys.argv[1:] if argv is None else list(argv)
    invoked_args = argv
    set_thread_env(argv)
    keep_freed_memory()
    from charlm.cli.app import cli

    cli.main(args=argv, prog_name="charlm")
