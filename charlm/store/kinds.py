"""The kinds of model file, registered by the packages that define them.

The store reads and writes the container (:mod:`~charlm.store.archive`,
:mod:`~charlm.store.validate`) and knows no model: a kind of file ("model",
"checkpoint", "tagger", …) is described by the package that defines the model, which
registers a :class:`Kind` here:

* ``layout(header) -> validate.Layout``: checks the kind's header fields and says which
  arrays the file holds, with their shapes and dtypes (nothing is read before this);
* ``rebuild(header, arrays, parsed) -> bundle``: the model and its settings from the
  checked arrays (``parsed`` is what ``layout`` built on the way); it may raise
  ``validate.Invalid`` for a rule on the arrays' values, reported as a bad file;
* ``describe(bundle) -> dict`` and ``summary(dict) -> info.Summary``: what ``charlm
  info`` shows (:mod:`charlm.store.info`): equations, gate rows, arrays with their
  meaning in the notes' notation, and the lines around them.

A package registers its kinds in a module named ``filekind.py`` (``charlm/lm/filekind.py``,
``charlm/tagger/filekind.py``). The first time a kind is looked up, every such module of
the installed charlm is imported (:func:`discover`), so a file of any kind can be read
from anywhere without the store importing the packages above it.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

FILEKIND_MODULE = "filekind"


@dataclass(frozen=True)
class Kind:
    """One kind of model file (the header's ``"kind"``).

    ``family``: the loader that accepts it ("model" for a language model and its
    checkpoint, "tagger" for a tagger and its checkpoint); ``noun``: what it is, for
    messages ("language model", "tagger"); ``checkpoint``: the file resumes a run."""

    name: str
    family: str
    noun: str
    layout: object
    rebuild: object
    describe: object = None
    summary: object = None
    checkpoint: bool = False


KINDS = {}
_discovered = False


def register(kind):
    """Declare a kind of file (replacing one of the same name)."""
    KINDS[kind.name] = kind
    return kind


def unregister(name):
    """Forget a kind (tests that plant one)."""
    KINDS.pop(name, None)


def discover():
    """Import the ``filekind`` module of every package of charlm that has one, once."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for entry in sorted(os.listdir(root)):
        if os.path.isfile(os.path.join(root, entry, FILEKIND_MODULE + ".py")):
            importlib.import_module(f"charlm.{entry}.{FILEKIND_MODULE}")


def get(name):
    """The registered :class:`Kind` called ``name``, or None."""
    discover()
    return KINDS.get(name) if isinstance(name, str) else None


def names():
    """The names of every kind this charlm reads, sorted."""
    discover()
    return sorted(KINDS)


def family_of(name):
    """The family of the kind called ``name``, or None when no such kind is known."""
    kind = get(name)
    return kind.family if kind is not None else None


def read(path):
    """(Kind, bundle) of the file at ``path``, whatever its kind: everything checked
    (:func:`charlm.store.validate.read_archive`), then rebuilt by its kind. A missing
    file raises FileNotFoundError (the caller knows what to suggest)."""
    from charlm.store import validate

    from charlm.errors import ModelFileError

    header, arrays, parsed = validate.read_archive(path)
    kind = get(header.get("kind", "model"))
    try:
        return kind, kind.rebuild(header, arrays, parsed)
    except validate.Invalid as e:         # a rule on the arrays' values
        raise ModelFileError(f"{path}: {e}") from None


def door(path, accepted, missing, wrong):
    """The bundle of the file at ``path`` when its kind is one of ``accepted``: what
    each kind's loader (its door) does. ``missing``: the message when there is no such
    file; ``wrong(kind)``: the message for a file of another kind (both one line, the
    file's name first)."""
    from charlm.errors import ModelFileError

    try:
        kind, bundle = read(path)
    except FileNotFoundError:
        raise ModelFileError(missing) from None
    if kind.name not in accepted:
        raise ModelFileError(wrong(kind))
    return bundle


def training_of(header):
    """The header's ``training`` object ({} when absent or not an object)."""
    training = header.get("training")
    return training if isinstance(training, dict) else {}
