"""Interrupt a training run with SIGINT, resume it, and compare with a run that was
never interrupted: validation losses and final weights must be identical.

    python benchmarks/resume_exactness.py [CORPUS] [--steps 300] [--hidden 128]

CORPUS defaults to ../shared/corpora/text/tinyshakespeare.txt (a --split none run).
Prints the validation losses of both runs and whether the weights match bit for bit.
"""

import argparse
import json
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT = HERE.parent.parent / "shared" / "corpora" / "text" / "tinyshakespeare.txt"


def charlm(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "charlm", *map(str, args)], **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--interrupt-after", type=float, default=None,
                    help="seconds before SIGINT (default: about half the run)")
    a = ap.parse_args()
    d = pathlib.Path(tempfile.mkdtemp(prefix="charlm-resume-"))
    common = [a.corpus, "--split", "none", "--hidden", a.hidden, "--steps", a.steps,
              "--eval-every", max(1, a.steps // 6), "--dropout", "0.1", "--progress", "off",
              "--sample-every", "0"]

    t0 = time.perf_counter()
    charlm("train", *common, "-o", d / "a.npz", "--log-file", d / "a.jsonl").wait()
    full_time = time.perf_counter() - t0

    p = charlm("train", *common, "-o", d / "b.npz", "--log-file", d / "b.jsonl",
               stderr=subprocess.PIPE, text=True)
    time.sleep(a.interrupt_after or full_time / 2)
    p.send_signal(signal.SIGINT)
    err = p.communicate()[1]
    stopped = [line for line in err.splitlines() if line.startswith("stopped at step")]
    print(f"interrupted run: exit {p.returncode}; {stopped[0] if stopped else 'no stop line'}")
    r = charlm("train", "--resume", d / "b.ckpt.npz", "--progress", "off").wait()
    print(f"resumed run: exit {r}")

    def val_losses(path):
        return {rec["step"]: rec["val_loss"] for rec in map(json.loads, open(path))}

    va, vb = val_losses(d / "a.jsonl"), val_losses(d / "b.jsonl")
    print(f"{'step':>6} {'uninterrupted':>14} {'interrupted+resumed':>20}")
    for step in sorted(va):
        print(f"{step:>6} {va[step]:>14.6f} {vb.get(step, float('nan')):>20.6f}")
    same_losses = all(va[s] == vb.get(s) for s in va)
    za = np.load(d / "a.ckpt.npz", allow_pickle=False)
    zb = np.load(d / "b.ckpt.npz", allow_pickle=False)
    names = [n for n in za.files if n != "header.json"]
    same_weights = all(za[n].tobytes() == zb[n].tobytes() for n in names)
    print(f"validation losses identical: {same_losses}")
    print(f"final weights and optimiser state identical ({len(names)} arrays): {same_weights}")
    sys.exit(0 if same_losses and same_weights else 1)


if __name__ == "__main__":
    main()
