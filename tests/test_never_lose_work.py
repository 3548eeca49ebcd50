"""No lost model: train never replaces another run's files without --force, a full
disk or an unwritable folder is reported before training where it can be known and
leaves the old files intact where it cannot, and a run killed at any moment (SIGINT,
SIGTERM, SIGKILL, during a save too) leaves a model file and checkpoint that load and
resume."""

import os
import random
import resource
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from charlm.cli.app import cli
from charlm.errors import OutputError
from charlm.store import modelfile

NAMES = ["anna", "bob", "carla", "dan", "eve", "frank", "gina", "hugo"]


def run(*args, input=None, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env,
                              catch_exceptions=False)


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "names.txt"
    p.write_text("\n".join(NAMES * 30) + "\n")
    return p


@pytest.fixture
def other(tmp_path):
    p = tmp_path / "other.txt"
    p.write_text("\n".join(["xyz", "zyx", "yzx"] * 30) + "\n")
    return p


TINY = ["--hidden", "8", "--layers", "1", "--progress", "off", "--sample-every", "0"]


def snapshot(*paths):
    return {p: p.read_bytes() for p in paths}


# --- refusing to replace another run's files --------------------------------------------


def test_the_resume_hint_names_the_trainer_of_the_file_it_found(tmp_path, corpus):
    """A trainer that finds another kind's file in its way refuses it without telling
    the user to resume that file with the wrong command."""
    import shutil

    from charlm.store import tagfile

    tagger = tmp_path / "t.npz"
    shutil.copy(tagfile.BUNDLED_TAGGER, tagger)
    shutil.copy(tagger, tmp_path / "t.ckpt.npz")
    r = run("train", corpus, "-o", tagger, "--steps", "2", *TINY)
    assert r.exit_code == 2 and "already holds a model file" in r.stderr
    assert "--resume" not in r.stderr

def test_train_refuses_to_replace_another_runs_model(tmp_path, corpus, other):
    out, ckpt = tmp_path / "m.npz", tmp_path / "m.ckpt.npz"
    assert run("train", corpus, "-o", out, "--steps", "4", *TINY).exit_code == 0
    before = snapshot(out, ckpt)

    r = run("train", other, "-o", out, "--steps", "2", *TINY)
    assert r.exit_code == 2 and r.stdout == ""
    assert "already holds a model file that this run did not write" in r.stderr
    assert f"charlm train --resume {ckpt}" in r.stderr
    assert "-o" in r.stderr and "--force" in r.stderr
    assert "step" not in r.stderr.split("Error:")[0]          # refused before training
    assert snapshot(out, ckpt) == before

    # The run that wrote them may go on writing them.
    r = run("train", "--resume", ckpt, "--steps", "6", *TINY)
    assert r.exit_code == 0, r.stderr
    assert modelfile.load(ckpt).training["resume"]["state"]["step"] == 6
    first_run = modelfile.load(out).training["run_id"]

    # --force replaces them.
    r = run("train", other, "-o", out, "--steps", "2", "--force", *TINY)
    assert r.exit_code == 0, r.stderr
    replaced = modelfile.load(out)
    assert replaced.training["run_id"] != first_run and "x" in replaced.vocab.tokens


def test_train_refuses_another_runs_checkpoint_and_foreign_files(tmp_path, corpus, other):
    out = tmp_path / "m.npz"
    assert run("train", corpus, "-o", out, "--steps", "2", *TINY).exit_code == 0
    ckpt = tmp_path / "m.ckpt.npz"
    before = snapshot(out, ckpt)
    r = run("train", other, "-o", tmp_path / "new.npz", "--checkpoint", ckpt, "--steps", "2",
            *TINY)
    assert r.exit_code == 2 and "already holds a checkpoint" in r.stderr
    assert not (tmp_path / "new.npz").exists()

    notes = tmp_path / "notes.txt"
    notes.write_text("my precious notes\n")
    r = run("train", other, "-o", notes, "--steps", "2", *TINY)
    assert r.exit_code == 2 and "is not a charlm file" in r.stderr
    assert notes.read_text() == "my precious notes\n"

    # A resumed run may not take over another run's file with -o either.
    assert run("train", other, "-o", tmp_path / "b.npz", "--steps", "2", *TINY).exit_code == 0
    r = run("train", "--resume", ckpt, "-o", tmp_path / "b.npz", "--steps", "4", *TINY)
    assert r.exit_code == 2 and "did not write" in r.stderr
    assert snapshot(out, ckpt) == before


# --- unwritable folders and full disks ------------------------------------------------------

def test_unwritable_folder_is_refused_before_training(tmp_path, corpus, monkeypatch):
    import tempfile

    real = tempfile.mkstemp
    locked = str(tmp_path / "locked")
    os.mkdir(locked)

    def mkstemp(*a, dir=None, **k):
        if dir is not None and os.path.abspath(dir) == locked:
            raise PermissionError(13, "Permission denied", dir)
        return real(*a, dir=dir, **k)
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    r = run("train", corpus, "-o", os.path.join(locked, "m.npz"), "--steps", "2", *TINY)
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and "cannot write in" in r.stderr
    assert "Permission denied" in r.stderr and "step" not in r.stderr
    assert os.listdir(locked) == []


def test_full_disk_is_refused_before_training_when_known(tmp_path, corpus, monkeypatch):
    import shutil

    class Usage:
        total, used, free = 10**9, 10**9 - 1000, 1000
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage)
    r = run("train", corpus, "-o", tmp_path / "m.npz", "--steps", "2", *TINY)
    assert r.exit_code == 1 and "MB free" in r.stderr and "step" not in r.stderr
    assert not (tmp_path / "m.npz").exists()


def test_failed_write_keeps_the_previous_file(tmp_path, corpus, monkeypatch):
    import errno

    import numpy as np

    out = tmp_path / "m.npz"
    assert run("train", corpus, "-o", out, "--steps", "2", *TINY).exit_code == 0
    before = out.read_bytes()
    bundle = modelfile.load(out)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(np.lib.format, "write_array", full)
    with pytest.raises(OutputError, match="No space left on device.*previous file is intact"):
        modelfile.save(out, bundle)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt.npz", "m.npz", "names.txt"]


def _limit_file_size(limit):
    def preexec():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def charlm(*args, **kw):
    env = dict(os.environ, CHARLM_THREADS="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "charlm", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=120, **kw)


def test_disk_full_during_a_run_stops_cleanly(tmp_path, corpus):
    """A file-size limit makes every write past it fail (EFBIG), as a full disk would:
    the run stops with one line, exit 1, and the files of the earlier run are intact."""
    out, ckpt = tmp_path / "m.npz", tmp_path / "m.ckpt.npz"
    assert charlm("train", corpus, "-o", out, "--steps", "3", *TINY).returncode == 0
    before = snapshot(out, ckpt)
    limit = min(len(v) for v in before.values()) // 2
    p = charlm("train", "--resume", ckpt, "--steps", "6", *TINY,
               preexec_fn=_limit_file_size(limit))
    assert p.returncode == 1, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert "cannot write" in last and "previous file is intact" in last
    assert "Traceback" not in p.stderr
    assert snapshot(out, ckpt) == before
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


# --- killed at any moment -------------------------------------------------------------------

def _start_training(tmp_path, corpus, *extra):
    env = dict(os.environ, CHARLM_THREADS="1", PYTHONUNBUFFERED="1")
    # A validation, a model save and a checkpoint at every step: a kill often lands
    # in the middle of writing a file.
    cmd = [sys.executable, "-m", "charlm", "train", str(corpus), "-o", str(tmp_path / "m.npz"),
           "--hidden", "48", "--layers", "2", "--steps", "100000", "--eval-every", "1",
           "--checkpoint-every", "1", "--progress", "off", "--sample-every", "0", *extra]
    # stderr to a file: a pipe nobody reads would fill up and block the run.
    logfile = tmp_path / "train.log"
    start = logfile.stat().st_size if logfile.exists() else 0
    log = open(logfile, "a")
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True, env=env)
    log.close()
    ckpt = tmp_path / "m.ckpt.npz"
    deadline = time.monotonic() + 60
    while p.poll() is None and time.monotonic() < deadline:
        # Training has started (a step was reported) and a checkpoint exists.
        with open(logfile) as f:
            f.seek(start)
            if "\nstep" in "\n" + f.read() and ckpt.exists():
                break
        time.sleep(0.01)
    return p


def _check_loads_and_resumes(tmp_path, corpus):
    out, ckpt = tmp_path / "m.npz", tmp_path / "m.ckpt.npz"
    assert out.exists() and ckpt.exists()
    modelfile.load(out)
    step = modelfile.load(ckpt).training["resume"]["state"]["step"]
    p = charlm("train", "--resume", ckpt, "--steps", step + 2, "--progress", "off",
               "--sample-every", "0")
    assert p.returncode == 0, p.stderr
    assert f"resuming {ckpt} at step {step}" in p.stderr
    assert modelfile.load(ckpt).training["resume"]["state"]["step"] == step + 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_a_random_moment(tmp_path, corpus, seed):
    p = _start_training(tmp_path, corpus)
    time.sleep(random.Random(seed).uniform(0.05, 0.6))
    p.kill()
    p.wait()
    _check_loads_and_resumes(tmp_path, corpus)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_at_a_random_moment(tmp_path, corpus, sig, code):
    p = _start_training(tmp_path, corpus)
    time.sleep(random.Random(sig).uniform(0.05, 0.4))
    p.send_signal(sig)
    p.wait(timeout=60)
    err = (tmp_path / "train.log").read_text()
    assert p.returncode == code, err
    assert "resume with: charlm train --resume" in err and "Traceback" not in err
    _check_loads_and_resumes(tmp_path, corpus)


def test_second_ctrl_c_during_a_save_stops_at_once_and_keeps_the_files(tmp_path, corpus):
    p = _start_training(tmp_path, corpus)
    p.send_signal(signal.SIGINT)
    time.sleep(0.002)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)
    err = (tmp_path / "train.log").read_text()
    assert p.returncode == 130, err
    assert "Traceback" not in err and err.rstrip().endswith("charlm: interrupted")
    _check_loads_and_resumes(tmp_path, corpus)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_many_kills_in_a_row(tmp_path, corpus, sig):
    """Kill, resume, kill again, twenty times, at random moments."""
    rnd = random.Random(sig)
    p = _start_training(tmp_path, corpus)
    for _ in range(20):
        time.sleep(rnd.uniform(0.0, 0.5))
        p.send_signal(sig)
        p.wait(timeout=60)
        assert p.returncode in (130, 143, -signal.SIGKILL)
        modelfile.load(tmp_path / "m.npz")
        modelfile.load(tmp_path / "m.ckpt.npz")
        p = _start_training(tmp_path, corpus, "--resume", tmp_path / "m.ckpt.npz")
    p.kill()
    p.wait()
    _check_loads_and_resumes(tmp_path, corpus)


def test_checkpoint_from_before_run_ids_still_resumes(tmp_path, corpus):
    """Files written before runs carried an id: the run may still replace its own model
    file and checkpoint (and nobody else's)."""
    import io
    import json
    import zipfile

    out, ckpt = tmp_path / "m.npz", tmp_path / "m.ckpt.npz"
    assert run("train", corpus, "-o", out, "--steps", "3", *TINY).exit_code == 0
    for path in (out, ckpt):
        with zipfile.ZipFile(path) as z:
            members = {n: z.read(n) for n in z.namelist()}
        header = json.loads(members["header.json"])
        del header["training"]["run_id"]
        header["training"].get("resume", {}).get("run", {}).pop("run_id", None)
        members["header.json"] = json.dumps(header).encode()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for n, data in members.items():
                z.writestr(n, data)
        path.write_bytes(buf.getvalue())
    r = run("train", "--resume", ckpt, "--steps", "5", *TINY)
    assert r.exit_code == 0, r.stderr
    assert modelfile.load(ckpt).training["resume"]["state"]["step"] == 5
