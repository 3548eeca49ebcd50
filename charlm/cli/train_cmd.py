"""``charlm train``: parse options, start an engine run, render its events."""

import os
import shlex
import sys

import click

from charlm.cli.common import Duration, err_console, progress_option
from charlm.cli.train_display import TrainDisplay
from charlm.modelfile import DEFAULT_MODEL, MODEL_ENV
from charlm.text import LEVELS, NORMALIZATIONS, SPLITS, TextConfig
from charlm.train import TrainConfig


def text_options(f):
    """Options that decide how text becomes tokens (shared with other commands)."""
    options = [
        click.option("--level", type=click.Choice(LEVELS), default="char", show_default=True,
                     help="Tokens are characters or words (Unicode-aware regex)."),
        click.option("--split", type=click.Choice(SPLITS), default="lines", show_default=True,
                     help="lines: each non-empty line is one example ending in EOS. "
                          "none: one stream in which newline is an ordinary token."),
        click.option("--lowercase", is_flag=True, help="Fold case before tokenizing."),
        click.option("--normalize", type=click.Choice(NORMALIZATIONS), default="nfc",
                     show_default=True, help="Unicode normal form applied first."),
        click.option("--graphemes", is_flag=True,
                     help="Char level: tokens are grapheme clusters, not code points."),
        click.option("--min-count", type=click.IntRange(1), default=None,
                     help="Tokens seen fewer times in training become UNK "
                          "[default: 1 for char, 2 for word]."),
        click.option("--max-vocab", type=click.IntRange(3), default=None,
                     help="Keep at most this many tokens, EOS and UNK included; "
                          "the rarest become UNK."),
        click.option("--encoding-errors", type=click.Choice(["strict", "replace"]),
                     default="strict", show_default=True,
                     help="Invalid UTF-8: stop with an error, or replace it with U+FFFD."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.command()
@click.argument("corpus", nargs=-1, type=click.Path(allow_dash=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help=f"Model file to write (default: ${MODEL_ENV}, then ./{DEFAULT_MODEL}). "
                   "It always holds the best model by validation loss.")
@click.option("--cell", type=click.Choice(["rnn", "gru", "lstm"]), default="lstm",
              show_default=True, help="Recurrent cell.")
@click.option("--hidden", type=click.IntRange(1), default=128, show_default=True,
              help="Hidden units per layer (H).")
@click.option("--layers", type=click.IntRange(1), default=2, show_default=True,
              help="Stacked recurrent layers.")
@click.option("--embed", type=click.IntRange(0), default=None,
              help="Embedding width E; 0 feeds one-hot vectors straight into W_ax "
                   "[default: 0 for char, 128 for word].")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              show_default=True, help="Dropout between layers and before the softmax.")
@click.option("--seq-len", type=click.IntRange(1), default=64, show_default=True,
              help="Steps of truncated backpropagation through time (T).")
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True,
              help="Sequences trained in parallel (N).")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=2e-3,
              show_default=True, help="Learning rate.")
@click.option("--clip", type=click.FloatRange(0), default=5.0, show_default=True,
              help="Clip the gradient's global norm to this; 0 turns clipping off.")
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam",
              show_default=True, help="Update rule.")
@click.option("--steps", type=click.IntRange(1), default=None,
              help="Stop after this many updates.")
@click.option("--epochs", type=click.FloatRange(0, min_open=True), default=None,
              help="Stop after this many passes over the training text "
                   "[default: 50 when no stop condition is given].")
@click.option("--time", "time_limit", type=Duration(), default=None,
              help="Stop after this much time: seconds, or 90s, 10m, 1.5h.")
@click.option("--eval-every", type=click.IntRange(1), default=None,
              help="Steps between validations [default: once an epoch].")
@click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.1,
              show_default=True,
              help="Share held out for validation: random lines (--split lines) "
                   "or the end of the text (--split none).")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Seed for initialisation, shuffling and dropout.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True, help="Floating-point precision.")
@text_options
@progress_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def train(corpus, output, cell, hidden, layers, embed, dropout, seq_len, batch_size, lr,
          clip, optimizer, steps, epochs, time_limit, eval_every, val_fraction, seed, dtype,
          level, split, lowercase, normalize, graphemes, min_count, max_vocab,
          encoding_errors, progress, quiet):
    """Train a language model on CORPUS and write it to a model file.

    CORPUS is one or more text files, directories (every *.txt below them), - for
    standard input, or the name of a bundled corpus (see `charlm corpora`). With no
    CORPUS it trains on the bundled first-name list.

    Progress goes to stderr; the model file is written each time the validation
    loss improves, so it always holds the best model so far.
    """
    from charlm import session

    if steps is None and epochs is None and time_limit is None:
        epochs = 50.0
    text_cfg = TextConfig(level=level, split=split, lowercase=lowercase,
                          normalize=normalize, graphemes=graphemes)
    train_cfg = TrainConfig(batch_size=batch_size, seq_len=seq_len, lr=lr,
                            optimizer=optimizer, clip=clip, steps=steps, epochs=epochs,
                            time_limit=time_limit, eval_every=eval_every,
                            val_fraction=val_fraction, seed=seed, dtype=dtype)
    stdin_bytes = sys.stdin.buffer.read() if "-" in corpus else None
    command = "charlm " + " ".join(shlex.quote(a) for a in sys.argv[1:]) \
        if os.path.basename(sys.argv[0]) in ("charlm", "__main__.py") else None
    run = session.start(
        list(corpus), text_cfg, train_cfg, cell=cell, hidden=hidden, layers=layers,
        embed=embed, dropout=dropout, min_count=min_count, max_vocab=max_vocab,
        output=output, command=command, encoding_errors=encoding_errors,
        stdin_bytes=stdin_bytes)
    display = TrainDisplay(err_console(progress), progress, quiet, run)
    display.render(run.trainer.run())
