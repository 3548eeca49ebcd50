"""The dict round trip shared by the settings dataclasses that files store."""

from __future__ import annotations

from dataclasses import asdict, fields

from charlm.errors import ModelFileError


class Settings:
    """Mixin for dataclasses: ``to_dict()`` and ``from_dict(d)``.

    ``STRICT`` classes refuse names they do not know (a file from a newer charlm
    whose meaning would be lost); the others skip them (bookkeeping that may grow).
    """

    STRICT = False
    WHAT = "settings"

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown and cls.STRICT:
            raise ModelFileError(f"unknown {cls.WHAT} {sorted(unknown)}; "
                                 "is this file from a newer charlm?")
        return cls(**{k: v for k, v in d.items() if k in names})
