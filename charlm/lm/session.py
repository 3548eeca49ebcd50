"""A training run from corpus to model file: the engine's entry point for
``charlm train``. It reads and tokenizes the corpus, builds the model and the
trainer, saves the best model (by validation loss) to the output file and writes
checkpoints from which :func:`resume` continues exactly.

A checkpoint is a model file of kind ``checkpoint``: the current parameters, the
optimiser's moments (``optimizer/m/…``, ``optimizer/v/…``), the hidden state carried
into the next window (``carried/layerL.a``, ``…c``), and in its header the
:class:`~charlm.training.trainer.TrainState`, the training settings and where the data came
from. When the corpus came from standard input, its token ids are stored too
(``data/train``, ``data/val``); otherwise resuming reads the corpus again and checks
that it still gives exactly the same token ids.

With ``dev`` paths (``train --dev``) the corpus is trained on whole and validation
reads the dev text, encoded with the corpus's vocabulary; resuming reads it again and
checks its ids as well.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field, replace

import numpy as np

from charlm.text import cache
from charlm.files import check_space
from charlm.store import modelfile, validate
from charlm.text.corpus import (Batches, Prepared, encode_dev, prepare, resolve_sources,
                                type_stream)
from charlm.text.reader import check_readable
from charlm.errors import ModelFileError, UsageError
from charlm.training.defaults import DEFAULT_DROPOUT, default_batch
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.lm.sampling import NOVEL_ARRAY, sample_texts
from charlm.training.run import (apply_overrides, carried_from_arrays, check_memory,
                                 check_outputs, checkpoint_path, resume_outputs)
from charlm.training.trainer import Trainer, TrainConfig, TrainState

# Why a resume is refused when the text's token ids differ, without and with --dev.
_NOT_THE_SAME_TEXT = (
    "the corpus is not the one this run was trained on (its token ids differ); resume "
    "needs the same text",
    "the corpus or the dev text is not the one this run was trained and validated on "
    "(their token ids differ); resume needs the same text, and other dev text a new run")

# Validation is forward only and cheap per token: read more rows at once.
_VAL_ROWS = 128


@dataclass
class Run:
    """A prepared run: iterate ``run.trainer.run()`` for events."""

    trainer: Trainer
    model: LanguageModel
    prepared: Prepared
    text: object
    output: str
    checkpoint: str
    sources: list
    resumed_from: str | None = None
    changes: list = field(default_factory=list)    # (setting, old, new) on resume
    log_file: str | None = None                    # metrics log, remembered for resume
    dev: list = field(default_factory=list)        # names of the dev text (--dev)


def default_embed(level):
    """--embed when not given: one-hot input at char level (the notes' W_ax x⟨t⟩),
    a 128-wide embedding at word level, where V is large."""
    return 0 if level == "char" else 128


def default_min_count(level):
    """--min-count when not given: every character counts; a word must occur twice,
    so that rare words become UNK during training and UNK gets a real probability."""
    return 1 if level == "char" else 2


def _fingerprint(prepared):
    h = hashlib.blake2b(digest_size=16)
    for a in (prepared.train_ids, prepared.val_ids):
        h.update(str(a.dtype).encode())
        h.update(len(a).to_bytes(8, "little"))
        h.update(np.ascontiguousarray(a).data)           # no copy of big arrays
    return h.hexdigest()


def read_corpus(sources, text_cfg, encoding_errors="strict", stdin_bytes=None,
                progress=None, use_cache=True):
    """Sources and their :class:`~charlm.text.corpus.TypeStream`, from the cache when the
    same files were tokenized the same way before."""
    return read_sources(resolve_sources(sources, stdin_bytes), text_cfg, encoding_errors,
                        progress, use_cache)


def read_sources(srcs, text_cfg, encoding_errors="strict", progress=None, use_cache=True):
    """:func:`read_corpus` for sources already resolved."""
    collect = text_cfg.split == "lines"
    k = cache.key(srcs, text_cfg, collect, encoding_errors) if use_cache else None
    stream = cache.load(k) if k else None
    if stream is None:
        stream = type_stream(srcs, text_cfg, encoding_errors, collect_lines=collect,
                             progress=progress)
        if k:
            cache.save(k, stream)
    return srcs, stream


def check_dev(paths):
    """Refuse dev paths that cannot be read, before any corpus is; their sources."""
    if any(p == "-" for p in paths):
        raise UsageError("--dev reads files, not standard input")
    srcs = resolve_sources(paths)
    check_readable(srcs)
    return srcs


def read_dev(dev_sources, sources, text_cfg, encoding_errors="strict", use_cache=True):
    """The dev text of ``train --dev`` (``dev_sources`` from :func:`check_dev`): its
    sources and type stream, read like the corpus. A dev file that is also part of the
    corpus is refused."""
    srcs, stream = read_sources(dev_sources, text_cfg, encoding_errors,
                                use_cache=use_cache)
    corpus_files = {os.path.realpath(s.path) for s in sources if s.path}
    for s in srcs:
        if s.path and os.path.realpath(s.path) in corpus_files:
            raise UsageError(f"{s.name}: is part of the corpus too; validation text must "
                             "be text the model does not train on")
    return srcs, stream


def with_dev(prepared, dev_srcs, dev_stream, text_cfg, train_cfg):
    """``prepared`` with its validation part taken from the dev text."""
    names = ", ".join(s.name for s in dev_srcs)
    val_ids, unk = encode_dev(dev_stream, prepared.vocab, text_cfg, names,
                              train_cfg.val_max_tokens)
    return Prepared(prepared.vocab, prepared.train_ids, val_ids, prepared.types,
                    prepared.unk_rate, prepared.line_keys, unk)


def check_model_size(config, dtype, train_cfg, train_tokens):
    """Refuse a model whose training could not fit in memory: the parameters, their
    gradients and Adam's two moments, and one window's activations (gates, states,
    logits and probabilities at every position) for training and for validation."""
    # The parameter count in closed form: a loop over an absurd --layers would hang.
    G, H, V, E, L = (config.cell_spec.width(1), config.hidden, config.vocab_size,
                     config.embed, config.layers)
    D = E or V
    P = E * V + G * H * (H + D + 1) + (L - 1) * G * H * (2 * H + 1) + V * (H + 1)
    item = np.dtype(dtype).itemsize
    N = max(1, min(train_cfg.batch_size, train_tokens))
    T = max(1, min(train_cfg.seq_len, -(-train_tokens // N)))
    per_position = config.layers * (G + 4) * config.hidden + 3 * config.vocab_size + config.embed
    windows = (N + _VAL_ROWS) * T * per_position
    check_memory(item * (4 * P + windows))


def _check_replace(output, checkpoint, run_id, force):
    validate.check_replace([(output, "model file"), (checkpoint, "checkpoint")], run_id,
                           force, "model", "charlm train")


def _check_space(model, output, checkpoint, extra_bytes=0):
    """Refuse to start when the disk cannot hold the model file and checkpoint."""
    nbytes = model.num_params() * np.dtype(model.dtype).itemsize
    check_space([(output, nbytes), (checkpoint, 3 * nbytes + extra_bytes)])


def start(sources, text_cfg, train_cfg, *, cell="lstm", hidden=128, layers=2,
          embed=None, dropout=DEFAULT_DROPOUT, min_count=None, max_vocab=None, vocab=None,
          output=None, checkpoint=None, command=None, encoding_errors="strict",
          stdin_bytes=None, log_file=None, progress=None, use_cache=True, force=False,
          dev=None):
    """Read the corpus and set up a fresh run. Nothing is trained until its events
    are iterated. ``vocab``: a fixed :class:`Vocab` to use instead of building one.
    ``force``: replace a model file or checkpoint that another run wrote.
    ``dev``: paths of validation text; the corpus is then trained on whole (the
    config's val_fraction must be 0)."""
    if not 0.0 <= dropout < 1.0:
        raise UsageError("--dropout must be in [0, 1)")
    if not 0.0 <= train_cfg.val_fraction < 1.0:
        raise UsageError("--val-fraction must be in [0, 1)")
    if dev and train_cfg.val_fraction:
        raise UsageError("--val-fraction cannot be combined with --dev: the dev text is "
                         "the validation part")
    dev_srcs = check_dev(list(dev)) if dev else None
    output = output or modelfile.default_model_path()
    checkpoint = checkpoint or checkpoint_path(output)
    # Inputs before outputs: a mistyped corpus name is "no such file", whoever owns the
    # output files.
    srcs = resolve_sources(sources, stdin_bytes)
    check_readable(srcs)
    check_outputs(output, checkpoint)
    run_id = secrets.token_hex(8)
    _check_replace(output, checkpoint, run_id, force)
    srcs, stream = read_sources(srcs, text_cfg, encoding_errors, progress, use_cache)
    dev_srcs, dev_stream = (read_dev(dev_srcs, srcs, text_cfg, encoding_errors, use_cache)
                            if dev else (None, None))
    rng = np.random.default_rng(train_cfg.seed)
    if min_count is None:
        min_count = default_min_count(text_cfg.level)
    prepared = prepare(stream, text_cfg, train_cfg.val_fraction, rng, min_count, max_vocab,
                       vocab=vocab, val_max_tokens=train_cfg.val_max_tokens)
    del stream
    if dev:
        prepared = with_dev(prepared, dev_srcs, dev_stream, text_cfg, train_cfg)
        del dev_stream
    if train_cfg.batch_size is None or train_cfg.seq_len is None:
        n, t = default_batch(len(prepared.train_ids))
        train_cfg = replace(train_cfg, batch_size=train_cfg.batch_size or n,
                            seq_len=train_cfg.seq_len or t)
    config = ModelConfig(
        vocab_size=len(prepared.vocab), cell=cell, hidden=hidden, layers=layers,
        embed=default_embed(text_cfg.level) if embed is None else embed,
        dropout=dropout)
    dtype = np.float32 if train_cfg.dtype == "float32" else np.float64
    check_model_size(config, dtype, train_cfg, len(prepared.train_ids))
    model = LanguageModel.create(config, rng, dtype)
    store_data = any(s.name == "<stdin>" for s in srcs)
    data_bytes = (prepared.train_ids.nbytes + prepared.val_ids.nbytes) if store_data else 0
    _check_space(model, output, checkpoint, data_bytes)
    run_info = {
        "run_id": run_id,
        "sources": [s.name for s in srcs],
        "paths": [s for s in (sources or [])],
        "dev": [s.name for s in dev_srcs] if dev else [],
        "dev_paths": list(dev) if dev else [],
        "encoding_errors": encoding_errors,
        "min_count": min_count, "max_vocab": max_vocab, "fixed_vocab": vocab is not None,
        "output": output, "checkpoint": checkpoint, "command": command,
        "log_file": log_file, "fingerprint": _fingerprint(prepared),
    }
    return _build(model, prepared, text_cfg, train_cfg, rng, run_info, store_data,
                  known_lines=prepared.line_keys)


def _build(model, prepared, text_cfg, train_cfg, rng, run_info, store_data, state=None,
           carried=None, optimizer_arrays=None, resumed_from=None, changes=(),
           known_lines=None):
    lines = text_cfg.split == "lines"
    train_batches = Batches(prepared.train_ids, train_cfg.batch_size, train_cfg.seq_len, lines)
    val_batches = (Batches(prepared.val_ids, _VAL_ROWS, train_cfg.seq_len, lines)
                   if len(prepared.val_ids) else None)
    output, checkpoint = run_info["output"], run_info["checkpoint"]

    def info(training):
        return dict(training, sources=run_info["sources"], dev=run_info.get("dev") or [],
                    command=run_info["command"],
                    resumed_with=run_info.get("resumed_with") or [],
                    run_id=run_info.get("run_id"))

    # Hashes of the corpus lines, for `charlm generate --novel`.
    novel = {} if known_lines is None else {NOVEL_ARRAY: known_lines}

    def save_model(training):
        modelfile.save(output, modelfile.Bundle(model, prepared.vocab, text_cfg,
                                                kind="model", training=info(training),
                                                extra=dict(novel)))

    def save_checkpoint(trainer):
        extra = dict(trainer.checkpoint_arrays(), **novel)
        if store_data:
            extra["data/train"] = prepared.train_ids
            extra["data/val"] = prepared.val_ids
        training = info(trainer.training_info())
        training["resume"] = {"state": trainer.checkpoint_state(),
                              "config": train_cfg.to_dict(), "run": run_info}
        modelfile.save(checkpoint, modelfile.Bundle(model, prepared.vocab, text_cfg,
                                                    kind="checkpoint", training=training,
                                                    extra=extra))
        return checkpoint

    def sampler(step):
        # Its own generator, seeded by the step: sampling never disturbs training.
        g = np.random.default_rng([train_cfg.seed, step])
        with np.errstate(over="ignore", invalid="ignore"):
            if lines:
                return " | ".join(sample_texts(model, prepared.vocab, text_cfg, 6,
                                               train_cfg.sample_length, rng=g))
            return sample_texts(model, prepared.vocab, text_cfg, 1,
                                train_cfg.sample_length, rng=g)[0]

    trainer = Trainer(model, train_batches, val_batches, train_cfg, rng,
                      save_model=save_model, save_checkpoint=save_checkpoint,
                      sampler=sampler, state=state, carried=carried,
                      optimizer_arrays=optimizer_arrays)
    return Run(trainer, model, prepared, text_cfg, output, checkpoint,
               run_info["sources"], resumed_from, list(changes), run_info.get("log_file"),
               list(run_info.get("dev") or []))


def resume(path, overrides=None, sources=None, stdin_bytes=None, output=None, command=None,
           log_file=None, force=False, dev=None):
    """Continue the run saved in checkpoint ``path``.

    ``overrides`` maps TrainConfig fields the user gave explicitly to their new
    values; those in RESUME_MAY_CHANGE are applied (and reported in ``run.changes``),
    any other difference is refused. ``sources`` replaces the corpus paths stored in
    the checkpoint (if the files moved); the data must still tokenize to exactly the
    same ids. ``dev`` likewise replaces the paths of the run's dev text, which must
    give the same ids too: the best model so far was chosen on it, so validating on
    other text needs a new run.
    """
    bundle = modelfile.load(path)
    if bundle.kind != "checkpoint":
        raise UsageError(f"{path}: is a model file, not a checkpoint; resume from the "
                         f"checkpoint written next to it (NAME.ckpt.npz)")
    try:
        saved = bundle.training["resume"]
        cfg_dict, state_dict, run_info = saved["config"], saved["state"], dict(saved["run"])
    except (KeyError, TypeError):
        raise ModelFileError(f"{path}: the checkpoint lacks its resume information") from None
    if not isinstance(run_info.get("output"), str) or \
            not isinstance(run_info.get("checkpoint"), str):
        raise ModelFileError(f"{path}: the checkpoint lacks its resume information")
    fixed = dict(bundle.model.config.to_dict(), **bundle.text.to_dict(),
                 min_count=run_info.get("min_count"), max_vocab=run_info.get("max_vocab"),
                 encoding_errors=run_info.get("encoding_errors"))
    try:
        cfg_dict = validate.settings_from(TrainConfig, cfg_dict,
                                          "training.resume.config").to_dict()
        state = validate.settings_from(TrainState, state_dict, "training.resume.state")
    except ModelFileError as e:
        raise ModelFileError(f"{path}: {e}") from None
    cfg_dict, changes = apply_overrides(cfg_dict, fixed, overrides)
    train_cfg = TrainConfig.from_dict(cfg_dict)
    validate.check_replace(resume_outputs(run_info, output, changes, "model file"),
                           run_info["run_id"], force, "model", "charlm train")
    if command:
        run_info["resumed_with"] = list(run_info.get("resumed_with") or []) + [command]
    if log_file is not None:
        run_info["log_file"] = log_file
    text_cfg = bundle.text
    dev_paths = list(dev) if dev else list(run_info.get("dev_paths") or [])
    if dev and not run_info.get("dev_paths"):
        raise UsageError("this run holds out validation from its corpus; validating on "
                         "--dev text needs a new run")
    if dev:
        run_info["dev_paths"] = dev_paths
    # dev files that will be read are checked before the corpus is, as in a new run
    # (a run that stored its data reads them only when --dev is given again)
    reads_dev = dev if "data/train" in bundle.extra else dev_paths
    checked_dev = check_dev(dev_paths) if reads_dev else None
    rng = np.random.default_rng(train_cfg.seed)
    if "data/train" in bundle.extra:
        prepared = Prepared(bundle.vocab, bundle.extra.pop("data/train"),
                            bundle.extra.pop("data/val"), len(bundle.vocab) - 2, 0.0)
        store_data = True
        if dev:
            dev_srcs, dev_stream = read_dev(checked_dev, [], text_cfg,
                                            run_info.get("encoding_errors", "strict"))
            if not np.array_equal(with_dev(prepared, dev_srcs, dev_stream, text_cfg,
                                           train_cfg).val_ids, prepared.val_ids):
                raise UsageError(_NOT_THE_SAME_TEXT[1])
    else:
        paths = list(sources) if sources else run_info.get("paths") or []
        errors = run_info.get("encoding_errors", "strict")
        srcs, stream = read_corpus(paths, text_cfg, errors, stdin_bytes)
        prepared = prepare(stream, text_cfg, train_cfg.val_fraction, rng,
                           run_info.get("min_count", 1), run_info.get("max_vocab"),
                           vocab=bundle.vocab, val_max_tokens=train_cfg.val_max_tokens)
        del stream
        if dev_paths:
            dev_srcs, dev_stream = read_dev(checked_dev, srcs, text_cfg, errors)
            prepared = with_dev(prepared, dev_srcs, dev_stream, text_cfg, train_cfg)
        if _fingerprint(prepared) != run_info.get("fingerprint"):
            raise UsageError(_NOT_THE_SAME_TEXT[bool(dev_paths)])
        store_data = False
    known_lines = bundle.extra.pop(NOVEL_ARRAY, None)
    data_bytes = (prepared.train_ids.nbytes + prepared.val_ids.nbytes) if store_data else 0
    _check_space(bundle.model, run_info["output"], run_info["checkpoint"], data_bytes)
    optimizer_arrays = {k[len("optimizer/"):]: v for k, v in bundle.extra.items()
                        if k.startswith("optimizer/")}
    names = ("a", "c") if bundle.model.config.cell == "lstm" else ("a",)
    carried = carried_from_arrays(bundle.extra, bundle.model.config.layers, names)
    return _build(bundle.model, prepared, text_cfg, train_cfg, rng, run_info, store_data,
                  state=state, carried=carried, optimizer_arrays=optimizer_arrays,
                  resumed_from=path, changes=changes, known_lines=known_lines)


__all__ = ["Run", "start", "resume", "checkpoint_path", "TrainConfig"]
