"""The classifier model: whole-model float64 gradient checks (every pooling, one or
two directions, stacked layers), padding that changes nothing, a first loss near
ln K, a tiny set learned, files that round-trip and are validated, and the metrics."""

import math

import numpy as np
import pytest

from charlm.classifier.data import ClassVocab, LineBatches, make_batch
from charlm.classifier.metrics import scores
from charlm.classifier.model import ClassifierConfig, ClassifierModel, parse_pool
from charlm.errors import ModelFileError, UsageError
from gradcheck import directional_check, numerical_grad, rel_error

V, K = 7, 3


def tiny_batch(rng, lengths=(5, 2, 4)):
    ids = [rng.integers(2, V, size=L) for L in lengths]
    batch, sort = make_batch(ids, np.arange(len(ids)))
    return batch, rng.integers(0, K, size=len(ids))[sort]


@pytest.mark.parametrize("cell, bidirectional, pool, layers", [
    ("lstm", True, "last", 1), ("lstm", True, "last+max", 2), ("gru", False, "max", 1),
    ("rnn", True, "mean", 1), ("lstm", False, "last+max+mean", 2)])
def test_whole_model_gradients(cell, bidirectional, pool, layers, rng):
    cfg = ClassifierConfig(V, K, cell=cell, hidden=4, layers=layers, embed=5,
                           bidirectional=bidirectional, pool=pool, dropout=0.0)
    model = ClassifierModel.create(cfg, rng, np.float64)
    for p in model.params.values():                     # nothing exactly zero
        p += rng.standard_normal(p.shape) * 0.1
    x, y = tiny_batch(rng)
    loss, _, cache = model.forward(x, y)
    grads = model.backward(cache)

    def f():
        return model.forward(x, y)[0]

    for name in ("W_y", "layer1.fw.W_aa", "W_ex", f"layer{layers}.fw.b_a"):
        assert rel_error(grads[name], numerical_grad(f, model.params[name])) < 1e-6, name
    assert directional_check(f, model.params, grads, rng) < 1e-6


def test_dropout_gradients_with_a_fixed_mask(rng):
    cfg = ClassifierConfig(V, K, hidden=3, embed=4, dropout=0.3)
    model = ClassifierModel.create(cfg, rng, np.float64)
    x, y = tiny_batch(rng)
    _, _, cache = model.forward(x, y, rng=np.random.default_rng(5))
    grads = model.backward(cache)

    def f():
        return model.forward(x, y, rng=np.random.default_rng(5))[0]

    assert directional_check(f, model.params, grads, rng) < 1e-6


def test_padding_changes_nothing(rng):
    cfg = ClassifierConfig(V, K, hidden=4, embed=5, pool="last+max+mean", dropout=0.0)
    model = ClassifierModel.create(cfg, rng, np.float64)
    lines = [rng.integers(2, V, size=L) for L in (6, 1, 3)]
    together, _ = make_batch(lines, np.arange(3))
    logp = model.log_probs(together)
    for row, n in enumerate(together.order):
        alone, _ = make_batch([lines[n]], [n])
        assert np.allclose(model.log_probs(alone)[0], logp[row], atol=1e-12)
    # the training forward agrees with the forward-only path
    loss, _, _ = model.forward(together, np.zeros(3, dtype=int), train=False)
    assert math.isclose(loss, -logp[:, 0].mean(), rel_tol=1e-9)


def test_first_loss_is_near_ln_k_and_a_tiny_set_is_learned(rng):
    from charlm.training.trainer import Trainer, TrainConfig

    lines = [np.array([2, 3, 4]), np.array([5, 6]), np.array([2, 2, 3, 3]),
             np.array([6, 5, 5]), np.array([4, 3]), np.array([6, 6, 5, 5])]
    labels = [0, 1, 0, 1, 0, 1]
    batches = LineBatches(lines, labels, 3)
    cfg = ClassifierConfig(V, 2, hidden=8, embed=6, dropout=0.0)
    model = ClassifierModel.create(cfg, rng)
    first = model.forward(*batches.epoch()[0][:2], train=False)[0]
    assert abs(first - math.log(2)) < 0.2
    trainer = Trainer(model, batches, batches, TrainConfig(steps=60, lr=0.02), rng)
    for _ in trainer.run():
        pass
    assert model.evaluate(batches)["accuracy"] == 1.0


def test_parse_pool():
    assert parse_pool("max+last") == ("last", "max")
    assert parse_pool("mean") == ("mean",)
    for bad in ("", "sum", "max+max"):
        with pytest.raises(UsageError):
            parse_pool(bad)


def test_metrics_by_hand():
    gold = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 2, 2]
    s = scores(gold, pred, 3, ["a", "b", "c"])
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["per_class"]["a"] == {"precision": 1.0, "recall": pytest.approx(2 / 3),
                                   "f1": pytest.approx(0.8), "support": 3, "predicted": 2}
    assert s["per_class"]["b"]["f1"] == pytest.approx(0.5)
    assert s["per_class"]["c"]["f1"] == pytest.approx(2 / 3)
    assert s["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert s["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    # a class never predicted has precision 0; one absent from gold leaves the average
    s = scores([0, 0], [0, 1], 3)
    assert s["per_class"]["1"]["precision"] == 0.0 and s["macro_f1"] == pytest.approx(2 / 3)


def test_file_round_trip_and_validation(tmp_path, rng):
    from charlm.classifier import file as classfile
    from charlm.text.tokens import TextConfig

    vocab = ClassVocab.build([["a", "b"], ["b", "c"]], ["x", "y"])
    cfg = ClassifierConfig(len(vocab.tokens), 2, hidden=3, embed=4)
    model = ClassifierModel.create(cfg, rng)
    path = tmp_path / "c.npz"
    classfile.save(path, classfile.ClassifierBundle(model, vocab, TextConfig(level="word")))
    back = classfile.load(path)
    assert back.vocab.labels == ["x", "y"] and back.text.level == "word"
    for name, a in model.params.items():
        assert np.array_equal(a, back.model.params[name]) and a.dtype == back.model.params[name].dtype
    # a header that does not match its arrays is refused before anything is used
    import json
    import zipfile

    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    header = json.loads(members["header.json"])
    header["model"]["hidden"] = 5
    members["header.json"] = json.dumps(header).encode()
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    with pytest.raises(ModelFileError, match="shape"):
        classfile.load(bad)
    header["model"]["hidden"], header["model"]["pool"] = 3, "sum"
    members["header.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(bad, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    with pytest.raises(ModelFileError, match="pool"):
        classfile.load(bad)
