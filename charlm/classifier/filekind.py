"""The classifier's kinds of file, ``classifier`` and ``classifier-checkpoint``,
registered with the store (:mod:`charlm.store.kinds`): which arrays a file must hold
given its header, how the classifier is rebuilt from them, and what ``charlm info``
shows of it (the many-to-one equations: a→, a←, h and ŷ = softmax(W_y h + b_y)). The
container and its door are :mod:`charlm.classifier.file`; see docs/model-format.md.
"""

from __future__ import annotations

import numpy as np

from charlm.classifier.data import ClassVocab
from charlm.classifier.file import ClassifierBundle
from charlm.classifier.model import ClassifierConfig, ClassifierModel
from charlm.classifier.ngrams import MAX_NGRAM, NgramPart, NgramTable, marks_of
from charlm.errors import UsageError
from charlm.store import info, kinds, validate
from charlm.store.validate import Invalid
from charlm.text.tokens import TextConfig

POOL_TERMS = {"last": ("[a→⟨T_x⟩; a←⟨1⟩]", "a⟨T_x⟩"),
              "max": ("max_t [a→⟨t⟩; a←⟨t⟩]", "max_t a⟨t⟩"),
              "mean": ("mean_t [a→⟨t⟩; a←⟨t⟩]", "mean_t a⟨t⟩")}


def _layout(header, checkpoint):
    """Check a classifier's header; its arrays with their shapes and dtypes."""
    config = validate.settings_from(ClassifierConfig,
                                    validate.field_of(header, "model", dict), "model")
    validate.check_recurrent(config, ("n_tokens", "n_labels", "hidden", "layers", "embed"))
    try:
        config.modes
    except UsageError as e:
        raise Invalid(f"header.model.pool: {e}") from None
    text = validate.settings_from(TextConfig, validate.field_of(header, "text", dict), "text")
    d = validate.field_of(header, "vocab", dict)
    validate.string_lists(d, ("tokens", "labels"))
    for key in ("counts", "label_counts"):
        items = d.get(key) or []
        if not isinstance(items, list) or not all(
                isinstance(c, int) and not isinstance(c, bool) for c in items):
            raise Invalid(f"header.vocab.{key} must be a list of integers")
    vocab = ClassVocab.from_dict(d)
    if len(set(vocab.labels)) != len(vocab.labels):
        raise Invalid("header.vocab.labels lists a label twice")
    validate.check_sizes(((config.n_tokens, len(vocab.tokens), "tokens"),
                          (config.n_labels, len(vocab.labels), "labels")))
    size = _ngram_layout(header, config)
    layout = validate.params_layout(header, config, checkpoint,
                                    {"config": config, "vocab": vocab, "text": text,
                                     "ngrams": size})
    if size is not None:
        M, K = size, config.n_labels
        layout.required.update({
            "ngram.keys": validate.ArraySpec((M,), ("int64",)),
            **{name: validate.ArraySpec(shape, validate.FLOATS) for name, shape in
               (("ngram.idf", (M,)), ("ngram.W_g", (K, M)), ("ngram.b_g", (K,)))}})
    return layout


def _ngram_layout(header, config):
    """The number of n-grams of the n-gram part (header.ngrams.size), None without
    one; checked against ``model.ngrams``."""
    n = config.ngrams
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_NGRAM:
        raise Invalid(f"header.model.ngrams must be an integer from 0 to {MAX_NGRAM}")
    if ("ngrams" in header) != bool(n):
        raise Invalid("header.ngrams does not agree with header.model.ngrams")
    if not n:
        return None
    if (config.n_tokens + 1) ** n >= 2 ** 63:
        raise Invalid("header.model.ngrams is too long for the vocabulary")
    size = validate.field_of(header, "ngrams", dict).get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 1 << 32:
        raise Invalid("header.ngrams.size must be a count of n-grams")
    return size


def _rebuild(header, arrays, parsed):
    config, vocab, text = parsed["config"], parsed["vocab"], parsed["text"]
    params = {name: arrays.pop(name) for name in config.param_shapes()}
    ngrams = None
    if parsed["ngrams"] is not None:
        keys = arrays.pop("ngram.keys")
        if len(keys) and (keys[0] <= 0 or keys[-1] >= (config.n_tokens + 1) ** config.ngrams
                          or np.any(np.diff(keys) <= 0)):
            raise Invalid("array 'ngram.keys' must be ascending n-gram keys of the "
                          "vocabulary (see docs/model-format.md)")
        table = NgramTable(text.level, config.ngrams, config.n_tokens, keys,
                           arrays.pop("ngram.idf"), marks_of(vocab.tokens, text.level))
        ngrams = NgramPart(table, arrays.pop("ngram.W_g"), arrays.pop("ngram.b_g"))
    return ClassifierBundle(ClassifierModel(config, params, labels=vocab.labels,
                                            ngrams=ngrams), vocab,
                            text, kind=header.get("kind"),
                            training=kinds.training_of(header), extra=arrays, header=header)


# --- what charlm info shows ------------------------------------------------------------------

def pooled(cfg):
    """h as the notes would write it, e.g. "[a→⟨T_x⟩; a←⟨1⟩; max_t [a→⟨t⟩; a←⟨t⟩]]"."""
    k = 0 if cfg.bidirectional else 1
    terms = [POOL_TERMS[m][k] for m in cfg.modes]
    return terms[0] if len(terms) == 1 else "[" + "; ".join(terms) + "]"


def equations(cfg):
    cell = cfg.cell.upper()
    out = ["x⟨t⟩ = W_ex (one-hot token t)"]
    if cfg.bidirectional:
        out += [f"a→⟨t⟩ = {cell}→(a→⟨t-1⟩, x⟨t⟩)      t = 1 .. T_x, left to right",
                f"a←⟨t⟩ = {cell}←(a←⟨t+1⟩, x⟨t⟩)      t = T_x .. 1, right to left"]
    else:
        out.append(f"a⟨t⟩ = {cell}(a⟨t-1⟩, x⟨t⟩)      t = 1 .. T_x")
    if cfg.layers > 1:
        out.append(f"layers 2..{cfg.layers}: the same over the states of the layer below")
    out += ["each direction's cell:"] + ["  " + e for e in info.EQUATIONS[cfg.cell]]
    out.append(f"h = {pooled(cfg)}      T_x: the line's own length (padding never reaches h)")
    if cfg.ngrams:
        out += [f"g = the line's tf-idf vector of its n-grams of 1 .. {cfg.ngrams} tokens",
                "ŷ = softmax(½ (W_y h + b_y) + ½ (W_g g + b_g))      one distribution per "
                "line; W_g, b_g fitted first, then fixed"]
    else:
        out.append("ŷ = softmax(W_y h + b_y)      one distribution over the labels per line")
    return out


NGRAM_MEANINGS = {"ngram.keys": "n-gram part: the n-grams, as keys (docs/model-format.md)",
                  "ngram.idf": "n-gram part: idf of each n-gram",
                  "ngram.W_g": "n-gram part: W_g g (fixed while h's part trains)",
                  "ngram.b_g": "n-gram part: bias b_g"}


def _meaning(name, cfg):
    if name in NGRAM_MEANINGS:
        return NGRAM_MEANINGS[name]
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


def _describe(b):
    cfg, vocab = b.model.config, b.vocab
    counts = vocab.counts or []
    frequent = ([t for t, _ in sorted(zip(vocab.tokens[2:], counts[2:]),
                                      key=lambda tc: -tc[1])[:12]] if counts
                else vocab.tokens[2:14])
    out = {
        "text": b.text.to_dict(),
        "model": {**cfg.to_dict(), "parameters": cfg.num_params()},
        "equations": equations(cfg),
        "gates": info.gate_rows(cfg.cell_spec.gates, cfg.hidden),
        "arrays": info.arrays_of({**b.model.params, **b.model.frozen},
                                 lambda name: _meaning(name, cfg)),
        "vocab": {"tokens": len(vocab.tokens), "labels": list(vocab.labels),
                  "label_counts": list(vocab.label_counts), "most_frequent": frequent},
        "training": {k: v for k, v in b.training.items() if k != "resume"},
    }
    if b.model.ngrams is not None:
        out["ngrams"] = _ngrams(b.model.ngrams, vocab, b.text.level)
    if b.kind == "classifier-checkpoint":
        out["resume"] = info.resume_state(b.training)
    return out


def _ngrams(part, vocab, level, top=3):
    """The n-gram part in brief: its size and, per label, the n-grams that weigh most
    for it (the largest entries of its row of W_g)."""
    table = part.table
    strongest = {}
    for k, label in enumerate(vocab.labels):
        best = np.argsort(-part.W_g[k], kind="stable")[:top]
        strongest[label] = [table.text_of(table.keys[j], vocab.tokens) for j in best]
    return {"n": table.n, "count": len(table.keys),
            "of": "characters inside words" if level == "char" else "words",
            "strongest": strongest}


def _summary(d):
    m, v, t, tr = d["model"], d["vocab"], d["text"], d["training"]
    labels = " ".join(f"{lab} ({c:,})" if c else lab for lab, c in
                      zip(v["labels"], v["label_counts"] or [0] * len(v["labels"])))
    bi = "Bi" if m["bidirectional"] else ""
    head = [f"text    level {t['level']}, normalize {t['normalize']}"
            f"{', lowercase' if t['lowercase'] else ''}"
            f"{', graphemes' if t['graphemes'] else ''}",
            f"labels  {len(v['labels'])}: {labels}",
            f"model   many-to-one {bi}{m['cell'].upper()}, {m['layers']} layer(s) of "
            f"H = {m['hidden']}{' per direction' if bi else ''}, V = {m['n_tokens']}, "
            f"E = {m['embed']}, pooling {m['pool']}, dropout {m['dropout']}, "
            f"{m['parameters']:,} parameters"]
    shown = " ".join(repr(x)[1:-1] if x.isprintable() and x.strip() else repr(x)
                     for x in v["most_frequent"])
    tail = [f"vocab   {v['tokens']:,} tokens (<pad> = 0, <unk> = 1); most frequent: {shown}"]
    if "ngrams" in d:
        g = d["ngrams"]
        firsts = "; ".join(f"{lab} " + " ".join(repr(x) for x in grams)
                           for lab, grams in list(g["strongest"].items())[:6])
        tail.append(f"ngrams  {g['count']:,} n-grams of 1-{g['n']} {g['of']}; the strongest "
                    f"for each label: {firsts}{' …' if len(g['strongest']) > 6 else ''}")
    tail += info.dev_lines(tr)
    if "resume" in d:
        tail.append(info.resume_line(d, "train-classifier"))
    return info.Summary(head=head, tail=tail)


for _name, _checkpoint in (("classifier", False), ("classifier-checkpoint", True)):
    kinds.register(kinds.Kind(
        name=_name, family="classifier", noun="classifier", checkpoint=_checkpoint,
        layout=lambda header, c=_checkpoint: _layout(header, checkpoint=c),
        rebuild=_rebuild, describe=_describe, summary=_summary))
