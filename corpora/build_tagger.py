"""Train the English tagger that ships with charlm, parts of speech and entities in one
model, and measure it.

Usage (from the repository root, ~40 minutes on two cores; ~20 when the language
model is already in WORK):

    python corpora/build_tagger.py [SHARED/CORPORA] [--time 20m] [--lm-time 15m]
        [--lm-hidden 128] [--features fw|both|none] [--work DIR]

SHARED/CORPORA (default ../shared/corpora) holds UD English EWT in tagging/en_ewt
(en_ewt-ud-{train,dev,test}.conllu), Universal NER English EWT in
tagging/uner_en_ewt (en_ewt-ud-{train.draft-normalized,dev,test}.iob2), the English
books of text/ and, for the figures on text it never saw, eval/uner_en_pud,
eval/ud_en_pud and eval/wikigold.

1. The character language model whose states the tagger reads (`--features`): its
   text (WORK/en_text.txt) is the raw text of the UD English EWT training sentences
   (their `# text =` lines) and the public-domain English books of text/; no dev or
   test sentence and nothing of the evaluation sets is in it. A forward 1×H LSTM
   (`charlm train --level char --layers 1 --hidden H`; with `--features both` a
   backward one too, `--reverse`, side by side, one core each). LMs already in WORK
   are reused.
2. The training and dev files of a joint tagger: UD English EWT's CoNLL-U with each
   token's Universal NER tag added to its MISC column as NER=B-PER …, for the
   sentences both have with the same tokens (WORK/train.conllu, WORK/dev.conllu; the
   few that differ are left out and counted).
3. `charlm train-tagger WORK/train.conllu --dev WORK/dev.conllu --tag-column ner
   --also-tag upos` with the settings of TAGGER_OPTIONS, one thread: one BiLSTM, an
   entity layer and a UPOS layer; the best model by dev entity F1 + UPOS accuracy.
4. Its entity F1 on UNER EWT test, UNER PUD and wikigold (MISC as O) and its UPOS
   accuracy on UD EWT test and UD PUD are printed (they go into
   charlm/tagger/default/README.md by hand).

The data files are read, never copied into the package: only the weights, which carry
the licences of UD English EWT and Universal NER English EWT (CC BY-SA 4.0), are
written to charlm/tagger/default/en_ewt.npz.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from charlm.text.conll import with_misc  # noqa: E402

OUT = ROOT / "charlm" / "tagger" / "default" / "en_ewt.npz"
BOOKS = ("en_alice.txt", "warpeace_lf.txt", "tinyshakespeare.txt")
LM_OPTIONS = ("--level", "char", "--layers", "1", "--hidden", "256")
# What the shipped tagger adds to train-tagger's defaults (see the README's section 4).
TAGGER_OPTIONS = ("--tag-column", "ner", "--also-tag", "upos", "--dropout", "0.5",
                  "--word-dropout", "2.0", "--min-count", "3")
FEATURES = {"none": (), "fw": ("--lm", "lm_fwd.npz"),
            "both": ("--lm", "lm_fwd.npz", "--lm-backward", "lm_bwd.npz")}
SPLITS = {"train": ("en_ewt-ud-train.conllu", "en_ewt-ud-train.draft-normalized.iob2"),
          "dev": ("en_ewt-ud-dev.conllu", "en_ewt-ud-dev.iob2"),
          "test": ("en_ewt-ud-test.conllu", "en_ewt-ud-test.iob2")}


def charlm(*args, capture=False):
    cmd = [sys.executable, "-m", "charlm", *args]
    print("$", " ".join(cmd[2:]), file=sys.stderr)
    return subprocess.run(cmd, check=True, text=True,
                          stdout=subprocess.PIPE if capture else None).stdout


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
    options = [o if o != "256" else str(hidden) for o in LM_OPTIONS]
    env = dict(os.environ, CHARLM_THREADS="1")
    procs = []
    for name, extra in todo:
        cmd = [sys.executable, "-m", "charlm", "train", "en_text.txt", *options, "--time",
               time, *extra, "-o", f"{name}.npz", "--progress", "off"]
        print("$", " ".join(cmd[2:]), f"(in {work})", file=sys.stderr)
        procs.append(subprocess.Popen(cmd, cwd=work, env=env))
    if any(p.wait() for p in procs):
        sys.exit("training a language model failed")


def _blocks(path):
    """The sentences of a CoNLL-U or column file as lists of lines, with their sent_id."""
    block = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                block.append(line)
            elif block:
                yield block
                block = []
    if block:
        yield block


def _sent_id(block):
    for line in block:
        if line.startswith("# sent_id ="):
            return line.split("=", 1)[1].strip()
    return None


def joint_conllu(ud, uner, out):
    """Write ``out``: the CoNLL-U file ``ud`` with each token's entity tag from the
    UNER file ``uner`` (same sentence id, same tokens) in MISC as NER=…; sentences the
    two do not share token for token are left out. Returns (written, left out)."""
    entities = {}
    for block in _blocks(uner):
        rows = [line.split("\t") for line in block if not line.startswith("#")]
        entities[_sent_id(block)] = ([r[1] for r in rows], [r[2] for r in rows])
    written = left = 0
    with open(out, "w", encoding="utf-8") as f:
        for block in _blocks(ud):
            rows = [line.split("\t") for line in block if not line.startswith("#")]
            tokens = [r for r in rows if r[0].isdigit()]
            forms, tags = entities.get(_sent_id(block), (None, None))
            if forms != [r[1] for r in tokens]:
                left += 1
                continue
            tag_of = dict(zip((r[0] for r in tokens), tags))
            for line in block:
                cols = line.split("\t")
                if not line.startswith("#") and cols[0] in tag_of:
                    cols[9] = with_misc(cols[9], "NER", tag_of[cols[0]])
                f.write("\t".join(cols) + "\n")
            f.write("\n")
            written += 1
    return written, left


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="?", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--time", default="20m")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--features", choices=sorted(FEATURES), default="fw")
    ap.add_argument("--lm-time", default="15m")
    ap.add_argument("--lm-hidden", default="128")
    ap.add_argument("--work", default="lm-work", help="folder for the language models "
                    "and the joint training files [default: ./lm-work]; LMs already "
                    "there are reused")
    args = ap.parse_args()
    shared = pathlib.Path(args.corpora)
    ud, uner = shared / "tagging" / "en_ewt", shared / "tagging" / "uner_en_ewt"
    for names in SPLITS.values():
        for path in (ud / names[0], uner / names[1]):
            if not path.is_file():
                sys.exit(f"{path}: not found; give the folder that holds tagging/en_ewt "
                         "and tagging/uner_en_ewt")
    work = pathlib.Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    features = FEATURES[args.features]
    if features:
        train_lms(shared, work, args.lm_time, args.lm_hidden,
                  which=[f for f in features if f.endswith(".npz")])
        features = [str(work / f) if f.endswith(".npz") else f for f in features]
    for split in ("train", "dev"):
        kept, left = joint_conllu(ud / SPLITS[split][0], uner / SPLITS[split][1],
                                  work / f"{split}.conllu")
        print(f"{split}: {kept:,} sentences with both annotations ({left} left out: "
              "their tokens differ)", file=sys.stderr)
    os.environ["CHARLM_THREADS"] = "1"
    charlm("train-tagger", str(work / "train.conllu"), "--dev", str(work / "dev.conllu"),
           "--time", args.time, "--seed", args.seed, "-o", str(OUT), "--force",
           *TAGGER_OPTIONS, *features, "--progress", "off")
    ckpt = OUT.with_name(OUT.stem + ".ckpt.npz")
    if ckpt.exists():
        ckpt.unlink()                       # the checkpoint does not ship
    sets = [("UNER EWT test", uner / SPLITS["test"][1], ()),
            ("UNER PUD", shared / "eval" / "uner_en_pud" / "en_pud-ud-test.iob2", ()),
            ("wikigold (MISC as O)", shared / "eval" / "wikigold" / "wikigold.conll.txt",
             ("--drop-type", "MISC")),
            ("UD EWT test", ud / SPLITS["test"][0], ()),
            ("UD PUD", shared / "eval" / "ud_en_pud" / "en_pud-ud-test.conllu", ())]
    for name, path, extra in sets:
        if not path.is_file():
            print(f"{name}: {path} not found")
            continue
        r = json.loads(charlm("evaluate", "-m", str(OUT), str(path), *extra, "--format",
                              "json", capture=True))
        e = r.get("entities")
        if e and path.suffix != ".conllu":
            print(f"{name}: entity F1 {100 * e['f1']:.1f} (precision "
                  f"{100 * e['precision']:.1f}, recall {100 * e['recall']:.1f})")
        else:
            print(f"{name}: UPOS accuracy {100 * r['accuracy']:.2f}% ({r['tokens']:,} "
                  "tokens)")
    print(f"{OUT} {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
