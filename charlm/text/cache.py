"""A cache of tokenized corpora, so that a second run on the same big file starts at
once.

The key is a hash of the files' contents together with every setting that changes
tokenization, so a cache entry can never be stale: change a byte of the corpus or an
option and the key changes with it. Entries live in ``$CHARLM_CACHE``, else
``$XDG_CACHE_HOME/charlm``, else ``~/.cache/charlm``; each is an ``.npy`` of type ids
(memory-mapped when read back) and a JSON file with the token types, written last so
that a half-written entry is never read. Only corpora of at least
:data:`MIN_BYTES` are cached. Delete the folder at any time to reclaim the space.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from charlm.files import atomic_write

MIN_BYTES = 16 << 20
FORMAT = "charlm-token-cache-1"


def cache_dir():
    base = os.environ.get("CHARLM_CACHE")
    if base:
        return base
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "charlm")


def cacheable(sources):
    """Whether ``sources`` go into the cache: files only, MIN_BYTES or more in all."""
    return (bool(sources) and all(s.path is not None for s in sources)
            and sum(s.size() for s in sources) >= MIN_BYTES)


def key(sources, text_cfg, collect_lines, encoding_errors):
    """The cache key for ``sources``, or None when they should not be cached (not all
    files, or smaller than MIN_BYTES in all)."""
    if not cacheable(sources):
        return None
    h = hashlib.blake2b(digest_size=20)
    h.update(json.dumps([FORMAT, text_cfg.to_dict(), bool(collect_lines), encoding_errors],
                        sort_keys=True).encode())
    for s in sources:
        with s.open() as f:
            h.update(b"\x00file\x00")
            while True:
                data = f.read(1 << 24)
                if not data:
                    break
                h.update(data)
    return h.hexdigest()


def load(k):
    """The cached TypeStream for key ``k``, or None."""
    from charlm.text.corpus import TypeStream

    d = cache_dir()
    meta_path = os.path.join(d, k + ".json")
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if not isinstance(meta, dict):
            return None
        ids = np.load(os.path.join(d, k + ".ids.npy"), mmap_mode="r", allow_pickle=False)
        keys = None
        if meta.get("line_keys"):
            keys = np.load(os.path.join(d, k + ".lines.npy"), allow_pickle=False)
    except (OSError, ValueError):
        return None
    # A damaged entry is a cache miss, never an error: the corpus is read again.
    if (meta.get("format") != FORMAT
            or len(ids) != meta.get("length") or ids.ndim != 1
            or ids.dtype not in (np.uint16, np.uint32)
            or not isinstance(meta.get("types"), list)
            or not all(isinstance(t, str) for t in meta["types"])
            or (len(ids) and int(ids.max()) >= len(meta["types"]))):
        return None
    return TypeStream(ids, meta["types"], keys)


def save(k, stream):
    """Store ``stream`` under key ``k``; quietly does nothing if the cache folder
    cannot be written (the cache is only a speed-up)."""
    d = cache_dir()
    try:
        os.makedirs(d, exist_ok=True)
        with atomic_write(os.path.join(d, k + ".ids.npy")) as f:
            np.lib.format.write_array(f, np.ascontiguousarray(stream.ids), allow_pickle=False)
        if stream.line_keys is not None:
            with atomic_write(os.path.join(d, k + ".lines.npy")) as f:
                np.lib.format.write_array(f, stream.line_keys, allow_pickle=False)
        meta = {"format": FORMAT, "length": len(stream.ids), "types": stream.types,
                "line_keys": stream.line_keys is not None}
        with atomic_write(os.path.join(d, k + ".json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False)
        return True
    except OSError:
        return False
