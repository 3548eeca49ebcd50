"""How well a classifier does: accuracy, per-class precision/recall/F1, their macro
average and the confusion matrix (rows: the true class, as scikit-learn's).

Macro-F1 is the plain mean of the classes' F1, so a rare class counts as much as a
common one: on an unbalanced set (the names: Russian is 47%) accuracy alone flatters
a model that mostly answers the majority class. A class with no prediction has
precision 0 (not undefined), and one absent from the gold labels is left out of the
macro average (it has no recall to speak of)."""

from __future__ import annotations

import numpy as np


def confusion(gold, pred, K):
    """(K, K) counts; [i, j] = lines of class i predicted as j."""
    m = np.zeros((K, K), dtype=np.int64)
    np.add.at(m, (np.asarray(gold, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return m


def scores(gold, pred, K, labels=None):
    """{"accuracy", "macro_f1", "weighted_f1", "lines", "per_class": {label: {precision,
    recall, f1, support, predicted}}, "confusion": (K, K) list} of label ids."""
    m = confusion(gold, pred, K)
    n = int(m.sum())
    correct = np.diag(m).astype(np.float64)
    support = m.sum(axis=1)
    predicted = m.sum(axis=0)
    precision = np.divide(correct, predicted, out=np.zeros(K), where=predicted > 0)
    recall = np.divide(correct, support, out=np.zeros(K), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(K), where=denom > 0)
    present = support > 0
    labels = labels if labels is not None else [str(k) for k in range(K)]
    per_class = {labels[k]: {"precision": float(precision[k]), "recall": float(recall[k]),
                             "f1": float(f1[k]), "support": int(support[k]),
                             "predicted": int(predicted[k])} for k in range(K)}
    return {
        "lines": n,
        "accuracy": float(correct.sum() / n) if n else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "weighted_f1": float((f1 * support).sum() / n) if n else 0.0,
        "per_class": per_class,
        "confusion": m.tolist(),
    }
