"""``--workers N``: one training run on N processes (data-parallel ranks over MPI).

``charlm train … --workers N`` starts itself again through the MPI launcher of its
environment, ``mpiexec -n N python -m charlm train …``; a user's own ``mpiexec -n N
[-f hostfile] charlm train …`` reaches the same code. Each process finds its rank in
:func:`begin`; the training loop does the rest (:mod:`charlm.training.distributed`).

The launching process stays in front: it passes the terminal's size on (so rank 0
can draw the live panel through the launcher's pipes), forwards Ctrl-C and SIGTERM
once, keeps the launcher's own banners out of the output, and when a rank dies turns
them into one line.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

import click
from click.core import ParameterSource

# Set by the launching process for the ranks it starts.
TTY_ENV = "CHARLM_WORKERS_TTY"          # its stderr is a terminal: rank 0 may draw
STATUS_ENV = "CHARLM_WORKERS_STATUS"    # a file where rank 0 says where it saves

# What MPICH's launcher (hydra) and MPI_Abort print about a failed rank, many lines
# long; the launching process replaces them with one line of its own.
NOISE = re.compile(rb"^(=+$|=   |YOUR APPLICATION TERMINATED|This typically refers|"
                   rb"Please see the FAQ|\[mpiexec@|\[proxy:|Abort\(\d+\) on node|"
                   rb"application called MPI_Abort)")
BLANK = re.compile(rb"^\s*$")          # the banner's empty lines (on stdout, which
                                        # carries no empty lines of charlm's own here)

WORKERS_HELP = (
    "Train on N processes at once, one core each (data-parallel over MPI): every step "
    "splits the batch (--batch-size) between them and averages their gradients, so the "
    "result is that of one process. Needs pip install 'charlm[mpi]'. For several "
    "machines run mpiexec -n N -f HOSTFILE charlm train … instead. Default 1: a rank "
    "that shares its core with another busy process holds every rank back (each step "
    "waits for the slowest), so a '--workers auto' would take only the idle cores "
    "(cores minus the load average), which on a busy machine is 1.")


def workers_option(f):
    return click.option("--workers", type=click.IntRange(1), default=1, show_default=True,
                        metavar="N", help=WORKERS_HELP)(f)


def begin(ctx, workers, progress):
    """This process's part in a run of ``workers`` ranks: (Workers or None, progress).
    Outside an MPI launcher with ``workers`` > 1 it launches the ranks and exits with
    their status; under a launcher it joins them (MPI is imported only then)."""
    from charlm.errors import UsageError
    from charlm.training import distributed

    size = distributed.launched_size()
    if size > 1:
        given = ctx.get_parameter_source("workers") == ParameterSource.COMMANDLINE
        if given and workers != size:
            raise UsageError(f"--workers {workers} but the MPI launcher started {size} "
                             "processes; give one or the other")
        team = distributed.connect()
        if team is not None and team.root and progress == "auto" and os.environ.get(TTY_ENV):
            progress = "on"
        return team, progress
    if workers > 1:
        ctx.exit(launch(workers))
    return None, progress


def launch(n):
    """Run this very command on ``n`` ranks through ``mpiexec``; returns the exit status
    (a rank that died is reported here, in one line)."""
    import charlm.cli
    from charlm.errors import UsageError
    from charlm.training.distributed import INSTALL_HINT, mpi_installed

    if not mpi_installed():
        raise UsageError(f"--workers {n} needs MPI: {INSTALL_HINT}")
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.path.exists(mpiexec):
        mpiexec = shutil.which("mpiexec")
    if not mpiexec:
        raise UsageError(f"--workers {n} needs an MPI launcher (mpiexec): {INSTALL_HINT}")
    args = charlm.cli.invoked_args if charlm.cli.invoked_args is not None else sys.argv[1:]
    env = dict(os.environ)
    if _stderr_tty():
        size = shutil.get_terminal_size()
        env.update({TTY_ENV: "1", "COLUMNS": str(size.columns), "LINES": str(size.lines)})
    fd, status = tempfile.mkstemp(prefix="charlm-workers-", suffix=".json")
    os.close(fd)
    env[STATUS_ENV] = status
    # Its own process group: the terminal's Ctrl-C reaches this process alone, which
    # passes it on once (twice would make mpiexec abort at once). Standard input goes
    # to rank 0 only when the corpus is read from it.
    proc = subprocess.Popen([mpiexec, "-n", str(n), sys.executable, "-m", "charlm", *args],
                            stdin=None if "-" in args else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True, preexec_fn=_default_signals)
    previous, signals = {}, []

    def forward(signum, frame):
        signals.append(signum)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):
            previous[sig] = signal.signal(sig, forward)
    pumps = [threading.Thread(target=_pump, args=(src, dst, blank), daemon=True)
             for src, dst, blank in ((proc.stdout, sys.stdout, True),
                                     (proc.stderr, sys.stderr, False))]
    try:
        for t in pumps:
            t.start()
        rc = proc.wait()
        for t in pumps:
            t.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        saved = _read_status(status)
        with contextlib.suppress(OSError):
            os.unlink(status)
    if rc in (0, 1, 2, 130, 143) and not (signals and rc == 1):
        return rc
    if signals:         # stopped by Ctrl-C (SIGTERM) before the ranks could stop together
        click.echo("charlm: interrupted", err=True)
        return 143 if signal.SIGTERM in signals else 130
    how = f"killed by signal {rc}" if 0 < rc < 64 else f"exit status {rc}"
    line = f"a worker stopped ({how}); every worker was stopped with it."
    if saved:
        line += (f" The last model file and checkpoint written are complete: resume with "
                 f"charlm {saved['command']} --resume {saved['checkpoint']}")
    raise click.ClickException(line)


def _default_signals():
    """In the launcher's child: Ctrl-C and SIGTERM as usual, even when this process
    was started with them ignored (a background job of a script): it passes them on
    deliberately, and the ranks must act on them."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def _pump(src, dst, drop_blank):
    """Copy a rank's output through, as it comes (the live panel), leaving out the
    launcher's banners."""
    out = dst.buffer if hasattr(dst, "buffer") else None
    pending = b""

    def noise(line):
        return NOISE.match(line) or (drop_blank and BLANK.match(line))

    while True:
        chunk = os.read(src.fileno(), 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        keep = [ln + b"\n" for ln in lines if not noise(ln)]
        if pending and not noise(pending):
            keep.append(pending)           # a partial line (a panel redraw): show it now
            pending = b""
        if keep:
            data = b"".join(keep)
            try:
                if out is not None:
                    dst.flush()
                    out.write(data)
                    out.flush()
                else:
                    dst.write(data.decode("utf-8", "replace"))
                    dst.flush()
            except (BrokenPipeError, ValueError):
                pass
    if pending and not noise(pending):
        with contextlib.suppress(BrokenPipeError, ValueError):
            (out or dst).write(pending if out is not None else pending.decode())


def _stderr_tty():
    try:
        return os.isatty(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False


def _read_status(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def announce(team, command, checkpoint):
    """Rank 0 tells the launching process where the run saves (for its last line if a
    rank dies)."""
    path = os.environ.get(STATUS_ENV)
    if team is None or not team.root or not path:
        return
    with contextlib.suppress(OSError):
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"command": command, "checkpoint": checkpoint}, f)


def rank_console(team, progress):
    """The console a rank reports on: rank 0's stderr; the others say nothing (their
    errors are reported by rank 0, or by themselves if they alone fail)."""
    from charlm.cli.common import err_console

    if team is None or team.root:
        return err_console(progress)
    from rich.console import Console

    return Console(file=open(os.devnull, "w"), stderr=False)


@contextlib.contextmanager
def rank_guard(ctx, team):
    """Every rank leaves together: an error all ranks raised at once (``agreed``) is
    reported by rank 0 alone, the others exit with the same status in silence; any
    other error ends the whole run (see Workers.clean)."""
    if team is None:
        yield
        return
    from charlm.errors import UsageError

    try:
        yield
    except click.exceptions.Exit:
        team.clean = True
        raise
    except Exception as e:
        if getattr(e, "agreed", False):
            team.clean = True
            if not team.root:
                ctx.exit(2 if isinstance(e, UsageError) else 1)
        raise
    team.clean = True
