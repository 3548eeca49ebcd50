"""Pieces shared by the subcommands: options, consoles, model loading."""

import math
import os
import re
import sys
import time

import click

from charlm.cli.completion import complete_model
from charlm.store import DEFAULT_MODEL, MODEL_ENV, default_model_path
from charlm.text import LEVELS, NORMALIZATIONS, SPLITS

# Command modules import only click and light parts of charlm at load time, so that
# answering a TAB (shell completion) never loads NumPy, the engine or rich: heavy
# imports go inside the functions that run a command.


def model_option(f):
    return click.option(
        "-m", "--model", "model_path", type=click.Path(dir_okay=False),
        shell_complete=complete_model,
        help=f"Model file (default: ${MODEL_ENV}, then ./{DEFAULT_MODEL}).")(f)


def load_model(path):
    """A language model; a file of another kind is refused in one line."""
    from charlm.store.modelfile import load

    return load(path or default_model_path())


def run_file_options(noun, command, default_file, default_help=None, best="so far"):
    """The options every trainer shares about its files: -o/--output, --force,
    --resume, --checkpoint and --checkpoint-every, worded for its ``noun`` ("model",
    "tagger", …) and ``command`` ("train", …). ``default_file``: what -o defaults to
    (``default_help`` says so when there is more to it, e.g. an environment variable);
    ``best``: how the kept model is the best ("by validation loss")."""
    default_help = default_help or f"[default: ./{default_file}]"
    stem = default_file.rsplit(".", 1)[0]
    options = [
        click.option("-o", "--output", type=click.Path(dir_okay=False),
                     help=f"{noun.capitalize()} file to write {default_help}. It always "
                          f"holds the best model {best}."),
        click.option("--force", is_flag=True,
                     help=f"Replace the {noun} file or checkpoint even if another run "
                          f"wrote it (by default {command} refuses, so that a typo in -o "
                          f"never destroys a trained {noun})."),
        click.option("--resume", "resume_path", type=click.Path(dir_okay=False),
                     shell_complete=complete_model,
                     help="Continue the run saved in this checkpoint, exactly where it "
                          "stopped."),
        click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False),
                     shell_complete=complete_model,
                     help=f"Where to write checkpoints [default: the {noun} file's name "
                          f"with .ckpt.npz, e.g. {stem}.ckpt.npz]."),
        click.option("--checkpoint-every", type=click.IntRange(0), default=None,
                     help="Steps between checkpoints; 0: only at the end and on interrupt "
                          "[default: at every validation]."),
    ]

    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f
    return decorate


def progress_option(f):
    return click.option(
        "--progress", type=click.Choice(["auto", "on", "off"]), default="auto",
        show_default=True,
        help="Live progress on stderr; auto shows it only when stderr is a terminal. "
             "off writes plain lines with no escape codes.")(f)


def encoding_errors_option(f):
    return click.option(
        "--encoding-errors", type=click.Choice(["strict", "replace"]), default="strict",
        show_default=True,
        help="Invalid UTF-8: stop with an error, or replace it with U+FFFD.")(f)


def labelled_options(prefix="TSV/CSV: "):
    """How the columns of labelled lines are found (train-classifier, evaluate)."""
    options = [
        click.option("--text-col", default=None,
                     help=f"{prefix}the text column, an index (0 the first, -1 the last) "
                          "or a header name [default: detected]."),
        click.option("--label-col", default=None,
                     help=f"{prefix}the label column, an index or a header name "
                          "[default: the column with the fewest distinct values]."),
        click.option("--header/--no-header", default=None,
                     help=f"{prefix}the first line names the columns [default: detected]."),
    ]

    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f
    return decorate


def err_console(progress="auto"):
    """A Rich console on stderr (stdout is for data only). With ``off`` it writes
    plain text: no colour, no cursor movement, whatever the terminal."""
    from rich.console import Console

    if progress == "off":
        return Console(stderr=True, force_terminal=False, color_system=None,
                       highlight=False, soft_wrap=True)
    return Console(stderr=True, highlight=False, soft_wrap=True,
                   force_terminal=True if progress == "on" else None)


def read_stdin_corpus(corpus):
    """The bytes of standard input when ``-`` is among the corpus arguments. A
    terminal on stdin would mean a silent wait for typed text: refused with a hint."""
    if "-" not in corpus:
        return None
    if sys.stdin.isatty():
        raise click.UsageError("- reads the corpus from standard input, which is a "
                               "terminal: pipe text in (cat corpus.txt | charlm ...) "
                               "or name the files")
    return sys.stdin.buffer.read()


def stderr_is_tty():
    try:
        return os.isatty(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False


def stdout_is_tty():
    try:
        return os.isatty(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return False


class FiniteRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf (which compare as in range)."""

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if not math.isfinite(value):
            self.fail(f"{value} is not a finite number", param, ctx)
        return value


class Average(click.ParamType):
    """δ of the moving average of the weights: a number in [0, 1), or ``epoch``
    (None: about the last epoch)."""

    name = "average"

    def convert(self, value, param, ctx):
        if value is None or value == "epoch":
            return None
        if isinstance(value, float):
            return value
        try:
            d = float(value)
        except ValueError:
            d = math.nan
        if not (math.isfinite(d) and 0.0 <= d < 1.0):
            self.fail(f"{value!r} is neither 'epoch' nor a number in [0, 1)", param, ctx)
        return d


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



def text_options(f=None, *, split=True, level="char"):
    """Options that decide how text becomes tokens (shared with other commands).
    ``@text_options``, or ``@text_options(split=False, level="word")`` for a command
    that reads one example per line whatever --split would say, with another default
    level."""
    if f is None:
        return lambda g: text_options(g, split=split, level=level)
    options = [
        click.option("--level", type=click.Choice(LEVELS), default=level, show_default=True,
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
        encoding_errors_option,
    ]
    if not split:
        del options[1]
    for option in reversed(options):
        f = option(f)
    return f



def _stack(options):
    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f
    return decorate


def schedule_options(lr, lr_default_help=None):
    """How every trainer steps: --lr (default ``lr``; None with ``lr_default_help`` when
    the command decides), its schedule, --clip, --optimizer and --average."""
    from charlm.training.schedule import DEFAULT_SCHEDULE, SCHEDULES

    return _stack([
        click.option("--lr", type=FiniteRange(0, min_open=True), default=lr,
                     show_default=lr is not None,
                     help="Learning rate" + (f" [default: {lr_default_help}]." if lr is None
                                             else ".")),
        click.option("--lr-schedule", type=click.Choice(SCHEDULES), default=DEFAULT_SCHEDULE,
                     show_default=True,
                     help="constant; step: multiply by --lr-decay every --lr-decay-every "
                          "epochs; cosine: down to --min-lr when training ends."),
        click.option("--warmup", type=click.IntRange(0), default=0, show_default=True,
                     help="Steps of linear learning-rate warm-up."),
        click.option("--lr-decay", type=FiniteRange(0, 1, min_open=True), default=0.5,
                     show_default=True, help="Factor of the step schedule."),
        click.option("--lr-decay-every", type=FiniteRange(0, min_open=True), default=5.0,
                     show_default=True, help="Epochs between steps of the step schedule."),
        click.option("--min-lr", type=FiniteRange(0), default=None,
                     help="Final rate of the cosine schedule [default: --lr / 10]."),
        click.option("--clip", type=FiniteRange(0), default=5.0, show_default=True,
                     help="Clip the gradient's global norm to this; 0 turns clipping off."),
        click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam",
                     show_default=True, help="Update rule."),
        click.option("--average", type=Average(), default="epoch", show_default=True,
                     metavar="D|epoch",
                     help="Validate and save a moving average of the weights, "
                          "avg ← δ avg + (1-δ) θ after every step: over about the last "
                          "1/(1-δ) steps; epoch: δ = 1 - 1/(steps per epoch); 0: the "
                          "weights as they are."),
    ])


def stop_options(what, epochs, eval_every="once an epoch"):
    """When every trainer stops and validates: --steps, --epochs (``what`` is a pass
    over, by default ``epochs`` of them when no stop condition is given), --time,
    --patience, --eval-every (by default ``eval_every``)."""
    return _stack([
        click.option("--steps", type=click.IntRange(1), default=None,
                     help="Stop after this many updates in total."),
        click.option("--epochs", type=FiniteRange(0, min_open=True), default=None,
                     help=f"Stop after this many passes over {what} "
                          f"[default: {epochs} when no stop condition is given]."),
        click.option("--time", "time_limit", type=Duration(), default=None,
                     help="Stop after this much training time in total: seconds, or 90s, "
                          "10m, 1.5h."),
        click.option("--patience", type=click.IntRange(1), default=None,
                     help="Stop after this many validations in a row without improvement."),
        click.option("--eval-every", type=click.IntRange(1), default=None,
                     help=f"Steps between validations [default: {eval_every}]."),
    ])


def report_options(f):
    """What every trainer prints: --progress, --quiet, --log-file, --json."""
    return _stack([
        progress_option,
        click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors."),
        click.option("--log-file", type=click.Path(dir_okay=False),
                     help="Append one JSON object per validation to this file (JSON lines)."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print a JSON summary on stdout at the end."),
    ])(f)

class ReadingProgress:
    """A transient Rich bar for reading a big corpus (only when the display is live
    and the corpus is large enough to take a while). Use as a context manager; the
    instance is the engine's ``progress(done, total)`` callback."""

    MIN_BYTES = 4 << 20

    def __init__(self, console, live):
        self.console, self.live = console, live
        self.bar = None
        self.task = None

    def __call__(self, done, total):
        if not self.live or total < self.MIN_BYTES:
            return
        if self.bar is None:
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                       TimeRemainingColumn, TransferSpeedColumn)

            self.bar = Progress(TextColumn("reading corpus"), BarColumn(), DownloadColumn(),
                                TransferSpeedColumn(), TimeRemainingColumn(),
                                console=self.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("read", total=total)
        self.bar.update(self.task, completed=done)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False


def live_display(console, progress, quiet=False):
    """Whether a live (cursor-moving) display should be drawn."""
    if quiet or progress == "off":
        return False
    return progress == "on" or console.is_terminal


class Ticker:
    """A one-line status on stderr for work that may take long (``charlm score`` of a
    huge line): how much is done and how fast. It appears only when ``live`` and after
    ``delay`` seconds, is redrawn at most a few times a second, and :meth:`clear` wipes
    it before data goes to the same terminal. The instance is the engine's
    ``progress(done)`` callback."""

    REDRAW = 0.25

    def __init__(self, live, label, unit, delay=1.0, stream=None):
        self.live, self.label, self.unit, self.delay = live, label, unit, delay
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.drawn_at = None
        self.done = 0
        self.shown = False

    def __call__(self, done):
        self.done += done
        if not self.live:
            return
        now = time.monotonic()
        if now - self.start < self.delay:
            return
        if self.drawn_at is not None and now - self.drawn_at < self.REDRAW:
            return
        self.drawn_at = now
        rate = self.done / max(now - self.start, 1e-9)
        text = (f"{self.label}: {self.done:,} {self.unit} in {now - self.start:,.0f} s "
                f"({rate:,.0f} {self.unit}/s)")
        try:
            self.stream.write("\r\x1b[K" + text)
            self.stream.flush()
            self.shown = True
        except (OSError, ValueError):
            self.live = False

    def clear(self):
        if self.shown:
            try:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self.shown = False
            self.drawn_at = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.clear()
        return False
