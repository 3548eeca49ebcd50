"""Measuring a tagger on a gold file: tag its sentences, score them
(:func:`charlm.tagger.evaluate.score`: accuracy, per-tag and entity-level figures),
and add what the scorer cannot know: the accuracy on words the tagger never saw, and
optionally the accuracy from raw text.

Entity tags are compared in the gold file's own scheme: the tagger's output is
converted to it first (a tagger trained on IOB2 scores on an IO file such as
wikigold). ``drop_types`` turns gold entities of types the tagger does not know
(wikigold's MISC) into O, and ``constrained=False`` decodes with a plain argmax, to
measure what the constrained Viterbi adds.

From raw text (``from_text``): each gold sentence's ``# text =`` line is tokenized as
``charlm tag`` would and tagged; a gold token is scored when a predicted token has
exactly its character span, the others count as misses (so the figure includes
tokenization errors): accuracy = correct aligned tokens / gold tokens.
"""

from __future__ import annotations

import numpy as np

from charlm.errors import CorpusError
from charlm.tagger.data import UNK_ID
from charlm.tagger.evaluate import raw_text_score, score
from charlm.tagger.tagging import tag_stream, tag_tokens
from charlm.text.schemes import SCHEMES, convert, detect_scheme


def _retype(tags, drop_types):
    return ["O" if t != "O" and t[2:] in drop_types else t for t in tags]


def _kinds(tags):
    """Tags without their scheme prefix (B-PER → PER), so that taggers and gold files
    in different entity schemes compare."""
    return {t if t == "O" or "-" not in t[1:] else t.split("-", 1)[1] for t in tags}


def _check_tag_sets(gold, tagger_tags):
    """Refuse a gold file that shares no tag with the tagger (a plain text file read
    as columns, the wrong column): its accuracy would be a meaningless 0%."""
    found = {t for g in gold for t in g}
    if not _kinds(found) & _kinds(tagger_tags):
        shown = ", ".join(sorted(found)[:5]) + (", …" if len(found) > 5 else "")
        raise CorpusError(f"none of the gold file's tags ({shown}) is a tag of this tagger "
                          f"({', '.join(list(tagger_tags)[:5])}, …): is it tagged with the "
                          "same tag set (--tag-column, --tag-col)?")


def evaluate_sentences(model, vocab, tagging, sentences, drop_types=()):
    """Score the tagger on gold ``sentences`` (an iterable of Sentence with tags).
    Returns the scorer's dict plus ``unknown_words`` {tokens, accuracy}."""
    gold, pred, unknown = [], [], []
    for sent, tags in tag_stream(model, vocab, (s for s in sentences if s.tokens)):
        if sent.tags is None:
            raise CorpusError(f"{sent.source}:{sent.line}: the sentence has no gold tags")
        gold.append(list(sent.tags))
        pred.append(tags)
        unknown.append(vocab.encode_words(sent.tokens) == UNK_ID)
    if not gold:
        raise CorpusError("the gold file holds no sentences")
    _check_tag_sets(gold, vocab.tags)
    scheme = tagging.get("scheme")
    gold_scheme = detect_scheme(gold)
    if drop_types:
        gold = [_retype(g, set(drop_types)) for g in gold]
    if scheme in SCHEMES and gold_scheme in SCHEMES and gold_scheme != scheme:
        pred = [convert(p, scheme, gold_scheme) for p in pred]
    result = score(gold, pred)
    unk_total = unk_right = 0
    for g, p, u in zip(gold, pred, unknown):
        unk_total += int(u.sum())
        unk_right += int((np.array([a == b for a, b in zip(g, p)]) & u).sum())
    result["unknown_words"] = {"tokens": unk_total,
                               "accuracy": unk_right / unk_total if unk_total else None}
    return result


def evaluate_from_text(model, vocab, sentences):
    """Accuracy when tagging each gold sentence's raw text (see the module's doc), as
    :func:`charlm.tagger.evaluate.raw_text_score` counts it: {"gold_tokens",
    "aligned", "accuracy_aligned", "accuracy_all"}."""
    from charlm.text.conll import align
    from charlm.text.ud_tokenize import tokenize

    gold_tags, gold_spans, pred_tags, pred_spans = [], [], [], []
    batch = []

    def flush():
        predicted = tag_tokens(model, vocab, [[t for t, _, _ in toks] for toks in batch])
        pred_tags.extend(predicted)
        pred_spans.extend([(s, e) for _, s, e in toks] for toks in batch)
        batch.clear()

    for sent in sentences:
        if not sent.tokens:
            continue
        if sent.text is None:
            raise CorpusError(f"{sent.source}:{sent.line}: no '# text =' line to tag")
        gold_tags.append(sent.tags)
        gold_spans.append(align(sent.tokens, sent.text) or [])
        batch.append(tokenize(sent.text))
        if len(batch) >= 512:
            flush()
    if batch:
        flush()
    return raw_text_score(gold_tags, gold_spans, pred_tags, pred_spans)
