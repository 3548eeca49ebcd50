"""Tagger files: the same ``.npz`` + JSON container as a language model's, of kind
``"tagger"`` (``"tagger-checkpoint"`` for a checkpoint). The header's ``model`` is a
TaggerConfig, its ``vocab`` the word, character and tag lists, and ``tagging`` says how
input becomes tokens and how tags are decoded (tag scheme, tag column, tokenizer).
See docs/model-format.md.

Both kinds are registered with :mod:`charlm.store.validate` when this module is
imported, so a tagger file is read as untrusted input exactly as a language model's
is: every array checked against the settings before it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from charlm.errors import ModelFileError
from charlm.store import (BUNDLED_TAGGER, DEFAULT_TAGGER, TAGGER_ENV,  # noqa: F401
                          archive, default_tagger_path, validate)
from charlm.store.validate import ArraySpec, Invalid
from charlm.tagger.data import TagVocab
from charlm.tagger.model import TaggerConfig, TaggerModel

KINDS = archive.TAGGER_KINDS
FLOATS = ("float32", "float64")


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
    try:
        header, arrays, parsed = validate.read_archive(path)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such tagger file; train one with `charlm "
                             f"train-tagger`, or leave out -m for the bundled English "
                             f"tagger (${TAGGER_ENV} chooses another)") from None
    kind = header.get("kind", "model")
    if kind == "checkpoint":
        raise ModelFileError(f"{path}: is a language model's checkpoint, not a tagger; "
                             f"resume it with `charlm train --resume {path}`")
    if kind not in KINDS:
        raise ModelFileError(f"{path}: is a language model, not a tagger; train a tagger "
                             "with `charlm train-tagger` (or leave out -m for the bundled "
                             "English tagger)")
    config, vocab = parsed["config"], parsed["vocab"]
    params = {name: arrays.pop(name) for name in config.param_shapes()}
    training = header.get("training")
    return TaggerBundle(TaggerModel(config, params, tags=vocab.tags), vocab,
                        parsed["tagging"], kind=kind,
                        training=training if isinstance(training, dict) else {},
                        extra=arrays, header=header)


def _layout(header, checkpoint):
    """Check a tagger's header; its arrays with their shapes and dtypes."""
    config = validate.settings_from(TaggerConfig, validate.field_of(header, "model", dict),
                                    "model")
    from charlm.engine.cells import CELLS

    if config.cell not in CELLS:
        raise Invalid(f"unknown cell {config.cell!r} (this charlm knows {', '.join(CELLS)})")
    for name in ("n_words", "n_chars", "n_tags", "hidden", "layers", "embed", "char_embed",
                 "char_hidden"):
        value = getattr(config, name)
        if not isinstance(value, int) or not 1 <= value < 1 << 32:
            raise Invalid(f"header.model.{name} = {value!r} is out of range")
    if not 0.0 <= config.dropout < 1.0:
        raise Invalid(f"header.model.dropout = {config.dropout} is out of range")
    d = validate.field_of(header, "vocab", dict)
    for key in ("words", "chars", "tags"):
        items = validate.field_of(d, key, list, "header.vocab")
        if not all(isinstance(t, str) for t in items):
            raise Invalid(f"header.vocab.{key} must all be strings")
    vocab = TagVocab.from_dict(d)
    for want, have, what in ((config.n_words, len(vocab.words), "words"),
                             (config.n_chars, len(vocab.chars), "characters"),
                             (config.n_tags, len(vocab.tags), "tags")):
        if want != have:
            raise Invalid(f"the model expects {want} {what} but the vocabulary has {have}")
    tagging = validate.field_of(header, "tagging", dict)
    dtype = validate.field_of(header, "dtype", str)
    if dtype not in FLOATS:
        raise Invalid(f"parameters must be float32 or float64, not {dtype!r}")
    params = {name: ArraySpec(tuple(shape), (dtype,))
              for name, shape in config.param_shapes().items()}
    optional = []
    if checkpoint:
        optional.append((r"optimizer/[mv]/(.+)", lambda m: params.get(m.group(1))))
    return validate.Layout(params, optional,
                           parsed={"config": config, "vocab": vocab, "tagging": tagging})


validate.register_kind("tagger", lambda header: _layout(header, checkpoint=False))
validate.register_kind("tagger-checkpoint", lambda header: _layout(header, checkpoint=True))
