"""Model files on disk: the ``.npz`` + JSON header format, read and written atomically
(:mod:`~charlm.store.modelfile`), and the description ``charlm info`` prints
(:mod:`~charlm.store.info`). See docs/model-format.md.
"""

import os

# Where a model is read from and written to when -m/-o is not given. Kept here, not in
# modelfile.py, so that the command line can name them without loading NumPy.
DEFAULT_MODEL = "model.npz"
MODEL_ENV = "CHARLM_MODEL"


def default_model_path():
    """``$CHARLM_MODEL`` if set, else ``model.npz`` in the current directory."""
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL
