"""1 vs 2 BLAS threads for training, scoring and sampling, alternating in one process.

    python benchmarks/threads.py              # as the machine is now
    python benchmarks/threads.py --busy 1     # with one extra process spinning on a core

Wall-clock tokens/s of a 2×256 char LSTM: a training step (batch 32, window 64),
scoring (forward only, 64 rows × 256 steps) and batched sampling (64 streams, one token
a step). The thread count is switched with threadpoolctl between repeats, so load from
other processes hits both settings alike; ratios are medians of per-repeat ratios.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from common import load_average  # noqa: E402
from train_speed import CharlmTrainer  # noqa: E402


def spin(stop):
    while not stop.is_set():
        pass


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--busy", type=int, default=0, help="extra processes spinning on a core")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    stop = multiprocessing.Event()
    spinners = [multiprocessing.Process(target=spin, args=(stop,), daemon=True)
                for _ in range(args.busy)]
    for p in spinners:
        p.start()
    tr = CharlmTrainer("lstm", 256, 2, 32, 64)
    sc = CharlmTrainer("lstm", 256, 2, 64, 256)
    stepper = sc.model.stepper()

    def sample():
        state = sc.model.initial_state(64)
        tok = np.full(64, 5)
        for _ in range(64):
            logits, state = stepper.step(tok, state)
            tok = logits.argmax(axis=0)

    jobs = {"train": (lambda: [tr.step() for _ in range(2)], 2 * 32 * 64),
            "score": (lambda: sc.model.log_probs(sc.x, sc.y), 64 * 256),
            "sample": (sample, 64 * 64)}
    print(f"# busy processes {args.busy}, load average {load_average():.2f}, "
          f"{os.cpu_count()} cores")
    try:
        for name, (fn, tokens) in jobs.items():
            times = {1: [], 2: []}
            for n in (1, 2):
                with threadpool_limits(n):
                    fn()
            for _ in range(args.repeats):
                for n in (1, 2):
                    with threadpool_limits(n):
                        t0 = time.perf_counter()
                        fn()
                        times[n].append(time.perf_counter() - t0)
            r = statistics.median([a / b for a, b in zip(times[1], times[2])])
            print(f"{name:<7} 1 thread {tokens / statistics.median(times[1]):8.0f} tok/s   "
                  f"2 threads {tokens / statistics.median(times[2]):8.0f} tok/s   "
                  f"2/1 speed {r:.2f}   load {load_average():.2f}", flush=True)
    finally:
        stop.set()
        for p in spinners:
            p.join()


if __name__ == "__main__":
    main()
