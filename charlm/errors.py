"""Errors the engine raises. Each message says what went wrong and what to do.

The command line turns :class:`CharlmError` into a one-line message and exit status 1;
:class:`UsageError` (a bad combination of options) into exit status 2.
"""


class CharlmError(Exception):
    """Base class for every error charlm reports to a user."""


class UsageError(CharlmError):
    """The options or arguments do not make sense together."""


class CorpusError(CharlmError):
    """A corpus cannot be read or holds nothing to train on."""


class ModelFileError(CharlmError):
    """A model file is missing, damaged, or not a charlm model."""


class InputError(CharlmError):
    """Input text (stdin or a file) cannot be decoded or used."""


class OutputError(CharlmError):
    """A file cannot be written (unwritable folder, full disk); the old file, if any,
    is left as it was."""
