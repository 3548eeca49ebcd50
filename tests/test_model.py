"""Behaviour of the model and the training loop on small problems."""

import math

import numpy as np
import pytest

from charlm.text.corpus import Batches
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.engine.optim import SGD, Adam
from charlm.training.trainer import Trainer, TrainConfig


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_initial_loss_is_about_log_v(cell, rng):
    V = 50
    model = LanguageModel.create(ModelConfig(vocab_size=V, cell=cell, hidden=32), rng)
    x = rng.integers(1, V, (8, 20))
    y = rng.integers(1, V, (8, 20))
    loss, _, _ = model.forward(x, y)
    assert abs(loss - math.log(V)) < 0.05 * math.log(V)


def test_initial_scales(rng):
    """Id-indexed tables N(0, 1); dense weights U(±1/√H); b_a the sum of two U(±1/√H)
    draws, random for every gate (no forget-gate offset); b_y zero."""
    H, V = 64, 40
    for embed in (0, 16):
        cfg = ModelConfig(vocab_size=V, cell="lstm", hidden=H, layers=2, embed=embed)
        p = LanguageModel.create(cfg, rng).params
        table = p["W_ex"] if embed else p["layer1.W_ax"]
        assert not table[:, 0].any()                     # the EOS column
        assert 0.9 < table[:, 1:].std() < 1.1
        for name in ("layer1.W_aa", "layer2.W_ax", "W_ya") + (("layer1.W_ax",) if embed else ()):
            assert np.abs(p[name]).max() <= 1 / math.sqrt(H)
            assert p[name].std() > 0.5 / math.sqrt(3 * H)
        for layer in (1, 2):
            b = p[f"layer{layer}.b_a"].reshape(4, H)     # gates u, f, o, c
            assert np.abs(b).max() <= 2 / math.sqrt(H)
            assert np.allclose(b.mean(axis=1), 0, atol=0.1)
            assert (b.std(axis=1) > 0.5 / math.sqrt(H)).all()
        assert not p["b_y"].any()


def test_float32_by_default_and_float64_on_request(rng):
    cfg = ModelConfig(vocab_size=9, hidden=4)
    assert LanguageModel.create(cfg, rng).dtype == np.float32
    m = LanguageModel.create(cfg, rng, np.float64)
    assert m.dtype == np.float64
    loss, state, cache = m.forward(np.ones((2, 3), int), np.ones((2, 3), int))
    assert all(g.dtype == np.float64 for g in m.backward(cache).values())


def test_padding_never_changes_the_masked_loss(rng):
    cfg = ModelConfig(vocab_size=11, hidden=6, cell="gru")
    model = LanguageModel.create(cfg, rng, np.float64)
    x = rng.integers(1, 11, (3, 5))
    y = rng.integers(1, 11, (3, 5))
    loss, _, _ = model.forward(x, y)
    xp = np.concatenate([x, rng.integers(0, 11, (3, 4))], axis=1)
    yp = np.concatenate([y, rng.integers(0, 11, (3, 4))], axis=1)
    mask = np.zeros((3, 9))
    mask[:, :5] = 1
    loss_padded, _, cache = model.forward(xp, yp, mask)
    assert loss_padded == pytest.approx(loss, rel=1e-12)
    grads = model.backward(cache)
    _, _, cache = model.forward(x, y)
    for k, g in model.backward(cache).items():
        assert np.allclose(grads[k], g, rtol=1e-10, atol=1e-12)


def test_windows_with_carried_state_equal_one_long_window(rng):
    """Truncated BPTT changes gradients, never the forward pass."""
    cfg = ModelConfig(vocab_size=10, hidden=5, layers=2, cell="lstm")
    model = LanguageModel.create(cfg, rng, np.float64)
    x = rng.integers(0, 10, (2, 12))
    y = rng.integers(1, 10, (2, 12))
    whole, _ = model.log_probs(x, y)
    state, parts = None, []
    for t0 in range(0, 12, 5):
        lp, state = model.log_probs(x[:, t0:t0 + 5], y[:, t0:t0 + 5], state)
        parts.append(lp)
    assert np.allclose(np.concatenate(parts, axis=1), whole, rtol=1e-12)


def test_eos_input_resets_the_state(rng):
    """After EOS the model predicts exactly as at the very start: a⟨0⟩ = 0, x⟨1⟩ = 0."""
    cfg = ModelConfig(vocab_size=10, hidden=5, layers=2, cell="gru")
    model = LanguageModel.create(cfg, rng, np.float64)
    line = np.array([[0, 4, 5, 6]])
    targets = np.array([[4, 5, 6, 0]])
    alone, _ = model.log_probs(line, targets)
    stream = np.array([[0, 7, 8, 3, 0, 4, 5, 6]])
    st_targets = np.array([[7, 8, 3, 0, 4, 5, 6, 0]])
    after, _ = model.log_probs(stream, st_targets)
    assert np.allclose(after[:, 4:], alone, rtol=1e-12)


def test_forward_log_probs_agree_with_training_loss(rng):
    cfg = ModelConfig(vocab_size=13, hidden=7, layers=2, embed=3)
    model = LanguageModel.create(cfg, rng, np.float64)
    x = rng.integers(0, 13, (4, 6))
    y = rng.integers(1, 13, (4, 6))
    loss, _, _ = model.forward(x, y, train=False)
    lp, _ = model.log_probs(x, y)
    assert -lp.mean() == pytest.approx(loss, rel=1e-12)


def test_stepper_matches_window_forward(rng):
    for embed in (0, 3):
        cfg = ModelConfig(vocab_size=9, hidden=6, layers=2, embed=embed, cell="lstm")
        model = LanguageModel.create(cfg, rng, np.float64)
        x = np.array([[0, 3, 4, 0, 5]])
        y = np.array([[3, 4, 0, 5, 6]])
        lp, _ = model.log_probs(x, y)
        stepper, state = model.stepper(), model.initial_state(1)
        for t in range(5):
            logits, state = stepper.step(x[:, t], state)                 # (V, 1)
            logp = logits - np.log(np.exp(logits).sum())
            assert logp[y[0, t], 0] == pytest.approx(lp[0, t], rel=1e-10)


def _tiny_batches(rng, lines=("abc", "abd", "bca", "cab")):
    from charlm.text.corpus import build_vocab, encode, type_stream
    from charlm.text.tokens import TextConfig

    s = type_stream(["\n".join(lines * 8)], TextConfig())
    v = build_vocab(s, np.bincount(s.ids, minlength=len(s.types)))
    return v, Batches(encode(s, s.ids, v), N=4, T=8)


@pytest.mark.parametrize("cell,optimizer,lr", [("lstm", "adam", 1e-2), ("gru", "adam", 1e-2),
                                               ("rnn", "sgd", 0.5)])
def test_tiny_model_overfits_tiny_corpus(cell, optimizer, lr, rng):
    vocab, batches = _tiny_batches(rng)
    model = LanguageModel.create(ModelConfig(vocab_size=len(vocab), cell=cell, hidden=24), rng)
    start = model.evaluate(batches)
    cfg = TrainConfig(steps=300, lr=lr, optimizer=optimizer, eval_every=1000, batch_size=4)
    for _ in Trainer(model, batches, None, cfg, rng).run():
        pass
    end = model.evaluate(batches)
    # Four lines that share a start: after "a" or "b" the rest is nearly fixed.
    assert start > 1.5 and end < 0.6


def test_same_seed_same_training():
    losses = []
    for _ in range(2):
        rng = np.random.default_rng(7)
        vocab, batches = _tiny_batches(rng)
        model = LanguageModel.create(ModelConfig(vocab_size=len(vocab), hidden=8, dropout=0.2), rng)
        cfg = TrainConfig(steps=5, batch_size=4)
        events = list(Trainer(model, batches, batches, cfg, rng).run())
        losses.append([e.loss for e in events if hasattr(e, "loss")])
        losses.append(model.params["W_ya"].copy())
    assert losses[0] == losses[2]
    assert np.array_equal(losses[1], losses[3])


def test_adam_and_sgd_follow_their_formulas():
    p = {"w": np.array([1.0, -2.0])}
    g = {"w": np.array([0.5, 0.25])}
    SGD(p, 0.1).step(p, g)
    assert np.allclose(p["w"], [0.95, -2.025])
    p = {"w": np.array([1.0, -2.0])}
    opt = Adam(p, 0.1)
    opt.step(p, {"w": g["w"].copy()})
    # First Adam step: m̂ = g, v̂ = g², so the update is lr·sign(g) (up to ε).
    assert np.allclose(p["w"], [0.9, -2.1], atol=1e-6)
    assert set(opt.state_arrays()) == {"m/w", "v/w"}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_with_averaging_matches_the_textbook_over_many_steps(dtype):
    # Several parameters of different sizes share the optimiser's scratch buffers:
    # each step must still be Kingma & Ba's, parameter by parameter, and the
    # update must stay in the parameters' dtype.
    rng = np.random.default_rng(0)
    shapes = {"big": (7, 5), "small": (3,), "mid": (4, 4)}
    p = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    ref = {k: v.astype(np.float64) for k, v in p.items()}
    m = {k: np.zeros(s) for k, s in shapes.items()}
    v = {k: np.zeros(s) for k, s in shapes.items()}
    avg = {k: np.zeros(s) for k, s in shapes.items()}
    lr, b1, b2, eps, d = 0.01, 0.9, 0.999, 1e-8, 0.8
    opt = Adam(p, lr, average=d)
    for t in range(1, 13):
        g = {k: rng.standard_normal(s) for k, s in shapes.items()}
        opt.step(p, {k: x.astype(dtype) for k, x in g.items()})
        for k in shapes:
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            # The paper's section 2 form: both bias corrections in the step size.
            step = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            ref[k] = ref[k] - step * m[k] / (np.sqrt(v[k]) + eps)
            avg[k] = d * avg[k] + (1 - d) * ref[k]
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for k in shapes:
        assert p[k].dtype == dtype and opt.m[k].dtype == dtype
        assert np.allclose(p[k], ref[k], rtol=0, atol=tol)
        assert np.allclose(opt.averaged()[k], avg[k] / (1 - d ** 12), rtol=0, atol=tol)
