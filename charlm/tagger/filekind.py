"""The tagger's kinds of file, ``tagger`` and ``tagger-checkpoint``, registered with
the store (:mod:`charlm.store.kinds`): which arrays a file must hold given its header,
how the tagger is rebuilt from them, and what ``charlm info`` shows of it (a→, a← and
W_y [a→; a←] in the notes' notation). The container and its door are
:mod:`charlm.store.tagfile`; see docs/model-format.md.
"""

from __future__ import annotations

from charlm.store import info, kinds, validate
from charlm.store.tagfile import TaggerBundle
from charlm.tagger.data import TagVocab
from charlm.tagger.lmfeatures import DIRECTIONS as LM_DIRECTIONS
from charlm.tagger.lmfeatures import LMFeatures, LMShape
from charlm.tagger.model import TaggerConfig, TaggerModel
from charlm.text.tokens import TextConfig


def _layout(header, checkpoint):
    """Check a tagger's header; its arrays with their shapes and dtypes."""
    config = validate.settings_from(TaggerConfig, validate.field_of(header, "model", dict),
                                    "model")
    validate.check_recurrent(config, ("n_words", "n_chars", "n_tags", "hidden", "layers",
                                      "embed", "char_embed", "char_hidden"))
    d = validate.field_of(header, "vocab", dict)
    validate.string_lists(d, ("words", "chars", "tags"))
    vocab = TagVocab.from_dict(d)
    if "tags2" in d:
        validate.string_lists(d, ("tags2",))
    validate.check_sizes(((config.n_words, len(vocab.words), "words"),
                          (config.n_chars, len(vocab.chars), "characters"),
                          (config.n_tags, len(vocab.tags), "tags"),
                          (config.n_tags2, len(vocab.tags2), "second layer's tags")))
    tagging = validate.field_of(header, "tagging", dict)
    if config.n_tags2 and tagging.get("tag_column2") not in ("upos", "xpos"):
        raise validate.Invalid("header.tagging.tag_column2: a joint tagger's second layer "
                               "tags upos or xpos")
    lm = _lm_layout(header, config)
    layout = validate.params_layout(header, config, checkpoint,
                                    {"config": config, "vocab": vocab, "tagging": tagging,
                                     "lm": lm})
    if lm:
        # the language models keep the precision they were trained in
        layout.required.update({name: validate.ArraySpec(tuple(shape), validate.FLOATS)
                                for name, shape in LMFeatures.array_shapes(lm).items()})
    return layout


def _lm_layout(header, config):
    """The header's ``lm`` (the character LMs a tagger reads, if any), checked against
    the settings: {direction: (LMShape, characters, TextConfig)}, or None."""
    if "lm" not in header:
        if config.lm_width:
            raise validate.Invalid("the tagger reads character-LM features but the file "
                                   "holds no language model (header.lm)")
        return None
    entries = validate.field_of(header, "lm", dict)
    for d, width, what in (("fw", config.lm_forward, "lm_forward"),
                           ("bw", config.lm_backward, "lm_backward")):
        if (d in entries) != bool(width):
            raise validate.Invalid(f"header.lm.{d} does not agree with header.model.{what}")
    if set(entries) - set(LM_DIRECTIONS):
        raise validate.Invalid(f"header.lm holds {sorted(set(entries) - set(LM_DIRECTIONS))}; "
                               "only fw and bw are known")
    parsed = {}
    for d, entry in entries.items():
        where = f"header.lm.{d}"
        shape = validate.settings_from(LMShape, validate.field_of(entry, "model", dict, where),
                                       f"lm.{d}.model")
        validate.check_recurrent(shape, ("vocab_size", "hidden", "layers"), where + ".model")
        if not (isinstance(shape.embed, int) and 0 <= shape.embed < 1 << 32
                and isinstance(shape.eos_id, int) and 0 <= shape.eos_id < shape.vocab_size):
            raise validate.Invalid(f"{where}.model: embed or eos_id is out of range")
        (chars,) = validate.string_lists(entry, ("chars",), where)
        validate.check_sizes(((shape.vocab_size, len(chars), f"{where} characters"),
                              (config.lm_forward if d == "fw" else config.lm_backward,
                               shape.hidden, f"{where} hidden units")))
        text = validate.settings_from(TextConfig, validate.field_of(entry, "text", dict, where),
                                      f"lm.{d}.text")
        if text.level != "char" or text.graphemes or text.reverse != (d == "bw"):
            raise validate.Invalid(f"{where}.text: not a {'backward' if d == 'bw' else 'forward'} "
                                   "character-level language model")
        parsed[d] = (shape, chars, text)
    return parsed


def _rebuild(header, arrays, parsed):
    config, vocab = parsed["config"], parsed["vocab"]
    params = {name: arrays.pop(name) for name in config.param_shapes()}
    lm = LMFeatures.rebuild(parsed["lm"], arrays) if parsed["lm"] else None
    return TaggerBundle(TaggerModel(config, params, tags=vocab.tags, lm=lm), vocab,
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
    if name == "W_y2":
        return "second output layer (joint tagger): W_y2 [a→⟨t⟩; a←⟨t⟩]"
    if name == "b_y2":
        return "second output layer's bias"
    if name == "crf.trans":
        return "CRF transition scores trans[i, j], tag i → tag j"
    if name == "crf.start":
        return "CRF score of each tag opening a sentence"
    if name == "crf.end":
        return "CRF score of each tag closing a sentence"
    if name.startswith("lm."):
        _, d, rest = name.split(".", 2)
        which = "forward" if d == "fw" else "backward"
        return {"W_ex": f"{which} character LM: character embedding (frozen)"}.get(
            rest, f"{which} character LM, {rest.replace('.', ' ')} (frozen)")
    prefix, d, short = name.split(".")
    arrow = "a→" if d == "fw" else "a←"
    where = ("character BiRNN" if prefix == "char" else f"layer {prefix[5:]}")
    inp = ("the character embedding" if prefix == "char" else
           ("x⟨t⟩ = [W_ex w⟨t⟩; χ⟨t⟩; λ⟨t⟩]" if cfg.lm_width else "x⟨t⟩ = [W_ex w⟨t⟩; χ⟨t⟩]")
           if prefix == "layer1" else
           f"[a→; a←] of layer {int(prefix[5:]) - 1}")
    gates = ", ".join(cfg.cell_spec.gates)
    return {"W_aa": f"{where}, {arrow}: recurrent weights, gates {gates} stacked by rows",
            "W_ax": f"{where}, {arrow}: input weights on {inp}",
            "b_a": f"{where}, {arrow}: biases, gates {gates}"}[short]


def _describe(b):
    cfg, vocab = b.model.config, b.vocab
    cell = cfg.cell.upper()
    equations = [
        f"χ⟨t⟩ = [a→⟨len⟩; a←⟨1⟩] of a character Bi{cell} (H_c = {cfg.char_hidden}) "
        "over the word's characters",
    ]
    if cfg.lm_width:
        equations += [_lm_equation(b.model.lm), "x⟨t⟩ = [W_ex w⟨t⟩; χ⟨t⟩; λ⟨t⟩]"]
    else:
        equations.append("x⟨t⟩ = [W_ex w⟨t⟩; χ⟨t⟩]")
    equations += [
        f"a→⟨t⟩ = {cell}→(a→⟨t-1⟩, x⟨t⟩)      left to right",
        f"a←⟨t⟩ = {cell}←(a←⟨t+1⟩, x⟨t⟩)      right to left, within the sentence",
    ]
    if cfg.layers > 1:
        equations.append(f"layers 2..{cfg.layers}: the same over [a→⟨t⟩; a←⟨t⟩] of the "
                         "layer below")
    equations += ["each direction's cell:"] + ["  " + e for e in info.EQUATIONS[cfg.cell]]
    if cfg.crf:
        equations += ["s⟨t⟩ = W_y [a→⟨t⟩; a←⟨t⟩] + b_y",
                      "p(y | x) ∝ exp(start[y⟨1⟩] + Σ_t s⟨t⟩[y⟨t⟩] + Σ_t trans[y⟨t-1⟩, y⟨t⟩] "
                      "+ end[y⟨T_x⟩])   (linear-chain CRF)"]
    else:
        equations.append("ŷ⟨t⟩ = softmax(W_y [a→⟨t⟩; a←⟨t⟩] + b_y)")
    if cfg.n_tags2:
        equations += [f"ŷ₂⟨t⟩ = softmax(W_y2 [a→⟨t⟩; a←⟨t⟩] + b_y2)   second layer "
                      f"({b.tagging.get('tag_column2')}), over the same a⟨t⟩",
                      "L = L₁ + L₂   (the two layers' mean cross-entropies per token)"]
    out = {
        "tagging": b.tagging,
        "model": {**cfg.to_dict(), "parameters": cfg.num_params()},
        "equations": equations,
        "gates": info.gate_rows(cfg.cell_spec.gates, cfg.hidden),
        "arrays": info.arrays_of({**b.model.params, **b.model.frozen},
                                 lambda name: _meaning(name, cfg)),
        "vocab": {"words": len(vocab.words), "chars": len(vocab.chars),
                  "tags": list(vocab.tags), "lowercase": vocab.lowercase,
                  "most_frequent": vocab.words[2:14],
                  **({"tags2": list(vocab.tags2)} if vocab.tags2 else {})},
        "training": {k: v for k, v in b.training.items() if k != "resume"},
    }
    if b.model.lm:
        out["lm"] = {d: {**m.shape.to_dict(), "characters": len(m.tokens),
                         "text": m.text.to_dict()} for d, m in b.model.lm.models.items()}
    if b.kind == "tagger-checkpoint":
        out["resume"] = info.resume_state(b.training)
    return out


def _lm_equation(lm):
    parts = [f"{state} of a {which} character LM ({m.shape.cell.upper()} {m.shape.layers}"
             f"×{m.shape.hidden})"
             for d, state, which in (("fw", "a→⟨end of t⟩", "forward"),
                                     ("bw", "a←⟨start of t⟩", "backward"))
             if (m := lm.models.get(d)) is not None]
    return f"λ⟨t⟩ = [{'; '.join(parts)}] over the sentence's characters, frozen"


def _lm_words(lm):
    if not lm:
        return ""
    names = {"fw": "forward", "bw": "backward"}
    return ("character-LM features from a " +
            " and a ".join(f"{names[k]} {v['cell'].upper()} {v['layers']}×{v['hidden']}"
                           for k, v in lm.items()) + " (frozen), ")


def _summary(d):
    m, tg, v, tr = d["model"], d["tagging"], d["vocab"], d["training"]
    scheme = tg.get("scheme")
    what = "entity scheme " + scheme.upper() if scheme else tg.get("tag_column", "tags")
    decoding = ("CRF Viterbi" if m.get("crf") else
                "constrained Viterbi" if scheme else "argmax per token")
    head = [
        f"tags    {len(v['tags'])} ({what}; decoding: {decoding}): {' '.join(v['tags'])}",
        *([f"tags₂   {len(v['tags2'])} ({tg.get('tag_column2')}, a second output layer; "
           f"argmax per token): {' '.join(v['tags2'])}"] if v.get("tags2") else []),
        f"model   Bi{m['cell'].upper()}, {m['layers']} layer(s) of H = {m['hidden']} per "
        f"direction, word embedding E = {m['embed']}, character Bi{m['cell'].upper()} "
        f"E_c = {m['char_embed']}, H_c = {m['char_hidden']}, "
        f"{_lm_words(d.get('lm'))}dropout {m['dropout']}, "
        f"{'CRF output layer, ' if m.get('crf') else ''}{m['parameters']:,} parameters",
    ]
    tail = [f"vocab   {v['words']:,} words"
            f"{' (looked up in lower case)' if v['lowercase'] else ''}, "
            f"{v['chars']} characters; most frequent words: {' '.join(v['most_frequent'])}"]
    tail += info.dev_lines(tr)
    if "resume" in d:
        tail.append(info.resume_line(d, "train-tagger"))
    return info.Summary(head=head, gates="gate rows of W_aa, W_ax, b_a (word BiRNN)",
                        tail=tail)


for _name, _checkpoint in (("tagger", False), ("tagger-checkpoint", True)):
    kinds.register(kinds.Kind(
        name=_name, family="tagger", noun="tagger", checkpoint=_checkpoint,
        layout=lambda header, c=_checkpoint: _layout(header, checkpoint=c),
        rebuild=_rebuild, describe=_describe, summary=_summary))
