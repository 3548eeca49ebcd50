"""Character-LM features: what a language model read up to a word tells the tagger
(Akbik et al. 2018, "contextual string embeddings").

A sentence's tokens are joined by single spaces into one line of characters
c_1 … c_n, normalised as the language model was trained (Unicode form, case). A
forward character LM reads it left to right from x⟨1⟩ = 0, as it reads any line; its
top layer's state after the token's last character, a→⟨e⟩, has seen the token and
everything to its left. A backward LM (``charlm train --reverse``) reads the line
right to left; its state after the token's first character, a←⟨s⟩, has seen the token
and everything to its right. For every token t::

    λ⟨t⟩ = [a→⟨end of t⟩; a←⟨start of t⟩]        (H_f + H_b values)

and the tagger's input becomes x⟨t⟩ = [W_ex w⟨t⟩; χ⟨t⟩; λ⟨t⟩]. The language models
are frozen: nothing of them is trained with the tagger, so the features of a sentence
never change and those of the training set are computed once. The tagger's file holds
both language models (their weights, settings, characters and text settings), so it
runs on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlm.engine.cells import CELLS
from charlm.engine.layers import OneHotInputs, stacked_run, stacked_shapes, zero_state
from charlm.errors import UsageError
from charlm.settings import Settings
from charlm.text.tokens import normalize_text

DIRECTIONS = ("fw", "bw")
# Sentences run through a language model at once (sorted by length), and the most
# characters of one sentence-line: longer lines are cut into pieces that start afresh.
GROUP = 128
MAX_CHARS = 4096


@dataclass
class LMShape(Settings):
    """What the tagger needs of a language model's settings to run it."""

    vocab_size: int
    cell: str = "lstm"
    hidden: int = 128
    layers: int = 2
    embed: int = 0
    dropout: float = 0.0
    eos_id: int = 0

    STRICT = False          # a language model's settings hold more (dropout …)
    WHAT = "language-model settings"

    def param_shapes(self):
        """The arrays the tagger keeps of the language model: all but its softmax."""
        return stacked_shapes(CELLS[self.cell], self.hidden, self.layers, self.vocab_size,
                              self.embed)


class CharLM:
    """One frozen character language model, run forward only for its states.

    ``shape``: :class:`LMShape`; ``params``: its arrays (:meth:`LMShape.param_shapes`);
    ``tokens``: its vocabulary, id → character (0 EOS, 1 UNK); ``text``: its
    :class:`~charlm.text.tokens.TextConfig` (``reverse`` says the direction)."""

    def __init__(self, shape, params, tokens, text):
        self.shape, self.params, self.tokens, self.text = shape, params, list(tokens), text
        self.cell = CELLS[shape.cell]
        self.index = {c: i for i, c in enumerate(self.tokens)}
        p = params
        table = p["layer1.W_ax"] @ p["W_ex"] if shape.embed else p["layer1.W_ax"]
        self._table = np.ascontiguousarray(table)                         # (G*H, V)

    @classmethod
    def from_model(cls, model, vocab, text, path):
        """From a language model file's parts, checking that it can give features."""
        if text.level != "char" or text.graphemes:
            raise UsageError(f"{path}: is a {text.level}-level language model"
                             f"{' of grapheme clusters' if text.graphemes else ''}; "
                             "tagger features need a character-level one (`charlm train "
                             "--level char`)")
        shape = LMShape.from_dict(model.config.to_dict())
        params = {name: np.array(model.params[name]) for name in shape.param_shapes()}
        return cls(shape, params, vocab.tokens, text)

    @property
    def width(self):
        return self.shape.hidden

    @property
    def backward(self):
        return self.text.reverse

    def header(self):
        """What the tagger file's header keeps of this language model."""
        return {"model": self.shape.to_dict(), "chars": self.tokens,
                "text": self.text.to_dict()}

    def _line(self, tokens):
        """(ids in reading order, EOS first (T,), the position of each token's state)."""
        get = self.index.get
        chars, ends, starts = [], [], []
        for k, tok in enumerate(tokens):
            if k:
                chars.append(" ")
            starts.append(len(chars))
            chars.extend(normalize_text(tok, self.text))
            ends.append(len(chars))        # state after c_end is at position end (EOS at 0)
        n = len(chars)
        if self.backward:
            ids = [get(c, 1) for c in reversed(chars)]
            where = [n - s for s in starts]   # c_s is read at position n - s (0-based s)
        else:
            ids = [get(c, 1) for c in chars]
            where = ends
        return np.array([self.shape.eos_id] + ids, dtype=np.int64), np.array(where)

    def features(self, token_lists):
        """λ of this direction for every token: a list of (len, H) float arrays, one per
        token list, in order."""
        lines = []
        for tokens in token_lists:
            # A sentence longer than MAX_CHARS characters is read in pieces of tokens.
            pieces, piece, size = [], [], 0
            for tok in tokens:
                if piece and size + len(tok) + 1 > MAX_CHARS:
                    pieces.append(piece)
                    piece, size = [], 0
                piece.append(tok[:MAX_CHARS - 1])
                size += len(piece[-1]) + 1
            pieces.append(piece)
            lines.append([self._line(p) for p in pieces])
        flat = [item for ls in lines for item in ls]
        states = self._run([ids for ids, _ in flat])
        out, k = [], 0
        for ls in lines:
            parts = []
            for _, where in ls:
                parts.append(states[k][where])
                k += 1
            out.append(np.concatenate(parts) if parts else np.zeros((0, self.width)))
        return out

    def _run(self, id_lists):
        """Top-layer states a⟨t⟩ of every line, (T, H) each, forward only, GROUP lines
        of similar length at a time."""
        order = sorted(range(len(id_lists)), key=lambda i: -len(id_lists[i]))
        out = [None] * len(id_lists)
        dtype = self._table.dtype
        for g in range(0, len(order), GROUP):
            rows = order[g:g + GROUP]
            lengths = np.array([len(id_lists[i]) for i in rows])
            T, N = int(lengths[0]), len(rows)
            ids = np.full((T, N), self.shape.eos_id, dtype=np.int64)
            for col, i in enumerate(rows):
                ids[:lengths[col], col] = id_lists[i]
            keep = (ids != self.shape.eos_id).astype(dtype)
            live = [int(np.count_nonzero(lengths > t)) for t in range(T)]
            state = [zero_state(self.cell, N, self.shape.hidden, dtype)
                     for _ in range(self.shape.layers)]
            xp = OneHotInputs(self._table, self.params["layer1.b_a"], ids, keep)
            h, _ = stacked_run(self.cell, self.params, xp, self.shape.layers, state, keep,
                               live)                                         # (T, H, N)
            for col, i in enumerate(rows):
                out[i] = np.ascontiguousarray(h[:lengths[col], :, col])
        return out


class LMFeatures:
    """The forward and/or backward language model of a tagger: λ⟨t⟩ for token lists."""

    def __init__(self, forward=None, backward=None):
        self.models = {d: m for d, m in zip(DIRECTIONS, (forward, backward)) if m is not None}

    def __bool__(self):
        return bool(self.models)

    def widths(self):
        """(H_f, H_b): 0 for a missing direction."""
        return tuple(self.models[d].width if d in self.models else 0 for d in DIRECTIONS)

    def features(self, token_lists, dtype=np.float32):
        """(len, H_f + H_b) per token list."""
        parts = [self.models[d].features(token_lists) for d in DIRECTIONS if d in self.models]
        return [np.concatenate([p[i] for p in parts], axis=1).astype(dtype, copy=False)
                for i in range(len(token_lists))]

    def header(self):
        return {d: m.header() for d, m in self.models.items()}

    def arrays(self):
        """The language models' arrays as the tagger file stores them: lm.fw.NAME …"""
        return {f"lm.{d}.{name}": a for d, m in self.models.items()
                for name, a in m.params.items()}

    @staticmethod
    def array_shapes(parsed):
        """{array name: shape} the tagger file holds for ``parsed``, the (LMShape,
        characters, TextConfig) of each direction read from its header."""
        return {f"lm.{d}.{name}": s for d, (shape, _, _) in parsed.items()
                for name, s in shape.param_shapes().items()}

    @classmethod
    def rebuild(cls, parsed, arrays):
        models = {}
        for d, (shape, chars, text) in parsed.items():
            params = {name: arrays.pop(f"lm.{d}.{name}") for name in shape.param_shapes()}
            models[d] = CharLM(shape, params, chars, text)
        return cls(models.get("fw"), models.get("bw"))
