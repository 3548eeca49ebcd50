"""Reading a model file as untrusted input: nothing in it is used before it is checked.

A model file can come from anywhere, so :func:`read_archive` treats it as hostile:

* the archive is a zip whose members are read with their sizes and CRCs checked;
* ``header.json`` must be a JSON object of the right ``format``, ``version`` and a
  ``kind`` that some part of charlm has registered (:mod:`charlm.store.kinds`);
* every array the header declares must be one the kind expects, with the shape and
  dtype the kind's settings imply, and every array the kind requires must be declared;
* each ``.npy`` member is read by hand: its own header must agree with the declared
  shape and dtype *before* any data is read, so an object array (which would need
  pickle) or a shape that does not fit the member's size is refused, never allocated.

Nothing is ever unpickled. Every problem becomes a :class:`ModelFileError` with the
file's name; any other exception is a bug in charlm, not a property of the file.

A kind is described by a function ``layout(header) -> Layout`` that checks the
kind's own header fields (raising :class:`ModelFileError` with a short reason) and
returns the arrays it expects. The language model registers ``model`` and
``checkpoint`` (:mod:`charlm.lm.filekind`), the tagger ``tagger`` and
``tagger-checkpoint`` (:mod:`charlm.tagger.filekind`); another model registers its own
kind the same way (:mod:`charlm.store.kinds`).
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field, fields

import numpy as np

from charlm.errors import CharlmError, ModelFileError, UsageError
from charlm.files import checkpoint_path
from charlm.store import kinds

FORMAT = "charlm"
VERSION = 1
HEADER = "header.json"
MAX_HEADER_BYTES = 1 << 28          # a vocabulary of millions of words still fits

# What zipfile, zlib and numpy's header parser raise on damaged input.
_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, struct.error,
           NotImplementedError, RuntimeError, ValueError, OverflowError, OSError)


class Invalid(ModelFileError):
    """A header field is wrong; the message says which. :func:`read_archive` adds the
    file name."""


# --- what a kind of file holds -------------------------------------------------------------

@dataclass(frozen=True)
class ArraySpec:
    """An expected array: ``shape`` with None for a dimension of any length, and the
    dtypes it may have (numpy names: "float32", "uint16", ...)."""

    shape: tuple
    dtypes: tuple

    def check(self, name, shape, dtype):
        if len(shape) != len(self.shape) or any(
                want is not None and got != want for got, want in zip(shape, self.shape)):
            want = tuple("any" if d is None else d for d in self.shape)
            raise Invalid(f"array {name!r} has shape {tuple(shape)}, expected {want}")
        if dtype not in self.dtypes:
            raise Invalid(f"array {name!r} has dtype {dtype}, expected "
                          f"{' or '.join(self.dtypes)}")


@dataclass
class Layout:
    """The arrays of one file: ``required`` by name, and ``optional`` as
    (regular expression, function(match) -> ArraySpec or None) pairs. ``parsed``:
    whatever the layout function built from the header on the way (settings,
    vocabulary), handed back to the caller so nothing is parsed twice."""

    required: dict
    optional: list = field(default_factory=list)
    parsed: dict = field(default_factory=dict)
    # function(set of declared names): rules across arrays (all or none of a group)
    complete: object = None

    def spec(self, name):
        if name in self.required:
            return self.required[name]
        for pattern, make in self.optional:
            m = re.fullmatch(pattern, name)
            if m:
                s = make(m)
                if s is not None:
                    return s
        return None


# --- small checks a layout function uses ---------------------------------------------------

def field_of(d, key, types, where="header"):
    """``d[key]``, which must be an instance of ``types`` (bool is never an int)."""
    if not isinstance(d, dict) or key not in d:
        raise Invalid(f"{where} lacks {key!r}")
    value = d[key]
    if isinstance(value, bool) and bool not in _as_tuple(types):
        raise Invalid(f"{where}.{key} has the wrong type")
    if not isinstance(value, types):
        raise Invalid(f"{where}.{key} has the wrong type")
    return value


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)


def settings_from(cls, d, where):
    """A Settings dataclass from a header dict, with every field's type checked
    against its annotation (so a string where a number belongs is refused here, not
    deep inside training)."""
    if not isinstance(d, dict):
        raise Invalid(f"header.{where} is not an object")
    for f in fields(cls):
        if f.name not in d:
            continue
        value = d[f.name]
        allowed = _field_types(f)
        if allowed is None:
            continue
        if value is None and type(None) in allowed:
            continue
        if isinstance(value, bool) and bool not in allowed:
            raise Invalid(f"header.{where}.{f.name} has the wrong type")
        if not isinstance(value, tuple(k for k in allowed if k is not type(None))):
            raise Invalid(f"header.{where}.{f.name} has the wrong type")
    try:
        return cls.from_dict(d)
    except CharlmError as e:                # refused by the settings class itself
        raise Invalid(f"header.{where}: {e}") from None
    except TypeError:
        raise Invalid(f"header.{where} lacks a setting") from None


_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,),
          "dict": (dict,), "list": (list,)}


def _field_types(f):
    """The Python types a field's annotation allows, or None when it says nothing
    simple (then the value is not checked here)."""
    ann = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    out = []
    for part in (p.strip() for p in ann.split("|")):
        if part == "None":
            out.append(type(None))
        elif part in _TYPES:
            out.extend(_TYPES[part])
        else:
            return None
    return tuple(out) or None


# --- the checks every recurrent model's header shares --------------------------------------

FLOATS = ("float32", "float64")


def check_recurrent(config, sizes, where="header.model"):
    """A model's settings: a cell this charlm knows, the ``sizes`` (names of integer
    settings) between 1 and 2³², dropout in [0, 1)."""
    from charlm.engine.cells import CELLS

    if config.cell not in CELLS:
        raise Invalid(f"unknown cell {config.cell!r} (this charlm knows {', '.join(CELLS)})")
    for name in sizes:
        value = getattr(config, name)
        if not isinstance(value, int) or not 1 <= value < 1 << 32:
            raise Invalid(f"{where}.{name} = {value!r} is out of range")
    if not 0.0 <= config.dropout < 1.0:
        raise Invalid(f"{where}.dropout = {config.dropout} is out of range")


def string_lists(d, keys, where="header.vocab"):
    """The lists ``d[key]`` for each key, which must hold strings only."""
    out = []
    for key in keys:
        items = field_of(d, key, list, where)
        if not all(isinstance(t, str) for t in items):
            raise Invalid(f"{where}.{key} must all be strings")
        out.append(items)
    return out


def check_sizes(pairs):
    """(expected, found, what) triples: a model's sizes against its vocabulary's."""
    for want, have, what in pairs:
        if want != have:
            raise Invalid(f"the model expects {want} {what} but the vocabulary has {have}")


def params_layout(header, config, checkpoint, parsed):
    """The :class:`Layout` of a model whose parameters are ``config.param_shapes()`` in
    the header's float dtype, with Adam's moments beside them in a checkpoint."""
    dtype = field_of(header, "dtype", str)
    if dtype not in FLOATS:
        raise Invalid(f"parameters must be float32 or float64, not {dtype!r}")
    params = {name: ArraySpec(tuple(shape), (dtype,))
              for name, shape in config.param_shapes().items()}
    optional = []
    if checkpoint:
        optional.append((r"optimizer/(?:m|v|avg)/(.+)", lambda m: params.get(m.group(1))))
    return Layout(params, optional, parsed=parsed)


# --- reading an archive --------------------------------------------------------------------

def read_archive(path):
    """(header dict, {name: array}, parsed) of the file at ``path``, everything
    checked; ``parsed`` is the kind's :attr:`Layout.parsed`. A missing file raises
    FileNotFoundError (the caller knows what to suggest); everything else that is wrong
    raises :class:`ModelFileError`."""
    try:
        z = zipfile.ZipFile(path, "r")
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a model file") from None
    except PermissionError as e:
        raise ModelFileError(f"{path}: cannot read: {e.strerror}") from None
    except zipfile.BadZipFile:
        raise ModelFileError(f"{path}: not a charlm model file (not a zip archive, "
                             "or one cut short)") from None
    except _DAMAGE as e:
        raise ModelFileError(f"{path}: cannot read: {_reason(e)}") from None
    with z:
        try:
            header = _read_header(z)
            layout = _layout(header)
            declared = _declared(header, layout)
            arrays = {name: _read_array(z, name, shape, dtype)
                      for name, (shape, dtype) in declared.items()}
        except Invalid as e:
            raise ModelFileError(f"{path}: {e}") from None
        except _DAMAGE as e:
            raise ModelFileError(f"{path}: the file is damaged ({_reason(e)}); "
                                 "use another copy or train it again") from None
    return header, arrays, layout.parsed


def _reason(e):
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:200]


def _member(z, name):
    try:
        return z.getinfo(name)
    except KeyError:
        return None


def _read_header(z):
    info = _member(z, HEADER)
    if info is None:
        raise Invalid(f"not a charlm model file (no {HEADER})")
    if info.file_size > MAX_HEADER_BYTES:
        raise Invalid(f"{HEADER} is implausibly large ({info.file_size:,} bytes)")
    raw = z.read(HEADER)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Invalid("the model header is not valid JSON; the file is damaged") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise Invalid("not a charlm model file")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise Invalid("the model header has no valid format version; the file is damaged")
    if version > VERSION:
        raise Invalid(f"model format version {version} comes from a newer charlm (this one "
                      f"reads version {VERSION}); upgrade charlm to read it")
    if version != VERSION:
        raise Invalid(f"model format version {version} is not supported by this charlm "
                      f"(reads version {VERSION})")
    return header


def _layout(header):
    kind = header.get("kind", "model")
    registered = kinds.get(kind)
    if registered is None:
        known = ", ".join(kinds.names())
        raise Invalid(f"unknown kind of file {kind!r} (this charlm reads {known}); "
                      "is it from a newer charlm?")
    return registered.layout(header)


def _declared(header, layout):
    """{name: (shape, dtype)} from header["arrays"], each checked against the layout."""
    arrays = field_of(header, "arrays", dict)
    out = {}
    for name, entry in arrays.items():
        if not isinstance(entry, dict):
            raise Invalid(f"header.arrays[{name!r}] is not an object")
        shape = entry.get("shape")
        dtype = entry.get("dtype")
        if (not isinstance(shape, list) or len(shape) > 8 or
                not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 1 << 40
                        for d in shape)):
            raise Invalid(f"header.arrays[{name!r}] has no valid shape")
        if not isinstance(dtype, str):
            raise Invalid(f"header.arrays[{name!r}] has no valid dtype")
        spec = layout.spec(name)
        if spec is None:
            raise Invalid(f"unexpected array {name!r} for a file of kind "
                          f"{header.get('kind', 'model')!r}")
        spec.check(name, tuple(shape), dtype)
        out[name] = (tuple(shape), dtype)
    missing = [n for n in layout.required if n not in out]
    if missing:
        raise Invalid(f"array {missing[0]!r} is missing; the file is damaged")
    if layout.complete is not None:
        layout.complete(set(out))
    return out


def _read_array(z, name, shape, dtype):
    """One ``.npy`` member, read without pickle after its header matches ``shape`` and
    ``dtype`` (both already checked against the layout)."""
    info = _member(z, name + ".npy")
    if info is None:
        raise Invalid(f"array {name!r} is missing; the file is damaged")
    want = np.dtype(dtype)
    nbytes = want.itemsize * math.prod(shape)          # Python ints: no overflow
    if info.file_size > nbytes + (1 << 16):
        raise Invalid(f"array {name!r} is larger than its declared shape allows")
    if info.file_size < nbytes:                         # refused before allocating
        raise Invalid(f"array {name!r} is smaller than its declared shape; the file is "
                      "damaged")
    with z.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            got_shape, fortran, got_dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            got_shape, fortran, got_dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise Invalid(f"array {name!r}: unsupported .npy version {version}")
        if got_dtype.hasobject:
            raise Invalid(f"array {name!r} holds Python objects (it would need pickle, "
                          "which charlm never runs)")
        if got_dtype != want or tuple(got_shape) != tuple(shape):
            raise Invalid(f"array {name!r} is stored as {got_dtype} {tuple(got_shape)} but "
                          f"the header declares {dtype} {tuple(shape)}; the file is damaged")
        out = np.empty(shape, dtype=want, order="F" if fortran else "C")
        view = memoryview(out.reshape(-1, order="A")).cast("B")
        got = 0
        while got < nbytes:
            n = f.readinto(view[got:])
            if not n:
                raise Invalid(f"array {name!r} is cut short; the file is damaged")
            got += n
        if f.read(1):
            raise Invalid(f"array {name!r} has bytes after its data; the file is damaged")
    return np.ascontiguousarray(out)


# --- replacing a file ----------------------------------------------------------------------

def read_header(path):
    """The checked header of the charlm file at ``path`` (arrays are not read)."""
    try:
        with zipfile.ZipFile(path, "r") as z:
            return _read_header(z)
    except Invalid as e:
        raise ModelFileError(f"{path}: {e}") from None
    except _DAMAGE as e:
        raise ModelFileError(f"{path}: cannot read: {_reason(e)}") from None


def run_of(header):
    """The id of the training run that wrote a file, or None."""
    training = header.get("training")
    run_id = training.get("run_id") if isinstance(training, dict) else None
    return run_id if isinstance(run_id, str) else None


def check_replace(paths, run_id, force=False, family=None, command=None):
    """Refuse to overwrite a file that the training run ``run_id`` did not write.

    ``paths``: [(path, what)] the run will write, ``what`` saying what it is ("model
    file", "checkpoint"). A file written by the same run (an earlier part of it, before
    a resume) may be replaced; anything else only with ``force``. When the file is of
    the run's own ``family`` and its checkpoint is there, the message gives the
    ``command`` (``charlm train-tagger``…) with ``--resume`` that would continue the run
    that wrote it. Losing a long run to a typo in -o is the worst thing a trainer can do.
    """
    if force:
        return
    for path, what in paths:
        if not os.path.lexists(path):
            continue
        try:
            header = read_header(path)
        except ModelFileError:
            raise UsageError(f"{path} exists and is not a charlm file; choose another name "
                             f"for the {what}, or pass --force to replace it") from None
        owner = run_of(header)
        if owner is not None and owner == run_id:
            continue
        hint = _resume_hint(path, header, family, command)
        resume = f"continue that run with `{hint}`, " if hint else ""
        raise UsageError(f"{path} already holds a {what} that this run did not write; "
                         f"{resume}choose another name with -o, or pass --force to "
                         "replace it")


def _resume_hint(path, header, family, command):
    """``command --resume CHECKPOINT`` for the run that wrote ``path``, when the file is
    of ``family`` and that checkpoint exists; else None."""
    kind = kinds.get(header.get("kind", "model"))
    if command is None or kind is None or kind.family != family:
        return None
    ckpt = path if kind.checkpoint else checkpoint_path(str(path))
    return f"{command} --resume {ckpt}" if os.path.exists(ckpt) else None
