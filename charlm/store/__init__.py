"""Model files on disk: the ``.npz`` + JSON header container
(:mod:`~charlm.store.archive`), read as untrusted input (:mod:`~charlm.store.validate`)
and written atomically, filled by language models (:mod:`~charlm.store.modelfile`) and
taggers (:mod:`~charlm.store.tagfile`), and the description ``charlm info`` prints
(:mod:`~charlm.store.info`). The store knows no model: each kind of file is registered
by the package that defines it (:mod:`~charlm.store.kinds`). See docs/model-format.md.
"""

import os

# Where a model is read from and written to when -m/-o is not given. Kept here, not in
# modelfile.py, so that the command line can name them without loading NumPy.
DEFAULT_MODEL = "model.npz"
MODEL_ENV = "CHARLM_MODEL"


def default_model_path():
    """``$CHARLM_MODEL`` if set, else ``model.npz`` in the current directory."""
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL


# The tagger used when -m is not given (charlm tag, charlm evaluate): $CHARLM_TAGGER if
# set, else the English tagger that ships in the package (see
# charlm/tagger/default/README.md): one joint tagger whose first output layer tags
# PER/ORG/LOC entities (`charlm tag --entities`) and whose second tags UPOS (`charlm
# tag`).
TAGGER_ENV = "CHARLM_TAGGER"
DEFAULT_TAGGER = "tagger.npz"      # what `charlm train-tagger` writes without -o
BUNDLED_TAGGER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "tagger", "default", "en_ewt.npz")
BUNDLED_ENTITY_TAGGER = BUNDLED_TAGGER


def default_tagger_path():
    """``$CHARLM_TAGGER`` if set, else the bundled English tagger."""
    return os.environ.get(TAGGER_ENV) or BUNDLED_TAGGER
