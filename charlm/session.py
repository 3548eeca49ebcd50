"""A training run from corpus to model file: the engine's one entry point for
``charlm train``. It reads and tokenizes the corpus, builds the model and the
trainer, and saves the best model (by validation loss) to the output file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from charlm import modelfile
from charlm.corpus import Batches, prepare, resolve_sources
from charlm.errors import UsageError
from charlm.model import LanguageModel, ModelConfig
from charlm.train import Trainer, TrainConfig

# Validation is forward only and cheap per token: read more rows at once.
_VAL_ROWS = 128


@dataclass
class Run:
    """A prepared run: iterate ``run.trainer.run()`` for events."""

    trainer: Trainer
    model: LanguageModel
    prepared: object
    text: object
    output: str
    sources: list


def default_embed(level):
    """--embed when not given: one-hot input at char level (the notes' W_ax x⟨t⟩),
    a 128-wide embedding at word level, where V is large."""
    return 0 if level == "char" else 128


def default_min_count(level):
    """--min-count when not given: every character counts; a word must occur twice,
    so that rare words become UNK during training and UNK gets a real probability."""
    return 1 if level == "char" else 2


def start(sources, text_cfg, train_cfg, *, cell="lstm", hidden=128, layers=2,
          embed=None, dropout=0.0, min_count=None, max_vocab=None, output=None,
          command=None, encoding_errors="strict", stdin_bytes=None):
    """Read the corpus and set up a run. Nothing is trained until its events are
    iterated."""
    if not 0.0 <= dropout < 1.0:
        raise UsageError("--dropout must be in [0, 1)")
    if not 0.0 <= train_cfg.val_fraction < 1.0:
        raise UsageError("--val-fraction must be in [0, 1)")
    output = output or modelfile.default_model_path()
    if os.path.isdir(output):
        raise UsageError(f"{output}: is a directory; give a model file name with -o")
    texts = resolve_sources(sources, encoding_errors, stdin_bytes)
    rng = np.random.default_rng(train_cfg.seed)
    prepared = prepare([t for _, t in texts], text_cfg, train_cfg.val_fraction, rng,
                       min_count if min_count is not None else default_min_count(text_cfg.level),
                       max_vocab)
    config = ModelConfig(
        vocab_size=len(prepared.vocab), cell=cell, hidden=hidden, layers=layers,
        embed=default_embed(text_cfg.level) if embed is None else embed,
        dropout=dropout)
    dtype = np.float32 if train_cfg.dtype == "float32" else np.float64
    model = LanguageModel.create(config, rng, dtype)
    lines = text_cfg.split == "lines"
    train_batches = Batches(prepared.train_ids, train_cfg.batch_size, train_cfg.seq_len, lines)
    val_batches = (Batches(prepared.val_ids, _VAL_ROWS, train_cfg.seq_len, lines)
                   if len(prepared.val_ids) else None)
    names = [name for name, _ in texts]

    def save(info):
        info = dict(info, sources=names, command=command)
        modelfile.save(output, modelfile.Bundle(model, prepared.vocab, text_cfg,
                                                kind="model", training=info))

    trainer = Trainer(model, train_batches, val_batches, train_cfg, rng, save=save)
    return Run(trainer, model, prepared, text_cfg, output, names)


__all__ = ["Run", "start", "TrainConfig"]
