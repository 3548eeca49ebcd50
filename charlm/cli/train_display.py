"""Rendering training events on stderr: a live Rich progress bar on a terminal,
plain lines elsewhere."""

import math
import os

from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table

from charlm.train import Evaluated, Finished, Started, Stepped

LN2 = math.log(2.0)


def fmt_loss(nats, level):
    """'1.234 nats (1.780 bits/char)' or, at word level, with the perplexity."""
    if nats is None:
        return "n/a"
    if level == "char":
        return f"{nats:.4f} nats ({nats / LN2:.3f} bits/char)"
    return f"{nats:.4f} nats ({nats / LN2:.3f} bits/word, ppl {math.exp(min(nats, 700)):.1f})"


def fmt_count(n):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(int(n))


class TrainDisplay:
    def __init__(self, console, progress_mode, quiet, run):
        self.console = console
        self.quiet = quiet
        self.run = run
        self.level = run.text.level
        live = progress_mode == "on" or (progress_mode == "auto" and console.is_terminal)
        self.live = live and not quiet
        self.progress = None
        self.task = None
        self.last = None

    def say(self, text):
        if not self.quiet:
            self.console.print(text, markup=False, highlight=False)

    def render(self, events):
        try:
            for ev in events:
                if isinstance(ev, Started):
                    self.started(ev)
                elif isinstance(ev, Stepped):
                    self.stepped(ev)
                elif isinstance(ev, Evaluated):
                    self.evaluated(ev)
                elif isinstance(ev, Finished):
                    self.stop_progress()
                    self.finished(ev)
        finally:
            self.stop_progress()

    def started(self, ev):
        p = self.run.prepared
        m = self.run.model.config
        self.say(f"corpus: {', '.join(self.run.sources)}: {fmt_count(ev.train_tokens)} training "
                 f"and {fmt_count(ev.val_tokens)} validation {self.run.text.unit}s, "
                 f"vocabulary {len(p.vocab)} ({p.unk_rate:.2%} UNK)")
        self.say(f"model: {m.cell.upper()} {m.layers}×{m.hidden}, "
                 f"{fmt_count(ev.num_params)} parameters; "
                 f"{ev.steps_per_epoch} steps per epoch; writing {self.run.output}")
        if self.live:
            self.progress = Progress(
                TextColumn("[bold]train[/]"), BarColumn(), TaskProgressColumn(),
                TextColumn("step {task.fields[step]}"),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[rate]} tok/s"),
                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                console=self.console, transient=True, redirect_stdout=False,
                redirect_stderr=False)
            self.progress.start()
            self.task = self.progress.add_task("train", total=1.0, step=0, loss="-", rate="-")

    def stepped(self, ev):
        self.last = ev
        if self.progress is not None:
            self.progress.update(self.task, completed=ev.progress, step=ev.step,
                                 loss=f"{ev.smooth_loss:.3f}",
                                 rate=fmt_count(ev.tokens_per_sec))

    def evaluated(self, ev):
        last = self.last
        line = (f"step {ev.step:>6}  epoch {last.epoch:6.2f}  "
                f"train {ev.train_loss:.4f}  val {fmt_loss(ev.val_loss, self.level)}")
        if ev.improved and ev.saved:
            line += "  saved"
        elif ev.saved:
            line += "  saved (no validation part)"
        line += f"  {fmt_count(last.tokens_per_sec)} tok/s"
        self.say(line)

    def stop_progress(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def finished(self, ev):
        if self.quiet:
            return
        s = ev.summary
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        reason = {"steps": "step limit", "epochs": "epoch limit", "time": "time limit"}
        table.add_row("stopped at", f"{reason.get(ev.reason, ev.reason)} (step {s['steps']})")
        table.add_row("train loss", fmt_loss(s["train_loss"], self.level))
        if s["best_val_loss"] is not None:
            table.add_row("best val loss", f"{fmt_loss(s['best_val_loss'], self.level)} "
                                           f"at step {s['best_step']}")
        table.add_row("tokens", f"{fmt_count(s['tokens'])} in {s['seconds']:.1f} s "
                                f"({fmt_count(s['tokens_per_sec'] or 0)} tok/s)")
        table.add_row("clipped", f"{s['clipped_fraction']:.1%} of steps")
        size = os.path.getsize(self.run.output) if os.path.exists(self.run.output) else 0
        table.add_row("model", f"{self.run.output} ({fmt_count(size)}B, "
                               f"{fmt_count(self.run.model.config.num_params())} parameters)")
        self.console.print(table)
