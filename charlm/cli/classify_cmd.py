"""``charlm classify``: read lines lazily, classify them in batches, write one answer
per input line in input order."""

import json
import os
import sys

import click

from charlm.cli.common import encoding_errors_option
from charlm.cli.completion import complete_model

CLASSIFIER_ENV = "CHARLM_CLASSIFIER"
DEFAULT_CLASSIFIER = "classifier.npz"
OUTPUTS = ("tsv", "jsonl", "text")


def classifier_option(f):
    return click.option(
        "-m", "--model", "model_path", type=click.Path(dir_okay=False),
        shell_complete=complete_model,
        help=f"Classifier file (default: ${CLASSIFIER_ENV}, then ./{DEFAULT_CLASSIFIER}).")(f)


def load_classifier(path):
    from charlm.classifier import file as classfile

    return classfile.load(path or os.environ.get(CLASSIFIER_ENV) or DEFAULT_CLASSIFIER)


def format_answer(text, top, fmt):
    """One output line (with its newline) for one input line and its top labels."""
    if fmt == "jsonl":
        rec = {"text": text, "label": top[0][0] if top else None,
               "probability": round(top[0][1], 6) if top else None}
        if len(top) > 1:
            rec["top"] = [{"label": lab, "probability": round(p, 6)} for lab, p in top]
        return json.dumps(rec, ensure_ascii=False) + "\n"
    if fmt == "text":
        return " ".join(lab for lab, _ in top) + "\n"
    cells = [f"{lab}\t{p:.4f}" for lab, p in top] or ["\t"]
    return "\t".join(cells) + "\t" + text + "\n"


@click.command()
@click.argument("file", default="-", type=click.Path(allow_dash=True, dir_okay=False))
@classifier_option
@click.option("-k", "--top-k", type=click.IntRange(1), default=1, show_default=True,
              help="Give the K most probable labels of each line, best first, with their "
                   "probabilities.")
@click.option("--format", "fmt", type=click.Choice(OUTPUTS), default="tsv",
              show_default=True,
              help="tsv: label<TAB>probability (K pairs) then the line; jsonl: one JSON "
                   "object per line (text, label, probability, and top with K > 1); text: "
                   "the labels alone, separated by spaces (fastText's predict).")
@encoding_errors_option
def classify(file, model_path, top_k, fmt, encoding_errors):
    """Label each line of FILE (default: standard input) with a classifier.

    One answer per input line, in input order; an empty line gets an empty answer.
    Lines are read as they come and classified a batch at a time, so it works on
    endless streams and in pipes.

    """
    if file == "-" and sys.stdin.isatty():
        raise click.UsageError("give FILE to classify, or pipe lines into stdin "
                               "(echo 'a gripping, funny film' | charlm classify -m "
                               "sst2.npz)")
    from charlm.classifier.classify import classify_stream
    from charlm.text.conll import _NUL, _lines, as_source

    bundle = load_classifier(model_path)
    k = min(top_k, len(bundle.vocab.labels))
    source = as_source(file)
    texts = (line for _, line in _lines(source, encoding_errors, binary=_NUL))
    interactive = file == "-" and sys.stdin.isatty()
    out = sys.stdout
    for text, top in classify_stream(bundle.model, bundle.vocab, bundle.text, texts, k,
                                     chunk=1 if interactive else None):
        out.write(format_answer(text, top, fmt))
        if interactive:
            out.flush()
    out.flush()
