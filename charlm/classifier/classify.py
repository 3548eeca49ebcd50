"""Classifying lines with a trained classifier, forward only.

Streaming: :func:`classify_stream` reads lines lazily, classifies them ``chunk`` at a
time (sorted by length inside the chunk so that batches are dense) and yields them
back in input order, so memory is bounded by the chunk whatever the input's size. An
empty line gets no label (it is yielded with none, so output stays line for line).
"""

from __future__ import annotations

import itertools

import numpy as np

from charlm.classifier.data import line_tokens, make_batch

CHUNK = 2048            # lines read ahead
BATCH = 256             # lines per forward pass
BATCH_TOKENS = 16384    # ... and at most this many tokens (long lines go fewer at a time)


def log_probs(model, vocab, text_cfg, texts):
    """log ŷ of each text: (len(texts), K) in input order (all at once, batched by
    length). Texts with no characters get a row of NaN."""
    K = model.config.n_labels
    out = np.full((len(texts), K), np.nan)
    ids = [vocab.encode(line_tokens(t, text_cfg)) if t.strip() else None for t in texts]
    order = sorted((i for i, x in enumerate(ids) if x is not None), key=lambda i: len(ids[i]))
    k = 0
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        while k < len(order):
            n = 1
            longest = len(ids[order[k]])
            while (k + n < len(order) and n < BATCH
                   and (n + 1) * max(longest, len(ids[order[k + n]])) <= BATCH_TOKENS):
                longest = max(longest, len(ids[order[k + n]]))
                n += 1
            group = order[k:k + n]
            grams = model.ngrams.rows([ids[i] for i in group]) if model.ngrams else None
            batch, _ = make_batch([ids[i] for i in group], group, grams)
            out[batch.order] = model.log_probs(batch)
            k += n
    return out


def top_labels(logp_row, labels, k):
    """[(label, probability), ...] of the k most probable labels, best first."""
    if np.isnan(logp_row).any():
        return []
    best = np.argsort(-logp_row, kind="stable")[:k]
    return [(labels[j], float(np.exp(logp_row[j]))) for j in best]


def classify_stream(model, vocab, text_cfg, texts, top_k=1, chunk=None):
    """(text, [(label, probability), ...]) for each text of an iterable, in order."""
    chunk = chunk or CHUNK
    it = iter(texts)
    labels = vocab.labels
    while True:
        block = list(itertools.islice(it, chunk))
        if not block:
            return
        logp = log_probs(model, vocab, text_cfg, block)
        for text, row in zip(block, logp):
            yield text, top_labels(row, labels, top_k)
