"""Pieces shared by the subcommands: options, consoles, model loading."""

import os
import re
import sys

import click
from rich.console import Console

from charlm.errors import UsageError
from charlm.modelfile import DEFAULT_MODEL, MODEL_ENV, default_model_path, load


def model_option(f):
    return click.option(
        "-m", "--model", "model_path", type=click.Path(dir_okay=False),
        help=f"Model file (default: ${MODEL_ENV}, then ./{DEFAULT_MODEL}).")(f)


def load_model(path):
    return load(path or default_model_path())


def progress_option(f):
    return click.option(
        "--progress", type=click.Choice(["auto", "on", "off"]), default="auto",
        show_default=True,
        help="Live progress on stderr; auto shows it only when stderr is a terminal. "
             "off writes plain lines with no escape codes.")(f)


def err_console(progress="auto"):
    """A Rich console on stderr (stdout is for data only). With ``off`` it writes
    plain text: no colour, no cursor movement, whatever the terminal."""
    if progress == "off":
        return Console(stderr=True, force_terminal=False, color_system=None,
                       highlight=False, soft_wrap=True)
    return Console(stderr=True, highlight=False, soft_wrap=True,
                   force_terminal=True if progress == "on" else None)


def stdout_is_tty():
    try:
        return os.isatty(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return False


class Duration(click.ParamType):
    """Seconds, or a number with s/m/h: 90, 90s, 10m, 1.5h."""

    name = "duration"
    _units = {"": 1, "s": 1, "m": 60, "h": 3600}

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([smh]?)\s*", str(value))
        if not m or float(m.group(1)) <= 0:
            self.fail(f"{value!r} is not a duration such as 600, 90s, 10m or 1.5h",
                      param, ctx)
        return float(m.group(1)) * self._units[m.group(2)]


def fail_usage(message):
    raise UsageError(message)
