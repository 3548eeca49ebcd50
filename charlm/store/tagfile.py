"""Tagger files: the same ``.npz`` + JSON container as a language model's, of kind
``"tagger"`` (``"tagger-checkpoint"`` for a checkpoint). The header's ``model`` is a
TaggerConfig, its ``vocab`` the word, character and tag lists, and ``tagging`` says how
input becomes tokens and how tags are decoded (tag scheme, tag column, tokenizer).
See docs/model-format.md.

This module is the tagger's door to the store: the container it fills and the messages a
wrong file gets. Both kinds are registered by the tagger itself
(:mod:`charlm.tagger.filekind`, through :mod:`charlm.store.kinds`), so a tagger file is
read as untrusted input exactly as a language model's is, every array checked against
the settings before it is used, and the store imports nothing of the tagger.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from charlm.store import (BUNDLED_ENTITY_TAGGER, BUNDLED_TAGGER, DEFAULT_TAGGER,  # noqa: F401
                          TAGGER_ENV, archive, default_tagger_path)
from charlm.store import kinds as registry

KINDS = ("tagger", "tagger-checkpoint")


@dataclass
class TaggerBundle:
    """Everything a tagger's file holds."""

    model: object                                   # a charlm.tagger.model.TaggerModel
    vocab: object                                   # a charlm.tagger.data.TagVocab
    tagging: dict                                   # scheme, tag column, tokenizer
    kind: str = "tagger"
    training: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)       # checkpoints: optimiser state
    header: dict = field(default_factory=dict)


def save(path, bundle):
    """Write ``bundle`` atomically; returns the number of bytes written. A tagger that
    reads character-LM features keeps those models in its file: their settings under
    the header's ``lm``, their arrays as ``lm.fw.NAME`` and ``lm.bw.NAME``."""
    fields = {"model": bundle.model.config.to_dict(),
              "tagging": bundle.tagging,
              "vocab": bundle.vocab.to_dict()}
    lm = getattr(bundle.model, "lm", None)
    if lm:
        fields["lm"] = lm.header()
    return archive.write_bundle(path, bundle, fields)


def load(path):
    """Read a tagger or its checkpoint (a language model is refused in one line)."""
    def wrong(kind):
        if kind.name == "checkpoint":
            return (f"{path}: is a language model's checkpoint, not a tagger; resume it "
                    f"with `charlm train --resume {path}`")
        return (f"{path}: is a {kind.noun}, not a tagger; train a tagger with `charlm "
                "train-tagger` (or leave out -m for the bundled English tagger)")

    return registry.door(
        path, KINDS,
        f"{path}: no such tagger file; train one with `charlm train-tagger`, or leave out "
        f"-m for the bundled English tagger (${TAGGER_ENV} chooses another)", wrong)
