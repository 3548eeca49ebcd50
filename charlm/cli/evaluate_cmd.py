"""``charlm evaluate``: measure a model file on a gold file. The command dispatches on
the file's kind (its family in :mod:`charlm.store.kinds`) to the evaluator registered
for it (:func:`register_evaluator`); a tagger is evaluated here: tag the gold file and
report accuracy, per-tag and entity-level precision/recall/F1 and the most confused
tags."""

import json
import os
import sys

import click
from click.core import ParameterSource

from charlm.cli.common import encoding_errors_option, labelled_options, stdout_is_tty
from charlm.cli.tag_cmd import choose_layer, open_tagger, tagger_option

# family of model file -> (run(gold, model_path, fmt, **options), names of the options
# it reads). A file whose kind has no evaluator, or whose header cannot be read, goes
# to the tagger's, whose loader says in one line what is wrong with it.
EVALUATORS = {}
DEFAULT_FAMILY = "tagger"


def register_evaluator(family, run, options=()):
    """Let ``charlm evaluate`` measure the files of ``family``: ``run(gold, model_path,
    fmt, **options)`` gets the command's options named in ``options``; any other option
    given on the command line is refused as not applying to that kind of model."""
    EVALUATORS[family] = (run, tuple(options))


def _family(path):
    """The family of the model file at ``path`` that has an evaluator, else the default."""
    from charlm.errors import ModelFileError
    from charlm.store import kinds, validate

    try:
        family = kinds.family_of(validate.read_header(path).get("kind"))
    except (ModelFileError, OSError):
        return DEFAULT_FAMILY
    return family if family in EVALUATORS else DEFAULT_FAMILY


@click.command()
@click.argument("gold", type=click.Path(exists=True, allow_dash=True))
@tagger_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="A readable report (a table on a terminal), or JSON "
                                      "with top-level keys accuracy, entities, per_tag …")
@click.option("--input", "input_fmt",
              type=click.Choice(["auto", "conllu", "conll", "tsv", "csv", "fasttext", "folder"]),
              default="auto", show_default=True,
              help="Format of GOLD: conllu or conll for a tagger; tsv, csv, fasttext or "
                   "folder (one file per class) for a classifier.")
@click.option("--tag-column", type=click.Choice(["upos", "xpos", "ner"]), default=None,
              help="CoNLL-U: the gold column (ner: MISC's NER=) [default: the one the "
                   "tagger learned; of a joint tagger, the one of its non-entity layer]. "
                   "A joint tagger is measured with the layer that tags that column, or, "
                   "for a column file, the one its gold tags are for.")
@click.option("--token-col", type=int, default=None,
              help="Column files: index of the token column [default: detected].")
@click.option("--tag-col", type=int, default=None,
              help="Column files: index of the tag column [default: detected].")
@click.option("--drop-type", "drop_types", multiple=True, metavar="TYPE",
              help="Entity type of GOLD that the tagger does not know (e.g. MISC): its "
                   "entities count as O. Repeatable.")
@click.option("--no-constrain", is_flag=True,
              help="Entity taggers: decode by argmax per token instead of constrained "
                   "Viterbi (to measure the difference).")
@click.option("--from-text", is_flag=True,
              help="Also tag each sentence's raw '# text =' line with the tokenizer and "
                   "score the tokens whose character spans match the gold ones.")
@labelled_options("Classifiers, TSV/CSV: ")
@encoding_errors_option
@click.pass_context
def evaluate(ctx, gold, model_path, fmt, **options):
    """Measure a tagger or a classifier on a gold file.

    For a tagger, GOLD is a tagged CoNLL-U or column file. Reported: token accuracy
    (also on words the tagger has no embedding for), precision/recall/F1 per tag,
    entity-level precision/recall/F1 (exact span and type, counted as conlleval
    does), and the most frequent confusions.

    For a classifier (-m a file of train-classifier), GOLD holds labelled lines as
    train-classifier reads them. Reported: accuracy, macro-F1, precision/recall/F1
    per class and the confusion matrix.

    """
    from charlm.store import default_tagger_path

    family = _family(model_path or default_tagger_path())
    run, accepted = EVALUATORS[family]
    for param in ctx.command.params:
        if (param.name in options and param.name not in accepted and
                ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE):
            raise click.UsageError(f"{param.opts[-1]} does not apply to a {family}")
    run(gold, model_path, fmt, **{k: v for k, v in options.items() if k in accepted})


def evaluate_tagger(gold, model_path, fmt, input_fmt, tag_column, token_col, tag_col,
                    drop_types, no_constrain, from_text, encoding_errors):
    """Tag GOLD with the tagger and report its scores."""
    from charlm.tagger.report import evaluate_from_text, evaluate_sentences
    from charlm.text.conll import read_tagged

    if from_text and gold == "-":
        raise click.UsageError("--from-text reads GOLD twice: give a file, not -")
    if os.path.isdir(gold):
        raise click.UsageError(f"{gold}: is a directory; a tagger is measured on a tagged "
                               "file (a folder of one file per class is a classifier's)")
    path, whole = open_tagger(model_path)
    entities, gold_sentences = _joint_layer(gold, whole, input_fmt, tag_column, token_col,
                                            tag_col, encoding_errors)
    bundle, model, _ = choose_layer(whole, path, not no_constrain, entities)
    column = tag_column or bundle.tagging.get("tag_column") or "upos"

    def read():
        return read_tagged(gold, input_fmt, column, token_col, tag_col, encoding_errors)

    result = evaluate_sentences(model, bundle.vocab, bundle.tagging,
                                gold_sentences if gold_sentences is not None else read(),
                                drop_types)
    if from_text:
        result["from_text"] = evaluate_from_text(model, bundle.vocab, read())
    result["decoding"] = ("crf viterbi" if model.config.crf else
                          "constrained viterbi" if model.decoder is not None else "argmax")
    if fmt == "json":
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    render(result, gold)


def _joint_layer(gold, whole, input_fmt, tag_column, token_col, tag_col,
                 encoding_errors):
    """Which layer of the joint tagger file ``whole`` GOLD measures: (entities, the gold
    sentences if they had to be read to tell, else None). --tag-column ner, or a column
    file of entity tags, is for the entity layer; anything else for the other. A tagger
    of one layer is measured as it is: (False, None)."""
    from charlm.errors import CorpusError
    from charlm.text.conll import detect_format, read_tagged
    from charlm.text.schemes import is_entity_tagset

    if not whole.model.config.n_tags2:
        return False, None
    if tag_column is not None or input_fmt == "conllu":
        return tag_column == "ner", None
    if input_fmt == "auto" and gold != "-":
        try:
            if detect_format(gold) == "conllu":
                return False, None
        except CorpusError:
            return False, None          # reading GOLD says what is wrong with it
    sentences = list(read_tagged(gold, input_fmt, "upos", token_col, tag_col,
                                 encoding_errors))
    return is_entity_tagset([t for s in sentences for t in (s.tags or ())]), sentences


register_evaluator("tagger", evaluate_tagger,
                   ("input_fmt", "tag_column", "token_col", "tag_col", "drop_types",
                    "no_constrain", "from_text", "encoding_errors"))


def _pct(x):
    return "n/a" if x is None else f"{100 * x:.2f}"


def render(r, name):
    """A rich table on a terminal, plain aligned text elsewhere (both on stdout)."""
    from rich.console import Console
    from rich.table import Table

    tty = stdout_is_tty()
    con = Console(highlight=False, soft_wrap=True, force_terminal=tty,
                  color_system="auto" if tty else None)
    unk = r.get("unknown_words") or {}
    con.print(f"{name}: {r['sentences']:,} sentences, {r['tokens']:,} tokens; decoding "
              f"{r['decoding']}", markup=False)
    con.print(f"accuracy {_pct(r['accuracy'])}%  (unknown words: {_pct(unk.get('accuracy'))}% "
              f"of {unk.get('tokens', 0):,})", markup=False)
    if "from_text" in r:
        ft = r["from_text"]
        con.print(f"from raw text {_pct(ft['accuracy_all'])}% of gold tokens "
                  f"({ft['aligned']:,} of {ft['gold_tokens']:,} tokens found by the "
                  f"tokenizer; {_pct(ft['accuracy_aligned'])}% of those)", markup=False)
    ent = r.get("entities")
    if ent:
        con.print(f"entities precision {_pct(ent['precision'])}  recall {_pct(ent['recall'])}  "
                  f"F1 {_pct(ent['f1'])}  (gold {ent['gold']}, predicted {ent['predicted']}, "
                  f"correct {ent['correct']})", markup=False)
        per_type = ent.get("per_type") or {}
        if per_type:
            t = Table("type", "precision", "recall", "F1", "gold", box=None, pad_edge=False)
            for typ, v in sorted(per_type.items()):
                t.add_row(typ, _pct(v.get("precision")), _pct(v.get("recall")),
                          _pct(v.get("f1")), str(v.get("gold", v.get("support", ""))))
            con.print(t)
    per_tag = r.get("per_tag") or {}
    if per_tag:
        t = Table("tag", "precision", "recall", "F1", "support", box=None, pad_edge=False)
        for tag, v in sorted(per_tag.items(), key=lambda kv: -kv[1].get("support", 0)):
            t.add_row(tag, _pct(v.get("precision")), _pct(v.get("recall")), _pct(v.get("f1")),
                      str(v.get("support", "")))
        con.print(t)
    conf = r.get("confusions") or []
    if conf:
        t = Table("gold", "predicted", "count", box=None, pad_edge=False,
                  title="most confused" if tty else None)
        for g, p, c in conf[:10]:
            t.add_row(g, p, str(c))
        if not tty:
            con.print("most confused")
        con.print(t)
