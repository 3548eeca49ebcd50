"""Softmax (constrained Viterbi) against a CRF output layer for entity tags, on equal
time budgets: two `charlm train-tagger` runs side by side, one BLAS thread each, the
same data and seed, then entity F1 on Universal NER EWT dev and test, UNER PUD and
wikigold (its MISC entities dropped), and both taggers' speed.

    python benchmarks/entity_output_layer.py [--time 6m] [--seed 1] [--out DIR]

The two runs share the machine, so start it when two cores are free; the budget is
training time (`--time`), the same for both sides, and each side's epochs say how
much training it got in that budget.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from common import SHARED, header

SIDES = {"softmax": [], "crf": ["--crf"]}


def evaluate(model, gold, *extra):
    out = subprocess.run([sys.executable, "-m", "charlm", "evaluate", "-m", model, gold,
                          "--format", "json", *extra], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--time", default="6m")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--out", default=None, help="folder for the taggers [default: temporary]")
    args = ap.parse_args()
    uner = SHARED / "tagging" / "uner_en_ewt"
    if not uner.is_dir():
        sys.exit(f"{uner}: not found")
    out = args.out or tempfile.mkdtemp(prefix="charlm-entity-")
    os.makedirs(out, exist_ok=True)
    header(f"entity tagger output layer: softmax vs CRF, --time {args.time} each, side by side")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    procs = {}
    for side, extra in SIDES.items():
        cmd = [sys.executable, "-m", "charlm", "train-tagger",
               str(uner / "en_ewt-ud-train.draft-normalized.iob2"),
               "--dev", str(uner / "en_ewt-ud-dev.iob2"), "--time", args.time,
               "--seed", args.seed, "-o", os.path.join(out, f"{side}.npz"), "--force",
               "--progress", "off", "--json", *extra]
        print("$ " + " ".join(cmd[2:]))
        procs[side] = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    summaries = {side: json.loads(p.communicate()[0]) for side, p in procs.items()}
    sets = {"EWT dev": (uner / "en_ewt-ud-dev.iob2", ()),
            "EWT test": (uner / "en_ewt-ud-test.iob2", ()),
            "PUD": (SHARED / "eval" / "uner_en_pud" / "en_pud-ud-test.iob2", ()),
            "wikigold": (SHARED / "eval" / "wikigold" / "wikigold.conll.txt",
                         ("--drop-type", "MISC"))}
    print(f"{'side':8} {'epochs':>7} " + " ".join(f"{k:>9}" for k in sets) + "  tag tok/s")
    for side, s in summaries.items():
        model = os.path.join(out, f"{side}.npz")
        f1 = []
        for gold, extra in sets.values():
            f1.append(100 * evaluate(model, str(gold), *extra)["entities"]["f1"]
                      if gold.is_file() else float("nan"))
        test = str(uner / "en_ewt-ud-test.iob2")
        t0 = time.perf_counter()
        r = evaluate(model, test)
        speed = r["tokens"] / (time.perf_counter() - t0)
        print(f"{side:8} {s['epochs']:7.1f} " + " ".join(f"{x:9.1f}" for x in f1) +
              f"  {speed:9,.0f} (evaluate on EWT test, process start included)")


if __name__ == "__main__":
    main()
