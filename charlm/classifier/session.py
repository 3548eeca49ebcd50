"""A classifier's training run, from labelled lines to a classifier file: the engine's
entry point for ``charlm train-classifier``. It reads the training (and dev) lines,
builds the vocabularies and the model, and hands them to the shared
:class:`~charlm.training.trainer.Trainer`, which keeps the model with the best dev
accuracy, saves it, writes checkpoints and resumes exactly, as for the language model
and the tagger.

Its checkpoints (kind ``classifier-checkpoint``) hold what the tagger's hold (see
:mod:`charlm.tagger.session`); the pieces both runs use are in
:mod:`charlm.training.run`.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field

import numpy as np

from charlm.classifier import file as classfile
from charlm.classifier.data import ClassVocab, LineBatches, line_tokens
from charlm.classifier.model import ClassifierConfig, ClassifierModel, parse_pool
from charlm.classifier.ngrams import (MAX_NGRAM, MIN_LINES, NgramPart, NgramTable,
                                     check_fits, marks_of)
from charlm.errors import CorpusError, UsageError
from charlm.settings import Settings
from charlm.store import validate
from charlm.text.labelled import ReadReport, check_examples, read_labelled
from charlm.text.reader import Source, check_readable
from charlm.text.tokens import TextConfig
from charlm.training.run import (apply_overrides, check_outputs, checkpoint_path,
                                 continued, fingerprint, held_out, optimizer_moments,
                                 resume_outputs, saved_run, saving)
from charlm.training.trainer import Trainer, TrainConfig, TrainState

# Validation is forward only: bigger batches.
_VAL_BATCH = 256


@dataclass
class DataConfig(Settings):
    """How the labelled files are read. Stored in the checkpoint; fixed on resume."""

    format: str = "auto"            # auto | tsv | csv | fasttext | folder
    text_col: str | None = None     # TSV/CSV: index or header name of the text column
    label_col: str | None = None    # ... and of the label column (default: detected)
    header: bool | None = None      # TSV/CSV: a header line? None: detect
    min_count: int = 1              # tokens seen fewer times are UNK
    max_vocab: int | None = None    # at most this many tokens, PAD and UNK included
    word_dropout: float = 0.25      # α of word dropout: P(UNK) = α / (α + count)
    encoding_errors: str = "strict"


@dataclass
class Run:
    """A prepared run: iterate ``run.trainer.run()`` for events."""

    trainer: Trainer
    model: ClassifierModel
    vocab: ClassVocab
    output: str
    checkpoint: str
    sources: list
    stats: dict
    notes: list = field(default_factory=list)
    resumed_from: str | None = None
    changes: list = field(default_factory=list)
    log_file: str | None = None


def read_examples(path, data):
    """Labelled lines of ``path`` and what the reader noticed about them."""
    report = ReadReport()
    examples = read_labelled(path, data.format, data.text_col, data.label_col, data.header,
                             data.encoding_errors, report)
    notes = list(report.notes)
    if report.blank_lines:
        notes.append(f"{path}: {report.blank_lines:,} blank line(s) skipped")
    return examples, notes


def _fingerprint(batches):
    return fingerprint(ids for b in batches if b is not None
                       for ids in b.id_lists + [b.label_ids])


def eval_interval(steps_per_epoch):
    """Steps between validations when not given: about ten a pass, so that a time
    budget of a few passes still selects among many models, but not more often than
    every 50 steps (a validation costs about as much as a few dozen steps)."""
    return max(50, -(-steps_per_epoch // 10))


def _encode(examples, vocab, text_cfg, expand, where):
    """(token id lists, label ids). ``expand``: a line with several labels is an example
    of each (training); otherwise of its first."""
    ids, labels = [], []
    for e in examples:
        tokens = vocab.encode(line_tokens(e.text, text_cfg))
        for lab in (e.labels if expand else e.labels[:1]):
            if lab not in vocab.label_ids:
                raise CorpusError(f"{e.source}:{e.line}: label {lab!r} is not among the "
                                  f"training labels ({', '.join(vocab.labels[:10])}"
                                  f"{' …' if len(vocab.labels) > 10 else ''}) {where}")
            ids.append(tokens)
            labels.append(vocab.label_ids[lab])
    return ids, labels


def _load_data(train_path, dev_path, data, text_cfg, train_cfg, rng, vocab=None):
    train, notes = read_examples(train_path, data)
    notes += check_examples(train, train_path)
    if dev_path:
        dev, dev_notes = read_examples(dev_path, data)
        notes += dev_notes
    else:
        train, dev = held_out(train, train_cfg.val_fraction, rng)
    if vocab is None:
        tokens = [line_tokens(e.text, text_cfg) for e in train]
        labels = [lab for e in train for lab in e.labels]
        vocab = ClassVocab.build([t for e, t in zip(train, tokens) for _ in e.labels],
                                 labels, data.min_count, data.max_vocab)
    return train, dev, vocab, notes


def start(train_path, dev_path, train_cfg, data, text_cfg, *, cell="lstm", hidden=128,
          layers=1, embed=100, bidirectional=True, pool="max", dropout=0.5, ngrams=0,
          output=None, checkpoint=None, command=None, log_file=None, force=False):
    """Read the data and set up a fresh run; nothing is trained until its events are
    iterated, except the n-gram part (``ngrams`` > 0: n-grams of 1 … ``ngrams``), which
    is fitted here, once. ``force``: replace a classifier file or checkpoint that
    another run wrote."""
    if not 0.0 <= dropout < 1.0:
        raise UsageError("--dropout must be in [0, 1)")
    if not 0 <= ngrams <= MAX_NGRAM:
        raise UsageError(f"--ngrams must be between 0 (none) and {MAX_NGRAM}")
    pool = "+".join(parse_pool(pool))
    output = output or classfile.DEFAULT_CLASSIFIER
    checkpoint = checkpoint or checkpoint_path(output)
    # Inputs before outputs: a mistyped data file is "no such file", whoever owns the
    # output files (a folder of one file per class is read as it is listed).
    check_readable([Source(p, path=p) for p in (train_path, dev_path)
                    if p and not os.path.isdir(p)])
    check_outputs(output, checkpoint)
    run_id = secrets.token_hex(8)
    validate.check_replace([(output, "classifier file"), (checkpoint, "checkpoint")],
                           run_id, force, "classifier", "charlm train-classifier")
    rng = np.random.default_rng(train_cfg.seed)
    train, dev, vocab, notes = _load_data(train_path, dev_path, data, text_cfg, train_cfg,
                                          rng)
    if ngrams:
        check_fits(ngrams, len(vocab.tokens))
    config = ClassifierConfig(len(vocab.tokens), len(vocab.labels), cell=cell,
                              hidden=hidden, layers=layers, embed=embed,
                              bidirectional=bidirectional, pool=pool, dropout=dropout,
                              ngrams=ngrams)
    dtype = np.float32 if train_cfg.dtype == "float32" else np.float64
    model = ClassifierModel.create(config, rng, dtype, labels=vocab.labels)
    if ngrams:
        t0 = time.perf_counter()
        ids, labels = _encode(train, vocab, text_cfg, True, "")
        table = NgramTable.build(ids, text_cfg.level, ngrams, len(vocab.tokens),
                                 marks_of(vocab.tokens, text_cfg.level))
        model.ngrams = NgramPart.fit(ids, labels, len(vocab.labels), table, dtype)
        notes.append(f"n-gram part: {len(table.keys):,} n-grams of 1-{ngrams} "
                     f"{'characters' if text_cfg.level == 'char' else 'words'} (in ≥ "
                     f"{MIN_LINES} training lines), fitted in "
                     f"{time.perf_counter() - t0:.1f} s")
    run_info = {"train": train_path, "dev": dev_path, "data": data.to_dict(),
                "output": output, "checkpoint": checkpoint, "command": command,
                "log_file": log_file, "run_id": run_id}
    return _build(model, vocab, train, dev, data, text_cfg, train_cfg, rng, run_info,
                  notes=notes)


def _build(model, vocab, train, dev, data, text_cfg, train_cfg, rng, run_info, state=None,
           optimizer_arrays=None, resumed_from=None, changes=(), notes=()):
    ids, labels = _encode(train, vocab, text_cfg, True, "")
    train_batches = LineBatches(ids, labels, train_cfg.batch_size, data.word_dropout, vocab)
    if train_cfg.eval_every is None:
        train_cfg.eval_every = eval_interval(len(train_batches))
    val_batches = None
    if dev:
        dids, dlabels = _encode(dev, vocab, text_cfg, False, "(a dev line)")
        grams = model.ngrams.rows(dids) if model.ngrams else None
        val_batches = LineBatches(dids, dlabels, _VAL_BATCH, grams=grams)
    fingerprint = _fingerprint([train_batches, val_batches])
    if run_info.get("fingerprint") not in (None, fingerprint):
        raise UsageError("the training data is not what this run was trained on (its ids "
                         "differ); resume needs the same files")
    run_info["fingerprint"] = fingerprint
    output, checkpoint = run_info["output"], run_info["checkpoint"]
    sources = [p for p in (run_info["train"], run_info["dev"]) if p]

    def write(path, is_checkpoint, training, extra):
        classfile.save(path, classfile.ClassifierBundle(
            model, vocab, text_cfg,
            kind="classifier-checkpoint" if is_checkpoint else "classifier",
            training=training, extra=extra))

    save_model, save_checkpoint = saving(run_info, train_cfg, write)
    trainer = Trainer(model, train_batches, val_batches, train_cfg, rng,
                      save_model=save_model, save_checkpoint=save_checkpoint,
                      state=state, optimizer_arrays=optimizer_arrays, select="accuracy")
    unk = sum(int((x == 1).sum()) for x in train_batches.id_lists)
    stats = {"train_lines": len(train), "dev_lines": len(dev),
             "train_tokens": train_batches.tokens(),
             "dev_tokens": val_batches.tokens() if val_batches else 0,
             "labels": len(vocab.labels), "vocab": len(vocab.tokens),
             "unk_rate": unk / max(train_batches.tokens(), 1),
             "dev_held_out": not run_info["dev"]}
    return Run(trainer, model, vocab, output, checkpoint, sources, stats, list(notes),
               resumed_from, list(changes), run_info.get("log_file"))


def resume(path, overrides=None, train_path=None, dev_path=None, output=None,
           command=None, log_file=None, force=False):
    """Continue the run saved in the classifier checkpoint ``path`` exactly; settings in
    RESUME_MAY_CHANGE may be overridden, others are refused."""
    bundle = classfile.load(path)
    cfg_dict, state_dict, run_info = saved_run(bundle, path, "classifier-checkpoint",
                                               "classifier")
    data = DataConfig.from_dict(run_info["data"])
    fixed = dict(bundle.model.config.to_dict(), **data.to_dict(), **bundle.text.to_dict())
    cfg_dict, changes = apply_overrides(cfg_dict, fixed, overrides)
    train_cfg = TrainConfig.from_dict(cfg_dict)
    validate.check_replace(resume_outputs(run_info, output, changes, "classifier file"),
                           run_info["run_id"], force, "classifier",
                           "charlm train-classifier")
    continued(run_info, train_path, dev_path, command, log_file)
    rng = np.random.default_rng(train_cfg.seed)
    train, dev, vocab, notes = _load_data(run_info["train"], run_info["dev"], data,
                                          bundle.text, train_cfg, rng, vocab=bundle.vocab)
    state = TrainState.from_dict(state_dict)
    return _build(bundle.model, vocab, train, dev, data, bundle.text, train_cfg, rng,
                  run_info, state=state, optimizer_arrays=optimizer_moments(bundle.extra),
                  resumed_from=path, changes=changes, notes=notes)
