"""``charlm evaluate`` for a classifier: classify a labelled file and report accuracy,
macro-F1, per-class precision/recall/F1 and the confusion matrix (a Rich table on a
terminal, aligned plain text elsewhere, or JSON)."""

import json
import sys

from charlm.cli.common import stdout_is_tty
from charlm.cli.evaluate_cmd import register_evaluator


def evaluate_classifier(gold, model_path, fmt, input_fmt="auto", text_col=None,
                        label_col=None, header=None, encoding_errors="strict"):
    """Classify the labelled lines of GOLD and report the scores."""
    import click

    from charlm.classifier import file as classfile
    from charlm.classifier.evaluate import evaluate_examples
    from charlm.text.labelled import read_labelled

    if input_fmt in ("conllu", "conll"):
        raise click.UsageError(f"--input {input_fmt} is a tagged file's format; a "
                               "classifier reads tsv, csv, fasttext or folder")
    bundle = classfile.load(model_path)
    examples = read_labelled(gold, input_fmt, text_col, label_col, header, encoding_errors)
    result = evaluate_examples(bundle.model, bundle.vocab, bundle.text, examples)
    if fmt == "json":
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    render(result, gold)


def _pct(x):
    return f"{100 * x:.2f}"


def render(r, name):
    from rich.console import Console
    from rich.table import Table

    tty = stdout_is_tty()
    # Off a terminal nothing is cut to 80 columns: the matrix of 20 labels is wider.
    con = Console(highlight=False, soft_wrap=True, force_terminal=tty,
                  color_system="auto" if tty else None, width=None if tty else 1000)
    labels = r["labels"]
    con.print(f"{name}: {r['lines']:,} lines, {len(labels)} labels", markup=False)
    con.print(f"accuracy {_pct(r['accuracy'])}%  macro-F1 {_pct(r['macro_f1'])}  "
              f"weighted F1 {_pct(r['weighted_f1'])}", markup=False)
    if r["unknown_labels"]:
        con.print(f"labels the classifier does not know (always wrong): "
                  f"{', '.join(r['unknown_labels'])}", markup=False)
    if r["multi_label_lines"]:
        con.print(f"{r['multi_label_lines']:,} lines have several labels: any of them "
                  "counts as right", markup=False)
    t = Table("label", "precision", "recall", "F1", "support", box=None, pad_edge=False)
    per = r["per_class"]
    for lab in sorted(labels, key=lambda k: -per[k]["support"]):
        v = per[lab]
        t.add_row(lab, _pct(v["precision"]), _pct(v["recall"]), _pct(v["f1"]),
                  str(v["support"]))
    con.print(t)
    # Rows: the true label; columns: the predicted one (abbreviated to stay narrow).
    m = r["confusion"]
    short = [lab[:5] for lab in labels]
    c = Table("true", *short, box=None, pad_edge=False)
    for col in c.columns[1:]:
        col.justify = "right"
    for i, lab in enumerate(labels):
        c.add_row(lab, *[("·" if v == 0 else str(v)) if tty else str(v) for v in m[i]])
    con.print("confusion matrix (rows: true label, columns: predicted)", markup=False)
    con.print(c)


register_evaluator("classifier", evaluate_classifier,
                   ("input_fmt", "text_col", "label_col", "header", "encoding_errors"))
