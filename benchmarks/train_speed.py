"""Throughput: training, sampling and scoring tokens per second, charlm vs PyTorch.

    python benchmarks/train_speed.py            # the whole grid (long)
    python benchmarks/train_speed.py --quick    # a few configurations, 5 repeats
    python benchmarks/train_speed.py --threads 2 --json out.json

Training runs the same engine calls as ``charlm train`` (forward, backward, clipping
at 5, Adam) on a char model with a 64-wide embedding over random windows, for every
configuration of the grid: cell lstm/gru × hidden 128/256/512 × layers 1/2 × batch
32/64 × window 64/128. Where PyTorch is importable (``pip install -e '.[bench]'``) the
same model (nn.Embedding → nn.LSTM/nn.GRU → nn.Linear, Adam, clip_grad_norm_) runs in
the same process, alternating with charlm repeat by repeat so that load from other
processes hits both alike; the ratio is the median of the per-repeat ratios.

Also: single-stream and batched sampling (one token per step through
:class:`~charlm.lm.model.Stepper`), scoring (forward only over long windows), peak
memory of a charlm training step (tracemalloc), achieved GFLOP/s of the matrix
products against a measured float32 matrix-product ceiling, and the BLAS library and
thread count in use (threadpoolctl, when installed). Both sides use ``--threads``
threads (default 1). The load average is recorded with every measurement: on a
shared machine only the ratios mean much. "ratio" is charlm/PyTorch speed by wall
clock; "(cpu)" the same by CPU time of the process, which other processes disturb
far less (meaningful with one thread); GFLOP/s are per CPU second, like the ceiling.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
import tracemalloc

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from common import load_average, median  # noqa: E402

from charlm.engine.ops import clip_by_global_norm  # noqa: E402
from charlm.engine.optim import Adam  # noqa: E402
from charlm.lm.model import LanguageModel, ModelConfig  # noqa: E402
from charlm.cli import keep_freed_memory  # noqa: E402

# `charlm` keeps freed memory for reuse (see charlm.cli); so does this process, for
# both sides alike: PyTorch's CPU allocator takes its memory from the same malloc.
keep_freed_memory()

V, E = 67, 64           # tinyshakespeare's vocabulary with EOS and UNK; embedding width
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
FULL_GRID = list(itertools.product(("lstm", "gru"), (128, 256, 512), (1, 2), (32, 64),
                                   (64, 128)))
QUICK_GRID = [("lstm", 256, 1, 64, 64), ("lstm", 256, 2, 64, 64), ("lstm", 256, 1, 32, 64),
              ("lstm", 512, 2, 64, 128), ("gru", 256, 1, 64, 64), ("lstm", 128, 2, 32, 64)]


# --- machine facts -----------------------------------------------------------------------

def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed"}]
    return [{k: d.get(k) for k in ("user_api", "internal_api", "num_threads", "version",
                                   "architecture", "prefix")} for d in threadpool_info()]


def limit_threads(n):
    """Both sides at n threads: NumPy's BLAS through threadpoolctl (or the variables
    read at load time), PyTorch through set_num_threads."""
    try:
        from threadpoolctl import threadpool_limits
        return threadpool_limits(limits=n)
    except ImportError:
        return None


def matmul_ceiling(size=1024, repeats=5):
    """Best float32 GFLOP/s of a square product, per CPU second of this process (with
    one thread, what the products can reach however busy the machine is)."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, a, out=c)
    best = min(_cpu(lambda: np.matmul(a, a, out=c)) for _ in range(repeats))
    return 2 * size ** 3 / best / 1e9


def _time(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _cpu(fn):
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def _both(fn):
    """(wall seconds, CPU seconds of this process) of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def train_flops(cell, H, L, N, T):
    """Matrix-product FLOPs of one training step: forward, plus twice that backward
    (the input gradient and the weight gradient of every product)."""
    G = GATES[cell]
    per_token = 0
    for layer in range(L):
        D = E if layer == 0 else H
        per_token += 2 * G * H * (H + D)
    per_token += 2 * V * H
    return 3 * per_token * N * T


# --- charlm --------------------------------------------------------------------------------

class CharlmTrainer:
    def __init__(self, cell, H, L, N, T, seed=0):
        rng = np.random.default_rng(seed)
        cfg = ModelConfig(vocab_size=V, cell=cell, hidden=H, layers=L, embed=E)
        self.model = LanguageModel.create(cfg, rng)
        self.opt = Adam(self.model.params, 2e-3)
        self.x = rng.integers(1, V, (N, T))
        self.y = rng.integers(1, V, (N, T))
        self.state = None

    def step(self):
        loss, self.state, cache = self.model.forward(self.x, self.y, None, self.state)
        grads = self.model.backward(cache)
        clip_by_global_norm(grads, 5.0)
        self.opt.step(self.model.params, grads)


class TorchTrainer:
    def __init__(self, torch, cell, H, L, N, T, seed=0):
        torch.manual_seed(seed)
        nn = torch.nn
        self.torch = torch
        self.embed = nn.Embedding(V, E)
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(E, H, num_layers=L)
        self.out = nn.Linear(H, V)
        self.params = [p for m in (self.embed, self.rnn, self.out) for p in m.parameters()]
        self.opt = torch.optim.Adam(self.params, lr=2e-3)
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(1, V, (T, N), generator=g)
        self.y = torch.randint(1, V, (T, N), generator=g)
        self.state = None

    def step(self):
        torch = self.torch
        h, state = self.rnn(self.embed(self.x), self.state)
        self.state = (tuple(s.detach() for s in state) if isinstance(state, tuple)
                      else state.detach())
        loss = torch.nn.functional.cross_entropy(self.out(h).reshape(-1, V),
                                                 self.y.reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 5.0)
        self.opt.step()


def charlm_peak_memory(cell, H, L, N, T):
    """Peak bytes NumPy allocated during one training step (after a warm-up step)."""
    tr = CharlmTrainer(cell, H, L, N, T)
    tr.step()
    tracemalloc.start()
    tracemalloc.reset_peak()
    tr.step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def steps_for(N, T, H, L):
    """Steps per timed repeat: about the same work for every configuration."""
    work = N * T * H * H * L
    return max(1, int(round(64 * 64 * 256 * 256 * 2 * 3 / work)))


def bench_training(configs, repeats, torch, log):
    rows = []
    for cell, H, L, N, T in configs:
        c = CharlmTrainer(cell, H, L, N, T)
        k = steps_for(N, T, H, L)
        fns = {"charlm": c.step}
        if torch is not None:
            fns["torch"] = TorchTrainer(torch, cell, H, L, N, T).step
        for fn in fns.values():            # warm-up: allocator, BLAS buffers, caches
            fn()
        times = {name: [] for name in fns}
        cpu = {name: [] for name in fns}
        loads = []
        for _ in range(repeats):
            for name, fn in fns.items():
                wall, used = _both(lambda: [fn() for _ in range(k)])
                times[name].append(wall / k)
                cpu[name].append(used / k)
            loads.append(load_average())
        tokens = N * T
        row = {"cell": cell, "hidden": H, "layers": L, "batch": N, "window": T,
               "steps_per_repeat": k, "repeats": repeats,
               "charlm_tok_s": tokens / median(times["charlm"]),
               "charlm_tok_cpu_s": tokens / median(cpu["charlm"]),
               # per CPU second, comparable with the ceiling whatever the load
               "charlm_gflop_s": train_flops(cell, H, L, N, T) / median(cpu["charlm"]) / 1e9,
               "load": [round(x, 2) for x in loads]}
        if "torch" in times:
            ratios = [t / c for c, t in zip(times["charlm"], times["torch"])]
            ratios_cpu = [t / c for c, t in zip(cpu["charlm"], cpu["torch"])]
            row.update(torch_tok_s=tokens / median(times["torch"]), ratio=median(ratios),
                       ratios=[round(r, 3) for r in ratios], ratio_cpu=median(ratios_cpu))
        row["peak_mb"] = charlm_peak_memory(cell, H, L, N, T) / 2 ** 20
        rows.append(row)
        log(row)
    return rows


# --- sampling and scoring ----------------------------------------------------------------

def bench_sampling(torch, repeats, N, H=256, L=2, steps=200):
    model = CharlmTrainer("lstm", H, L, 1, 1).model
    stepper = model.stepper()
    ids = np.full(N, 5)

    def charlm_run():
        state = model.initial_state(N)
        tok = ids
        for _ in range(steps):
            logits, state = stepper.step(tok, state)
            tok = logits.argmax(axis=0)

    fns = {"charlm": charlm_run}
    if torch is not None:
        tt = TorchTrainer(torch, "lstm", H, L, N, 1)

        def torch_run():
            with torch.no_grad():
                state = None
                tok = torch.full((1, N), 5, dtype=torch.long)
                for _ in range(steps):
                    h, state = tt.rnn(tt.embed(tok), state)
                    tok = tt.out(h).argmax(dim=-1)
        fns["torch"] = torch_run
    return _alternate(fns, repeats, N * steps)


def bench_scoring(torch, repeats, N=64, T=256, H=256, L=2):
    tr = CharlmTrainer("lstm", H, L, N, T)

    fns = {"charlm": lambda: tr.model.log_probs(tr.x, tr.y)}
    if torch is not None:
        tt = TorchTrainer(torch, "lstm", H, L, N, T)

        def torch_run():
            with torch.no_grad():
                h, _ = tt.rnn(tt.embed(tt.x))
                logp = torch.log_softmax(tt.out(h), dim=-1)
                logp.gather(-1, tt.y[..., None])
        fns["torch"] = torch_run
    return _alternate(fns, repeats, N * T)


def _alternate(fns, repeats, tokens):
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_time(fn))
    out = {f"{name}_tok_s": tokens / median(t) for name, t in times.items()}
    if "torch" in times:
        out["ratio"] = median([t / c for c, t in zip(times["charlm"], times["torch"])])
    out["load"] = round(load_average(), 2)
    return out


# --- report ----------------------------------------------------------------------------------

def fmt_row(r, ceiling):
    s = (f"{r['cell']:<5}{r['hidden']:>5}{r['layers']:>3}{r['batch']:>4}{r['window']:>5}"
         f"{r['charlm_tok_s']:>10.0f}")
    s += (f"{r['torch_tok_s']:>10.0f}{r['ratio']:>7.2f}{r['ratio_cpu']:>7.2f}" if "ratio" in r
          else f"{'-':>10}{'-':>7}{'-':>7}")
    s += (f"{r['charlm_gflop_s']:>8.1f}{100 * r['charlm_gflop_s'] / ceiling:>6.0f}%"
          f"{r['peak_mb']:>8.1f}  {max(r['load']):.1f}")
    return s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="6 configurations instead of 48")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--only", help="cell,H,L,N,T: just this configuration")
    ap.add_argument("--json", default="train_speed.json", help="where to write the results")
    args = ap.parse_args(argv)
    limit_threads(args.threads)
    torch = None
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            print("# PyTorch not installed: charlm only", file=sys.stderr)
    if args.only:
        c, *rest = args.only.split(",")
        grid = [(c, *map(int, rest))]
    else:
        grid = QUICK_GRID if args.quick else FULL_GRID
    ceiling = matmul_ceiling()
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None), "cores": os.cpu_count(),
            "threads": args.threads, "blas": blas_info(),
            "matmul_ceiling_gflop_s": ceiling, "load_at_start": round(load_average(), 2)}
    blas = next((b for b in info["blas"] if b.get("user_api") == "blas"), {})
    print(f"# numpy {np.__version__} ({blas.get('internal_api')} {blas.get('version')}, "
          f"{blas.get('num_threads')} threads), torch {info['torch']}, "
          f"{args.threads} thread(s) each side, float32 matmul ceiling {ceiling:.1f} GFLOP/s "
          f"per CPU second, "
          f"load {info['load_at_start']:.2f}")
    print(f"{'cell':<5}{'H':>5}{'L':>3}{'N':>4}{'T':>5}{'charlm/s':>10}{'torch/s':>10}"
          f"{'ratio':>7}{'(cpu)':>7}{'GFLOP/s':>8}{'ceil':>7}{'peakMB':>8}  load")

    def log(row):
        print(fmt_row(row, ceiling), flush=True)

    rows = bench_training(grid, args.repeats, torch, log)
    extra = {"sampling_1": bench_sampling(torch, args.repeats, 1),
             "sampling_64": bench_sampling(torch, args.repeats, 64),
             "scoring": bench_scoring(torch, args.repeats)}
    for name, r in extra.items():
        line = f"{name:<12} charlm {r['charlm_tok_s']:9.0f} tok/s"
        if "ratio" in r:
            line += f"   torch {r['torch_tok_s']:9.0f} tok/s   ratio {r['ratio']:.2f}"
        print(line + f"   load {r['load']:.1f}")
    info["load_at_end"] = round(load_average(), 2)
    with open(args.json, "w") as f:
        json.dump({"machine": info, "training": rows, **extra}, f, indent=1)
    print(f"# wrote {args.json}; load at end {info['load_at_end']:.2f}")


if __name__ == "__main__":
    main()
