import json
import zipfile

import numpy as np
import pytest

from charlm.store import modelfile
from charlm.errors import ModelFileError
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.text.tokens import TextConfig
from charlm.text.vocab import Vocab


def make_bundle(rng, dtype=np.float32, **kw):
    vocab = Vocab(["<eos>", "<unk>", "a", "b", "c"])
    cfg = ModelConfig(vocab_size=len(vocab), **{"hidden": 6, "layers": 2, **kw})
    return modelfile.Bundle(LanguageModel.create(cfg, rng, dtype), vocab,
                            TextConfig(level="char"), training={"steps": 3})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [{}, {"embed": 3, "cell": "gru"}, {"cell": "rnn", "layers": 1}])
def test_round_trip_is_bit_for_bit(tmp_path, rng, dtype, kw):
    b = make_bundle(rng, dtype, **kw)
    path = tmp_path / "m.npz"
    modelfile.save(path, b)
    got = modelfile.load(path)
    assert got.model.config == b.model.config
    assert got.vocab.tokens == b.vocab.tokens
    assert got.text == b.text and got.training == {"steps": 3}
    for k, a in b.model.params.items():
        assert got.model.params[k].dtype == a.dtype
        assert got.model.params[k].tobytes() == a.tobytes()


def test_file_is_plain_npz_without_pickle(tmp_path, rng):
    path = tmp_path / "m.npz"
    modelfile.save(path, make_bundle(rng))
    with np.load(path, allow_pickle=False) as z:
        assert "layer1.W_aa" in z.files
        header = json.loads(z["header.json"])       # a non-.npy member: raw bytes
    assert header["format"] == "charlm" and header["version"] == 1


def test_atomic_write_keeps_old_file_on_failure(tmp_path, rng, monkeypatch):
    path = tmp_path / "m.npz"
    modelfile.save(path, make_bundle(rng))
    before = path.read_bytes()

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", boom)
    with pytest.raises(KeyboardInterrupt):
        modelfile.save(path, make_bundle(rng))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]      # no temporary left


@pytest.mark.parametrize("content,message", [
    (b"hello", "not a zip"),
    (None, "no such model file"),
])
def test_bad_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        modelfile.load(path)


def test_wrong_shape_and_foreign_npz_are_refused(tmp_path, rng):
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ModelFileError, match="not a charlm model"):
        modelfile.load(tmp_path / "other.npz")
    path = tmp_path / "m.npz"
    modelfile.save(path, make_bundle(rng))
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    header = json.loads(members["header.json"])
    header["model"]["hidden"] = 7
    members["header.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    with pytest.raises(ModelFileError, match="shape"):
        modelfile.load(path)


def test_default_model_path(monkeypatch):
    monkeypatch.delenv("CHARLM_MODEL", raising=False)
    assert modelfile.default_model_path() == "model.npz"
    monkeypatch.setenv("CHARLM_MODEL", "/x/y.npz")
    assert modelfile.default_model_path() == "/x/y.npz"
