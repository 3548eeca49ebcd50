"""Writing files so that a crash or Ctrl-C never leaves a half-written one."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from charlm.errors import OutputError


def checkpoint_path(output):
    """model.npz → model.ckpt.npz: where a run keeps its checkpoint by default."""
    base = output[:-4] if output.endswith(".npz") else output
    return base + ".ckpt.npz"


@contextlib.contextmanager
def atomic_write(path, mode="wb", encoding=None):
    """Write ``path`` through a temporary file in the same directory, renamed over it
    only when the block completes; on any error (KeyboardInterrupt included) the
    temporary file is removed and the old ``path``, if any, is left as it was.

    The file gets the mode a plain open() would give it (mkstemp makes 0600), and its
    data and directory entry are flushed to disk before and after the rename.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".tmp", dir=directory)
    except OSError as e:
        raise OutputError(f"{path}: cannot write in {directory}: {e.strerror}; "
                          "choose another place") from None
    try:
        os.chmod(tmp, _file_mode(path))
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and not isinstance(e, BrokenPipeError):
            kept = ("the previous file is intact" if os.path.exists(path)
                    else "nothing was written")
            raise OutputError(f"{path}: cannot write: {e.strerror or e} ({kept}); free some "
                              "space or choose another place") from None
        raise
    _fsync_dir(directory)


TMP_PREFIX = ".charlm-"


def check_writable(path):
    """Refuse, before any work is done, a file that cannot be written: its folder is
    missing or unwritable (tried by creating a file there, which also catches
    read-only file systems and holds for root)."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a directory; give a file name")
    if not os.path.isdir(directory):
        raise OutputError(f"{path}: folder {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".tmp", dir=directory)
    except OSError as e:
        raise OutputError(f"{path}: cannot write in {directory}: {e.strerror}; "
                          "choose another place") from None
    os.close(fd)
    os.unlink(tmp)


def check_space(paths_bytes):
    """Refuse when the disk plainly lacks room: ``paths_bytes`` is [(path, bytes the
    file will take)]; each file needs its size free once more while it is replaced."""
    need = {}
    for path, nbytes in paths_bytes:
        directory = os.path.dirname(os.path.abspath(path))
        need[directory] = need.get(directory, 0) + int(nbytes)
    for directory, nbytes in need.items():
        try:
            free = shutil.disk_usage(directory).free
        except OSError:
            continue
        if free < nbytes:
            raise OutputError(f"{directory}: {free / 1e6:,.1f} MB free, but the model file "
                              f"and checkpoint need about {nbytes / 1e6:,.1f} MB; free some "
                              "space or choose another place")


def _file_mode(path):
    """The old file's permissions, or 0666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
