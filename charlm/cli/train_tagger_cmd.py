"""``charlm train-tagger``: parse options, start or resume a tagger run, render it
with the shared training display and loop driver."""

import click
from click.core import ParameterSource

from charlm.cli.common import (encoding_errors_option, report_options, run_file_options,
                               schedule_options, stop_options)
from charlm.cli.train_cmd import _command_line, distributed_run, drive
from charlm.cli.workers import begin, rank_console, rank_guard, workers_option
from charlm.store import DEFAULT_TAGGER

TRAIN_FIELDS = ("batch_size", "lr", "optimizer", "clip", "steps", "epochs", "time_limit",
                "patience", "eval_every", "val_fraction", "seed", "dtype", "lr_schedule",
                "warmup", "lr_decay", "lr_decay_every", "min_lr", "checkpoint_every", "average")
MODEL_FIELDS = ("cell", "hidden", "layers", "embed", "char_embed", "char_hidden", "dropout",
                "crf")
DATA_FIELDS = ("format", "tag_column", "also_tag", "token_col", "tag_col", "tag_scheme",
               "min_count", "word_dropout", "lowercase", "encoding_errors")


@click.command("train-tagger")
@click.argument("train", required=False, type=click.Path(exists=True, dir_okay=False,
                                                         allow_dash=False))
@click.option("--dev", type=click.Path(exists=True, dir_okay=False),
              help="Tagged sentences to select the best model on (dev accuracy, or entity "
                   "F1 for entity tags) [default: hold out --val-fraction of TRAIN].")
@run_file_options("tagger", "train-tagger", DEFAULT_TAGGER)
# the data
@click.option("--format", "format", type=click.Choice(["auto", "conllu", "conll"]),
              default="auto", show_default=True,
              help="conllu: CoNLL-U (10 tab-separated columns); conll: token and tag "
                   "columns (CoNLL-2003/IOB style); auto: detect from the file.")
@click.option("--tag-column", type=click.Choice(["upos", "xpos", "ner"]), default="upos",
              show_default=True,
              help="CoNLL-U: the column to learn; ner: the NER= attribute of the MISC "
                   "column (NER=B-PER), where `charlm tag` writes entities.")
@click.option("--also-tag", type=click.Choice(["upos", "xpos"]), default=None,
              help="CoNLL-U: learn this column too, with a second softmax over the same "
                   "BiRNN (a joint tagger: one pass gives both; `charlm tag` shows this "
                   "layer, `--entities` the first). The best model is the one with the "
                   "highest dev F1 (or accuracy) plus this column's accuracy.")
@click.option("--token-col", type=int, default=None,
              help="Column files: index of the token column [default: detected].")
@click.option("--tag-col", type=int, default=None,
              help="Column files: index of the tag column, -1 the last [default: detected].")
@click.option("--tag-scheme", type=click.Choice(["io", "iob1", "iob2", "bioes"]),
              default=None, help="Convert entity tags to this scheme before training "
                                 "[default: keep the file's own].")
@click.option("--min-count", type=click.IntRange(1), default=2, show_default=True,
              help="Words seen fewer times get no embedding of their own (UNK; their "
                   "characters still count).")
@click.option("--word-dropout", type=click.FloatRange(0), default=0.25, show_default=True,
              help="α of word dropout: a word seen c times is UNK in training with "
                   "probability α/(α+c); 0 turns it off.")
@click.option("--case-sensitive", "case_sensitive", is_flag=True,
              help="Look words up as written (default: in lower case; the character "
                   "features always see the case).")
@encoding_errors_option
# the model
@click.option("--cell", type=click.Choice(["rnn", "gru", "lstm"]), default="lstm",
              show_default=True, help="Recurrent cell of both BiRNNs.")
@click.option("--hidden", type=click.IntRange(1), default=128, show_default=True,
              help="Hidden units per direction of the word BiRNN (H).")
@click.option("--layers", type=click.IntRange(1), default=1, show_default=True,
              help="Stacked BiRNN layers.")
@click.option("--embed", type=click.IntRange(1), default=100, show_default=True,
              help="Word embedding width (E).")
@click.option("--char-embed", type=click.IntRange(1), default=32, show_default=True,
              help="Character embedding width.")
@click.option("--char-hidden", type=click.IntRange(1), default=32, show_default=True,
              help="Hidden units per direction of the character BiRNN.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.25,
              show_default=True, help="Dropout on the inputs, between layers and before "
                                      "the softmax.")
@click.option("--crf", is_flag=True,
              help="Output layer: a linear-chain CRF (learned tag-to-tag transition scores, "
                   "trained on whole sequences, decoded by Viterbi) instead of a softmax per "
                   "token. For entity tags the scheme's invalid transitions are forbidden.")
@click.option("--lm", "lm", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="A forward character language model (`charlm train --level char`): "
                   "its state after each token's last character joins the token's "
                   "features. The model is frozen and copied into the tagger file.")
@click.option("--lm-backward", "lm_backward", type=click.Path(dir_okay=False), default=None,
              metavar="FILE",
              help="A backward character language model (`charlm train --reverse`): its "
                   "state after reading each token's first character, right to left, joins "
                   "the token's features.")
# training
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True,
              help="Sentences per batch (N).")
@schedule_options(2e-3)
@stop_options("TRAIN", 30)
@click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.1,
              show_default=True, help="Without --dev: share of TRAIN's sentences held out.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Seed for initialisation, the held-out split, shuffling and dropout.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True, help="Floating-point precision.")
@workers_option
@report_options
@click.pass_context
def train_tagger(ctx, train, dev, output, force, resume_path, checkpoint_path, progress,
                 quiet, log_file, as_json, case_sensitive, workers, **opts):
    """Train a tagger (parts of speech, named entities) on a tagged file.

    TRAIN is a CoNLL-U file or a column file (token and tag columns, blank line
    between sentences); the tagger is written to a tagger file.

    The model is a bidirectional LSTM (GRU, RNN) over word embeddings and character
    features of each word, with a softmax per token: ŷ⟨t⟩ = softmax(W_y [a→⟨t⟩;
    a←⟨t⟩] + b_y). Entity tags (IOB1/IOB2/BIOES/IO) are decoded by constrained
    Viterbi, so no invalid sequence is ever output. With --crf the output layer is a
    linear-chain CRF instead: p(y | x) ∝ exp(Σ_t s⟨t⟩[y⟨t⟩] + Σ_t trans[y⟨t-1⟩,
    y⟨t⟩]), trained by the forward algorithm and decoded by Viterbi.
    With --also-tag a second softmax, ŷ₂⟨t⟩ = softmax(W_y2 [a→⟨t⟩; a←⟨t⟩] + b_y2),
    learns a second CoNLL-U column over the same BiRNN (a joint tagger, L = L₁ + L₂):
    entities (--tag-column ner) and parts of speech in one model, as the bundled
    English tagger is.


    Progress goes to stderr. The tagger file is written each time the dev accuracy
    (entity F1) improves; Ctrl-C finishes the step, saves, and prints the command
    that resumes the run exactly. With --workers N, N processes train together.
    """
    team, progress = begin(ctx, workers, progress)
    with rank_guard(ctx, team):
        _train_tagger(ctx, team, train, dev, output, force, resume_path, checkpoint_path,
                      progress, quiet, log_file, as_json, case_sensitive, opts)


def _train_tagger(ctx, team, train, dev, output, force, resume_path, checkpoint_path,
                  progress, quiet, log_file, as_json, case_sensitive, opts):
    from charlm.cli.tagger_display import TaggerDisplay
    from charlm.errors import UsageError
    from charlm.tagger import session
    from charlm.training.trainer import TrainConfig

    if team is not None and not team.root:
        log_file, as_json = None, False
    command = _command_line()
    console = rank_console(team, progress)
    opts["lowercase"] = not case_sensitive

    def given(name):
        return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE,
                                                   ParameterSource.ENVIRONMENT)

    lms = {"lm": opts.pop("lm"), "lm_backward": opts.pop("lm_backward")}
    if resume_path:
        for name, option in (("lm", "--lm"), ("lm_backward", "--lm-backward")):
            if given(name):
                raise UsageError(f"{option}: the language models of a run are fixed; "
                                 "its checkpoint holds them")
        explicit = {k: v for k, v in opts.items() if k in TRAIN_FIELDS + MODEL_FIELDS +
                    DATA_FIELDS and given(k)}
        if case_sensitive:
            explicit["lowercase"] = False

        def build():
            return session.resume(resume_path, overrides=explicit, train_path=train,
                                  dev_path=dev, output=output, command=command,
                                  log_file=log_file, force=force)
    else:
        if train is None:
            raise UsageError("give TRAIN, a tagged file (or --resume CHECKPOINT)")
        if opts["steps"] is None and opts["epochs"] is None and opts["time_limit"] is None:
            opts["epochs"] = 30.0
        train_cfg = TrainConfig(**{k: opts[k] for k in TRAIN_FIELDS})
        data = session.DataConfig(**{k: opts[k] for k in DATA_FIELDS})

        def build():
            return session.start(train, dev, train_cfg, data,
                                 **{k: opts[k] for k in MODEL_FIELDS}, **lms, output=output,
                                 checkpoint=checkpoint_path, command=command,
                                 log_file=log_file, force=force)

    run = distributed_run(team, build, "train-tagger")
    display = TaggerDisplay(console, progress, quiet, run,
                            run.log_file if team is None or team.root else None)
    drive(ctx, run, display, as_json)
