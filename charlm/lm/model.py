"""The language model: input lookup → stacked recurrent layers → softmax.

For every position t of a window (notes, "Language modelling")::

    x⟨t⟩ = one-hot of the previous token y⟨t-1⟩; x⟨1⟩ = 0 at the start of a line
    a⟨t⟩[1] = cell(a⟨t-1⟩[1], W_ax[1] x⟨t⟩)          (or W_ax[1] W_ex x⟨t⟩ with --embed)
    a⟨t⟩[l] = cell(a⟨t-1⟩[l], W_ax[l] a⟨t⟩[l-1])      for layers l = 2..L
    ŷ⟨t⟩ = softmax(W_ya a⟨t⟩[L] + b_y)
    L = -Σ_t log ŷ⟨t⟩[y⟨t⟩]

EOS has two roles. As a target it ends every line. As an input it marks where a new
line starts, and there the input is the zero vector and the state is reset to
a⟨0⟩ = 0, exactly as the notes' first step. A corpus is therefore one stream
``line₁ EOS line₂ EOS …`` that can be cut into windows anywhere, with no padding.

Parameters live in a ``{name: array}`` dict whose names follow the notes:

    W_ex      (E, V)      embedding, only when config.embed > 0
    layerL.W_aa (G*H, H)    fused recurrent weights of layer L (1-based)
    layerL.W_ax (G*H, D)    fused input weights; D = V, E or H
    layerL.b_a  (G*H,)
    W_ya      (V, H)      output projection
    b_y       (V,)

The stacked matrix of the notes is W_a = [W_aa | W_ax], shape (G*H, H + D).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from charlm.engine.cells import CELLS
from charlm.settings import Settings
from charlm.engine.layers import (OneHotInputs, recurrent_backward, recurrent_forward,
                                  stacked_run, stacked_shapes, zero_state)
from charlm.engine.ops import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    log_softmax,
    lookup_backward,
    lookup_forward,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
)


@dataclass
class ModelConfig(Settings):
    """Shape of a model. Everything needed to rebuild its parameter dict."""

    vocab_size: int          # V, including EOS and UNK
    cell: str = "lstm"       # rnn | gru | lstm
    hidden: int = 128        # H per layer (char-rnn's and torch-rnn's default)
    layers: int = 2          # stacked recurrent layers
    embed: int = 0           # E; 0 feeds the one-hot x⟨t⟩ straight into W_ax, as in the notes
    dropout: float = 0.0     # between layers and before the softmax, training only
    eos_id: int = 0          # the id that ends lines (target) and starts them (input)

    STRICT = True
    WHAT = "model settings"

    @property
    def cell_spec(self):
        return CELLS[self.cell]

    def input_width(self, layer):
        """D of layer ``layer`` (1-based)."""
        if layer > 1:
            return self.hidden
        return self.embed if self.embed else self.vocab_size

    def param_shapes(self):
        """{name: shape} in a fixed order."""
        shapes = stacked_shapes(self.cell_spec, self.hidden, self.layers, self.vocab_size,
                                self.embed)
        shapes["W_ya"] = (self.vocab_size, self.hidden)
        shapes["b_y"] = (self.vocab_size,)
        return shapes

    def num_params(self):
        return int(sum(np.prod(s) for s in self.param_shapes().values()))


def init_params(config, rng, dtype=np.float32):
    """Fresh parameters.

    * Weights that multiply dense vectors (W_aa, W_ax of layers fed by a layer or
      an embedding, W_ya): uniform in ±1/√H, PyTorch's choice for recurrent layers.
    * Tables read by token id (W_ex, and layer 1's W_ax when it takes one-hot x⟨t⟩):
      standard normal. A one-hot x⟨t⟩ has one active input, so the fan-in that
      sets the scale is 1, not V; at ±1/√H the input's share of the gates'
      pre-activation would be ~20x smaller than an embedding's and the model would
      learn far less per update (benchmarks/parity.py: 2.14 vs 1.91 nats after 500
      updates of a 1×128 LSTM).
    * b_a: see :meth:`~charlm.engine.cells.Cell.bias_init`; b_y zero.
    """
    params = {}
    scale = 1.0 / np.sqrt(config.hidden)
    for name, shape in config.param_shapes().items():
        if name == "W_ex" or (name == "layer1.W_ax" and not config.embed):
            w = rng.standard_normal(shape)
        elif name.endswith(".b_a"):
            w = config.cell_spec.bias_init(config.hidden, dtype, rng)
        elif name == "b_y":
            w = np.zeros(shape)
        else:
            w = rng.uniform(-scale, scale, size=shape)
        params[name] = np.ascontiguousarray(w, dtype=dtype)
    # The EOS column is the x⟨1⟩ = 0 input: it is never read, keep it at zero.
    params["W_ex" if config.embed else "layer1.W_ax"][:, config.eos_id] = 0.0
    return params


class LanguageModel:
    """Parameters plus the forward/backward passes over windows of token ids."""

    def __init__(self, config, params):
        self.config = config
        self.params = params
        self.cell = config.cell_spec

    @classmethod
    def create(cls, config, rng, dtype=np.float32):
        return cls(config, init_params(config, rng, dtype))

    @property
    def dtype(self):
        return self.params["W_ya"].dtype

    def initial_state(self, N):
        """One state tuple per layer, all zero: (H, N) columns."""
        return [zero_state(self.cell, N, self.config.hidden, self.dtype)
                for _ in range(self.config.layers)]

    def keep_mask(self, ids):
        """(T, N) 1.0 where the state carries on, 0.0 where a new line starts."""
        return (ids != self.config.eos_id).astype(self.dtype)

    # --- the first layer's input -------------------------------------------------------

    def _input_forward(self, ids, keep):
        """W_ax x⟨t⟩ + b_a of layer 1 for a (T, N) window of ids: (T, G*H, N)."""
        p = self.params
        if self.config.embed:
            e, c_e = lookup_forward(p["W_ex"], ids, keep)               # (T, E, N)
            xp, c_a = affine_forward(e, p["layer1.W_ax"], p["layer1.b_a"])  # (T, G*H, N)
            return xp, (c_e, c_a)
        xp, c_l = lookup_forward(p["layer1.W_ax"], ids, keep)           # (T, G*H, N)
        xp += p["layer1.b_a"][:, None]
        return xp, (c_l,)

    def _input_backward(self, dxp, cache, grads):
        if self.config.embed:
            c_e, c_a = cache
            de, grads["layer1.W_ax"], grads["layer1.b_a"] = affine_backward(dxp, c_a)
            grads["W_ex"] = lookup_backward(de, c_e)
        else:
            (c_l,) = cache
            grads["layer1.W_ax"] = lookup_backward(dxp, c_l)
            grads["layer1.b_a"] = dxp.sum(axis=(0, 2))

    # --- training: loss and gradients --------------------------------------------------

    def forward(self, x, y, mask=None, state=None, rng=None, train=True):
        """Mean cross-entropy over a window.

        Inputs:
          x: (N, T) input ids (the previous token; EOS where a line starts).
          y: (N, T) target ids.
          mask: (N, T) 0/1 or None; 0 marks padding, which adds nothing.
          state: list of per-layer state tuples ((H, N) each) from the previous
            window, or None for zeros.
          rng: np.random.Generator for dropout (needed when train and dropout > 0).
        Returns:
          loss (nats per unmasked token), the final state (to carry on), cache.
        """
        cfg, p = self.config, self.params
        N, T = x.shape
        if state is None:
            state = self.initial_state(N)
        drop = cfg.dropout if train else 0.0
        ids, targets = x.T, y.T                                          # (T, N)
        keep = self.keep_mask(ids)
        xp, c_in = self._input_forward(ids, keep)
        caches, new_state = [], []
        h = None
        for layer in range(1, cfg.layers + 1):
            c_drop = c_aff = None
            if layer > 1:
                h, c_drop = dropout_forward(h, drop, rng)
                xp, c_aff = affine_forward(h, p[f"layer{layer}.W_ax"], p[f"layer{layer}.b_a"])
            h, st, c_rec = recurrent_forward(self.cell, xp, p[f"layer{layer}.W_aa"],
                                             state[layer - 1], keep)      # (T, H, N)
            new_state.append(st)
            caches.append((c_drop, c_aff, c_rec))
        h, c_top = dropout_forward(h, drop, rng)
        logits, c_out = affine_forward(h, p["W_ya"], p["b_y"])            # (T, V, N)
        loss, c_loss = softmax_cross_entropy_forward(
            logits, targets, None if mask is None else mask.T)
        return loss, new_state, (c_in, caches, c_top, c_out, c_loss)

    def backward(self, cache):
        """Gradients of the mean loss, as {name: array} with the params' names."""
        c_in, caches, c_top, c_out, c_loss = cache
        grads = {}
        dlogits = softmax_cross_entropy_backward(1.0, c_loss)
        dh, grads["W_ya"], grads["b_y"] = affine_backward(dlogits, c_out)
        dh = dropout_backward(dh, c_top)
        for layer in range(self.config.layers, 0, -1):
            c_drop, c_aff, c_rec = caches[layer - 1]
            dxp, grads[f"layer{layer}.W_aa"], _ = recurrent_backward(dh, c_rec)
            if layer > 1:
                dh, grads[f"layer{layer}.W_ax"], grads[f"layer{layer}.b_a"] = \
                    affine_backward(dxp, c_aff)
                dh = dropout_backward(dh, c_drop)
            else:
                self._input_backward(dxp, c_in, grads)
        return {name: grads[name] for name in self.params}

    # --- inference: forward only --------------------------------------------------------

    def log_probs(self, x, y, state=None, lengths=None):
        """log ŷ⟨t⟩[y⟨t⟩] for every position, natural log, without dropout and without
        keeping anything for a backward pass.

        Inputs as :meth:`forward`; ``lengths`` (optional, non-increasing) says how
        many positions of each row are real, so steps past a row's end are skipped
        (their results are meaningless). Returns (N, T) float64 log-probabilities and
        the final state (of the rows still going at the last step).
        """
        cfg, p = self.config, self.params
        N, T = x.shape
        if state is None:
            state = self.initial_state(N)
        ids = x.T                                                        # (T, N)
        keep = self.keep_mask(ids)
        live = None
        if lengths is not None:
            lengths = np.asarray(lengths)
            live = [int(np.count_nonzero(lengths > t)) for t in range(T)]
        if cfg.embed:
            xp, _ = self._input_forward(ids, keep)
        else:
            xp = OneHotInputs(p["layer1.W_ax"], p["layer1.b_a"], ids, keep)
        h, new_state = stacked_run(self.cell, p, xp, cfg.layers, state, keep, live)
        logits, _ = affine_forward(h, p["W_ya"], p["b_y"], live)         # (T, V, N)
        logp = log_softmax(logits, axis=1)
        picked = np.take_along_axis(logp, y.T[:, None, :], axis=1)[:, 0, :]   # (T, N)
        return picked.T.astype(np.float64), new_state

    # --- what the shared training loop asks of a model -------------------------------

    def num_params(self):
        return self.config.num_params()

    def chance_loss(self):
        """The loss of a uniform guess, ln V: a mean loss far above it means the
        weights blew up."""
        return math.log(self.config.vocab_size)

    def evaluate(self, batches):
        """Mean loss in nats per token over every window of ``batches`` (forward only,
        the state carried from window to window). Lower is better."""
        return self.summarize(self.tally(batches.epoch()))

    def tally(self, windows):
        """What :meth:`evaluate` adds up over ``windows`` ((x, y, mask) in order, the
        same rows in each): the summed loss and the tokens, as {"loss", "tokens"}.
        Tallies of disjoint rows add up key by key (a data-parallel run's workers
        each tally their rows)."""
        total, count = 0.0, 0.0
        state = None
        for x, y, mask in windows:
            lp, state = self.log_probs(x, y, state)
            if mask is None:
                total -= float(lp.sum(dtype=np.float64))
                count += lp.size
            else:
                total -= float((lp * mask).sum(dtype=np.float64))
                count += float(mask.sum())
        return {"loss": total, "tokens": count}

    @staticmethod
    def summarize(tally):
        """The mean loss per token of a :meth:`tally`."""
        return tally["loss"] / max(tally["tokens"], 1.0)

    def stepper(self):
        """A :class:`Stepper` for token-by-token use (sampling)."""
        return Stepper(self)


class Stepper:
    """One token at a time, for sampling: ``logits, state = step(ids, state)``.

    Built for speed, since sampling cannot batch over time:

    * layer 1's W_ax x + b_a for every token is precomputed as the columns of a
      (G*H, V) table, so its input costs one column gather;
    * every higher layer uses the notes' stacked W_a = [W_aa | W_ax], one product
      W_a [a⟨t-1⟩; a⟨t⟩ of the layer below] per step (RNN and LSTM; the GRU's
      candidate needs Γ_r first, so it keeps two products).
    """

    def __init__(self, model):
        cfg, p = model.config, model.params
        self.model = model
        self.cell = model.cell
        if cfg.embed:
            table = p["layer1.W_ax"] @ p["W_ex"]                         # (G*H, V)
        else:
            table = p["layer1.W_ax"].copy()                               # (G*H, V)
        table[:, cfg.eos_id] = 0.0            # x⟨1⟩ = 0 at the start of a line
        table += p["layer1.b_a"][:, None]
        self.table = np.ascontiguousarray(table)
        self.layers = []
        for l in range(1, cfg.layers + 1):
            W_aa, b_a = p[f"layer{l}.W_aa"], p[f"layer{l}.b_a"][:, None]
            if l == 1:
                self.layers.append((W_aa, None, b_a))
            elif self.cell.activate is not None:
                W_a = np.ascontiguousarray(np.hstack([W_aa, p[f"layer{l}.W_ax"]]))
                self.layers.append((W_a, None, b_a))
            else:
                self.layers.append((W_aa, p[f"layer{l}.W_ax"], b_a))
        self.W_ya, self.b_y = p["W_ya"], p["b_y"][:, None]
        self.eos_id = cfg.eos_id

    def step(self, ids, state):
        """ids: (N,) the previous tokens (EOS = start a new line, state reset).
        Returns logits (V, N), one column per sequence, and the new state."""
        new_state = []
        start = ids == self.eos_id
        keep = (~start).astype(self.table.dtype) if start.any() else None
        h = None
        for layer, (W, W_ax, b_a) in enumerate(self.layers):
            st = state[layer]
            if keep is not None:
                st = tuple(s * keep for s in st)
            if layer == 0:
                xp = np.take(self.table, ids, axis=1)                     # (G*H, N)
                st, _ = self.cell.step_forward(xp, st, W)
            elif W_ax is None:
                z = W @ np.concatenate((st[0], h))                        # W_a [a⟨t-1⟩; h]
                z += b_a
                st, _ = self.cell.activate(z, st)
            else:
                xp = W_ax @ h
                xp += b_a
                st, _ = self.cell.step_forward(xp, st, W)
            h = st[0]
            new_state.append(st)
        logits = self.W_ya @ h                                            # (V, N)
        logits += self.b_y
        return logits, new_state
