"""What character-LM features bring the entity tagger: forward and backward character
language models trained on English text, then `charlm train-tagger` with none, the
forward one or both of them (`--lm`, `--lm-backward`), each for the same training
time, and entity F1 on Universal NER EWT dev and test, UNER PUD and wikigold (MISC
dropped), with tagging speed.

    python benchmarks/entity_features.py lms --out DIR [--time 15m] [--hidden 256]
    python benchmarks/entity_features.py variants --out DIR [--time 15m]
    python benchmarks/entity_features.py taggers --out DIR [--time 20m]
                                         [--sides none,fw,both] [-- TRAIN-TAGGER OPTIONS]
    python benchmarks/entity_features.py table --out DIR

`lms` writes DIR/en_text.txt, the pretraining text: the raw text of the UD English
EWT training sentences (their `# text =` lines: the sentences Universal NER's
training file tags) and the English books of text/ (Alice, War and Peace, the
Shakespeare of tinyshakespeare). No dev or test sentence and nothing of the
evaluation sets is in it. It then trains DIR/lm_fwd.npz and DIR/lm_bwd.npz
(`--reverse`) side by side, one core each, as corpora/build_tagger.py does
(LMs already in DIR are kept).

`variants` trains the LMs of two ablations side by side: a 1×128 forward LM on the same
text (side `fw128`) and a 1×256 one on the EWT sentences' text alone (side `fwewt`).

`taggers` trains the sides two at a time, one BLAS thread each, with the same data
and seed, and writes DIR/SIDE.npz and DIR/SIDE.json (the run's summary and its F1 on
every set); `table` prints them. Start either when two cores are free.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

from common import SHARED, header

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "corpora"))
from build_tagger import LM_OPTIONS, pretraining_text, train_lms  # noqa: E402
SIDES = {"none": [], "fw": ["--lm", "lm_fwd.npz"],
         "both": ["--lm", "lm_fwd.npz", "--lm-backward", "lm_bwd.npz"],
         # the LM-size and pretraining-text ablations (`variants` trains their LMs)
         "fw128": ["--lm", "lm_fwd128.npz"], "fwewt": ["--lm", "lm_fwd_ewt.npz"]}
UNER = SHARED / "tagging" / "uner_en_ewt"
SETS = {"EWT dev": (UNER / "en_ewt-ud-dev.iob2", ()),
        "EWT test": (UNER / "en_ewt-ud-test.iob2", ()),
        "PUD": (SHARED / "eval" / "uner_en_pud" / "en_pud-ud-test.iob2", ()),
        "wikigold": (SHARED / "eval" / "wikigold" / "wikigold.conll.txt",
                     ("--drop-type", "MISC"))}
ENV = dict(os.environ, CHARLM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def charlm(*args):
    return [sys.executable, "-m", "charlm", *args]


def together(commands, cwd):
    """Run the commands at the same time; their --json summaries."""
    for cmd in commands:
        print("$ " + " ".join(cmd[2:]), flush=True)
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=ENV, cwd=cwd)
             for cmd in commands]
    outs = [p.communicate()[0] for p in procs]
    for cmd, p in zip(commands, procs):
        if p.returncode:
            sys.exit(f"failed ({p.returncode}): {' '.join(cmd[2:])}")
    return [json.loads(o) for o in outs]


def lms(args):
    out = pathlib.Path(args.out)
    header(f"character LMs for tagger features: 1×{args.hidden} LSTM, --time {args.time}")
    train_lms(SHARED, out, args.time, args.hidden)


def variants(args):
    """Two more forward LMs, side by side: 1×128 on the same text (lm_fwd128.npz), and
    1×256 on the EWT training sentences' text alone (lm_fwd_ewt.npz)."""
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pretraining_text(SHARED, out / "en_text.txt")
    pretraining_text(SHARED, out / "ewt_text.txt", books=())
    header(f"character LM ablations: size and pretraining text, --time {args.time}")
    small = [o if o != "256" else "128" for o in LM_OPTIONS]
    together([charlm("train", "en_text.txt", *small, "--time", args.time, "-o",
                     "lm_fwd128.npz", "--force", "--progress", "off", "--json"),
              charlm("train", "ewt_text.txt", *LM_OPTIONS, "--time", args.time, "-o",
                     "lm_fwd_ewt.npz", "--force", "--progress", "off", "--json")], out)


def evaluate(model, gold, *extra):
    out = subprocess.run(charlm("evaluate", "-m", model, str(gold), "--format", "json",
                                *extra), check=True, capture_output=True, text=True,
                         env=ENV).stdout
    return json.loads(out)


def measure(out, name, summary, options):
    """F1 of DIR/NAME.npz on every set and its speed, written to DIR/NAME.json."""
    f1 = {}
    for what, (gold, extra) in SETS.items():
        if gold.is_file():
            f1[what] = 100 * evaluate(str(out / f"{name}.npz"), gold, *extra)["entities"]["f1"]
    t0 = time.perf_counter()
    r = evaluate(str(out / f"{name}.npz"), SETS["EWT test"][0])
    speed = r["tokens"] / (time.perf_counter() - t0)
    (out / f"{name}.json").write_text(json.dumps(
        {"summary": summary, "f1": f1, "tokens_per_s": speed, "options": options}, indent=1))


def taggers(args):
    out = pathlib.Path(args.out)
    sides = args.sides.split(",")
    header(f"entity tagger with character-LM features: {', '.join(sides)}; "
           f"--time {args.time} each, two at a time {' '.join(args.extra)}")
    for k in range(0, len(sides), 2):
        pair = sides[k:k + 2]
        cmds = [charlm("train-tagger", str(UNER / "en_ewt-ud-train.draft-normalized.iob2"),
                       "--dev", str(UNER / "en_ewt-ud-dev.iob2"), "--time", args.time,
                       "--seed", args.seed, "-o", f"{side}{args.suffix}.npz", "--force",
                       "--progress", "off", "--json", *SIDES[side], *args.extra)
                for side in pair]
        for side, summary in zip(pair, together(cmds, out)):
            measure(out, side + args.suffix, summary, SIDES[side] + args.extra)
    table(args)


def table(args):
    out = pathlib.Path(args.out)
    print(f"{'side':10} {'epochs':>7} {'best at':>7} " + " ".join(f"{k:>9}" for k in SETS) +
          "  tok/s")
    for path in sorted(out.glob("*.json")):
        if path.stem.startswith("lm_"):
            continue
        r = json.loads(path.read_text())
        if "f1" not in r:
            continue
        print(f"{path.stem:10} {r['summary'].get('epochs', 0):7.1f} " +
              f"{r['summary'].get('best_step', 0) / max(r['summary'].get('steps', 1), 1) * r['summary'].get('epochs', 0):7.1f} " +
              " ".join(f"{r['f1'].get(k, float('nan')):9.1f}" for k in SETS) +
              f"  {r['tokens_per_s']:,.0f} (evaluate on EWT test, process start included)")


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        k = argv.index("--")
        argv, extra = argv[:k], argv[k + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("lms")
    p.add_argument("--out", required=True)
    p.add_argument("--time", default="15m")
    p.add_argument("--hidden", default="256")
    p = sub.add_parser("variants")
    p.add_argument("--out", required=True)
    p.add_argument("--time", default="15m")
    p = sub.add_parser("taggers")
    p.add_argument("--out", required=True)
    p.add_argument("--time", default="20m")
    p.add_argument("--seed", default="1")
    p.add_argument("--sides", default="none,fw,both")
    p.add_argument("--suffix", default="", help="added to each side's file names")
    p = sub.add_parser("table")
    p.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    args.extra = extra
    if not UNER.is_dir():
        sys.exit(f"{UNER}: not found (set CHARLM_SHARED_CORPORA)")
    {"lms": lms, "variants": variants, "taggers": taggers, "table": table}[args.what](args)


if __name__ == "__main__":
    main()
