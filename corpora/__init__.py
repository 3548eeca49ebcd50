"""Data only: the corpora that ship inside charlm (installed as ``charlm.corpora``).

See README.md in this folder for where each file comes from and index.json for the
list that ``charlm corpora`` prints.
"""
