"""Data-parallel training (--workers): training tokens/s of 2 ranks against 1 process
at the same global batch, against --threads 2, and against the ceiling of two
independent processes at half the batch running at once.

    python benchmarks/workers.py [--rounds 3] [--steps 60]      # speed
    python benchmarks/workers.py --only tagger --tagger-batch 64  # the tagger alone
    python benchmarks/workers.py --startup [--mb 200]           # big corpus: start-up, memory
    python benchmarks/workers.py --breakdown [--only tagger]    # where a 2-rank step goes

Every figure is the `tokens_per_sec` of `charlm train --json` (training steps only:
start-up and the last validation are not in it). The sides run in turns (A B C D, A B
C D, …) so that load from elsewhere hits them alike; the ratios are medians of the
per-round ratios. Run it with both cores free. Targets on this project's 2-core
machine: 2 ranks ≥ 1.6× one process for the 2×256 char LSTM at batch 64, and the
same for the tagger; the ceiling (two independent processes at batch 32, measured
once at 1.65×) bounds what two ranks can reach, since both share the caches and the
memory bandwidth of one chip.

--paper prints the scaling on paper: bytes all-reduced and floating-point work per
step for the default models (computed), one process's step time and a 2-rank
all-reduce on this machine (measured), and from them the rank count at which a ring
all-reduce over 1 Gb/s and 10 Gb/s links would take as long as the computing, and
the speed-up to expect at 4, 16 and 64 ranks (computed).

--breakdown splits a 2-rank step into its parts: each rank records, at every step, the
time it computed (from the end of one exchange of gradients to the start of the
next: forward, backward, the update of its block of the weights and the barrier or
gather after it) and the time it spent in the exchange (summing its block of the
gradients, waiting for the other rank included). It prints the medians and means per
rank, and what the ranks lose to waiting: the mean over steps of the slower rank's
computing, less the mean of their own.

--startup measures the way ranks get their data: rank 0 reads (and caches) the
corpus, then the other ranks read the cached token ids, memory-mapped: seconds to
the first step and peak resident memory of each rank on a big corpus (War and Peace
repeated, as in big_corpus.py), with a cold and a warm cache, against one process.
"""

import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

from common import SHARED, header

PY = [sys.executable, "-m", "charlm"]
MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
SHAKESPEARE = SHARED / "text" / "tinyshakespeare.txt"
EWT = SHARED / "tagging" / "en_ewt" / "en_ewt-ud-train.conllu"
# The 2×256 char LSTM of the speed figures (batch, steps and evaluation given per use).
LM = ["train", str(SHAKESPEARE), "--hidden", "256", "--layers", "2", "--seq-len", "64",
      "--sample-every", "0", "--val-max-tokens", "5000"]


def run_json(args, cwd, threads=1, extra_env=None):
    env = dict(os.environ, CHARLM_THREADS=str(threads), **(extra_env or {}))
    p = subprocess.run(PY + args + ["--json", "--progress", "off", "--force"], cwd=cwd,
                       capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(p.stderr)
    return json.loads(p.stdout)["tokens_per_sec"]


def side_runs(base, batch, steps, cwd):
    """{side: function → tokens/s} for one model."""
    def one():
        return run_json(base + ["--batch-size", str(batch), "--steps", str(steps),
                                "-o", "one.npz"], cwd)

    def ranks():
        return run_json(base + ["--batch-size", str(batch), "--steps", str(steps),
                                "-o", "two.npz", "--workers", "2"], cwd)

    def threads():
        return run_json(base + ["--batch-size", str(batch), "--steps", str(steps),
                                "-o", "thr.npz"], cwd, threads=2)

    def pair():
        """Two independent processes at half the batch, at the same time."""
        env = dict(os.environ, CHARLM_THREADS="1")
        procs = [subprocess.Popen(PY + base + ["--batch-size", str(batch // 2), "--steps",
                                               str(steps), "-o", f"half{i}.npz", "--json",
                                               "--progress", "off", "--force"],
                                  cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env) for i in range(2)]
        total = 0.0
        for p in procs:
            out, err = p.communicate()
            if p.returncode != 0:
                raise SystemExit(err)
            total += json.loads(out)["tokens_per_sec"]
        return total

    return {"1 process": one, "2 ranks": ranks, "--threads 2": threads,
            "2 processes at half batch": pair}


def compare(title, sides, rounds):
    rates = {name: [] for name in sides}
    for _ in range(rounds):
        for name, fn in sides.items():
            rates[name].append(fn())
    base = rates["1 process"]
    print(f"\n{title}")
    for name, r in rates.items():
        ratio = statistics.median(x / b for x, b in zip(r, base))
        print(f"  {name:26s} {statistics.median(r):9,.0f} tok/s  ({ratio:.2f}× one process; "
              f"rounds: {', '.join(f'{x:,.0f}' for x in r)})")
    ranks = statistics.median(x / b for x, b in zip(rates["2 ranks"], base))
    ceiling = statistics.median(x / b for x, b in
                                zip(rates["2 processes at half batch"], base))
    print(f"  2 ranks reach {ranks / ceiling:.1%} of the ceiling "
          f"(two independent processes at half the batch)")


def speed(args):
    work = tempfile.mkdtemp(prefix="charlm-workers-")
    if args.only != "tagger":
        compare(f"char LSTM 2×256, global batch {args.batch} × 64, {args.steps} steps",
                side_runs(LM + ["--eval-every", "1000000"], args.batch, args.steps, work),
                args.rounds)
    if EWT.exists() and args.only != "lm":
        tagger = ["train-tagger", str(EWT), "--eval-every", "1000000"]
        compare(f"tagger (BiLSTM, defaults) on en_ewt, global batch {args.tagger_batch} "
                f"sentences, {args.tagger_steps} steps",
                side_runs(tagger, args.tagger_batch, args.tagger_steps, work), args.rounds)


def first_step(cmd, env, cwd):
    """Seconds until the first step is reported, and each process's peak RSS (MB),
    from `/usr/bin/time -v` around every rank."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                         env=env, cwd=cwd)
    step_at, lines = None, []
    for line in p.stderr:
        lines.append(line)
        if step_at is None and line.startswith("step "):
            step_at = time.perf_counter() - t0
    p.wait()
    text = "".join(lines)
    if p.returncode != 0:
        raise SystemExit(text)
    rss = [int(m) / 1024 for m in re.findall(r"Maximum resident set size \(kbytes\): (\d+)",
                                              text)]
    return step_at, rss


def startup(args):
    from big_corpus import make_corpus

    work = pathlib.Path(tempfile.mkdtemp(prefix="charlm-workers-big-"))
    path = work / "big.txt"
    make_corpus(path, args.mb)
    print(f"# corpus {path}: {os.path.getsize(path) / 1e6:.0f} MB")
    train = ["train", str(path), "--steps", "1", "--eval-every", "1000000",
             "--val-max-tokens", "20000", "--progress", "off", "--sample-every", "0",
             "--force", "-o", "m.npz"]
    timed = ["/usr/bin/time", "-v", sys.executable, "-m", "charlm", *train]
    for n in (1, 2):
        cache = work / f"cache{n}"
        env = dict(os.environ, CHARLM_CACHE=str(cache))
        cmd = timed if n == 1 else [MPIEXEC, "-n", str(n), *timed]
        for attempt in ("cold", "warm"):
            t, rss = first_step(cmd, env, work)
            print(f"{n} {'process' if n == 1 else 'ranks  '} ({attempt} cache): first step "
                  f"after {t:5.1f} s; peak resident memory "
                  f"{', '.join(f'{m:,.0f}' for m in rss)} MB")


# --- scaling on paper ----------------------------------------------------------------

LINKS = (("1 Gb/s", 125e6), ("10 Gb/s", 1.25e9))
LATENCY = 50e-6          # seconds per message on Ethernet with TCP (assumed)


def lm_macs(cfg):
    """Multiply-adds per token of the language model's forward pass (one-hot input is
    a lookup, not a product)."""
    G, H, V, E, L = (cfg.cell_spec.width(1), cfg.hidden, cfg.vocab_size, cfg.embed,
                     cfg.layers)
    first = G * H * (H + E)                      # W_aa, and W_ax when embedded
    return first + (L - 1) * G * H * 2 * H + V * H


def tagger_macs(cfg, chars_per_token=5.0):
    """Per token: both directions of the word BiRNN, the softmax layer, and the
    character BiRNN over ~``chars_per_token`` characters of the batch's distinct forms
    (an estimate: forms repeat within a batch)."""
    G, H, Hc = cfg.cell_spec.width(1), cfg.hidden, cfg.char_hidden
    D = cfg.embed + 2 * Hc
    word = 2 * G * H * (H + D) + (cfg.layers - 1) * 2 * G * H * (H + 2 * H)
    char = chars_per_token * 2 * G * Hc * (Hc + cfg.char_embed)
    return word + 2 * H * cfg.n_tags + char


def ring_seconds(nbytes, ranks, bandwidth):
    """A ring all-reduce: each rank sends and receives 2(W-1)/W of the buffer in
    2(W-1) messages."""
    return 2 * (ranks - 1) / ranks * nbytes / bandwidth + 2 * (ranks - 1) * LATENCY


def local_allreduce(nbytes, repeats=50):
    """Measured: seconds per Allreduce of ``nbytes`` between 2 ranks of this machine."""
    code = ("import time, numpy as np\n"
            "from mpi4py import MPI\n"
            f"b = np.ones({nbytes // 4}, np.float32); c = MPI.COMM_WORLD\n"
            "c.Allreduce(MPI.IN_PLACE, b); c.Barrier(); t = time.perf_counter()\n"
            f"for _ in range({repeats}): c.Allreduce(MPI.IN_PLACE, b)\n"
            f"if c.rank == 0: print((time.perf_counter() - t) / {repeats})\n")
    p = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-c", code],
                       capture_output=True, text=True)
    return float(p.stdout) if p.returncode == 0 else float("nan")


def paper(args):
    from charlm.lm.model import ModelConfig
    from charlm.tagger.model import TaggerConfig

    work = tempfile.mkdtemp(prefix="charlm-workers-paper-")
    cases = []
    for H, name in ((128, "LM 2×128 (train's default)"), (256, "LM 2×256 (the recipe)")):
        cfg = ModelConfig(vocab_size=67, hidden=H, layers=2)
        rate = run_json(["train", str(SHAKESPEARE), "--split", "none", "--hidden", str(H),
                         "--batch-size", "64", "--steps", "12", "--eval-every", "1000000",
                         "--sample-every", "0", "--val-max-tokens", "5000", "-o", "p.npz"],
                        work)
        cases.append((f"{name}, batch 64×64", cfg.num_params(), lm_macs(cfg), 64 * 64, rate))
    if EWT.exists():
        # en_ewt with the defaults: 8,080 words (min count 2), 110 characters, 17 tags;
        # its sentences average 16.3 tokens.
        cfg = TaggerConfig(n_words=8080, n_chars=110, n_tags=17)
        rate = run_json(["train-tagger", str(EWT), "--steps", "40", "--eval-every", "1000000",
                         "-o", "t.npz"], work)
        cases.append(("tagger (defaults), batch 32 sentences", cfg.num_params(),
                      tagger_macs(cfg), 32 * 16.3, rate))
    print("\nper step (computed: bytes, GFLOP; measured: one process's seconds at one "
          "thread, a 2-rank all-reduce here)")
    for name, P, macs, tokens, rate in cases:
        nbytes = 4 * P                            # float32 gradients, one flat buffer
        flop = 6 * macs * tokens                  # forward 2, backward 4 per multiply-add
        step = tokens / rate
        here = local_allreduce(nbytes)
        print(f"  {name}: {P:,} parameters → {nbytes / 1e6:.2f} MB all-reduced; "
              f"{flop / 1e9:.2f} GFLOP; one process {step * 1e3:.0f} ms "
              f"({flop / step / 1e9:.0f} GFLOP/s); all-reduce between 2 ranks here "
              f"{here * 1e3:.2f} ms")
        for link, bw in LINKS:
            # the global batch stays: each of W ranks computes step/W
            cross = next((w for w in range(2, 100000)
                          if ring_seconds(nbytes, w, bw) >= step / w), None)
            speed = []
            for w in (4, 16, 64):
                fixed = step / (step / w + ring_seconds(nbytes, w, bw))
                grown = w * step / (step + ring_seconds(nbytes, w, bw))
                speed.append(f"{w}: {fixed:.1f}× ({grown:.1f}× with {w}× the batch)")
            print(f"    {link:8s} all-reduce {ring_seconds(nbytes, 64, bw) * 1e3:6.1f} ms at "
                  f"64 ranks; communication ≥ computing from {cross} ranks at this global "
                  f"batch; speed-up {'; '.join(speed)}")


# Run by each rank under mpiexec in --breakdown: times every exchange of the run,
# then writes them to OUT/rank<r>.json. BLAS threads are set before NumPy loads.
PROBE = """
import json, os, sys, time
os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
from charlm.cli import main
from charlm.training import distributed
out, args = sys.argv[1], sys.argv[2:]
reduce_step, marks = distributed.Workers.reduce_step, []
def timed(self, *a, **k):
    start = time.perf_counter()
    result = reduce_step(self, *a, **k)
    marks.append((start, time.perf_counter()))
    if len(marks) == self.steps:
        with open(os.path.join(out, f"rank{self.rank}.json"), "w") as f:
            json.dump(marks, f)
    return result
distributed.Workers.reduce_step = timed
distributed.Workers.steps = int(args[args.index("--steps") + 1])
main(args)
"""


def breakdown(args):
    work = pathlib.Path(tempfile.mkdtemp(prefix="charlm-workers-"))
    models = []
    if args.only != "tagger":
        models.append((f"char LSTM 2×256, batch {args.batch} × 64",
                       LM + ["--batch-size", str(args.batch)], args.steps))
    if EWT.exists() and args.only != "lm":
        models.append((f"tagger (defaults), batch {args.tagger_batch} sentences",
                       ["train-tagger", str(EWT), "--batch-size", str(args.tagger_batch)],
                       args.tagger_steps))
    for title, base, steps in models:
        print(f"\n{title}, {steps} steps on 2 ranks, {args.rounds} runs "
              "(ms per step; the first 5 steps of each run left out)")
        compute, reduce = {0: [], 1: []}, {0: [], 1: []}
        lost = []
        for _ in range(args.rounds):
            for r in (0, 1):
                (work / f"rank{r}.json").unlink(missing_ok=True)
            cmd = [MPIEXEC, "-n", "2", sys.executable, "-c", PROBE, str(work), *base,
                   "--steps", str(steps), "--eval-every", "1000000", "-o", "probe.npz",
                   "--force", "--progress", "off"]
            p = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(p.stderr)
            marks = {r: json.loads((work / f"rank{r}.json").read_text()) for r in (0, 1)}
            spent = {}
            for r in (0, 1):
                m = marks[r][5:]
                spent[r] = [(b[0] - a[1]) * 1e3 for a, b in zip(m, m[1:])]
                compute[r] += spent[r]
                reduce[r] += [(b - a) * 1e3 for a, b in m[1:]]
            both = list(zip(spent[0], spent[1]))
            lost.append(statistics.mean(max(a, b) - (a + b) / 2 for a, b in both))
        for r in (0, 1):
            print(f"  rank {r}: computing median {statistics.median(compute[r]):5.1f}, mean "
                  f"{statistics.mean(compute[r]):5.1f}; in the exchange median "
                  f"{statistics.median(reduce[r]):4.1f}, mean {statistics.mean(reduce[r]):4.1f}")
        print(f"  lost to waiting for the slower rank: {statistics.mean(lost):.1f} ms a step "
              f"(runs: {', '.join(f'{x:.1f}' for x in lost)})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--tagger-batch", type=int, default=32)
    ap.add_argument("--tagger-steps", type=int, default=120)
    ap.add_argument("--only", choices=["lm", "tagger"], help="time one of the two models")
    ap.add_argument("--startup", action="store_true")
    ap.add_argument("--breakdown", action="store_true",
                    help="split a 2-rank step into computing, exchange and waiting")
    ap.add_argument("--paper", action="store_true")
    ap.add_argument("--mb", type=int, default=200)
    args = ap.parse_args()
    header("data-parallel training: --workers 2")
    if args.startup:
        startup(args)
    elif args.breakdown:
        breakdown(args)
    elif args.paper:
        paper(args)
    else:
        speed(args)


if __name__ == "__main__":
    main()
