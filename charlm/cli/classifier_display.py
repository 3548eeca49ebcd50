"""Rendering a classifier's training: the tagger's display (best dev accuracy in the
summary) with the data and model described as a classifier's."""

from charlm.cli.tagger_display import TaggerDisplay
from charlm.cli.train_display import fmt_count


class ClassifierDisplay(TaggerDisplay):
    command = "train-classifier"

    def on_started(self, ev):
        self.started = ev
        run, st, m = self.run, self.run.stats, self.run.model.config
        if run.resumed_from:
            self.say(f"resuming {run.resumed_from} at step {ev.start_step}")
            for key, old, new in run.changes:
                self.say(f"  changed {key.replace('_', '-')}: {old} → {new}")
        for note in run.notes:
            self.say(f"note    {note}", style="yellow")
        dev = "held out from the training file" if st["dev_held_out"] else "dev"
        self.say(f"data    {', '.join(run.sources)}: {st['train_lines']:,} lines, "
                 f"{fmt_count(ev.train_tokens)} tokens for training; "
                 f"{st['dev_lines']:,} lines {dev}")
        self.say(f"vocab   {st['vocab']:,} tokens ({st['unk_rate']:.2%} of training tokens "
                 f"UNK), {st['labels']} labels")
        bi = "Bi" if m.bidirectional else ""
        self.say(f"model   {bi}{m.cell.upper()} {m.layers}×{m.hidden}"
                 f"{' per direction' if m.bidirectional else ''}, embedding {m.embed}, "
                 f"pooling {m.pool}; {fmt_count(ev.num_params)} parameters; "
                 f"{ev.steps_per_epoch} steps per epoch")
        self.say(f"output  {run.output} (best model by dev accuracy), {run.checkpoint} "
                 "(checkpoint)")
        self._start_live()
