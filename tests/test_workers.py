"""Data-parallel training with real MPI ranks: `--workers N` and `mpiexec -n N charlm
train` give the losses and weights of one process (float64: within 1e-12, so that a
value rounded to float32 on the way, off by 1e-8, shows), the same validation counts,
resume across rank counts, and end cleanly when a rank fails, is killed or is interrupted."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from charlm.cli.app import cli
from test_tagger_cli import NER, POS, write_conllu

MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
needs_mpi = pytest.mark.skipif(
    not os.path.exists(MPIEXEC) or __import__("importlib").util.find_spec("mpi4py") is None,
    reason="needs pip install '.[mpi]'")

# The bundled names: lines of unequal length, so windows hold padding and the ranks'
# shares hold different numbers of tokens (the weighting must make up for it).
LM = ("--hidden", "16", "--layers", "2", "--batch-size", "6", "--seq-len", "8",
      "--dtype", "float64", "--eval-every", "10", "--sample-every", "0", "--progress", "off",
      "--dropout", "0.1")


def env(tmp_path):
    e = dict(os.environ, CHARLM_CACHE=str(tmp_path / "cache"))
    for var in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        e.pop(var, None)
    return e


def charlm(tmp_path, *args, workers=None, mpiexec=None, timeout=120):
    """Run charlm: alone, with --workers, or under `mpiexec -n N` as a user would."""
    cmd = [sys.executable, "-m", "charlm", *map(str, args)]
    if workers:
        cmd += ["--workers", str(workers)]
    if mpiexec:
        cmd = [MPIEXEC, "-n", str(mpiexec), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path,
                          env=env(tmp_path), timeout=timeout)


def arrays(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k != "header.json"}


def max_difference(a, b):
    a, b = arrays(a), arrays(b)
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k].astype(np.float64) - b[k]).max()) for k in a)


def losses(log):
    return [(r["step"], r["train_loss"], r["val_loss"])
            for r in map(json.loads, open(log, encoding="utf-8"))]


def metrics(log):
    """Each evaluation's counted metrics (accuracy, F1: not the loss and its kin)."""
    return [{k: v for k, v in r.items() if k.startswith("val_")
             and k not in ("val_loss", "val_perplexity", "val_bits_per_char")}
            for r in map(json.loads, open(log, encoding="utf-8"))]


@pytest.fixture(params=["shared memory", "messages"])
def transport(request, monkeypatch):
    """Ranks on one machine exchange gradients and weights through shared memory;
    across machines (or with CHARLM_SHARED_MEMORY=0) by MPI messages. Both must give
    one process's results."""
    if request.param == "messages":
        monkeypatch.setenv("CHARLM_SHARED_MEMORY", "0")
    else:
        monkeypatch.delenv("CHARLM_SHARED_MEMORY", raising=False)
    return request.param


def same_losses(a, b, tol=1e-12):
    la, lb = losses(a), losses(b)
    assert [r[0] for r in la] == [r[0] for r in lb]
    for ra, rb in zip(la, lb):
        assert abs(ra[1] - rb[1]) <= tol and abs(ra[2] - rb[2]) <= tol, (ra, rb)
    # The ranks validate a share each and add up their counts: the same counts.
    assert metrics(a) == metrics(b)


def test_without_mpi_workers_says_what_to_install(monkeypatch, tmp_path):
    from charlm.training import distributed

    monkeypatch.setattr(distributed, "mpi_installed", lambda: False)
    r = CliRunner().invoke(cli, ["train", "--steps", "1", "-o", str(tmp_path / "m.npz"),
                                 "--workers", "2"])
    assert r.exit_code == 2
    assert "pip install 'charlm[mpi]'" in r.output
    assert not (tmp_path / "m.npz").exists()


def test_one_process_imports_nothing_of_mpi(tmp_path):
    code = ("import sys; from charlm.cli import main\n"
            "try:\n"
            f"    main(['train', '--steps', '2', '--hidden', '8', '-o', r'{tmp_path / 'm.npz'}',"
            " '--progress', 'off', '-q'])\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print('mpi4py' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=env(tmp_path), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


@needs_mpi
def test_two_ranks_match_one_process_in_float64(tmp_path, transport):
    one = charlm(tmp_path, "train", *LM, "--steps", "50", "-o", "one.npz",
                 "--log-file", "one.log")
    assert one.returncode == 0, one.stderr
    two = charlm(tmp_path, "train", *LM, "--steps", "50", "-o", "two.npz",
                 "--log-file", "two.log", "--json", workers=2)
    assert two.returncode == 0, two.stderr
    assert json.loads(two.stdout)["workers"] == 2          # rank 0's summary, once
    assert "2 workers" in two.stderr
    same_losses(tmp_path / "one.log", tmp_path / "two.log")
    assert max_difference(tmp_path / "one.ckpt.npz", tmp_path / "two.ckpt.npz") <= 1e-12
    assert max_difference(tmp_path / "one.npz", tmp_path / "two.npz") <= 1e-12


@needs_mpi
def test_a_users_own_mpiexec_and_resume_across_rank_counts(tmp_path, transport):
    """1 → 2 → 3 ranks (mpiexec) → 1 process continues as if nothing had stopped (with a
    constant rate: a cosine schedule follows the --steps of each part)."""
    lm = (*LM, "--lr-schedule", "constant")
    ref = charlm(tmp_path, "train", *lm, "--steps", "40", "-o", "ref.npz",
                 "--log-file", "ref.log")
    assert ref.returncode == 0, ref.stderr
    a = charlm(tmp_path, "train", *lm, "--steps", "10", "-o", "m.npz", "--log-file", "m.log")
    assert a.returncode == 0, a.stderr
    b = charlm(tmp_path, "train", "--resume", "m.ckpt.npz", "--steps", "20",
               "--progress", "off", mpiexec=2)
    assert b.returncode == 0, b.stderr
    assert b.stderr.count("resuming m.ckpt.npz") == 1        # rank 0 alone speaks
    c = charlm(tmp_path, "train", "--resume", "m.ckpt.npz", "--steps", "30",
               "--progress", "off", mpiexec=3)
    assert c.returncode == 0, c.stderr
    d = charlm(tmp_path, "train", "--resume", "m.ckpt.npz", "--steps", "40",
               "--progress", "off")
    assert d.returncode == 0, d.stderr
    same_losses(tmp_path / "ref.log", tmp_path / "m.log")
    assert max_difference(tmp_path / "ref.ckpt.npz", tmp_path / "m.ckpt.npz") <= 1e-12


@needs_mpi
@pytest.mark.parametrize("tags, ranks", [(POS, 2), (NER, 2), (NER, 3)])
def test_tagger_on_several_ranks_matches_one_process(tmp_path, transport, tags, ranks):
    """Entity tags are scored by F1 over the ranks' decoded sentences put together."""
    train = write_conllu(tmp_path / "t.conllu", tags)
    args = ("train-tagger", train, "--hidden", "8", "--embed", "6", "--char-embed", "4",
            "--char-hidden", "4", "--batch-size", "5", "--steps", "12", "--eval-every", "4",
            "--dtype", "float64", "--progress", "off")
    one = charlm(tmp_path, *args, "-o", "one.npz", "--log-file", "one.log")
    assert one.returncode == 0, one.stderr
    two = charlm(tmp_path, *args, "-o", "two.npz", "--log-file", "two.log", workers=ranks)
    assert two.returncode == 0, two.stderr
    if tags is NER:
        assert "val_f1" in metrics(tmp_path / "two.log")[0]
    same_losses(tmp_path / "one.log", tmp_path / "two.log")
    assert max_difference(tmp_path / "one.ckpt.npz", tmp_path / "two.ckpt.npz") <= 1e-12


@needs_mpi
def test_a_rank_that_cannot_read_its_data_ends_the_run_in_one_line(tmp_path):
    ok = [sys.executable, "-m", "charlm", "train", "--steps", "5", "-o", "m.npz",
          "--progress", "off"]
    r = subprocess.run([MPIEXEC, "-n", "1", *ok, ":", "-n", "1",
                        *ok, "missing.txt"],
                       capture_output=True, text=True, cwd=tmp_path, env=env(tmp_path),
                       timeout=60)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "worker 1 of 2" in lines[0] and "missing.txt" in lines[0], \
        r.stderr
    assert not (tmp_path / "m.npz").exists()


@needs_mpi
def test_a_rank_out_of_memory_mid_run_ends_it_in_one_line(tmp_path):
    """Rank 1 may use little memory: its first big step fails, rank 0 says so once."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog\n" * 4000)
    args = [sys.executable, "-m", "charlm", "train", str(corpus), "--hidden", "64",
            "--batch-size", "512", "--seq-len", "256", "--steps", "2", "--split", "none",
            "-o", "m.npz", "-q"]
    # The address space a rank needs before training (libraries, MPI), plus 150 MB:
    # enough to set up, not for a step's activations (~320 MB a rank here).
    probe = ("from mpi4py import MPI; import numpy, charlm.cli.app, charlm.lm.session\n"
             "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmPeak')][0])")
    base = subprocess.run([MPIEXEC, "-n", "1", sys.executable, "-c", probe], capture_output=True,
                          text=True, env=env(tmp_path), timeout=60)
    limit = int(base.stdout) + 150_000
    limited = ["bash", "-c", f'ulimit -v {limit}; exec "$@"', "bash", *args]
    r = subprocess.run([MPIEXEC, "-n", "1", *args, ":", "-n", "1", *limited],
                       capture_output=True, text=True, cwd=tmp_path, env=env(tmp_path),
                       timeout=120)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "worker 1 of 2" in lines[0] and "memory" in lines[0], r.stderr


@pytest.fixture
def started(tmp_path):
    """Start a long 2-rank run in the background (stopped at the end of the test
    whatever happens); returns a function NAME → the launching process, once the
    run has written its first checkpoint."""
    procs = []

    def start(name):
        cmd = [sys.executable, "-m", "charlm", "train", *LM[:-2], "--eval-every", "20",
               "--steps", "100000", "-o", f"{name}.npz", "--workers", "2"]
        p = subprocess.Popen(cmd, cwd=tmp_path, env=env(tmp_path), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        procs.append(p)
        deadline = time.time() + 60
        while not (tmp_path / f"{name}.ckpt.npz").exists():
            assert time.time() < deadline and p.poll() is None
            time.sleep(0.2)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            p.communicate(timeout=30)


def steps(name):
    """Steps done by the run whose checkpoint is NAME.ckpt.npz."""
    with np.load(f"{name}.ckpt.npz") as f:
        return json.loads(bytes(f["header.json"]))["training"]["steps"]


def ranks_in(folder):
    """The pids of the MPI ranks working in ``folder`` (Linux /proc)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if (os.readlink(f"/proc/{pid}/cwd") == str(folder)
                    and b"PMI_RANK=" in open(f"/proc/{pid}/environ", "rb").read()):
                pids.append(int(pid))
        except OSError:
            pass
    return pids


@needs_mpi
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the ranks in /proc")
def test_a_killed_rank_stops_the_others_and_the_files_resume(tmp_path, started):
    p = started("k")
    ranks = ranks_in(tmp_path)
    assert len(ranks) == 2
    t0 = time.time()
    os.kill(ranks[-1], signal.SIGKILL)
    out, err = p.communicate(timeout=30)
    assert time.time() - t0 < 10
    assert p.returncode != 0
    assert err.strip().splitlines()[-1].startswith("Error: a worker stopped")
    assert "charlm train --resume k.ckpt.npz" in err
    assert "===" not in out + err                        # no launcher banner
    for pid in ranks:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    r = charlm(tmp_path, "train", "--resume", "k.ckpt.npz", "--steps", steps(tmp_path / "k")
               + 5, "--progress", "off")
    assert r.returncode == 0, r.stderr


@needs_mpi
def test_ctrl_c_stops_every_rank_saves_once_and_exits_130(tmp_path, started):
    p = started("c")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err.count("resume with: charlm train --resume c.ckpt.npz") == 1
    assert "mpiexec" not in err
    r = charlm(tmp_path, "train", "--resume", "c.ckpt.npz", "--steps", steps(tmp_path / "c")
               + 5, "--progress", "off")
    assert r.returncode == 0, r.stderr


@needs_mpi
def test_a_corpus_on_stdin_reaches_every_worker(tmp_path):
    text = "".join(f"line {i} of a piped corpus\n" for i in range(300))

    def train(name, *extra):
        cmd = [sys.executable, "-m", "charlm", "train", "-", *LM, "--steps", "8", "-o", name,
               *extra]
        r = subprocess.run(cmd, input=text, capture_output=True, text=True, cwd=tmp_path,
                           env=env(tmp_path), timeout=120)
        assert r.returncode == 0, r.stderr

    train("one.npz")
    train("two.npz", "--workers", "2")
    assert max_difference(tmp_path / "one.ckpt.npz", tmp_path / "two.ckpt.npz") <= 1e-12


@needs_mpi
def test_classifier_on_two_ranks_matches_one_process(tmp_path, transport):
    """A classifier's loss is a mean over lines, not tokens: the shares weigh as such."""
    lines = [f"{'good fine great'[:5 + i % 9]} day {i}\tpos" if i % 2 else
             f"bad {'awful poor'[:3 + i % 7]} {i}\tneg" for i in range(60)]
    (tmp_path / "t.tsv").write_text("\n".join(lines) + "\n")
    args = ("train-classifier", "t.tsv", "--hidden", "8", "--batch-size", "7", "--steps", "12",
            "--eval-every", "4", "--dtype", "float64", "--progress", "off")
    one = charlm(tmp_path, *args, "-o", "one.npz", "--log-file", "one.log")
    assert one.returncode == 0, one.stderr
    two = charlm(tmp_path, *args, "-o", "two.npz", "--log-file", "two.log", workers=2)
    assert two.returncode == 0, two.stderr
    same_losses(tmp_path / "one.log", tmp_path / "two.log")
    assert max_difference(tmp_path / "one.ckpt.npz", tmp_path / "two.ckpt.npz") <= 1e-12


# --- how a batch is split between ranks (no MPI needed) ---------------------------------

def test_the_ranks_rows_cover_every_row_once():
    from charlm.training.distributed import interleaved, share
    for n in range(0, 11):
        for size in range(1, 5):
            for split in (lambda r: slice(*share(n, r, size)), lambda r: interleaved(n, r, size)):
                rows = [i for r in range(size) for i in range(n)[split(r)]]
                assert sorted(rows) == list(range(n))


def test_interleaved_rows_balance_a_batch_sorted_longest_first():
    # Contiguous blocks give rank 0 all the long sentences; dealt out, the ranks'
    # token counts differ by at most one sentence's length.
    from charlm.training.distributed import interleaved, share
    lengths = np.array([61, 40, 33, 30, 22, 20, 19, 18, 12, 9, 7, 5, 4, 3])
    tokens = lambda rows: int(lengths[rows].sum())
    dealt = [tokens(interleaved(len(lengths), r, 2)) for r in range(2)]
    blocks = [tokens(slice(*share(len(lengths), r, 2))) for r in range(2)]
    assert abs(dealt[0] - dealt[1]) <= lengths.max() < abs(blocks[0] - blocks[1])


@pytest.mark.parametrize("split", ["blocks", "interleaved"])
def test_each_ranks_dropout_draws_are_its_columns_of_one_processs(split):
    from charlm.training.distributed import RowRandom, interleaved, share
    n, size = 7, 3
    full = np.random.default_rng(5).random((4, 3, n), dtype=np.float32)
    for r in range(size):
        rows = slice(*share(n, r, size)) if split == "blocks" else interleaved(n, r, size)
        rng = np.random.default_rng(5)
        got = RowRandom(rng, rows, n).random((4, 3, 99), dtype=np.float32)
        assert got.flags.c_contiguous and np.array_equal(got, full[..., rows])
        # The generator moved on exactly as one process's would.
        one = np.random.default_rng(5)
        one.random((4, 3, n), dtype=np.float32)
        assert rng.random() == one.random()


# --- the exchange itself, on real ranks ---------------------------------------------------

EXCHANGE = """
import json, sys
import numpy as np
from mpi4py import MPI
from charlm.engine.optim import Adam
from charlm.training.distributed import ShardedUpdate, Workers
w = Workers(MPI.COMM_WORLD, MPI)
shapes = {"a": (3, 5), "b": (7,), "c": (2, 2, 2)}
start = {k: np.random.default_rng(0).standard_normal(s) for k, s in shapes.items()}
params = {k: v.copy() for k, v in start.items()}
w.bind(params)
update = ShardedUpdate(w, Adam(params, 0.1, average=0.5), params)
one_params = {k: v.copy() for k, v in start.items()}
one = Adam(one_params, 0.1, average=0.5)
for step in range(3):
    # Each rank's gradient, the mean over its tokens; the step's is their weighted mean.
    mine = {k: np.random.default_rng(100 * step + w.rank).standard_normal(s)
            for k, s in shapes.items()}
    tokens = w.rank + 1
    block, loss, total, *_, norm = w.reduce_step(mine, 2.0 * w.rank, tokens)
    every = [{k: np.random.default_rng(100 * step + r).standard_normal(s)
              for k, s in shapes.items()} for r in range(w.size)]
    mean = {k: sum((r + 1) * g[k] for r, g in enumerate(every)) / total for k in shapes}
    assert total == sum(range(1, w.size + 1))
    assert np.isclose(norm, np.sqrt(sum(float((g ** 2).sum()) for g in mean.values())))
    update.step(params, {"block": block})
    one.step(one_params, mean)
gap = max(float(np.abs(params[k] - one_params[k]).max()) for k in shapes)
avg = update.averaged()
gap_avg = max(float(np.abs(avg[k] - one.averaged()[k]).max()) for k in shapes)
state = update.full_state_arrays()
gap_state = max(float(np.abs(state[k] - one.state_arrays()[k]).max()) for k in state)
everyone = MPI.COMM_WORLD.allgather({k: v.tolist() for k, v in params.items()})
w.clean = True
if w.rank == 0:
    print(json.dumps({"shared": w.window is not None, "gap": gap, "gap_avg": gap_avg,
                      "gap_state": gap_state, "state": sorted(state) == sorted(one.state_arrays()),
                      "same_on_every_rank": all(e == everyone[0] for e in everyone)}))
"""


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_the_split_update_is_one_processs_update(tmp_path, transport, ranks):
    """Each rank updates its block of the weights (blocks of unequal size with 3 ranks,
    cutting across arrays) and every rank ends with one process's weights, average and
    optimiser state; on one machine through shared memory, unless told not to."""
    r = subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, "-c", EXCHANGE],
                       capture_output=True, text=True, env=env(tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["shared"] == (transport == "shared memory")
    assert got["gap"] <= 1e-12 and got["gap_avg"] <= 1e-12 and got["gap_state"] <= 1e-12
    assert got["state"] and got["same_on_every_rank"]


def test_shared_memory_is_used_only_where_there_is_room(tmp_path):
    from charlm.training.distributed import _room_in_shared_memory
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    assert _room_in_shared_memory(1, folder=str(tmp_path))
    assert not _room_in_shared_memory(free, folder=str(tmp_path))
    assert _room_in_shared_memory(10**15, folder=str(tmp_path / "absent"))
