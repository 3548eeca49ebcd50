"""How fast and how well the tagger runs: training tokens per second, `charlm tag`
tokens per second with the bundled English tagger (batched, pre-tokenized and from
raw text), and the accuracy figures of the shipped tagger.

    python benchmarks/tagger.py [--repeats 3] [--train-steps 60] [--model TAGGER]
    OPENBLAS_NUM_THREADS=1 python benchmarks/tagger.py      # one core

Data: ../shared/corpora/tagging/en_ewt (train for the training speed, test for the
tagging speed and the accuracy) and ../shared/corpora/eval/ud_en_pud (cross-domain).
Target (this project's 2-core machine): `charlm tag` >= 20,000 tokens/s.

Measured there with OPENBLAS_NUM_THREADS=1 (load average 2-4, others' jobs running):
training 5,800-9,000 tokens/s; tagging 28,700-29,800 tokens/s pre-tokenized,
22,700-29,400 from raw text; EWT test 94.94%, PUD 94.37%. With two BLAS threads on
the busy machine: training 1,700 tokens/s, tagging 11,000 (hence one thread by
default for the tagger commands).

The accuracy figures are those of these commands (run them to reproduce):

    charlm evaluate en_ewt-ud-test.conllu --from-text
    charlm evaluate ../eval/ud_en_pud/en_pud-ud-test.conllu
    echo "The old man the boat." | charlm tag

and for the entity tagger trained on Universal NER (see README, "Tagging"):

    charlm train-tagger uner_en_ewt/en_ewt-ud-train.draft-normalized.iob2 \\
        --dev uner_en_ewt/en_ewt-ud-dev.iob2 --time 20m -o ner.npz
    charlm evaluate -m ner.npz uner_en_ewt/en_ewt-ud-test.iob2
    charlm evaluate -m ner.npz uner_en_ewt/en_ewt-ud-test.iob2 --no-constrain
    charlm evaluate -m ner.npz ../eval/uner_en_pud/en_pud-ud-test.iob2
    charlm evaluate -m ner.npz ../eval/wikigold/wikigold.conll.txt --drop-type MISC
"""

import argparse
import subprocess
import sys
import time

import numpy as np

from common import SHARED, header, median


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--train-steps", type=int, default=60)
    ap.add_argument("--model", default=None, help="tagger file [default: the bundled one]")
    args = ap.parse_args()

    from charlm.store import tagfile
    from charlm.tagger.data import TagBatches, TagVocab
    from charlm.tagger.model import TaggerConfig, TaggerModel
    from charlm.tagger.report import evaluate_sentences
    from charlm.tagger.tagging import attach, tag_tokens
    from charlm.text.conll import read_tagged
    from charlm.text.ud_tokenize import tokenize
    from charlm.engine.optim import Adam

    header("charlm tagger: speed and accuracy")
    ewt = SHARED / "tagging" / "en_ewt"
    if not ewt.is_dir():
        sys.exit(f"{ewt}: not found")
    train = list(read_tagged(str(ewt / "en_ewt-ud-train.conllu")))
    test = list(read_tagged(str(ewt / "en_ewt-ud-test.conllu")))

    # Training speed: the defaults of `charlm train-tagger`.
    vocab = TagVocab.build(train, 2)
    cfg = TaggerConfig(len(vocab.words), len(vocab.chars), len(vocab.tags))
    model = TaggerModel.create(cfg, np.random.default_rng(1))
    batches = TagBatches(vocab, train, 32, 0.25).epoch(np.random.default_rng(1))
    opt = Adam(model.params, 2e-3)
    rng = np.random.default_rng(2)
    t0, tokens = time.perf_counter(), 0
    for x, y, mask in batches[:args.train_steps]:
        loss, _, cache = model.forward(x, y, mask, rng=rng, train=True)
        opt.step(model.params, model.backward(cache))
        tokens += int(mask.sum())
    dt = time.perf_counter() - t0
    print(f"training (defaults, BiLSTM 1x128, char BiLSTM 32): {tokens / dt:,.0f} tokens/s "
          f"({args.train_steps} batches of 32 sentences)")

    # Tagging speed with the bundled tagger.
    bundle = tagfile.load(args.model or tagfile.default_tagger_path())
    tagger = attach(bundle)
    token_lists = [s.tokens for s in test]
    n = sum(map(len, token_lists))
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        tag_tokens(tagger, bundle.vocab, token_lists)
        times.append(time.perf_counter() - t0)
    print(f"tagging, pre-tokenized (EWT test, {n:,} tokens): {n / median(times):,.0f} tokens/s")
    texts = [s.text for s in test]
    t0 = time.perf_counter()
    tag_tokens(tagger, bundle.vocab, [[t for t, _, _ in tokenize(s)] for s in texts])
    print(f"tagging raw text incl. tokenizer: {n / (time.perf_counter() - t0):,.0f} tokens/s")
    raw = "\n".join(texts) + "\n"
    cmd = [sys.executable, "-m", "charlm", "tag"] + (["-m", args.model] if args.model else [])
    t0 = time.perf_counter()
    subprocess.run(cmd, input=raw.encode(), stdout=subprocess.DEVNULL, check=True)
    print(f"`charlm tag` end to end (process start included): "
          f"{n / (time.perf_counter() - t0):,.0f} tokens/s")

    # Accuracy.
    r = evaluate_sentences(tagger, bundle.vocab, bundle.tagging, test)
    print(f"EWT test UPOS accuracy: {r['accuracy']:.2%} (unknown words "
          f"{r['unknown_words']['accuracy']:.2%} of {r['unknown_words']['tokens']:,})")
    pud = SHARED / "eval" / "ud_en_pud" / "en_pud-ud-test.conllu"
    if pud.is_file():
        r = evaluate_sentences(tagger, bundle.vocab, bundle.tagging,
                               read_tagged(str(pud)))
        print(f"PUD UPOS accuracy (cross-domain): {r['accuracy']:.2%}")


if __name__ == "__main__":
    main()
