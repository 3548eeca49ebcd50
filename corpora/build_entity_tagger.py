"""Train the English entity tagger (PER, ORG, LOC) that ships with charlm, and measure
it.

Usage (from the repository root, ~40 minutes on two cores):

    python corpora/build_entity_tagger.py [SHARED/CORPORA] [--time 20m] [--lm-time 15m]
        [--features fw|both|none] [--work DIR]

SHARED/CORPORA (default ../shared/corpora) holds Universal NER English EWT in
tagging/uner_en_ewt (en_ewt-ud-{train.draft-normalized,dev,test}.iob2), UD English
EWT's train file in tagging/en_ewt, the English books of text/ and, for the figures
on text it never saw, eval/uner_en_pud/en_pud-ud-test.iob2 and
eval/wikigold/wikigold.conll.txt.

First the character language models whose states the tagger reads (`--features`):
their text (WORK/en_text.txt) is the raw text of the UD English EWT training
sentences (the `# text =` lines of the sentences Universal NER tags for training) and
the public-domain English books of text/; no dev or test sentence and nothing of the
evaluation sets is in it. A forward and a backward 1×256 LSTM are trained on it side
by side, one core each (`charlm train --level char --layers 1 --hidden 256`, the
second with `--reverse`), as many as `--features` needs; LMs already in WORK are
reused. Then the tagger is trained
on train, one thread, with the settings of ENTITY_OPTIONS below, the best model by
dev entity F1 is kept, and its entity F1 on the three test sets is printed (it goes
into charlm/tagger/default/README.md by hand). The data files are read, never copied:
only the weights, which carry the licence of Universal NER English EWT (CC BY-SA 4.0),
are written to charlm/tagger/default/en_uner_entities.npz.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

from build_tagger import ROOT, charlm, train_shipped

OUT = ROOT / "charlm" / "tagger" / "default" / "en_uner_entities.npz"
BOOKS = ("en_alice.txt", "warpeace_lf.txt", "tinyshakespeare.txt")
LM_OPTIONS = ("--level", "char", "--layers", "1", "--hidden", "256")
# What the shipped tagger adds to train-tagger's defaults (see the README's section 4).
ENTITY_OPTIONS = ("--dropout", "0.5", "--word-dropout", "2.0", "--min-count", "3")
FEATURES = {"none": (), "fw": ("--lm", "lm_fwd.npz"),
            "both": ("--lm", "lm_fwd.npz", "--lm-backward", "lm_bwd.npz")}


def pretraining_text(shared, path, books=BOOKS):
    """Write the language models' text: UD English EWT train's `# text` lines, then
    the English ``books`` of text/."""
    with open(path, "w", encoding="utf-8") as out:
        with open(shared / "tagging" / "en_ewt" / "en_ewt-ud-train.conllu",
                  encoding="utf-8") as f:
            for line in f:
                if line.startswith("# text = "):
                    out.write(line[len("# text = "):].rstrip("\n") + "\n")
        for book in books:
            text = (shared / "text" / book).read_text(encoding="utf-8")
            out.write(text if text.endswith("\n") else text + "\n")


def train_lms(shared, work, time, hidden="256", which=("lm_fwd.npz", "lm_bwd.npz")):
    """The forward and/or backward character LM in WORK (``which``: lm_fwd.npz,
    lm_bwd.npz), trained side by side, one thread each; files already there are kept."""
    work.mkdir(parents=True, exist_ok=True)
    todo = [(name, extra) for name, extra in (("lm_fwd", ()), ("lm_bwd", ("--reverse",)))
            if f"{name}.npz" in which and not (work / f"{name}.npz").exists()]
    if not todo:
        return
    pretraining_text(shared, work / "en_text.txt")
    options = [o if o != "256" else hidden for o in LM_OPTIONS]
    env = dict(os.environ, CHARLM_THREADS="1")
    procs = []
    for name, extra in todo:
        cmd = [sys.executable, "-m", "charlm", "train", "en_text.txt", *options, "--time",
               time, *extra, "-o", f"{name}.npz", "--progress", "off"]
        print("$", " ".join(cmd[2:]), f"(in {work})", file=sys.stderr)
        procs.append(subprocess.Popen(cmd, cwd=work, env=env))
    if any(p.wait() for p in procs):
        sys.exit("training a language model failed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="?", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--time", default="20m")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--features", choices=sorted(FEATURES), default="fw")
    ap.add_argument("--lm-time", default="15m")
    ap.add_argument("--work", default="lm-work", help="folder for the language models "
                    "[default: ./lm-work]; LMs already there are reused")
    args = ap.parse_args()
    shared = pathlib.Path(args.corpora)
    uner = shared / "tagging" / "uner_en_ewt"
    train = uner / "en_ewt-ud-train.draft-normalized.iob2"
    dev, test = uner / "en_ewt-ud-dev.iob2", uner / "en_ewt-ud-test.iob2"
    for path in (train, dev, test):
        if not path.is_file():
            sys.exit(f"{path}: not found; give the folder that holds tagging/uner_en_ewt")
    work = pathlib.Path(args.work).resolve()
    features = FEATURES[args.features]
    if features:
        train_lms(shared, work, args.lm_time, which=[f for f in features if f.endswith(".npz")])
        features = [str(work / f) if f.endswith(".npz") else f for f in features]
    os.environ["CHARLM_THREADS"] = "1"
    train_shipped(OUT, train, dev, args.time, args.seed, "--force", *ENTITY_OPTIONS,
                  *features)
    sets = [("UNER EWT test", test, ()),
            ("UNER PUD", shared / "eval" / "uner_en_pud" / "en_pud-ud-test.iob2", ()),
            ("wikigold (MISC as O)", shared / "eval" / "wikigold" / "wikigold.conll.txt",
             ("--drop-type", "MISC"))]
    for name, path, extra in sets:
        if not path.is_file():
            print(f"{name}: {path} not found")
            continue
        r = json.loads(charlm("evaluate", "-m", str(OUT), str(path), *extra, "--format",
                              "json", capture=True))
        e = r["entities"]
        print(f"{name}: entity F1 {100 * e['f1']:.1f} (precision {100 * e['precision']:.1f}, "
              f"recall {100 * e['recall']:.1f})")
    print(f"{OUT} {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
