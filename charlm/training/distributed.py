"""Data-parallel training over MPI: what the shared training loop needs to run one
step on several processes (ranks) as if it were one.

Every rank builds the same run (same seed: same initial weights, same batches in
the same order) and, at each step, takes its share of the batch's rows (the
language model's rows, the tagger's sentences). It computes the mean loss over its
own tokens and its gradient; one ``Allreduce`` of one flat buffer then sums, over the
ranks,

    n_r · ∇L_r  (every gradient, side by side),  n_r · L_r,  n_r,  control flags

where n_r is the number of terms rank r's mean loss is over (its tokens; a
classifier's lines). Dividing by Σ n_r gives exactly the mean over the whole batch
that one process computes, so the global norm, the
clipping and the update are the same on every rank, and the same as in one process
(up to the order of floating-point sums). The control slots carry what every rank
must agree on: a stop request (Ctrl-C, SIGTERM), a failure of one rank (it cannot
go on: out of memory…) and rank 0's clock, which drives time limits and schedules.

Only this module imports mpi4py, and only when a run has more than one rank: a
single process never loads MPI. Rank 0 alone evaluates (the others receive the
result), writes files and reports; see :class:`Workers`.
"""

from __future__ import annotations

import atexit
import importlib.util
import os

import numpy as np

from charlm.errors import CharlmError, UsageError

# What to install for --workers (or mpiexec); said in one line when it is missing.
INSTALL_HINT = "pip install 'charlm[mpi]' (mpi4py and an MPI, both from wheels)"

# The world size as the common MPI launchers export it to every process they start:
# MPICH's and Intel MPI's hydra (PMI_SIZE), Open MPI, MVAPICH, PMIx.
SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")

# Control slots at the end of the reduced buffer (after the gradients).
_LOSS, _TOKENS, _INTERRUPT, _TERMINATE, _FAILED, _CLOCK = range(6)
_SLOTS = 6


class WorkerFailed(CharlmError):
    """One rank could not go on; every rank raises it at the same step, so the run ends
    with one message (from rank 0) instead of a hang or one traceback per rank."""

    agreed = True           # raised by every rank at once: the others stay silent


def launched_size():
    """How many ranks the MPI launcher started, read from the environment (so that a
    single process need not import MPI to find out): 1 outside a launcher."""
    for var in SIZE_VARS:
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def mpi_installed():
    return importlib.util.find_spec("mpi4py") is not None


def connect():
    """This process's place among the ranks, or None when it runs alone."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise UsageError(f"training on several workers needs MPI: {INSTALL_HINT}") from None
    comm = MPI.COMM_WORLD
    if comm.Get_size() == 1:
        return None
    return Workers(comm, MPI)


def share(n, rank, size):
    """Rows [lo, hi) of ``n`` that rank ``rank`` of ``size`` trains on: contiguous
    blocks as even as they can be, in rank order (so gathering them in rank order
    gives the rows back in order)."""
    return rank * n // size, (rank + 1) * n // size


def interleaved(n, rank, size):
    """The rows of ``n`` that rank ``rank`` of ``size`` trains on when the batch's
    rows need not stay in blocks: every ``size``-th one, from row ``rank``. The
    tagger's and the classifier's batches are sorted longest first, so contiguous
    blocks would give rank 0 every long sentence and its longest words, and the
    others would wait for it at every step; dealt out like cards, every rank gets
    long and short ones alike."""
    return slice(rank, n, size)


class RowRandom:
    """A stand-in for the run's ``np.random.Generator`` while a rank computes its
    ``rows`` (a slice) of a batch of N: every draw is made for the whole batch (last
    axis N, the batch axis of every activation) and the rank keeps its columns.
    Dropout masks are then those one process would draw, and the generator advances
    exactly as it would in one process."""

    def __init__(self, rng, rows, n):
        self.rng, self.rows, self.n = rng, rows, n

    def random(self, size, dtype=np.float64):
        full = self.rng.random(tuple(size[:-1]) + (self.n,), dtype=dtype)
        # A copy: a strided view of the columns would slow every product with it.
        return np.ascontiguousarray(full[..., self.rows])

    def __getattr__(self, name):
        return getattr(self.rng, name)


class Workers:
    """The ranks of one data-parallel run, seen from one of them."""

    def __init__(self, comm, MPI):
        self.comm, self.MPI = comm, MPI
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.root = self.rank == 0
        self.buffer = None
        self.names = None
        # A rank that leaves on an error the others did not share would leave them
        # waiting forever in the next collective: it aborts the whole run instead
        # (what `python -m mpi4py` does for an uncaught exception).
        self.clean = False
        atexit.register(self._at_exit)

    def _at_exit(self):
        if not self.clean:
            self.comm.Abort(1)

    def share(self, n):
        return share(n, self.rank, self.size)

    def interleaved(self, n):
        return interleaved(n, self.rank, self.size)

    def bind(self, params):
        """Lay out the reduced buffer for gradients named and shaped like ``params``
        ({name: array}), in their dtype, once for the whole run."""
        self.names = list(params)
        self.shapes = [params[k].shape for k in self.names]
        sizes = [int(np.prod(s)) for s in self.shapes]
        self.offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        dtype = params[self.names[0]].dtype
        self.buffer = np.empty(int(self.offsets[-1]) + _SLOTS, dtype=dtype)

    # --- one step -------------------------------------------------------------------

    def reduce_step(self, grads, loss, tokens, interrupt=None, failed=False, clock=0.0):
        """Sum every rank's token-weighted gradient, loss and count with one Allreduce
        of one flat buffer, and agree on the control flags.

        ``grads``: {name: array} (the mean over this rank's ``tokens`` tokens; None
        after a failure). Returns (grads, loss, tokens, stop, failed, clock): the
        gradient and loss of the mean over every rank's tokens (views of the buffer),
        the total token count, the stop reason any rank asked for ("terminated" before
        "interrupted") or None, whether any rank failed, and rank 0's clock.
        """
        names, buf, off = self.names, self.buffer, self.offsets
        ctrl = buf[off[-1]:]
        ctrl[:] = 0
        if grads is None or failed or tokens == 0:
            buf[:off[-1]] = 0
        else:
            for k, a, b in zip(names, off[:-1], off[1:]):
                np.multiply(grads[k].reshape(-1), tokens, out=buf[a:b])
            ctrl[_LOSS] = loss * tokens
            ctrl[_TOKENS] = tokens
        ctrl[_INTERRUPT] = interrupt == "interrupted"
        ctrl[_TERMINATE] = interrupt == "terminated"
        ctrl[_FAILED] = bool(failed)
        ctrl[_CLOCK] = clock if self.root else 0.0
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        total = float(ctrl[_TOKENS])
        if total > 0:
            buf[:off[-1]] *= buf.dtype.type(1.0 / total)
        summed = {k: buf[a:b].reshape(s)
                  for k, a, b, s in zip(names, off[:-1], off[1:], self.shapes)}
        stop = ("terminated" if ctrl[_TERMINATE] else
                "interrupted" if ctrl[_INTERRUPT] else None)
        return (summed, float(ctrl[_LOSS]) / max(total, 1.0), int(round(total)), stop,
                bool(ctrl[_FAILED]), float(ctrl[_CLOCK]))

    # --- what rank 0 does for everyone ----------------------------------------------------

    def bcast(self, obj):
        """Rank 0's ``obj`` on every rank (small Python values: pickled)."""
        return self.comm.bcast(obj, root=0)

    def gather_rows(self, state):
        """The carried state of every row, on rank 0 (None elsewhere): each rank's
        per-layer tuples of (H, n_r) arrays joined along the row axis in rank order.
        Only at checkpoints, a few hundred kilobytes: pickled."""
        parts = self.comm.gather(state, root=0)
        if not self.root:
            return None
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        return [tuple(np.concatenate([p[layer][i] for p in parts], axis=-1)
                      for i in range(len(parts[0][layer])))
                for layer in range(len(parts[0]))]

    def failure(self, error):
        """After a step that some rank could not finish: every rank learns the first
        rank's message and raises it (rank 0 reports it)."""
        messages = self.comm.allgather(None if error is None else _describe(error))
        rank, message = next((r, m) for r, m in enumerate(messages) if m is not None)
        return WorkerFailed(f"worker {rank} of {self.size} failed: {message}")

    def setup(self, build, prime=None):
        """``build()`` on every rank at once; an error on any rank is raised by every
        rank, so that rank 0 reports it once (naming the rank when it is not 0).

        ``prime()``: what rank 0 does alone first, before the others start: reading
        the corpus into the token cache, which the others then read memory-mapped
        instead of tokenizing it again."""
        error = None
        if self.root and prime is not None:
            _, error = _attempt(prime)
        failed = self.bcast(None if error is None else isinstance(error, UsageError))
        if failed is None:
            result, error = _attempt(build)
            reports = self.comm.allgather(None if error is None else
                                          (isinstance(error, UsageError), _describe(error)))
            failed = reports[0][0] if reports[0] is not None else None
            rank = next((r for r, m in enumerate(reports) if m is not None), None)
            if rank is None:
                return result
            if rank > 0:                    # rank 0 is fine: it reports the other's error
                failed, message = reports[rank]
                error = (UsageError if failed else CharlmError)(
                    f"worker {rank} of {self.size}: {message}")
            elif not self.root:             # rank 0 failed and reports its own error
                error = None
        if error is None:                   # another rank reports it; leave with its status
            error = (UsageError if failed else CharlmError)("failed elsewhere")
        error.agreed = True
        raise error


def _attempt(build):
    try:
        return build(), None
    except (CharlmError, MemoryError, OSError) as e:
        return None, e


def _describe(error):
    if isinstance(error, MemoryError):
        return "out of memory; try a smaller model or batch (--hidden, --layers, --batch-size)"
    if isinstance(error, OSError) and not isinstance(error, CharlmError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or error}"
    return str(error)
