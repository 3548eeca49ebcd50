"""The container both kinds of model file share: a ZIP of ``.npy`` arrays plus a JSON
header, written atomically, never pickled. :mod:`~charlm.store.modelfile` (language
models) and :mod:`~charlm.store.tagfile` (taggers) fill the header with what their
kind needs; see docs/model-format.md.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from charlm import __version__
from charlm.errors import ModelFileError
from charlm.files import atomic_write
from charlm.store import DEFAULT_MODEL, MODEL_ENV

FORMAT = "charlm"
VERSION = 1
HEADER = "header.json"
TAGGER_KINDS = ("tagger", "tagger-checkpoint")
LM_KINDS = ("model", "checkpoint")


def write(path, kind, fields, arrays):
    """Write a model file atomically: the header is ``format``, ``version``, ``kind``,
    ``charlm_version``, then ``fields`` in order, then ``arrays`` (shape and dtype of
    every array) and ``training`` (taken from ``fields``). Returns its size in bytes."""
    fields = dict(fields)
    training = fields.pop("training", {})
    header = {"format": FORMAT, "version": VERSION, "kind": kind,
              "charlm_version": __version__, **fields,
              "arrays": {k: {"shape": list(a.shape), "dtype": str(a.dtype)}
                         for k, a in arrays.items()},
              "training": training}
    with atomic_write(path) as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr(HEADER, json.dumps(header, ensure_ascii=False, indent=1))
            for name, a in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
                z.writestr(name + ".npy", buf.getvalue())
    return os.path.getsize(path)


def read(path, kinds=None):
    """(header, {name: array}) of a model file. ``kinds``: the kinds the caller can
    use; another kind is refused with a message that names the right command."""
    with _open_zip(path) as z:
        header = _header(z, path)
        kind = header.get("kind", "model")
        if kinds is not None and kind not in kinds:
            if kind == "tagger-checkpoint":
                raise ModelFileError(f"{path}: is a tagger's checkpoint, not a language "
                                     f"model; resume it with `charlm train-tagger --resume "
                                     f"{path}`")
            if kind == "checkpoint":
                raise ModelFileError(f"{path}: is a language model's checkpoint, not a "
                                     f"tagger; resume it with `charlm train --resume {path}`")
            if kind in TAGGER_KINDS:
                raise ModelFileError(f"{path}: is a tagger, not a language model; use it "
                                     "with `charlm tag` or `charlm evaluate`")
            raise ModelFileError(f"{path}: is a language model, not a tagger; train a "
                                 "tagger with `charlm train-tagger` (or leave out -m for "
                                 "the default English tagger)")
        try:
            declared = header["arrays"]
        except KeyError as e:
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
    return header, arrays


def read_kind(path):
    """The ``kind`` in a model file's header, without reading its arrays."""
    with _open_zip(path) as z:
        return _header(z, path).get("kind", "model")


def take_params(path, arrays, shapes):
    """The parameters named in ``shapes`` ({name: shape}), popped from ``arrays``
    and checked: present, of that shape, all float32 or all float64."""
    params = {}
    for name, shape in shapes.items():
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
    return params


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
