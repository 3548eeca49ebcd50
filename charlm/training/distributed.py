"""Data-parallel training over MPI: what the shared training loop needs to run one
step on several processes (ranks) as if it were one.

Every rank builds the same run (same seed: same initial weights, same batches in
the same order) and, at each step, takes its share of the batch's rows (the
language model's rows, the tagger's sentences). It computes the mean loss over its
own tokens and its gradient. The ranks then sum

    n_r · ∇L_r  (every gradient, side by side in one flat buffer)

where n_r is the number of terms rank r's mean loss is over (its tokens; a
classifier's lines), with one ``Reduce_scatter``: each rank receives the sum of one
block of the buffer only, the block of the parameters whose update it owns. One
small ``Allreduce`` sums the rest:

    n_r · L_r,  n_r,  control flags,  ‖its block of the summed gradient‖²

Dividing by Σ n_r gives exactly the mean over the whole batch that one process
computes, and the squares give the global norm, so the clipping is the same on
every rank and the same as in one process (up to the order of floating-point sums).
Each rank then applies the optimiser to its block alone (its moments and weight
average are kept for that block only) and one ``Allgatherv`` gives every rank every
updated weight: ZeRO's first stage (Rajbhandari et al., 2020). The data moved is
that of one all-reduce of the gradient, and the update, which every rank would
otherwise repeat in full, is split between them (:class:`ShardedUpdate`).

When every rank runs on one machine (``--workers N``), the same exchange goes
through memory that the ranks share instead of messages: each writes its weighted
gradient into a slot of its own, and after a barrier sums its block over every
rank's slot; the weights themselves live in shared memory, once, so a rank's update
of its block is seen by every rank after the next barrier and nothing needs
gathering. Measured on this 2-core machine with the tagger's 1.1M weights, the
exchange and update take about 3.0 ms a step this way, 4.5 ms with
``Reduce_scatter``/``Allgatherv`` and 5.6–6.3 ms with one ``Allreduce`` and the
update repeated by each rank. ``CHARLM_SHARED_MEMORY=0`` turns it off (ranks across
machines, or memory that cannot be shared, use the messages). The control slots
carry what every rank must agree on: a stop request (Ctrl-C, SIGTERM), a failure
of one rank (it cannot go on: out of memory…) and rank 0's clock, which drives time
limits and schedules.

Only this module imports mpi4py, and only when a run has more than one rank: a
single process never loads MPI. Each rank validates its share of the validation
batches and rank 0 adds up their tallies (every rank receives the result); rank 0
alone writes files and reports; see :class:`Workers`.
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

# Set to 0: exchange gradients and weights by MPI messages even on one machine.
SHARED_MEMORY_VAR = "CHARLM_SHARED_MEMORY"

# The slots of the small all-reduce that follows the gradient's.
_LOSS, _TOKENS, _INTERRUPT, _TERMINATE, _FAILED, _CLOCK, _SQUARES = range(7)
_SLOTS = 7


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
        ({name: array}), in their dtype, once for the whole run, and this rank's block
        of it: a contiguous share of the flat buffer, as even as it can be."""
        self.names = list(params)
        self.shapes = [params[k].shape for k in self.names]
        sizes = [int(np.prod(s)) for s in self.shapes]
        self.offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        total = int(self.offsets[-1])
        dtype = params[self.names[0]].dtype
        blocks = [share(total, r, self.size) for r in range(self.size)]
        self.counts = [hi - lo for lo, hi in blocks]
        self.displs = [lo for lo, _ in blocks]
        self.lo, self.hi = blocks[self.rank]
        self.block = np.empty(self.hi - self.lo, dtype=dtype)
        self.control = np.zeros(_SLOTS, dtype=np.float64)
        arena = self._share_memory((self.size + 1) * total, dtype)
        if arena is None:
            self.slots = self.shared_params = None
            self.buffer = np.empty(total, dtype=dtype)
        else:
            self.slots = [arena[r * total:(r + 1) * total] for r in range(self.size)]
            self.buffer = self.slots[self.rank]
            self.shared_params = arena[self.size * total:]

    def _share_memory(self, n, dtype):
        """n elements of ``dtype`` that every rank maps, or None when the ranks do
        not all run on this machine, the memory cannot be had, or the environment
        says no. Allocated by rank 0 and freed when the run ends."""
        self.window = None
        if os.environ.get(SHARED_MEMORY_VAR, "1").strip() == "0":
            return None
        MPI = self.MPI
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        if node.Get_size() != self.size:
            return None
        itemsize = np.dtype(dtype).itemsize
        window = None
        try:
            if not _room_in_shared_memory(n * itemsize):
                raise MemoryError
            window = MPI.Win.Allocate_shared(n * itemsize if self.root else 0, itemsize,
                                             comm=self.comm)
            memory, _ = window.Shared_query(0)
            arena = np.ndarray((n,), dtype=dtype, buffer=memory)
            ok = 1
        except (MPI.Exception, MemoryError, ValueError):
            ok = 0
        if not self.comm.allreduce(ok, op=MPI.MIN):
            return None
        window.Lock_all(MPI.MODE_NOCHECK)
        self.window = window
        return arena

    def barrier(self):
        """Wait for every rank; what each wrote to the shared memory before it is
        seen by all after it."""
        if self.window is not None:
            self.window.Sync()
            self.comm.Barrier()
            self.window.Sync()
        else:
            self.comm.Barrier()

    # --- one step -------------------------------------------------------------------

    def reduce_step(self, grads, loss, tokens, interrupt=None, failed=False, clock=0.0):
        """Sum every rank's token-weighted gradient (this rank receives its block of
        the sum), loss and count, and agree on the control flags.

        ``grads``: {name: array} (the mean over this rank's ``tokens`` tokens; None
        after a failure). Returns (block, loss, tokens, stop, failed, clock, norm):
        this rank's block of the gradient of the mean over every rank's tokens (a
        view of a buffer reused at the next step), the mean loss, the total token
        count, the stop reason any rank asked for ("terminated" before "interrupted")
        or None, whether any rank failed, rank 0's clock and the norm of the whole
        gradient.
        """
        buf, off, block, ctrl = self.buffer, self.offsets, self.block, self.control
        ctrl[:] = 0
        if grads is None or failed or tokens == 0:
            buf[:] = 0
        else:
            for k, a, b in zip(self.names, off[:-1], off[1:]):
                np.multiply(grads[k].reshape(-1), tokens, out=buf[a:b])
            ctrl[_LOSS] = loss * tokens
            ctrl[_TOKENS] = tokens
        if self.slots is None:
            self.comm.Reduce_scatter(buf, block, recvcounts=self.counts, op=self.MPI.SUM)
        else:                               # buf is our slot; sum our block of them all
            self.barrier()
            lo, hi = self.lo, self.hi
            np.add(self.slots[0][lo:hi], self.slots[1][lo:hi], out=block)
            for slot in self.slots[2:]:
                np.add(block, slot[lo:hi], out=block)
        ctrl[_INTERRUPT] = interrupt == "interrupted"
        ctrl[_TERMINATE] = interrupt == "terminated"
        ctrl[_FAILED] = bool(failed)
        ctrl[_CLOCK] = clock if self.root else 0.0
        ctrl[_SQUARES] = float(np.vdot(block, block))
        self.comm.Allreduce(self.MPI.IN_PLACE, ctrl, op=self.MPI.SUM)
        total = float(ctrl[_TOKENS])
        norm = 0.0
        if total > 0:
            block *= block.dtype.type(1.0 / total)
            norm = float(np.sqrt(ctrl[_SQUARES])) / total
        stop = ("terminated" if ctrl[_TERMINATE] else
                "interrupted" if ctrl[_INTERRUPT] else None)
        return (block, float(ctrl[_LOSS]) / max(total, 1.0), int(round(total)), stop,
                bool(ctrl[_FAILED]), float(ctrl[_CLOCK]), norm)

    def gather(self, block, out=None):
        """Every rank's block of a flat array (this rank's is ``block``, or already
        in place in ``out``), joined in rank order on every rank."""
        if out is None:
            out = np.empty(int(self.offsets[-1]), dtype=block.dtype)
            self.comm.Allgatherv(block, [out, (self.counts, self.displs)])
        else:
            self.comm.Allgatherv(self.MPI.IN_PLACE, [out, (self.counts, self.displs)])
        return out

    def split(self, flat):
        """A flat array laid out like the gradient buffer, as {name: array}."""
        return {k: flat[a:b].reshape(s) for k, a, b, s
                in zip(self.names, self.offsets[:-1], self.offsets[1:], self.shapes)}

    def flatten(self, arrays, lo=0, hi=None, out=None):
        """Elements [lo, hi) of {name: array} laid out like the gradient buffer."""
        hi = int(self.offsets[-1]) if hi is None else hi
        out = np.empty(hi - lo, dtype=arrays[self.names[0]].dtype) if out is None else out
        for k, a, b in zip(self.names, self.offsets[:-1], self.offsets[1:]):
            if a < hi and b > lo:
                i, j = max(a, lo), min(b, hi)
                out[i - lo:j - lo] = arrays[k].reshape(-1)[i - a:j - a]
        return out

    # --- what rank 0 does for everyone ----------------------------------------------------

    def bcast(self, obj):
        """Rank 0's ``obj`` on every rank (small Python values: pickled)."""
        return self.comm.bcast(obj, root=0)

    def collect(self, obj):
        """Every rank's ``obj``, in rank order, on rank 0 (None elsewhere): small
        Python values, pickled (a validation tally)."""
        return self.comm.gather(obj, root=0)

    def any(self, flag):
        """Whether ``flag`` is true on any rank (every rank learns it)."""
        return bool(self.comm.allreduce(int(bool(flag)), op=self.MPI.MAX))

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



class ShardedUpdate:
    """The optimiser's update split between the ranks: this rank keeps the moments
    (and the weight average) of its block of the flat parameter vector only, updates
    that block with its block of the gradient, and gathers the others' blocks.

    It stands in for the run's optimiser (``lr``, ``t``, ``step``, ``averaged``). The
    arrays of ``params`` ({name: array}, every rank's full copy: the model's) are
    replaced by views of one flat vector laid out like the gradient buffer, so that
    the update of this rank's block and the gathering of the others' write straight
    into the model. On one machine that vector is in shared memory: one copy that
    every rank reads and each rank updates its block of, so that anything else that
    writes the weights (a roll-back, evaluating the averaged weights) must write the
    same values on every rank and wait for the others before and after
    (:meth:`Workers.barrier`). Its ``state_arrays`` are this rank's own, for rolling
    back; :meth:`full_state_arrays` gathers those of every rank, named as one
    process's optimiser names them, for a checkpoint that resumes on any number of
    ranks."""

    def __init__(self, workers, optimizer, params):
        w = self.workers = workers
        if w.shared_params is None:
            self.flat = w.flatten(params)
        else:                               # one copy for every rank on this machine
            self.flat = w.shared_params
            if w.root:
                w.flatten(params, out=self.flat)
            w.barrier()
        params.update(w.split(self.flat))
        self.own = {"block": self.flat[w.lo:w.hi]}
        self.inner = optimizer.fresh(self.own)
        state = optimizer.state_arrays()
        groups = sorted({k.split("/", 1)[0] for k in state})
        self.inner.load_state_arrays(
            {f"{g}/block": w.flatten({k: state[f"{g}/{k}"] for k in w.names}, w.lo, w.hi)
             for g in groups}, optimizer.t)

    lr = property(lambda self: self.inner.lr,
                  lambda self, value: setattr(self.inner, "lr", value))
    t = property(lambda self: self.inner.t)

    def step(self, params, grads):
        """``grads``: {"block": this rank's block of the (clipped) mean gradient};
        ``params``: the model's, views of the flat vector since construction."""
        self.inner.step(self.own, grads)
        if self.workers.shared_params is None:
            self.workers.gather(None, out=self.flat)
        else:
            self.workers.barrier()          # every block updated before anyone reads

    def averaged(self):
        own = self.inner.averaged()
        return None if own is None else self.workers.split(self.workers.gather(own["block"]))

    def state_arrays(self):
        return self.inner.state_arrays()

    def load_state_arrays(self, arrays, t):
        self.inner.load_state_arrays(arrays, t)

    def full_state_arrays(self):
        """Every rank's state gathered into one process's names (on every rank)."""
        out = {}
        for name, own in self.inner.state_arrays().items():
            group = name.split("/", 1)[0]
            for k, a in self.workers.split(self.workers.gather(own)).items():
                out[f"{group}/{k}"] = a
        return out


def _room_in_shared_memory(nbytes, folder="/dev/shm"):
    """Whether the folder MPI maps shared memory from (on Linux) has room for
    ``nbytes`` with as much to spare: a container's small /dev/shm would otherwise
    end the run with SIGBUS when the memory is first touched, not with an error."""
    try:
        st = os.statvfs(folder)
    except OSError:                         # no such folder: MPI uses another kind
        return True
    return st.f_bavail * st.f_frsize >= 2 * nbytes


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
