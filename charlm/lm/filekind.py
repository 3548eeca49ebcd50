"""The language model's kinds of file, ``model`` and ``checkpoint``, registered with
the store (:mod:`charlm.store.kinds`): which arrays a file must hold given its header,
how the model is rebuilt from them, and what ``charlm info`` shows of it. The container
and its door are :mod:`charlm.store.modelfile`; see docs/model-format.md.
"""

from __future__ import annotations

import math
import re

import numpy as np

from charlm.errors import ModelFileError
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.lm.sampling import NOVEL_ARRAY
from charlm.store import info, kinds, validate
from charlm.store.modelfile import Bundle
from charlm.store.validate import ArraySpec, Invalid
from charlm.text.tokens import TextConfig
from charlm.text.vocab import Vocab

FLOATS = ("float32", "float64")
IDS = ("uint8", "uint16", "uint32")


def _lm_layout(header, checkpoint):
    """The arrays of a language model file (``checkpoint``: and of its checkpoint),
    after checking the header's settings and vocabulary."""
    config = validate.settings_from(ModelConfig, validate.field_of(header, "model", dict),
                                    "model")
    _check_config(config)
    text = validate.settings_from(TextConfig, validate.field_of(header, "text", dict), "text")
    vocab = _vocab(validate.field_of(header, "vocab", dict))
    if len(vocab) != config.vocab_size:
        raise Invalid(f"the model expects {config.vocab_size} tokens but the vocabulary "
                      f"has {len(vocab)}")
    dtype = validate.field_of(header, "dtype", str)
    if dtype not in FLOATS:
        raise Invalid(f"parameters must be float32 or float64, not {dtype!r}")
    params = {name: ArraySpec(tuple(shape), (dtype,))
              for name, shape in config.param_shapes().items()}
    optional = [(re.escape(NOVEL_ARRAY), lambda m: ArraySpec((None,), ("uint64",)))]
    if checkpoint:
        training = validate.field_of(header, "training", dict)
        resume = validate.field_of(training, "resume", dict, "header.training")
        for key in ("state", "config", "run"):
            validate.field_of(resume, key, dict, "header.training.resume")
        optimizer = validate.field_of(resume["config"], "optimizer", str,
                                      "header.training.resume.config")
        states = ("a", "c") if config.cell == "lstm" else ("a",)
        carried = ArraySpec((config.hidden, None), (dtype,))
        optional += [
            (r"optimizer/(?:m|v|avg)/(.+)", lambda m: params.get(m.group(1))),
            (r"carried/layer(\d{1,4})\.([ac])",
             lambda m: carried if (1 <= int(m.group(1)) <= config.layers
                                   and m.group(2) in states) else None),
            (r"data/(train|val)", lambda m: ArraySpec((None,), (str(np.dtype(vocab.dtype)),))),
        ]
        complete = _checkpoint_complete(params, optimizer, config.layers, states)
    else:
        complete = None
    return validate.Layout(params, optional, complete=complete,
                           parsed={"config": config, "text": text, "vocab": vocab})


def _checkpoint_complete(params, optimizer, layers, states):
    """Arrays a checkpoint holds all of or none of: a resumed run needs each group whole."""
    groups = {
        "the optimizer state": ({f"optimizer/{m}/{k}" for m in "mv" for k in params}
                                if optimizer == "adam" else set()),
        "the average of the weights": {f"optimizer/avg/{k}" for k in params},
        "the carried hidden state": {f"carried/layer{l}.{s}" for l in range(1, layers + 1)
                                     for s in states},
        "the stored corpus": {"data/train", "data/val"},
    }

    def complete(names):
        if optimizer == "adam" and not groups["the optimizer state"] <= names:
            raise Invalid("the optimizer state is incomplete; the checkpoint is damaged")
        if optimizer != "adam" and any(n.startswith(("optimizer/m/", "optimizer/v/"))
                                       for n in names):
            raise Invalid(f"optimizer state for {optimizer!r}, which keeps none")
        for what, group in groups.items():
            present = group & names
            if present and present != group:
                raise Invalid(f"{what} is incomplete; the checkpoint is damaged")
    return complete


def _check_config(c):
    from charlm.engine.cells import CELLS

    if c.cell not in CELLS:
        raise Invalid(f"unknown cell {c.cell!r} (this charlm knows {', '.join(CELLS)})")
    limits = (("vocab_size", c.vocab_size, 2), ("hidden", c.hidden, 1),
              ("layers", c.layers, 1), ("embed", c.embed, 0))
    for name, value, low in limits:
        if not low <= value < 1 << 32:
            raise Invalid(f"header.model.{name} = {value} is out of range")
    if not 0.0 <= c.dropout < 1.0:
        raise Invalid(f"header.model.dropout = {c.dropout} is out of range")
    if c.eos_id != 0:
        raise Invalid("header.model.eos_id must be 0")


def _vocab(d):
    tokens = validate.field_of(d, "tokens", list, "header.vocab")
    if not all(isinstance(t, str) for t in tokens):
        raise Invalid("header.vocab.tokens must all be strings")
    counts = d.get("counts")
    if counts is not None and (
            not isinstance(counts, list) or len(counts) != len(tokens) or
            not all(isinstance(c, int) and not isinstance(c, bool) for c in counts)):
        raise Invalid("header.vocab.counts does not match its tokens")
    try:
        return Vocab.from_dict(d)
    except ModelFileError as e:
        raise Invalid(f"header.vocab: {e}") from None


def _rebuild(header, arrays, parsed):
    config = parsed["config"]
    params = {name: arrays.pop(name) for name in config.param_shapes()}
    return Bundle(LanguageModel(config, params), parsed["vocab"], parsed["text"],
                  kind=header.get("kind", "model"), training=kinds.training_of(header),
                  extra=arrays, header=header)


# --- what charlm info shows ------------------------------------------------------------------

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


OUTPUT_EQUATION = "ŷ⟨t⟩ = softmax(W_ya a⟨t⟩ + b_y)"


def _describe(b):
    cfg, vocab, text = b.model.config, b.vocab, b.text
    H = cfg.hidden
    stacked = []
    for layer in range(1, cfg.layers + 1):
        stacked.append({"layer": layer, "name": f"layer{layer}.W_a = [W_aa | W_ax]",
                        "shape": [cfg.cell_spec.width(H), H + cfg.input_width(layer)]})
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
        "text": text.to_dict(),
        "model": {**cfg.to_dict(), "parameters": cfg.num_params()},
        "equations": info.EQUATIONS[cfg.cell] + [OUTPUT_EQUATION],
        "gates": info.gate_rows(cfg.cell_spec.gates, H),
        "arrays": info.arrays_of(b.model.params, lambda name: _meaning(name, cfg)),
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
                         "optimizer_arrays": sorted(k for k in b.extra
                                                    if k.startswith("optimizer/"))[:4]}
    return out


def _summary(d):
    m, t, v, tr = d["model"], d["text"], d["vocab"], d["training"]
    head = [
        f"text    level {t['level']}, split {t['split']}, normalize {t['normalize']}"
        f"{', lowercase' if t['lowercase'] else ''}{', graphemes' if t['graphemes'] else ''}"
        f"{', reversed (a backward model: each line read right to left)' if t.get('reverse') else ''}",
        f"model   {m['cell'].upper()}, {m['layers']} layer(s) of H = {m['hidden']}, "
        f"V = {m['vocab_size']}, "
        f"{'E = ' + str(m['embed']) if m['embed'] else 'one-hot input'}, "
        f"dropout {m['dropout']}, {m['parameters']:,} parameters",
    ]
    rows = [(s["name"], s["shape"],
             "the notes' stacked matrix (not stored: W_aa and W_ax side by side)")
            for s in d["stacked"]]
    shown = " ".join(repr(x)[1:-1] if x.isprintable() and x.strip() else repr(x)
                     for x in v["most_frequent"])
    tail = [f"vocab   {v['size']} tokens; EOS {v['eos']} = {v['eos_id']}, "
            f"UNK {v['unk']} = {v['unk_id']}; most frequent: {shown}"]
    if tr:
        best = ""
        if tr.get("best_val_loss") is not None:
            best = (f"; best validation loss {tr['best_val_loss']:.4f} nats "
                    f"({tr['best_val_bits']:.3f} bits) at step {tr.get('best_step')}")
        lines = info.training_lines(tr, best, "corpus")
        if tr.get("dev"):                  # train --dev: after the corpus line
            lines.insert(2 if tr.get("sources") else 1, f"dev     {', '.join(tr['dev'])}")
        tail += lines
        tail += [f"resumed {cmd}" for cmd in tr.get("resumed_with") or []]
    if "resume" in d:
        r = d["resume"]
        tail.append(f"checkpoint at step {r['step']} (epoch {r['epoch']}, window "
                    f"{r['window']}); resume with: charlm train --resume {d['file']}")
    return info.Summary(head=head, gates="gate rows of W_aa, W_ax, b_a", rows=rows,
                        tail=tail)


for _name, _checkpoint in (("model", False), ("checkpoint", True)):
    kinds.register(kinds.Kind(
        name=_name, family="model", noun="language model", checkpoint=_checkpoint,
        layout=lambda header, c=_checkpoint: _lm_layout(header, checkpoint=c),
        rebuild=_rebuild, describe=_describe, summary=_summary))
