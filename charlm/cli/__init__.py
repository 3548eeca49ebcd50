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


# Commands whose matrix products are too small to gain from a second BLAS thread,
# and lose several times over to it when another process holds a core (on this
# project's 2-core machine, load 2: `charlm tag` 28,700 tokens/s with one thread and
# 11,000 with two; `charlm train-tagger` 9,000 and 1,700). They use one thread unless
# --threads or the environment says otherwise.
ONE_THREAD_COMMANDS = ("tag", "evaluate", "train-tagger")


def _subcommand(argv):
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--threads":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def set_thread_env(argv):
    """Export the thread count for NumPy's BLAS, if one was asked for (one thread for
    ONE_THREAD_COMMANDS when nothing says otherwise)."""
    value = _threads_from_argv(argv) or os.environ.get("CHARLM_THREADS")
    if (not value and _subcommand(argv) in ONE_THREAD_COMMANDS
            and not any(os.environ.get(var) for var in THREAD_VARS)):
        value = "1"
    if value and value.isdigit() and int(value) > 0:
        for var in THREAD_VARS:
            os.environ[var] = value


def main(argv=None):
    global invoked_args
    argv = sys.argv[1:] if argv is None else list(argv)
    invoked_args = argv
    set_thread_env(argv)
    try:
        from charlm.cli.app import cli

        cli.main(args=argv, prog_name="charlm")
    except KeyboardInterrupt:          # Ctrl-C before a command started (while importing)
        sys.stderr.write("charlm: interrupted\n")
        sys.exit(130)
