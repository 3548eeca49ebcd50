"""Writing the container every charlm file shares (language models, taggers and their
checkpoints): a ZIP of
``.npy`` arrays plus a JSON header, written atomically, never pickled (reading it is
:mod:`charlm.store.validate`'s job). See docs/model-format.md.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from charlm import __version__
from charlm.files import atomic_write
from charlm.store.validate import FORMAT, HEADER, VERSION


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


def write_bundle(path, bundle, fields):
    """Write a model's file atomically: ``fields`` (the kind's own header entries),
    then ``dtype`` and ``training``; the arrays are the model's parameters and
    ``bundle.extra`` and the model's ``frozen`` arrays, if it has any (arrays it reads
    but never trains), none of which may reuse a name. Returns its size."""
    arrays = dict(bundle.model.params)
    for more in (bundle.extra, getattr(bundle.model, "frozen", {})):
        overlap = set(arrays) & set(more)
        if overlap:
            raise ValueError(f"array names used twice: {sorted(overlap)}")
        arrays.update(more)
    return write(path, bundle.kind, {**fields, "dtype": str(bundle.model.dtype),
                                     "training": bundle.training}, arrays)
