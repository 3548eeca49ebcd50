"""Sequence tagging with a bidirectional RNN (parts of speech, named entities)."""
