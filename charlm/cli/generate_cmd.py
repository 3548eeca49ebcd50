"""``charlm generate``: stream sampled text to stdout."""

import sys

import click

from charlm.cli.common import load_model, model_option


@click.command()
@model_option
@click.option("-n", "--num-samples", type=click.IntRange(1), default=1, show_default=True,
              help="How many samples. With a --split lines model each is one output line.")
@click.option("-l", "--length", type=click.IntRange(1), default=None,
              help="Most tokens per sample [default: 200 for --split lines models, "
                   "which usually stop at EOS first; 1000 otherwise].")
@click.option("-t", "--temperature", type=click.FloatRange(0, min_open=True), default=1.0,
              show_default=True,
              help="Divide the logits by this: below 1 is safer, above 1 wilder.")
@click.option("--prime", default="",
              help="Start every sample with this text; the model reads it first.")
@click.option("--seed", type=int, default=None,
              help="Seed for the draws; the same seed gives the same text "
                   "[default: different every run].")
def generate(model_path, num_samples, length, temperature, prime, seed):
    """Sample text from a model, writing each token to stdout as it is drawn.

    Samples are drawn together as a batch and printed in order. A sampled UNK is
    never printed: it is rejected and drawn again.
    """
    import numpy as np

    from charlm.sampling import encode_prime, in_order, sample
    from charlm.text import Detokenizer, tokenize

    bundle = load_model(model_path)
    text_cfg = bundle.text
    lines = text_cfg.split == "lines"
    if length is None:
        length = 200 if lines else 1000
    prime_ids, unknown = encode_prime(prime, bundle.vocab, text_cfg)
    prime_tokens = tokenize(prime, text_cfg)
    if unknown:
        shown = ", ".join(repr(t) for t in sorted(set(unknown))[:10])
        click.echo(f"charlm: warning: the prime has tokens the model does not know "
                   f"({shown}); they are read as UNK", err=True)
    rng = np.random.default_rng(seed)
    pieces = sample(bundle.model, bundle.vocab, text_cfg, num_samples=num_samples,
                    length=length, temperature=temperature, prime_ids=prime_ids, rng=rng)
    out = sys.stdout
    detok = None
    last_char = ""
    for k, tok in in_order(pieces, num_samples):
        if detok is None:                 # a sample begins
            detok = Detokenizer(text_cfg)
            if not lines and k > 0:
                out.write("\n")               # blank line between stream samples
            if prime:
                # Print the prime as typed (unknown characters included); the
                # detokenizer still sees its tokens, to space what follows.
                for t in prime_tokens:
                    detok.feed(t)
                out.write(prime)
                last_char = prime[-1]
        if tok is None:                   # the sample ended
            if lines or last_char != "\n":
                out.write("\n")
            out.flush()
            detok, last_char = None, ""
            continue
        text = detok.feed(tok)
        out.write(text)
        if text:
            last_char = text[-1]
        out.flush()
