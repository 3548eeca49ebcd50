"""Optimisers that update a ``{name: array}`` parameter dict in place.

Their state is kept under the parameters' own names (``m/layer1.W_aa``, …) so a
checkpoint is just more named arrays next to the weights.

SGD:  θ ← θ - lr · g
Adam: m ← β₁ m + (1-β₁) g;  v ← β₂ v + (1-β₂) g²
      θ ← θ - lr · m̂ / (√v̂ + ε),  m̂ = m / (1-β₁ᵗ),  v̂ = v / (1-β₂ᵗ)

Either may also keep an exponential moving average of the weights it produces
(``average`` = δ, 0 for none), read back bias-corrected like Adam's moments:

      θ̄ ← δ θ̄ + (1-δ) θ,   θ̂ = θ̄ / (1-δᵗ)

so that θ̂ is a weighted mean of the last ≈ 1/(1-δ) steps' weights. Evaluating and
saving θ̂ instead of θ smooths out the noise of the last updates (Polyak averaging).
It is kept as ``avg/…`` beside the moments.
"""

from __future__ import annotations

import math

import numpy as np


class _Averaging:
    """The moving average of the weights, for both optimisers."""

    def _init_average(self, params, average):
        if not 0.0 <= average < 1.0:
            raise ValueError("the average's decay must be in [0, 1)")
        self.average = average
        self.params = params
        self.avg = {k: np.zeros_like(v) for k, v in params.items()} if average else {}
        self._buffers = {}

    def _update_average(self, params):
        d = self.average
        for k, a in self.avg.items():
            scaled = self._scratch(a, 0)
            np.multiply(params[k], 1.0 - d, out=scaled)
            a *= d
            a += scaled

    def _scratch(self, like, i):
        """Scratch array i (0 or 1) shaped like ``like``: the updates run in place on
        two buffers the size of the largest parameter, allocated once, instead of a
        fresh temporary per operation and parameter (measured on the tagger's 1.1M
        parameters: Adam with averaging about 6 ms a step before, 3.5 ms after)."""
        key = (like.dtype, i)
        buf = self._buffers.get(key)
        if buf is None or buf.size < like.size:
            size = max(v.size for v in self.params.values())
            buf = self._buffers[key] = np.empty(max(size, like.size), dtype=like.dtype)
        return buf[:like.size].reshape(like.shape)

    def averaged(self):
        """θ̂ for every parameter (None without averaging or before the first step)."""
        if not self.avg or self.t == 0:
            return None
        scale = 1.0 / (1.0 - self.average ** self.t)
        return {k: a * scale for k, a in self.avg.items()}

    def _average_arrays(self):
        return {f"avg/{k}": a for k, a in self.avg.items()}

    def _load_average(self, arrays, t):
        # A run that starts averaging on resume starts from the current weights: the
        # stored sum that the bias correction turns back into θ.
        for k, a in self.avg.items():
            a[...] = arrays.get(f"avg/{k}", self.params[k] * (1.0 - self.average ** t))


class SGD(_Averaging):
    name = "sgd"

    def __init__(self, params, lr, average=0.0):
        self.lr = lr
        self.t = 0
        self._init_average(params, average)

    def fresh(self, params):
        """A new optimiser of this kind and settings over other parameters."""
        return SGD(params, self.lr, self.average)

    def step(self, params, grads):
        self.t += 1
        for k, g in grads.items():
            delta = self._scratch(g, 0)
            np.multiply(g, self.lr, out=delta)
            params[k] -= delta
        self._update_average(params)

    def state_arrays(self):
        return self._average_arrays()

    def load_state_arrays(self, arrays, t):
        self.t = t
        self._load_average(arrays, t)


class Adam(_Averaging):
    name = "adam"

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8, average=0.0):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self._init_average(params, average)

    def fresh(self, params):
        """A new optimiser of this kind and settings over other parameters."""
        return Adam(params, self.lr, self.beta1, self.beta2, self.eps, self.average)

    def step(self, params, grads):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        # Fold both bias corrections into one step size (Kingma & Ba, section 2). A
        # Python float, so that the update stays in the parameters' dtype.
        step = float(self.lr * math.sqrt(1.0 - b2 ** self.t) / (1.0 - b1 ** self.t))
        for k, g in grads.items():
            m, v = self.m[k], self.v[k]
            t, u = self._scratch(g, 0), self._scratch(g, 1)
            np.multiply(g, 1.0 - b1, out=t)
            m *= b1
            m += t                              # m ← β₁ m + (1-β₁) g
            np.multiply(g, g, out=t)
            t *= 1.0 - b2
            v *= b2
            v += t                              # v ← β₂ v + (1-β₂) g²
            np.sqrt(v, out=t)
            t += self.eps                       # √v + ε
            np.multiply(m, step, out=u)
            u /= t
            params[k] -= u                      # θ ← θ - step · m / (√v + ε)
        self._update_average(params)

    def state_arrays(self):
        out = {f"m/{k}": a for k, a in self.m.items()}
        out.update({f"v/{k}": a for k, a in self.v.items()})
        out.update(self._average_arrays())
        return out

    def load_state_arrays(self, arrays, t):
        for k in self.m:
            self.m[k][...] = arrays[f"m/{k}"]
            self.v[k][...] = arrays[f"v/{k}"]
        self.t = t
        self._load_average(arrays, t)


OPTIMIZERS = {"adam": Adam, "sgd": SGD}
