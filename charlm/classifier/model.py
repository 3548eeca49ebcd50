"""The classifier: token embedding → stacked (Bi)RNN → pooling over the line → one
softmax per line (many-to-one, :mod:`charlm.engine.encoder`).

For a line x⟨1⟩ … x⟨T_x⟩ (characters or words)::

    e⟨t⟩ = W_ex x⟨t⟩                                   token embedding
    a→⟨t⟩[l], a←⟨t⟩[l] = (Bi)RNN layer l over layer l-1 (layer 1 over e)
    h = pool(a⟨1⟩ … a⟨T_x⟩)     last: [a→⟨T_x⟩; a←⟨1⟩]; max, mean over t ≤ T_x
    ŷ = softmax(W_y h + b_y)                           K labels
    L = -(1/N) Σ_n log ŷ_n[y_n]

Dropout is applied to e⟨t⟩, between layers and to h in training.

With an n-gram part (``ngrams`` > 0, :mod:`charlm.classifier.ngrams`), g is the
line's tf-idf n-gram vector and the answer is

    ŷ = softmax(½ (W_y h + b_y) + ½ (W_g g + b_g))

W_g and b_g are fitted on their own before the recurrent part trains, and L above
trains the recurrent part alone: two models that make different mistakes, joined as
the normalised geometric mean of their distributions.

Parameters, named after the notes (fw = the a→ direction, bw = a←):

    W_ex            (E, V)         token embedding (column 0: padding)
    layerL.fw.W_ax  (G*H, D)       D = E for layer 1, 2H (H unidirectional) above
    layerL.fw.W_aa  (G*H, H)
    layerL.fw.b_a   (G*H,)
    layerL.bw.…                    bidirectional only
    W_y             (K, F)         F = (pooling modes) × 2H (× H unidirectional)
    b_y             (K,)

and, fixed while the parameters train, the n-gram part's ngram.W_g (K, M),
ngram.b_g (K,) and ngram.idf (M,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from charlm.engine.bidirectional import init_params as birnn_init
from charlm.engine.cells import CELLS
from charlm.engine.linear import sparse_affine_forward
from charlm.engine.encoder import (POOLS, head_backward, head_forward, layer_backward,
                                   layer_forward, layer_run, pool_backward, pool_forward,
                                   pool_run)
from charlm.engine.ops import (dropout_backward, dropout_forward, log_softmax,
                               lookup_backward, lookup_forward,
                               softmax_cross_entropy_backward, softmax_cross_entropy_forward)
from charlm.errors import UsageError
from charlm.settings import Settings


def parse_pool(text):
    """'last+max' → ('last', 'max'); each mode once, in POOLS order."""
    modes = [m.strip() for m in str(text).replace(",", "+").split("+") if m.strip()]
    if not modes or any(m not in POOLS for m in modes) or len(set(modes)) != len(modes):
        raise UsageError(f"pooling {text!r}: give one or more of {', '.join(POOLS)} "
                         "joined by + (last+max)")
    return tuple(m for m in POOLS if m in modes)


@dataclass
class ClassifierConfig(Settings):
    """Shape of a classifier: everything needed to rebuild its parameter dict."""

    n_tokens: int               # V, PAD and UNK included
    n_labels: int               # K
    cell: str = "lstm"          # rnn | gru | lstm
    hidden: int = 128           # H per direction
    layers: int = 1             # stacked layers
    embed: int = 100            # E
    bidirectional: bool = True  # a← next to a→ (the notes' BRNN)
    # What of the states reaches the softmax, see parse_pool. max: on dev, after 150 s
    # of training (one thread), max 85.78% SST-2 / 79.55% names, last 84.29 / 78.06,
    # last+max 84.29 / 78.17 (benchmarks/classify.py has the 10-minute figures).
    # train-classifier's default at character level is max+mean (with the n-gram part
    # beside it, about the same dev accuracy on the names as max; see the command).
    pool: str = "max"
    dropout: float = 0.5        # on embeddings, between layers and on h (training only)
    # The longest n-gram of the n-gram part (charlm.classifier.ngrams); 0: none, and
    # ŷ = softmax(W_y h + b_y) alone.
    ngrams: int = 0

    STRICT = True
    WHAT = "classifier settings"

    @property
    def cell_spec(self):
        return CELLS[self.cell]

    @property
    def directions(self):
        return ("fw", "bw") if self.bidirectional else ("fw",)

    @property
    def modes(self):
        return parse_pool(self.pool)

    @property
    def state_width(self):
        return len(self.directions) * self.hidden

    def input_width(self, layer):
        return self.embed if layer == 1 else self.state_width

    def feature_width(self):
        return len(self.modes) * self.state_width

    def param_shapes(self):
        """{name: shape} in a fixed order."""
        cell, H = self.cell_spec, self.hidden
        shapes = {"W_ex": (self.embed, self.n_tokens)}
        for layer in range(1, self.layers + 1):
            for d in self.directions:
                shapes[f"layer{layer}.{d}.W_ax"] = (cell.width(H), self.input_width(layer))
                shapes[f"layer{layer}.{d}.W_aa"] = (cell.width(H), H)
                shapes[f"layer{layer}.{d}.b_a"] = (cell.width(H),)
        shapes["W_y"] = (self.n_labels, self.feature_width())
        shapes["b_y"] = (self.n_labels,)
        return shapes

    def num_params(self):
        return int(sum(np.prod(s) for s in self.param_shapes().values()))


def init_params(config, rng, dtype=np.float32):
    """As the tagger's (:func:`charlm.engine.bidirectional.init_params`)."""
    return birnn_init(config.param_shapes(), config.cell_spec, lambda name: config.hidden,
                      rng, ("W_ex",), dtype)


class ClassifierModel:
    """Parameters plus forward/backward over batches of padded lines."""

    def __init__(self, config, params, labels=None, ngrams=None):
        self.config = config
        self.params = params
        self.cell = config.cell_spec
        self.modes = config.modes
        self.labels = labels
        # The n-gram part (an NgramPart) or None: fitted before the recurrent part
        # trains and fixed since; its arrays are stored beside the parameters.
        self.ngrams = ngrams

    @classmethod
    def create(cls, config, rng, dtype=np.float32, **kw):
        return cls(config, init_params(config, rng, dtype), **kw)

    @property
    def dtype(self):
        return self.params["W_y"].dtype

    @property
    def frozen(self):
        """Arrays the file keeps beside the parameters: the n-gram part's."""
        return self.ngrams.arrays() if self.ngrams else {}

    def _dir(self, layer, d):
        p = self.params
        return (p[f"layer{layer}.{d}.W_ax"], p[f"layer{layer}.{d}.W_aa"],
                p[f"layer{layer}.{d}.b_a"])

    def _dirs(self, layer):
        fw = self._dir(layer, "fw")
        return fw, (self._dir(layer, "bw") if self.config.bidirectional else None)

    # --- training -------------------------------------------------------------------

    def forward(self, x, y, mask=None, state=None, rng=None, train=True):
        """Mean cross-entropy per line of a batch.

        Inputs:
          x: a :class:`~charlm.classifier.data.Batch` (ids (N, T), lengths (N,)).
          y: (N,) label ids. mask, state: unused (lines are independent).
        Returns: (loss, None, cache).
        """
        cfg, p = self.config, self.params
        drop = cfg.dropout if train else 0.0
        h, c_e = lookup_forward(p["W_ex"], x.ids.T)                     # (T, E, N)
        caches = []
        for layer in range(1, cfg.layers + 1):
            h, c_drop = dropout_forward(h, drop, rng)
            h, c_l = layer_forward(self.cell, h, x.lengths, *self._dirs(layer))  # (T, D, N)
            caches.append((c_drop, c_l))
        half = cfg.hidden if cfg.bidirectional else None
        f, c_pool = pool_forward(h, x.lengths, self.modes, half)          # (F, N)
        f, c_top = dropout_forward(f, drop, rng)
        z, c_head = head_forward(f, p["W_y"], p["b_y"])                   # (K, N)
        loss, c_loss = softmax_cross_entropy_forward(z[None], np.asarray(y)[None])
        return loss, None, (c_e, caches, c_pool, c_top, c_head, c_loss)

    def backward(self, cache):
        c_e, caches, c_pool, c_top, c_head, c_loss = cache
        g = {}
        dz = softmax_cross_entropy_backward(1.0, c_loss)[0]                # (K, N)
        df, g["W_y"], g["b_y"] = head_backward(dz, c_head)
        df = dropout_backward(df, c_top)
        dh = pool_backward(df, c_pool)                                    # (T, D, N)
        for layer in range(self.config.layers, 0, -1):
            c_drop, c_l = caches[layer - 1]
            dh, grads = layer_backward(dh, c_l)
            for d, gd in zip(self.config.directions, grads):
                for name, a in zip(("W_ax", "W_aa", "b_a"), gd):
                    g[f"layer{layer}.{d}.{name}"] = a
            dh = dropout_backward(dh, c_drop)
        g["W_ex"] = lookup_backward(dh, c_e)
        return {name: g[name] for name in self.params}

    # --- inference ---------------------------------------------------------------------

    def log_probs(self, x):
        """log ŷ of every line of a batch, forward only, no dropout: (N, K), rows in
        the batch's order (longest first). With an n-gram part, ŷ = softmax(½ (W_y h
        + b_y) + ½ (W_g g + b_g)): the normalised geometric mean of the two parts'
        distributions; the batch must then carry the lines' n-grams (``x.grams``)."""
        cfg, p = self.config, self.params
        h, _ = lookup_forward(p["W_ex"], x.ids.T)                         # (T, E, N)
        for layer in range(1, cfg.layers + 1):
            h = layer_run(self.cell, h, x.lengths, *self._dirs(layer))
        half = cfg.hidden if cfg.bidirectional else None
        f = pool_run(h, x.lengths, self.modes, half)                      # (F, N)
        z, _ = head_forward(f, p["W_y"], p["b_y"])                        # (K, N)
        if self.ngrams is not None:
            if x.grams is None:
                raise ValueError("this classifier has an n-gram part: batches need the "
                                 "lines' n-grams")
            z_g, _ = sparse_affine_forward(self.ngrams.W_g, self.ngrams.b_g, x.grams)
            z = 0.5 * z + 0.5 * z_g
        return log_softmax(z, axis=0).T                                   # (N, K)

    # --- what the shared training loop asks of a model -------------------------------

    def num_params(self):
        return self.config.num_params()

    def chance_loss(self):
        """ln K: the loss of a uniform guess over the labels."""
        return math.log(max(self.config.n_labels, 2))

    def evaluate(self, batches):
        """Validation: {"loss", "accuracy", "macro_f1"}; higher accuracy is better."""
        return self.summarize(self.tally(batches.epoch()))

    def tally(self, items):
        """What :meth:`evaluate` adds up over ``items`` (batches (x, y, mask)): the
        summed loss and the gold and predicted label of every line. Tallies of
        disjoint lines add up key by key (numbers add, lists join)."""
        total, gold, pred = 0.0, [], []
        for x, y, _ in items:
            logp = self.log_probs(x)                                      # (N, K)
            total -= float(np.take_along_axis(logp, y[:, None], axis=1).sum(dtype=np.float64))
            gold.extend(int(v) for v in y)
            pred.extend(int(v) for v in logp.argmax(axis=1))
        return {"loss": total, "gold": gold, "pred": pred}

    def summarize(self, tally):
        """The metrics of :meth:`evaluate` from a :meth:`tally`."""
        from charlm.classifier.metrics import scores

        gold = tally["gold"]
        s = scores(gold, tally["pred"], self.config.n_labels)
        return {"loss": tally["loss"] / max(len(gold), 1), "accuracy": s["accuracy"],
                "macro_f1": s["macro_f1"]}
