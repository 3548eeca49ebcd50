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

import io
import json
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

from charlm import __version__
from charlm.errors import ModelFileError
from charlm.files import atomic_write
from charlm.store import DEFAULT_MODEL, MODEL_ENV, default_model_path  # noqa: F401
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.text.tokens import TextConfig
from charlm.text.vocab import Vocab

FORMAT = "charlm"
VERSION = 1
HEADER = "header.json"


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
    header = {
        "format": FORMAT,
        "version": VERSION,
        "kind": bundle.kind,
        "charlm_version": __version__,
        "model": model.config.to_dict(),
        "text": bundle.text.to_dict(),
        "vocab": bundle.vocab.to_dict(),
        "dtype": str(model.dtype),
        "arrays": {k: {"shape": list(a.shape), "dtype": str(a.dtype)}
                   for k, a in arrays.items()},
        "training": bundle.training,
    }
    with atomic_write(path) as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr(HEADER, json.dumps(header, ensure_ascii=False, indent=1))
            for name, a in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
                z.writestr(name + ".npy", buf.getvalue())
    return os.path.getsize(path)


def load(path):
    """Read a model file or checkpoint into a :class:`Bundle`."""
    with _open_zip(path) as z:
        header = _header(z, path)
        try:
            config = ModelConfig.from_dict(header["model"])
            text = TextConfig.from_dict(header["text"])
            vocab = Vocab.from_dict(header["vocab"])
            declared = header["arrays"]
        except (KeyError, TypeError) as e:
            raise ModelFileError(f"{path}: header lacks {e}; the file is damaged") from None
        arrays = {}
        for name in declared:
            try:
                with z.open(name + ".npy") as f:
                    arrays[name] = np.lib.format.read_array(f, allow_pickle=False)
            except KeyError:
                raise ModelFileError(f"{path}: array {name!r} is missing; "
                                     "the file is damaged") from None
            except (ValueError, OSError, zipfile.BadZipFile) as e:
                raise ModelFileError(f"{path}: array {name!r} cannot be read ({e})") from None
    if config.vocab_size != len(vocab):
        raise ModelFileError(f"{path}: the model expects {config.vocab_size} tokens "
                             f"but the vocabulary has {len(vocab)}")
    params = {}
    for name, shape in config.param_shapes().items():
        a = arrays.pop(name, None)
        if a is None:
            raise ModelFileError(f"{path}: parameter {name!r} is missing")
        if tuple(a.shape) != tuple(shape):
            raise ModelFileError(f"{path}: parameter {name!r} has shape {a.shape}, "
                                 f"expected {tuple(shape)}")
        params[name] = a
    dtypes = {str(a.dtype) for a in params.values()}
    if len(dtypes) != 1 or not dtypes <= {"float32", "float64"}:
        raise ModelFileError(f"{path}: parameters must all be float32 or float64, "
                             f"found {sorted(dtypes)}")
    return Bundle(LanguageModel(config, params), vocab, text,
                  kind=header.get("kind", "model"), training=header.get("training", {}),
                  extra=arrays, header=header)


def _open_zip(path):
    try:
        return zipfile.ZipFile(path, "r")
    except FileNotFoundError:
        raise ModelFileError(
            f"{path}: no such model file; train one with `charlm train` "
            f"or pass -m/--model (default: ${MODEL_ENV}, then {DEFAULT_MODEL})") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a model file") from None
    except zipfile.BadZipFile:
        raise ModelFileError(f"{path}: not a charlm model file (not a zip archive)") from None
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read: {e.strerror}") from None


def _header(z, path):
    try:
        header = json.loads(z.read(HEADER).decode("utf-8"))
    except KeyError:
        raise ModelFileError(f"{path}: not a charlm model file (no {HEADER})") from None
    except (ValueError, UnicodeDecodeError):
        raise ModelFileError(f"{path}: the model header is not valid JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a charlm model file")
    if header.get("version") != VERSION:
        raise ModelFileError(f"{path}: model format version {header.get('version')} is "
                             f"not supported by this charlm (reads version {VERSION})")
    return header
