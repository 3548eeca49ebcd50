"""Scoring text: log-probabilities of given lines under a model (forward only).

Two framings, chosen to match how the model was trained:

* **lines** (the default for ``--split lines`` models): each line is scored from the
  initial state, a⟨0⟩ = 0 and x⟨1⟩ = 0, with its end-of-line token last, like
  KenLM's ``<s> … </s>``:  log P(line) = Σ_t log ŷ⟨t⟩[y⟨t⟩].
  For a line model the end is EOS; for a stream model forced into lines it is the
  newline token, the only line end that model knows.
* **stream** (the default for ``--split none`` models): the input is one text, as
  the model was trained. Each line's score is the log-probability of its tokens and
  its newline given *all the text before it*; the state is carried from line to line.

A token outside the vocabulary is an OOV: it is scored as UNK and counted.

Lines are read lazily. In lines framing up to ``batch_lines`` lines are sorted by
length, padded, run together (padding masked out) and handed back in input order; in
stream framing lines are gathered into windows of about ``window`` tokens. Memory
therefore does not depend on the input's size. Very long lines run in windows with
the state carried between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from charlm.text.tokens import NEWLINE, normalize_text, reading_order, split_tokens
from charlm.text.vocab import EOS, EOS_ID

LOG10_E = 1.0 / math.log(10.0)
LOG2_E = 1.0 / math.log(2.0)

# Keep each window's logits (N × T × V floats) under this many elements.
_MAX_LOGITS = 1 << 24


@dataclass
class LineScore:
    """The score of one line. ``logprobs`` are natural logs, one per token."""

    text: str
    tokens: list            # the line's tokens, then its end token when scored
    ids: np.ndarray         # (len(tokens),) vocabulary ids (UNK for OOVs)
    logprobs: np.ndarray    # (len(tokens),) float64
    oov: np.ndarray         # (len(tokens),) bool
    context: int = 0        # tokens read before this line (stream framing)
    ended: bool = True      # whether the line's end was scored

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
        return len(self.text) + (1 if self.ended else 0)

    @property
    def log10prob(self):
        return self.total * LOG10_E

    @property
    def perplexity(self):
        return perplexity(self.total, self.n_tokens)

    @property
    def bits_per_char(self):
        return -self.total * LOG2_E / self.chars

    def surprisals(self):
        """Bits per token: -log2 p."""
        return -self.logprobs * LOG2_E


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
    """A line's tokens in the order the model reads them (right to left for a
    backward model)."""
    return reading_order(split_tokens(normalize_text(line, text_cfg), text_cfg), text_cfg)


class Scorer:
    """Scores lines with a model, in the framing it was trained with unless told.

    ``split``: None (the model's own), "lines" or "none". ``eos``: score each line's
    end token. ``unbuffered``: answer every line as soon as it is read.
    """

    def __init__(self, model, vocab, text_cfg, split=None, eos=True, batch_lines=256,
                 window=1024, unbuffered=False, progress=None):
        self.model, self.vocab, self.text = model, vocab, text_cfg
        # Called with the number of tokens scored after every window (a display).
        self.progress = progress
        split = split or text_cfg.split
        # A line model reads a stream exactly as it reads lines: EOS resets the state.
        self.stream = split == "none" and text_cfg.split == "none"
        self.eos = eos
        self.batch_lines = 1 if unbuffered else batch_lines
        self.window = 1 if unbuffered else window
        if text_cfg.split == "lines":
            self.end_token, self.end_id = EOS, EOS_ID
        else:
            self.end_token = NEWLINE
            self.end_id = vocab.index.get(NEWLINE, EOS_ID)

    @property
    def framing(self):
        return "stream" if self.stream else "lines"

    def _encode(self, line, end=None):
        toks = line_tokens(line, self.text)
        ids, _ = self.vocab.encode(toks)
        oov = [t not in self.vocab.index for t in toks]
        if self.eos if end is None else end:
            toks, ids, oov = toks + [self.end_token], ids + [self.end_id], oov + [False]
        return toks, np.array(ids, dtype=np.int64), np.array(oov, dtype=bool)

    def score(self, lines):
        """Yield a :class:`LineScore` for every line (str without its line end)."""
        if self.stream:
            return self._score_stream(lines)
        return self._score_lines(lines)

    # --- independent lines -------------------------------------------------------------

    def _score_lines(self, lines):
        batch = []
        for line in lines:
            batch.append(line)
            if len(batch) >= self.batch_lines:
                yield from self._score_batch(batch)
                batch = []
        if batch:
            yield from self._score_batch(batch)

    def _score_batch(self, lines):
        encoded = [self._encode(line) for line in lines]
        order = sorted(range(len(lines)), key=lambda i: -len(encoded[i][1]))
        lengths = [len(encoded[i][1]) for i in order]
        logps = _batch_logprobs(self.model, [encoded[i][1] for i in order], lengths,
                                self.progress)
        results = [None] * len(lines)
        for i, lp in zip(order, logps):
            toks, ids, oov = encoded[i]
            results[i] = LineScore(lines[i], toks, ids, lp, oov, ended=self.eos)
        return results

    # --- one stream ----------------------------------------------------------------------

    def _score_stream(self, lines):
        state = None
        prev = EOS_ID                      # the stream starts like a line: x⟨1⟩ = 0
        pending, n_pending = [], 0
        context = 0
        for line in lines:
            # The newline is always read (it is part of the text the model sees);
            # without eos it is just not counted.
            enc = self._encode(line, end=True)
            pending.append((line, enc))
            n_pending += len(enc[1])
            if n_pending >= self.window:
                out, state, prev, context = self._run_stream(pending, state, prev, context)
                yield from out
                pending, n_pending = [], 0
        if pending:
            out, state, prev, context = self._run_stream(pending, state, prev, context)
            yield from out

    def _run_stream(self, pending, state, prev, context):
        ids = np.concatenate([enc[1] for _, enc in pending]) if pending else np.zeros(0, int)
        results = []
        if len(ids):
            x = np.concatenate(([prev], ids[:-1]))[None, :]
            y = ids[None, :]
            lps = []
            T = max(1, _MAX_LOGITS // max(1, self.model.config.vocab_size))
            for t0 in range(0, len(ids), T):
                lp, state = self.model.log_probs(x[:, t0:t0 + T], y[:, t0:t0 + T], state)
                lps.append(lp[0])
                if self.progress is not None:
                    self.progress(lp.shape[1])
            lp = np.concatenate(lps)
            prev = int(ids[-1])
        pos = 0
        for line, (toks, line_ids, oov) in pending:
            n = len(line_ids)
            k = n if self.eos else n - 1          # without eos: leave the newline out
            results.append(LineScore(line, toks[:k], line_ids[:k], lp[pos:pos + k], oov[:k],
                                     context, ended=self.eos))
            pos += n
            context += n
        return results, state, prev, context


def score_lines(model, vocab, text_cfg, lines, eos=True, batch_lines=256, split=None):
    """Score ``lines`` (an iterable of str without line ends); see :class:`Scorer`."""
    return Scorer(model, vocab, text_cfg, split=split, eos=eos,
                  batch_lines=batch_lines).score(lines)


def _batch_logprobs(model, id_lists, lengths, progress=None):
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
        if state is not None and live < state[0][0].shape[1]:
            state = [tuple(s[:, :live] for s in st) for st in state]
        width = min(T, R - t0)
        x = np.full((live, width), EOS_ID, dtype=np.int64)
        y = np.full((live, width), EOS_ID, dtype=np.int64)
        for r in range(live):
            ids = id_lists[r]
            seg = ids[t0:t0 + width]
            y[r, :len(seg)] = seg
            prev = ids[max(t0 - 1, 0):t0 - 1 + len(seg)] if t0 else ids[:len(seg) - 1]
            x[r, len(seg) - len(prev):len(seg)] = prev
        row_lengths = [min(width, n - t0) for n in lengths[:live]]
        lp, state = model.log_probs(x, y, state, lengths=row_lengths)
        for r in range(live):
            n = min(width, lengths[r] - t0)
            out[r][t0:t0 + n] = lp[r, :n]
        if progress is not None:
            progress(sum(row_lengths))
    return out
