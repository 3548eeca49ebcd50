"""Tagger files: the same ``.npz`` + JSON container as a language model's
(:mod:`~charlm.store.archive`), of kind ``"tagger"`` (``"tagger-checkpoint"`` for a
checkpoint). The header's ``model`` is a TaggerConfig, its ``vocab`` the word,
character and tag lists, and ``tagging`` says how input becomes tokens and how tags
are decoded (tag scheme, tag column, tokenizer). See docs/model-format.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from charlm.errors import ModelFileError
from charlm.store import (BUNDLED_TAGGER, DEFAULT_TAGGER, TAGGER_ENV,  # noqa: F401
                          archive, default_tagger_path)
from charlm.tagger.data import TagVocab
from charlm.tagger.model import TaggerConfig, TaggerModel

@dataclass
class TaggerBundle:
    """Everything a tagger's file holds."""

    model: TaggerModel
    vocab: TagVocab
    tagging: dict                                   # scheme, tag column, tokenizer
    kind: str = "tagger"
    training: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)       # checkpoints: optimiser state
    header: dict = field(default_factory=dict)


def save(path, bundle):
    """Write ``bundle`` atomically; returns the number of bytes written."""
    arrays = dict(bundle.model.params)
    overlap = set(arrays) & set(bundle.extra)
    if overlap:
        raise ValueError(f"array names used twice: {sorted(overlap)}")
    arrays.update(bundle.extra)
    return archive.write(path, bundle.kind, {
        "model": bundle.model.config.to_dict(),
        "tagging": bundle.tagging,
        "vocab": bundle.vocab.to_dict(),
        "dtype": str(bundle.model.dtype),
        "training": bundle.training,
    }, arrays)


def load(path):
    """Read a tagger or its checkpoint (a language model is refused in one line)."""
    header, arrays = archive.read(path, archive.TAGGER_KINDS)
    try:
        config = TaggerConfig.from_dict(header["model"])
        vocab = TagVocab.from_dict(header["vocab"])
        tagging = dict(header["tagging"])
    except (KeyError, TypeError) as e:
        raise ModelFileError(f"{path}: header lacks {e}; the file is damaged") from None
    for want, have, what in ((config.n_words, len(vocab.words), "words"),
                             (config.n_chars, len(vocab.chars), "characters"),
                             (config.n_tags, len(vocab.tags), "tags")):
        if want != have:
            raise ModelFileError(f"{path}: the model expects {want} {what} but the "
                                 f"vocabulary has {have}")
    params = archive.take_params(path, arrays, config.param_shapes())
    return TaggerBundle(TaggerModel(config, params, tags=vocab.tags), vocab, tagging,
                        kind=header["kind"], training=header.get("training", {}),
                        extra=arrays, header=header)
