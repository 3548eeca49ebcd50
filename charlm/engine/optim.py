"""Optimisers that update a ``{name: array}`` parameter dict in place.

Their state is kept under the parameters' own names (``m/layer1.W_aa``, …) so a
checkpoint is just more named arrays next to the weights.

SGD:  θ ← θ - lr · g
Adam: m ← β₁ m + (1-β₁) g;  v ← β₂ v + (1-β₂) g²
      θ ← θ - lr · m̂ / (√v̂ + ε),  m̂ = m / (1-β₁ᵗ),  v̂ = v / (1-β₂ᵗ)
"""

from __future__ import annotations

import numpy as np


class SGD:
    name = "sgd"

    def __init__(self, params, lr):
        self.lr = lr
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        for k, g in grads.items():
            params[k] -= self.lr * g

    def state_arrays(self):
        return {}

    def load_state_arrays(self, arrays, t):
        self.t = t


class Adam:
    name = "adam"

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params, grads):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        # Fold both bias corrections into one step size (Kingma & Ba, section 2).
        step = self.lr * np.sqrt(1.0 - b2 ** self.t) / (1.0 - b1 ** self.t)
        for k, g in grads.items():
            m, v = self.m[k], self.v[k]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            denom = np.sqrt(v)
            denom += self.eps
            params[k] -= (step * m) / denom

    def state_arrays(self):
        out = {f"m/{k}": a for k, a in self.m.items()}
        out.update({f"v/{k}": a for k, a in self.v.items()})
        return out

    def load_state_arrays(self, arrays, t):
        for k in self.m:
            self.m[k][...] = arrays[f"m/{k}"]
            self.v[k][...] = arrays[f"v/{k}"]
        self.t = t


OPTIMIZERS = {"adam": Adam, "sgd": SGD}
