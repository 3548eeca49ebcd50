"""``charlm info`` for a tagger: its settings and arrays in the notes' notation
(a→, a←, W_y [a→; a←])."""

from rich.table import Table
from rich.text import Text


def render_tagger(con, d):
    m, tg, v = d["model"], d["tagging"], d["vocab"]
    con.print(f"[bold]{d['file']}[/]: charlm {d['kind']}, format version {d['version']}, "
              f"{d['bytes']:,} bytes, {d['dtype']}")
    scheme = tg.get("scheme")
    decoding = ("CRF Viterbi" if m.get("crf") else
                "constrained Viterbi" if scheme else "argmax per token")
    con.print(f"tags    {len(v['tags'])} ({'entity scheme ' + scheme.upper() if scheme else tg.get('tag_column', 'tags')}"
              f"; decoding: {decoding}): "
              f"{' '.join(v['tags'])}", markup=False)
    con.print(f"model   Bi{m['cell'].upper()}, {m['layers']} layer(s) of H = {m['hidden']} per "
              f"direction, word embedding E = {m['embed']}, character Bi{m['cell'].upper()} "
              f"E_c = {m['char_embed']}, H_c = {m['char_hidden']}, dropout {m['dropout']}, "
              f"{'CRF output layer, ' if m.get('crf') else ''}"
              f"{m['parameters']:,} parameters", markup=False)
    con.print("equations")
    for eq in d["equations"]:
        con.print(f"  {eq}", markup=False)
    gates = "  ".join(f"{g['name']} {g['rows'][0]}:{g['rows'][1]}" for g in d["gates"])
    con.print(f"gate rows of W_aa, W_ax, b_a (word BiRNN): {gates}", markup=False)
    table = Table("parameter", "shape", "meaning", box=None, pad_edge=False)
    for a in d["arrays"]:
        table.add_row(a["name"], str(tuple(a["shape"])), Text(a["meaning"]))
    con.print(table)
    con.print(f"vocab   {v['words']:,} words{' (looked up in lower case)' if v['lowercase'] else ''}, "
              f"{v['chars']} characters; most frequent words: {' '.join(v['most_frequent'])}",
              markup=False)
    tr = d["training"]
    if tr:
        line = (f"trained {tr.get('steps', 0):,} steps, {tr.get('tokens', 0):,} tokens, "
                f"{tr.get('seconds', 0):.0f} s")
        best = tr.get("best_metrics") or {}
        if "accuracy" in best:
            line += f"; best dev accuracy {best['accuracy']:.2%}"
        if "f1" in best:
            line += f", entity F1 {100 * best['f1']:.1f}"
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
                  f"charlm train-tagger --resume {d['file']}", markup=False)
