"""What a model file holds, as a plain dict (``charlm info`` renders it).

Each parameter is listed with its shape and its place in the notes' equations, the
stacked W_a = [W_aa | W_ax] of every layer included, so a reader can map every
equation of the cell to an array in the file.
"""

from __future__ import annotations

import math
import os

from charlm.errors import ModelFileError
from charlm.store import archive, modelfile, tagfile, validate

EQUATIONS = {
    "rnn": ["a⟨t⟩ = tanh(W_aa a⟨t-1⟩ + W_ax x⟨t⟩ + b_a)"],
    "gru": ["Γ_u = σ(W_u [c⟨t-1⟩, x⟨t⟩] + b_u)",
            "Γ_r = σ(W_r [c⟨t-1⟩, x⟨t⟩] + b_r)",
            "c̃⟨t⟩ = tanh(W_c [Γ_r * c⟨t-1⟩, x⟨t⟩] + b_c)",
            "c⟨t⟩ = Γ_u * c̃⟨t⟩ + (1 - Γ_u) * c⟨t-1⟩,  a⟨t⟩ = c⟨t⟩"],
    "lstm": ["Γ_u = σ(W_u [a⟨t-1⟩, x⟨t⟩] + b_u)",
             "Γ_f = σ(W_f [a⟨t-1⟩, x⟨t⟩] + b_f)",
             "Γ_o = σ(W_o [a⟨t-1⟩, x⟨t⟩] + b_o)",
             "c̃⟨t⟩ = tanh(W_c [a⟨t-1⟩, x⟨t⟩] + b_c)",
             "c⟨t⟩ = Γ_u * c̃⟨t⟩ + Γ_f * c⟨t-1⟩",
             "a⟨t⟩ = Γ_o * tanh(c⟨t⟩)"],
}
OUTPUT_EQUATION = "ŷ⟨t⟩ = softmax(W_ya a⟨t⟩ + b_y)"
GATE_NAMES = {"a": "a (tanh)", "u": "Γ_u update", "r": "Γ_r relevance", "f": "Γ_f forget",
              "o": "Γ_o output", "c": "c̃ candidate"}


def _meaning(name, cfg):
    if name == "W_ex":
        return "embedding: e⟨t⟩ = W_ex x⟨t⟩"
    if name == "W_ya":
        return "output projection"
    if name == "b_y":
        return "output bias"
    layer, short = name.split(".")
    inp = ("x⟨t⟩ (one-hot)" if not cfg.embed else "e⟨t⟩") if layer == "layer1" \
        else f"a⟨t⟩ of layer {int(layer[5:]) - 1}"
    gates = ", ".join(cfg.cell_spec.gates)
    return {"W_aa": f"recurrent weights, gates {gates} stacked by rows",
            "W_ax": f"input weights on {inp}, gates {gates} stacked by rows",
            "b_a": f"biases, gates {gates}"}[short]


def _kind(path):
    """The kind a file's header names, or None when it has no readable header (then
    the language model's loader explains what is wrong)."""
    try:
        return validate.read_header(path).get("kind")
    except (ModelFileError, OSError):
        return None


def describe(path):
    """A dict describing the model file, tagger or checkpoint at ``path``."""
    if _kind(path) in archive.TAGGER_KINDS:
        return describe_tagger(path)
    b = modelfile.load(path)
    cfg, vocab, text = b.model.config, b.vocab, b.text
    H = cfg.hidden
    params = []
    for name, a in b.model.params.items():
        params.append({"name": name, "shape": list(a.shape), "size": int(a.size),
                       "meaning": _meaning(name, cfg)})
    stacked = []
    for layer in range(1, cfg.layers + 1):
        GH = cfg.cell_spec.width(H)
        D = cfg.input_width(layer)
        stacked.append({"layer": layer, "name": f"layer{layer}.W_a = [W_aa | W_ax]",
                        "shape": [GH, H + D]})
    gates = [{"gate": g, "name": GATE_NAMES[g], "rows": [k * H, (k + 1) * H]}
             for k, g in enumerate(cfg.cell_spec.gates)]
    counts = vocab.counts or []
    frequent = [t for t, c in sorted(zip(vocab.tokens[2:], counts[2:]),
                                     key=lambda tc: -tc[1])[:12]] if counts else vocab.tokens[2:14]
    training = {k: v for k, v in b.training.items() if k != "resume"}
    best = training.get("best_val_loss")
    if best is not None:
        training["best_val_bits"] = best / math.log(2)
        if text.level == "word":
            training["best_val_perplexity"] = math.exp(min(best, 700))
    out = {
        "file": str(path),
        "bytes": os.path.getsize(path),
        "format": b.header.get("format"),
        "version": b.header.get("version"),
        "kind": b.kind,
        "charlm_version": b.header.get("charlm_version"),
        "dtype": str(b.model.dtype),
        "text": text.to_dict(),
        "model": {**cfg.to_dict(), "parameters": cfg.num_params()},
        "equations": EQUATIONS[cfg.cell] + [OUTPUT_EQUATION],
        "gates": gates,
        "arrays": params,
        "stacked": stacked,
        "vocab": {"size": len(vocab), "eos": vocab.tokens[0], "eos_id": vocab.eos_id,
                  "unk": vocab.tokens[1], "unk_id": vocab.unk_id, "most_frequent": frequent},
        "training": training,
    }
    if b.kind == "checkpoint":
        resume = b.training.get("resume", {})
        st = resume.get("state", {})
        out["resume"] = {"step": st.get("step"), "epoch": st.get("epoch"),
                         "window": st.get("window"), "elapsed": st.get("elapsed"),
                         "lr_scale": st.get("lr_scale"),
                         "output": resume.get("run", {}).get("output"),
                         "optimizer_arrays": sorted(k for k in b.extra if k.startswith("optimizer/"))[:4]}
    return out


# --- taggers -------------------------------------------------------------------------

def _tagger_meaning(name, cfg):
    if name == "W_ex":
        return "word embedding: W_ex w⟨t⟩"
    if name == "char.W_ce":
        return "character embedding"
    if name == "W_y":
        return "output projection: W_y [a→⟨t⟩; a←⟨t⟩]"
    if name == "b_y":
        return "output bias"
    if name == "crf.trans":
        return "CRF transition scores trans[i, j], tag i → tag j"
    if name == "crf.start":
        return "CRF score of each tag opening a sentence"
    if name == "crf.end":
        return "CRF score of each tag closing a sentence"
    prefix, d, short = name.split(".")
    arrow = "a→" if d == "fw" else "a←"
    where = ("character BiRNN" if prefix == "char" else f"layer {prefix[5:]}")
    inp = ("the character embedding" if prefix == "char" else
           "x⟨t⟩ = [W_ex w⟨t⟩; χ⟨t⟩]" if prefix == "layer1" else
           f"[a→; a←] of layer {int(prefix[5:]) - 1}")
    gates = ", ".join(cfg.cell_spec.gates)
    return {"W_aa": f"{where}, {arrow}: recurrent weights, gates {gates} stacked by rows",
            "W_ax": f"{where}, {arrow}: input weights on {inp}",
            "b_a": f"{where}, {arrow}: biases, gates {gates}"}[short]


def describe_tagger(path):
    """A dict describing a tagger or its checkpoint, in the notes' notation."""
    b = tagfile.load(path)
    cfg, vocab = b.model.config, b.vocab
    cell = cfg.cell.upper()
    equations = [
        f"χ⟨t⟩ = [a→⟨len⟩; a←⟨1⟩] of a character Bi{cell} (H_c = {cfg.char_hidden}) "
        "over the word's characters",
        "x⟨t⟩ = [W_ex w⟨t⟩; χ⟨t⟩]",
        f"a→⟨t⟩ = {cell}→(a→⟨t-1⟩, x⟨t⟩)      left to right",
        f"a←⟨t⟩ = {cell}←(a←⟨t+1⟩, x⟨t⟩)      right to left, within the sentence",
    ]
    if cfg.layers > 1:
        equations.append(f"layers 2..{cfg.layers}: the same over [a→⟨t⟩; a←⟨t⟩] of the "
                         "layer below")
    equations += ["each direction's cell:"] + ["  " + e for e in EQUATIONS[cfg.cell]]
    if cfg.crf:
        equations += ["s⟨t⟩ = W_y [a→⟨t⟩; a←⟨t⟩] + b_y",
                      "p(y | x) ∝ exp(start[y⟨1⟩] + Σ_t s⟨t⟩[y⟨t⟩] + Σ_t trans[y⟨t-1⟩, y⟨t⟩] "
                      "+ end[y⟨T_x⟩])   (linear-chain CRF)"]
    else:
        equations.append("ŷ⟨t⟩ = softmax(W_y [a→⟨t⟩; a←⟨t⟩] + b_y)")
    arrays = [{"name": n, "shape": list(a.shape), "size": int(a.size),
               "meaning": _tagger_meaning(n, cfg)} for n, a in b.model.params.items()]
    training = {k: v for k, v in b.training.items() if k != "resume"}
    out = {
        "file": str(path), "bytes": os.path.getsize(path),
        "format": b.header.get("format"), "version": b.header.get("version"),
        "kind": b.kind, "charlm_version": b.header.get("charlm_version"),
        "dtype": str(b.model.dtype), "tagging": b.tagging,
        "model": {**cfg.to_dict(), "parameters": cfg.num_params()},
        "equations": equations,
        "gates": [{"gate": g, "name": GATE_NAMES[g], "rows": [k * cfg.hidden, (k + 1) * cfg.hidden]}
                  for k, g in enumerate(cfg.cell_spec.gates)],
        "arrays": arrays,
        "vocab": {"words": len(vocab.words), "chars": len(vocab.chars),
                  "tags": list(vocab.tags), "lowercase": vocab.lowercase,
                  "most_frequent": vocab.words[2:14]},
        "training": training,
    }
    if b.kind == "tagger-checkpoint":
        st = b.training.get("resume", {}).get("state", {})
        out["resume"] = {"step": st.get("step"), "epoch": st.get("epoch"),
                         "window": st.get("window"), "elapsed": st.get("elapsed")}
    return out
