"""Scoring text: log-probabilities of given lines under a model (forward only).

Each line is scored from the initial state, a⟨0⟩ = 0 and x⟨1⟩ = 0, with EOS as its
last token (unless ``eos=False``), like KenLM's ``<s> … </s>``:

    log P(line) = Σ_t log ŷ⟨t⟩[y⟨t⟩],  t over the line's tokens and EOS

A token outside the vocabulary is an OOV: it is scored as UNK and counted.

Lines are read as a stream and scored in batches: up to ``batch_lines`` lines are
sorted by length, padded, run together (padding masked out) and handed back in
input order, so memory does not depend on how much input there is. Very long lines
are run in windows with the state carried between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from charlm.text import split_tokens, normalize_text
from charlm.vocab import EOS, EOS_ID

LOG10_E = 1.0 / math.log(10.0)
LOG2_E = 1.0 / math.log(2.0)

# Keep each window's logits (N × T × V floats) under this many elements.
_MAX_LOGITS = 1 << 24


@dataclass
class LineScore:
    """The score of one line. ``logprobs`` are natural logs, one per token."""

    text: str
    tokens: list            # the line's tokens, then "<eos>" when EOS is scored
    logprobs: np.ndarray    # (len(tokens),) float64
    oov: np.ndarray         # (len(tokens),) bool

    @property
    def total(self):
        """log P(line) in nats."""
        return float(self.logprobs.sum())

    @property
    def n_tokens(self):
        return len(self.tokens)

    @property
    def n_oov(self):
        return int(self.oov.sum())

    @property
    def chars(self):
        """Characters scored: the line's characters plus one for its end."""
        return len(self.text) + 1

    @property
    def log10prob(self):
        return self.total * LOG10_E

    @property
    def perplexity(self):
        return perplexity(self.total, self.n_tokens)

    @property
    def bits_per_char(self):
        return -self.total * LOG2_E / self.chars


def perplexity(total_nats, n_tokens):
    """exp(-log P / tokens) = 10^(-log10 P / tokens), as KenLM and SRILM report."""
    if n_tokens == 0:
        return float("nan")
    return float(math.exp(min(-total_nats / n_tokens, 700.0)))


@dataclass
class Summary:
    """Totals over every scored line."""

    lines: int = 0
    tokens: int = 0
    oovs: int = 0
    chars: int = 0
    total: float = 0.0            # nats, OOVs included
    total_oov: float = 0.0        # nats of the OOV tokens alone

    def add(self, s):
        self.lines += 1
        self.tokens += s.n_tokens
        self.oovs += s.n_oov
        self.chars += s.chars
        self.total += s.total
        self.total_oov += float(s.logprobs[s.oov].sum())

    @property
    def perplexity(self):
        return perplexity(self.total, self.tokens)

    @property
    def perplexity_excluding_oovs(self):
        return perplexity(self.total - self.total_oov, self.tokens - self.oovs)

    @property
    def bits_per_token(self):
        return -self.total * LOG2_E / self.tokens if self.tokens else float("nan")

    @property
    def bits_per_char(self):
        return -self.total * LOG2_E / self.chars if self.chars else float("nan")

    def to_dict(self):
        return {
            "lines": self.lines, "tokens": self.tokens, "oovs": self.oovs,
            "chars": self.chars, "logprob": self.total,
            "log10prob": self.total * LOG10_E,
            "perplexity": self.perplexity,
            "perplexity_excluding_oovs": self.perplexity_excluding_oovs,
            "bits_per_token": self.bits_per_token,
            "bits_per_char": self.bits_per_char,
        }


def line_tokens(line, text_cfg):
    return split_tokens(normalize_text(line, text_cfg), text_cfg)


def score_lines(model, vocab, text_cfg, lines, eos=True, batch_lines=256):
    """Yield a :class:`LineScore` for every line of ``lines`` (an iterable of str
    without line ends), in input order."""
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) >= batch_lines:
            yield from _score_batch(model, vocab, text_cfg, batch, eos)
            batch = []
    if batch:
        yield from _score_batch(model, vocab, text_cfg, batch, eos)


def _score_batch(model, vocab, text_cfg, lines, eos):
    encoded = []
    for line in lines:
        toks = line_tokens(line, text_cfg)
        ids, _ = vocab.encode(toks)
        oov = [t not in vocab.index for t in toks]
        if eos:
            toks, ids, oov = toks + [EOS], ids + [EOS_ID], oov + [False]
        encoded.append((toks, np.array(ids, dtype=np.int64), np.array(oov, dtype=bool)))
    order = sorted(range(len(lines)), key=lambda i: -len(encoded[i][1]))
    results = [None] * len(lines)
    # Score lines of similar length together (sorted), in groups small enough that
    # padding stays modest.
    lengths = [len(encoded[i][1]) for i in order]
    logps = _batch_logprobs(model, [encoded[i][1] for i in order], lengths)
    for i, lp in zip(order, logps):
        toks, _, oov = encoded[i]
        results[i] = LineScore(lines[i], toks, lp, oov)
    return results


def _batch_logprobs(model, id_lists, lengths):
    """log-probabilities of each id list scored from the initial state.

    ``id_lists`` must be sorted longest first. Windows of T steps are built one at a
    time, so memory is bounded by the batch size times T, not by the longest line.
    """
    N = len(id_lists)
    out = [np.empty(n) for n in lengths]
    R = max(lengths) if lengths else 0
    V = model.config.vocab_size
    T = max(1, min(256, _MAX_LOGITS // max(1, N * V)))
    state = None
    for t0 in range(0, R, T):
        # Rows are sorted longest first: run only those still going.
        live = sum(1 for n in lengths if n > t0)
        if state is not None and live < len(state[0][0]):
            state = [tuple(s[:live] for s in st) for st in state]
        width = min(T, R - t0)
        x = np.full((live, width), EOS_ID, dtype=np.int64)
        y = np.full((live, width), EOS_ID, dtype=np.int64)
        for r in range(live):
            ids = id_lists[r]
            seg = ids[t0:t0 + width]
            y[r, :len(seg)] = seg
            prev = ids[max(t0 - 1, 0):t0 - 1 + len(seg)] if t0 else ids[:len(seg) - 1]
            x[r, len(seg) - len(prev):len(seg)] = prev
        lp, state = model.log_probs(x, y, state)
        for r in range(live):
            n = min(width, lengths[r] - t0)
            out[r][t0:t0 + n] = lp[r, :n]
    return out
