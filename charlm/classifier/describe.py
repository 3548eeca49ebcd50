"""What a classifier file holds, as a plain dict in the notes' notation (``charlm
info`` renders it): the many-to-one equations, the gate rows of the fused matrices and
every array with its shape and meaning."""

from __future__ import annotations

import os

from charlm.classifier import file as classfile
from charlm.store.info import EQUATIONS as CELL_EQUATIONS, GATE_NAMES

POOL_TERMS = {"last": ("[a→⟨T_x⟩; a←⟨1⟩]", "a⟨T_x⟩"),
              "max": ("max_t [a→⟨t⟩; a←⟨t⟩]", "max_t a⟨t⟩"),
              "mean": ("mean_t [a→⟨t⟩; a←⟨t⟩]", "mean_t a⟨t⟩")}


def pooled(cfg):
    """h as the notes would write it, e.g. "[a→⟨T_x⟩; a←⟨1⟩; max_t [a→⟨t⟩; a←⟨t⟩]]"."""
    k = 0 if cfg.bidirectional else 1
    terms = [POOL_TERMS[m][k] for m in cfg.modes]
    return terms[0] if len(terms) == 1 else "[" + "; ".join(terms) + "]"


def equations(cfg):
    cell = cfg.cell.upper()
    unit = "x⟨t⟩ = W_ex (one-hot token t)"
    out = [unit]
    if cfg.bidirectional:
        out += [f"a→⟨t⟩ = {cell}→(a→⟨t-1⟩, x⟨t⟩)      t = 1 .. T_x, left to right",
                f"a←⟨t⟩ = {cell}←(a←⟨t+1⟩, x⟨t⟩)      t = T_x .. 1, right to left"]
    else:
        out.append(f"a⟨t⟩ = {cell}(a⟨t-1⟩, x⟨t⟩)      t = 1 .. T_x")
    if cfg.layers > 1:
        out.append(f"layers 2..{cfg.layers}: the same over the states of the layer below")
    out += ["each direction's cell:"] + ["  " + e for e in CELL_EQUATIONS[cfg.cell]]
    out += [f"h = {pooled(cfg)}      T_x: the line's own length (padding never reaches h)",
            "ŷ = softmax(W_y h + b_y)      one distribution over the labels per line"]
    return out


def _meaning(name, cfg):
    if name == "W_ex":
        return "token embedding: x⟨t⟩ = W_ex (one-hot token t)"
    if name == "W_y":
        return f"output projection: W_y h, h = {pooled(cfg)}"
    if name == "b_y":
        return "output bias"
    layer, d, short = name.split(".")
    arrow = ("a→" if d == "fw" else "a←") if cfg.bidirectional else "a"
    inp = "x⟨t⟩" if layer == "layer1" else f"the states of layer {int(layer[5:]) - 1}"
    gates = ", ".join(cfg.cell_spec.gates)
    where = f"layer {layer[5:]}, {arrow}"
    return {"W_aa": f"{where}: recurrent weights, gates {gates} stacked by rows",
            "W_ax": f"{where}: input weights on {inp}",
            "b_a": f"{where}: biases, gates {gates}"}[short]


def describe(path):
    """A dict describing a classifier or its checkpoint."""
    b = classfile.load(path)
    cfg, vocab = b.model.config, b.vocab
    counts = vocab.counts or []
    frequent = ([t for t, _ in sorted(zip(vocab.tokens[2:], counts[2:]),
                                      key=lambda tc: -tc[1])[:12]] if counts
                else vocab.tokens[2:14])
    training = {k: v for k, v in b.training.items() if k != "resume"}
    out = {
        "file": str(path), "bytes": os.path.getsize(path),
        "format": b.header.get("format"), "version": b.header.get("version"),
        "kind": b.kind, "charlm_version": b.header.get("charlm_version"),
        "dtype": str(b.model.dtype), "text": b.text.to_dict(),
        "model": {**cfg.to_dict(), "parameters": cfg.num_params()},
        "equations": equations(cfg),
        "gates": [{"gate": g, "name": GATE_NAMES[g],
                   "rows": [k * cfg.hidden, (k + 1) * cfg.hidden]}
                  for k, g in enumerate(cfg.cell_spec.gates)],
        "arrays": [{"name": n, "shape": list(a.shape), "size": int(a.size),
                    "meaning": _meaning(n, cfg)} for n, a in b.model.params.items()],
        "vocab": {"tokens": len(vocab.tokens), "labels": list(vocab.labels),
                  "label_counts": list(vocab.label_counts), "most_frequent": frequent},
        "training": training,
    }
    if b.kind == "classifier-checkpoint":
        st = b.training.get("resume", {}).get("state", {})
        out["resume"] = {"step": st.get("step"), "epoch": st.get("epoch"),
                         "window": st.get("window"), "elapsed": st.get("elapsed")}
    return out
