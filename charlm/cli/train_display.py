"""Rendering training events on stderr: a live Rich panel on a terminal (progress
bar, losses, speed, learning rate, gradient health), plain lines elsewhere; plus the
JSON-lines metrics log and the final summary."""

import json
import math
import os
import signal
import time

from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from charlm.cli.common import live_display
from charlm.training.trainer import Checkpointed, Evaluated, Finished, Sampled, Started, Stepped, Warned

LN2 = math.log(2.0)
REASONS = {"steps": "step limit", "epochs": "epoch limit", "time": "time limit",
           "patience": "no improvement (patience)", "interrupted": "interrupted (Ctrl-C)",
           "terminated": "terminated (SIGTERM)"}


def per_unit(nats, level):
    """Bits per character at char level; perplexity at word level."""
    if nats is None:
        return "n/a"
    if level is None:                    # a tagger: nats per token, as printed
        return "nats/token"
    if level == "line":                  # a classifier: one answer per line
        return "nats/line"
    if level == "char":
        return f"{nats / LN2:.3f} bits/char"
    return f"ppl {math.exp(min(nats, 700)):.1f}"


def fmt_metrics(metrics):
    """Validation metrics other than the loss, e.g. "acc 95.12%  F1 71.3"."""
    if not metrics:
        return ""
    names = {"accuracy": ("acc", lambda v: f"{v:.2%}"), "f1": ("F1", lambda v: f"{100 * v:.1f}"),
             "macro_f1": ("macro-F1", lambda v: f"{100 * v:.1f}"),
             "accuracy2": ("acc₂", lambda v: f"{v:.2%}")}
    parts = []
    for k, v in metrics.items():
        if k == "joint":            # a joint tagger's selection score: F1 (or acc) + acc₂
            continue
        label, fmt = names.get(k, (k, lambda v: f"{v:.4g}"))
        parts.append(f"{label} {'n/a' if v is None else fmt(v)}")
    return "  ".join(parts)


def fmt_count(n):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(int(n))


def fmt_time(seconds):
    if seconds is None or not math.isfinite(seconds):
        return "-:--:--"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class TrainDisplay:
    command = "train"           # what the resume hint names

    def __init__(self, console, progress_mode, quiet, run, log_file=None):
        self.console = console
        self.quiet = quiet
        self.run = run
        self.level = run.text.level if hasattr(run, "text") else None
        self.live_mode = live_display(console, progress_mode, quiet)
        self.live = None
        self.last = None
        self.started = None
        self.eval = None
        self.log_path = log_file
        self.log = None
        self.p0 = None

    # --- output helpers ------------------------------------------------------------------

    def say(self, text, style=None):
        if not self.quiet:
            self.console.print(text, markup=False, highlight=False, style=style)

    def note_stop_request(self, signum):
        name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        self.say(f"{name}: finishing this step and saving (press Ctrl-C again to stop at once)",
                 style="yellow")

    def render(self, events):
        finished = None
        if self.log_path:
            try:
                self.log = open(self.log_path, "a", encoding="utf-8")
            except OSError as e:
                from charlm.errors import OutputError
                raise OutputError(f"{self.log_path}: cannot write the log file: "
                                  f"{e.strerror}") from None
        try:
            for ev in events:
                if isinstance(ev, Started):
                    self.on_started(ev)
                elif isinstance(ev, Stepped):
                    self.on_stepped(ev)
                elif isinstance(ev, Evaluated):
                    self.on_evaluated(ev)
                elif isinstance(ev, Sampled):
                    self.on_sampled(ev)
                elif isinstance(ev, Checkpointed):
                    pass
                elif isinstance(ev, Warned):
                    self.say(f"warning: {ev.message}", style="yellow")
                elif isinstance(ev, Finished):
                    self.stop_live()
                    self.on_finished(ev)
                    finished = ev
        finally:
            self.stop_live()
            if self.log is not None:
                self.log.close()
        return finished

    # --- events ----------------------------------------------------------------------------

    def on_started(self, ev):
        self.started = ev
        run, p, m = self.run, self.run.prepared, self.run.model.config
        if run.resumed_from:
            self.say(f"resuming {run.resumed_from} at step {ev.start_step}")
            for key, old, new in run.changes:
                self.say(f"  changed {key.replace('_', '-')}: {old} → {new}")
        unit = run.text.unit
        if run.dev:
            self.say(f"corpus  {', '.join(run.sources)}: {fmt_count(ev.train_tokens)} "
                     f"training {unit}s; vocabulary {len(p.vocab)} ({p.unk_rate:.2%} "
                     f"of training {unit}s are UNK)")
            self.say(f"dev     {', '.join(run.dev)}: {fmt_count(ev.val_tokens)} validation "
                     f"{unit}s ({p.val_unk_rate:.2%} UNK)")
        else:
            self.say(f"corpus  {', '.join(run.sources)}: {fmt_count(ev.train_tokens)} "
                     f"training + {fmt_count(ev.val_tokens)} validation {unit}s; vocabulary "
                     f"{len(p.vocab)} ({p.unk_rate:.2%} of training {unit}s are UNK)")
        self.say(f"model   {m.cell.upper()} {m.layers}×{m.hidden}"
                 f"{f', embedding {m.embed}' if m.embed else ''}, "
                 f"{fmt_count(ev.num_params)} parameters; {ev.steps_per_epoch} steps per epoch")
        self.say(f"output  {run.output} (best model), {run.checkpoint} (checkpoint)")
        self._start_live()

    def _start_live(self):
        workers = getattr(self.started, "workers", 1)
        if workers > 1:
            self.say(f"workers {workers} processes, each training its share of every batch")
        if self.live_mode:
            self.live = Live(get_renderable=self.panel, console=self.console,
                             refresh_per_second=4, transient=True, redirect_stdout=False,
                             redirect_stderr=False)
            self.live.start()

    def on_stepped(self, ev):
        self.last = ev
        if self.p0 is None:
            self.p0 = (time.perf_counter(), ev.progress)

    def on_evaluated(self, ev):
        self.eval = ev
        if self.log is not None:
            rec = {"step": ev.step, "epoch": round(ev.epoch, 4), "tokens": ev.tokens,
                   "time": round(ev.elapsed, 3), "train_loss": ev.train_loss,
                   "val_loss": ev.val_loss, "lr": ev.lr, "grad_norm": ev.grad_norm,
                   "best_val_loss": ev.best_val_loss, "saved": ev.saved}
            if ev.metrics is not None:
                rec.update({f"val_{k}": v for k, v in ev.metrics.items()})
            if ev.val_loss is not None:
                if self.level == "char":
                    rec["val_bits_per_char"] = ev.val_loss / LN2
                elif self.level != "line":
                    rec["val_perplexity"] = math.exp(min(ev.val_loss, 700))
            try:
                self.log.write(json.dumps(rec) + "\n")
                self.log.flush()
            except OSError as e:        # a full disk: the model and checkpoint matter more
                self.say(f"warning: {self.log_path}: cannot write the log file "
                         f"({e.strerror}); logging stopped", style="yellow")
                self.log = None
        val = ("val n/a" if ev.val_loss is None else
               f"val {ev.val_loss:.4f} ({per_unit(ev.val_loss, self.level)})")
        train = "n/a" if ev.train_loss is None else f"{ev.train_loss:.4f}"
        mark = "  saved" if ev.saved else ""
        extra = fmt_metrics(ev.metrics)
        extra = f"  {extra}" if extra else ""
        self.say(f"step {ev.step:>7}  epoch {ev.epoch:7.2f}  train {train}  {val}{extra}{mark}")

    def on_sampled(self, ev):
        text = ev.text.replace("\n", " ⏎ ")
        self.say(f"  sample: {text}", style="dim")

    # --- the live panel --------------------------------------------------------------------

    def _eta(self, ev):
        if self.p0 is None or ev.progress <= self.p0[1]:
            return None
        spent = time.perf_counter() - self.p0[0]
        return spent * (1.0 - ev.progress) / (ev.progress - self.p0[1])

    def panel(self):
        ev = self.last
        if ev is None:
            return Text("starting…", style="dim")
        total = self.started.total_steps
        steps = f"step {ev.step}" + (f"/{total}" if total else "")
        top = Table.grid(padding=(0, 1))
        top.add_row(ProgressBar(total=1.0, completed=ev.progress, width=32),
                    Text(f"{ev.progress:4.0%}"), Text(steps),
                    Text(f"epoch {ev.epoch:.2f}"),
                    Text(f"{fmt_time(ev.elapsed)} elapsed"),
                    Text(f"{fmt_time(self._eta(ev))} left"))
        val = ("val -" if self.eval is None or self.eval.val_loss is None else
               f"val {self.eval.val_loss:.3f} ({per_unit(self.eval.val_loss, self.level)})")
        if self.eval is not None and self.eval.metrics:
            val += "  " + fmt_metrics(self.eval.metrics)
        workers = getattr(self.started, "workers", 1)
        on = f" on {workers} workers" if workers > 1 else ""
        stats = Text(f"loss {ev.smooth_loss:.3f} ({per_unit(ev.smooth_loss, self.level)})  "
                     f"{val}  {fmt_count(ev.tokens_per_sec)} tok/s{on}  lr {ev.lr:.2e}  "
                     f"|g| {ev.grad_norm:.2f}  clipped {ev.clipped_fraction:.1%}")
        return Group(top, stats)

    def stop_live(self):
        if self.live is not None:
            self.live.stop()
            self.live = None

    # --- the end ---------------------------------------------------------------------------

    def on_finished(self, ev):
        s = ev.summary
        if ev.reason in ("interrupted", "terminated"):
            # Said even with --quiet: the user needs the way back.
            self.console.print(
                f"stopped at step {s['steps']}; checkpoint saved to {self.run.checkpoint}; "
                f"the best model so far is in {self.run.output}\n"
                f"resume with: charlm {self.command} --resume {self.run.checkpoint}",
                markup=False, highlight=False)
        if self.quiet:
            return
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        table.add_row("stopped by", f"{REASONS.get(ev.reason, ev.reason)} at step {s['steps']}")
        self.quality_rows(table, s)
        on = f" on {s['workers']} workers" if s.get("workers", 1) > 1 else ""
        table.add_row("tokens", f"{fmt_count(s['tokens'])} in {fmt_time(s['seconds'])} "
                                f"({fmt_count(s['tokens_per_sec'] or 0)} tok/s{on})")
        table.add_row("clipped", f"{s['clipped_fraction']:.1%} of steps")
        if s.get("recoveries"):
            table.add_row("NaN recoveries", str(s["recoveries"]))
        size = os.path.getsize(self.run.output) if os.path.exists(self.run.output) else 0
        table.add_row("model", f"{self.run.output} ({fmt_count(size)}B, "
                               f"{fmt_count(self.run.model.config.num_params())} parameters)")
        table.add_row("checkpoint", self.run.checkpoint)
        self.console.print(table)

    def quality_rows(self, table, s):
        """The summary's rows on how good the model is (the tagger shows its own)."""
        if s["best_val_loss"] is not None:
            table.add_row("best val loss", f"{s['best_val_loss']:.4f} nats "
                                           f"({per_unit(s['best_val_loss'], self.level)}) "
                                           f"at step {s['best_step']}")
        if s["train_loss"] is not None:
            table.add_row("train loss", f"{s['train_loss']:.4f} nats "
                                        f"({per_unit(s['train_loss'], self.level)})")

    def summary_json(self, ev):
        s = dict(ev.summary)
        s.pop("config", None)
        out = {"reason": ev.reason, **s, "model": self.run.output,
               "checkpoint": self.run.checkpoint,
               "parameters": self.run.model.config.num_params()}
        if os.path.exists(self.run.output):
            out["model_bytes"] = os.path.getsize(self.run.output)
        if s.get("best_val_loss") is not None:
            out["best_val_bits"] = s["best_val_loss"] / LN2
        return out
