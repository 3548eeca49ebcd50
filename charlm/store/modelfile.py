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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from charlm.errors import ModelFileError
from charlm.store import DEFAULT_MODEL, MODEL_ENV, default_model_path  # noqa: F401
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.lm.sampling import NOVEL_ARRAY
from charlm.store import archive, validate
from charlm.store.validate import ArraySpec, Invalid
from charlm.text.tokens import TextConfig
from charlm.text.vocab import Vocab



@dataclass
class Bundle:
    """Everything a model file holds."""

    model: LanguageModel
    vocab: Vocab
    text: TextConfig
    kind: str = "model"
    training: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)       # non-parameter arrays (checkpoints)
    header: dict = field(default_factory=dict)


def save(path, bundle):
    """Write ``bundle`` to ``path`` atomically. Returns the number of bytes written."""
    model = bundle.model
    arrays = dict(model.params)
    overlap = set(arrays) & set(bundle.extra)
    if overlap:
        raise ValueError(f"array names used twice: {sorted(overlap)}")
    arrays.update(bundle.extra)
    return archive.write(path, bundle.kind, {
        "model": model.config.to_dict(),
        "text": bundle.text.to_dict(),
        "vocab": bundle.vocab.to_dict(),
        "dtype": str(model.dtype),
        "training": bundle.training,
    }, arrays)


def load(path, kinds=("model", "checkpoint")):
    """Read a model file or checkpoint into a :class:`Bundle`. Everything in the file
    is checked before it is used (:mod:`charlm.store.validate`); any problem is a
    :class:`ModelFileError` naming the file."""
    try:
        header, arrays, parsed = validate.read_archive(path)
    except FileNotFoundError:
        raise ModelFileError(
            f"{path}: no such model file; train one with `charlm train` "
            f"or pass -m/--model (default: ${MODEL_ENV}, then {DEFAULT_MODEL})") from None
    kind = header.get("kind", "model")
    if kind not in kinds:
        raise ModelFileError(f"{path}: is a {kind} file, not a language model")
    config = parsed["config"]
    params = {name: arrays.pop(name) for name in config.param_shapes()}
    training = header.get("training")
    return Bundle(LanguageModel(config, params), parsed["vocab"], parsed["text"],
                  kind=kind, training=training if isinstance(training, dict) else {},
                  extra=arrays, header=header)


# --- what a language model's files hold ------------------------------------------------------

FLOATS = ("float32", "float64")
IDS = ("uint8", "uint16", "uint32")


def _lm_layout(header, checkpoint):
    """The arrays of a language model file (``checkpoint``: and of its checkpoint),
    after checking the header's settings and vocabulary."""
    config = validate.settings_from(ModelConfig, validate.field_of(header, "model", dict),
                                    "model")
    _check_config(config)
    text = validate.settings_from(TextConfig, validate.field_of(header, "text", dict), "text")
    vocab = _vocab(validate.field_of(header, "vocab", dict))
    if len(vocab) != config.vocab_size:
        raise Invalid(f"the model expects {config.vocab_size} tokens but the vocabulary "
                      f"has {len(vocab)}")
    dtype = validate.field_of(header, "dtype", str)
    if dtype not in FLOATS:
        raise Invalid(f"parameters must be float32 or float64, not {dtype!r}")
    params = {name: ArraySpec(tuple(shape), (dtype,))
              for name, shape in config.param_shapes().items()}
    optional = [(re.escape(NOVEL_ARRAY), lambda m: ArraySpec((None,), ("uint64",)))]
    if checkpoint:
        training = validate.field_of(header, "training", dict)
        resume = validate.field_of(training, "resume", dict, "header.training")
        for key in ("state", "config", "run"):
            validate.field_of(resume, key, dict, "header.training.resume")
        optimizer = validate.field_of(resume["config"], "optimizer", str,
                                      "header.training.resume.config")
        states = ("a", "c") if config.cell == "lstm" else ("a",)
        carried = ArraySpec((config.hidden, None), (dtype,))
        optional += [
            (r"optimizer/[mv]/(.+)", lambda m: params.get(m.group(1))),
            (r"carried/layer(\d{1,4})\.([ac])",
             lambda m: carried if (1 <= int(m.group(1)) <= config.layers
                                   and m.group(2) in states) else None),
            (r"data/(train|val)", lambda m: ArraySpec((None,), (str(np.dtype(vocab.dtype)),))),
        ]
        complete = _checkpoint_complete(params, optimizer, config.layers, states)
    else:
        complete = None
    return validate.Layout(params, optional, complete=complete,
                           parsed={"config": config, "text": text, "vocab": vocab})


def _checkpoint_complete(params, optimizer, layers, states):
    """Arrays a checkpoint holds all of or none of: a resumed run needs each group whole."""
    groups = {
        "the optimizer state": ({f"optimizer/{m}/{k}" for m in "mv" for k in params}
                                if optimizer == "adam" else set()),
        "the carried hidden state": {f"carried/layer{l}.{s}" for l in range(1, layers + 1)
                                     for s in states},
        "the stored corpus": {"data/train", "data/val"},
    }

    def complete(names):
        if optimizer == "adam" and not groups["the optimizer state"] <= names:
            raise Invalid("the optimizer state is incomplete; the checkpoint is damaged")
        if optimizer != "adam" and any(n.startswith("optimizer/") for n in names):
            raise Invalid(f"optimizer state for {optimizer!r}, which keeps none")
        for what, group in groups.items():
            present = group & names
            if present and present != group:
                raise Invalid(f"{what} is incomplete; the checkpoint is damaged")
    return complete


def _check_config(c):
    from charlm.engine.cells import CELLS

    if c.cell not in CELLS:
        raise Invalid(f"unknown cell {c.cell!r} (this charlm knows {', '.join(CELLS)})")
    limits = (("vocab_size", c.vocab_size, 2), ("hidden", c.hidden, 1),
              ("layers", c.layers, 1), ("embed", c.embed, 0))
    for name, value, low in limits:
        if not low <= value < 1 << 32:
            raise Invalid(f"header.model.{name} = {value} is out of range")
    if not 0.0 <= c.dropout < 1.0:
        raise Invalid(f"header.model.dropout = {c.dropout} is out of range")
    if c.eos_id != 0:
        raise Invalid("header.model.eos_id must be 0")


def _vocab(d):
    tokens = validate.field_of(d, "tokens", list, "header.vocab")
    if not all(isinstance(t, str) for t in tokens):
        raise Invalid("header.vocab.tokens must all be strings")
    counts = d.get("counts")
    if counts is not None and (
            not isinstance(counts, list) or len(counts) != len(tokens) or
            not all(isinstance(c, int) and not isinstance(c, bool) for c in counts)):
        raise Invalid("header.vocab.counts does not match its tokens")
    try:
        return Vocab.from_dict(d)
    except ModelFileError as e:
        raise Invalid(f"header.vocab: {e}") from None


validate.register_kind("model", lambda header: _lm_layout(header, checkpoint=False))
validate.register_kind("checkpoint", lambda header: _lm_layout(header, checkpoint=True))
