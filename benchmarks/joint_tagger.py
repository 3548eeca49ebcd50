"""One tagger or two: a joint tagger (UPOS and entities, two output layers over one
BiRNN) against two separate taggers, on accuracy, speed and size.

    python benchmarks/joint_tagger.py --joint JOINT.npz --upos UPOS.npz --entities ENT.npz

JOINT.npz is a tagger of `charlm train-tagger --tag-column ner --also-tag upos` (the
bundled one is made so by corpora/build_tagger.py); UPOS.npz and ENT.npz are two
taggers of one layer each (for example `corpora/build_tagger.py` before the joint
tagger: the defaults on UD English EWT, and the entity settings with an LM on
Universal NER English EWT). Each is scored on the same sets, the entity layers by
entity F1 on UNER EWT dev/test, UNER PUD and wikigold (MISC dropped), the UPOS layers
by accuracy on UD EWT dev/test and UD PUD, as `charlm evaluate` scores them. Speed:
tagging EWT test's tokens four times, in one process, the four ways in turns (each
layer of each side, as `charlm tag` and `charlm tag --entities` run them), medians of
--repeats. One thread.
"""

import argparse
import json
import os
import pathlib

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("CHARLM_THREADS", "1")

from common import SHARED, alternate, header, median  # noqa: E402

from charlm.store import tagfile  # noqa: E402
from charlm.tagger.report import evaluate_sentences  # noqa: E402
from charlm.tagger.tagging import attach, output_layer, tag_tokens  # noqa: E402
from charlm.text.conll import read_tagged  # noqa: E402

UD = SHARED / "tagging" / "en_ewt"
UNER = SHARED / "tagging" / "uner_en_ewt"
ENTITY_SETS = {"UNER EWT dev": (UNER / "en_ewt-ud-dev.iob2", ()),
               "UNER EWT test": (UNER / "en_ewt-ud-test.iob2", ()),
               "UNER PUD": (SHARED / "eval" / "uner_en_pud" / "en_pud-ud-test.iob2", ()),
               "wikigold": (SHARED / "eval" / "wikigold" / "wikigold.conll.txt",
                            ("MISC",))}
UPOS_SETS = {"UD EWT dev": UD / "en_ewt-ud-dev.conllu",
             "UD EWT test": UD / "en_ewt-ud-test.conllu",
             "UD PUD": SHARED / "eval" / "ud_en_pud" / "en_pud-ud-test.conllu"}


def layer(path, entities):
    bundle = output_layer(tagfile.load(str(path)), entities)
    return attach(bundle), bundle.vocab, bundle.tagging


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--joint", required=True)
    ap.add_argument("--upos", required=True, help="the separate UPOS tagger")
    ap.add_argument("--entities", required=True, help="the separate entity tagger")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()
    header("a joint tagger (UPOS + entities) against two separate taggers")
    models = {("joint", "entities"): layer(args.joint, True),
              ("joint", "upos"): layer(args.joint, False),
              ("two", "entities"): layer(args.entities, True),
              ("two", "upos"): layer(args.upos, False)}
    rows = {}
    for name, (path, drop) in ENTITY_SETS.items():
        for who in ("two", "joint"):
            m, v, tg = models[(who, "entities")]
            r = evaluate_sentences(m, v, tg, read_tagged(str(path), "auto"), drop)
            rows.setdefault(name, {})[who] = 100 * r["entities"]["f1"]
    for name, path in UPOS_SETS.items():
        for who in ("two", "joint"):
            m, v, tg = models[(who, "upos")]
            r = evaluate_sentences(m, v, tg, read_tagged(str(path), "conllu"))
            rows.setdefault(name, {})[who] = 100 * r["accuracy"]
    print(f"{'set':16s} {'two taggers':>12s} {'joint':>8s}")
    for name, r in rows.items():
        metric = "entity F1" if name in ENTITY_SETS else "UPOS %"
        print(f"{name:16s} {r['two']:12.2f} {r['joint']:8.2f}   {metric}")

    tokens = [s.tokens for s in read_tagged(str(UD / "en_ewt-ud-test.conllu"),
                                            "conllu")] * 4
    n = sum(map(len, tokens))

    def tagging(key):
        m, v, _ = models[key]
        return lambda: tag_tokens(m, v, tokens)

    keys = [(w, k) for w in ("two", "joint") for k in ("upos", "entities")]
    times = alternate({key: tagging(key) for key in keys}, args.repeats)
    t = {key: median(times[key]) for key in keys}
    for key in keys:
        print(f"{key[0]:5s} {key[1]:8s} layer: {n:,} tokens in {t[key]:.2f} s "
              f"({n / t[key]:,.0f} tokens/s; median of {args.repeats})")
    both = {w: t[(w, "upos")] + t[(w, "entities")] for w in ("two", "joint")}
    print(f"both annotations (two runs): two taggers {both['two']:.2f} s, joint "
          f"{both['joint']:.2f} s")
    sizes = {"two": (os.path.getsize(args.upos) + os.path.getsize(args.entities)) / 1e6,
             "joint": os.path.getsize(args.joint) / 1e6}
    print(f"size: two taggers {sizes['two']:.1f} MB, joint {sizes['joint']:.1f} MB")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({
            "rows": rows, "tokens": n, "seconds": {f"{w}/{k}": v for (w, k), v in t.items()},
            "sizes_mb": sizes}))


if __name__ == "__main__":
    main()
