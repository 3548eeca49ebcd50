"""Train the English entity tagger (PER, ORG, LOC) that ships with charlm, and measure
it.

Usage (from the repository root, ~25 minutes on one core):

    CHARLM_THREADS=1 python corpora/build_entity_tagger.py [SHARED/CORPORA] [--time 20m]

SHARED/CORPORA (default ../shared/corpora) holds Universal NER English EWT in
tagging/uner_en_ewt (en_ewt-ud-{train.draft-normalized,dev,test}.iob2) and, for the
figures on text it never saw, eval/uner_en_pud/en_pud-ud-test.iob2 and
eval/wikigold/wikigold.conll.txt. The tagger is trained on train with the defaults of
`charlm train-tagger` for entity tags, the best model by dev entity F1 is kept, and
its entity F1 on the three test sets is printed (it goes into
charlm/tagger/default/README.md by hand). The data files are read, never copied: only
the weights, which carry the licence of Universal NER English EWT (CC BY-SA 4.0), are
written to charlm/tagger/default/en_uner_entities.npz.
"""

import argparse
import json
import pathlib
import sys

from build_tagger import ROOT, charlm, train_shipped

OUT = ROOT / "charlm" / "tagger" / "default" / "en_uner_entities.npz"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="?", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--time", default="20m")
    ap.add_argument("--seed", default="1")
    args = ap.parse_args()
    shared = pathlib.Path(args.corpora)
    uner = shared / "tagging" / "uner_en_ewt"
    train = uner / "en_ewt-ud-train.draft-normalized.iob2"
    dev, test = uner / "en_ewt-ud-dev.iob2", uner / "en_ewt-ud-test.iob2"
    for path in (train, dev, test):
        if not path.is_file():
            sys.exit(f"{path}: not found; give the folder that holds tagging/uner_en_ewt")
    train_shipped(OUT, train, dev, args.time, args.seed, "--force")
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
