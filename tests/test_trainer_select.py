"""The shared Trainer selecting the best model by a metric (higher is better) that
``evaluate`` returns next to the loss, as the tagger uses it."""

import numpy as np

from charlm.training.trainer import Evaluated, Finished, Trainer, TrainConfig


class Scripted:
    """A one-parameter model whose validation results follow a script."""

    def __init__(self, script):
        self.params = {"w": np.zeros(1)}
        self.script = list(script)

    def forward(self, x, y, mask, state, rng, train):
        return 1.0, None, None

    def backward(self, cache):
        return {"w": np.ones(1)}

    def evaluate(self, batches):
        loss, acc = self.script.pop(0)
        return {"loss": loss, "accuracy": acc}

    def num_params(self):
        return 1

    def chance_loss(self):
        return 2.0


class OneBatch:
    def epoch(self, rng=None):
        return [(np.zeros((1, 1)), np.zeros((1, 1)), np.ones((1, 1)))]

    def tokens(self):
        return 1


def run(script, select, patience=None):
    saved = []
    model = Scripted(script)
    cfg = TrainConfig(steps=len(script), eval_every=1, patience=patience)
    trainer = Trainer(model, OneBatch(), OneBatch(), cfg, np.random.default_rng(0),
                      save_model=lambda info: saved.append(info["steps"]), select=select)
    events = list(trainer.run())
    return trainer, saved, events


def test_best_by_metric_not_by_loss():
    # the loss keeps falling while the accuracy peaks at step 2
    script = [(1.0, 0.5), (0.9, 0.8), (0.8, 0.7), (0.7, 0.6)]
    trainer, saved, events = run(script, "accuracy")
    assert saved == [1, 2]
    assert trainer.state.best_step == 2 and trainer.state.best_val == 0.9
    assert trainer.state.best_metrics == {"accuracy": 0.8}
    evals = [e for e in events if isinstance(e, Evaluated)]
    assert [e.metrics["accuracy"] for e in evals] == [0.5, 0.8, 0.7, 0.6]
    assert events[-1].summary["best_metrics"] == {"accuracy": 0.8}
    # the same run selected by loss keeps the last model
    trainer, saved, _ = run(script, None)
    assert saved == [1, 2, 3, 4] and trainer.state.best_step == 4


def test_patience_counts_by_the_metric():
    script = [(1.0, 0.5), (0.9, 0.8), (0.8, 0.7), (0.7, 0.6), (0.6, 0.9)]
    trainer, saved, events = run(script, "accuracy", patience=2)
    assert isinstance(events[-1], Finished) and events[-1].reason == "patience"
    assert trainer.state.step == 4 and saved == [1, 2]
