"""Model files: one ``.npz`` archive, a JSON header and named arrays, never pickle.

Layout (see docs/model-format.md for the full description):

* ``header.json``: ``{"format": "charlm", "version": 1, "kind": "model" | "checkpoint",
  "model": ModelConfig, "text": TextConfig, "vocab": {...}, "dtype": ...,
  "arrays": {name: {"shape": [...], "dtype": ...}}, "training": {...}}``
* one ``<name>.npy`` member per array: the parameters under their names
  (``layer1.W_aa`` …) and, in a checkpoint, optimiser state (``adam/m/layer1.W_aa`` …)
  and anything else the trainer needs to resume.

The archive is a plain zip of .npy files, so ``numpy.load(path, allow_pickle=False)``
reads it too. Files are written to a temporary name beside the target, flushed to
disk and renamed over it, so a crash or Ctrl-C mid-write leaves the previous file
intact.

This module is the language model's door to the store: the container it fills and the
messages a wrong file gets. What the arrays must be and how the model is rebuilt from
them are registered by the language model itself (:mod:`charlm.lm.filekind`), so the
store imports nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from charlm.errors import ModelFileError
from charlm.store import DEFAULT_MODEL, MODEL_ENV, default_model_path  # noqa: F401
from charlm.store import archive
from charlm.store import kinds as registry


@dataclass
class Bundle:
    """Everything a model file holds."""

    model: object                                   # a charlm.lm.model.LanguageModel
    vocab: object                                   # a charlm.text.vocab.Vocab
    text: object                                    # a charlm.text.tokens.TextConfig
    kind: str = "model"
    training: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)       # non-parameter arrays (checkpoints)
    header: dict = field(default_factory=dict)


def save(path, bundle):
    """Write ``bundle`` to ``path`` atomically. Returns the number of bytes written."""
    return archive.write_bundle(path, bundle, {
        "model": bundle.model.config.to_dict(),
        "text": bundle.text.to_dict(),
        "vocab": bundle.vocab.to_dict(),
    })


def load(path, kinds=("model", "checkpoint")):
    """Read a model file or checkpoint into a :class:`Bundle`. Everything in the file
    is checked before it is used (:mod:`charlm.store.validate`); any problem is a
    :class:`ModelFileError` naming the file."""
    return registry.door(
        path, kinds,
        f"{path}: no such model file; train one with `charlm train` "
        f"or pass -m/--model (default: ${MODEL_ENV}, then {DEFAULT_MODEL})",
        lambda kind: f"{path}: is a {kind.name} file, not a language model")
