"""Tagging with a trained model: decoding, and streaming sentences through it.

Decoding: for POS-style tags each token takes its most probable tag. For entity tags
(IOB1, IOB2, BIOES, IO) the best *valid* sequence is found by Viterbi over the
softmax log-probabilities with the scheme's forbidden transitions removed
(``I-PER`` after ``O`` or ``B-LOC``…), so output spans are always well formed: the
score of a path is Σ_t log ŷ⟨t⟩[tag⟨t⟩], the same product of per-token probabilities
the argmax maximises, restricted to valid paths.

Streaming: :func:`tag_stream` reads sentences lazily, tags them ``chunk`` at a time
(sorted by length inside the chunk so that batches are dense) and yields them back in
input order, so memory is bounded by the chunk, whatever the input's size.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from charlm.tagger.data import encode_forms, make_batch
from charlm.tagger.decode import transition_mask, viterbi
from charlm.text.schemes import SCHEMES

# Sentences read ahead and tagged together; batches of BATCH within them.
CHUNK = 2048
BATCH = 256
FORM_GROUP = 4096      # word forms per run of the character BiRNN
# Longer "sentences" (a whole file on one line, say) are tagged in pieces of this many
# tokens, so memory stays bounded whatever the input. Far above real sentences (EWT's
# longest has 159 tokens); entity decoding stays valid across a cut, since a piece
# never starts inside an entity.
MAX_TOKENS = 512


def make_decoder(tags, scheme, constrained=True):
    """decoder(logp (N, T, K), lengths) → tag ids per sentence, or None (argmax) for
    tags that are not entity tags or when ``constrained`` is off."""
    if not constrained or scheme not in SCHEMES:
        return None
    allowed, start, end = transition_mask(list(tags), scheme)

    def decode(logp, lengths):
        return viterbi(np.asarray(logp, dtype=np.float64), lengths, allowed, start, end)

    return decode


def prepare(model, tags, scheme, constrained=True):
    """Give ``model`` its tags and the scheme's decoding: the constrained decoder of a
    softmax tagger, the transition constraints of a CRF tagger (which always obeys
    them: its transition scores were learned with them). Returns the model."""
    model.tags = list(tags)
    model.entities = scheme in SCHEMES
    crf = model.config.crf
    model.decoder = None if crf else make_decoder(tags, scheme, constrained)
    model.constraints = (transition_mask(list(tags), scheme)
                         if crf and scheme in SCHEMES else None)
    return model


def attach(bundle, constrained=True):
    """The bundle's model, ready to decode its tags."""
    return prepare(bundle.model, bundle.vocab.tags, bundle.tagging.get("scheme"),
                   constrained)


def output_layer(bundle, entities=False):
    """The tagger file ``bundle`` seen through one output layer, as a bundle of its own.

    A joint tagger (two output layers over one BiRNN, ``train-tagger --also-tag``) is
    two taggers in one file: ``entities`` chooses its entity layer (the first);
    otherwise the layer `charlm tag` shows without --entities: the second when the
    first holds entities, else the first. A tagger of one layer is itself; whether it
    tags entities is the caller's question (``tagging["scheme"]``). Raises ValueError
    when ``entities`` asks a joint tagger for an entity layer it does not have."""
    model = bundle.model
    if not model.config.n_tags2:
        return bundle
    first_is_entities = bundle.tagging.get("scheme") in SCHEMES
    if entities and not first_is_entities:
        raise ValueError("this joint tagger has no entity layer")
    if entities or not first_is_entities:
        return bundle
    return second_layer(bundle)


def second_layer(bundle):
    """A joint tagger file's second output layer as a bundle of its own."""
    tagging = dict(bundle.tagging, scheme=None,
                   tag_column=bundle.tagging.get("tag_column2") or "upos")
    return dataclasses.replace(bundle, model=bundle.model.second_layer(),
                               vocab=bundle.vocab.second(), tagging=tagging)


def other_layer(bundle, chosen):
    """The layer of the joint tagger file ``bundle`` that ``chosen`` (one of
    :func:`output_layer`'s answers) is not; None for a tagger of one layer."""
    if not bundle.model.config.n_tags2:
        return None
    return second_layer(bundle) if chosen is bundle else bundle


def form_features(model, vocab, forms, group=FORM_GROUP):
    """Character features of word forms, (2H_c, len(forms)): computed ``group`` forms
    at a time, longest first, so each run of the character BiRNN wastes little on
    padding."""
    chars, lengths, rank = encode_forms(vocab, forms)
    parts = [model.char_features(chars[:lengths[k], k:k + group], lengths[k:k + group])
             for k in range(0, len(forms), group)]
    return np.concatenate(parts, axis=1)[:, rank]


def tag_tokens(model, vocab, token_lists, probs=False, also=None):
    """Tag lists for token lists (all at once, batched by length). Every distinct word
    form's character features are computed once for all of them. A list longer than
    MAX_TOKENS is tagged in pieces and its tags joined.

    ``probs``: return (tags, P) pairs instead, P (len, K) float64 the probability of
    every tag at every token (:meth:`TaggerModel.probabilities`: the softmax's ŷ⟨t⟩,
    or a CRF's marginals). ``also``: the other layer of a joint tagger, (model, tags)
    ready to decode (it shares ``model``'s encoder): return (tags, its tags) pairs,
    both from one pass of the encoder."""
    if probs and also is not None:
        raise ValueError("probabilities are given for one layer")
    if any(len(t) > MAX_TOKENS for t in token_lists):
        pieces, owner = [], []
        for i, t in enumerate(token_lists):
            for k in range(0, max(len(t), 1), MAX_TOKENS):
                pieces.append(t[k:k + MAX_TOKENS])
                owner.append(i)
        parts = [[] for _ in token_lists]
        for i, got in zip(owner, tag_tokens(model, vocab, pieces, probs, also)):
            parts[i].append(got)
        if not probs and also is None:
            return [[tag for p in ps for tag in p] for ps in parts]
        join = (lambda xs: np.concatenate(xs)) if probs else (lambda xs: sum(xs, []))
        return [([tag for tags, _ in ps for tag in tags], join([x for _, x in ps]))
                for ps in parts]
    K = len(vocab.tags)

    def empty():
        if probs:
            return [], np.zeros((0, K))
        return ([], []) if also is not None else []

    out = [empty() for _ in token_lists]
    order = sorted((i for i, t in enumerate(token_lists) if t),
                   key=lambda i: len(token_lists[i]))
    if not order:
        return out
    forms = {}
    tags = vocab.tags
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        lm = model.lm_features([token_lists[i] for i in order])
        batches = [make_batch(vocab, [token_lists[i] for i in order[k:k + BATCH]],
                              order[k:k + BATCH], forms=forms,
                              lm=None if lm is None else lm[k:k + BATCH])[0]
                   for k in range(0, len(order), BATCH)]
        F = form_features(model, vocab, list(forms))
        for batch in batches:
            h = model.encode(batch, F)
            scores = model.scores_from(h, batch)
            P = model.probabilities(scores, batch.lengths) if probs else None
            paths2 = (also[0].decode(also[0].scores_from(h, batch), batch.lengths)
                      if also is not None else None)
            for row, path in enumerate(model.decode(scores, batch.lengths)):
                found = [tags[j] for j in path]
                if probs:
                    found = (found, P[row, :len(path)])
                elif also is not None:
                    found = (found, [also[1][j] for j in paths2[row]])
                out[batch.order[row]] = found
    return out


def tag_stream(model, vocab, sentences, chunk=None, probs=False, also=None):
    """Yield (sentence, tags) for every sentence of an iterable, in input order,
    reading ``chunk`` sentences ahead (default CHUNK); with ``probs`` or ``also``,
    (sentence, (tags, P or the other layer's tags)) as :func:`tag_tokens` gives them."""
    chunk = chunk or CHUNK
    it = iter(sentences)
    while True:
        block = list(itertools.islice(it, chunk))
        if not block:
            return
        tags = tag_tokens(model, vocab, [s.tokens for s in block], probs, also)
        yield from zip(block, tags)
