"""The README cannot rot: every command in it runs, in order, in one scratch folder,
and the output shown under each command in a ``console`` block is checked against
what charlm prints now.

Output is compared by *shape*: each line with its numbers replaced by ``#`` and its
spacing collapsed, so new timings and losses pass but a renamed field, a new or
missing line, or a changed layout fails. A block shown with ``...`` may omit lines;
one without must show every kind of line the command prints. An HTML comment just
before a block changes how it is run:

    <!-- test: replace "--time 600" "--time 2" -->   a shorter budget for the test
    <!-- test: check lines -->    generated text: only the number of lines is checked
    <!-- test: check prefix -->   generated text: stdout starts with the first line shown
    <!-- test: check json -->     stdout is JSON with (at least) the keys shown (values
                                  may be written ...)
    <!-- test: skip REASON -->    not run (too long for a test)

Blocks that name a ``charlm`` command this version does not have, or a data file
that is neither made by an earlier block nor found under ../shared/corpora, are
skipped with the reason.
"""

import json
import os
import pathlib
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

import charlm
from charlm.cli.app import cli
from conftest import ROOT, SHARED

README = ROOT / "README.md"
DIRECTIVE = re.compile(r'<!-- test: (replace "(.*?)" "(.*?)"|check (\w+)|skip (.*?)) -->')
FENCE = re.compile(r"^```(\w*)\s*$")
DATA_FILE = re.compile(r"^([\w-]+/)?[\w.-]+\.(txt|conllu|iob2|tsv)$")
MODEL_INPUT_OPTIONS = ("-m", "--model", "--resume")


@dataclass
class Block:
    lang: str
    text: str
    line: int
    replace: list = field(default_factory=list)
    check: str = "shape"
    skip: str | None = None

    @property
    def id(self):
        return f"README.md:{self.line}"


def parse(markdown):
    blocks, pending, fence = [], Block("", "", 0), None
    lines = markdown.splitlines()
    for i, line in enumerate(lines, 1):
        if fence is not None:
            if line.startswith("```"):
                fence.text = "\n".join(fence.text)
                blocks.append(fence)
                fence, pending = None, Block("", "", 0)
            else:
                fence.text.append(line)
            continue
        m = FENCE.match(line)
        if m:
            fence = Block(m.group(1), [], i, pending.replace, pending.check, pending.skip)
            continue
        for d in DIRECTIVE.finditer(line):
            if d.group(2) is not None:
                pending.replace.append((d.group(2), d.group(3)))
            elif d.group(4):
                pending.check = d.group(4)
            else:
                pending.skip = d.group(5)
        if line.strip() and not line.startswith("<!--") and not DIRECTIVE.search(line) \
                and not line.rstrip().endswith("-->"):
            pending = Block("", "", 0)             # directives apply to the next block only
    return blocks


BLOCKS = parse(README.read_text(encoding="utf-8"))
SETUP, REST = BLOCKS[:2], BLOCKS[2:]
RUNNABLE = [b for b in REST if b.lang in ("console", "sh", "python")]


def console_commands(text):
    """[(command, [expected output lines])] of a console block."""
    out = []
    for line in text.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return out


def shape(line):
    line = re.sub(r"(sample:).*", r"\1 *", line)       # training samples are random
    line = re.sub(r"\d[\d,.]*[kMG]?", "#", line)
    return re.sub(r"\s+", " ", line).strip()


# ---- the set-up commands ------------------------------------------------------------

def test_the_two_set_up_commands_come_first_verbatim():
    assert [b.lang for b in SETUP] == ["sh", "sh"]
    assert SETUP[0].text == ("python3 -m venv .venv && . .venv/bin/activate && pip install . "
                             "&& charlm train && charlm generate -n 10 --seed 1")
    # CI runs both, in this order, in the same clone, as a newcomer does.
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-2:]
    assert [b.text for b in SETUP] == ci


def test_every_block_is_run_or_says_why_not():
    for b in REST:
        assert b.lang in ("console", "sh", "python", "text"), b.id
        assert b.check in ("shape", "lines", "prefix", "json"), b.id


def test_shapes_keep_words_and_drop_numbers():
    assert shape("step     16  epoch   1.00  train 3.1740  saved") == \
        shape("step 800 epoch 50.00 train 1.7965 saved")
    assert shape("tokens 1.6M in 0:01:27 (18.6k tok/s)") == \
        shape("tokens 65.0k in 0:00:02 (29.1k tok/s)")
    assert shape("best val loss 1.9 nats") != shape("best valid loss 1.9 nats")


# ---- running the README -------------------------------------------------------------

@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    (d / "benchmarks").symlink_to(ROOT / "benchmarks")
    # `charlm` and `python` are the ones under test, installed or not
    bindir = d / ".bin"
    bindir.mkdir()
    for name, run in (("charlm", "-m charlm"), ("python", ""), ("python3", "")):
        (bindir / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" {run} "$@"\n')
        (bindir / name).chmod(0o755)
    return d


def _env(workdir):
    env = dict(os.environ)
    env.pop("CHARLM_MODEL", None)
    env.pop("NO_COLOR", None)
    env.update(PATH=str(workdir / ".bin") + os.pathsep + env.get("PATH", ""),
               PYTHONPATH=str(pathlib.Path(charlm.__file__).resolve().parent.parent),
               CHARLM_THREADS="1", OPENBLAS_NUM_THREADS="1", COLUMNS="200",
               PYTHONUNBUFFERED="1")
    return env


def _shared(name):
    found = sorted(SHARED.rglob(name)) if SHARED.is_dir() else []
    return found[0] if found else None


def _words(command):
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def _prepare(command, cwd, made=()):
    """Link the data files the command reads into cwd; skip when one is missing or a
    command is not part of charlm yet. ``made``: files that earlier commands of the
    block write (with ``>``), which need no source."""
    words = _words(command)
    for i, w in enumerate(words):
        if w == "charlm" and i + 1 < len(words) and not words[i + 1].startswith("-") \
                and words[i + 1] not in cli.commands and words[i + 1] != "|":
            pytest.skip(f"charlm {words[i + 1]} does not exist yet")
    for i, w in enumerate(words):
        if w in made or (i > 0 and words[i - 1] == ">"):
            continue
        if DATA_FILE.match(w) and not (cwd / w).exists():
            source = _shared(w)
            if source is None:
                pytest.skip(f"needs {w} from ../shared/corpora")
            (cwd / w).parent.mkdir(parents=True, exist_ok=True)
            (cwd / w).symlink_to(source)


def _needs_models(command, cwd):
    """Skip when a model file the command reads was to come from an earlier block."""
    words = _words(command)
    for i, w in enumerate(words):
        model_input = (i > 0 and words[i - 1] in MODEL_INPUT_OPTIONS) or \
            (i > 1 and words[i - 2:i] == ["charlm", "info"])
        if model_input and w.endswith(".npz") and not (cwd / w).exists():
            pytest.skip(f"needs {w} from an earlier block of the README (skipped or not run)")


def _budget(command):
    """Seconds of --time a command asks for (0 when none)."""
    m = re.search(r"--time[ =](\d+(?:\.\d*)?)([smh]?)\b", command)
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)] if m else 0


def _run(command, cwd):
    assert _budget(command) <= 10, (f"`{command}` would train for {_budget(command):.0f} s: "
                                    "give its block a <!-- test: replace ... --> to a few seconds")
    r = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=cwd, env=_env(cwd),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"`{command}` exited {r.returncode}:\n{r.stderr[-2000:]}"
    return r


def _check(block, command, expected, r):
    if not expected:
        return
    shown = [ln for ln in expected if ln.strip() != "..."]
    elided = len(shown) < len(expected)
    if block.check == "lines":
        got = r.stdout.splitlines()
        assert len(got) == len(shown) or (elided and len(got) >= len(shown)), \
            f"`{command}` printed {len(got)} lines, the README shows {len(shown)}"
    elif block.check == "prefix":
        assert r.stdout.startswith(shown[0]), f"`{command}` does not start with {shown[0]!r}"
    elif block.check == "json":
        # the README may write ... for values: {...}, [...] or a bare ...
        want = json.loads(re.sub(r"\{\.\.\.\}|\[\.\.\.\]|\.\.\.", "null", "\n".join(shown)))
        got = json.loads(r.stdout)
        for key, value in want.items():
            assert key in got, f"`{command}`: no key {key!r} in its JSON"
            if isinstance(value, dict) and value:
                assert set(value) <= set(got[key]), f"`{command}`: keys of {key!r}"
    else:
        got = {shape(ln) for ln in (r.stdout + "\n" + r.stderr).splitlines() if ln.strip()}
        want = {shape(ln) for ln in shown if ln.strip()}
        missing = sorted(want - got)
        assert not missing, (f"`{command}` no longer prints lines like these (README.md:"
                             f"{block.line}):\n" + "\n".join(missing)
                             + "\nit printed:\n" + "\n".join(sorted(got)))
        if not elided:
            extra = sorted(got - want)
            assert not extra, (f"`{command}` prints lines the README does not show "
                               f"(README.md:{block.line}; add them or '...'):\n" + "\n".join(extra))


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.id for b in RUNNABLE])
def test_readme_block(block, workdir):
    if block.skip:
        pytest.skip(block.skip)
    if block.lang == "python":
        r = subprocess.run([sys.executable, "-c", block.text], cwd=workdir, env=_env(workdir),
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        return
    if block.lang == "sh":
        steps = [(ln, []) for ln in block.text.splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
    else:
        steps = console_commands(block.text)
    assert steps, f"{block.id} holds no command"
    made = set()
    for command, _ in steps:                       # skip before running any of them
        _prepare(_reduced(block, command), workdir, made)
        words = _words(command)
        made.update(w for i, w in enumerate(words) if i > 0 and words[i - 1] == ">")
    for command, expected in steps:
        reduced = _reduced(block, command)
        _needs_models(reduced, workdir)
        _check(block, reduced, expected, _run(reduced, workdir))


def _reduced(block, command):
    for old, new in block.replace:
        command = command.replace(old, new)
    return command


def test_the_checks_catch_a_changed_interface():
    def ran(stdout, stderr=""):
        return subprocess.CompletedProcess([], 0, stdout=stdout, stderr=stderr)

    shape_block = Block("console", "", 1)
    _check(shape_block, "c", ["a 5  b 6", "total 7"], ran("a 1 b 2\n", "total 3\n"))
    _check(shape_block, "c", ["a 5  b 6", "..."], ran("a 1 b 2\ntotal 3\n"))
    with pytest.raises(AssertionError, match="does not show"):
        _check(shape_block, "c", ["a 5  b 6"], ran("a 1 b 2\ntotal 3\n"))
    with pytest.raises(AssertionError, match="no longer prints"):
        _check(shape_block, "c", ["a 5  c 6", "..."], ran("a 1 b 2\n"))
    json_block = Block("console", "", 1, check="json")
    _check(json_block, "c", ['{"n": ..., "e": {"f1": ...}}'],
           ran('{"n": 1, "e": {"f1": 0.5, "p": 1}}'))
    with pytest.raises(AssertionError, match="keys of 'e'"):
        _check(json_block, "c", ['{"e": {"f1": ...}}'], ran('{"e": {"F1": 0.5}}'))
    lines_block = Block("console", "", 1, check="lines")
    with pytest.raises(AssertionError, match="printed 3 lines"):
        _check(lines_block, "c", ["x", "y"], ran("p\nq\nr\n"))


def test_long_budgets_are_refused():
    assert _budget("charlm train x.txt --time 10m -o a.npz") == 600
    assert _budget("charlm train --time=5") == 5 and _budget("charlm train") == 0
    with pytest.raises(AssertionError, match="would train for 600 s"):
        _run("charlm train x.txt --time 600", ROOT)
