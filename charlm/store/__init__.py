"""Model files on disk: the ``.npz`` + JSON header format, read and written atomically
(:mod:`~charlm.store.modelfile`), and the description ``charlm info`` prints
(:mod:`~charlm.store.info`). See docs/model-format.md.
"""
