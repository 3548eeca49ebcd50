"""Rendering a classifier's training: the tagger's display (best dev accuracy in the
summary) with the data and model described as a classifier's."""

from charlm.cli.tagger_display import TaggerDisplay
from charlm.cli.train_display import fmt_count


class ClassifierDisplay(TaggerDisplay):
    command = "train-classifier"

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.level = "line"            # the loss is per line, whatever the tokens are

    def start_lines(self, ev):
        run, st, m = self.run, self.run.stats, self.run.model.config
        dev = "held out from the training file" if st["dev_held_out"] else "dev"
        bi = "Bi" if m.bidirectional else ""
        return [f"note    {note}" for note in run.notes] + [
            f"data    {', '.join(run.sources)}: {st['train_lines']:,} lines, "
            f"{fmt_count(ev.train_tokens)} tokens for training; {st['dev_lines']:,} lines {dev}",
            f"vocab   {st['vocab']:,} tokens ({st['unk_rate']:.2%} of training tokens UNK), "
            f"{st['labels']} labels",
            f"model   {bi}{m.cell.upper()} {m.layers}×{m.hidden}"
            f"{' per direction' if m.bidirectional else ''}, embedding {m.embed}, pooling "
            f"{m.pool}; {fmt_count(ev.num_params)} parameters; {ev.steps_per_epoch} steps "
            "per epoch",
            f"output  {run.output} (best model by dev accuracy), {run.checkpoint} (checkpoint)"]
