"""A tagger's training run, from tagged files to a model file: the engine's entry
point for ``charlm train-tagger``. It reads the training (and dev) sentences, builds
the vocabularies and the model, and hands them to the shared
:class:`~charlm.training.trainer.Trainer`, which selects the best model by dev
accuracy (entity F1 for entity tags), saves it, writes checkpoints and resumes
exactly, as for the language model (:mod:`charlm.lm.session`).

A checkpoint is a file of kind ``tagger-checkpoint``: the current parameters, the
optimiser's moments and, in its header, the trainer's state, the settings and the
data's paths and fingerprint. Resuming reads the files again and checks that they
still give exactly the same ids.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import numpy as np

from charlm.errors import CorpusError, UsageError
from charlm.settings import Settings
from charlm.store import modelfile, tagfile, validate
from charlm.tagger.data import TagBatches, TagVocab
from charlm.tagger.lmfeatures import CharLM, LMFeatures
from charlm.tagger.model import TaggerConfig, TaggerModel
from charlm.tagger.tagging import prepare
from charlm.text.conll import read_tagged
from charlm.text.reader import Source, check_readable
from charlm.text.schemes import SCHEMES, convert, detect_scheme
from charlm.training.run import (apply_overrides, check_outputs, checkpoint_path,
                                 continued, fingerprint, held_out, optimizer_moments,
                                 resume_outputs, saved_run, saving)
from charlm.training.trainer import Trainer, TrainConfig, TrainState

# Validation is forward only: bigger batches.
_VAL_BATCH = 128


@dataclass
class DataConfig(Settings):
    """How the tagged files are read. Stored in the checkpoint; fixed on resume."""

    format: str = "auto"             # auto | conllu | conll
    tag_column: str = "upos"         # conllu: upos | xpos | ner
    also_tag: str | None = None      # conllu: a second column for a joint tagger
    token_col: int | None = None     # column files: token column (default: the reader's)
    tag_col: int | None = None       # column files: tag column
    tag_scheme: str | None = None    # convert entity tags to this scheme; None: keep
    min_count: int = 1               # words seen fewer times have no embedding (UNK)
    word_dropout: float = 0.25       # α of word dropout: P(UNK) = α / (α + count)
    lowercase: bool = True           # look words up in lower case (characters keep case)
    encoding_errors: str = "strict"


@dataclass
class Run:
    """A prepared run: iterate ``run.trainer.run()`` for events."""

    trainer: Trainer
    model: TaggerModel
    vocab: TagVocab
    output: str
    checkpoint: str
    sources: list
    stats: dict
    scheme: str | None
    resumed_from: str | None = None
    changes: list = field(default_factory=list)
    log_file: str | None = None
    second_column: str | None = None    # a joint tagger's second column (--also-tag)


def read_sentences(path, data):
    """Tagged sentences of a file, converted to ``data.tag_scheme`` if one is given.
    Returns (sentences, the file's own scheme or None)."""
    sents = [s for s in read_tagged(path, data.format, data.tag_column, data.token_col,
                                    data.tag_col, data.encoding_errors, data.also_tag)
             if s.tokens]
    if not sents:
        raise CorpusError(f"{path}: no tagged sentences found")
    for s in sents:
        if s.tags is None:
            raise CorpusError(f"{s.source}:{s.line}: the sentence has no tags")
    scheme = detect_scheme([s.tags for s in sents])
    if data.also_tag:
        _check_second(path, data, sents)
    if data.tag_scheme and scheme is None:
        raise UsageError(f"--tag-scheme {data.tag_scheme}: the tags of {path} are not "
                         "entity tags (O, B-X, I-X …)")
    if data.tag_scheme and scheme != data.tag_scheme:
        for s in sents:
            s.tags = convert(s.tags, scheme, data.tag_scheme)
        scheme = data.tag_scheme
    return sents, scheme


def _check_second(path, data, sents):
    """Check the tags of ``data.also_tag``, the second CoNLL-U column the reader gave
    each sentence (a joint tagger's second output layer: never entity tags)."""
    if data.also_tag == data.tag_column:
        raise UsageError(f"--also-tag {data.also_tag}: is the column of the first layer "
                         "already (--tag-column); name another")
    if sents[0].fmt != "conllu":
        raise UsageError(f"--also-tag reads a second CoNLL-U column; {path} is a column "
                         "file")
    for s in sents:
        if s.tags2 is None:
            raise CorpusError(f"{s.source}:{s.line}: the sentence has no "
                              f"{data.also_tag} tags (--also-tag)")
    if detect_scheme([s.tags2 for s in sents]) is not None:
        raise UsageError(f"--also-tag {data.also_tag}: holds entity tags, which the second "
                         "layer would not decode as entities; give them to --tag-column "
                         f"and {data.tag_column} to --also-tag")


def _fingerprint(batches):
    return fingerprint(ids for b in batches if b is not None
                       for ids in b.word_ids + b.tag_ids)


def _load_data(train_path, dev_path, data, train_cfg, rng, vocab=None):
    train, scheme = read_sentences(train_path, data)
    if dev_path:
        dev, dev_scheme = read_sentences(dev_path, data)
        if (dev_scheme is None) != (scheme is None):
            raise CorpusError(f"{dev_path}: its tags are of another kind than those of "
                              f"{train_path}")
    else:
        train, dev = held_out(train, train_cfg.val_fraction, rng)
    if vocab is None:
        vocab = TagVocab.build(train, data.min_count, data.lowercase)
    return train, dev, vocab, scheme


def _check_replace(output, checkpoint, run_id, force):
    """Never overwrite a file another run wrote, unless ``force``: a typo in -o must
    not destroy a trained model."""
    validate.check_replace([(output, "tagger file"), (checkpoint, "checkpoint")], run_id,
                           force, "tagger", "charlm train-tagger")


def load_lms(forward=None, backward=None):
    """The frozen character LMs of ``--lm`` and ``--lm-backward`` (paths to language
    model files), as :class:`~charlm.tagger.lmfeatures.LMFeatures`; each must read in
    the direction it is given for."""
    models = []
    for path, want_backward, option in ((forward, False, "--lm"),
                                        (backward, True, "--lm-backward")):
        if path is None:
            models.append(None)
            continue
        bundle = modelfile.load(path, kinds=("model",))
        lm = CharLM.from_model(bundle.model, bundle.vocab, bundle.text, path)
        if lm.backward != want_backward:
            raise UsageError(
                f"{option} {path}: is a {'backward' if lm.backward else 'forward'} "
                f"language model; {option} takes a "
                f"{'backward one (`charlm train --reverse`)' if want_backward else 'forward one'}")
        models.append(lm)
    return LMFeatures(*models)


def start(train_path, dev_path, train_cfg, data, *, cell="lstm", hidden=128, layers=1,
          embed=100, char_embed=32, char_hidden=32, dropout=0.25, crf=False, lm=None,
          lm_backward=None, output=None, checkpoint=None, command=None, log_file=None,
          force=False):
    """Read the data and set up a fresh run; nothing is trained until its events are
    iterated. ``force``: replace a tagger file or checkpoint that another run wrote.
    ``lm``, ``lm_backward``: character language models whose states feed the tagger
    (:mod:`charlm.tagger.lmfeatures`)."""
    if not 0.0 <= dropout < 1.0:
        raise UsageError("--dropout must be in [0, 1)")
    output = output or tagfile.DEFAULT_TAGGER
    checkpoint = checkpoint or checkpoint_path(output)
    # Inputs before outputs: a mistyped data file is "no such file", whoever owns the
    # output files.
    check_readable([Source(p, path=p) for p in (train_path, dev_path) if p])
    lms = load_lms(lm, lm_backward)
    check_outputs(output, checkpoint)
    run_id = secrets.token_hex(8)
    _check_replace(output, checkpoint, run_id, force)
    rng = np.random.default_rng(train_cfg.seed)
    train, dev, vocab, scheme = _load_data(train_path, dev_path, data, train_cfg, rng)
    if len(vocab.tags) < 2:
        raise CorpusError(f"{train_path}: every token has the tag {vocab.tags[0]!r}: "
                          "nothing to learn; is it a tagged file, and is the tag column "
                          "right (--tag-col)?")
    config = TaggerConfig(len(vocab.words), len(vocab.chars), len(vocab.tags), cell=cell,
                          hidden=hidden, layers=layers, embed=embed, char_embed=char_embed,
                          char_hidden=char_hidden, dropout=dropout, crf=crf,
                          lm_forward=lms.widths()[0], lm_backward=lms.widths()[1],
                          n_tags2=len(vocab.tags2))
    dtype = np.float32 if train_cfg.dtype == "float32" else np.float64
    model = TaggerModel.create(config, rng, dtype, lm=lms or None)
    run_info = {"train": train_path, "dev": dev_path, "data": data.to_dict(),
                "output": output, "checkpoint": checkpoint, "command": command,
                "log_file": log_file, "scheme": scheme, "run_id": run_id}
    return _build(model, vocab, train, dev, scheme, data, train_cfg, rng, run_info)


def _build(model, vocab, train, dev, scheme, data, train_cfg, rng, run_info, state=None,
           optimizer_arrays=None, resumed_from=None, changes=()):
    if model.config.crf and scheme in SCHEMES:
        # A CRF gives a path the scheme forbids no probability at all: read a gold
        # sequence that breaks the scheme (a stray I- after O) as the scorer does.
        for s in train + dev:
            s.tags = convert(s.tags, scheme, scheme)
    # Frozen character LMs: every sentence's features are computed once, here.
    lm_train = model.lm_features([s.tokens for s in train])
    lm_dev = model.lm_features([s.tokens for s in dev]) if dev else None
    train_batches = TagBatches(vocab, train, train_cfg.batch_size, data.word_dropout,
                               lm=lm_train)
    val_batches = TagBatches(vocab, dev, _VAL_BATCH, lm=lm_dev) if dev else None
    fingerprint = _fingerprint([train_batches, val_batches])
    if run_info.get("fingerprint") not in (None, fingerprint):
        raise UsageError("the training data is not what this run was trained on (its ids "
                         "differ); resume needs the same files")
    run_info["fingerprint"] = fingerprint
    prepare(model, vocab.tags, scheme)
    tagging = {"scheme": scheme, "tag_column": data.tag_column,
               "tokenizer": "ud-english", "lowercase": data.lowercase}
    if data.also_tag:
        tagging["tag_column2"] = data.also_tag
    output, checkpoint = run_info["output"], run_info["checkpoint"]
    sources = [p for p in (run_info["train"], run_info["dev"]) if p]

    def write(path, is_checkpoint, training, extra):
        tagfile.save(path, tagfile.TaggerBundle(
            model, vocab, tagging, kind="tagger-checkpoint" if is_checkpoint else "tagger",
            training=training, extra=extra))

    save_model, save_checkpoint = saving(run_info, train_cfg, write)
    select = ("joint" if model.config.n_tags2 else "f1" if model.entities
              else "accuracy")
    trainer = Trainer(model, train_batches, val_batches, train_cfg, rng,
                      save_model=save_model, save_checkpoint=save_checkpoint,
                      state=state, optimizer_arrays=optimizer_arrays, select=select)
    unk = sum(int((ids == 1).sum()) for ids in train_batches.word_ids)
    stats = {"train_sentences": len(train), "dev_sentences": len(dev),
             "dev_tokens": val_batches.tokens() if val_batches else 0,
             "unk_rate": unk / max(train_batches.tokens(), 1),
             "dev_unk_rate": (sum(int((ids == 1).sum()) for ids in val_batches.word_ids)
                              / max(val_batches.tokens(), 1)) if val_batches else 0.0,
             "dev_held_out": not run_info["dev"]}
    return Run(trainer, model, vocab, output, checkpoint, sources, stats, scheme,
               resumed_from, list(changes), run_info.get("log_file"), data.also_tag)


def resume(path, overrides=None, train_path=None, dev_path=None, output=None,
           command=None, log_file=None, force=False):
    """Continue the run saved in the tagger checkpoint ``path`` exactly; settings in
    RESUME_MAY_CHANGE may be overridden, others are refused."""
    bundle = tagfile.load(path)
    cfg_dict, state_dict, run_info = saved_run(bundle, path, "tagger-checkpoint", "tagger")
    data = DataConfig.from_dict(run_info["data"])
    fixed = dict(bundle.model.config.to_dict(), **data.to_dict())
    cfg_dict, changes = apply_overrides(cfg_dict, fixed, overrides)
    train_cfg = TrainConfig.from_dict(cfg_dict)
    validate.check_replace(resume_outputs(run_info, output, changes, "tagger file"),
                           run_info["run_id"], force, "tagger", "charlm train-tagger")
    continued(run_info, train_path, dev_path, command, log_file)
    rng = np.random.default_rng(train_cfg.seed)
    train, dev, vocab, scheme = _load_data(run_info["train"], run_info["dev"], data,
                                           train_cfg, rng, vocab=bundle.vocab)
    state = TrainState.from_dict(state_dict)
    return _build(bundle.model, vocab, train, dev, scheme, data, train_cfg, rng, run_info,
                  state=state, optimizer_arrays=optimizer_moments(bundle.extra),
                  resumed_from=path, changes=changes)
