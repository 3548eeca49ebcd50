"""The training loop. It knows nothing about terminals: it yields events that a front
end renders, and calls ``save`` when the model is worth keeping.

One step = one window of T steps on N rows (truncated BPTT, see
:mod:`charlm.corpus`): forward, backward, clip the gradient's global norm, update.
Every ``eval_every`` steps and at the end the validation loss is measured; the best
model by validation loss is the one that is saved.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from charlm.errors import UsageError
from charlm.ops import clip_by_global_norm
from charlm.optim import OPTIMIZERS

LN2 = math.log(2.0)


@dataclass
class TrainConfig:
    """How to train. Stored in the model file next to the model it produced."""

    batch_size: int = 32        # N rows read in parallel
    seq_len: int = 64           # T steps per window of truncated BPTT
    lr: float = 2e-3            # Adam's step size (char-rnn's and torch-rnn's default)
    optimizer: str = "adam"     # adam | sgd
    clip: float = 5.0           # max global gradient norm; 0 turns clipping off
    steps: int | None = None    # stop after this many updates
    epochs: float | None = None  # stop after this many passes over the training part
    time_limit: float | None = None  # stop after this many seconds
    eval_every: int | None = None    # steps between validations; None: once an epoch
    val_fraction: float = 0.1   # held out for validation
    seed: int = 1               # everything random (init, shuffling, dropout) follows it
    dtype: str = "float32"      # float32 | float64

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer {self.optimizer!r}")
        if self.dtype not in ("float32", "float64"):
            raise UsageError(f"dtype must be float32 or float64, not {self.dtype!r}")

    def to_dict(self):
        return asdict(self)


# --- events -------------------------------------------------------------------------------

@dataclass
class Started:
    steps_per_epoch: int
    total_steps: int | None      # None when only a time limit bounds the run
    train_tokens: int
    val_tokens: int
    num_params: int


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


@dataclass
class Evaluated:
    step: int
    val_loss: float | None       # None without a validation part
    train_loss: float
    best_val_loss: float | None
    best_step: int | None
    improved: bool
    saved: bool


@dataclass
class Finished:
    reason: str                  # steps | epochs | time
    summary: dict = field(default_factory=dict)


def evaluate(model, batches):
    """Mean loss in nats per token over every window of ``batches`` (forward only)."""
    total, count = 0.0, 0.0
    state = None
    for x, y, mask in batches.epoch():
        lp, state = model.log_probs(x, y, state)
        if mask is None:
            total -= lp.sum()
            count += lp.size
        else:
            total -= (lp * mask).sum()
            count += mask.sum()
    return total / max(count, 1.0)


class Trainer:
    """Runs training; iterate over :meth:`run` to drive it."""

    def __init__(self, model, train_batches, val_batches, cfg, rng, save=None):
        self.model = model
        self.train_batches = train_batches
        self.val_batches = val_batches
        self.cfg = cfg
        self.rng = rng
        self.save = save
        self.optimizer = OPTIMIZERS[cfg.optimizer](model.params, cfg.lr)
        if cfg.steps is None and cfg.epochs is None and cfg.time_limit is None:
            raise UsageError("give a stop condition: steps, epochs or a time limit")

    def run(self):
        cfg, model = self.cfg, self.model
        first_epoch = self.train_batches.epoch(self.rng)
        steps_per_epoch = len(first_epoch)
        totals = []
        if cfg.steps is not None:
            totals.append(cfg.steps)
        if cfg.epochs is not None:
            totals.append(max(1, math.ceil(cfg.epochs * steps_per_epoch)))
        total_steps = min(totals) if totals else None
        eval_every = cfg.eval_every or steps_per_epoch
        yield Started(steps_per_epoch, total_steps, self.train_batches.tokens(),
                      self.val_batches.tokens() if self.val_batches else 0,
                      model.config.num_params())

        start = time.perf_counter()
        step = tokens = clipped = 0
        smooth = None
        best_val = best_step = None
        recent = []                       # (time, tokens) for a short-window rate
        epoch_index, epoch = 0, first_epoch
        window = 0
        state = None
        reason = None
        last_loss = float("nan")
        while reason is None:
            if window >= len(epoch):
                epoch_index += 1
                epoch, window, state = self.train_batches.epoch(self.rng), 0, None
            x, y, mask = epoch[window]
            window += 1
            loss, state, cache = model.forward(x, y, mask, state, self.rng, train=True)
            grads = model.backward(cache)
            norm, was_clipped = clip_by_global_norm(grads, cfg.clip)
            self.optimizer.step(model.params, grads)
            step += 1
            clipped += was_clipped
            n_tok = int(x.size if mask is None else mask.sum())
            tokens += n_tok
            last_loss = loss
            smooth = loss if smooth is None else 0.95 * smooth + 0.05 * loss
            now = time.perf_counter()
            elapsed = now - start
            recent.append((now, tokens))
            if len(recent) > 20:
                recent.pop(0)
            dt = recent[-1][0] - recent[0][0]
            rate = (recent[-1][1] - recent[0][1]) / dt if dt > 0 else tokens / max(elapsed, 1e-9)
            epochs_done = epoch_index + window / len(epoch)

            fractions = []
            if cfg.steps is not None:
                fractions.append(step / cfg.steps)
                if step >= cfg.steps:
                    reason = "steps"
            if cfg.epochs is not None:
                fractions.append(epochs_done / cfg.epochs)
                if epochs_done >= cfg.epochs - 1e-9:
                    reason = reason or "epochs"
            if cfg.time_limit is not None:
                fractions.append(elapsed / cfg.time_limit)
                if elapsed >= cfg.time_limit:
                    reason = reason or "time"
            yield Stepped(step, epochs_done, loss, smooth, tokens, elapsed, rate, norm,
                          clipped / step, self.optimizer.lr, min(1.0, max(fractions)))

            if step % eval_every == 0 or reason is not None:
                val = evaluate(model, self.val_batches) if self.val_batches else None
                improved = val is not None and (best_val is None or val < best_val)
                if improved:
                    best_val, best_step = val, step
                saved = False
                if self.save is not None and (improved or val is None):
                    self.save(self._training_info(step, tokens, elapsed, best_val,
                                                  best_step, clipped, smooth))
                    saved = True
                yield Evaluated(step, val, smooth, best_val, best_step, improved, saved)

        elapsed = time.perf_counter() - start
        summary = self._training_info(step, tokens, elapsed, best_val, best_step,
                                      clipped, smooth)
        summary["last_loss"] = last_loss
        yield Finished(reason, summary)

    def _training_info(self, step, tokens, elapsed, best_val, best_step, clipped, smooth):
        return {
            "steps": step,
            "tokens": tokens,
            "seconds": round(elapsed, 3),
            "tokens_per_sec": tokens / elapsed if elapsed > 0 else None,
            "train_loss": smooth,
            "best_val_loss": best_val,
            "best_step": best_step,
            "clipped_fraction": clipped / step if step else 0.0,
            "config": self.cfg.to_dict(),
        }


def bits(nats):
    """Nats per token → bits per token."""
    return None if nats is None else nats / LN2


def perplexity(nats):
    return None if nats is None else float(np.exp(min(nats, 700.0)))
