"""Shell completion: ``charlm completion bash|zsh|fish`` and the completers that
options and arguments name with ``shell_complete=``.

Completion is click's own: the shell calls ``charlm`` with ``_CHARLM_COMPLETE`` set
and the words typed so far, and click answers from the command definitions. Only
click and the standard library are loaded to answer (no NumPy, no engine, no rich),
so a TAB answers in a few tens of milliseconds.
"""

import os

import click
from click.shell_completion import CompletionItem, get_completion_class

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_CHARLM_COMPLETE"


def _matching_paths(incomplete, keep):
    """Entries of the folder named in ``incomplete`` whose names start with what
    follows the last slash and for which ``keep(name)`` holds."""
    folder, prefix = os.path.split(incomplete)
    try:
        with os.scandir(folder or ".") as entries:
            names = sorted(e.name for e in entries
                           if e.name.startswith(prefix) and not e.is_dir()
                           and (prefix.startswith(".") or not e.name.startswith("."))
                           and keep(e.name))
    except OSError:
        return []
    return [os.path.join(folder, name) for name in names]


def complete_model(ctx, param, incomplete):
    """Model files and checkpoints (``*.npz``); folders when none matches."""
    items = [CompletionItem(incomplete, type="dir")]
    items += [CompletionItem(p) for p in _matching_paths(incomplete, lambda n: n.endswith(".npz"))]
    return items


def complete_corpus(ctx, param, incomplete):
    """The names of the bundled corpora, and any file or folder."""
    items = [CompletionItem(incomplete, type="file")]
    if os.sep not in incomplete:
        from charlm.text import bundled       # json and importlib only

        try:
            names = bundled.names()
        except Exception:                      # a broken install must not break TAB
            names = []
        items += [CompletionItem(n, help="bundled corpus") for n in names
                  if n.startswith(incomplete)]
    return items


def completion_script(cli, shell):
    """The script that makes ``shell`` complete charlm's commands."""
    cls = get_completion_class(shell)
    return cls(cli, {}, "charlm", COMPLETE_VAR).source()


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell):
    """Print the script that makes SHELL complete charlm's commands and options.

    It completes commands, options, choices (such as --cell), file names, model files
    (*.npz) for -m/--model and --resume, and the names of bundled corpora. Load it in
    the current shell, or add the line to the shell's start-up file:

    \b
      bash:  eval "$(charlm completion bash)"      (in ~/.bashrc)
      zsh:   eval "$(charlm completion zsh)"       (in ~/.zshrc)
      fish:  charlm completion fish | source       (in ~/.config/fish/config.fish)
    """
    root = click.get_current_context().find_root().command
    click.echo(completion_script(root, shell))
