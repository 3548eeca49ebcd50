"""The Shakespeare recipe judged on text it never saw, and the run that chose its
defaults.

Two ways to cut tinyshakespeare (40,000 lines, nine plays one after another):

* ``recipe``: the README's recipe. Train on the first 81% of the lines, validate
  (``--dev``) on the next 9%, score the last 10%.
* ``works``: whole plays held out. Train on the first 90% of the lines less *Romeo
  and Juliet*; validate on *Romeo and Juliet*, the whole play (found by its speakers:
  from Sampson's first line to the line before Warwick opens *Henry VI*). Nothing in
  the validation text continues the training text, so a setting that only helps to
  continue the text just read cannot win here.

Both score the held-out test text (``test``: the last 10% of the lines) and *The
Tempest* part at the end of the file (``tempest``: from "Master:" on, a whole work
that neither cut trains or validates on), in nats per character, as ``charlm score``
counts them.

    python benchmarks/lm_recipe.py charlm new --split works --time 300
    python benchmarks/lm_recipe.py charlm today --split recipe --time 600
    python benchmarks/lm_recipe.py charlm new --split works --time 300 --name d30 -- --dropout 0.3
    python benchmarks/lm_recipe.py torch --split recipe --time 600
    # the whole machine: two charlm ranks against PyTorch's two threads, one after the other
    python benchmarks/lm_recipe.py charlm new --split recipe --time 600 --name w2 -- --workers 2
    python benchmarks/lm_recipe.py torch --split recipe --time 600 --threads 2 --name torch2
    # other seeds: --seed N for PyTorch, `-- --seed N` for charlm
    python benchmarks/lm_recipe.py grid --split works --time 300    # every named config

``charlm`` trains with ``charlm train`` (one BLAS thread, its default) and the named
settings: ``today`` pins the defaults before they were chosen here (Adam 8e-3 with
cosine decay, batch 32, window 64, one-hot input, no dropout); ``new`` is charlm's
defaults now. ``torch`` trains the benchmarks' PyTorch reference (2×256 LSTM, 64-wide
embedding, batch 64, window 128, Adam 2e-3, clipping at 5, one thread) for the same
time on the same text, keeps its best state by the same validation, and scores it
the same way; it needs the bench extra (``pip install -e '.[bench]'``). Run the two
sides at the same time, one thread each, so that both see the same machine load.
Each run prints a line for people and one JSON line (``--json FILE`` appends it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from common import SHARED, load_average  # noqa: E402

BASE = ["--split", "none", "--cell", "lstm", "--hidden", "256", "--layers", "2"]
CONFIGS = {
    # The defaults before this benchmark (kept explicit, since the defaults moved on).
    "today": ["--lr", "8e-3", "--lr-schedule", "cosine", "--batch-size", "32",
              "--seq-len", "64", "--embed", "0", "--dropout", "0"],
    "new": [],                                    # charlm's defaults
}


def _lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def _speech(lines, speaker, start=0):
    """Index of the first line at or after ``start`` that opens a speech of ``speaker``."""
    return next(i for i in range(start, len(lines)) if lines[i] == speaker + ":")


def cut(corpus, split, folder):
    """Write train.txt, dev.txt, test.txt and tempest.txt for ``split`` into ``folder``."""
    lines = _lines(corpus)
    n = len(lines)
    folder = pathlib.Path(folder)
    test = lines[int(n * 0.9):]
    tempest = lines[_speech(lines, "Master"):]
    if split == "recipe":
        train, dev = lines[:int(n * 0.81)], lines[int(n * 0.81):int(n * 0.9)]
    else:
        first = _speech(lines, "SAMPSON")
        end = _speech(lines, "WARWICK", first) - 1       # the blank line before it
        head = lines[:int(n * 0.9)]
        train, dev = head[:first] + head[end:], head[first:end]
    files = {"train": train, "dev": dev, "test": test, "tempest": tempest}
    for name, part in files.items():
        text = "\n".join(part).strip("\n") + "\n"
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return {name: str(folder / f"{name}.txt") for name in files}


def charlm_score(model, path):
    out = subprocess.run(["charlm", "score", "-m", model, path, "--summary-only",
                          "--format", "json"], check=True, capture_output=True, text=True)
    s = json.loads(out.stdout)
    return -s["logprob"] / s["tokens"]


def run_charlm(files, seconds, options, folder, steps=None):
    model = str(pathlib.Path(folder) / "model.npz")
    log = str(pathlib.Path(folder) / "log.jsonl")
    budget = ["--steps", str(steps)] if steps else ["--time", str(seconds)]
    cmd = (["charlm", "train", files["train"], "--dev", files["dev"], *BASE, *budget,
            "-o", model, "--log-file", log, "--progress", "off",
            "--sample-every", "0", "--force", "--json"] + options)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    curve = [json.loads(line) for line in open(log, encoding="utf-8")]
    best = min(curve, key=lambda r: r["val_loss"])
    last = curve[-1]
    return {"steps": summary["steps"], "best_step": best["step"], "seconds": last["time"],
            "best_val": best["val_loss"], "tokens_per_sec": last["tokens"] / last["time"],
            "curve": [(r["step"], round(r["val_loss"], 4)) for r in curve],
            "test": charlm_score(model, files["test"]),
            "tempest": charlm_score(model, files["tempest"])}


# --- the PyTorch reference ------------------------------------------------------------------

TORCH = dict(hidden=256, layers=2, embed=64, batch=64, window=128, lr=2e-3, clip=5.0)


def _encode(text, index):
    return np.fromiter((index.get(c, 1) for c in text), dtype=np.int64, count=len(text))


def run_torch(files, seconds, seed=1, threads=1):
    import torch

    from charlm.text.corpus import Batches

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    texts = {k: open(p, encoding="utf-8").read() for k, p in files.items()}
    chars = sorted(set(texts["train"]))
    index = {c: i + 2 for i, c in enumerate(chars)}            # 0 start, 1 UNK, as charlm
    V = len(chars) + 2
    ids = {k: _encode(t, index) for k, t in texts.items()}
    c = TORCH
    nn = torch.nn
    embed = nn.Embedding(V, c["embed"])
    lstm = nn.LSTM(c["embed"], c["hidden"], num_layers=c["layers"], batch_first=True)
    head = nn.Linear(c["hidden"], V)
    modules = (embed, lstm, head)
    params = [p for m in modules for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=c["lr"])

    def forward(x, state):
        h, state = lstm(embed(torch.from_numpy(x.astype(np.int64))), state)
        return head(h), state

    def mean_loss(batches):
        """Mean nats per token over every window, the state carried (as charlm)."""
        total, count, state = 0.0, 0, None
        with torch.no_grad():
            for x, y, _ in batches.epoch():
                logits, state = forward(x, state)
                total += nn.functional.cross_entropy(
                    logits.reshape(-1, V), torch.from_numpy(y.astype(np.int64)).reshape(-1),
                    reduction="sum").item()
                count += y.size
        return total / count

    train = Batches(ids["train"], c["batch"], c["window"], lines=False)
    dev = Batches(ids["dev"], 128, c["window"], lines=False)
    epoch = train.epoch()
    best, best_state, curve, step, state = math.inf, None, [], 0, None
    t0 = time.perf_counter()
    done = False
    while not done:
        for i, (x, y, _) in enumerate(epoch):
            if i == 0:
                state = None
            logits, state = forward(x, state)
            state = tuple(s.detach() for s in state)
            loss = nn.functional.cross_entropy(
                logits.reshape(-1, V), torch.from_numpy(y.astype(np.int64)).reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, c["clip"])
            opt.step()
            step += 1
            done = time.perf_counter() - t0 >= seconds
            if done or i == len(epoch) - 1:
                val = mean_loss(dev)
                curve.append((step, round(val, 4)))
                if val < best:
                    best = val
                    best_state = [{k: v.clone() for k, v in m.state_dict().items()}
                                  for m in modules]
            if done:
                break
    elapsed = time.perf_counter() - t0
    for m, sd in zip(modules, best_state):
        m.load_state_dict(sd)
    best_step = min(curve, key=lambda r: r[1])[0]
    return {"steps": step, "best_step": best_step, "best_val": best, "seconds": elapsed,
            "tokens_per_sec": step * c["batch"] * c["window"] / elapsed, "curve": curve,
            "test": mean_loss(Batches(ids["test"], 1, 1024, lines=False)),
            "tempest": mean_loss(Batches(ids["tempest"], 1, 1024, lines=False))}


# --- the command line --------------------------------------------------------------------------

def report(name, split, r, json_path):
    second_half = r["best_step"] > r["steps"] / 2
    print(f"{name:<10} {split:<6} {r['seconds']:>4.0f} s  {r['steps']:>5} steps "
          f"({r['tokens_per_sec'] or 0:,.0f} tok/s)  best val {r['best_val']:.4f} at step "
          f"{r['best_step']} ({'second' if second_half else 'first'} half)  "
          f"test {r['test']:.4f}  tempest {r['tempest']:.4f} nats/char  "
          f"load {load_average():.2f}", flush=True)
    rec = dict(r, name=name, split=split, load=load_average(),
               best_in_second_half=second_half)
    print(json.dumps(rec), flush=True)
    if json_path:
        with open(json_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("side", choices=["charlm", "torch", "grid"])
    ap.add_argument("config", nargs="?", default="new", choices=sorted(CONFIGS),
                    help="charlm's settings (charlm only)")
    ap.add_argument("--split", choices=["recipe", "works"], default="recipe")
    ap.add_argument("--time", type=float, default=600.0, help="training seconds")
    ap.add_argument("--steps", type=int,
                    help="charlm: train this many updates instead of --time, so that "
                         "settings compare alike however busy the machine is")
    ap.add_argument("--name", help="the run's name in the report [default: the config]")
    ap.add_argument("--corpus", default=str(SHARED / "text" / "tinyshakespeare.txt"))
    ap.add_argument("--json", help="append the JSON line to this file")
    ap.add_argument("--threads", type=int, default=1,
                    help="PyTorch's threads (torch only); the whole-machine comparison "
                         "against `charlm train --workers 2` gives it 2")
    ap.add_argument("--seed", type=int, default=1,
                    help="PyTorch's seed (torch only; give charlm its own after --)")
    args = ap.parse_args(argv)
    if not os.path.isfile(args.corpus):
        sys.exit(f"{args.corpus}: not found (set CHARLM_SHARED_CORPORA)")
    with tempfile.TemporaryDirectory() as folder:
        files = cut(args.corpus, args.split, folder)
        if args.side == "torch":
            try:
                import torch  # noqa: F401
            except ImportError:
                sys.exit("PyTorch is not installed: pip install -e '.[bench]'")
            report(args.name or "pytorch", args.split,
                   run_torch(files, args.time, seed=args.seed, threads=args.threads), args.json)
            return
        configs = sorted(CONFIGS) if args.side == "grid" else [args.config]
        for config in configs:
            r = run_charlm(files, args.time, CONFIGS[config] + extra, folder, args.steps)
            report(args.name or config, args.split, r, args.json)


if __name__ == "__main__":
    main()
