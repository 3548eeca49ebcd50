"""Corpora that ship inside the package, found by name (``charlm train names``).

The files live in the repository's top-level ``corpora/`` folder, which is installed
as the data package ``charlm.corpora``; ``corpora/index.json`` describes them.
"""

from __future__ import annotations

import json
import pathlib
from importlib import resources

from charlm.errors import CorpusError

DEFAULT = "names"


def _root():
    """The folder holding the bundled files: the installed data package, or the
    ``corpora/`` folder of a source checkout (a ``pathlib.Path`` offers the same
    ``joinpath``/``read_text`` as an importlib Traversable)."""
    try:
        root = resources.files("charlm.corpora")
        if root.joinpath("index.json").is_file():
            return root
    except ModuleNotFoundError:
        pass
    source = pathlib.Path(__file__).resolve().parents[2] / "corpora"
    if (source / "index.json").is_file():
        return source
    raise CorpusError("the bundled corpora are missing from this installation; "
                      "reinstall charlm")


def catalogue():
    """The list of bundled corpora (dicts from index.json)."""
    return json.loads(_root().joinpath("index.json").read_text(encoding="utf-8"))


def names():
    return [c["name"] for c in catalogue()]


def find(name):
    """The catalogue entry for ``name``, or None."""
    for entry in catalogue():
        if entry["name"] == name:
            return entry
    return None


def read(name):
    """The text of bundled corpus ``name``."""
    entry = find(name)
    if entry is None:
        raise CorpusError(f"no bundled corpus named {name!r}; "
                          f"bundled: {', '.join(names())}")
    return _root().joinpath(entry["file"]).read_text(encoding="utf-8")
