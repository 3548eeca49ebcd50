"""Rendering a tagger's training: the language model's display
(:mod:`charlm.cli.train_display`) with the data and model described as a tagger's and
the best dev accuracy (entity F1) in the summary."""

from charlm.cli.train_display import TrainDisplay, fmt_count, fmt_metrics


def lm_note(m):
    """The model line's words on character-LM features (", character-LM features
    256 → + 256 ← (frozen)"), or nothing for a tagger without them."""
    parts = [f"{w} {arrow}" for w, arrow in ((m.lm_forward, "→"), (m.lm_backward, "←")) if w]
    return f", character-LM features {' + '.join(parts)} (frozen)" if parts else ""


class TaggerDisplay(TrainDisplay):
    command = "train-tagger"

    def on_started(self, ev):
        self.started = ev
        run = self.run
        if run.resumed_from:
            self.say(f"resuming {run.resumed_from} at step {ev.start_step}")
            for key, old, new in run.changes:
                self.say(f"  changed {key.replace('_', '-')}: {old} → {new}")
        for line in self.start_lines(ev):
            self.say(line)
        self._start_live()

    def start_lines(self, ev):
        """What the run reads, learns and writes, one line each."""
        run, st, m = self.run, self.run.stats, self.run.model.config
        dev = ("held out from the training file" if st["dev_held_out"] else "dev")
        scheme = f", entity scheme {run.scheme.upper()}" if run.scheme else ""
        column2 = run.second_column
        if column2:
            scheme += f"; a second layer of {len(run.vocab.tags2)} {column2} tags (acc₂)"
        selected = "entity F1" if run.scheme else "accuracy"
        if column2:
            selected += f" + {column2} accuracy"
        return [
            f"data    {', '.join(run.sources)}: {st['train_sentences']:,} sentences, "
            f"{fmt_count(ev.train_tokens)} tokens for training; "
            f"{st['dev_sentences']:,} sentences, {fmt_count(ev.val_tokens)} tokens {dev}",
            f"vocab   {len(run.vocab.words):,} words ({st['unk_rate']:.2%} of training, "
            f"{st['dev_unk_rate']:.2%} of dev tokens UNK), {len(run.vocab.chars)} "
            f"characters, {len(run.vocab.tags)} tags{scheme}",
            f"model   Bi{m.cell.upper()} {m.layers}×{m.hidden} per direction, word "
            f"embedding {m.embed}, character Bi{m.cell.upper()} {m.char_hidden}"
            f"{lm_note(m)}; {fmt_count(ev.num_params)} parameters; "
            f"{ev.steps_per_epoch} steps per epoch",
            f"output  {run.output} (best model by dev {selected}), {run.checkpoint} "
            "(checkpoint)"]

    def quality_rows(self, table, s):
        if s.get("best_metrics"):
            table.add_row("best dev", f"{fmt_metrics(s['best_metrics'])}  (loss "
                                      f"{s['best_val_loss']:.4f}) at step {s['best_step']}")
        if s["train_loss"] is not None:
            table.add_row("train loss", f"{s['train_loss']:.4f} nats/token")

    def summary_json(self, ev):
        out = super().summary_json(ev)
        out.pop("best_val_bits", None)
        return out
