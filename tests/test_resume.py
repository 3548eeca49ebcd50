"""Interrupt, resume, and get exactly the run that never stopped."""

import numpy as np
import pytest

from charlm.store import modelfile
from charlm.lm import session
from charlm.errors import UsageError
from charlm.text.tokens import TextConfig
from charlm.training.trainer import Checkpointed, Evaluated, Finished, Stepped, TrainConfig, Warned


def corpus(tmp_path):
    p = tmp_path / "c.txt"
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota"]
    p.write_text("\n".join(w * (1 + i % 3) for i, w in enumerate(words * 6)) + "\n")
    return str(p)


def losses_of(events):
    return [e.loss for e in events if isinstance(e, Stepped)]


def fresh(tmp_path, steps, dtype, split="lines", **kw):
    # These runs are resumed with a larger --steps: a constant rate is the schedule
    # that does not depend on the stop condition, so the two runs must agree.
    kw.setdefault("lr_schedule", "constant")
    kw.setdefault("lr", 2e-3)
    cfg = TrainConfig(steps=steps, eval_every=4, batch_size=4, seq_len=7, dtype=dtype,
                      seed=5, **kw)
    return session.start([corpus(tmp_path)], TextConfig(split=split), cfg, hidden=9, layers=2,
                         dropout=0.2, output=str(tmp_path / f"m{steps}.npz"))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("split", ["lines", "none"])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, dtype, split):
    a = fresh(tmp_path, 30, dtype, split)
    full = losses_of(a.trainer.run())
    b = fresh(tmp_path, 13, dtype, split)
    first = losses_of(b.trainer.run())
    r = session.resume(b.checkpoint, overrides={"steps": 30})
    assert r.changes == [("steps", 13, 30)]
    second = losses_of(r.trainer.run())
    assert first + second == full                       # bit for bit
    for k, p in a.model.params.items():
        assert r.model.params[k].tobytes() == p.tobytes(), k
    ckpt = modelfile.load(r.checkpoint)
    assert ckpt.training["resume"]["state"]["step"] == 30


def test_stop_request_saves_checkpoint_and_model(tmp_path):
    run = fresh(tmp_path, 100, "float32")
    events = []
    for ev in run.trainer.run():
        events.append(ev)
        if isinstance(ev, Stepped) and ev.step == 3:      # before any evaluation
            run.trainer.request_stop("interrupted")
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.reason == "interrupted"
    assert fin.summary["steps"] == 3
    assert any(isinstance(e, Checkpointed) for e in events)
    # Nothing was saved before the interrupt, so it evaluated once and saved.
    assert modelfile.load(run.output).kind == "model"
    assert modelfile.load(run.checkpoint).kind == "checkpoint"


def test_resume_refuses_architecture_changes_and_allows_harmless_ones(tmp_path):
    b = fresh(tmp_path, 5, "float32")
    list(b.trainer.run())
    with pytest.raises(UsageError, match="batch-size"):
        session.resume(b.checkpoint, overrides={"batch_size": 8, "steps": 10})
    r = session.resume(b.checkpoint, overrides={"lr": 1e-3, "steps": 10})
    assert ("lr", 0.002, 1e-3) in r.changes
    with pytest.raises(UsageError, match="is a model file"):
        session.resume(b.output)


def test_resume_refuses_changed_corpus(tmp_path):
    b = fresh(tmp_path, 5, "float32")
    list(b.trainer.run())
    with open(b.sources[0], "a") as f:
        f.write("omega\n")
    with pytest.raises(UsageError, match="not the one"):
        session.resume(b.checkpoint, overrides={"steps": 10})


def test_resume_with_nothing_left_to_do_says_so(tmp_path):
    b = fresh(tmp_path, 5, "float32")
    list(b.trainer.run())
    r = session.resume(b.checkpoint)
    with pytest.raises(UsageError, match="nothing to do"):
        list(r.trainer.run())


def test_nan_is_survived_by_rolling_back(tmp_path):
    run = fresh(tmp_path, 12, "float32")
    orig_forward = run.model.forward
    calls = {"n": 0}

    def flaky(*a, **k):
        loss, st, cache = orig_forward(*a, **k)
        calls["n"] += 1
        return (float("nan") if calls["n"] == 6 else loss), st, cache

    run.model.forward = flaky
    events = list(run.trainer.run())
    warnings = [e for e in events if isinstance(e, Warned)]
    assert len(warnings) == 1 and "halved" in warnings[0].message
    assert events[-1].reason == "steps" and events[-1].summary["recoveries"] == 1
    assert all(np.isfinite(p).all() for p in modelfile.load(run.output).model.params.values())


def test_divergence_stops_cleanly_and_keeps_best_model(tmp_path):
    from charlm.training.trainer import TrainingDiverged

    good = fresh(tmp_path, 8, "float32")
    list(good.trainer.run())
    before = open(good.output, "rb").read()
    # Resume with an absurd learning rate and no clipping: the weights overflow.
    bad = session.resume(good.checkpoint, overrides={"steps": 60, "lr": 1e38, "clip": 0.0})
    events = []
    with pytest.raises(TrainingDiverged, match="diverged"):
        for ev in bad.trainer.run():
            events.append(ev)
    assert sum(isinstance(e, Warned) for e in events) == 1       # warned once
    assert open(good.output, "rb").read() == before


def test_patience_stops_early(tmp_path):
    cfg = TrainConfig(steps=1000, eval_every=2, batch_size=4, seq_len=7, seed=5, lr=0.5,
                      optimizer="sgd", patience=2)
    run = session.start([corpus(tmp_path)], TextConfig(), cfg, hidden=4,
                        output=str(tmp_path / "m.npz"))
    events = list(run.trainer.run())
    assert events[-1].reason == "patience"
    evals = [e for e in events if isinstance(e, Evaluated)]
    assert not evals[-1].improved and not evals[-2].improved
