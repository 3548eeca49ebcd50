"""``charlm score``: log-probability and perplexity of each input line."""

import os
import sys

import click

from charlm.cli.common import (Ticker, err_console, load_model, model_option, stderr_is_tty,
                               stdout_is_tty)

# The output formats, one writer each in score_render.WRITERS (a test keeps them equal).
FORMATS = ("json", "jsonl", "kenlm", "text", "tsv")


@click.command()
@model_option
@click.argument("files", nargs=-1, type=click.File("rb", lazy=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format [default: text on a terminal, tsv otherwise]. "
                   "kenlm: the layout of KenLM's query; json: jsonl plus a final summary object.")
@click.option("--split", type=click.Choice(["lines", "none"]), default=None,
              help="lines: score each line from the initial state; none: score the input "
                   "as one stream [default: as the model was trained].")
@click.option("--no-eos", is_flag=True, help="Do not score the end of each line.")
@click.option("--per-token", is_flag=True,
              help="Add every token's probability and surprisal in bits.")
@click.option("--summary-only", is_flag=True,
              help="Print only the corpus summary, on stdout.")
@click.option("--heatmap", is_flag=True,
              help="Print each line coloured by the surprisal of every token (on a terminal).")
@click.option("-b", "--unbuffered", is_flag=True,
              help="Answer each line as soon as it is read (for interactive pipes).")
@click.option("--batch-size", type=click.IntRange(1), default=256, show_default=True,
              help="Lines scored together.")
@click.option("--encoding-errors", type=click.Choice(["strict", "replace"]),
              default="strict", show_default=True,
              help="Invalid UTF-8: stop with an error naming the line, or replace it.")
@click.option("--progress", type=click.Choice(["auto", "on", "off"]), default="auto",
              show_default=True,
              help="A status line on stderr (tokens scored, speed) while scoring takes "
                   "long; auto shows it only when stderr is a terminal, after a second.")
def score(model_path, files, fmt, split, no_eos, per_token, summary_only, heatmap, unbuffered,
          batch_size, encoding_errors, progress):
    """Score each line of FILES (or stdin) under a model.

    A model trained with --split lines scores every line from its initial state with
    EOS at the end, like KenLM's <s> ... </s>. A model trained with --split none reads
    the input as one text: each line is scored given everything before it, newline
    included. Per line: log10 and natural-log probability, tokens (the end included),
    OOVs (tokens outside the vocabulary, scored as UNK), perplexity and bits per
    character. The corpus summary goes to stderr (stdout with kenlm, json and
    --summary-only).
    """
    from charlm.cli.score_render import WRITERS, HeatmapWriter
    from charlm.lm.scoring import Scorer, Summary

    bundle = load_model(model_path)
    if not files:
        files = (sys.stdin.buffer,)
    if any(_is_stdin(f) for f in files) and sys.stdin.isatty():
        raise click.UsageError("give FILES to score, or pipe text into stdin "
                               "(cat lines.txt | charlm score)")
    tty = stdout_is_tty()
    if heatmap and fmt not in (None, "text"):
        raise click.UsageError("--heatmap draws text; it cannot be combined with "
                               f"--format {fmt}")
    fmt = fmt or ("text" if tty else "tsv")
    out = sys.stdout
    err = err_console("auto")
    if heatmap:
        color = tty and not os.environ.get("NO_COLOR")
        writer = HeatmapWriter(out, err, per_token, bundle.vocab, bundle.text,
                               summary_only=summary_only, color=color)
    else:
        writer = WRITERS[fmt](out, err, per_token, bundle.vocab, bundle.text,
                              summary_only=summary_only)
    live = progress == "on" or (progress == "auto" and stderr_is_tty())
    ticker = Ticker(live, "scoring", "tokens", delay=0.0 if progress == "on" else 1.0)
    scorer = Scorer(bundle.model, bundle.vocab, bundle.text, split=split, eos=not no_eos,
                    batch_lines=batch_size, unbuffered=unbuffered, progress=ticker)
    summary = Summary()
    with ticker:
        writer.start()
        for s in scorer.score(_read_lines(files, encoding_errors)):
            summary.add(s)
            if tty:
                ticker.clear()          # the status line never mixes with the rows
            writer.row(s)
            if unbuffered:
                out.flush()
        out.flush()
    writer.summary(summary.to_dict())
    out.flush()


def _is_stdin(f):
    return f is sys.stdin.buffer or getattr(f, "name", None) in ("<stdin>", "-")


def _read_lines(files, encoding_errors):
    """Decoded lines without their line ends, read lazily. LF, CRLF and a lone CR all
    end a line (as in training); a BOM at the start is dropped."""
    from charlm.errors import InputError

    for f in files:
        name = getattr(f, "name", "<stdin>")
        if not isinstance(name, str) or name in ("<stdin>", "-"):
            name = "<stdin>"
        offset = 0
        n = 0
        for raw in iter(f.readline, b""):
            n += 1
            try:
                text = raw.decode("utf-8", errors=encoding_errors)
            except UnicodeDecodeError as e:
                at = n + raw.count(b"\r", 0, e.start) - raw.count(b"\r\n", 0, e.start)
                raise InputError(f"{name}: invalid UTF-8 at line {at}, byte offset "
                                 f"{offset + e.start}; convert it to UTF-8 or pass "
                                 "--encoding-errors replace to score it anyway") from None
            offset += len(raw)
            if offset == len(raw) and text.startswith("\ufeff"):
                text = text[1:]
            text = text[:-1] if text.endswith("\n") else text
            text = text[:-1] if text.endswith("\r") else text
            if "\r" in text:                      # lone CRs: old Mac line ends
                parts = text.split("\r")
                n += len(parts) - 1
                yield from parts
            else:
                yield text
