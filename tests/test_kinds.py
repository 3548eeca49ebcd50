"""The registry of model kinds (charlm/store/kinds.py): a kind registered from outside
the store is read, validated, described and refused like the built-in ones, and the
store imports nothing of the models that register with it."""

import json
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest
from click.testing import CliRunner

from charlm.cli.app import cli
from charlm.errors import ModelFileError
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.store import archive, info, kinds, modelfile, tagfile, validate
from charlm.store.validate import ArraySpec, Invalid
from charlm.text.tokens import TextConfig
from charlm.text.vocab import Vocab


class Toy:
    """A model of a kind charlm does not ship: one weight matrix of n × n."""

    def __init__(self, n, params):
        self.n, self.params = n, params
        self.dtype = params["W"].dtype


@dataclass
class ToyBundle:
    model: Toy
    kind: str = "toy"
    header: dict = field(default_factory=dict)


def _layout(header):
    n = validate.field_of(header, "n", int)
    if not 1 <= n <= 64:
        raise Invalid(f"header.n = {n} is out of range")
    return validate.Layout({"W": ArraySpec((n, n), ("float32",))}, parsed={"n": n})


def _rebuild(header, arrays, parsed):
    return ToyBundle(Toy(parsed["n"], arrays), header=header)


def _describe(bundle):
    return {"equations": ["ŷ = W x"], "gates": [],
            "arrays": info.arrays_of(bundle.model.params, lambda name: "the [toy] weights")}


def _summary(d):
    return info.Summary(head=[f"toy     n = {d['arrays'][0]['shape'][0]}"], gates="gates",
                        tail=["the end"])


@pytest.fixture
def toy_kind():
    kinds.register(kinds.Kind(name="toy", family="toy", noun="toy model", layout=_layout,
                              rebuild=_rebuild, describe=_describe, summary=_summary))
    yield
    kinds.unregister("toy")


def _write_toy(path, n=3, shape=None):
    archive.write(path, "toy", {"n": n},
                  {"W": np.arange((shape or (n, n))[0] * (shape or (n, n))[1],
                                  dtype=np.float32).reshape(shape or (n, n))})


def test_a_kind_registered_from_outside_is_read_and_rebuilt(tmp_path, toy_kind):
    path = tmp_path / "toy.npz"
    _write_toy(path)
    kind, bundle = kinds.read(path)
    assert kind.name == "toy" and kind.family == "toy"
    assert isinstance(bundle.model, Toy) and bundle.model.params["W"].shape == (3, 3)
    assert "toy" in kinds.names() and kinds.family_of("toy") == "toy"


def test_a_registered_kind_is_validated_before_it_is_rebuilt(tmp_path, toy_kind):
    path = tmp_path / "toy.npz"
    _write_toy(path, n=3, shape=(3, 4))
    with pytest.raises(ModelFileError, match=r"toy.npz: array 'W' has shape \(3, 4\), "
                                             r"expected \(3, 3\)"):
        kinds.read(path)
    _write_toy(path, n=99, shape=(2, 2))
    with pytest.raises(ModelFileError, match=r"header.n = 99 is out of range"):
        kinds.read(path)


def test_other_loaders_refuse_a_new_kind_in_one_line(tmp_path, toy_kind):
    path = tmp_path / "toy.npz"
    _write_toy(path)
    with pytest.raises(ModelFileError, match="is a toy file, not a language model"):
        modelfile.load(path)
    with pytest.raises(ModelFileError, match="is a toy model, not a tagger"):
        tagfile.load(path)
    out = CliRunner().invoke(cli, ["generate", "-m", str(path)])
    assert out.exit_code == 1 and "is a toy file, not a language model" in out.output


def test_an_unregistered_kind_names_the_kinds_this_charlm_reads(tmp_path):
    path = tmp_path / "toy.npz"
    _write_toy(path)
    with pytest.raises(ModelFileError, match=r"unknown kind of file 'toy' \(this charlm "
                                             r"reads checkpoint, classifier, "
                                             r"classifier-checkpoint, model, tagger, "
                                             r"tagger-checkpoint\)"):
        kinds.read(path)


def test_info_draws_a_new_kind_from_its_description(tmp_path, toy_kind):
    path = tmp_path / "toy.npz"
    _write_toy(path)
    out = CliRunner().invoke(cli, ["info", str(path)])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith(f"{path}: charlm toy, format version 1")
    assert lines[1:5] == ["toy     n = 3", "equations", "  ŷ = W x", "gates: "]
    assert "the [toy] weights" in out.output          # drawn as text, never as markup
    assert lines[-1] == "the end"
    d = json.loads(CliRunner().invoke(cli, ["info", "--format", "json", str(path)]).output)
    assert d["kind"] == "toy" and d["arrays"][0]["shape"] == [3, 3]


def test_the_store_imports_no_model_and_finds_every_kind_when_reading(tmp_path, rng):
    vocab = Vocab(["<eos>", "<unk>", "a", "b"])
    cfg = ModelConfig(vocab_size=len(vocab), hidden=4, layers=1)
    path = tmp_path / "m.npz"
    modelfile.save(path, modelfile.Bundle(LanguageModel.create(cfg, rng), vocab,
                                          TextConfig(level="char")))
    code = (
        "import sys\n"
        "from charlm.store import archive, info, kinds, modelfile, tagfile, validate\n"
        "above = ('charlm.lm', 'charlm.tagger', 'charlm.classifier', 'charlm.training',\n"
        "         'charlm.cli')\n"
        "print(sorted(m for m in sys.modules if m.startswith(above)))\n"
        f"b = modelfile.load({str(path)!r})\n"
        "print(type(b.model).__name__, kinds.names())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "[]", "LanguageModel ['checkpoint', 'classifier', 'classifier-checkpoint', 'model', "
              "'tagger', 'tagger-checkpoint']"]


def test_evaluate_dispatches_on_the_kind_of_the_model_file(tmp_path, toy_kind, monkeypatch):
    from charlm.cli import evaluate_cmd

    seen = []
    monkeypatch.setitem(evaluate_cmd.EVALUATORS, "toy", (
        lambda gold, model_path, fmt, encoding_errors: seen.append(
            (gold, model_path, fmt, encoding_errors)), ("encoding_errors",)))
    path, gold = tmp_path / "toy.npz", tmp_path / "gold.txt"
    _write_toy(path)
    gold.write_text("x\n")
    out = CliRunner().invoke(cli, ["evaluate", "-m", str(path), "--format", "json", str(gold)])
    assert out.exit_code == 0, out.output
    assert seen == [(str(gold), str(path), "json", "strict")]
    out = CliRunner().invoke(cli, ["evaluate", "-m", str(path), "--from-text", str(gold)])
    assert out.exit_code == 2 and "--from-text does not apply to a toy" in out.output
    assert len(seen) == 1
    # a language model has no evaluator: the tagger's loader refuses it in one line
    vocab = Vocab(["<eos>", "<unk>", "a", "b"])
    cfg = ModelConfig(vocab_size=len(vocab), hidden=4, layers=1)
    lm = tmp_path / "lm.npz"
    modelfile.save(lm, modelfile.Bundle(LanguageModel.create(cfg, np.random.default_rng(1)),
                                        vocab, TextConfig(level="char")))
    out = CliRunner().invoke(cli, ["evaluate", "-m", str(lm), str(gold)])
    assert out.exit_code == 1
    assert out.output.strip() == (f"Error: {lm}: is a language model, not a tagger; train a "
                                  "tagger with `charlm train-tagger` (or leave out -m for "
                                  "the bundled English tagger)")
