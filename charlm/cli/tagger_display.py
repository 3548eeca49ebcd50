"""Rendering a tagger's training: the language model's display
(:mod:`charlm.cli.train_display`) with the data and model described as a tagger's and
the best dev accuracy (entity F1) in the summary."""

import os

from rich.table import Table

from charlm.cli.train_display import REASONS, TrainDisplay, fmt_count, fmt_metrics, fmt_time


class TaggerDisplay(TrainDisplay):
    command = "train-tagger"

    def on_started(self, ev):
        self.started = ev
        run, st, m = self.run, self.run.stats, self.run.model.config
        if run.resumed_from:
            self.say(f"resuming {run.resumed_from} at step {ev.start_step}")
            for key, old, new in run.changes:
                self.say(f"  changed {key.replace('_', '-')}: {old} → {new}")
        dev = ("held out from the training file" if st["dev_held_out"] else "dev")
        self.say(f"data    {', '.join(run.sources)}: {st['train_sentences']:,} sentences, "
                 f"{fmt_count(ev.train_tokens)} tokens for training; "
                 f"{st['dev_sentences']:,} sentences, {fmt_count(ev.val_tokens)} tokens {dev}")
        scheme = f", entity scheme {run.scheme.upper()}" if run.scheme else ""
        self.say(f"vocab   {len(run.vocab.words):,} words ({st['unk_rate']:.2%} of training, "
                 f"{st['dev_unk_rate']:.2%} of dev tokens UNK), {len(run.vocab.chars)} "
                 f"characters, {len(run.vocab.tags)} tags{scheme}")
        self.say(f"model   Bi{m.cell.upper()} {m.layers}×{m.hidden} per direction, word "
                 f"embedding {m.embed}, character Bi{m.cell.upper()} {m.char_hidden}; "
                 f"{fmt_count(ev.num_params)} parameters; {ev.steps_per_epoch} steps per epoch")
        self.say(f"output  {run.output} (best model by dev "
                 f"{'entity F1' if run.scheme else 'accuracy'}), {run.checkpoint} (checkpoint)")
        self._start_live()

    def on_finished(self, ev):
        s = ev.summary
        if ev.reason in ("interrupted", "terminated"):
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
        if s.get("best_metrics"):
            table.add_row("best dev", f"{fmt_metrics(s['best_metrics'])}  (loss "
                                      f"{s['best_val_loss']:.4f}) at step {s['best_step']}")
        if s["train_loss"] is not None:
            table.add_row("train loss", f"{s['train_loss']:.4f} nats/token")
        table.add_row("tokens", f"{fmt_count(s['tokens'])} in {fmt_time(s['seconds'])} "
                                f"({fmt_count(s['tokens_per_sec'] or 0)} tok/s)")
        table.add_row("clipped", f"{s['clipped_fraction']:.1%} of steps")
        if s.get("recoveries"):
            table.add_row("NaN recoveries", str(s["recoveries"]))
        size = os.path.getsize(self.run.output) if os.path.exists(self.run.output) else 0
        table.add_row("model", f"{self.run.output} ({fmt_count(size)}B, "
                               f"{fmt_count(self.run.model.config.num_params())} parameters)")
        table.add_row("checkpoint", self.run.checkpoint)
        self.console.print(table)

    def summary_json(self, ev):
        out = super().summary_json(ev)
        out.pop("best_val_bits", None)
        return out
