"""What ``--help`` and the man pages say beyond the click definitions: the options of
each command grouped by purpose, and real examples.

Both are keyed by command name, so a new command gets grouped help and examples by
adding an entry here; its options and their defaults always come from click. Options
that no group names are listed last, under "Other options". The man pages
(``python man/build.py``) use the same groups and examples.
"""

import click

# name -> [(group title, [option names])]
GROUPS = {
    "train": [
        ("Output and resuming", ["--output", "--resume", "--checkpoint", "--checkpoint-every",
                                 "--force"]),
        ("Model", ["--cell", "--hidden", "--layers", "--embed", "--dropout", "--dtype"]),
        ("Training", ["--seq-len", "--batch-size", "--lr", "--optimizer", "--clip", "--average",
                      "--seed", "--workers"]),
        ("Learning-rate schedule", ["--lr-schedule", "--warmup", "--lr-decay",
                                    "--lr-decay-every", "--min-lr"]),
        ("Stop conditions and validation", ["--steps", "--epochs", "--time", "--patience",
                                            "--eval-every", "--dev", "--val-fraction",
                                            "--val-max-tokens"]),
        ("Text and vocabulary", ["--level", "--split", "--lowercase", "--normalize",
                                 "--graphemes", "--reverse", "--min-count", "--max-vocab",
                                 "--encoding-errors", "--vocab", "--no-cache"]),
        ("Display and logs", ["--progress", "--quiet", "--log-file", "--json",
                              "--sample-every", "--sample-length"]),
    ],
    "generate": [
        ("Model", ["--model"]),
        ("What to draw", ["--num-samples", "--length", "--prime", "--stop", "--novel"]),
        ("How to draw", ["--temperature", "--top-k", "--top-p", "--greedy", "--allow-unk",
                         "--seed"]),
        ("Output", ["--format", "--logprobs"]),
    ],
    "score": [
        ("Model and input", ["--model", "--split", "--no-eos", "--encoding-errors"]),
        ("Output", ["--format", "--per-token", "--summary-only", "--heatmap"]),
        ("Speed", ["--unbuffered", "--batch-size"]),
    ],
    "tokenize": [
        ("Text and vocabulary", ["--level", "--split", "--lowercase", "--normalize",
                                 "--graphemes", "--min-count", "--max-vocab",
                                 "--encoding-errors", "--vocab-out"]),
        ("Report", ["--format", "--top", "--long-line", "--progress"]),
    ],
    "train-tagger": [
        ("Output and resuming", ["--output", "--resume", "--checkpoint", "--checkpoint-every",
                                 "--force"]),
        ("Data", ["--dev", "--format", "--tag-column", "--also-tag", "--token-col", "--tag-col",
                  "--tag-scheme", "--min-count", "--word-dropout", "--case-sensitive",
                  "--encoding-errors"]),
        ("Model", ["--cell", "--hidden", "--layers", "--embed", "--char-embed",
                   "--char-hidden", "--dropout", "--crf", "--lm", "--lm-backward",
                   "--dtype"]),
        ("Training", ["--batch-size", "--lr", "--optimizer", "--clip", "--average", "--seed",
                      "--workers"]),
        ("Learning-rate schedule", ["--lr-schedule", "--warmup", "--lr-decay",
                                    "--lr-decay-every", "--min-lr"]),
        ("Stop conditions and validation", ["--steps", "--epochs", "--time", "--patience",
                                            "--eval-every", "--val-fraction"]),
        ("Display and logs", ["--progress", "--quiet", "--log-file", "--json"]),
    ],
    "tag": [
        ("Tagger", ["--model", "--entities", "--no-constrain"]),
        ("Input", ["--input", "--pretokenized", "--tag-column", "--encoding-errors"]),
        ("Output", ["--format", "--probs", "--all-probs"]),
    ],
    "evaluate": [
        ("Tagger or classifier", ["--model", "--no-constrain"]),
        ("Gold file", ["--input", "--tag-column", "--token-col", "--tag-col", "--drop-type",
                       "--from-text", "--text-col", "--label-col", "--header",
                       "--encoding-errors"]),
        ("Report", ["--format"]),
    ],
    "train-classifier": [
        ("Output and resuming", ["--output", "--resume", "--checkpoint", "--checkpoint-every",
                                 "--force"]),
        ("Data", ["--dev", "--format", "--text-col", "--label-col", "--header",
                  "--word-dropout", "--encoding-errors"]),
        ("Text and vocabulary", ["--level", "--lowercase", "--normalize", "--graphemes",
                                 "--min-count", "--max-vocab"]),
        ("Model", ["--cell", "--hidden", "--layers", "--embed", "--bidirectional", "--pool",
                   "--dropout", "--dtype"]),
        ("Training", ["--batch-size", "--lr", "--optimizer", "--clip", "--average", "--seed",
                      "--workers"]),
        ("Learning-rate schedule", ["--lr-schedule", "--warmup", "--lr-decay",
                                    "--lr-decay-every", "--min-lr"]),
        ("Stop conditions and validation", ["--steps", "--epochs", "--time", "--patience",
                                            "--eval-every", "--val-fraction"]),
        ("Display and logs", ["--progress", "--quiet", "--log-file", "--json"]),
    ],
    "classify": [
        ("Classifier and input", ["--model", "--encoding-errors"]),
        ("Output", ["--top-k", "--format"]),
    ],
}

# name -> [(what it does, command line)]: real commands, run by no test here but
# mirrored by README examples that are.
EXAMPLES = {
    "train": [
        ("Invent first names: train on the bundled list (about 40 s)", "charlm train"),
        ("A character model of Shakespeare, ten minutes, validated on separate text",
         "charlm train train.txt --dev dev.txt --split none --hidden 256 --time 10m "
         "-o shk.npz"),
        ("Continue an interrupted run exactly, with a lower learning rate",
         "charlm train --resume shk.ckpt.npz --lr 0.001"),
        ("A backward model: names read from their last letter to their first",
         "charlm train --reverse -o back.npz"),
        ("Two processes on two cores train one model, step for step as one would",
         "charlm train tinyshakespeare.txt --split none --hidden 256 --batch-size 64 "
         "--workers 2"),
        ("Eight processes on the machines of a hostfile (charlm installed alike on each)",
         "mpiexec -n 8 -f hosts charlm train big.txt --batch-size 256 -o big.npz"),
    ],
    "generate": [
        ("Ten new names from ./model.npz", "charlm generate -n 10 --seed 1"),
        ("Continue a prompt, a little conservatively",
         "charlm generate -m shk.npz --prime 'ROMEO:' -l 300 -t 0.8"),
        ("Names that are not in the training list, with their log-probabilities",
         "charlm generate -n 5 --novel --format jsonl"),
        ("Names that end in -ette, from a backward model",
         "charlm generate -m back.npz -n 5 --prime ette"),
    ],
    "score": [
        ("Log-probability and perplexity of each line",
         "printf 'maria\\njonathan\\n' | charlm score"),
        ("The least likely lines of a file first",
         "charlm score -m shk.npz lines.txt | sort -t$'\\t' -k5,5gr | head"),
        ("KenLM query's layout, or a coloured map of surprise",
         "charlm score --format kenlm lines.txt; charlm score --heatmap lines.txt"),
    ],
    "tokenize": [
        ("What a corpus holds, by words", "charlm tokenize book.txt --level word --top 8"),
        ("Save a vocabulary that several models will share",
         "charlm tokenize a.txt b.txt --level word --vocab-out vocab.json"),
    ],
    "info": [
        ("What ./model.npz holds, in the notes' notation", "charlm info"),
        ("A checkpoint, as JSON", "charlm info shk.ckpt.npz --format json"),
    ],
    "corpora": [
        ("List the bundled corpora", "charlm corpora"),
        ("Train on the bundled surnames", "charlm train surnames -o surnames.npz"),
    ],
    "completion": [
        ("Complete charlm in bash from now on",
         "echo 'eval \"$(charlm completion bash)\"' >> ~/.bashrc"),
        ("In the current zsh", "eval \"$(charlm completion zsh)\""),
        ("In fish", "charlm completion fish > ~/.config/fish/completions/charlm.fish"),
    ],
    "train-tagger": [
        ("A part-of-speech tagger from Universal Dependencies, twenty minutes",
         "charlm train-tagger en_ewt-ud-train.conllu --dev en_ewt-ud-dev.conllu --time 20m "
         "-o pos.npz"),
        ("A named-entity tagger from a CoNLL-2003 style column file",
         "charlm train-tagger ner-train.iob2 --dev ner-dev.iob2 -o ner.npz"),
        ("The same with a CRF output layer (learned tag transitions, Viterbi decoding)",
         "charlm train-tagger ner-train.iob2 --dev ner-dev.iob2 --crf -o ner-crf.npz"),
        ("Character-LM features: first a forward and a backward character language model "
         "of plain text (charlm train text.txt --layers 1 --hidden 256 -o fwd.npz, and the "
         "same with --reverse -o bwd.npz), then",
         "charlm train-tagger ner-train.iob2 --dev ner-dev.iob2 --lm fwd.npz "
         "--lm-backward bwd.npz -o ner-lm.npz"),
        ("One joint tagger of entities and parts of speech, from CoNLL-U with NER=B-PER … "
         "in MISC (two output layers over one BiLSTM; `tag` gives UPOS, `tag --entities` "
         "the entities)",
         "charlm train-tagger train.conllu --dev dev.conllu --tag-column ner --also-tag upos "
         "-o joint.npz"),
    ],
    "tag": [
        ("Tag a sentence with the tagger that ships with charlm",
         "echo 'The old man the boat.' | charlm tag"),
        ("Fill the tag column of a CoNLL-U file",
         "charlm tag -m pos.npz --format conllu test.conllu"),
        ("People, organisations and places with the bundled entity tagger",
         "echo 'Alice moved from Paris to Google.' | charlm tag --entities --format spans"),
        ("Entities with character offsets, one JSON line per input line",
         "charlm tag -m ner.npz --format spans news.txt"),
        ("How sure the tagger is: each token's probability of its tag",
         "echo 'I saw her duck.' | charlm tag --format tsv --probs"),
    ],
    "evaluate": [
        ("Accuracy and per-tag scores on a gold file", "charlm evaluate -m pos.npz test.conllu"),
        ("Entity precision, recall and F1 as JSON",
         "charlm evaluate -m ner.npz ner-test.iob2 --format json"),
        ("The bundled tagger's entity layer (a column file of entity tags is scored with "
         "it; a CoNLL-U file with its UPOS layer)",
         "charlm evaluate en_ewt-ud-test.iob2"),
        ("A classifier: accuracy, macro-F1, per-class scores and the confusion matrix",
         "charlm evaluate -m sst2.npz sst2/test.tsv"),
    ],
    "train-classifier": [
        ("Sentiment from SST-2 (text<TAB>label), words, ten minutes",
         "charlm train-classifier sst2/train.tsv --dev sst2/dev.tsv --time 10m -o sst2.npz"),
        ("Names to languages from a folder with one file per language, characters",
         "charlm train-classifier names/by-language --level char --time 10m -o names.npz"),
        ("fastText's __label__ lines, a fixed tenth held out for selection",
         "charlm train-classifier questions.txt -o questions.npz"),
    ],
    "classify": [
        ("The label and its probability for each line",
         "echo 'a gripping , funny film' | charlm classify -m sst2.npz"),
        ("The three most likely languages of each name, as JSON lines",
         "charlm classify -m names.npz -k 3 --format jsonl surnames.txt"),
        ("Labels only, as fastText's predict prints them",
         "charlm classify -m questions.npz --format text new.txt | sort | uniq -c"),
    ],
}


def option_name(param):
    """The name an option is listed by: its first long form (``--model``)."""
    longs = [o for o in param.opts if o.startswith("--")]
    return longs[0] if longs else param.opts[0]


def grouped_options(cmd, ctx=None):
    """``[(title, [option params])]`` for ``cmd``: its declared groups in order (empty
    ones left out), then "Other options" with the rest, --help included."""
    options = [p for p in cmd.params if isinstance(p, click.Option)]
    if ctx is not None:
        options = [p for p in cmd.get_params(ctx) if isinstance(p, click.Option)]
    byname = {option_name(p): p for p in options}
    groups, placed = [], set()
    for title, names in GROUPS.get(cmd.name, []):
        members = [byname[n] for n in names if n in byname]
        if members:
            groups.append((title, members))
            placed.update(id(p) for p in members)
    rest = [p for p in options if id(p) not in placed]
    if rest:
        groups.append(("Other options" if groups else "Options", rest))
    return groups


def plain_metavars(cmd):
    """Name number options INTEGER or FLOAT: click's "INTEGER RANGE" says less than
    that and the range it prints beside the help."""
    for param in cmd.params:
        if isinstance(param, click.Option) and param.metavar is None:
            if isinstance(param.type, click.IntRange):
                param.metavar = "INTEGER"
            elif isinstance(param.type, click.FloatRange):
                param.metavar = "FLOAT"


def summary(cmd):
    """The first line of the command's help: what it does, in one line."""
    return (cmd.help or "").strip().split("\n\n")[0].strip()


class CharlmCommand(click.Command):
    """A command whose help lists its options by group, shows every default, and ends
    with examples. The group gives every subcommand this class (see CharlmGroup), so
    commands are declared with a plain ``@click.command()``."""

    def format_options(self, ctx, formatter):
        for title, params in grouped_options(self, ctx):
            rows = [r for r in (p.get_help_record(ctx) for p in params) if r]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def format_epilog(self, ctx, formatter):
        super().format_epilog(ctx, formatter)
        examples = EXAMPLES.get(self.name)
        if examples:
            with formatter.section("Examples"):
                for i, (what, line) in enumerate(examples):
                    if i:
                        formatter.write_paragraph()
                    # written as they are, not re-wrapped: they are meant to be copied
                    indent = " " * formatter.current_indent
                    formatter.write(f"{indent}# {what}\n{indent}{line}\n")
