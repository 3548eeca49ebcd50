"""Central-difference gradient checks in float64 (shared by the gradient tests)."""

import numpy as np


def numerical_grad(f, x, h=1e-5):
    """∂f/∂x by central differences, perturbing ``x`` in place one element at a time."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
        it.iternext()
    return grad


def rel_error(analytic, numeric):
    """max |a - n| / max(|a| + |n|): the worst element relative to the array's scale."""
    assert analytic.shape == numeric.shape, (analytic.shape, numeric.shape)
    scale = np.max(np.abs(analytic) + np.abs(numeric))
    if scale == 0:
        return 0.0
    return float(np.max(np.abs(analytic - numeric)) / scale)


def directional_check(f, params, grads, rng, eps=1e-5):
    """Compare ⟨∇f, u⟩ with (f(θ + εu) - f(θ - εu)) / 2ε for a random unit direction u
    over all parameters at once: two forward passes, whatever the model's size."""
    direction = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    norm = np.sqrt(sum((d * d).sum() for d in direction.values()))
    direction = {k: d / norm for k, d in direction.items()}
    analytic = sum((grads[k] * direction[k]).sum() for k in params)
    saved = {k: v.copy() for k, v in params.items()}
    for k in params:
        params[k][...] = saved[k] + eps * direction[k]
    fp = f()
    for k in params:
        params[k][...] = saved[k] - eps * direction[k]
    fm = f()
    for k in params:
        params[k][...] = saved[k]
    numeric = (fp - fm) / (2 * eps)
    return abs(analytic - numeric) / max(abs(analytic) + abs(numeric), 1e-12)


def model_gradients_error(model, x, y, mask):
    """{name: rel_error} of a model's backward against central differences, every
    parameter, without dropout (``train=False``)."""
    _, _, cache = model.forward(x, y, mask, train=False)
    grads = model.backward(cache)
    f = lambda: model.forward(x, y, mask, train=False)[0]      # noqa: E731
    return {name: rel_error(grads[name], numerical_grad(f, p))
            for name, p in model.params.items()}


def dropout_direction_error(model, x, y, mask, seed=5):
    """:func:`directional_check` of a model in training mode, the same dropout masks
    (rng seed ``seed``) in every forward pass."""
    def f():
        return model.forward(x, y, mask, rng=np.random.default_rng(seed), train=True)[0]

    _, _, cache = model.forward(x, y, mask, rng=np.random.default_rng(seed), train=True)
    return directional_check(f, model.params, model.backward(cache),
                             np.random.default_rng(1))
