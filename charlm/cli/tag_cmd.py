"""``charlm tag``: read sentences lazily, tag them in batches, write them in input order."""

import os
import sys

import click

from charlm.cli.common import encoding_errors_option
from charlm.cli.completion import complete_model
from charlm.store import TAGGER_ENV

INPUTS = ("auto", "text", "conllu", "conll")
OUTPUTS = ("conllu", "conll", "tsv", "jsonl", "inline", "spans")


def tagger_option(f):
    return click.option(
        "-m", "--model", "model_path", type=click.Path(dir_okay=False),
        shell_complete=complete_model,
        help=f"Tagger file (default: ${TAGGER_ENV}, then the bundled English tagger "
             "of parts of speech and entities).")(f)


def open_tagger(path, entities=False):
    """(path, the whole file's bundle) of a tagger file, or of the default tagger."""
    from charlm.errors import ModelFileError
    from charlm.store import (BUNDLED_ENTITY_TAGGER, BUNDLED_TAGGER, default_tagger_path,
                              tagfile)

    path = path or default_tagger_path()
    if path in (BUNDLED_TAGGER, BUNDLED_ENTITY_TAGGER) and not os.path.exists(path):
        what = "entity " if entities else ""
        raise ModelFileError(f"the bundled English {what}tagger is missing from this "
                             "installation; train one with `charlm train-tagger` and pass "
                             "it with -m")
    return path, tagfile.load(path)


def choose_layer(whole, path, constrained=True, entities=False):
    """(bundle, model ready to decode, other) of the tagger file ``whole`` (read from
    ``path``): of a joint tagger, the output layer ``entities`` chooses (its entity
    layer, or the other one: :func:`charlm.tagger.tagging.output_layer`), and ``other``
    the layer not chosen, as a bundle whose model is ready to decode (None for a tagger
    of one layer)."""
    from charlm.errors import UsageError
    from charlm.tagger.tagging import attach, other_layer, output_layer

    try:
        bundle = output_layer(whole, entities)
    except ValueError:
        raise UsageError(f"--entities: {path} is a joint tagger without an entity layer "
                         f"(its layers tag {whole.tagging.get('tag_column')} and "
                         f"{whole.tagging.get('tag_column2')})") from None
    other = other_layer(whole, bundle)
    if other is not None:
        attach(other, constrained)
    return bundle, attach(bundle, constrained), other


def load_tagger(path, constrained=True, entities=False):
    """:func:`choose_layer` of the tagger file at ``path`` (or of the default tagger)."""
    path, whole = open_tagger(path, entities)
    return choose_layer(whole, path, constrained, entities)


def input_kind(source, given):
    """text, conllu or conll: as given, or from the file name (stdin: text)."""
    if given != "auto":
        return given
    name = str(source).lower()
    if name.endswith(".conllu"):
        return "conllu"
    if name.endswith((".conll", ".iob", ".iob1", ".iob2", ".bio", ".bioes")):
        return "conll"
    return "text"


@click.command()
@click.argument("file", default="-", type=click.Path(allow_dash=True, dir_okay=False))
@tagger_option
@click.option("--entities", is_flag=True,
              help="Tag entities (PER, ORG, LOC): with the bundled English tagger's entity "
                   "layer instead of its part-of-speech one, or with -m's (a joint "
                   "tagger's first layer); with --format spans, entity text, type and "
                   "offsets.")
@click.option("--input", "input_fmt", type=click.Choice(INPUTS), default="auto",
              show_default=True,
              help="text: one sentence per line; conllu/conll: a tagged or untagged file "
                   "whose tag column is filled in; auto: from FILE's name "
                   "(.conllu, .conll/.iob2/.bio …), else text.")
@click.option("--pretokenized", is_flag=True,
              help="Text input: tokens are separated by whitespace (no tokenizer).")
@click.option("--format", "fmt", type=click.Choice(OUTPUTS), default=None,
              help="inline: word/TAG word/TAG; tsv: token<TAB>tag, blank line between "
                   "sentences; jsonl: one JSON object per sentence; conllu/conll: the "
                   "input's block with the tag column filled in; spans (entity taggers): "
                   "one JSON line per input line with entity text, type and character "
                   "offsets [default: inline for text, else the input's format].")
@click.option("--tag-column", type=click.Choice(["upos", "xpos"]), default=None,
              help="CoNLL-U output of a part-of-speech tagger: the column to fill "
                   "[default: the one the tagger learned]. Entity taggers write "
                   "NER=B-PER … to the MISC column; a joint tagger (the bundled one) "
                   "fills both its columns.")
@click.option("--probs", is_flag=True,
              help="tsv, jsonl: add each token's probability of its tag (a third tsv "
                   "column; a jsonl \"probs\" list): the softmax's, or a CRF tagger's "
                   "marginal.")
@click.option("--all-probs", is_flag=True,
              help="jsonl: add each token's probability of every tag (a "
                   "\"distributions\" list of {tag: probability}); implies --probs.")
@click.option("--no-constrain", is_flag=True,
              help="Entity taggers: take each token's most probable tag instead of the "
                   "best valid sequence (constrained Viterbi).")
@encoding_errors_option
def tag(file, model_path, entities, input_fmt, pretokenized, fmt, tag_column, probs,
        all_probs, no_constrain, encoding_errors):
    """Tag the sentences of FILE (default: standard input) with a tagger.

    Parts of speech with the bundled English tagger (--entities: people,
    organisations and places, from the same model's entity layer), or whatever a
    tagger of `charlm train-tagger` learned (-m).

    Raw text is one sentence per line, split into tokens the way UD English EWT is
    (punctuation apart, clitics such as n't, 's, 'll split off); empty lines stay
    empty. Sentences are read as they come and written in input order, so it works
    on endless streams and in pipes.

    """
    if file == "-" and sys.stdin.isatty():
        raise click.UsageError('give FILE to tag, or pipe text into stdin '
                               '(echo "The old man the boat." | charlm tag)')
    from charlm.errors import UsageError
    from charlm.tagger.tagging import tag_stream
    from charlm.text.conll import format_sentence, read_raw, read_tagged

    if entities and not model_path:
        from charlm.store import BUNDLED_ENTITY_TAGGER

        model_path = BUNDLED_ENTITY_TAGGER
    bundle, model, other = load_tagger(model_path, not no_constrain, entities)
    scheme = bundle.tagging.get("scheme")
    if entities and not scheme:
        raise UsageError(f"--entities: {model_path} tags {' '.join(bundle.vocab.tags[:6])} "
                         "…, not entities; leave out --entities")
    kind = input_kind(file, input_fmt)
    if fmt is None:
        fmt = "inline" if kind == "text" else kind
    if fmt == "spans" and not scheme:
        raise UsageError("--format spans needs an entity tagger (its tags are "
                         f"{' '.join(bundle.vocab.tags[:6])} …); use inline, tsv, jsonl, "
                         "conllu or conll")
    if all_probs and fmt != "jsonl":
        raise UsageError(f"--all-probs needs --format jsonl (not {fmt})")
    probs = probs or all_probs
    if probs and fmt not in ("tsv", "jsonl"):
        raise UsageError(f"--probs needs --format tsv or jsonl (not {fmt})")
    column = tag_column or bundle.tagging.get("tag_column") or "upos"
    if kind == "text":
        sentences = read_raw(file, pretokenized=pretokenized, encoding_errors=encoding_errors)
    else:
        sentences = read_tagged(file, kind, column, encoding_errors=encoding_errors)
    source = sys.stdin if file == "-" else None
    interactive = source is not None and source.isatty()
    out = sys.stdout
    # A person typing gets each line back at once; pipes are tagged a chunk at a time.
    tag_ids = bundle.vocab.tag_ids
    # CoNLL-U from a joint tagger carries both layers, from one pass of its encoder
    both = other is not None and fmt == "conllu"
    also = (other.model, other.vocab.tags) if both else None
    other_column = (("ner" if other.tagging.get("scheme") else other.tagging["tag_column"])
                    if both else None)
    for sent, tags in tag_stream(model, bundle.vocab, sentences,
                                 chunk=1 if interactive else None, probs=probs, also=also):
        if both:
            tags, tags2 = tags
            out.write(format_sentence(sent, tags, fmt, scheme, column,
                                      also=(other_column, tags2)))
        elif probs:
            tags, P = tags
            picked = [P[t, tag_ids[tag]] for t, tag in enumerate(tags)]
            dists = ([dict(zip(bundle.vocab.tags, row)) for row in P] if all_probs
                     else None)
            out.write(format_sentence(sent, tags, fmt, scheme, column, picked, dists))
        else:
            out.write(format_sentence(sent, tags, fmt, scheme, column))
        if interactive:
            out.flush()
    out.flush()
