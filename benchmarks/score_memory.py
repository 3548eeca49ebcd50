"""Memory while scoring an endless stream: peak resident memory of `charlm score` fed
--mb megabytes of generated lines on stdin.

    python benchmarks/score_memory.py [--mb 1000] [--model M.npz] [--format tsv]

Scoring reads its input lazily and keeps only running totals, so peak memory must not
grow with the input: target under 500 MB for 1 GB of input. Without --model a tiny
character model (1 layer of 8 units) is trained first, so the run measures charlm's
bookkeeping rather than the model's speed; the output rows are read and thrown away.

Measured on this project's shared 2-core machine (CHARLM_THREADS=1, nice): 1,000 MB,
23.8 million rows in 3,090 s, peak resident memory 57 MB.
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

WORDS = ("anna bob carla dan eve frank gina hugo iris jon kate liam mona ned olga pia "
         "the of and to in is it that was for on are with as his they at be this").split()


def feed(pipe, total_bytes, seed=1):
    """Write ``total_bytes`` of lines of 1 to 12 words (some long) into ``pipe``."""
    import random

    rnd = random.Random(seed)
    lines = []
    for _ in range(5000):
        n = rnd.choice((1, 2, 3, 5, 8, 12, 40))
        lines.append(" ".join(rnd.choice(WORDS) for _ in range(n)))
    block = ("\n".join(lines) + "\n").encode()
    sent = 0
    try:
        while sent < total_bytes:
            pipe.write(block)
            sent += len(block)
    except BrokenPipeError:
        pass
    finally:
        try:
            pipe.close()
        except BrokenPipeError:
            pass
    return sent


def tiny_model(workdir):
    path = pathlib.Path(workdir) / "tiny.npz"
    corpus = pathlib.Path(workdir) / "words.txt"
    corpus.write_text("\n".join(" ".join(WORDS[i:i + 6]) for i in range(len(WORDS))) + "\n")
    subprocess.run([sys.executable, "-m", "charlm", "train", str(corpus), "-o", str(path),
                    "--hidden", "8", "--layers", "1", "--steps", "20", "-q", "--force"],
                   check=True)
    return path


def measure(model, mb, fmt="tsv"):
    """(seconds, peak RSS in MB, lines reported) for scoring ``mb`` MB from stdin."""
    cmd = [sys.executable, "-m", "charlm", "score", "-m", str(model), "--format", fmt]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    writer = threading.Thread(target=feed, args=(p.stdin, mb * 1_000_000))
    writer.start()
    rows = 0
    for _ in p.stdout:
        rows += 1
    writer.join()
    err = p.stderr.read().decode()
    # wait4 gives this child's own peak (RUSAGE_CHILDREN would be the largest of every
    # child this process ever waited for, such as earlier tests' subprocesses).
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(err)
    return dt, usage.ru_maxrss / 1024, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1000)
    ap.add_argument("--model")
    ap.add_argument("--format", default="tsv")
    a = ap.parse_args()
    os.environ.setdefault("CHARLM_THREADS", "1")
    with tempfile.TemporaryDirectory() as d:
        model = a.model or tiny_model(d)
        dt, peak, rows = measure(model, a.mb, a.format)
    print(f"charlm score --format {a.format}: {a.mb:,} MB of generated lines on stdin, "
          f"{rows:,} rows in {dt:,.0f} s ({a.mb / dt:.2f} MB/s); "
          f"peak resident memory {peak:,.0f} MB")


if __name__ == "__main__":
    main()
