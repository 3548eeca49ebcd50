"""Sampling text from a model (notes, "Sampling sequences from the model").

K samples advance together as a batch. At every step each sample's next token is
drawn from the model's distribution, shaped in this order:

1. temperature: ŷ ∝ exp(logits / T) (T → 0 approaches the argmax);
2. top-k: only the k most likely tokens stay;
3. top-p (nucleus): only the smallest set of the most likely tokens whose
   probability adds up to at least p stays;

and renormalised. ``greedy`` takes the most likely token instead of drawing.

UNK is never emitted: the notes reject a sampled UNK and draw again. Redrawing until
the draw is not UNK gives exactly the distribution with UNK's probability set to zero
and the rest renormalised, so that is what is drawn from, in one draw. A sample of a
line model ends at EOS (or after ``length`` tokens, or after the ``stop`` text); it is
never empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from charlm.errors import CharlmError, UsageError
from charlm.text.tokens import Detokenizer, key_join, line_key, reading_order, tokenize
from charlm.text.vocab import EOS_ID, UNK_ID


@dataclass
class Piece:
    """One event of sample ``index``: a token (with its log-probability at temperature
    1 when asked for), or its end (``end`` True, ``reason`` eos | length | stop, and
    the log-probability of EOS when it ended there)."""

    index: int
    token: str | None
    end: bool = False
    logprob: float | None = None
    reason: str | None = None


@dataclass
class Sample:
    """A finished sample."""

    index: int
    tokens: list = field(default_factory=list)
    logprobs: list = field(default_factory=list)
    reason: str | None = None
    eos_logprob: float | None = None


def encode_prime(prime, vocab, text_cfg):
    """Prime text → (token ids, tokens that are not in the vocabulary)."""
    toks = tokenize(prime, text_cfg)
    if text_cfg.split == "lines" and "\n" in toks:
        raise UsageError("the prime spans several lines, but this model was trained "
                         "with --split lines, one line per sample")
    # A backward model's prime is the end of the line, read right to left.
    ids, _ = vocab.encode(reading_order(toks, text_cfg))
    unknown = [t for t in toks if t not in vocab.index]
    return ids, unknown


def prime_logprobs(model, prime_ids):
    """log P of each prime token given the tokens before it (natural log)."""
    if not len(prime_ids):
        return []
    ids = np.array(prime_ids, dtype=np.int64)
    x = np.concatenate(([EOS_ID], ids[:-1]))[None, :]
    lp, _ = model.log_probs(x, ids[None, :])
    return lp[0].tolist()


def sample(model, vocab, text_cfg, num_samples=1, length=200, temperature=1.0, top_k=None,
           top_p=None, greedy=False, allow_unk=False, prime_ids=(), stop=None, rng=None,
           logprobs=False):
    """Yield :class:`Piece` events as tokens are drawn, samples interleaved.

    Each sample starts from a⟨0⟩ = 0 with x⟨1⟩ = 0, reads ``prime_ids`` (which are not
    yielded again), then draws up to ``length`` tokens. With ``logprobs`` every piece
    carries the token's log-probability under the model at temperature 1 (the number
    `charlm score` would give it), whatever shaping the draw used.
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
    lines = text_cfg.split == "lines"
    banned = [] if allow_unk else [UNK_ID]
    if not lines:
        banned.append(EOS_ID)         # a stream model never ends a sample by itself
    detoks = [Detokenizer(text_cfg) for _ in range(K)] if stop else None
    tails = [""] * K
    active = np.ones(K, dtype=bool)
    for i in range(length):
        logits, state = stepper.step(prev, state)                        # (V, K)
        # Training lines are never empty, so neither is a sample: no EOS first.
        first = i == 0 and lines and not len(prime_ids)
        nxt = draw(logits, rng, temperature, top_k, top_p, greedy,
                   banned + [EOS_ID] if first else banned)
        lps = token_logprobs(logits, nxt) if logprobs else None
        for k in np.flatnonzero(active):
            lp = None if lps is None else float(lps[k])
            if lines and nxt[k] == EOS_ID:
                active[k] = False
                yield Piece(int(k), None, end=True, logprob=lp, reason="eos")
                continue
            tok = vocab.tokens[nxt[k]]
            yield Piece(int(k), tok, logprob=lp)
            if stop:
                tails[k] = (tails[k] + detoks[k].feed(tok))[-4 * len(stop):]
                if tails[k].endswith(stop):
                    active[k] = False
                    yield Piece(int(k), None, end=True, reason="stop")
        prev = nxt
        if not active.any():
            return
    for k in np.flatnonzero(active):
        yield Piece(int(k), None, end=True, reason="length")


def token_logprobs(logits, ids):
    """log softmax(logits)[ids] per column: (V, K) logits, (K,) ids → (K,)."""
    z = logits.astype(np.float64)
    z -= z.max(axis=0)
    logz = np.log(np.exp(z).sum(axis=0))
    return z[ids, np.arange(len(ids))] - logz


def draw(logits, rng, temperature=1.0, top_k=None, top_p=None, greedy=False, banned=()):
    """One token per column of ``logits`` (V, K), shaped as the module docstring says,
    never a banned id. Returns (K,) int ids.

    Computed in float64 so that a low temperature cannot overflow exp.
    """
    z = logits.astype(np.float64)
    if banned:
        z[list(banned)] = -np.inf
    if greedy:
        return z.argmax(axis=0)
    if temperature != 1.0:
        z /= temperature
    V = z.shape[0]
    if top_k is not None and top_k < V:
        kth = -np.partition(-z, top_k - 1, axis=0)[top_k - 1]           # k-th largest
        z[z < kth] = -np.inf
    z -= z.max(axis=0)
    p = np.exp(z, out=z)                  # unnormalised: the cdf's last row is the total
    if top_p is not None and top_p < 1.0:
        p /= p.sum(axis=0)
        order = np.argsort(-p, axis=0)                                   # most likely first
        sorted_p = np.take_along_axis(p, order, axis=0)
        before = np.cumsum(sorted_p, axis=0) - sorted_p                  # mass above each
        # Already reached p without this token (with a little slack for rounding, so
        # that tokens summing to exactly p count as reaching it).
        drop = before >= top_p - 1e-9
        np.put_along_axis(p, order, np.where(drop, 0.0, sorted_p), axis=0)
    cdf = np.cumsum(p, axis=0, out=p)                                    # (V, K)
    u = rng.random(cdf.shape[1])
    u *= cdf[-1]
    idx = (cdf <= u).sum(axis=0)
    return np.minimum(idx, V - 1)


def in_order(pieces, num_samples):
    """Re-order interleaved pieces so that sample 0 comes out whole, then sample 1, …

    The lowest unfinished sample streams through as it is drawn; later samples wait
    in a buffer until every sample before them has ended. Yields the pieces in that
    order (each sample's pieces in order, its end piece last).
    """
    buffers = [[] for _ in range(num_samples)]
    done = [False] * num_samples
    current = 0
    for piece in pieces:
        k = piece.index
        if k != current:
            buffers[k].append(piece)
            done[k] = done[k] or piece.end
            continue
        yield piece
        if not piece.end:
            continue
        current += 1
        # Catch up with the samples drawn meanwhile; stream the first unfinished one.
        while current < num_samples:
            yield from buffers[current]
            buffers[current] = []
            if not done[current]:
                break
            current += 1


def collect(pieces, num_samples):
    """Finished :class:`Sample` objects, in the order they finish."""
    samples = [Sample(k) for k in range(num_samples)]
    for p in pieces:
        s = samples[p.index]
        if p.end:
            s.reason = p.reason
            if p.reason == "eos":
                s.eos_logprob = p.logprob
            yield s
        else:
            s.tokens.append(p.token)
            s.logprobs.append(p.logprob)


def sample_texts(model, vocab, text_cfg, num_samples, length, temperature=1.0, rng=None,
                 prime_ids=()):
    """Whole samples as strings (detokenized), in order."""
    out = [None] * num_samples
    pieces = sample(model, vocab, text_cfg, num_samples=num_samples, length=length,
                    temperature=temperature, prime_ids=prime_ids, rng=rng)
    for s in collect(pieces, num_samples):
        d = Detokenizer(text_cfg)
        out[s.index] = "".join(d.feed(t) for t in reading_order(s.tokens, text_cfg))
    return out


# --- novel samples -----------------------------------------------------------------------

# The model-file array holding the sorted hashes of the training corpus's lines.
NOVEL_ARRAY = "novel/line_hashes"


def novel_samples(model, vocab, text_cfg, num_samples, known, max_tries=None, **kwargs):
    """Yield ``num_samples`` finished samples whose text is not a training line (its hash
    is not in the sorted array ``known``) and not repeated, drawing batches until enough
    are found. Raises CharlmError when the model keeps reproducing its corpus."""
    seen = set()
    found = 0
    tries = 0
    max_tries = max_tries or 100 * num_samples + 1000
    prime = list(kwargs.pop("prime_ids", ()))
    prime_toks = vocab.decode(prime)
    while found < num_samples:
        batch = min(max(2 * (num_samples - found), 16), 1024)
        pieces = sample(model, vocab, text_cfg, num_samples=batch, prime_ids=prime, **kwargs)
        for s in collect(pieces, batch):
            tries += 1
            key = line_key(reading_order(prime_toks + s.tokens, text_cfg),
                           key_join(text_cfg))
            i = np.searchsorted(known, np.uint64(key))
            if (i < len(known) and known[i] == key) or key in seen:
                continue
            seen.add(key)
            s.index = found
            found += 1
            yield s
            if found == num_samples:
                return
        if tries >= max_tries:
            raise CharlmError(
                f"found only {found} novel samples in {tries} tries: the model mostly "
                "reproduces its training lines; try a higher --temperature")
