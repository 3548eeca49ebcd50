"""Learning-rate schedules: the step size as a function of training progress.

All of them start with an optional linear warm-up over ``warmup`` steps, from
lr/warmup up to lr, then:

* ``constant``: lr.
* ``step``: lr · decay^⌊epochs / decay_every⌋ (torch-rnn's halving every 5 epochs
  with the defaults).
* ``cosine``: min_lr + ½ (lr − min_lr)(1 + cos π p), where p ∈ [0, 1] is the progress
  towards the nearest stop condition, so the rate reaches min_lr (default lr/10)
  when training ends. With only a time limit, p is the share of the time used.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "step", "cosine")

# The defaults of TrainConfig.lr and .lr_schedule, here so that the command line can
# show them without importing NumPy. Chosen from 600-update runs of the 2x256 char
# LSTM on Shakespeare scored on held-out text (benchmarks/parity.py and the README's
# recipe): constant 2e-3 gave 1.821 nats/char, cosine 4e-3 1.750, cosine 8e-3 1.710,
# cosine 1.2e-2 1.719. Checked again with the 64 x 128 batches and averaged weights,
# ten minutes with Romeo and Juliet held out (benchmarks/lm_recipe.py --split works):
# 8e-3 1.566 nats/char on the play, 4e-3 1.589, 1.2e-2 1.594.
DEFAULT_LR = 8e-3
DEFAULT_SCHEDULE = "cosine"


def learning_rate(cfg, step, epochs, progress):
    """The rate for update number ``step`` (1-based), ``epochs`` passes done and
    ``progress`` ∈ [0, 1] towards the nearest stop condition."""
    lr = cfg.lr
    if cfg.warmup and step <= cfg.warmup:
        return lr * step / cfg.warmup
    if cfg.lr_schedule == "step":
        return lr * cfg.lr_decay ** math.floor(epochs / cfg.lr_decay_every + 1e-9)
    if cfg.lr_schedule == "cosine":
        min_lr = cfg.min_lr if cfg.min_lr is not None else 0.1 * lr
        p = min(max(progress, 0.0), 1.0)
        return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * p))
    return lr
