"""``charlm train-classifier``: parse options, start or resume a classifier run, render
it with the shared training display and loop driver."""

import contextlib

import click
from click.core import ParameterSource

from charlm.cli.common import (FiniteRange, labelled_options, live_display, report_options,
                               run_file_options, schedule_options, stop_options,
                               text_options)
from charlm.cli.train_cmd import _command_line, distributed_run, drive
from charlm.cli.workers import begin, rank_console, rank_guard, workers_option

DEFAULT_CLASSIFIER = "classifier.npz"     # charlm.classifier.file.DEFAULT_CLASSIFIER
TRAIN_FIELDS = ("batch_size", "lr", "optimizer", "clip", "steps", "epochs", "time_limit",
                "patience", "eval_every", "val_fraction", "seed", "dtype", "lr_schedule",
                "warmup", "lr_decay", "lr_decay_every", "min_lr", "checkpoint_every", "average")
MODEL_FIELDS = ("cell", "hidden", "layers", "embed", "bidirectional", "pool", "dropout",
                "ngrams")
DATA_FIELDS = ("format", "text_col", "label_col", "header", "min_count", "max_vocab",
               "word_dropout", "encoding_errors")
TEXT_FIELDS = ("level", "lowercase", "normalize", "graphemes")
FORMATS = ("auto", "tsv", "csv", "fasttext", "folder")
# Defaults that depend on --level, chosen on dev: characters (the names) and words
# (SST-2). Pooling: max won both in 150 s runs of the recurrent part alone. With the
# n-gram part, ten-minute names runs gave max+mean dev 81.29, 80.98 and 80.73% (seeds
# 1-3) and max 80.42 and 81.45% (seeds 1-2): about the same; max+mean was chosen when
# only max's seed 1 was in (benchmarks/classify.py has the test figures). The
# n-gram part's longest n-grams: characters 1-4 inside words, words and word pairs
# (chosen on dev with a logistic regression alone, `benchmarks/classify.py peers`).
LEVEL_DEFAULTS = {"char": {"embed": 32, "min_count": 1, "dropout": 0.3, "lr": 3e-3,
                           "ngrams": 4, "pool": "max+mean"},
                  "word": {"embed": 100, "min_count": 2, "dropout": 0.5, "lr": 2e-3,
                           "ngrams": 2, "pool": "max"}}


def _by_level(name):
    return ", ".join(f"{LEVEL_DEFAULTS[level][name]:{'' if name == 'pool' else 'g'}} for "
                     f"{level}" for level in ("char", "word"))


@click.command("train-classifier")
@click.argument("train", required=False, type=click.Path(exists=True, allow_dash=False))
@click.option("--dev", type=click.Path(exists=True),
              help="Labelled lines to select the best model on (dev accuracy) "
                   "[default: hold out --val-fraction of TRAIN].")
@run_file_options("classifier", "train-classifier", DEFAULT_CLASSIFIER,
                  best="so far by dev accuracy")
# the data
@click.option("--format", "format", type=click.Choice(FORMATS), default="auto",
              show_default=True,
              help="tsv/csv: a text and a label column; fasttext: __label__X text lines; "
                   "folder: a directory with one file per class, one example per line; "
                   "auto: decide from what TRAIN looks like.")
@labelled_options()
@click.option("--word-dropout", type=FiniteRange(0), default=0.25, show_default=True,
              help="α of word dropout: a token seen c times is UNK in training with "
                   "probability α/(α+c); 0 turns it off.")
@text_options(split=False, level="word")
# the model
@click.option("--cell", type=click.Choice(["rnn", "gru", "lstm"]), default="lstm",
              show_default=True, help="Recurrent cell.")
@click.option("--hidden", type=click.IntRange(1), default=128, show_default=True,
              help="Hidden units per direction (H).")
@click.option("--layers", type=click.IntRange(1), default=1, show_default=True,
              help="Stacked recurrent layers.")
@click.option("--embed", type=click.IntRange(1), default=None,
              help=f"Token embedding width (E) [default: {_by_level('embed')}].")
@click.option("--bidirectional/--unidirectional", default=True, show_default=True,
              help="Read each line both ways (a→ and a←) or left to right only.")
@click.option("--pool", default=None,
              help="What reaches the softmax: last (the final states a→⟨T_x⟩, a←⟨1⟩), "
                   "max or mean over the line's steps, or several joined by + "
                   f"[default: {_by_level('pool')}].")
@click.option("--dropout", type=FiniteRange(0, 1, max_open=True), default=None,
              help="Dropout on the embeddings, between layers and before the softmax "
                   f"[default: {_by_level('dropout')}].")
@click.option("--ngrams", type=click.IntRange(0, 8), default=None, metavar="N",
              help="The n-gram part: a linear model on the line's n-grams of 1 to N "
                   "characters (inside each word) or words, fitted before the recurrent "
                   "part trains; the two parts' scores are averaged before the softmax. "
                   f"0: none [default: {_by_level('ngrams')}].")
# training
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True,
              help="Lines per batch (N).")
@schedule_options(None, _by_level("lr"))
@stop_options("TRAIN", 20, "about 10 a pass, at least every 50 steps")
@click.option("--val-fraction", type=FiniteRange(0, 1, max_open=True), default=0.1,
              show_default=True, help="Without --dev: share of TRAIN's lines held out.")
@click.option("--seed", type=click.IntRange(0), default=1, show_default=True,
              help="Seed for initialisation, the held-out split, shuffling and dropout.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True, help="Floating-point precision.")
@workers_option
@report_options
@click.pass_context
def train_classifier(ctx, train, dev, output, force, resume_path, checkpoint_path, progress,
                     quiet, log_file, as_json, workers, **opts):
    """Train a line classifier (sentiment, language, topic …) on labelled lines.

    TRAIN holds one example per line: text<TAB>label or label<TAB>text (TSV/CSV,
    with or without a header), fastText's __label__X text, or a folder with one file
    per class. The classifier is written to a classifier file.

    The model reads the whole line, then answers once (many-to-one): a bidirectional
    LSTM (GRU, RNN) over characters or words; h, the maximum of each unit of
    [a→⟨t⟩; a←⟨t⟩] over the line's steps (at character level, that and the mean; or
    the final states a→⟨T_x⟩ and a←⟨1⟩, --pool last), goes into
    ŷ = softmax(W_y h + b_y). Beside it, by default, an
    n-gram part: g, the line's tf-idf n-gram vector, and a linear model W_g g + b_g
    fitted first, on its own; then ŷ = softmax(½ (W_y h + b_y) + ½ (W_g g + b_g)).

    Progress goes to stderr. The classifier file is written each time the dev
    accuracy improves; Ctrl-C finishes the step, saves, and prints the command that
    resumes the run exactly. With --workers N, N processes train together.
    """
    team, progress = begin(ctx, workers, progress)
    with rank_guard(ctx, team):
        _train_classifier(ctx, team, train, dev, output, force, resume_path,
                          checkpoint_path, progress, quiet, log_file, as_json, opts)


def _train_classifier(ctx, team, train, dev, output, force, resume_path, checkpoint_path,
                      progress, quiet, log_file, as_json, opts):
    from charlm.classifier import session
    from charlm.cli.classifier_display import ClassifierDisplay
    from charlm.errors import UsageError
    from charlm.text.tokens import TextConfig
    from charlm.training.trainer import TrainConfig

    root = team is None or team.root
    if not root:
        log_file, as_json = None, False
    command = _command_line()
    console = rank_console(team, progress)

    def given(name):
        return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE,
                                                   ParameterSource.ENVIRONMENT)

    if resume_path:
        explicit = {k: v for k, v in opts.items() if k in TRAIN_FIELDS + MODEL_FIELDS +
                    DATA_FIELDS + TEXT_FIELDS and given(k)}

        def build():
            return session.resume(resume_path, overrides=explicit, train_path=train,
                                  dev_path=dev, output=output, command=command,
                                  log_file=log_file, force=force)
    else:
        if train is None:
            raise UsageError("give TRAIN, labelled lines (or --resume CHECKPOINT)")
        for name, value in LEVEL_DEFAULTS[opts["level"]].items():
            if opts[name] is None:
                opts[name] = value
        if opts["steps"] is None and opts["epochs"] is None and opts["time_limit"] is None:
            opts["epochs"] = 20.0
        train_cfg = TrainConfig(**{k: opts[k] for k in TRAIN_FIELDS})
        data = session.DataConfig(**{k: opts[k] for k in DATA_FIELDS})
        text_cfg = TextConfig(**{k: opts[k] for k in TEXT_FIELDS})

        def build():
            # Reading the lines and fitting the n-gram part take seconds before the
            # first step: say so on a terminal.
            shown = opts["ngrams"] and live_display(console, progress, quiet)
            with (console.status("reading the lines and fitting the n-gram part …")
                  if shown else contextlib.nullcontext()):
                return session.start(train, dev, train_cfg, data, text_cfg,
                                     **{k: opts[k] for k in MODEL_FIELDS}, output=output,
                                     checkpoint=checkpoint_path, command=command,
                                     log_file=log_file, force=force)

    run = distributed_run(team, build, "train-classifier")
    display = ClassifierDisplay(console, progress, quiet, run, run.log_file if root else None)
    drive(ctx, run, display, as_json)
