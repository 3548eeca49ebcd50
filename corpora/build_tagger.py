"""Train the English UPOS tagger that ships with charlm, and measure it.

Usage (from the repository root, ~25 minutes on one core):

    CHARLM_THREADS=1 python corpora/build_tagger.py [PATH/TO/en_ewt] [--time 20m]

PATH/TO/en_ewt holds UD English EWT (en_ewt-ud-{train,dev,test}.conllu; default
../shared/corpora/tagging/en_ewt). The tagger is trained on train with the defaults of
`charlm train-tagger`, the best model by dev accuracy is kept, and its accuracy on
test is printed (and goes into charlm/tagger/default/README.md by hand). The data
files are read, never copied: only the weights, which carry EWT's licence
(CC BY-SA 4.0), are written to charlm/tagger/default/en_ewt_upos.npz.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "charlm" / "tagger" / "default" / "en_ewt_upos.npz"


def charlm(*args, capture=False):
    cmd = [sys.executable, "-m", "charlm", *args]
    print("$", " ".join(cmd[2:]), file=sys.stderr)
    return subprocess.run(cmd, check=True, text=True,
                          stdout=subprocess.PIPE if capture else None).stdout


def train_shipped(out, train, dev, time, seed, *options):
    """`charlm train-tagger` with its defaults into ``out``, keeping the best model by
    dev; the checkpoint it leaves beside ``out`` is removed, since it does not ship."""
    charlm("train-tagger", str(train), "--dev", str(dev), "--time", time, "--seed", seed,
           "-o", str(out), *options, "--progress", "off")
    ckpt = out.with_name(out.stem + ".ckpt.npz")
    if ckpt.exists():
        ckpt.unlink()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ewt", nargs="?", default=str(ROOT.parent / "shared" / "corpora" /
                                                  "tagging" / "en_ewt"))
    ap.add_argument("--time", default="20m")
    ap.add_argument("--seed", default="1")
    args = ap.parse_args()
    ewt = pathlib.Path(args.ewt)
    split = {s: str(ewt / f"en_ewt-ud-{s}.conllu") for s in ("train", "dev", "test")}
    for path in split.values():
        if not os.path.isfile(path):
            sys.exit(f"{path}: not found; give the folder of UD English EWT")
    train_shipped(OUT, split["train"], split["dev"], args.time, args.seed)
    result = json.loads(charlm("evaluate", "-m", str(OUT), split["test"], "--format", "json",
                               capture=True))
    print(f"EWT test UPOS accuracy: {result['accuracy']:.2%} "
          f"({result['tokens']} tokens); {OUT} {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
