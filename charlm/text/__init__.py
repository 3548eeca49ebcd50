"""Bytes to tokens to ids and back. Never imports the engine.

* :mod:`~charlm.text.reader`: chunked reading of files and stdin, encodings, oddities;
* :mod:`~charlm.text.tokens`: normalisation, the tokenizer, the detokenizer, line keys;
* :mod:`~charlm.text.vocab`: vocabularies with EOS and UNK;
* :mod:`~charlm.text.corpus`: corpus → type-id stream → vocabulary → BPTT batches;
* :mod:`~charlm.text.cache`: the token cache (``.charlm-cache/``);
* :mod:`~charlm.text.report`: ``charlm tokenize``'s report and saved vocabularies;
* :mod:`~charlm.text.bundled`: the corpora that ship in the wheel;
* :mod:`~charlm.text.conll`: tagged sentences: CoNLL-U and column files, raw lines;
* :mod:`~charlm.text.schemes`: entity tag schemes (IO, IOB1, IOB2, BIOES) and spans;
* :mod:`~charlm.text.ud_tokenize`: raw English text split as UD English EWT is.
"""

# The text options' choices, here rather than in tokens.py so that the command line
# can offer them (and complete them) without loading the tokenizer.
LEVELS = ("char", "word")
SPLITS = ("lines", "none")
NORMALIZATIONS = ("nfc", "nfkc", "none")
