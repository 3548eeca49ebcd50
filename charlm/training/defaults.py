"""Defaults of ``charlm train`` beyond the learning rate (:mod:`.schedule`), here so
that the command line can show them without importing NumPy or a model."""

# Dropout between the layers and before the softmax. On whole plays that the model
# never saw (Romeo and Juliet held out of tinyshakespeare, the 2x256 LSTM for 3,000
# updates: benchmarks/lm_recipe.py), 0.2 reached 1.568 nats/char where no dropout
# stopped improving at 1.615; without it the validation loss of a ten-minute run
# turns up after half the budget.
DEFAULT_DROPOUT = 0.2

# Rows (N) and window (T) of truncated BPTT when --batch-size and --seq-len are not
# given. On a corpus large enough for an epoch of at least 64 updates of 64 × 128
# tokens, 64 rows of 128 steps learn more per minute: on whole plays held out of
# tinyshakespeare (benchmarks/lm_recipe.py --split works, ten minutes, one thread)
# they scored The Tempest at 1.654 nats/char against 1.692 for 32 × 64, with the same
# validation loss on Romeo and Juliet (1.568 vs 1.570). A small corpus keeps 32 × 64,
# which gives it four times the updates (the bundled names: 16 an epoch instead of 4).
SMALL_BATCH = (32, 64)
LARGE_BATCH = (64, 128)
LARGE_FROM_TOKENS = 64 * LARGE_BATCH[0] * LARGE_BATCH[1]


def default_batch(train_tokens):
    """(N, T) for a training part of ``train_tokens`` tokens."""
    return LARGE_BATCH if train_tokens >= LARGE_FROM_TOKENS else SMALL_BATCH
