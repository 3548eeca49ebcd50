"""``charlm train``: parse options, start or resume an engine run, render its events."""

import json
import shlex
import signal
import sys

import click
from click.core import ParameterSource

from charlm.cli.common import (FiniteRange, ReadingProgress, live_display, read_stdin_corpus,
                               report_options, run_file_options, schedule_options,
                               stop_options, text_options)
from charlm.cli.completion import complete_corpus
from charlm.cli.workers import announce, begin, rank_console, rank_guard, workers_option
from charlm.store import DEFAULT_MODEL, MODEL_ENV
from charlm.training.defaults import DEFAULT_DROPOUT
from charlm.training.schedule import DEFAULT_LR

# Exit statuses after a signal, as shells report them (128 + signal number).
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


# Options that map one to one onto TrainConfig fields.
TRAIN_FIELDS = ("batch_size", "seq_len", "lr", "optimizer", "clip", "steps", "epochs",
                "time_limit", "patience", "eval_every", "val_fraction", "val_max_tokens",
                "seed", "dtype",
                "lr_schedule", "warmup", "lr_decay", "lr_decay_every", "min_lr",
                "sample_every", "sample_length", "checkpoint_every", "average")
MODEL_FIELDS = ("cell", "hidden", "layers", "embed", "dropout")
TEXT_FIELDS = ("level", "split", "lowercase", "normalize", "graphemes", "reverse")
VOCAB_FIELDS = ("min_count", "max_vocab", "encoding_errors")


@click.command()
@click.argument("corpus", nargs=-1, type=click.Path(allow_dash=True),
                shell_complete=complete_corpus)
@run_file_options("model", "train", DEFAULT_MODEL,
                  f"(default: ${MODEL_ENV}, then ./{DEFAULT_MODEL})", "by validation loss")
@click.option("--cell", type=click.Choice(["rnn", "gru", "lstm"]), default="lstm",
              show_default=True, help="Recurrent cell.")
@click.option("--hidden", type=click.IntRange(1), default=128, show_default=True,
              help="Hidden units per layer (H).")
@click.option("--layers", type=click.IntRange(1), default=2, show_default=True,
              help="Stacked recurrent layers.")
@click.option("--embed", type=click.IntRange(0), default=None,
              help="Embedding width E; 0 feeds one-hot vectors straight into W_ax "
                   "[default: 0 for char, 128 for word].")
@click.option("--dropout", type=FiniteRange(0, 1, max_open=True), default=DEFAULT_DROPOUT,
              show_default=True, help="Dropout between layers and before the softmax "
                                      "(training only; 0 turns it off).")
@click.option("--seq-len", type=click.IntRange(1), default=None,
              help="Steps of truncated backpropagation through time (T) [default: 128 "
                   "when the training part holds at least 524,288 tokens, else 64].")
@click.option("--batch-size", type=click.IntRange(1), default=None,
              help="Sequences trained in parallel (N) [default: 64 when the training "
                   "part holds at least 524,288 tokens, else 32].")
@schedule_options(DEFAULT_LR)
@stop_options("the training text", 50)
@click.option("--val-fraction", type=FiniteRange(0, 1, max_open=True), default=0.1,
              show_default=True,
              help="Share held out for validation without --dev: random lines "
                   "(--split lines) or the end of the text (--split none).")
@click.option("--dev", multiple=True, type=click.Path(), shell_complete=complete_corpus,
              help="Validate on this text instead of holding part of CORPUS out: a file "
                   "or directory, as for CORPUS (repeat for several). CORPUS is trained "
                   "on whole; tokens outside its vocabulary count as UNK, as in "
                   "`charlm score`.")
@click.option("--val-max-tokens", type=click.IntRange(0), default=1_000_000,
              show_default=True,
              help="Hold out (or read from --dev) at most this many tokens, so "
                   "validation stays quick on big corpora.")
@click.option("--reverse", is_flag=True,
              help="A backward model: read each line right to left (with --split lines). "
                   "The model file says so, and generate and score use it that way.")
@click.option("--vocab", "vocab_path", type=click.Path(dir_okay=False),
              help="Use the fixed vocabulary in this file (from `charlm tokenize "
                   "--vocab-out`) and its text settings, so models share one vocabulary.")
@click.option("--no-cache", is_flag=True,
              help="Do not read or write the cache of tokenized big corpora.")
@click.option("--sample-every", type=click.IntRange(0), default=None,
              help="Steps between short samples shown while training; 0: none "
                   "[default: at every validation].")
@click.option("--sample-length", type=click.IntRange(1), default=100, show_default=True,
              help="Tokens per training-time sample.")
@click.option("--seed", type=click.IntRange(0), default=1, show_default=True,
              help="Seed for initialisation, the validation split, shuffling and dropout.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True, help="Floating-point precision.")
@text_options
@workers_option
@report_options
@click.pass_context
def train(ctx, corpus, output, force, resume_path, checkpoint_path, progress, quiet,
          log_file, as_json, vocab_path, no_cache, workers, **opts):
    """Train a language model on CORPUS and write it to a model file.

    CORPUS is one or more text files, directories (every *.txt below them), - for
    standard input, or the name of a bundled corpus (see `charlm corpora`). With no
    CORPUS it trains on the bundled first-name list.

    Progress goes to stderr. The model file is written each time the validation loss
    improves, so it always holds the best model so far; a checkpoint of the whole run
    is written next to it. A model file or checkpoint that another run wrote is never
    replaced without --force. Ctrl-C (or SIGTERM) finishes the current step, saves, and
    prints the command that resumes the run exactly.

    With --workers N (or under `mpiexec -n N`) N processes train together, each on
    its share of every batch, and rank 0 reports and writes the files.
    """
    team, progress = begin(ctx, workers, progress)
    with rank_guard(ctx, team):
        _train(ctx, team, corpus, output, force, resume_path, checkpoint_path, progress,
               quiet, log_file, as_json, vocab_path, no_cache, opts)


def _train(ctx, team, corpus, output, force, resume_path, checkpoint_path, progress, quiet,
           log_file, as_json, vocab_path, no_cache, opts):
    from charlm.cli.train_display import TrainDisplay
    from charlm.lm import session
    from charlm.text.tokens import TextConfig
    from charlm.training.trainer import TrainConfig

    root = team is None or team.root
    dev = list(opts.pop("dev")) or None
    if not root:
        log_file, as_json = None, False
    if log_file:
        _check_log_file(log_file)
    stdin_bytes = read_stdin_corpus(corpus) if root else None
    if team is not None:
        stdin_bytes = team.bcast(stdin_bytes)
    command = _command_line()
    console = rank_console(team, progress)
    reading = ReadingProgress(console, live_display(console, progress, quiet))

    def given(name):
        return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE,
                                                   ParameterSource.ENVIRONMENT)

    prime = None        # several workers: what rank 0 reads first (into the token cache)
    if resume_path:
        explicit = {name: value for name, value in opts.items() if given(name)}

        def build():
            return session.resume(resume_path, overrides=explicit,
                                  sources=list(corpus) or None, stdin_bytes=stdin_bytes,
                                  output=output, command=command, log_file=log_file,
                                  force=force, dev=dev)
    else:
        if opts["steps"] is None and opts["epochs"] is None and opts["time_limit"] is None:
            opts["epochs"] = 50.0
        text_cfg = TextConfig(**{k: opts[k] for k in TEXT_FIELDS})
        vocab = None
        if vocab_path:
            vocab, text_cfg = _fixed_vocab(vocab_path, text_cfg, opts, given)
        if dev:
            if given("val_fraction"):
                raise click.UsageError("--val-fraction cannot be combined with --dev: the "
                                       "dev text is the validation part")
            opts["val_fraction"] = 0.0
        train_cfg = TrainConfig(**{k: opts[k] for k in TRAIN_FIELDS})

        def build():
            with reading:
                return session.start(
                    list(corpus), text_cfg, train_cfg, **{k: opts[k] for k in MODEL_FIELDS},
                    min_count=opts["min_count"], max_vocab=opts["max_vocab"], vocab=vocab,
                    encoding_errors=opts["encoding_errors"], output=output,
                    checkpoint=checkpoint_path, command=command, stdin_bytes=stdin_bytes,
                    log_file=log_file, progress=reading, use_cache=not no_cache,
                    force=force, dev=dev)

        def prime():
            from charlm.text.cache import cacheable
            from charlm.text.corpus import resolve_sources

            if not no_cache and cacheable(resolve_sources(list(corpus), stdin_bytes)):
                with reading:
                    session.read_corpus(list(corpus), text_cfg, opts["encoding_errors"],
                                        progress=reading)

    run = distributed_run(team, build, "train", prime)
    display = TrainDisplay(console, progress, quiet, run, run.log_file if root else None)
    drive(ctx, run, display, as_json)


def distributed_run(team, build, command, prime=None):
    """``build()`` a run, on every rank when there are several (``prime()`` on rank 0
    first), and make its trainer one of them. Shared by every training command."""
    if team is None:
        return build()
    run = team.setup(build, prime)
    run.trainer.distribute(team)
    announce(team, command, run.checkpoint)
    return run


def drive(ctx, run, display, as_json):
    """Run a prepared training run to its end, rendering its events: Ctrl-C and
    SIGTERM ask the trainer to stop after the current step (a second Ctrl-C stops at
    once); exit status 130/143 after a signal. Shared by every training command."""
    previous = {}

    def on_signal(signum, frame):
        if run.trainer.stop_request:                 # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        run.trainer.request_stop("terminated" if signum == signal.SIGTERM else "interrupted")
        display.note_stop_request(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, on_signal)
        except ValueError:                           # not the main thread
            pass
    try:
        finished = display.render(run.trainer.run())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    if as_json and finished is not None:
        sys.stdout.write(json.dumps(display.summary_json(finished)) + "\n")
        sys.stdout.flush()
    if finished is not None and finished.reason == "interrupted":
        ctx.exit(EXIT_INTERRUPTED)
    if finished is not None and finished.reason == "terminated":
        ctx.exit(EXIT_TERMINATED)


def _check_log_file(path):
    """Refuse a metrics log that cannot be appended to, before any work is done."""
    from charlm.errors import OutputError

    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as e:
        raise OutputError(f"{path}: cannot write the log file: {e.strerror}") from None


def _command_line():
    """The command as typed, to store in the model file and show by `charlm info`."""
    import charlm.cli

    if charlm.cli.invoked_args is None:
        return None
    return "charlm " + " ".join(shlex.quote(a) for a in charlm.cli.invoked_args)


def _fixed_vocab(path, text_cfg, opts, given):
    """The vocabulary of --vocab and its text settings; options that contradict it
    are refused."""
    from charlm.errors import UsageError
    from charlm.text.report import load_vocab

    vocab, vocab_cfg = load_vocab(path)
    # The reading direction is the model's, not the vocabulary's.
    vocab_cfg = type(vocab_cfg).from_dict(dict(vocab_cfg.to_dict(), reverse=opts["reverse"]))
    clash = [f"--{k.replace('_', '-')}" for k in TEXT_FIELDS
             if given(k) and opts[k] != getattr(vocab_cfg, k)]
    clash += [f"--{k.replace('_', '-')}" for k in ("min_count", "max_vocab") if given(k)]
    if clash:
        raise UsageError(f"{', '.join(clash)} cannot be combined with --vocab {path}: the "
                         "vocabulary file fixes the tokens and how text is split")
    return vocab, vocab_cfg
