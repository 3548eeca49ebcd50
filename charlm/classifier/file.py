"""Classifier files: the same ``.npz`` + JSON container as every charlm file, of kind
``"classifier"`` (``"classifier-checkpoint"`` for a checkpoint). The header's ``model``
is a ClassifierConfig, its ``vocab`` the token and label lists, ``text`` the text
settings that turn a line into tokens, and ``ngrams`` the size of the n-gram part (when
the classifier has one). See docs/model-format.md.

This module is the classifier's door to the store: the container it fills and the
messages a wrong file gets. Both kinds are registered by the classifier itself
(:mod:`charlm.classifier.filekind`, through :mod:`charlm.store.kinds`), so a classifier
file is read as untrusted input like any other: every array checked against the
settings before it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from charlm.store import archive
from charlm.store import kinds as registry

KINDS = ("classifier", "classifier-checkpoint")
DEFAULT_CLASSIFIER = "classifier.npz"


@dataclass
class ClassifierBundle:
    """Everything a classifier's file holds."""

    model: object                                   # a ClassifierModel
    vocab: object                                   # a ClassVocab
    text: object                                    # a TextConfig
    kind: str = "classifier"
    training: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)       # checkpoints: optimiser state
    header: dict = field(default_factory=dict)


def save(path, bundle):
    """Write ``bundle`` atomically; returns the number of bytes written."""
    header = {
        "model": bundle.model.config.to_dict(),
        "text": bundle.text.to_dict(),
        "vocab": bundle.vocab.to_dict(),
    }
    if bundle.model.ngrams is not None:
        header["ngrams"] = {"size": len(bundle.model.ngrams.table.keys)}
    return archive.write_bundle(path, bundle, header)


def load(path):
    """Read a classifier or its checkpoint (another kind is refused in one line)."""
    return registry.door(
        path, KINDS,
        f"{path}: no such classifier file; train one with `charlm train-classifier TRAIN`",
        lambda kind: f"{path}: is a {kind.noun}, not a classifier; train a classifier "
                     "with `charlm train-classifier TRAIN`")
