"""What a model file holds, as a plain dict (``charlm info`` renders it), and the
pieces every kind's description is made of.

A kind describes itself (:attr:`charlm.store.kinds.Kind.describe` and ``summary``):
each parameter with its shape and its place in the notes' equations, the rows each gate
occupies in the fused matrices, and the lines ``charlm info`` prints around them
(:class:`Summary`). One renderer draws every kind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from charlm.errors import ModelFileError
from charlm.store import kinds, validate

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
GATE_NAMES = {"a": "a (tanh)", "u": "Γ_u update", "r": "Γ_r relevance", "f": "Γ_f forget",
              "o": "Γ_o output", "c": "c̃ candidate"}


@dataclass
class Summary:
    """How ``charlm info`` draws a description, as plain lines (never markup):
    ``head`` under the title, then the equations, then ``gates`` (the label of the
    gate-rows line), the table of arrays with ``rows`` (name, shape, meaning) after
    them, and ``tail``."""

    head: list = field(default_factory=list)
    gates: str = "gate rows of W_aa, W_ax, b_a"
    rows: list = field(default_factory=list)
    tail: list = field(default_factory=list)


def gate_rows(gates, hidden):
    """The rows each gate occupies in a cell's fused matrices."""
    return [{"gate": g, "name": GATE_NAMES[g], "rows": [k * hidden, (k + 1) * hidden]}
            for k, g in enumerate(gates)]


def arrays_of(params, meaning):
    """Every parameter with its shape, size and ``meaning(name)``."""
    return [{"name": name, "shape": list(a.shape), "size": int(a.size),
             "meaning": meaning(name)} for name, a in params.items()]


def training_lines(training, best, sources_label):
    """The lines about a training run: steps, tokens and time with ``best`` after
    them, its data (under ``sources_label``) and its command."""
    lines = [f"trained {training.get('steps', 0):,} steps, {training.get('tokens', 0):,} "
             f"tokens, {training.get('seconds', 0):.0f} s{best}"]
    if training.get("sources"):
        lines.append(f"{sources_label:<7} {', '.join(training['sources'])}")
    if training.get("command"):
        lines.append(f"command {training['command']}")
    return lines


def resume_state(training):
    """Where a checkpoint's run stands (step, epoch, window, elapsed), from its
    training record."""
    st = (training.get("resume") or {}).get("state") or {}
    return {"step": st.get("step"), "epoch": st.get("epoch"), "window": st.get("window"),
            "elapsed": st.get("elapsed")}


# How the dev metrics a trainer selected by read in ``charlm info``.
BEST_METRICS = (("accuracy", "; best dev accuracy {:.2%}", 1),
                ("f1", ", entity F1 {:.1f}", 100), ("macro_f1", ", macro-F1 {:.1f}", 100))


def dev_lines(training, sources_label="data"):
    """:func:`training_lines` of a run selected by dev metrics (accuracy, entity F1,
    macro-F1, and the step of the best model)."""
    lines = []
    if training:
        metrics = training.get("best_metrics") or {}
        best = "".join(fmt.format(scale * metrics[key]) for key, fmt, scale in BEST_METRICS
                       if metrics.get(key) is not None)
        if training.get("best_step") is not None:
            best += f" at step {training['best_step']}"
        lines += training_lines(training, best, sources_label)
    return lines


def resume_line(d, command):
    """The closing line of a checkpoint's description: its step and how to go on."""
    r = d["resume"]
    return (f"checkpoint at step {r['step']} (epoch {r['epoch']}); resume with: "
            f"charlm {command} --resume {d['file']}")


def _kind(path):
    """The kind a file's header names, or None when it has no readable header (then
    the language model's loader explains what is wrong)."""
    try:
        return kinds.get(validate.read_header(path).get("kind"))
    except (ModelFileError, OSError):
        return None


def description(path):
    """(dict, :class:`Summary`) of the model file of any kind at ``path``."""
    from charlm.store import modelfile

    kind = _kind(path)
    if kind is None or kind.describe is None:
        bundle = modelfile.load(path)           # explains what is wrong with the file
        kind = kinds.get(bundle.kind)
    else:
        bundle = kinds.read(path)[1]
    out = {
        "file": str(path),
        "bytes": os.path.getsize(path),
        "format": bundle.header.get("format"),
        "version": bundle.header.get("version"),
        "kind": bundle.kind,
        "charlm_version": bundle.header.get("charlm_version"),
        "dtype": str(bundle.model.dtype),
        **kind.describe(bundle),
    }
    return out, kind.summary(out)


def describe(path):
    """A dict describing the model file, tagger or checkpoint at ``path``."""
    return description(path)[0]
