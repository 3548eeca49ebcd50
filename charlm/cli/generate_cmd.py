"""``charlm generate``: stream sampled text to stdout."""

import json
import math
import sys

import click

from charlm.cli.common import FiniteRange, Ticker, load_model, model_option, stderr_is_tty


@click.command()
@model_option
@click.option("-n", "--num-samples", type=click.IntRange(1), default=1, show_default=True,
              help="How many samples, drawn together as a batch. With a --split lines "
                   "model each is one output line.")
@click.option("-l", "--length", type=click.IntRange(1), default=None,
              help="Most tokens per sample [default: 200 for --split lines models, "
                   "which usually stop at EOS first; 1000 otherwise].")
@click.option("-t", "--temperature", type=FiniteRange(0), default=1.0,
              show_default=True,
              help="Divide the logits by this (> 0): below 1 is safer, above 1 wilder. "
                   "For the most likely token every time, use --greedy.")
@click.option("--top-k", type=click.IntRange(1), default=None,
              help="Draw only from the K most likely tokens (after the temperature).")
@click.option("--top-p", type=FiniteRange(0, 1, min_open=True), default=None,
              help="Draw only from the smallest set of most likely tokens whose "
                   "probability reaches P (nucleus sampling, after top-k).")
@click.option("--greedy", is_flag=True,
              help="Always take the most likely token (argmax); no randomness.")
@click.option("--prime", default="",
              help="Start every sample with this text; the model reads it first.")
@click.option("--stop", default=None,
              help="End a sample right after this text appears in it.")
@click.option("--novel", is_flag=True,
              help="Only samples that are not lines of the training corpus (nor repeats); "
                   "each is printed once complete.")
@click.option("--allow-unk", is_flag=True,
              help="Let UNK be drawn (printed as <unk>) instead of drawing again.")
@click.option("--seed", type=click.IntRange(0), default=None,
              help="Seed for the draws; the same seed gives the same text "
                   "[default: different every run].")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text",
              show_default=True,
              help="text, or one JSON object per sample: text, tokens, logprob, end.")
@click.option("--logprobs", is_flag=True,
              help="jsonl: list every token with its log-probability.")
def generate(model_path, num_samples, length, temperature, top_k, top_p, greedy, prime, stop,
             novel, allow_unk, seed, fmt, logprobs):
    """Sample text from a model, writing each token to stdout as it is drawn.

    The next token is drawn from softmax(logits / temperature), narrowed by --top-k and
    then --top-p. Samples are drawn together as a batch and printed in order, the
    first unfinished one streaming. A sampled UNK is never printed: it is rejected and
    drawn again (unless --allow-unk).

    A backward model (`charlm train --reverse`) draws each line from its end to its
    start: --prime is then the end of the line, each sample is printed once complete
    and in reading order, and --stop ends a sample when its text begins with STOP.
    """
    import numpy as np

    from charlm.errors import CharlmError, UsageError
    from charlm.lm.sampling import (NOVEL_ARRAY, collect, encode_prime, in_order,
                                 novel_samples, prime_logprobs, sample)
    from charlm.text.tokens import Detokenizer, tokenize

    if logprobs and fmt != "jsonl":
        raise UsageError("--logprobs lists tokens in the JSON output: add --format jsonl")
    if temperature == 0:
        raise UsageError("--temperature must be above 0; --greedy always takes the most "
                         "likely token, which is what a temperature of 0 would mean")
    bundle = load_model(model_path)
    _check_batch_memory(bundle.model.config, num_samples)
    text_cfg, vocab = bundle.text, bundle.vocab
    lines = text_cfg.split == "lines"
    if length is None:
        length = 200 if lines else 1000
    if stop == "":
        raise UsageError("--stop needs a non-empty text")
    prime_ids, unknown = encode_prime(prime, vocab, text_cfg)
    if unknown:
        shown = ", ".join(repr(t) for t in sorted(set(unknown))[:10])
        click.echo(f"charlm: warning: the prime has tokens the model does not know "
                   f"({shown}); they are read as UNK", err=True)
    prime_tokens = tokenize(prime, text_cfg)
    backward = text_cfg.reverse
    if backward and stop and text_cfg.level != "char":
        raise UsageError("--stop with a backward word-level model is not supported; "
                         "a backward model draws each line from its end")
    if backward and stop:
        stop = stop[::-1]           # the model meets the text right to left

    def primed_detokenizer():
        # The prime is printed as typed (unknown characters included); the
        # detokenizer still reads its tokens, to space what follows them.
        detok = Detokenizer(text_cfg)
        for t in prime_tokens:
            detok.feed(t)
        return detok
    rng = np.random.default_rng(seed)
    want_lp = fmt == "jsonl"
    kwargs = dict(length=length, temperature=temperature, top_k=top_k, top_p=top_p,
                  greedy=greedy, allow_unk=allow_unk, prime_ids=prime_ids, stop=stop,
                  rng=rng, logprobs=want_lp)
    out = sys.stdout

    # Samples printed only once complete (jsonl, --novel) can keep a terminal waiting:
    # a status line on stderr says how many tokens have been drawn.
    ticker = Ticker(stderr_is_tty(), "sampling", "tokens")

    def counted(pieces):
        for piece in pieces:
            if not piece.end:
                ticker(1)
            yield piece

    if novel:
        if not lines:
            raise UsageError("--novel compares samples with the training lines; this model "
                             "was trained with --split none")
        known = bundle.extra.get(NOVEL_ARRAY)
        if known is None:
            raise CharlmError("this model file keeps no list of its training lines "
                              "(too many lines, or an older file): --novel is not possible")
        samples = novel_samples(bundle.model, vocab, text_cfg, num_samples, known, **kwargs)
    elif fmt == "jsonl" or backward:
        # a backward model's sample is printed once it is complete, turned round
        samples = _in_index_order(collect(counted(sample(bundle.model, vocab, text_cfg,
                                                         num_samples=num_samples, **kwargs)),
                                          num_samples))
    else:
        samples = None

    if samples is not None:
        prime_lp = prime_logprobs(bundle.model, prime_ids) if want_lp else []
        for s in samples:
            ticker.clear()
            if novel:
                ticker(len(s.tokens))
            if backward:
                text = _backward_text(s.tokens, prime, prime_tokens, text_cfg)
            else:
                detok = primed_detokenizer()
                text = prime + "".join(detok.feed(t) for t in s.tokens)
            if fmt == "jsonl":
                out.write(json.dumps(_record(s, text, prime_tokens, prime_lp, logprobs,
                                             backward), ensure_ascii=False) + "\n")
            else:
                out.write(text + "\n")
            out.flush()
        ticker.clear()
        return

    # Plain text, streamed token by token.
    pieces = sample(bundle.model, vocab, text_cfg, num_samples=num_samples, **kwargs)
    detok = None
    last_char = ""
    for piece in in_order(pieces, num_samples):
        if detok is None:                 # a sample begins
            detok = primed_detokenizer()
            if not lines and piece.index > 0:
                out.write("\n")           # a blank line between stream samples
            if prime:
                out.write(prime)
                last_char = prime[-1]
        if piece.end:
            if lines or last_char != "\n":
                out.write("\n")
            out.flush()
            detok, last_char = None, ""
            continue
        text = detok.feed(piece.token)
        out.write(text)
        if text:
            last_char = text[-1]
        out.flush()


def _check_batch_memory(config, n):
    """-n samples are drawn as one batch: refuse a batch that cannot fit in memory."""
    from charlm.training.run import check_memory

    per_sample = (config.layers * (config.cell_spec.width(1) + 4) * config.hidden
                  + 4 * config.vocab_size + config.embed)
    check_memory(8 * n * per_sample, what=f"drawing {n:,} samples at once")


def _in_index_order(samples):
    """Finished samples in index order (they finish in any order)."""
    waiting = {}
    nxt = 0
    for s in samples:
        waiting[s.index] = s
        while nxt in waiting:
            yield waiting.pop(nxt)
            nxt += 1


def _backward_text(tokens, prime, prime_tokens, text_cfg):
    """A backward model's sample in reading order: its tokens turned round, then the
    prime (the end of the line) as typed, spaced as the detokenizer would."""
    from charlm.text.tokens import Detokenizer, reading_order

    detok = Detokenizer(text_cfg)
    body = "".join(detok.feed(t) for t in reading_order(tokens, text_cfg))
    if not prime:
        return body
    joint = detok.feed(prime_tokens[0]) if prime_tokens and body else ""
    return body + (" " if joint.startswith(" ") else "") + prime


def _record(s, text, prime_tokens, prime_lp, logprobs, backward=False):
    """The JSON object for one sample. logprob is the model's log-probability of the
    whole text at temperature 1, prime included, and EOS when the sample ended there:
    for a line model, what `charlm score` reports for the same line. Tokens are listed
    in the order the model read them (right to left for a backward model)."""
    lps = list(prime_lp) + list(s.logprobs)
    toks = list(prime_tokens)[::-1 if backward else 1] + list(s.tokens)
    if s.reason == "eos":
        lps.append(s.eos_logprob)
        toks.append("<eos>")
    total = float(sum(lps))
    rec = {"index": s.index, "text": text, "tokens": len(toks), "logprob": total,
           "log10prob": total / math.log(10), "end": s.reason}
    if logprobs:
        rec["token_logprobs"] = [{"token": t, "logprob": lp} for t, lp in zip(toks, lps)]
    return rec
