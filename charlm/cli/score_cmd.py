"""``charlm score``: log-probability and perplexity of each input line."""

import json
import sys

import click

from charlm.cli.common import err_console, load_model, model_option, stdout_is_tty


@click.command()
@model_option
@click.argument("files", nargs=-1, type=click.File("rb", lazy=False))
@click.option("--format", "fmt", type=click.Choice(["tsv", "jsonl"]), default="tsv",
              show_default=True, help="Output format, one record per input line.")
@click.option("--no-eos", is_flag=True, help="Do not score the end of each line.")
@click.option("--batch-size", type=click.IntRange(1), default=256, show_default=True,
              help="Lines scored together.")
@click.option("--encoding-errors", type=click.Choice(["strict", "replace"]),
              default="strict", show_default=True,
              help="Invalid UTF-8: stop with an error naming the line, or replace it.")
def score(model_path, files, fmt, no_eos, batch_size, encoding_errors):
    """Score each line of FILES (or stdin) under a model.

    Each line is scored from the model's initial state, with EOS at its end. Per
    line: log10 and natural-log probability, tokens (EOS included), OOVs (tokens
    outside the vocabulary, scored as UNK), perplexity and bits per character.
    The summary over all lines goes to stderr.
    """
    from charlm.scoring import Summary, score_lines

    bundle = load_model(model_path)
    if not files:
        if sys.stdin.isatty():
            raise click.UsageError("give FILES to score, or pipe text into stdin")
        files = (sys.stdin.buffer,)
    lines = _read_lines(files, encoding_errors)
    out = sys.stdout
    summary = Summary()
    if fmt == "tsv":
        out.write("log10prob\tlogprob\ttokens\toovs\tperplexity\tbits_per_char\ttext\n")
    for s in score_lines(bundle.model, bundle.vocab, bundle.text, lines,
                         eos=not no_eos, batch_lines=batch_size):
        summary.add(s)
        if fmt == "tsv":
            out.write(f"{s.log10prob:.6f}\t{s.total:.6f}\t{s.n_tokens}\t{s.n_oov}\t"
                      f"{s.perplexity:.4f}\t{s.bits_per_char:.4f}\t{_tsv_text(s.text)}\n")
        else:
            out.write(json.dumps({
                "text": s.text, "log10prob": s.log10prob, "logprob": s.total,
                "tokens": s.n_tokens, "oovs": s.n_oov, "perplexity": s.perplexity,
                "bits_per_char": s.bits_per_char}, ensure_ascii=False) + "\n")
    out.flush()
    d = summary.to_dict()
    console = err_console("auto")
    console.print(
        f"{d['lines']} lines, {d['tokens']} tokens, {d['oovs']} OOVs: "
        f"perplexity {d['perplexity']:.4f} (excluding OOVs {d['perplexity_excluding_oovs']:.4f}), "
        f"{d['bits_per_token']:.4f} bits/token, {d['bits_per_char']:.4f} bits/char",
        markup=False, highlight=False)


def _tsv_text(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t")


def _read_lines(files, encoding_errors):
    """Decoded lines without their line ends, read lazily; CRLF is accepted."""
    from charlm.errors import InputError

    for f in files:
        name = getattr(f, "name", "<stdin>")
        if name == "<stdin>" or not isinstance(name, str):
            name = "<stdin>"
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8", errors=encoding_errors)
            except UnicodeDecodeError as e:
                raise InputError(f"{name}: line {n}: invalid UTF-8 at byte {e.start}; "
                                 "pass --encoding-errors replace to score it anyway") from None
            if n == 1 and line.startswith("\ufeff"):
                line = line[1:]
            yield line.rstrip("\n").rstrip("\r")
