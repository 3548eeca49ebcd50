"""Per-step parity: charlm and PyTorch trained on identical batches.

Both read the same character stream (tinyshakespeare, first 90% of its lines, as
``charlm train --split none`` reads it), cut into the same N rows and T-step windows
by charlm's own :class:`~charlm.text.corpus.Batches`, carry the hidden state across
windows (truncated BPTT), and take the same kind of update: mean cross-entropy,
global-norm clipping at 5, Adam with lr 2e-3. Each side starts from its own default
initialisation (``--same-init`` copies charlm's weights into PyTorch instead, so only
the update rules differ). Nothing here depends on how loaded the machine is.

The printed losses are means over the 20 updates ending at each checkpoint (180–200,
480–500), averaged over ``--seeds`` seeds, since one window's loss is noisy.

    python benchmarks/parity.py                   # all three configurations
    python benchmarks/parity.py --config gru --steps 200
    python benchmarks/parity.py --no-torch        # charlm's curve alone

PyTorch is optional (``pip install -e '.[bench]'``); without it only charlm's curve
is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from common import SHARED, load_average  # noqa: E402

from charlm.engine.ops import clip_by_global_norm  # noqa: E402
from charlm.engine.optim import Adam  # noqa: E402
from charlm.lm.model import LanguageModel, ModelConfig  # noqa: E402
from charlm.text.corpus import Batches  # noqa: E402

CONFIGS = {
    # name: (cell, hidden, layers, embed, batch N, window T)
    "lstm-onehot": ("lstm", 128, 1, 0, 32, 64),
    "lstm-embed": ("lstm", 128, 1, 64, 32, 64),
    "gru": ("gru", 128, 1, 64, 32, 64),
    "lstm-2x256": ("lstm", 256, 2, 0, 64, 128),
}
LR, CLIP = 2e-3, 5.0
AVERAGE_OVER = 20


def shakespeare_stream(path):
    """Char ids of the first 90% of lines, newline a token of its own (--split none).
    Id 0 stays reserved for EOS, which this stream never holds."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    text = "\n".join(lines[: int(len(lines) * 0.9)]) + "\n"
    chars = sorted(set(text))
    index = {c: i + 2 for i, c in enumerate(chars)}       # 0 EOS, 1 UNK, as charlm
    ids = np.fromiter((index[c] for c in text), dtype=np.uint16, count=len(text))
    return ids, len(chars) + 2


def charlm_curve(windows, V, spec, steps, seed):
    cell, H, L, E, N, T = spec
    cfg = ModelConfig(vocab_size=V, cell=cell, hidden=H, layers=L, embed=E)
    model = LanguageModel.create(cfg, np.random.default_rng(seed))
    opt = Adam(model.params, LR)
    state, losses = None, []
    for x, y, new_pass in windows[:steps]:
        if new_pass:
            state = None
        loss, state, cache = model.forward(x, y, None, state)
        grads = model.backward(cache)
        clip_by_global_norm(grads, CLIP)
        opt.step(model.params, grads)
        losses.append(loss)
    return losses, model


class TorchLM:
    """PyTorch's nn.LSTM/nn.GRU with its own default initialisation: one-hot (or
    nn.Embedding) input, nn.Linear output."""

    def __init__(self, torch, V, spec, seed, charlm_model=None):
        cell, H, L, E, N, T = spec
        torch.manual_seed(seed)
        nn = torch.nn
        self.torch, self.V, self.E = torch, V, E
        self.embed = nn.Embedding(V, E) if E else None
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(E or V, H, num_layers=L, batch_first=True)
        self.out = nn.Linear(H, V)
        if charlm_model is not None:
            self._copy_from(charlm_model)
        self.params = [p for m in (self.embed, self.rnn, self.out) if m is not None
                       for p in m.parameters()]
        self.opt = torch.optim.Adam(self.params, lr=LR)
        self.state = None

    def _copy_from(self, model):
        """charlm's weights into PyTorch (LSTM only: the GRUs are different models)."""
        torch, p, H = self.torch, model.params, model.config.hidden
        perm = np.concatenate([np.arange(0, 2 * H), np.arange(3 * H, 4 * H),
                               np.arange(2 * H, 3 * H)])      # (u,f,o,c) -> (i,f,g,o)
        with torch.no_grad():
            if self.embed is not None:
                self.embed.weight.copy_(torch.from_numpy(p["W_ex"].T.copy()))
            for layer in range(model.config.layers):
                pre = f"layer{layer + 1}."
                getattr(self.rnn, f"weight_ih_l{layer}").copy_(
                    torch.from_numpy(p[pre + "W_ax"][perm]))
                getattr(self.rnn, f"weight_hh_l{layer}").copy_(
                    torch.from_numpy(p[pre + "W_aa"][perm]))
                getattr(self.rnn, f"bias_ih_l{layer}").copy_(
                    torch.from_numpy(p[pre + "b_a"][perm]))
                getattr(self.rnn, f"bias_hh_l{layer}").zero_()
            self.out.weight.copy_(torch.from_numpy(p["W_ya"]))
            self.out.bias.copy_(torch.from_numpy(p["b_y"]))

    def step(self, x, y, new_pass):
        torch = self.torch
        if new_pass:
            self.state = None
        xi = torch.from_numpy(x.astype(np.int64))
        if self.embed is not None:
            inp = self.embed(xi)
        else:
            inp = torch.nn.functional.one_hot(xi, self.V).float()
        h, state = self.rnn(inp, self.state)
        self.state = tuple(s.detach() for s in state) if isinstance(state, tuple) \
            else state.detach()
        logits = self.out(h)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, self.V), torch.from_numpy(y.astype(np.int64)).reshape(-1))
        self.opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, CLIP)
        self.opt.step()
        return loss.item()


def torch_curve(torch, windows, V, spec, steps, seed, charlm_model=None):
    m = TorchLM(torch, V, spec, seed, charlm_model)
    return [m.step(*w) for w in windows[:steps]]


def window_means(losses, checkpoints):
    return [float(np.mean(losses[max(0, c - AVERAGE_OVER):c])) for c in checkpoints]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", action="append", choices=sorted(CONFIGS),
                    help="configurations to run (repeatable) [default: the first three]")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--same-init", action="store_true",
                    help="start PyTorch from charlm's weights (LSTM only)")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--corpus", default=str(SHARED / "text" / "tinyshakespeare.txt"))
    ap.add_argument("--json", help="also write the curves to this file")
    args = ap.parse_args(argv)
    torch = None
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(1)
        except ImportError:
            print("# PyTorch not installed: charlm's curve only", file=sys.stderr)
    ids, V = shakespeare_stream(args.corpus)
    checkpoints = [c for c in (200, 500) if c <= args.steps] or [args.steps]
    configs = args.config or ["lstm-onehot", "lstm-embed", "gru"]
    print(f"# per-step parity: Adam lr {LR}, clip {CLIP}, losses averaged over the "
          f"{AVERAGE_OVER} updates ending at each step and over {args.seeds} seeds")
    print(f"# load average at start {load_average():.2f}")
    report = {}
    header = "config".ljust(13) + "".join(
        f"{'charlm@' + str(c):>12}{'torch@' + str(c):>12}{'diff':>8}" for c in checkpoints)
    print(header)
    for name in configs:
        spec = CONFIGS[name]
        batches = Batches(ids, spec[4], spec[5], lines=False)
        epoch = batches.epoch()
        # Passes over the stream one after another, the state reset at each new pass
        # (as the trainer does).
        windows = [epoch[i % len(epoch)][:2] + (i % len(epoch) == 0,)
                   for i in range(args.steps)]
        c_runs, t_runs = [], []
        t0 = time.perf_counter()
        for seed in range(1, args.seeds + 1):
            losses, model = charlm_curve(windows, V, spec, args.steps, seed)
            c_runs.append(losses)
            if torch is not None:
                # charlm's initial weights again (the trained ones have moved on).
                same = (LanguageModel.create(model.config, np.random.default_rng(seed))
                        if args.same_init else None)
                t_runs.append(torch_curve(torch, windows, V, spec, args.steps, seed, same))
        c = np.mean([window_means(r, checkpoints) for r in c_runs], axis=0)
        line = name.ljust(13)
        entry = {"charlm": c.tolist(), "charlm_curves": c_runs}
        if t_runs:
            t = np.mean([window_means(r, checkpoints) for r in t_runs], axis=0)
            entry.update(torch=t.tolist(), torch_curves=t_runs)
            for a, b in zip(c, t):
                line += f"{a:12.3f}{b:12.3f}{a - b:+8.3f}"
        else:
            for a in c:
                line += f"{a:12.3f}{'-':>12}{'':>8}"
        print(line + f"   ({time.perf_counter() - t0:.0f} s, load {load_average():.2f})",
              flush=True)
        report[name] = entry
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"checkpoints": checkpoints, "configs": report}, f)


if __name__ == "__main__":
    main()
