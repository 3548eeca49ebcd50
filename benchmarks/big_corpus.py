"""Big corpora: tokenizing speed, time to the first training step, peak memory.

    python benchmarks/big_corpus.py [--mb 200] [--corpus FILE] [--workdir DIR]

Without --corpus, War and Peace from ../shared/corpora/text/ is repeated to --mb
megabytes in a temporary folder (nothing is written into the repository). Targets on
this project's 2-core machine: char-level tokenizing >= 20 MB/s, word-level >= 5 MB/s;
`charlm train` starts its first step within 30 s and stays under 1.5 GB of resident
memory; a second run on the same file starts from the token cache; `charlm tokenize`
stays under 1 GB (it counts tokens as it reads, keeping no ids).
"""

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

from common import SHARED, header


def make_corpus(path, mb):
    src = (SHARED / "text" / "warpeace_lf.txt").read_bytes()
    with open(path, "wb") as f:
        written = 0
        while written < mb * 1_000_000:
            f.write(src)
            written += len(src)
    return written


def tokenize_rate(path, level, split):
    from charlm.text.corpus import type_stream
    from charlm.text.reader import Source
    from charlm.text.tokens import TextConfig

    t0 = time.perf_counter()
    s = type_stream([Source(str(path), path=str(path))], TextConfig(level=level, split=split),
                    collect_lines=split == "lines")
    dt = time.perf_counter() - t0
    return os.path.getsize(path) / 1e6 / dt, len(s), dt


def first_step(path, cache_dir, extra=()):
    """Run `charlm train` until its first step is reported; return (seconds, max RSS MB)."""
    os.makedirs(cache_dir, exist_ok=True)
    env = dict(os.environ, CHARLM_CACHE=str(cache_dir))
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "charlm", "train", str(path),
           "--steps", "1", "--val-max-tokens", "20000", "--progress", "off",
           "--sample-every", "0", "-o", str(pathlib.Path(cache_dir) / "m.npz"), "--force",
           *extra]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    step_at = None
    lines = []
    for line in p.stderr:
        lines.append(line)
        if step_at is None and line.startswith("step "):
            step_at = time.perf_counter() - t0
    p.wait()
    text = "".join(lines)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if p.returncode != 0:
        raise SystemExit(text)
    return step_at, int(rss.group(1)) / 1024 if rss else float("nan")


def tokenize_memory(path, extra=()):
    """Peak resident memory (MB) and seconds of `charlm tokenize` on ``path``."""
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "charlm", "tokenize", str(path),
           "--progress", "off", *extra]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(p.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return int(rss.group(1)) / 1024 if rss else float("nan"), dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--corpus")
    ap.add_argument("--workdir")
    a = ap.parse_args()
    header("big corpus: tokenizing, first step, memory")
    work = pathlib.Path(a.workdir or tempfile.mkdtemp(prefix="charlm-big-"))
    work.mkdir(parents=True, exist_ok=True)
    path = pathlib.Path(a.corpus) if a.corpus else work / "big.txt"
    if not path.exists():
        make_corpus(path, a.mb)
    print(f"# corpus {path}: {os.path.getsize(path) / 1e6:.0f} MB")
    for level, split in (("char", "lines"), ("char", "none"), ("word", "lines")):
        rate, n, dt = tokenize_rate(path, level, split)
        print(f"tokenize {level:4s} --split {split:5s}: {rate:6.1f} MB/s "
              f"({n:,} tokens in {dt:.1f} s)")
    for extra in ((), ("--level", "word")):
        rss, dt = tokenize_memory(path, extra)
        print(f"charlm tokenize {' '.join(extra) or '--level char'}: {dt:.1f} s, "
              f"peak resident memory {rss:,.0f} MB")
    cache = work / "cache"
    for attempt in ("cold", "warm"):
        t, rss = first_step(path, cache)
        print(f"charlm train ({attempt} cache): first step after {t:.1f} s, "
              f"peak resident memory {rss:,.0f} MB")
    t, rss = first_step(path, cache, ["--split", "none", "--no-cache"])
    print(f"charlm train --split none (no cache): first step after {t:.1f} s, "
          f"peak resident memory {rss:,.0f} MB")


if __name__ == "__main__":
    main()
