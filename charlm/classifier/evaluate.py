"""Measuring a classifier on labelled lines: accuracy, macro-F1, per-class
precision/recall/F1 and the confusion matrix (:mod:`charlm.classifier.metrics`).

A gold label the classifier never learned is kept as a class of its own (every line
of it is an error, and it shows in the table). A fastText line with several labels
counts as right when the prediction is any of them (fastText's P@1); its gold class
in the table is then the predicted one, otherwise its first label.
"""

from __future__ import annotations

from charlm.classifier.classify import CHUNK, log_probs
from charlm.classifier.metrics import scores


def evaluate_examples(model, vocab, text_cfg, examples):
    """The report of ``charlm evaluate`` for a classifier, as a dict."""
    labels = list(vocab.labels)
    index = dict(vocab.label_ids)
    gold, pred = [], []
    multi = 0
    for k in range(0, len(examples), CHUNK):
        block = examples[k:k + CHUNK]
        logp = log_probs(model, vocab, text_cfg, [e.text for e in block])
        for e, row in zip(block, logp):
            p = int(row.argmax())
            multi += len(e.labels) > 1
            g = labels[p] if labels[p] in e.labels else e.labels[0]
            if g not in index:
                index[g] = len(labels)
                labels.append(g)
            gold.append(index[g])
            pred.append(p)
    result = scores(gold, pred, len(labels), labels)
    result["labels"] = labels
    result["unknown_labels"] = labels[len(vocab.labels):]
    result["multi_label_lines"] = multi
    return result
