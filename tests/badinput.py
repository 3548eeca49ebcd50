"""Bad input, one row per kind, for the input matrix (tests/test_input_matrix.py).

Each input is a function ``make(dir) -> path`` that writes the input under ``dir``.
A new command joins the matrix with one row in the test's COMMANDS table; a new kind
of bad input with one entry here and its expectations there.
"""

import os

BIG_LINE_BYTES = 10_000_000


def _write(path, data):
    path.write_bytes(data)
    return path


def missing(d):
    return d / "missing.txt"


def directory(d):
    p = d / "folder"
    p.mkdir()
    (p / "notes.md").write_text("not a .txt file\n")
    return p


def unreadable(d):
    """A file that cannot be opened. As root, permissions do not stop reading, so the
    test simulates the refusal instead (see ``deny_reading`` in the test)."""
    p = _write(d / "secret.txt", b"anna\nbob\n")
    os.chmod(p, 0)
    return p


def empty(d):
    return _write(d / "empty.txt", b"")


def blank_lines(d):
    return _write(d / "blank.txt", b"\n   \n\t\n \t \n\n" * 50)


def binary(d):
    data = bytes(range(256)) * 40 + b"\x00" * 100
    return _write(d / "data.bin", data)


def invalid_utf8(d):
    return _write(d / "latin1.txt", "anna\nbob\nJos\xe9\nzo\xe9\n".encode("latin-1") * 10)


def bom(d):
    return _write(d / "bom.txt", b"\xef\xbb\xbf" + b"anna\nbob\ncarla\n" * 10)


def crlf(d):
    return _write(d / "crlf.txt", b"anna\r\nbob\r\ncarla\r\n" * 10)


def cr_only(d):
    return _write(d / "cr.txt", b"anna\rbob\rcarla\r" * 10)


def one_huge_line(d):
    unit = b"the quick brown fox jumps over the lazy dog "
    return _write(d / "huge.txt", unit * (BIG_LINE_BYTES // len(unit)) + b"\n")


def shorter_than_a_window(d):
    return _write(d / "short.txt", b"ab\n")


def one_character(d):
    return _write(d / "aaa.txt", b"aaaa\naaa\naaaaa\na\n" * 5)


INPUTS = {f.__name__: f for f in (missing, directory, unreadable, empty, blank_lines, binary,
                                  invalid_utf8, bom, crlf, cr_only, one_huge_line,
                                  shorter_than_a_window, one_character)}
