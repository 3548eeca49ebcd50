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

from dataclasses import dataclass, field

from charlm.errors import ModelFileError
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.store import DEFAULT_MODEL, MODEL_ENV, default_model_path  # noqa: F401
from charlm.store import archive
from charlm.store.archive import FORMAT, HEADER, VERSION  # noqa: F401 (re-exported)
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


def load(path):
    """Read a language model's file or checkpoint into a :class:`Bundle` (a tagger
    is refused with a message naming `charlm tag`)."""
    header, arrays = archive.read(path, archive.LM_KINDS)
    try:
        config = ModelConfig.from_dict(header["model"])
        text = TextConfig.from_dict(header["text"])
        vocab = Vocab.from_dict(header["vocab"])
    except (KeyError, TypeError) as e:
        raise ModelFileError(f"{path}: header lacks {e}; the file is damaged") from None
    if config.vocab_size != len(vocab):
        raise ModelFileError(f"{path}: the model expects {config.vocab_size} tokens "
                             f"but the vocabulary has {len(vocab)}")
    params = archive.take_params(path, arrays, config.param_shapes())
    return Bundle(LanguageModel(config, params), vocab, text,
                  kind=header.get("kind", "model"), training=header.get("training", {}),
                  extra=arrays, header=header)
