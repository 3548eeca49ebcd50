"""A model file is untrusted input: damaged, cut short, foreign, newer or malicious
files give one clear line (ModelFileError; exit 1 on the command line), never a
traceback, never a hang, and never run code. A fuzz test mutates real model files and
checkpoints and holds every load to that."""

import io
import json
import os
import pickle
import time
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charlm.cli.app import cli
from charlm.errors import ModelFileError
from charlm.lm import session
from charlm.store import modelfile
from charlm.text.tokens import TextConfig
from charlm.training.trainer import TrainConfig


class Files(dict):
    def __repr__(self):                 # keeps hypothesis' reports readable
        return "Files(model, checkpoint)"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """{kind: bytes} of a small trained model file and its checkpoint."""
    d = tmp_path_factory.mktemp("safety")
    corpus = d / "c.txt"
    corpus.write_text("\n".join(["anna", "bob", "carla", "dan", "eve"] * 8) + "\n")
    out = d / "m.npz"
    run = session.start([str(corpus)], TextConfig(), TrainConfig(steps=3, batch_size=4,
                                                                 seq_len=8, seed=1),
                        hidden=3, layers=2, output=str(out))
    for _ in run.trainer.run():
        pass
    return Files(model=out.read_bytes(), checkpoint=(d / "m.ckpt.npz").read_bytes())


def members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def rezip(m):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for n, data in m.items():
            z.writestr(n, data)
    return buf.getvalue()


def with_header(data, edit):
    m = members(data)
    header = json.loads(m["header.json"])
    edit(header)
    m["header.json"] = json.dumps(header).encode()
    return rezip(m)


def npy(a, allow_pickle=False):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


def all_arrays(bundle):
    return {**bundle.model.params, **bundle.extra}


def cli_fails_cleanly(path, capsys=None):
    """generate, score and info on ``path``: exit 1 and one line on stderr."""
    for args in (["generate", "-m", path, "-n", "1"], ["info", path],
                 ["score", "-m", path]):
        r = CliRunner().invoke(cli, [str(a) for a in args], input="abc\n",
                               catch_exceptions=False)
        assert r.exit_code == 1, (args, r.stderr)
        assert r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr


def test_bad_crc_inside_the_archive(tmp_path, files):
    data = bytearray(files["model"])
    at = data.find(b'"format"')                 # inside header.json's stored bytes
    data[at + 2] ^= 0x20
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged"):
        modelfile.load(path)
    cli_fails_cleanly(path)


def test_flipped_byte_in_an_array(tmp_path, files):
    m = members(files["model"])
    data = bytearray(files["model"])
    payload = m["layer1.W_aa.npy"]
    at = data.find(payload) + len(payload) - 3   # inside the array's data
    data[at] ^= 0xFF
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged"):
        modelfile.load(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated(tmp_path, files, keep):
    path = tmp_path / "cut.npz"
    path.write_bytes(files["checkpoint"][:int(len(files["checkpoint"]) * keep)])
    with pytest.raises(ModelFileError):
        modelfile.load(path)
    cli_fails_cleanly(path)


@pytest.mark.parametrize("content,message", [
    (b"", "not a charlm model file"),
    (b"\x00" * 1000, "not a charlm model file"),
    ("anna\nbob\n".encode(), "not a charlm model file"),
])
def test_wrong_format(tmp_path, content, message):
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        modelfile.load(path)
    cli_fails_cleanly(path)


def test_newer_version_and_unknown_kind(tmp_path, files):
    path = tmp_path / "new.npz"

    def newer(h):
        h["version"] = 2
    path.write_bytes(with_header(files["model"], newer))
    with pytest.raises(ModelFileError, match="newer charlm"):
        modelfile.load(path)
    cli_fails_cleanly(path)

    def kind(h):
        h["kind"] = "hologram"
    path.write_bytes(with_header(files["model"], kind))
    with pytest.raises(ModelFileError, match="unknown kind"):
        modelfile.load(path)


class _Marker:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("declared", ["float32", "object"])
def test_object_arrays_are_never_unpickled(tmp_path, files, declared):
    marker = tmp_path / "code-ran"
    evil = np.empty(1, dtype=object)
    evil[0] = _Marker(str(marker))
    m = members(files["model"])
    header = json.loads(m["header.json"])
    header["arrays"]["b_y"]["dtype"] = declared
    header["arrays"]["b_y"]["shape"] = [1]
    m["header.json"] = json.dumps(header).encode()
    m["b_y.npy"] = npy(evil, allow_pickle=True)
    assert b"code-ran" in m["b_y.npy"]             # the payload is really in the file
    path = tmp_path / "evil.npz"
    path.write_bytes(rezip(m))
    with pytest.raises(ModelFileError):
        modelfile.load(path)
    cli_fails_cleanly(path)
    assert not marker.exists()
    # The same payload declared with the right shape but stored as objects.
    m["header.json"] = members(files["model"])["header.json"]
    path.write_bytes(rezip(m))
    with pytest.raises(ModelFileError, match="objects|stored as"):
        modelfile.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("edit,message", [
    (lambda h: h["arrays"]["layer1.W_aa"].update(shape=[3, 3]), "shape"),
    (lambda h: h["arrays"]["W_ya"].update(dtype="float16"), "dtype"),
    (lambda h: h["arrays"].pop("b_y"), "missing"),
    (lambda h: h["arrays"].update({"extra": {"shape": [1], "dtype": "float32"}}),
     "unexpected array"),
    (lambda h: (h["vocab"]["tokens"].pop(), h["vocab"].pop("counts")), "vocabulary has"),
    (lambda h: h["vocab"]["counts"].pop(), "counts does not match"),
    (lambda h: h["vocab"]["tokens"].__setitem__(3, h["vocab"]["tokens"][2]), "twice"),
    (lambda h: h["model"].update(hidden="3"), "wrong type"),
    (lambda h: h["model"].update(cell="transformer"), "unknown cell"),
    (lambda h: h["model"].update(layers=-1), "out of range"),
    (lambda h: h["text"].update(level="byte"), "level"),
    (lambda h: h.update(dtype="int8"), "float32 or float64"),
    (lambda h: h.pop("vocab"), "lacks 'vocab'"),
])
def test_header_is_checked_before_use(tmp_path, files, edit, message):
    path = tmp_path / "h.npz"
    path.write_bytes(with_header(files["model"], edit))
    with pytest.raises(ModelFileError, match=message):
        modelfile.load(path)


def test_checkpoint_groups_must_be_whole(tmp_path, files):
    m = members(files["checkpoint"])
    header = json.loads(m["header.json"])
    del header["arrays"]["optimizer/v/b_y"]
    m["header.json"] = json.dumps(header).encode()
    path = tmp_path / "c.npz"
    path.write_bytes(rezip(m))
    with pytest.raises(ModelFileError, match="optimizer state is incomplete"):
        modelfile.load(path)


# --- fuzzing ---------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6),
                                                                       children, max_size=3),
    max_leaves=6)


def _containers(node, path=()):
    """Every (path, container) inside a JSON value."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _containers(v, path + (k,))
    elif isinstance(node, list):
        yield path, node
        for i, v in enumerate(node[:20]):             # the vocabulary can be long
            yield from _containers(v, path + (i,))


@st.composite
def mutations(draw, original):
    """(mutated bytes, {name: array} the file now holds instead of the original's)."""
    how = draw(st.sampled_from(["truncate", "flip", "header", "shape", "array", "append"]))
    data = original
    replaced = {}
    if how == "truncate":
        return data[:draw(st.integers(0, len(data) - 1))], replaced
    if how == "flip":
        b = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            b[draw(st.integers(0, len(b) - 1))] ^= draw(st.integers(1, 255))
        return bytes(b), replaced
    if how == "append":
        return data + draw(st.binary(min_size=1, max_size=64)), replaced
    m = members(data)
    header = json.loads(m["header.json"])
    if how == "header":
        places = list(_containers(header))
        _, node = places[draw(st.integers(0, len(places) - 1))]
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if keys and draw(st.booleans()):
            key = keys[draw(st.integers(0, len(keys) - 1))]
            if draw(st.booleans()):
                del node[key]
            else:
                node[key] = draw(JSON_VALUES)
        elif isinstance(node, dict):
            node[draw(st.text(max_size=6))] = draw(JSON_VALUES)
        else:
            node.append(draw(JSON_VALUES))
    elif how == "shape":
        name = draw(st.sampled_from(sorted(header["arrays"])))
        entry = header["arrays"][name]
        if draw(st.booleans()):
            shape = entry["shape"]
            if shape and draw(st.booleans()):
                i = draw(st.integers(0, len(shape) - 1))
                shape[i] = draw(st.integers(0, 2**41))
            else:
                entry["shape"] = draw(st.lists(st.integers(0, 9), max_size=3))
        else:
            entry["dtype"] = draw(st.sampled_from(
                ["float16", "float64", "float32", "int64", "object", "<U3", "uint8", "|V4"]))
    else:                   # replace one array's member with another array
        name = draw(st.sampled_from(sorted(header["arrays"])))
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=2)))
        kind = draw(st.sampled_from(["float32", "float64", "int32", "uint64", "object"]))
        a = np.zeros(shape, dtype=kind)
        m[name + ".npy"] = npy(a, allow_pickle=kind == "object")
        replaced[name] = a
        if draw(st.booleans()):
            header["arrays"][name] = {"shape": list(shape), "dtype": kind}
    m["header.json"] = json.dumps(header).encode()
    return rezip(m), replaced


# CHARLM_FUZZ_EXAMPLES=5000 runs a longer, random fuzz; the suite runs a fixed 150.
FUZZ_EXAMPLES = int(os.environ.get("CHARLM_FUZZ_EXAMPLES", 0))


@pytest.mark.parametrize("kind", ["model", "checkpoint"])
@settings(max_examples=FUZZ_EXAMPLES or 150, deadline=None, derandomize=not FUZZ_EXAMPLES,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_fuzzed_files_load_intact_or_fail_cleanly(tmp_path, files, kind, data):
    original = files[kind]
    path = tmp_path / f"fuzz-{kind}.npz"
    if not hasattr(test_fuzzed_files_load_intact_or_fail_cleanly, "reference"):
        test_fuzzed_files_load_intact_or_fail_cleanly.reference = {}
    refs = test_fuzzed_files_load_intact_or_fail_cleanly.reference
    if kind not in refs:
        path.write_bytes(original)
        refs[kind] = {k: (a.dtype, a.shape, a.tobytes())
                      for k, a in all_arrays(modelfile.load(path)).items()}
    mutated, replaced = data.draw(mutations(original))
    path.write_bytes(mutated)
    t0 = time.monotonic()
    try:
        b = modelfile.load(path)
    except ModelFileError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)
    else:
        got = all_arrays(b)
        for name in b.model.params:
            assert name in got
        for name, a in got.items():              # every array is the one in the file
            want = replaced.get(name)
            want = refs[kind][name] if want is None else (want.dtype, want.shape,
                                                          want.tobytes())
            assert want == (a.dtype, a.shape, a.tobytes()), name
    assert time.monotonic() - t0 < 10


def test_loading_never_unpickles(monkeypatch, tmp_path, files):
    """Belt and braces: pickle is never called while loading."""
    def refuse(*a, **k):
        raise AssertionError("pickle used")
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    for kind, data in files.items():
        path = tmp_path / f"{kind}.npz"
        path.write_bytes(data)
        modelfile.load(path)
    assert os.path.exists(path)


def test_a_huge_declared_shape_is_refused_before_allocating(tmp_path, files):
    """A checkpoint's carried state may have any number of columns: a small file that
    claims 2**40 of them must be refused, not allocated."""
    m = members(files["checkpoint"])
    header = json.loads(m["header.json"])
    H = header["model"]["hidden"]
    header["arrays"]["carried/layer1.a"]["shape"] = [H, 2**40 - 1]
    m["header.json"] = json.dumps(header).encode()
    fake = bytearray(npy(np.zeros((H, 1), dtype=np.float32)))
    fake = fake.replace(f"({H}, 1)".encode(), f"({H}, {2**40 - 1})".encode())
    m["carried/layer1.a.npy"] = bytes(fake)
    path = tmp_path / "huge.npz"
    path.write_bytes(rezip(m))
    with pytest.raises(ModelFileError, match="smaller than its declared shape"):
        modelfile.load(path)


@pytest.mark.parametrize("edit,message", [
    (lambda r: r["config"].update(lr="fast"), r"training\.resume\.config\.lr has the wrong"),
    (lambda r: r["state"].update(step=None), r"training\.resume\.state\.step has the wrong"),
    (lambda r: r["run"].pop("output"), "lacks its resume information"),
])
def test_resume_checks_the_saved_settings(tmp_path, files, edit, message):
    path = tmp_path / "c.npz"
    path.write_bytes(with_header(files["checkpoint"],
                                 lambda h: edit(h["training"]["resume"])))
    with pytest.raises(ModelFileError, match=message) as e:
        session.resume(str(path))
    assert str(e.value).startswith(str(path))
