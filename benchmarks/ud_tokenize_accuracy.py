"""How closely charlm's raw-text tokenizer reproduces UD English EWT's tokens.

    python benchmarks/ud_tokenize_accuracy.py [--split test] [--show 20] [--conllu FILE]

For each sentence of ../shared/corpora/tagging/en_ewt/en_ewt-ud-SPLIT.conllu, the
``# text =`` line is tokenized with charlm.text.ud_tokenize.tokenize and compared with
the gold FORM sequence (multiword tokens' parts, as the tagger sees them):

* exact sentences: the share whose token strings equal the gold ones;
* token F1: precision/recall of (start, end) character spans, gold spans found by
  aligning the gold FORMs to the text.

``--conllu`` measures another CoNLL-U file instead (e.g. eval/ud_en_pud, never tuned on).
Gold sentences whose FORMs do not spell the text (rare typo corrections) are counted
as wrong in "exact" and left out of the span figures; their number is printed.
"""

import argparse
import pathlib
import sys

from common import SHARED

from charlm.text.conll import align, read_tagged
from charlm.text.ud_tokenize import tokenize


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test", choices=["train", "dev", "test"])
    ap.add_argument("--show", type=int, default=0, help="print this many mismatches")
    ap.add_argument("--conllu", help="a CoNLL-U file to measure instead of EWT")
    args = ap.parse_args()
    path = SHARED / "tagging" / "en_ewt" / f"en_ewt-ud-{args.split}.conllu"
    if args.conllu:
        path = pathlib.Path(args.conllu)
    if not path.is_file():
        sys.exit(f"{path} not found")
    sentences = exact = unaligned = 0
    gold_n = pred_n = hit = 0
    shown = 0
    for sent in read_tagged(str(path)):
        sentences += 1
        pred = tokenize(sent.text)
        if [t for t, _, _ in pred] == sent.tokens:
            exact += 1
        elif shown < args.show:
            shown += 1
            print("gold:", " ".join(sent.tokens))
            print("ours:", " ".join(t for t, _, _ in pred))
            print()
        gold_spans = align(sent.tokens, sent.text)
        if gold_spans is None:
            unaligned += 1
            continue
        pred_spans = {(a, b) for _, a, b in pred}
        gold_n += len(gold_spans)
        pred_n += len(pred_spans)
        hit += len(set(gold_spans) & pred_spans)
    p, r = hit / pred_n, hit / gold_n
    print(f"{path.name}: {sentences} sentences, {gold_n} gold tokens "
          f"({unaligned} sentences whose FORMs do not spell their text left out of F1)")
    print(f"exact sentences: {exact / sentences:.2%}")
    print(f"token precision {p:.2%}  recall {r:.2%}  F1 {2 * p * r / (p + r):.2%}")


if __name__ == "__main__":
    main()
