"""Defaults of ``charlm train`` beyond the learning rate (:mod:`.schedule`), here so
that the command line can show them without importing NumPy or a model."""

# Dropout between the layers and before the softmax. On whole plays that the model
# never saw (Romeo and Juliet held out of tinyshakespeare, the 2x256 LSTM for 3,000
# updates: benchmarks/lm_recipe.py), 0.2 reached 1.568 nats/char where no dropout
# stopped improving at 1.615; without it the validation loss of a ten-minute run
# turns up after half the budget.
DEFAULT_DROPOUT = 0.2
