"""The moving average of the weights (--average): what it is, that it changes nothing
about training, that it is what gets validated and saved, and that it resumes."""

import numpy as np
import pytest

from charlm.engine.optim import SGD, Adam
from charlm.errors import UsageError
from charlm.lm import session
from charlm.store import modelfile
from charlm.text.tokens import TextConfig
from charlm.training.trainer import Evaluated, Stepped, TrainConfig


@pytest.mark.parametrize("make", [lambda p, d: SGD(p, 0.1, average=d),
                                  lambda p, d: Adam(p, 0.05, average=d)])
def test_the_average_is_the_bias_corrected_weighted_mean(make):
    rng = np.random.default_rng(3)
    d = 0.8
    p = {"w": rng.normal(size=5)}
    opt = make(p, d)
    assert opt.averaged() is None                       # nothing to average yet
    seen = []
    for _ in range(7):
        opt.step(p, {"w": rng.normal(size=5)})
        seen.append(p["w"].copy())
    t = len(seen)
    weights = np.array([(1 - d) * d ** (t - 1 - i) for i in range(t)])
    want = (weights[:, None] * np.array(seen)).sum(0) / (1 - d ** t)
    assert np.allclose(opt.averaged()["w"], want, rtol=1e-12)
    assert np.isclose(weights.sum() / (1 - d ** t), 1.0)
    # After one step the average is that step's weights.
    q = {"w": np.zeros(3)}
    one = make(q, d)
    one.step(q, {"w": np.ones(3)})
    assert np.allclose(one.averaged()["w"], q["w"])


def test_average_state_round_trips_and_starts_from_the_weights_when_missing():
    p = {"w": np.array([1.0, 2.0])}
    a = Adam(p, 0.1, average=0.9)
    for g in ([1.0, -1.0], [0.5, 0.5], [-2.0, 1.0]):
        a.step(p, {"w": np.array(g)})
    arrays = {k: v.copy() for k, v in a.state_arrays().items()}
    assert set(arrays) == {"m/w", "v/w", "avg/w"}
    b = Adam({"w": p["w"].copy()}, 0.1, average=0.9)
    b.load_state_arrays(arrays, a.t)
    assert np.array_equal(b.averaged()["w"], a.averaged()["w"])
    # A checkpoint of a run without averaging: the average starts at the weights.
    c = Adam(p, 0.1, average=0.9)
    c.load_state_arrays({"m/w": arrays["m/w"], "v/w": arrays["v/w"]}, a.t)
    assert np.allclose(c.averaged()["w"], p["w"])
    assert set(Adam(p, 0.1).state_arrays()) == {"m/w", "v/w"}


def _corpus(tmp_path):
    p = tmp_path / "c.txt"
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota"]
    p.write_text("\n".join(w * (1 + i % 3) for i, w in enumerate(words * 6)) + "\n")
    return str(p)


def _run(tmp_path, name, steps=24, **kw):
    cfg = TrainConfig(steps=steps, eval_every=6, batch_size=4, seq_len=7, dtype="float64",
                      seed=5, lr_schedule="constant", lr=5e-3, **kw)
    return session.start([_corpus(tmp_path)], TextConfig(), cfg, hidden=9, layers=1,
                         dropout=0.2, output=str(tmp_path / f"{name}.npz"))


def test_averaging_does_not_change_training_only_what_is_validated_and_saved(tmp_path):
    plain = _run(tmp_path, "plain")
    plain_events = list(plain.trainer.run())
    avg = _run(tmp_path, "avg", average=0.7)
    avg_events = list(avg.trainer.run())
    steps = lambda evs: [e.loss for e in evs if isinstance(e, Stepped)]  # noqa: E731
    vals = lambda evs: [e.val_loss for e in evs if isinstance(e, Evaluated)]  # noqa: E731
    assert steps(plain_events) == steps(avg_events)       # the same updates, bit for bit
    for k, w in plain.model.params.items():
        assert np.array_equal(avg.model.params[k], w), k
    assert vals(plain_events) != vals(avg_events)         # another set of weights validated
    # The saved file holds the average at the best evaluation, which the saved
    # header's loss describes.
    saved = modelfile.load(avg.output)
    best = min(vals(avg_events))
    assert saved.training["best_val_loss"] == pytest.approx(best)
    assert saved.model.evaluate(avg.trainer.val_batches) == pytest.approx(best, rel=1e-9)
    last = avg.trainer.optimizer.averaged()
    if vals(avg_events)[-1] == best:
        for k, a in last.items():
            assert np.allclose(saved.model.params[k], a), k


def test_an_averaged_run_resumes_exactly(tmp_path):
    full = _run(tmp_path, "full", steps=24, average=0.7)
    full_vals = [e.val_loss for e in full.trainer.run() if isinstance(e, Evaluated)]
    part = _run(tmp_path, "part", steps=12, average=0.7)
    first = [e.val_loss for e in part.trainer.run() if isinstance(e, Evaluated)]
    r = session.resume(part.checkpoint, overrides={"steps": 24})
    second = [e.val_loss for e in r.trainer.run() if isinstance(e, Evaluated)]
    assert first + second == full_vals
    for k, a in full.trainer.optimizer.averaged().items():
        assert r.trainer.optimizer.averaged()[k].tobytes() == a.tobytes(), k


def test_average_must_be_below_one():
    with pytest.raises(UsageError, match="--average"):
        TrainConfig(steps=1, average=1.0)


def test_the_default_averages_over_about_an_epoch(tmp_path):
    from charlm.text.corpus import Batches
    from charlm.training.trainer import epoch_average

    rng = np.random.default_rng(0)
    for lines in (False, True):
        ids = rng.integers(2, 9, size=5000)
        ids[::7] = 0                                     # line ends (EOS)
        b = Batches(ids, 8, 16, lines=lines)
        exact = len(b.epoch())
        assert exact - 1 <= len(b) <= exact
    assert epoch_average(Batches(np.arange(2, 1002), 4, 10)) == pytest.approx(1 - 1 / 25)
    run = _run(tmp_path, "auto", average=None)
    assert run.trainer.optimizer.average == pytest.approx(1 - 1 / len(run.trainer.train_batches))


def test_the_option_takes_epoch_or_a_number(tmp_path):
    from click.testing import CliRunner

    from charlm.cli.app import cli

    corpus = _corpus(tmp_path)
    for value, code in (("epoch", 0), ("0", 0), ("0.5", 0), ("1", 2), ("-0.1", 2), ("x", 2),
                        ("nan", 2)):
        r = CliRunner().invoke(cli, ["train", corpus, "-o", str(tmp_path / "m.npz"), "--steps",
                                     "2", "--hidden", "4", "--progress", "off", "--force",
                                     "--average", value])
        assert r.exit_code == code, (value, r.output)
        if code:
            assert "--average" in r.output
