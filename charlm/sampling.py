"""Sampling text from a model (notes, "Sampling sequences from the model").

K samples advance together as a batch. At every step each row's distribution is
ŷ = softmax(logits / temperature); a token is drawn from it and fed back as the next
input. A row stops at EOS (``--split lines``) or after ``length`` tokens.

UNK is never emitted: the notes reject a sampled UNK and draw again. Redrawing until
the draw is not UNK gives exactly the distribution with UNK's probability set to zero
and the rest renormalised, so that is what is drawn from, in one draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlm.errors import UsageError
from charlm.text import tokenize
from charlm.vocab import EOS_ID, UNK_ID


@dataclass
class Piece:
    """One sampled token of sample ``index`` (``end`` marks the sample's end)."""

    index: int
    token: str | None
    end: bool = False


def encode_prime(prime, vocab, text_cfg):
    """Prime text → (token ids, tokens that are not in the vocabulary)."""
    toks = tokenize(prime, text_cfg)
    if text_cfg.split == "lines" and "\n" in toks:
        raise UsageError("the prime spans several lines, but this model was trained "
                         "with --split lines, one line per sample")
    ids, _ = vocab.encode(toks)
    unknown = [t for t in toks if t not in vocab.index]
    return ids, unknown


def sample(model, vocab, text_cfg, num_samples=1, length=200, temperature=1.0,
           prime_ids=(), rng=None):
    """Yield :class:`Piece` objects as tokens are drawn, rows interleaved.

    Each sample starts from a⟨0⟩ = 0 with x⟨1⟩ = 0, reads ``prime_ids`` (which are not
    yielded again), then draws up to ``length`` tokens. Without a prime, EOS cannot
    be the first draw: training lines are never empty, so neither is a sample.
    """
    if rng is None:
        rng = np.random.default_rng()
    K = num_samples
    stepper = model.stepper()
    state = model.initial_state(K)
    prev = np.full(K, EOS_ID, dtype=np.int64)
    for tok in prime_ids:
        _, state = stepper.step(prev, state)
        prev = np.full(K, tok, dtype=np.int64)
    banned = [UNK_ID]
    lines = text_cfg.split == "lines"
    if not lines:
        banned.append(EOS_ID)         # a stream model never ends a sample by itself
    active = np.ones(K, dtype=bool)
    for i in range(length):
        logits, state = stepper.step(prev, state)
        # Training lines are never empty, so neither is a sample: no EOS first.
        first = i == 0 and lines and not len(prime_ids)
        nxt = draw(logits, temperature, rng, banned + [EOS_ID] if first else banned)
        for k in np.flatnonzero(active):
            if lines and nxt[k] == EOS_ID:
                active[k] = False
                yield Piece(int(k), None, end=True)
            else:
                yield Piece(int(k), vocab.tokens[nxt[k]])
        prev = nxt
        if not active.any():
            return
    for k in np.flatnonzero(active):
        yield Piece(int(k), None, end=True)


def draw(logits, temperature, rng, banned=()):
    """One draw per row from softmax(logits / temperature), never a banned id.

    logits: (K, V). Returns (K,) int ids. Computed in float64 so that a low
    temperature cannot overflow exp.
    """
    z = logits.astype(np.float64) / temperature
    for b in banned:
        z[:, b] = -np.inf
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    cdf = np.cumsum(p, axis=1)
    u = rng.random(len(z)) * cdf[:, -1]
    idx = (cdf <= u[:, None]).sum(axis=1)
    return np.minimum(idx, z.shape[1] - 1)


def in_order(pieces, num_samples):
    """Re-order interleaved pieces so that sample 0 comes out whole, then sample 1, …

    The lowest unfinished sample streams through as it is drawn; later samples wait
    in a buffer until every sample before them has ended. Yields
    (index, token or None at the end).
    """
    buffers = [[] for _ in range(num_samples)]
    done = [False] * num_samples
    current = 0
    for piece in pieces:
        k = piece.index
        if k != current:
            if piece.end:
                done[k] = True
            else:
                buffers[k].append(piece.token)
            continue
        if not piece.end:
            yield k, piece.token
            continue
        yield k, None
        current += 1
        # Catch up with the samples drawn meanwhile; stream the first unfinished one.
        while current < num_samples:
            for tok in buffers[current]:
                yield current, tok
            buffers[current] = []
            if not done[current]:
                break
            yield current, None
            current += 1


def sample_texts(model, vocab, text_cfg, num_samples, length, temperature=1.0, rng=None,
                 prime_ids=()):
    """Whole samples as strings (detokenized), in order."""
    from charlm.text import Detokenizer

    pieces = sample(model, vocab, text_cfg, num_samples=num_samples, length=length,
                    temperature=temperature, prime_ids=prime_ids, rng=rng)
    out = [[] for _ in range(num_samples)]
    detoks = [Detokenizer(text_cfg) for _ in range(num_samples)]
    for p in pieces:
        if not p.end:
            out[p.index].append(detoks[p.index].feed(p.token))
    return ["".join(o) for o in out]
