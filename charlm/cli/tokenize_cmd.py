"""``charlm tokenize``: what is in a corpus, and the vocabulary it would give."""

import json
import sys

import click

from charlm.cli.common import ReadingProgress, err_console, live_display, progress_option, \
    read_stdin_corpus, text_options
from charlm.cli.completion import complete_corpus


@click.command()
@click.argument("corpus", nargs=-1, required=True, type=click.Path(allow_dash=True),
                shell_complete=complete_corpus)
@text_options
@click.option("--vocab-out", type=click.Path(dir_okay=False),
              help="Write the vocabulary to this JSON file, for `charlm train --vocab`.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="A readable report, or JSON for scripts.")
@click.option("--long-line", type=click.IntRange(1), default=10000, show_default=True,
              help="Report lines longer than this many characters.")
@click.option("--top", type=click.IntRange(1), default=20, show_default=True,
              help="How many of the most frequent tokens to list.")
@progress_option
def tokenize(corpus, level, split, lowercase, normalize, graphemes, min_count, max_vocab,
             encoding_errors, vocab_out, fmt, long_line, top, progress):
    """Report what is in CORPUS before training on it, and the vocabulary it gives.

    The report gives sizes, tokens and their types, the vocabulary that
    --min-count/--max-vocab give and how much text it covers, the most frequent and
    rarest tokens, and anything suspicious (control characters, NUL bytes, a
    byte-order mark, CR/CRLF line ends, over-long lines, invalid UTF-8, each with
    where it first occurs).

    CORPUS is files, directories (every *.txt below them), - for standard input, or
    the names of bundled corpora, as for `charlm train`. The text options are those
    of `charlm train` and mean the same. Invalid UTF-8 is reported, not fatal (it is
    replaced by U+FFFD in the counts); --encoding-errors says how training will treat
    it.
    """
    from charlm.text.corpus import resolve_sources
    from charlm.text.report import analyze, save_vocab
    from charlm.lm.session import default_min_count
    from charlm.text.tokens import TextConfig

    cfg = TextConfig(level=level, split=split, lowercase=lowercase, normalize=normalize,
                     graphemes=graphemes)
    if min_count is None:
        min_count = default_min_count(level)
    stdin_bytes = read_stdin_corpus(corpus)
    sources = resolve_sources(list(corpus), stdin_bytes)
    console = err_console(progress)
    with ReadingProgress(console, live_display(console, progress)) as bar:
        report, vocab = analyze(sources, cfg, min_count, max_vocab, long_line, top,
                                progress=bar)
    report["encoding_errors"] = encoding_errors
    if vocab_out:
        save_vocab(vocab_out, vocab, cfg, min_count, max_vocab, [s.name for s in sources])
        report["vocab_out"] = vocab_out
    if fmt == "json":
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
        return
    from rich.console import Console

    render(report, Console(highlight=False, soft_wrap=True))


def render(r, con):
    from rich.table import Table

    from charlm.text.report import shown

    files = Table("file", "bytes", "lines", "characters", "words", box=None, pad_edge=False)
    for f in r["files"]:
        files.add_row(f["name"], f"{f['bytes']:,}", f"{f['lines']:,}", f"{f['chars']:,}",
                      f"{f['words']:,}")
    if len(r["files"]) > 1:
        t = r["total"]
        files.add_row("total", f"{t['bytes']:,}", f"{t['lines']:,}", f"{t['chars']:,}",
                      f"{t['words']:,}", style="bold")
    con.print(files)
    text = r["text"]
    unit = "character" if text["level"] == "char" else "word"
    framing = (f"{r['examples']:,} non-empty lines (examples)" if text["split"] == "lines"
               else "one stream")
    con.print(f"\ntokens  {r['tokens']:,} {unit}s in {framing}; {r['types']:,} distinct "
              f"(level {text['level']}, normalize {text['normalize']}"
              f"{', lowercase' if text['lowercase'] else ''}"
              f"{', graphemes' if text['graphemes'] else ''})", markup=False)
    v = r["vocab"]
    limits = f"min-count {v['min_count']}" + (f", max-vocab {v['max_vocab']}"
                                               if v["max_vocab"] else "")
    con.print(f"vocab   {v['size']:,} tokens with <eos> and <unk> ({limits}): covers "
              f"{v['coverage']:.2%} of the text; {v['unk_tokens']:,} tokens of "
              f"{v['unk_types']:,} types become <unk>", markup=False)
    if r.get("vocab_out"):
        con.print(f"        written to {r['vocab_out']}", markup=False)
    con.print("most frequent  " + "  ".join(f"{shown(t)} {c:,}" for t, c in r["most_frequent"]),
              markup=False)
    con.print("rarest         " + "  ".join(f"{shown(t)} {c:,}" for t, c in r["rarest"]),
              markup=False)
    if r["suspicious"]:
        con.print("\n[bold yellow]suspicious[/]")
        for s in r["suspicious"]:
            con.print(f"  {s}", markup=False)
    else:
        con.print("\nnothing suspicious: valid UTF-8, LF line ends, no control characters")
