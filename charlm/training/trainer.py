"""The training loop. It knows nothing about terminals: it yields events that a front
end renders, and calls back when a model or checkpoint should be written.

The loop is written once for every kind of model. It knows a model only through a
small interface: ``params`` ({name: array}), ``forward(x, y, mask, state, rng,
train)`` → (mean loss, state carried to the next batch or None, cache),
``backward(cache)`` → {name: gradient}, ``evaluate(batches)`` → a validation loss
(lower is better) or a dict of metrics holding it under ``"loss"``, ``num_params()``
and ``chance_loss()`` (the loss of a uniform guess); ``evaluate`` is
``summarize(tally(batches.epoch()))``, where a tally is a dict of sums and lists
that add up over disjoint rows. Batches come from an object with
``epoch(rng)`` → a list of (x, y, mask) and ``tokens()``.

One step = one batch (for the language model a window of T steps on N rows,
truncated BPTT, see :mod:`charlm.text.corpus`): forward, backward, clip the
gradient's global norm, update.
Every ``eval_every`` steps and at the end the validation loss is measured; the best
model by validation loss is the one that is saved. A trainer given ``select=NAME``
instead keeps the model whose metric NAME (one of those ``evaluate`` returns, higher
is better: a tagger's accuracy or entity F1) is best; patience counts by it too.

Everything the loop needs to continue exactly where it stopped lives in a
:class:`TrainState` plus arrays (parameters, optimiser moments, the hidden state
carried between windows); a checkpoint holds both, so an interrupted run that is
resumed produces the same losses and weights as one that never stopped.

With ``workers`` (:class:`~charlm.training.distributed.Workers`) the same loop runs
on several processes at once, data-parallel: each computes its share of every batch
(``batches.share(item, rows)`` when the batches define it, each of W ranks taking
every W-th row; else a contiguous block of the rows of x, y and mask, whose carried
state stays with it),
the ranks sum the token-weighted gradients, each updates its own block of the
weights (:class:`~charlm.training.distributed.ShardedUpdate`) and all gather the
result. Each rank validates its share of the validation batches too, and rank 0
adds up their tallies; rank 0 alone samples and writes files. A checkpoint holds every
row's carried state, gathered in row order, and the optimiser's state gathered from
every rank, so it resumes on any number of ranks.

A loss or gradient that is NaN or infinite, or a loss above BLOWUP_FACTOR × ln V
(far worse than guessing uniformly: the weights blew up), is never applied: the
parameters and optimiser roll back to the last good snapshot, the learning rate is
halved and training goes on; after :data:`MAX_RECOVERIES` such events it stops
with an error.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from charlm.settings import Settings
from charlm.errors import CharlmError, UsageError
from charlm.engine.ops import clip_by_global_norm
from charlm.engine.optim import OPTIMIZERS
from charlm.training.distributed import RowRandom, ShardedUpdate
from charlm.training.schedule import DEFAULT_LR, DEFAULT_SCHEDULE, SCHEDULES, learning_rate

LN2 = math.log(2.0)
MAX_RECOVERIES = 5
BLOWUP_FACTOR = 20.0


class TrainingDiverged(CharlmError):
    """The loss kept becoming NaN or infinite even at lower learning rates."""


@dataclass
class TrainConfig(Settings):
    """How to train. Stored in the model file next to the model it produced."""

    batch_size: int = 32        # N rows read in parallel
    seq_len: int = 64           # T steps per window of truncated BPTT
    # Adam's step size. 8e-3 with the cosine schedule below: on tinyshakespeare
    # (2×256 char LSTM, 600 updates) it scored 1.710 nats/char on held-out text,
    # against 1.719 at 1.2e-2, 1.750 at 4e-3 and 1.834 at char-rnn's 2e-3, all
    # with cosine.
    lr: float = DEFAULT_LR
    optimizer: str = "adam"     # adam | sgd
    clip: float = 5.0           # max global gradient norm; 0 turns clipping off
    steps: int | None = None    # stop after this many updates (in total, across resumes)
    epochs: float | None = None  # stop after this many passes over the training part
    time_limit: float | None = None  # stop after this many seconds of training in total
    patience: int | None = None  # stop after this many evaluations without improvement
    eval_every: int | None = None    # steps between validations; None: once an epoch
    val_fraction: float = 0.1   # held out for validation ...
    val_max_tokens: int | None = 1_000_000  # ... but at most this many tokens
    seed: int = 1               # everything random (init, split, shuffling, dropout)
    dtype: str = "float32"      # float32 | float64
    # constant | step | cosine (see charlm.training.schedule). Cosine decays to lr/10
    # as the run ends (by steps, epochs or time): 1.750 vs 1.763 nats/char for a
    # constant 4e-3 in the comparison above.
    lr_schedule: str = DEFAULT_SCHEDULE
    warmup: int = 0             # steps of linear warm-up
    lr_decay: float = 0.5       # step schedule: multiply the rate by this ...
    lr_decay_every: float = 5.0  # ... every this many epochs
    min_lr: float | None = None  # cosine schedule's final rate; None: lr / 10
    sample_every: int | None = None  # steps between samples; None: at every evaluation; 0: never
    sample_length: int = 100    # tokens in a training-time sample
    checkpoint_every: int | None = None  # steps between checkpoints; None: at every evaluation
    # δ of the moving average of the weights that is validated and saved (see
    # charlm.engine.optim); 0 validates and saves the weights as they are; None
    # averages over about the last epoch (epoch_average).
    average: float | None = 0.0

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer {self.optimizer!r}")
        if self.dtype not in ("float32", "float64"):
            raise UsageError(f"dtype must be float32 or float64, not {self.dtype!r}")
        if self.lr_schedule not in SCHEDULES:
            raise UsageError(f"unknown learning-rate schedule {self.lr_schedule!r}")
        if self.average is not None and not 0.0 <= self.average < 1.0:
            raise UsageError(f"--average must be in [0, 1), not {self.average!r}")


# Settings that may differ when a run is resumed: they change how long or how fast
# training goes on, not what the saved state means.
RESUME_MAY_CHANGE = frozenset({
    "lr", "clip", "steps", "epochs", "time_limit", "patience", "eval_every",
    "lr_schedule", "warmup", "lr_decay", "lr_decay_every", "min_lr",
    "sample_every", "sample_length", "checkpoint_every", "average"})


@dataclass
class TrainState(Settings):
    """Where training stands: every scalar a resumed run needs."""

    step: int = 0               # updates done
    epoch: int = 0              # index of the current pass over the data
    window: int = 0             # next window of the current pass
    tokens: int = 0             # training tokens seen
    elapsed: float = 0.0        # seconds of training so far
    smooth_loss: float | None = None
    clipped: int = 0            # steps whose gradient was clipped
    best_val: float | None = None   # validation loss of the best model so far
    best_step: int | None = None
    best_metrics: dict | None = None  # the other validation metrics of the best model
    bad_evals: int = 0          # evaluations since the last improvement
    lr_scale: float = 1.0       # halved at each recovery from a NaN
    recoveries: int = 0
    model_saved: bool = False   # has the model file been written by this run
    rng: dict | None = None     # the generator's state
    epoch_rng: dict | None = None   # its state when the current pass began (to rebuild its order)


# --- events -------------------------------------------------------------------------------

@dataclass
class Started:
    steps_per_epoch: int
    total_steps: int | None      # None when only a time limit bounds the run
    train_tokens: int
    val_tokens: int
    num_params: int
    start_step: int              # > 0 when resumed
    workers: int = 1             # processes training together (data-parallel ranks)


@dataclass
class Stepped:
    step: int
    epoch: float                 # epochs done, fractional
    loss: float                  # this window's training loss, nats per token
    smooth_loss: float           # exponential moving average of ``loss``
    tokens: int                  # training tokens seen so far
    elapsed: float               # seconds
    tokens_per_sec: float
    grad_norm: float             # before clipping
    clipped_fraction: float      # share of steps so far whose gradient was clipped
    lr: float
    progress: float              # 0..1 towards the nearest stop condition
    val_loss: float | None       # the last validation loss


@dataclass
class Evaluated:
    step: int
    val_loss: float | None       # None without a validation part
    train_loss: float
    best_val_loss: float | None
    best_step: int | None
    improved: bool
    saved: bool
    lr: float
    grad_norm: float
    tokens: int
    elapsed: float
    epoch: float
    metrics: dict | None = None          # further validation metrics (a tagger's accuracy …)
    best_metrics: dict | None = None     # ... and those of the best model


@dataclass
class Sampled:
    step: int
    text: str


@dataclass
class Checkpointed:
    step: int
    path: str


@dataclass
class Warned:
    step: int
    message: str


@dataclass
class Finished:
    reason: str                  # steps | epochs | time | patience | interrupted | terminated
    summary: dict = field(default_factory=dict)


def epoch_average(batches):
    """δ = 1 - 1/(updates per epoch): the moving average of the weights then spans
    about the last pass over the training data."""
    return 1.0 - 1.0 / max(len(batches), 1)


def _finite(x):
    return x is not None and math.isfinite(x)


class Trainer:
    """Runs training; iterate over :meth:`run` to drive it.

    Callbacks (all optional):
      save_model(info): write the model file (called when validation improves).
      save_checkpoint(trainer) -> path: write a checkpoint of the whole state.
      sampler(step) -> str: a short sample for the display.

    :meth:`distribute` makes it one rank of a data-parallel run.
    """

    def __init__(self, model, train_batches, val_batches, cfg, rng, *, save_model=None,
                 save_checkpoint=None, sampler=None, state=None, carried=None,
                 optimizer_arrays=None, select=None):
        if cfg.steps is None and cfg.epochs is None and cfg.time_limit is None:
            raise UsageError("give a stop condition: steps, epochs or a time limit")
        self.model = model
        self.train_batches = train_batches
        self.val_batches = val_batches
        self.cfg = cfg
        self.rng = rng
        self.save_model = save_model
        self.save_checkpoint = save_checkpoint
        self.sampler = sampler
        self.select = select                # a metric to maximise instead of the loss
        self.state = state or TrainState()
        self.carried = carried              # hidden state carried into the next window
        average = cfg.average if cfg.average is not None else epoch_average(train_batches)
        self.optimizer = OPTIMIZERS[cfg.optimizer](model.params, cfg.lr, average=average)
        if optimizer_arrays is not None:
            self.optimizer.load_state_arrays(optimizer_arrays, self.state.step)
        if self.state.rng is not None:
            self.rng.bit_generator.state = self.state.rng
        self.stop_request = None
        # A mean loss this far above a uniform guess (ln V) only comes from weights
        # that blew up: treat it like a NaN.
        self.loss_ceiling = BLOWUP_FACTOR * max(model.chance_loss(), 1.0)
        self.last_grad_norm = float("nan")
        self.last_val = self.state.best_val
        self.workers = None                 # this process alone, until distribute()
        self.root = True
        self.agreed_stop = None             # the stop every rank agreed on (data-parallel)
        self.gathered_state = None          # every rank's optimiser state, for a checkpoint

    def distribute(self, workers):
        """Train as one of ``workers`` (a :class:`~charlm.training.distributed.Workers`),
        on this rank's share of every batch. Call it before :meth:`run`."""
        self.workers = workers
        self.root = workers.root
        workers.bind(self.model.params)
        self.optimizer = ShardedUpdate(workers, self.optimizer, self.model.params)
        if self.carried is not None:        # a checkpoint holds every row: keep ours
            lo, hi = workers.share(self.carried[0][0].shape[-1])
            self.carried = ([tuple(a[..., lo:hi] for a in st) for st in self.carried]
                            if hi > lo else None)

    def request_stop(self, reason="interrupted"):
        """Ask the loop to stop after the current step (safe from a signal handler)."""
        self.stop_request = reason

    # --- state for checkpoints ---------------------------------------------------------

    def checkpoint_arrays(self):
        """Everything but the parameters that a resumed run needs, as named arrays."""
        state = (self.optimizer.state_arrays() if self.workers is None
                 else self.gathered_state)           # gathered by _checkpoint
        arrays = {f"optimizer/{k}": v for k, v in state.items()}
        if self.carried is not None:
            for layer, st in enumerate(self.carried, 1):
                for name, a in zip(("a", "c"), st):
                    arrays[f"carried/layer{layer}.{name}"] = a
        return arrays

    def checkpoint_state(self):
        self.state.rng = self.rng.bit_generator.state
        return self.state.to_dict()

    def training_info(self):
        s = self.state
        info = {
            "steps": s.step, "tokens": s.tokens, "seconds": round(s.elapsed, 3),
            "tokens_per_sec": s.tokens / s.elapsed if s.elapsed > 0 else None,
            "train_loss": s.smooth_loss, "best_val_loss": s.best_val,
            "best_step": s.best_step, "epochs": self._epochs_done(),
            "clipped_fraction": s.clipped / s.step if s.step else 0.0,
            "recoveries": s.recoveries, "config": self.cfg.to_dict(),
        }
        if self.workers is not None:
            info["workers"] = self.workers.size
        if self.select is not None:
            info["select"] = self.select
            info["best_metrics"] = s.best_metrics
        return info

    # --- the loop ------------------------------------------------------------------------

    def _epochs_done(self):
        n = len(self.epoch) if getattr(self, "epoch", None) is not None else 1
        return self.state.epoch + self.state.window / max(n, 1)

    def _new_epoch(self):
        self.state.epoch_rng = self.rng.bit_generator.state
        self.epoch = self.train_batches.epoch(self.rng)

    def _rebuild_epoch(self):
        """The current pass's windows, in the order its shuffle gave them."""
        g = np.random.default_rng()
        g.bit_generator.state = self.state.epoch_rng
        self.epoch = self.train_batches.epoch(g)

    def _snapshot(self):
        self.good = ({k: v.copy() for k, v in self.model.params.items()},
                     {k: v.copy() for k, v in self.optimizer.state_arrays().items()},
                     self.optimizer.t)

    def _roll_back(self):
        params, opt_arrays, t = self.good
        for k, v in params.items():
            self.model.params[k][...] = v
        self.optimizer.load_state_arrays(opt_arrays, t)
        self.carried = None

    def _progress(self, elapsed):
        cfg, s = self.cfg, self.state
        fractions = []
        if cfg.steps is not None:
            fractions.append(s.step / cfg.steps)
        if cfg.epochs is not None:
            fractions.append(self._epochs_done() / cfg.epochs)
        if cfg.time_limit is not None:
            fractions.append(elapsed / cfg.time_limit)
        return min(1.0, max(fractions)) if fractions else 0.0

    def _stop_reason(self, elapsed):
        cfg, s = self.cfg, self.state
        stop = self.stop_request if self.workers is None else self.agreed_stop
        if stop:
            return stop
        if cfg.steps is not None and s.step >= cfg.steps:
            return "steps"
        if cfg.epochs is not None and self._epochs_done() >= cfg.epochs - 1e-9:
            return "epochs"
        if cfg.time_limit is not None and elapsed >= cfg.time_limit:
            return "time"
        if cfg.patience is not None and s.bad_evals >= cfg.patience:
            return "patience"
        return None

    def run(self):
        cfg, model, s = self.cfg, self.model, self.state
        if s.epoch_rng is None:
            self._new_epoch()
        else:
            self._rebuild_epoch()
        steps_per_epoch = len(self.epoch)
        totals = []
        if cfg.steps is not None:
            totals.append(cfg.steps)
        if cfg.epochs is not None:
            totals.append(max(1, math.ceil(cfg.epochs * steps_per_epoch)))
        eval_every = cfg.eval_every or steps_per_epoch
        sample_every = eval_every if cfg.sample_every is None else cfg.sample_every
        yield Started(steps_per_epoch, min(totals) if totals else None,
                      self.train_batches.tokens(),
                      self.val_batches.tokens() if self.val_batches else 0,
                      model.num_params(), s.step,
                      1 if self.workers is None else self.workers.size)

        self._snapshot()
        session_start = time.perf_counter()
        elapsed0 = s.elapsed
        recent = []                       # (time, tokens) for a short-window rate
        lr = cfg.lr
        warned = False
        evaluated_at = checkpointed_at = None
        reason = self._stop_reason(elapsed0)
        if reason is not None:
            raise UsageError(f"nothing to do: the run already stopped at step {s.step} "
                             f"({reason}); give a larger --steps, --epochs or --time")
        while reason is None:
            if s.window >= len(self.epoch):
                s.epoch += 1
                s.window = 0
                self.carried = None
                self._new_epoch()
            x, y, mask = self.epoch[s.window]
            s.window += 1
            lr = learning_rate(cfg, s.step + 1, self._epochs_done(),
                               self._progress(s.elapsed)) * s.lr_scale
            # Overflow is handled below (roll back, halve the rate), so NumPy's
            # warnings about it would only be noise.
            with np.errstate(over="ignore", invalid="ignore"):
                if self.workers is None:
                    loss, carried, cache = model.forward(x, y, mask, self.carried, self.rng,
                                                         train=True)
                    grads = model.backward(cache)
                    norm, was_clipped = clip_by_global_norm(grads, cfg.clip)
                else:
                    clock = elapsed0 + (time.perf_counter() - session_start)
                    loss, carried, grads, norm, was_clipped = self._parallel_step(
                        x, y, mask, clock)
                tokens = int(x.size if mask is None else mask.sum())
            if not (_finite(loss) and _finite(norm)) or loss > self.loss_ceiling:
                s.recoveries += 1
                if s.recoveries > MAX_RECOVERIES:
                    raise TrainingDiverged(
                        f"training diverged: the loss became NaN, infinite or huge "
                        f"{s.recoveries} times (step {s.step + 1}) even with the learning "
                        f"rate cut to {lr:.3g}; try a lower --lr or --clip 1. "
                        "The model file still holds the best model so far.")
                self._roll_back()
                s.lr_scale *= 0.5
                if not warned:
                    warned = True
                    yield Warned(s.step, f"loss became {loss:.3g} at step {s.step + 1}: "
                                         f"rolled back to the last good state and halved "
                                         f"the learning rate (now {lr * 0.5:.3g})")
                continue
            self.optimizer.lr = lr
            with np.errstate(over="ignore", invalid="ignore"):
                self.optimizer.step(model.params, grads)
            self.carried = carried
            self.last_grad_norm = norm
            s.step += 1
            s.clipped += was_clipped
            s.tokens += tokens
            s.smooth_loss = loss if s.smooth_loss is None else 0.95 * s.smooth_loss + 0.05 * loss
            now = time.perf_counter()
            # Ranks keep rank 0's clock, so that time limits stop them all at one step.
            s.elapsed = elapsed0 + (now - session_start) if self.workers is None else self.clock
            recent.append((now, s.tokens))
            if len(recent) > 20:
                recent.pop(0)
            dt = recent[-1][0] - recent[0][0]
            rate = ((recent[-1][1] - recent[0][1]) / dt if dt > 0
                    else s.tokens / max(s.elapsed, 1e-9))
            yield Stepped(s.step, self._epochs_done(), loss, s.smooth_loss, s.tokens, s.elapsed,
                          rate, norm, s.clipped / s.step, lr, self._progress(s.elapsed),
                          self.last_val)

            reason = self._stop_reason(s.elapsed)
            evaluate_now = s.step % eval_every == 0 or reason in ("steps", "epochs", "time")
            if evaluate_now:
                yield from self._evaluate(lr, count_patience=s.step % eval_every == 0)
                evaluated_at = s.step
            if (sample_every and s.step % sample_every == 0 and self.sampler is not None
                    and self.root):
                yield Sampled(s.step, self.sampler(s.step))
            due = (s.step % cfg.checkpoint_every == 0 if cfg.checkpoint_every
                   else cfg.checkpoint_every is None and evaluate_now)
            if due and self.save_checkpoint is not None:
                yield Checkpointed(s.step, self._checkpoint())
                checkpointed_at = s.step
            if evaluate_now:
                reason = self._stop_reason(s.elapsed)        # patience may end it

        # Stopped. Make sure nothing learned is lost, and write nothing twice.
        if evaluated_at != s.step and (not s.model_saved or reason not in
                                       ("interrupted", "terminated")):
            yield from self._evaluate(lr, count_patience=False)
            evaluated_at = checkpointed_at = None               # the state changed
        if self.save_checkpoint is not None and checkpointed_at != s.step:
            yield Checkpointed(s.step, self._checkpoint())
        summary = self.training_info()
        summary["last_val_loss"] = self.last_val
        yield Finished(reason, summary)

    # --- data-parallel pieces ----------------------------------------------------------

    def _my_rows(self, batches, n):
        """This rank's rows (a slice) of a batch of ``n`` from ``batches``, and the
        function that takes them from (x, y, mask): ``batches.share`` and every W-th
        row when the batches define it, else a contiguous block, whose carried state
        stays with it from batch to batch."""
        split = getattr(batches, "share", None)
        if split is None:
            return slice(*self.workers.share(n)), _rows
        return self.workers.interleaved(n), split

    def _parallel_step(self, x, y, mask, clock):
        """This rank's share of one batch, forward and backward, then the
        reduction: (loss, carried, grads, norm, clipped): the loss of the whole batch
        as one process would have it, the state carried by our rows, our block of the
        whole batch's gradient (clipped by the global norm, for :class:`ShardedUpdate`),
        the norm before clipping and whether it clipped. A share weighs as many as
        the terms its mean loss is over: its unmasked targets (tokens, or lines for
        a classifier's (N,) targets)."""
        w = self.workers
        n = len(y)
        rows, split = self._my_rows(self.train_batches, n)
        # A rank without rows (a batch smaller than the ranks) computes row 0 and
        # counts nothing: its generator must still advance like the others'.
        empty = len(range(n)[rows]) == 0
        if empty:
            rows = slice(0, 1)
        loss, carried, grads, weight, error = 0.0, None, None, 0, None
        try:
            xs, ys, ms = split((x, y, mask), rows)
            loss, carried, cache = self.model.forward(
                xs, ys, ms, None if empty else self.carried, RowRandom(self.rng, rows, n),
                train=True)
            grads = self.model.backward(cache)
            weight = 0 if empty else int(ys.size if ms is None else ms.sum())
        except Exception as e:                  # out of memory, most likely
            # Without its traceback, whose frames would keep this step's arrays alive
            # (the reduction below needs memory too).
            error = e.with_traceback(None)
        block, loss, _, stop, failed, self.clock, norm = w.reduce_step(
            grads, loss, weight, self.stop_request, error is not None, clock)
        if failed:
            raise w.failure(error)
        self.agreed_stop = stop
        grads = {"block": block}
        norm, clipped = clip_by_global_norm(grads, self.cfg.clip, norm=norm)
        return loss, None if empty else carried, grads, norm, clipped

    def _checkpoint(self):
        """Write a checkpoint (rank 0); in a data-parallel run every rank first sends
        rank 0 the state carried by its rows, and the ranks gather the optimiser's
        state that each keeps for its block of the weights."""
        if self.workers is None:
            return self.save_checkpoint(self)
        mine = self.carried
        every = self.workers.gather_rows(mine)
        self.gathered_state = self.optimizer.full_state_arrays()
        if not self.root:
            self.gathered_state = None
            return None
        self.carried = every
        try:
            return self.save_checkpoint(self)
        finally:
            self.carried = mine
            self.gathered_state = None

    def _validation(self):
        """The validation result. In a data-parallel run each rank tallies its rows of
        every validation batch (as it trains on its rows of a training batch), rank 0
        adds the tallies up in rank order and summarizes them, and every rank
        receives the result: the same counts as one process, and the same losses
        but for the order of the additions."""
        if not self.val_batches:
            return None
        if self.workers is None:
            return self.model.evaluate(self.val_batches)
        w = self.workers
        tally, error = None, None
        try:
            tally = self.model.tally(self._my_validation_share())
        except Exception as e:                  # out of memory, most likely
            error = e.with_traceback(None)
        if w.any(error is not None):
            raise w.failure(error)
        tallies = w.collect(tally)
        result = None
        if self.root:
            try:
                result = ("ok", self.model.summarize(add_tallies(tallies)))
            except Exception as e:
                result = ("failed", e)
        result = w.bcast(result)
        if result[0] != "ok":
            raise w.failure(result[1] if self.root else None)
        return result[1]

    def _my_validation_share(self):
        """This rank's rows of each validation batch (batches with none left out)."""
        for item in self.val_batches.epoch():
            rows, split = self._my_rows(self.val_batches, len(item[1]))
            if len(range(len(item[1]))[rows]):
                yield split(item, rows)

    def _evaluate(self, lr, count_patience):
        """Validate and, when better, save: the averaged weights when training keeps
        an average (swapped in for this, and back out before training goes on)."""
        params = self.model.params
        averaged = self.optimizer.averaged()
        current = {k: params[k].copy() for k in averaged} if averaged else {}
        # Ranks on one machine share one copy of the weights: every rank keeps the
        # current ones before any writes the average, and rank 0 has evaluated and
        # saved it before any writes them back.
        shared = averaged and self.workers is not None
        if shared:
            self.workers.barrier()
        for k, a in (averaged or {}).items():
            params[k][...] = a
        try:
            event = self._assess(lr, count_patience)
        finally:
            if shared:
                self.workers.barrier()
            for k, a in current.items():
                params[k][...] = a
        if (all(np.isfinite(p).all() for p in params.values())
                and (event.val_loss is None or _finite(event.val_loss))):
            self._snapshot()
        yield event

    def _assess(self, lr, count_patience):
        """Validate the weights in the model now, save them if they are the best so far,
        and say so as an :class:`Evaluated`."""
        s = self.state
        with np.errstate(over="ignore", invalid="ignore"):
            val = self._validation()
        metrics = None
        if isinstance(val, dict):
            metrics = {k: v for k, v in val.items() if k != "loss"}
            val = val.get("loss")
        if self.select is not None and metrics is not None:
            score, best = metrics.get(self.select), (s.best_metrics or {}).get(self.select)
            improved = _finite(score) and _finite(val) and (best is None or score > best)
        else:
            improved = _finite(val) and (s.best_val is None or val < s.best_val)
        if improved:
            s.best_val, s.best_step = val, s.step
            s.best_metrics = metrics
            s.bad_evals = 0
        elif count_patience and val is not None:
            s.bad_evals += 1
        if val is not None:
            self.last_val = val
        params_ok = all(np.isfinite(p).all() for p in self.model.params.values())
        saved = False
        if self.save_model is not None and params_ok and (improved or val is None):
            s.model_saved = True
            if self.root:
                self.save_model(self.training_info())
            saved = True
        return Evaluated(s.step, val, s.smooth_loss, s.best_val, s.best_step, improved, saved,
                         lr, self.last_grad_norm, s.tokens, s.elapsed, self._epochs_done(),
                         metrics, s.best_metrics)


def add_tallies(tallies):
    """Validation tallies of disjoint rows added up key by key, in order: numbers and
    arrays add, lists join."""
    out = {}
    for tally in tallies:
        for k, v in tally.items():
            out[k] = v if k not in out else out[k] + v
    return out


def _rows(item, rows):
    """Some rows (a slice) of a batch of arrays (x, y, mask), the batch axis first."""
    x, y, mask = item
    return x[rows], y[rows], None if mask is None else mask[rows]
