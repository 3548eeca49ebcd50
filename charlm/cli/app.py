"""The ``charlm`` click group: global options, error handling, subcommands."""

import os
import sys

import click

from charlm import __version__
from charlm.errors import CharlmError, UsageError


class CharlmGroup(click.Group):
    """Turns engine errors into one-line messages with the right exit status:
    1 for runtime errors, 2 for usage errors, 130 on Ctrl-C; and ends quietly with
    status 0 when the reader of stdout goes away (``charlm generate | head``)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
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


def quiet_stdout():
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@click.group(cls=CharlmGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="charlm")
@click.option("--threads", type=click.IntRange(1), envvar="CHARLM_THREADS",
              help="Threads for NumPy's matrix products (env CHARLM_THREADS). Default: 1: "
                   "on 2 cores, 2 threads were 1.4x faster when idle but 1.5-25x slower "
                   "when other processes were busy; a BLAS variable such as "
                   "OPENBLAS_NUM_THREADS, if set, is kept. Give it before the subcommand.")
def cli(threads):
    """Train and use recurrent language models (RNN, GRU, LSTM) from the shell.

    \b
      charlm train corpus.txt            train a model (writes model.npz)
      charlm generate -n 5               sample text from it
      cat lines.txt | charlm score       log-probability and perplexity per line
      charlm info model.npz              what a model file holds
      charlm tokenize corpus.txt         what is in a corpus, before training

    Run `charlm COMMAND --help` for a command's options; `man charlm` for the manual.
    """


def _register():
    from charlm.cli.corpora_cmd import corpora
    from charlm.cli.generate_cmd import generate
    from charlm.cli.info_cmd import info
    from charlm.cli.score_cmd import score
    from charlm.cli.tokenize_cmd import tokenize
    from charlm.cli.train_cmd import train

    for command in (train, generate, score, tokenize, info, corpora):
        cli.add_command(command)


_register()
