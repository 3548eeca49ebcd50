"""Entity F1 of several entity taggers and of the mean of their probabilities.

Each tagger tags the sets once (`tag --all-probs`'s ŷ⟨t⟩, a CRF's marginals); every
member alone, then the ensemble, is decoded by the same constrained Viterbi over the
log of the probabilities and scored as `charlm evaluate` scores entities (wikigold's
MISC as O). It measures how much averaging runs of different seeds or settings would
bring, at as many times the tagging cost:

    python benchmarks/tagger_ensemble.py charlm/tagger/default/en_ewt.npz seed2.npz

The taggers must share one entity tag set (joint taggers: their entity layer).
Data: ../shared/corpora (UNER EWT dev and test, UNER PUD, wikigold).
"""

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from common import SHARED, header  # noqa: E402

SETS = {
    "UNER EWT dev": ("tagging/uner_en_ewt/en_ewt-ud-dev.iob2", False),
    "UNER EWT test": ("tagging/uner_en_ewt/en_ewt-ud-test.iob2", False),
    "UNER PUD": ("eval/uner_en_pud/en_pud-ud-test.iob2", False),
    "wikigold (MISC as O)": ("eval/wikigold/wikigold.conll.txt", True),
}


def main():
    from charlm.store import tagfile
    from charlm.tagger.evaluate import entity_scores
    from charlm.tagger.tagging import attach, make_decoder, output_layer, tag_tokens
    from charlm.text.conll import read_tagged
    from charlm.text.schemes import convert, detect_scheme

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("taggers", nargs="+", help="entity tagger files (two or more)")
    args = ap.parse_args()
    if len(args.taggers) < 2:
        ap.error("give two or more tagger files")
    header("entity taggers and the mean of their probabilities")
    bundles = [output_layer(tagfile.load(p), entities=True) for p in args.taggers]
    models = [attach(b) for b in bundles]
    tags = list(bundles[0].vocab.tags)
    scheme = bundles[0].tagging.get("scheme")
    if any(list(b.vocab.tags) != tags for b in bundles):
        raise SystemExit("the taggers do not share one tag set")
    decode = make_decoder(tags, scheme)
    names = [os.path.basename(p) for p in args.taggers] + ["mean of all"]
    print("set".ljust(22) + "".join(n[:16].rjust(18) for n in names))
    for name, (rel, wiki) in SETS.items():
        path = SHARED / rel
        if not path.exists():
            print(f"{name}: {path} not found, skipped")
            continue
        sents = [s for s in read_tagged(path) if s.tokens]
        gold = [list(s.tags) for s in sents]
        if wiki:
            gold = [["O" if t.endswith("MISC") else t for t in g] for g in gold]
        gold_scheme = detect_scheme(gold)
        probs = [[P for _, P in tag_tokens(m, b.vocab, [s.tokens for s in sents], probs=True)]
                 for m, b in zip(models, bundles)]
        row = []
        for members in [[i] for i in range(len(models))] + [list(range(len(models)))]:
            pred = []
            for k in range(len(sents)):
                P = np.mean([probs[i][k] for i in members], axis=0)
                path_ids = decode(np.log(np.maximum(P, 1e-300))[None], [len(P)])[0]
                found = [tags[j] for j in path_ids]
                if gold_scheme != scheme:
                    found = convert(found, scheme, gold_scheme)
                pred.append(found)
            row.append(100 * entity_scores(gold, pred)["f1"])
        print(name.ljust(22) + "".join(f"{f:18.2f}" for f in row), flush=True)


if __name__ == "__main__":
    main()
