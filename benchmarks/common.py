"""Helpers shared by the benchmark scripts: timing, machine facts, a 2-layer LSTM."""

import os
import pathlib
import statistics
import time

# PyTorch's OpenMP threads spin for a while after each parallel region; in a run that
# alternates PyTorch with NumPy that spinning steals the second core from OpenBLAS.
# A passive wait policy makes the comparison fair to both (set before torch loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent


def _shared_corpora():
    """$CHARLM_SHARED_CORPORA, else the first ``shared/corpora`` beside the repository
    or one of its parents (a git worktree may sit a level deeper)."""
    if os.environ.get("CHARLM_SHARED_CORPORA"):
        return pathlib.Path(os.environ["CHARLM_SHARED_CORPORA"])
    for parent in HERE.parents:
        if (parent / "shared" / "corpora").is_dir():
            return parent / "shared" / "corpora"
    return HERE.parent.parent / "shared" / "corpora"


SHARED = _shared_corpora()


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def header(title):
    import numpy

    print(f"# {title}")
    print(f"# numpy {numpy.__version__}, {os.cpu_count()} cores, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"load average {load_average():.2f} (idle is < 0.3)")


def timed(fn, repeats):
    """Run fn() ``repeats`` times; return the list of wall times in seconds."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def alternate(fns, repeats):
    """Time several functions in turns (A B A B ...), so a burst of load on the machine
    hits all of them alike. Returns {name: [seconds, ...]}."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def median(xs):
    return statistics.median(xs)


def char_lstm(vocab_size, hidden=256, layers=2, seed=0, dtype=np.float32):
    """A 2-layer char LSTM with random weights (speed does not depend on training)."""
    from charlm.lm.model import LanguageModel, ModelConfig

    cfg = ModelConfig(vocab_size=vocab_size, cell="lstm", hidden=hidden, layers=layers)
    return LanguageModel.create(cfg, np.random.default_rng(seed), dtype)


def torch_lstm_from(model):
    """The same model in PyTorch (one-hot input → nn.LSTM → nn.Linear) with charlm's
    weights, or None when PyTorch is not installed.

    charlm's gate blocks (u, f, o, c̃) are permuted to PyTorch's (i, f, g, o); charlm's
    single bias goes to bias_ih and bias_hh is zero. EOS is fed as the zero vector,
    as charlm reads it."""
    try:
        import torch
    except ImportError:
        return None
    cfg, p = model.config, model.params
    if cfg.cell != "lstm" or cfg.embed:
        raise ValueError("only one-hot LSTM models are mirrored")
    H = cfg.hidden
    perm = np.concatenate([np.arange(0, 2 * H), np.arange(3 * H, 4 * H),
                           np.arange(2 * H, 3 * H)])
    lstm = torch.nn.LSTM(cfg.vocab_size, H, num_layers=cfg.layers)
    out = torch.nn.Linear(H, cfg.vocab_size)
    with torch.no_grad():
        for layer in range(cfg.layers):
            pre = f"layer{layer + 1}."
            getattr(lstm, f"weight_ih_l{layer}").copy_(torch.from_numpy(p[pre + "W_ax"][perm]))
            getattr(lstm, f"weight_hh_l{layer}").copy_(torch.from_numpy(p[pre + "W_aa"][perm]))
            getattr(lstm, f"bias_ih_l{layer}").copy_(torch.from_numpy(p[pre + "b_a"][perm]))
            getattr(lstm, f"bias_hh_l{layer}").zero_()
        out.weight.copy_(torch.from_numpy(p["W_ya"]))
        out.bias.copy_(torch.from_numpy(p["b_y"]))
    lstm.eval()
    return torch, lstm, out


def torch_onehot(torch, ids, V, eos_id=0):
    """(T, N) ids → (T, N, V) float one-hot inputs, EOS as the zero vector."""
    x = torch.nn.functional.one_hot(torch.from_numpy(ids.astype(np.int64)), V).float()
    x[torch.from_numpy(ids == eos_id)] = 0.0
    return x
