"""The tagging model: word embedding and character features → stacked BiRNN →
softmax per token.

For every token t of a sentence of length T_x (notes, "Bidirectional RNN")::

    x⟨t⟩ = [W_ex w⟨t⟩; χ⟨t⟩]              word embedding; character features of the word
    a→⟨t⟩[l], a←⟨t⟩[l] = BiRNN layer l over [a→[l-1]; a←[l-1]] (layer 1 over x)
    ŷ⟨t⟩ = softmax(W_y [a→⟨t⟩; a←⟨t⟩] + b_y)    top layer, K tags
    L = -(1/#tokens) Σ_t log ŷ⟨t⟩[y⟨t⟩]         padding masked out

χ⟨t⟩ = [a→⟨len⟩; a←⟨1⟩] of a character BiRNN over the word's characters
(:func:`charlm.engine.bidirectional.char_features_forward`). With character language
models (``lm_forward``, ``lm_backward``), x⟨t⟩ = [W_ex w⟨t⟩; χ⟨t⟩; λ⟨t⟩], λ⟨t⟩ their
frozen states at the token (:mod:`charlm.tagger.lmfeatures`), given with the batch.
Dropout is applied to x⟨t⟩, between layers and before W_y in training.

With ``crf`` the softmax is replaced by a linear-chain CRF over the scores
s⟨t⟩ = W_y [a→⟨t⟩; a←⟨t⟩] + b_y (:mod:`charlm.engine.crf`):
p(y | x) ∝ exp(start[y⟨1⟩] + Σ_t s⟨t⟩[y⟨t⟩] + Σ_t trans[y⟨t-1⟩, y⟨t⟩] + end[y⟨T_x⟩]),
L = Σ_sentences −log p(y | x) / #tokens; the transitions the tag scheme forbids are
held at NEG (probability 0) in training and decoding.

Parameters, named after the notes (fw = the a→ direction, bw = a←):

    W_ex            (E, V_w)       word embedding
    char.W_ce       (E_c, V_c)     character embedding
    char.fw.W_ax    (G*H_c, E_c)   character BiRNN, each direction: W_ax, W_aa, b_a
    char.fw.W_aa    (G*H_c, H_c)
    char.fw.b_a     (G*H_c,)
    char.bw.…
    layerL.fw.W_ax  (G*H, D)       D = E + 2 H_c (+ H_f + H_b) for layer 1, 2H above
    layerL.fw.W_aa  (G*H, H)
    layerL.fw.b_a   (G*H,)
    layerL.bw.…
    W_y             (K, 2H)        output projection over [a→; a←]
    b_y             (K,)
    crf.trans       (K, K)         CRF only: score of tag i → tag j
    crf.start       (K,)           CRF only: score of each first tag
    crf.end         (K,)           CRF only: score of each last tag
    W_y2            (K₂, 2H)       joint tagger only: a second softmax over the same a⟨t⟩
    b_y2            (K₂,)
A joint tagger (``n_tags2`` = K₂ > 0) learns two tag sets at once over one encoder:
ŷ₂⟨t⟩ = softmax(W_y2 [a→⟨t⟩; a←⟨t⟩] + b_y2) beside the first layer (softmax or CRF),
L = L₁ + L₂, each a mean over real tokens; its batches carry y as (N, T, 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from charlm.engine.bidirectional import (birnn_backward, birnn_forward, birnn_run,
                                         char_features_backward, char_features_forward,
                                         char_features_run, live_counts)
from charlm.engine.bidirectional import init_params as birnn_init
from charlm.engine.cells import CELLS
from charlm.engine.crf import constrain, crf_backward, crf_forward, crf_marginals, crf_viterbi
from charlm.engine.ops import (affine_backward, affine_forward, dropout_backward,
                               dropout_forward, log_softmax, lookup_backward, lookup_forward,
                               softmax_cross_entropy_backward, softmax_cross_entropy_forward)
from charlm.settings import Settings

DIRECTIONS = ("fw", "bw")


@dataclass
class TaggerConfig(Settings):
    """Shape of a tagger: everything needed to rebuild its parameter dict."""

    n_words: int                # V_w, PAD and UNK included
    n_chars: int                # V_c, PAD and UNK included
    n_tags: int                 # K
    cell: str = "lstm"          # rnn | gru | lstm, for both BiRNNs
    hidden: int = 128           # H per direction of the word BiRNN
    layers: int = 1             # stacked BiRNN layers
    embed: int = 100            # E, word embedding
    char_embed: int = 32        # E_c
    char_hidden: int = 32       # H_c per direction of the character BiRNN
    dropout: float = 0.25       # on the inputs, between layers, before W_y (training only)
    crf: bool = False           # a linear-chain CRF over W_y's scores instead of a softmax
    lm_forward: int = 0         # H_f of a forward character LM's features λ→ (0: none)
    lm_backward: int = 0        # H_b of a backward character LM's features λ← (0: none)
    n_tags2: int = 0            # K₂ of a joint tagger's second softmax, W_y2 (0: none)

    STRICT = True
    WHAT = "tagger settings"

    @property
    def cell_spec(self):
        return CELLS[self.cell]

    @property
    def lm_width(self):
        """H_f + H_b: the width of the character-LM features λ⟨t⟩."""
        return self.lm_forward + self.lm_backward

    def input_width(self, layer):
        if layer > 1:
            return 2 * self.hidden
        return self.embed + 2 * self.char_hidden + self.lm_width

    def param_shapes(self):
        """{name: shape} in a fixed order."""
        cell = self.cell_spec
        shapes = {"W_ex": (self.embed, self.n_words),
                  "char.W_ce": (self.char_embed, self.n_chars)}

        def birnn(prefix, D, H):
            for d in DIRECTIONS:
                shapes[f"{prefix}.{d}.W_ax"] = (cell.width(H), D)
                shapes[f"{prefix}.{d}.W_aa"] = (cell.width(H), H)
                shapes[f"{prefix}.{d}.b_a"] = (cell.width(H),)

        birnn("char", self.char_embed, self.char_hidden)
        for layer in range(1, self.layers + 1):
            birnn(f"layer{layer}", self.input_width(layer), self.hidden)
        shapes["W_y"] = (self.n_tags, 2 * self.hidden)
        shapes["b_y"] = (self.n_tags,)
        if self.crf:
            shapes["crf.trans"] = (self.n_tags, self.n_tags)
            shapes["crf.start"] = (self.n_tags,)
            shapes["crf.end"] = (self.n_tags,)
        if self.n_tags2:
            shapes["W_y2"] = (self.n_tags2, 2 * self.hidden)
            shapes["b_y2"] = (self.n_tags2,)
        return shapes

    def num_params(self):
        return int(sum(np.prod(s) for s in self.param_shapes().values()))


def init_params(config, rng, dtype=np.float32):
    """See :func:`charlm.engine.bidirectional.init_params`; the character BiRNN's
    weights by H_c, the word BiRNN's and W_y by H; CRF transition scores zero."""
    def hidden_of(name):
        return config.char_hidden if name.startswith("char.") else config.hidden

    return birnn_init(config.param_shapes(), config.cell_spec, hidden_of, rng,
                      ("W_ex", "char.W_ce"), dtype)


class TaggerModel:
    """Parameters plus forward/backward over batches of padded sentences.

    ``tags`` and ``decoder`` (optional) let :meth:`evaluate` report entity F1:
    ``decoder(logp (N, T, K), lengths)`` → best tag ids per sentence (softmax taggers).
    ``constraints``: the tag scheme's (allowed (K, K), allowed_start (K,), allowed_end
    (K,)) bool masks (:func:`charlm.tagger.decode.transition_mask`), which a CRF
    tagger's transitions obey in training and decoding; None allows everything."""

    def __init__(self, config, params, tags=None, decoder=None, entities=False,
                 constraints=None, lm=None):
        self.config = config
        self.params = params
        # The frozen character LMs (an LMFeatures), or None: not parameters, never
        # trained; their arrays are stored beside the parameters (:attr:`frozen`).
        self.lm = lm
        self.cell = config.cell_spec
        self.tags = tags
        self.decoder = decoder
        self.entities = entities
        self.constraints = constraints

    @classmethod
    def create(cls, config, rng, dtype=np.float32, **kw):
        return cls(config, init_params(config, rng, dtype), **kw)

    @property
    def dtype(self):
        return self.params["W_y"].dtype

    @property
    def frozen(self):
        """Arrays the file keeps beside the parameters: the character LMs'."""
        return self.lm.arrays() if self.lm else {}

    def lm_features(self, token_lists):
        """λ⟨t⟩ of every token, (len, H_f + H_b) per token list; None without LMs."""
        return self.lm.features(token_lists, self.dtype) if self.lm else None

    def _dir(self, prefix, d):
        p = self.params
        return (p[f"{prefix}.{d}.W_ax"], p[f"{prefix}.{d}.W_aa"], p[f"{prefix}.{d}.b_a"])

    # --- training -------------------------------------------------------------------

    def forward(self, x, y, mask, state=None, rng=None, train=True):
        """Mean cross-entropy per real token of a batch.

        Inputs:
          x: a :class:`~charlm.tagger.data.Batch` (words, characters, lengths).
          y: (N, T) tag ids ((N, T, 2) for a joint tagger: the first layer's, then the
             second's); mask: (N, T) 1 for real tokens, 0 for padding.
          state: ignored (sentences are independent); rng: for dropout.
        Returns: (loss, None, cache).
        """
        h, c_enc = self.encode_forward(x, rng, train)                       # (T, 2H, N)
        if y.ndim == 2:
            loss, c_head = self.head_forward(h, x, y, mask)
            return loss, None, (c_enc, c_head, None)
        # a joint tagger: y (N, T, 2); L = L₁ + L₂, each the mean over real tokens
        loss, c_head = self.head_forward(h, x, y[:, :, 0], mask)
        logits2, c_out2 = affine_forward(h, self.params["W_y2"], self.params["b_y2"])
        loss2, c_loss2 = softmax_cross_entropy_forward(logits2, y[:, :, 1].T, mask.T)
        return loss + loss2, None, (c_enc, c_head, (c_out2, c_loss2))

    def backward(self, cache):
        c_enc, c_head, c_second = cache
        g = {}
        dh = self.head_backward(c_head, g)
        if c_second is not None:
            c_out2, c_loss2 = c_second
            dh2, g["W_y2"], g["b_y2"] = affine_backward(
                softmax_cross_entropy_backward(1.0, c_loss2), c_out2)
            dh = dh + dh2
        self.encode_backward(dh, c_enc, g)
        return {name: g[name] for name in self.params}

    def encode_forward(self, x, rng=None, train=True):
        """Everything below the output layer: [a→⟨t⟩; a←⟨t⟩] of the top BiRNN layer,
        after dropout in training: ((T, 2H, N), cache)."""
        cfg, p = self.config, self.params
        drop = cfg.dropout if train else 0.0
        F, c_char = char_features_forward(self.cell, x.chars, x.char_lengths,
                                          p["char.W_ce"], self._dir("char", "fw"),
                                          self._dir("char", "bw"))        # (2H_c, W)
        cf, c_cf = lookup_forward(F, x.types.T)                            # (T, 2H_c, N)
        e, c_e = lookup_forward(p["W_ex"], x.words.T)                      # (T, E, N)
        h = np.concatenate(self._inputs(e, cf, x), axis=1)                 # (T, D, N)
        caches = []
        for layer in range(1, cfg.layers + 1):
            h, c_drop = dropout_forward(h, drop, rng)
            h, c_bi = birnn_forward(self.cell, h, x.lengths,
                                    self._dir(f"layer{layer}", "fw"),
                                    self._dir(f"layer{layer}", "bw"))      # (T, 2H, N)
            caches.append((c_drop, c_bi))
        h, c_top = dropout_forward(h, drop, rng)
        return h, (c_char, c_cf, c_e, caches, c_top)

    def head_forward(self, h, x, y, mask):
        """The output layer on h (T, 2H, N) and its loss, mean per real token:
        (loss, cache)."""
        p = self.params
        logits, c_out = affine_forward(h, p["W_y"], p["b_y"])              # (T, K, N)
        if self.config.crf:
            # L = Σ_n (log Z_n − score_n(y_n)) / #tokens: per token, like the softmax's
            tokens = float(mask.sum())
            nll, c_crf = crf_forward(logits.transpose(2, 0, 1), y, x.lengths,
                                     *self.transitions())                  # (N, T, K)
            return nll / tokens, (c_out, (c_crf, tokens))
        loss, c_loss = softmax_cross_entropy_forward(logits, y.T, mask.T)
        return loss, (c_out, c_loss)

    def head_backward(self, cache, g):
        """The output layer's gradients into ``g``; returns dL/dh (T, 2H, N)."""
        c_out, c_loss = cache
        if self.config.crf:
            c_crf, tokens = c_loss
            ds, dtrans, dstart, dend = crf_backward(1.0 / tokens, c_crf)
            dlogits = np.ascontiguousarray(ds.transpose(1, 2, 0))           # (T, K, N)
            allowed, allowed_start, allowed_end = self._masks()
            # forbidden entries are replaced by NEG in the forward: no gradient
            g["crf.trans"] = np.where(allowed, dtrans, 0.0)
            g["crf.start"] = np.where(allowed_start, dstart, 0.0)
            g["crf.end"] = np.where(allowed_end, dend, 0.0)
        else:
            dlogits = softmax_cross_entropy_backward(1.0, c_loss)
        dh, g["W_y"], g["b_y"] = affine_backward(dlogits, c_out)
        return dh

    def encode_backward(self, dh, cache, g):
        """The gradients of everything below the output layer into ``g``, from dL/dh."""
        c_char, c_cf, c_e, caches, c_top = cache
        dh = dropout_backward(dh, c_top)
        for layer in range(self.config.layers, 0, -1):
            c_drop, c_bi = caches[layer - 1]
            dh, gf, gb = birnn_backward(dh, c_bi)
            for d, grads in zip(DIRECTIONS, (gf, gb)):
                for name, a in zip(("W_ax", "W_aa", "b_a"), grads):
                    g[f"layer{layer}.{d}.{name}"] = a
            dh = dropout_backward(dh, c_drop)
        E, C = self.config.embed, 2 * self.config.char_hidden
        g["W_ex"] = lookup_backward(dh[:, :E], c_e)
        dF = lookup_backward(np.ascontiguousarray(dh[:, E:E + C]), c_cf)   # (2H_c, W)
        g["char.W_ce"], gf, gb = char_features_backward(dF, c_char)
        for d, grads in zip(DIRECTIONS, (gf, gb)):
            for name, a in zip(("W_ax", "W_aa", "b_a"), grads):
                g[f"char.{d}.{name}"] = a

    # --- inference ---------------------------------------------------------------------

    def char_features(self, chars, lengths):
        """c = [a→⟨len⟩; a←⟨1⟩] of words given as (Tc, W) character ids (longest
        first is fastest): (2H_c, W), forward only."""
        return char_features_run(self.cell, chars, lengths, self.params["char.W_ce"],
                                 self._dir("char", "fw"), self._dir("char", "bw"))

    def _inputs(self, e, cf, x):
        """The parts of x⟨t⟩: (W_ex w, χ) and, with character LMs, λ (T, H_f + H_b, N),
        which the batch carries (:func:`charlm.tagger.data.make_batch`)."""
        if not self.config.lm_width:
            return e, cf
        if x.lm is None:
            raise ValueError("this tagger reads character-LM features: the batch has none")
        return e, cf, x.lm.astype(e.dtype, copy=False)

    def _masks(self):
        K = self.config.n_tags
        if self.constraints is None:
            return np.ones((K, K), bool), np.ones(K, bool), np.ones(K, bool)
        return self.constraints

    def transitions(self):
        """A CRF tagger's (trans (K, K), start (K,), end (K,)) with the scheme's
        forbidden entries at NEG."""
        p = self.params
        return constrain(p["crf.trans"], p["crf.start"], p["crf.end"], *self._masks())

    def scores(self, x, features=None):
        """What decoding maximises, per token, forward only, no dropout: (N, T, K)
        float32/64 — log ŷ⟨t⟩ of a softmax tagger, the emission scores W_y [a→; a←] +
        b_y of a CRF tagger. Rows are in the batch's order (longest first); padding
        rows are meaningless. ``features``: (2H_c, W) character features that
        ``x.types`` indexes, computed beforehand for several batches (else from
        ``x.chars``)."""
        return self.scores_from(self.encode(x, features), x)

    def scores_from(self, h, x):
        """:meth:`scores` from the encoder's output h = :meth:`encode` (T, 2H, N): what
        a joint tagger's two layers share."""
        logits = self._affine(h, x, "W_y", "b_y")                          # (T, K, N)
        if self.config.crf:
            return logits.transpose(2, 0, 1)                               # (N, T, K)
        return log_softmax(logits, axis=1).transpose(2, 0, 1)

    def _affine(self, h, x, W, b):
        return affine_forward(h, self.params[W], self.params[b],
                              live_counts(x.lengths, h.shape[0]))[0]

    def second_layer(self):
        """A joint tagger seen through its second output layer: a softmax tagger of
        the K₂ tags that shares this one's encoder (its arrays, not copies), with
        W_y2, b_y2 as its W_y, b_y."""
        if not self.config.n_tags2:
            raise ValueError("this tagger has one output layer")
        cfg = replace(self.config, n_tags=self.config.n_tags2, n_tags2=0, crf=False)
        renamed = {"W_y": "W_y2", "b_y": "b_y2"}
        params = {k: self.params[renamed.get(k, k)] for k in cfg.param_shapes()}
        return TaggerModel(cfg, params, lm=self.lm)

    def probabilities(self, scores, lengths):
        """p(tag⟨t⟩ = k | sentence) of every token, (N, T, K), from :meth:`scores`: ŷ⟨t⟩
        of a softmax tagger, the marginals of a CRF tagger (forward-backward)."""
        if self.config.crf:
            trans, start, end = (a.astype(np.float64) for a in self.transitions())
            return crf_marginals(scores, lengths, trans, start, end)
        return np.exp(np.asarray(scores, dtype=np.float64))

    def log_probs(self, x, features=None):
        """log p(tag⟨t⟩ = k | sentence) for every token: (N, T, K), rows as in
        :meth:`scores`."""
        s = self.scores(x, features)
        if not self.config.crf:
            return s
        with np.errstate(divide="ignore"):
            return np.log(self.probabilities(s, x.lengths))

    def encode(self, x, features=None):
        """[a→⟨t⟩; a←⟨t⟩] of the top BiRNN layer, forward only, no dropout:
        (T, 2H, N)."""
        cfg, p = self.config, self.params
        F = features if features is not None else self.char_features(x.chars, x.char_lengths)
        cf, _ = lookup_forward(F, x.types.T)                               # (T, 2H_c, N)
        e, _ = lookup_forward(p["W_ex"], x.words.T)                        # (T, E, N)
        h = np.concatenate(self._inputs(e, cf, x), axis=1)
        for layer in range(1, cfg.layers + 1):
            h = birnn_run(self.cell, h, x.lengths, self._dir(f"layer{layer}", "fw"),
                          self._dir(f"layer{layer}", "bw"))
        return h

    def decode(self, logp, lengths):
        """Best tag ids per sentence from :meth:`scores`: Viterbi over the CRF's
        scores, the decoder's (constrained Viterbi for entity tags) or the argmax of
        each token."""
        if self.config.crf:
            return crf_viterbi(logp, lengths, *self.transitions())
        if self.decoder is not None:
            return self.decoder(logp, lengths)
        best = logp.argmax(axis=2)
        return [best[n, :L].tolist() for n, L in enumerate(lengths)]

    # --- what the shared training loop asks of a model -------------------------------

    def num_params(self):
        return self.config.num_params()

    def chance_loss(self):
        """ln K: the loss of a uniform guess over the tags."""
        return math.log(max(self.config.n_tags, 2))

    def evaluate(self, batches):
        """Validation: {"loss", "accuracy"} and, for entity tags, "f1" (entity level,
        exact span and type, after decoding). A joint tagger adds "accuracy2" (its
        second layer's) and "joint", the first layer's F1 (entity tags) or accuracy
        plus accuracy2, which selects its best model. Higher is better."""
        return self.summarize(self.tally(batches.epoch()))

    def tally(self, items):
        """What :meth:`evaluate` adds up over ``items`` (batches (x, y, mask)): the
        summed loss, the tokens, the right tags of each layer and, for entity tags,
        the gold and decoded tag ids of every sentence. Tallies of disjoint
        sentences add up key by key (numbers add, lists join: a data-parallel run's
        workers each tally their sentences)."""
        total = count = correct = correct2 = 0.0
        gold, pred = [], []
        for x, y, mask in items:
            h = self.encode(x)
            y, y2 = (y, None) if y.ndim == 2 else (y[:, :, 0], y[:, :, 1])
            scores = self.scores_from(h, x)                                # (N, T, K)
            if self.config.crf:
                total += crf_forward(scores, y, x.lengths, *self.transitions())[0]
            else:
                picked = np.take_along_axis(scores, y[:, :, None], axis=2)[:, :, 0]
                total -= float((picked * mask).sum(dtype=np.float64))
            if y2 is not None:
                logp2 = log_softmax(self._affine(h, x, "W_y2", "b_y2"), axis=1)  # (T, K₂, N)
                picked = np.take_along_axis(logp2, y2.T[:, None, :], axis=1)[:, 0, :]
                total -= float((picked * mask.T).sum(dtype=np.float64))
                correct2 += float(((logp2.argmax(axis=1) == y2.T) * mask.T).sum())
            count += float(mask.sum())
            paths = self.decode(scores, x.lengths)
            for n, path in enumerate(paths):
                g = y[n, :len(path)]
                correct += int((np.asarray(path) == g).sum())
                if self.entities:
                    gold.append(g.tolist())
                    pred.append(list(path))
        return {"loss": float(total), "tokens": count, "correct": correct,
                "correct2": correct2, "gold": gold, "pred": pred}

    def summarize(self, tally):
        """The metrics of :meth:`evaluate` from a :meth:`tally`."""
        count = max(tally["tokens"], 1.0)
        out = {"loss": tally["loss"] / count, "accuracy": tally["correct"] / count}
        if self.entities:
            from charlm.tagger.evaluate import score

            tags = self.tags
            out["f1"] = score([[tags[i] for i in s] for s in tally["gold"]],
                              [[tags[i] for i in s] for s in tally["pred"]])["entities"]["f1"]
        if self.config.n_tags2:
            out["accuracy2"] = tally["correct2"] / count
            out["joint"] = out["f1" if self.entities else "accuracy"] + out["accuracy2"]
        return out
