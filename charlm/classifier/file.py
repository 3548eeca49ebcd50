"""Classifier files: the same ``.npz`` + JSON container as every charlm file, of kind
``"classifier"`` (``"classifier-checkpoint"`` for a checkpoint). The header's ``model``
is a ClassifierConfig, its ``vocab`` the token and label lists, and ``text`` the text
settings that turn a line into tokens. See docs/model-format.md.

Both kinds are registered with :mod:`charlm.store.validate` when this module is
imported, so a classifier file is read as untrusted input like any other: every array
checked against the settings before it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from charlm.classifier.data import ClassVocab
from charlm.classifier.model import ClassifierConfig, ClassifierModel
from charlm.errors import ModelFileError, UsageError
from charlm.store import archive, validate
from charlm.store.validate import ArraySpec, Invalid
from charlm.text.tokens import TextConfig

KINDS = ("classifier", "classifier-checkpoint")
FLOATS = ("float32", "float64")
DEFAULT_CLASSIFIER = "classifier.npz"


@dataclass
class ClassifierBundle:
    """Everything a classifier's file holds."""

    model: ClassifierModel
    vocab: ClassVocab
    text: TextConfig
    kind: str = "classifier"
    training: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)       # checkpoints: optimiser state
    header: dict = field(default_factory=dict)


def save(path, bundle):
    """Write ``bundle`` atomically; returns the number of bytes written."""
    arrays = dict(bundle.model.params)
    arrays.update(bundle.extra)
    return archive.write(path, bundle.kind, {
        "model": bundle.model.config.to_dict(),
        "text": bundle.text.to_dict(),
        "vocab": bundle.vocab.to_dict(),
        "dtype": str(bundle.model.dtype),
        "training": bundle.training,
    }, arrays)


def load(path):
    """Read a classifier or its checkpoint (another kind is refused in one line)."""
    try:
        header, arrays, parsed = validate.read_archive(path)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such classifier file; train one with `charlm "
                             "train-classifier TRAIN`") from None
    kind = header.get("kind", "model")
    if kind not in KINDS:
        raise ModelFileError(f"{path}: is a {kind.replace('-', ' ')} file, not a classifier; "
                             "train a classifier with `charlm train-classifier TRAIN`")
    config, vocab = parsed["config"], parsed["vocab"]
    params = {name: arrays.pop(name) for name in config.param_shapes()}
    training = header.get("training")
    return ClassifierBundle(ClassifierModel(config, params, labels=vocab.labels), vocab,
                            parsed["text"], kind=kind,
                            training=training if isinstance(training, dict) else {},
                            extra=arrays, header=header)


def _layout(header, checkpoint):
    """Check a classifier's header; its arrays with their shapes and dtypes."""
    config = validate.settings_from(ClassifierConfig,
                                    validate.field_of(header, "model", dict), "model")
    from charlm.engine.cells import CELLS

    if config.cell not in CELLS:
        raise Invalid(f"unknown cell {config.cell!r} (this charlm knows {', '.join(CELLS)})")
    for name in ("n_tokens", "n_labels", "hidden", "layers", "embed"):
        value = getattr(config, name)
        if not isinstance(value, int) or not 1 <= value < 1 << 32:
            raise Invalid(f"header.model.{name} = {value!r} is out of range")
    if not 0.0 <= config.dropout < 1.0:
        raise Invalid(f"header.model.dropout = {config.dropout} is out of range")
    try:
        config.modes
    except UsageError as e:
        raise Invalid(f"header.model.pool: {e}") from None
    text = validate.settings_from(TextConfig, validate.field_of(header, "text", dict), "text")
    d = validate.field_of(header, "vocab", dict)
    for key in ("tokens", "labels"):
        items = validate.field_of(d, key, list, "header.vocab")
        if not all(isinstance(t, str) for t in items):
            raise Invalid(f"header.vocab.{key} must all be strings")
    for key in ("counts", "label_counts"):
        items = d.get(key) or []
        if not isinstance(items, list) or not all(
                isinstance(c, int) and not isinstance(c, bool) for c in items):
            raise Invalid(f"header.vocab.{key} must be a list of integers")
    vocab = ClassVocab.from_dict(d)
    if len(set(vocab.labels)) != len(vocab.labels):
        raise Invalid("header.vocab.labels lists a label twice")
    for want, have, what in ((config.n_tokens, len(vocab.tokens), "tokens"),
                             (config.n_labels, len(vocab.labels), "labels")):
        if want != have:
            raise Invalid(f"the model expects {want} {what} but the vocabulary has {have}")
    dtype = validate.field_of(header, "dtype", str)
    if dtype not in FLOATS:
        raise Invalid(f"parameters must be float32 or float64, not {dtype!r}")
    params = {name: ArraySpec(tuple(shape), (dtype,))
              for name, shape in config.param_shapes().items()}
    optional = []
    if checkpoint:
        optional.append((r"optimizer/[mv]/(.+)", lambda m: params.get(m.group(1))))
    return validate.Layout(params, optional,
                           parsed={"config": config, "vocab": vocab, "text": text})


validate.register_kind("classifier", lambda header: _layout(header, checkpoint=False))
validate.register_kind("classifier-checkpoint",
                       lambda header: _layout(header, checkpoint=True))
