"""docs/model-format.md is enough to reproduce `charlm score` from the raw file:
this test reads the archive with numpy.load alone and recomputes line
log-probabilities with the naive per-gate equations of the document."""

import json

import numpy as np
import pytest

from charlm.store import modelfile
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.lm.scoring import score_lines
from charlm.text.tokens import TextConfig
from charlm.text.vocab import Vocab
from reference import gru_step, lstm_step, rnn_step, split_gates

GATES = {"rnn": ("a",), "gru": ("u", "r", "c"), "lstm": ("u", "f", "o", "c")}
STEP = {"rnn": rnn_step, "gru": gru_step, "lstm": lstm_step}


def port_logprob(path, line):
    z = np.load(path, allow_pickle=False)
    h = json.loads(z["header.json"])
    W = {k: z[k].astype(np.float64) for k in h["arrays"]}
    m, vocab = h["model"], h["vocab"]["tokens"]
    H, V = m["hidden"], m["vocab_size"]
    ids = [vocab.index(c) if c in vocab else 1 for c in line]
    inputs, targets = [0] + ids, ids + [0]
    n_state = 2 if m["cell"] == "lstm" else 1
    state = [[np.zeros((H, 1)) for _ in range(n_state)] for _ in range(m["layers"])]
    total = 0.0
    for x_id, y_id in zip(inputs, targets):
        x = np.zeros((V, 1))                           # a one-hot column
        if x_id != 0:                                  # EOS input: x⟨1⟩ = 0
            x[x_id, 0] = 1.0
        inp = W["W_ex"] @ x if m["embed"] else x
        for layer in range(m["layers"]):
            p = f"layer{layer + 1}."
            gates = split_gates(W[p + "W_aa"], W[p + "W_ax"], W[p + "b_a"],
                                GATES[m["cell"]], H)
            out = STEP[m["cell"]](inp, *state[layer], gates)
            state[layer] = list(out) if isinstance(out, tuple) else [out]
            inp = state[layer][0]
        logits = W["W_ya"] @ inp + W["b_y"][:, None]
        logits -= logits.max()
        total += logits[y_id, 0] - np.log(np.exp(logits).sum())
    return total


@pytest.mark.parametrize("cell,embed", [("lstm", 0), ("gru", 3), ("rnn", 0), ("lstm", 4)])
def test_port_reproduces_score(tmp_path, rng, cell, embed):
    vocab = Vocab(["<eos>", "<unk>", "a", "b", "c", " "])
    cfg = ModelConfig(vocab_size=len(vocab), cell=cell, hidden=6, layers=2, embed=embed)
    model = LanguageModel.create(cfg, rng)
    for p in model.params.values():
        p += rng.standard_normal(p.shape).astype(p.dtype) * 0.3
    path = tmp_path / "m.npz"
    modelfile.save(path, modelfile.Bundle(model, vocab, TextConfig()))
    b = modelfile.load(path)
    for line in ["abc", "c a b", "", "azb"]:
        ours = next(score_lines(b.model, b.vocab, b.text, [line])).total
        assert port_logprob(path, line) == pytest.approx(ours, abs=1e-4)
