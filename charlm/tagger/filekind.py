"""The tagger's kinds of file, ``tagger`` and ``tagger-checkpoint``, registered with
the store (:mod:`charlm.store.kinds`): which arrays a file must hold given its header,
how the tagger is rebuilt from them, and what ``charlm info`` shows of it (a→, a← and
W_y [a→; a←] in the notes' notation). The container and its door are
:mod:`charlm.store.tagfile`; see docs/model-format.md.
"""

from __future__ import annotations

from charlm.store import info, kinds, validate
from charlm.store.tagfile import TaggerBundle
from charlm.store.validate import ArraySpec, Invalid
from charlm.tagger.data import TagVocab
from charlm.tagger.model import TaggerConfig, TaggerModel

FLOATS = ("float32", "float64")


def _layout(header, checkpoint):
    """Check a tagger's header; its arrays with their shapes and dtypes."""
    config = validate.settings_from(TaggerConfig, validate.field_of(header, "model", dict),
                                    "model")
    from charlm.engine.cells import CELLS

    if config.cell not in CELLS:
        raise Invalid(f"unknown cell {config.cell!r} (this charlm knows {', '.join(CELLS)})")
    for name in ("n_words", "n_chars", "n_tags", "hidden", "layers", "embed", "char_embed",
                 "char_hidden"):
        value = getattr(config, name)
        if not isinstance(value, int) or not 1 <= value < 1 << 32:
            raise Invalid(f"header.model.{name} = {value!r} is out of range")
    if not 0.0 <= config.dropout < 1.0:
        raise Invalid(f"header.model.dropout = {config.dropout} is out of range")
    d = validate.field_of(header, "vocab", dict)
    for key in ("words", "chars", "tags"):
        items = validate.field_of(d, key, list, "header.vocab")
        if not all(isinstance(t, str) for t in items):
            raise Invalid(f"header.vocab.{key} must all be strings")
    vocab = TagVocab.from_dict(d)
    for want, have, what in ((config.n_words, len(vocab.words), "words"),
                             (config.n_chars, len(vocab.chars), "characters"),
                             (config.n_tags, len(vocab.tags), "tags")):
        if want != have:
            raise Invalid(f"the model expects {want} {what} but the vocabulary has {have}")
    tagging = validate.field_of(header, "tagging", dict)
    dtype = validate.field_of(header, "dtype", str)
    if dtype not in FLOATS:
        raise Invalid(f"parameters must be float32 or float64, not {dtype!r}")
    params = {name: ArraySpec(tuple(shape), (dtype,))
              for name, shape in config.param_shapes().items()}
    optional = []
    if checkpoint:
        optional.append((r"optimizer/[mv]/(.+)", lambda m: params.get(m.group(1))))
    return validate.Layout(params, optional,
                           parsed={"config": config, "vocab": vocab, "tagging": tagging})


def _rebuild(header, arrays, parsed):
    config, vocab = parsed["config"], parsed["vocab"]
    params = {name: arrays.pop(name) for name in config.param_shapes()}
    return TaggerBundle(TaggerModel(config, params, tags=vocab.tags), vocab,
                        parsed["tagging"], kind=header.get("kind"),
                        training=kinds.training_of(header), extra=arrays, header=header)


# --- what charlm info shows ------------------------------------------------------------------

def _meaning(name, cfg):
    if name == "W_ex":
        return "word embedding: W_ex w⟨t⟩"
    if name == "char.W_ce":
        return "character embedding"
    if name == "W_y":
        return "output projection: W_y [a→⟨t⟩; a←⟨t⟩]"
    if name == "b_y":
        return "output bias"
    prefix, d, short = name.split(".")
    arrow = "a→" if d == "fw" else "a←"
    where = ("character BiRNN" if prefix == "char" else f"layer {prefix[5:]}")
    inp = ("the character embedding" if prefix == "char" else
           "x⟨t⟩ = [W_ex w⟨t⟩; c⟨t⟩]" if prefix == "layer1" else
           f"[a→; a←] of layer {int(prefix[5:]) - 1}")
    gates = ", ".join(cfg.cell_spec.gates)
    return {"W_aa": f"{where}, {arrow}: recurrent weights, gates {gates} stacked by rows",
            "W_ax": f"{where}, {arrow}: input weights on {inp}",
            "b_a": f"{where}, {arrow}: biases, gates {gates}"}[short]


def _describe(b):
    cfg, vocab = b.model.config, b.vocab
    cell = cfg.cell.upper()
    equations = [
        f"c⟨t⟩ = [a→⟨len⟩; a←⟨1⟩] of a character Bi{cell} (H_c = {cfg.char_hidden}) "
        "over the word's characters",
        "x⟨t⟩ = [W_ex w⟨t⟩; c⟨t⟩]",
        f"a→⟨t⟩ = {cell}→(a→⟨t-1⟩, x⟨t⟩)      left to right",
        f"a←⟨t⟩ = {cell}←(a←⟨t+1⟩, x⟨t⟩)      right to left, within the sentence",
    ]
    if cfg.layers > 1:
        equations.append(f"layers 2..{cfg.layers}: the same over [a→⟨t⟩; a←⟨t⟩] of the "
                         "layer below")
    equations += ["each direction's cell:"] + ["  " + e for e in info.EQUATIONS[cfg.cell]]
    equations.append("ŷ⟨t⟩ = softmax(W_y [a→⟨t⟩; a←⟨t⟩] + b_y)")
    out = {
        "tagging": b.tagging,
        "model": {**cfg.to_dict(), "parameters": cfg.num_params()},
        "equations": equations,
        "gates": info.gate_rows(cfg.cell_spec.gates, cfg.hidden),
        "arrays": info.arrays_of(b.model.params, lambda name: _meaning(name, cfg)),
        "vocab": {"words": len(vocab.words), "chars": len(vocab.chars),
                  "tags": list(vocab.tags), "lowercase": vocab.lowercase,
                  "most_frequent": vocab.words[2:14]},
        "training": {k: v for k, v in b.training.items() if k != "resume"},
    }
    if b.kind == "tagger-checkpoint":
        st = b.training.get("resume", {}).get("state", {})
        out["resume"] = {"step": st.get("step"), "epoch": st.get("epoch"),
                         "window": st.get("window"), "elapsed": st.get("elapsed")}
    return out


def _summary(d):
    m, tg, v, tr = d["model"], d["tagging"], d["vocab"], d["training"]
    scheme = tg.get("scheme")
    what = "entity scheme " + scheme.upper() if scheme else tg.get("tag_column", "tags")
    head = [
        f"tags    {len(v['tags'])} ({what}; decoding: "
        f"{'constrained Viterbi' if scheme else 'argmax per token'}): {' '.join(v['tags'])}",
        f"model   Bi{m['cell'].upper()}, {m['layers']} layer(s) of H = {m['hidden']} per "
        f"direction, word embedding E = {m['embed']}, character Bi{m['cell'].upper()} "
        f"E_c = {m['char_embed']}, H_c = {m['char_hidden']}, dropout {m['dropout']}, "
        f"{m['parameters']:,} parameters",
    ]
    tail = [f"vocab   {v['words']:,} words"
            f"{' (looked up in lower case)' if v['lowercase'] else ''}, "
            f"{v['chars']} characters; most frequent words: {' '.join(v['most_frequent'])}"]
    if tr:
        best_metrics = tr.get("best_metrics") or {}
        best = ""
        if "accuracy" in best_metrics:
            best += f"; best dev accuracy {best_metrics['accuracy']:.2%}"
        if "f1" in best_metrics:
            best += f", entity F1 {100 * best_metrics['f1']:.1f}"
        if tr.get("best_step") is not None:
            best += f" at step {tr['best_step']}"
        tail += info.training_lines(tr, best, "data")
    if "resume" in d:
        r = d["resume"]
        tail.append(f"checkpoint at step {r['step']} (epoch {r['epoch']}); resume with: "
                    f"charlm train-tagger --resume {d['file']}")
    return info.Summary(head=head, gates="gate rows of W_aa, W_ax, b_a (word BiRNN)",
                        tail=tail)


for _name, _checkpoint in (("tagger", False), ("tagger-checkpoint", True)):
    kinds.register(kinds.Kind(
        name=_name, family="tagger", noun="tagger", checkpoint=_checkpoint,
        layout=lambda header, c=_checkpoint: _layout(header, checkpoint=c),
        rebuild=_rebuild, describe=_describe, summary=_summary))
