"""Scoring predicted tags against gold tags: token accuracy, per-tag precision/recall/F1,
entity-level precision/recall/F1 (exact span and type) and the most confused tag pairs.

:func:`raw_text_score` scores tags on raw text, where the tokens need not be the gold
ones: only the gold tokens whose characters a predicted token covers exactly count.

Entities are counted as conlleval counts them (see :mod:`charlm.text.schemes`): the
spans of :func:`~charlm.text.schemes.spans`, a predicted entity correct when a gold
entity has the same start, end and type. Micro-averaged over all entities, and per type;
precision of nothing predicted is 0 (as conlleval and seqeval report it).
"""

from __future__ import annotations

from collections import Counter

from charlm.errors import InputError
from charlm.text.schemes import detect_scheme, is_entity_tagset, spans

TOP_CONFUSIONS = 20


def prf(correct: int, predicted: int, gold: int) -> dict:
    """Precision, recall and F1 (0 where undefined)."""
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f}


def score(gold: list[list[str]], pred: list[list[str]], scheme: str | None = "auto") -> dict:
    """Compare ``pred`` with ``gold`` (lists of sentences of tags, the same shapes).

    ``scheme``: "auto" scores entities when the gold tags are entity tags (O, X-TYPE);
    None never; a scheme name always. Returns::

        {"tokens": n, "sentences": n, "accuracy": 0-1,
         "per_tag": {tag: {"precision", "recall", "f1", "support"}},
         "entities": {"precision", "recall", "f1", "gold", "predicted", "correct",
                      "per_type": {type: {same keys but per_type}}},   # entity tags only
         "confusions": [[gold, pred, count], ...]}   # most frequent first, at most 20
    """
    if len(gold) != len(pred):
        raise InputError(f"{len(gold)} gold sentences but {len(pred)} predicted ones; "
                         "score the same sentences")
    tokens = correct = 0
    gold_count, pred_count, hit = Counter(), Counter(), Counter()
    confusions = Counter()
    for n, (g_tags, p_tags) in enumerate(zip(gold, pred)):
        if len(g_tags) != len(p_tags):
            raise InputError(f"sentence {n + 1}: {len(g_tags)} gold tags but "
                             f"{len(p_tags)} predicted; tag the same tokens")
        for g, p in zip(g_tags, p_tags):
            gold_count[g] += 1
            pred_count[p] += 1
            if g == p:
                hit[g] += 1
            else:
                confusions[(g, p)] += 1
        tokens += len(g_tags)
    correct = sum(hit.values())
    per_tag = {}
    for tag in sorted(set(gold_count) | set(pred_count)):
        per_tag[tag] = prf(hit[tag], pred_count[tag], gold_count[tag])
        per_tag[tag]["support"] = gold_count[tag]
    top = sorted(confusions.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CONFUSIONS]
    out = {
        "tokens": tokens,
        "sentences": len(gold),
        "accuracy": correct / tokens if tokens else 0.0,
        "per_tag": per_tag,
        "confusions": [[g, p, c] for (g, p), c in top],
    }
    if scheme == "auto":
        scheme = detect_scheme(gold) if is_entity_tagset(gold_count) else None
    if scheme is not None:
        out["entities"] = entity_scores(gold, pred)
    return out


def entity_scores(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """Entity P/R/F1 with exact span and type, micro-averaged and per type."""
    n_gold, n_pred, n_hit = Counter(), Counter(), Counter()
    for g_tags, p_tags in zip(gold, pred):
        g_spans = set(spans(g_tags))
        p_spans = set(spans(p_tags))
        for _, _, t in g_spans:
            n_gold[t] += 1
        for _, _, t in p_spans:
            n_pred[t] += 1
        for _, _, t in g_spans & p_spans:
            n_hit[t] += 1
    total_gold, total_pred, total_hit = (sum(c.values()) for c in (n_gold, n_pred, n_hit))
    out = prf(total_hit, total_pred, total_gold)
    out.update(gold=total_gold, predicted=total_pred, correct=total_hit)
    per_type = {}
    for t in sorted(set(n_gold) | set(n_pred)):
        per_type[t] = prf(n_hit[t], n_pred[t], n_gold[t])
        per_type[t].update(gold=n_gold[t], predicted=n_pred[t], correct=n_hit[t])
    out["per_type"] = per_type
    return out


def matching_tokens(gold_spans, pred_spans) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``: gold token i and predicted token j cover the same characters
    (``(start, end)`` offsets into one text, each list in order)."""
    where = {span: j for j, span in enumerate(pred_spans)}
    return [(i, where[span]) for i, span in enumerate(gold_spans) if span in where]


def raw_text_score(gold_tags, gold_spans, pred_tags, pred_spans) -> dict:
    """Tagging accuracy on raw text, where our tokenizer's tokens need not be the gold
    ones. Per sentence: gold tags with their spans, predicted tags with theirs.

    Returns ``{"gold_tokens", "aligned", "accuracy_aligned", "accuracy_all"}``: the
    share of gold tokens our tokenizer found exactly, accuracy over those, and accuracy
    over all gold tokens counting the ones not found as wrong.
    """
    gold_n = aligned = correct = 0
    for g_tags, g_spans, p_tags, p_spans in zip(gold_tags, gold_spans, pred_tags, pred_spans):
        pairs = matching_tokens(g_spans, p_spans)
        gold_n += len(g_tags)
        aligned += len(pairs)
        correct += sum(g_tags[i] == p_tags[j] for i, j in pairs)
    return {"gold_tokens": gold_n, "aligned": aligned,
            "accuracy_aligned": correct / aligned if aligned else 0.0,
            "accuracy_all": correct / gold_n if gold_n else 0.0}
