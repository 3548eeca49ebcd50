"""Training, written once for every kind of model.

* :mod:`~charlm.training.trainer`: the loop (stop conditions, validation, best-model
  saving, checkpoints, recovery from NaN), which yields events and never prints;
* :mod:`~charlm.training.schedule`: learning-rate schedules;
* :mod:`~charlm.training.defaults`: the language model's dropout default;
* :mod:`~charlm.training.run`: output paths, resume overrides, carried state.
* :mod:`~charlm.training.distributed`: data-parallel training over MPI (several
  processes: one exchange of gradients per step, each rank updating its block of
  the weights); the only module that imports mpi4py.

The loop talks to a model through a small interface: ``params`` (a dict of arrays),
``forward(x, y, mask, state, rng, train)`` → (loss, state, cache),
``backward(cache)`` → grads, ``evaluate(batches)`` → a validation loss,
``num_params()`` and ``chance_loss()``.
"""
