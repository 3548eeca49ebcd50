"""Turning text into tokens and back.

Two levels:

* ``char``: every Unicode code point is a token (after normalisation, NFC by
  default, so "é" typed as one code point or as e + combining accent is one token).
  With ``graphemes`` a token is an extended grapheme cluster (``\\X``), so an emoji
  with modifiers or a letter with several combining marks is never split.
* ``word``: :data:`WORD_PATTERN` below, built on Unicode properties, so it works the
  same for Latin, Cyrillic, Greek, … scripts:

  - a word is a run of letters, combining marks and digits, which may contain
    apostrophes and hyphens between such runs: ``don't``, ``l'homme``, ``well-known``,
    ``Mary-Jane``, ``mp3``, ``Отцы``;
  - a number is a run of digits with inner ``.`` or ``,`` groups: ``3.14``, ``1,000``;
  - anything else that is not white space is punctuation or a symbol; a run of the
    same character is one token (``...``, ``!!``, ``--``), other characters are
    tokens on their own;
  - white space separates tokens and is not a token (except the newline in
    ``--split none``, where line breaks are kept as the token ``"\\n"``).

  :func:`detokenize` puts spaces back: none before closing punctuation, none after
  opening brackets and quotes; symmetric marks (``"``, ``_``, ``*``) hug the words
  they enclose; ``--``, ``—`` and ``/`` join the words on both sides; none around a
  newline.

Framing (``split``):

* ``lines``: every non-empty line is one example ending with EOS.
* ``none``: the text is one stream in which the newline is an ordinary token.

``reverse`` (lines only) makes a backward model: every line's tokens are read right to
left (:func:`reading_order`), its EOS still closing it.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

import regex

from charlm.settings import Settings
from charlm.errors import UsageError

from charlm.text import LEVELS, NORMALIZATIONS, SPLITS  # noqa: F401

WORD_PATTERN = regex.compile(
    r"""
      \p{N}+(?:[.,]\p{N}+)+                                    # 3.14  1,000  1.000.000
    | [\p{L}\p{M}\p{N}]+(?:['’\-][\p{L}\p{M}\p{N}]+)*          # words, don't, well-known
    | ([^\s\p{L}\p{M}\p{N}])\1*                                 # ... !! -- or one symbol
    """,
    regex.VERBOSE,
)
# WORD_PATTERN plus the line end, for tokenizing a chunk of many lines at once.
TOKEN_PATTERN = regex.compile(WORD_PATTERN.pattern + r"| \n", regex.VERBOSE)
GRAPHEME_PATTERN = regex.compile(r"\X")

NEWLINE = "\n"

# Spacing rules for detokenize(): no space before these, none after those.
_CLOSING_CHARS = set(".,;:!?%)]}»”’…")
_SYMMETRIC = {'"', "_", "*"}          # the same mark opens and closes
_ATTACHED = {"--", "—", "/"}          # written without spaces on either side
_NO_SPACE_BEFORE = {"n't", "'s", "'re", "'ll", "'ve", "'d", "'m"}
_NO_SPACE_AFTER = set("([{«“‘¿¡")


@dataclass
class TextConfig(Settings):
    """How raw text becomes tokens. Stored in every model file so that scoring and
    generation treat text exactly as training did."""

    level: str = "char"          # char | word
    split: str = "lines"         # lines: one example per line; none: one stream
    lowercase: bool = False      # fold case before anything else
    normalize: str = "nfc"       # Unicode normal form: nfc | nfkc | none
    graphemes: bool = False      # char level: tokens are grapheme clusters, not code points
    reverse: bool = False        # a backward model: each line's tokens read right to left

    def __post_init__(self):
        for name, value, allowed in (("level", self.level, LEVELS),
                                     ("split", self.split, SPLITS),
                                     ("normalize", self.normalize, NORMALIZATIONS)):
            if value not in allowed:
                raise UsageError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        if self.reverse and self.split != "lines":
            raise UsageError("--reverse reads each line right to left: it needs --split "
                             "lines")

    STRICT = True
    WHAT = "text settings"

    @property
    def unit(self):
        """What one token is, for reports: 'character' or 'word'."""
        return "character" if self.level == "char" else "word"


def normalize_text(text, cfg):
    """Apply the configured Unicode normalisation and case folding."""
    if cfg.normalize != "none":
        text = unicodedata.normalize(cfg.normalize.upper(), text)
    if cfg.lowercase:
        text = text.lower()
    return text


def reading_order(tokens, cfg):
    """A line's tokens in the order a model of ``cfg`` reads them: reversed for a
    backward (``reverse``) model, else as they are. Its own inverse: it also turns a
    backward model's tokens back into text order."""
    return list(reversed(tokens)) if cfg.reverse else list(tokens)


def split_tokens(line, cfg):
    """Tokens of one line of already normalised text (no newline inside)."""
    if cfg.level == "word":
        return [m.group(0) for m in WORD_PATTERN.finditer(line)]
    if cfg.graphemes:
        return GRAPHEME_PATTERN.findall(line)
    return list(line)


def tokenize(text, cfg):
    """Normalise ``text`` and split it into tokens, keeping line breaks as ``"\\n"``
    tokens (used for primes and for scoring a stream)."""
    text = normalize_text(text, cfg)
    out = []
    lines = text.split(NEWLINE)
    for i, line in enumerate(lines):
        out.extend(split_tokens(line, cfg))
        if i < len(lines) - 1:
            out.append(NEWLINE)
    return out


class Detokenizer:
    """Turns tokens back into text one token at a time, for streaming output.

    ``feed(token)`` returns the text to write for that token: the token itself,
    preceded by a space where the word-level spacing rules want one.
    """

    def __init__(self, cfg):
        self.word = cfg.level == "word"
        self.prev = None
        self.open = set()            # symmetric markers (" _ *) currently open
        self.prev_opened = False     # the previous token opened one

    def feed(self, tok):
        if not self.word:
            return tok
        prev = self.prev
        self.prev = tok
        if prev is None or prev == NEWLINE or tok == NEWLINE:
            space = False
        elif tok in _ATTACHED or prev in _ATTACHED:
            space = False                        # word--word, word—word
        elif tok in _SYMMETRIC:
            space = tok not in self.open         # a closing marker hugs the word
        elif prev in _SYMMETRIC and self.prev_opened:
            space = False                        # an opening marker hugs the next word
        elif _closes(tok) or prev in _NO_SPACE_AFTER:
            space = False
        else:
            space = True
        self.prev_opened = tok in _SYMMETRIC and tok not in self.open
        if tok in _SYMMETRIC:
            self.open ^= {tok}
        return " " + tok if space else tok


def _closes(tok):
    return tok in _NO_SPACE_BEFORE or all(ch in _CLOSING_CHARS for ch in tok)


def detokenize(tokens, cfg):
    """Join tokens back into text (see the module docstring for the spacing rules)."""
    d = Detokenizer(cfg)
    return "".join(d.feed(t) for t in tokens)


def display_token(tok):
    """A token as it should appear in tables and KenLM-style output."""
    if tok == NEWLINE:
        return "\\n"
    if tok == " ":
        return "␠"
    if tok == "\t":
        return "\\t"
    return tok


# --- line keys (for `generate --novel`) ----------------------------------------------

def text_key(text):
    """8 bytes of BLAKE2b of ``text``, as an unsigned integer."""
    data = text.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def line_key(tokens, join="\x1f"):
    """The hash of a line's tokens. Tokens are joined with ``join``: "" at char level
    (giving the line's own text), a separator at word level, where the spaces between
    words are not tokens."""
    return text_key(join.join(tokens))


def key_join(text_cfg):
    return "" if text_cfg.level == "char" else "\x1f"
