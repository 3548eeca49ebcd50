"""The ``charlm`` click group: global options, error handling, subcommands."""

import os
import sys

import click

from charlm import __version__
from charlm.cli.manual import CharlmCommand, plain_metavars
from charlm.errors import CharlmError, UsageError


DEBUG_ENV = "CHARLM_DEBUG"


def debugging():
    """CHARLM_DEBUG=1: let unexpected exceptions through with their traceback, so a
    friendly message never hides a bug (the test suite sets it)."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


class CharlmGroup(click.Group):
    """Gives every subcommand the grouped help with examples of
    :class:`~charlm.cli.manual.CharlmCommand`.

    Turns engine errors into one-line messages with the right exit status:
    1 for runtime errors, 2 for usage errors, 130 on Ctrl-C; and ends quietly with
    status 0 when the reader of stdout goes away (``charlm generate | head``).

    Anything else is a bug or the machine running out of something: one line too,
    unless CHARLM_DEBUG is set, which re-raises it with its traceback."""

    def add_command(self, cmd, name=None):
        if type(cmd) is click.Command:
            # Commands are declared with a plain @click.command(); they all get the
            # same help layout, driven by the tables in manual.py.
            cmd.__class__ = CharlmCommand
        plain_metavars(cmd)
        super().add_command(cmd, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except UsageError as e:
            raise click.UsageError(str(e)) from None
        except CharlmError as e:
            raise click.ClickException(str(e)) from None
        except BrokenPipeError:
            quiet_stdout()
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("charlm: interrupted", err=True)
            ctx.exit(130)
        except MemoryError:
            if debugging():
                raise
            raise click.ClickException(
                "out of memory; try a smaller model or batch (--hidden, --layers, "
                "--batch-size, --seq-len, -n)") from None
        except OSError as e:
            if debugging():
                raise
            where = f"{e.filename}: " if e.filename else ""
            raise click.ClickException(f"{where}{e.strerror or e}") from None
        except Exception as e:
            if debugging():
                raise
            raise click.ClickException(
                f"internal error ({type(e).__name__}: {e}); this is a bug in charlm: "
                f"please report it with the output of the same command run with "
                f"{DEBUG_ENV}=1") from None


def quiet_stdout():
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@click.group(cls=CharlmGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                "max_content_width": 100,
                                                "show_default": True})
@click.version_option(__version__, "-V", "--version", prog_name="charlm")
@click.option("--threads", type=click.IntRange(1), envvar="CHARLM_THREADS", show_envvar=True,
              help="Threads for NumPy's matrix products (env CHARLM_THREADS). Default: 1: "
                   "on 2 cores, 2 threads were 1.4x faster when idle but 1.5-25x slower "
                   "when other processes were busy; a BLAS variable such as "
                   "OPENBLAS_NUM_THREADS, if set, is kept. Give it before the subcommand.")
def cli(threads):
    """Train and use recurrent language models (RNN, GRU, LSTM), bidirectional
    taggers and line classifiers from the shell.

    \b
      charlm train corpus.txt            train a model (writes model.npz)
      charlm generate -n 5               sample text from it
      cat lines.txt | charlm score       log-probability and perplexity per line
      charlm info model.npz              what a model file holds
      charlm tokenize corpus.txt         what is in a corpus, before training
      echo "The old man the boat." | charlm tag     parts of speech (bundled tagger)
      charlm train-tagger train.conllu --dev dev.conllu   train a tagger
      charlm evaluate -m tagger.npz test.conllu   its accuracy (and entity F1)
      charlm train-classifier train.tsv --dev dev.tsv   a line classifier
      charlm classify -m classifier.npz lines.txt     a label per line

    Run `charlm COMMAND --help` for a command's options; `man charlm` for the manual.
    """


plain_metavars(cli)


def _register():
    # Command modules load only click and light parts of charlm (see common.py), so
    # registering them all costs little and shell completion stays quick.
    from charlm.cli.completion import completion
    from charlm.cli.corpora_cmd import corpora
    from charlm.cli.generate_cmd import generate
    from charlm.cli.info_cmd import info
    from charlm.cli.score_cmd import score
    from charlm.cli.tokenize_cmd import tokenize
    from charlm.cli.evaluate_cmd import evaluate
    from charlm.cli.tag_cmd import tag
    from charlm.cli.train_cmd import train
    from charlm.cli.train_tagger_cmd import train_tagger
    from charlm.cli.train_classifier_cmd import train_classifier
    from charlm.cli.classify_cmd import classify
    import charlm.cli.classifier_report  # noqa: F401  (registers evaluate for classifiers)

    for command in (train, generate, score, tokenize, info, corpora, completion, train_tagger,
                    tag, evaluate, train_classifier, classify):
        cli.add_command(command)


_register()
