"""``charlm info`` for a classifier: its settings and arrays in the notes' notation
(a→, a←, h, ŷ = softmax(W_y h + b_y))."""

from rich.table import Table
from rich.text import Text


def render_classifier(con, d):
    m, v, t = d["model"], d["vocab"], d["text"]
    con.print(f"[bold]{d['file']}[/]: charlm {d['kind']}, format version {d['version']}, "
              f"{d['bytes']:,} bytes, {d['dtype']}")
    con.print(f"text    level {t['level']}, normalize {t['normalize']}"
              f"{', lowercase' if t['lowercase'] else ''}{', graphemes' if t['graphemes'] else ''}",
              markup=False)
    labels = " ".join(f"{lab} ({c:,})" if c else lab for lab, c in
                      zip(v["labels"], v["label_counts"] or [0] * len(v["labels"])))
    con.print(f"labels  {len(v['labels'])}: {labels}", markup=False)
    bi = "Bi" if m["bidirectional"] else ""
    con.print(f"model   many-to-one {bi}{m['cell'].upper()}, {m['layers']} layer(s) of "
              f"H = {m['hidden']}{' per direction' if bi else ''}, V = {m['n_tokens']}, "
              f"E = {m['embed']}, pooling {m['pool']}, dropout {m['dropout']}, "
              f"{m['parameters']:,} parameters", markup=False)
    con.print("equations")
    for eq in d["equations"]:
        con.print(f"  {eq}", markup=False)
    gates = "  ".join(f"{g['name']} {g['rows'][0]}:{g['rows'][1]}" for g in d["gates"])
    con.print(f"gate rows of W_aa, W_ax, b_a: {gates}", markup=False)
    table = Table("parameter", "shape", "meaning", box=None, pad_edge=False)
    for a in d["arrays"]:
        table.add_row(a["name"], str(tuple(a["shape"])), Text(a["meaning"]))
    con.print(table)
    shown = " ".join(repr(x)[1:-1] if x.isprintable() and x.strip() else repr(x)
                     for x in v["most_frequent"])
    con.print(f"vocab   {v['tokens']:,} tokens (<pad> = 0, <unk> = 1); most frequent: {shown}",
              markup=False)
    tr = d["training"]
    if tr:
        line = (f"trained {tr.get('steps', 0):,} steps, {tr.get('tokens', 0):,} tokens, "
                f"{tr.get('seconds', 0):.0f} s")
        best = tr.get("best_metrics") or {}
        if "accuracy" in best:
            line += f"; best dev accuracy {best['accuracy']:.2%}"
        if best.get("macro_f1") is not None:
            line += f", macro-F1 {100 * best['macro_f1']:.1f}"
        if tr.get("best_step") is not None:
            line += f" at step {tr['best_step']}"
        con.print(line, markup=False)
        if tr.get("sources"):
            con.print(f"data    {', '.join(tr['sources'])}", markup=False)
        if tr.get("command"):
            con.print(f"command {tr['command']}", markup=False)
    if "resume" in d:
        r = d["resume"]
        con.print(f"checkpoint at step {r['step']} (epoch {r['epoch']}); resume with: "
                  f"charlm train-classifier --resume {d['file']}", markup=False)
