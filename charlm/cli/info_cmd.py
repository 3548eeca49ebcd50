"""``charlm info``: what a model file holds."""

import json
import sys

import click

from charlm.cli.common import model_option
from charlm.cli.completion import complete_model
from charlm.store import default_model_path


@click.command()
@click.argument("model", required=False, type=click.Path(dir_okay=False),
                shell_complete=complete_model)
@model_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="A readable summary, or JSON for scripts.")
def info(model, model_path, fmt):
    """Describe a model file, tagger or checkpoint in the notes' notation.

    MODEL (default: -m, $CHARLM_MODEL, then ./model.npz) may be a model file, a tagger
    or a checkpoint. Shown: the text settings, the cell and its equations, the rows each
    gate occupies in the fused matrices, every parameter with its shape and meaning,
    the stacked W_a = [W_aa | W_ax], the vocabulary and the training history; for a
    tagger, its tags and both directions a→, a← and W_y [a→; a←]. The file format is
    described in docs/model-format.md."""
    from rich.console import Console
    from rich.table import Table

    from charlm.store.info import describe

    d = describe(model or model_path or default_model_path())
    if fmt == "json":
        sys.stdout.write(json.dumps(d, ensure_ascii=False, indent=1) + "\n")
        return
    con = Console(highlight=False, soft_wrap=True)
    if "tagging" in d:
        from charlm.cli.tagger_info import render_tagger

        render_tagger(con, d)
        return
    m, t = d["model"], d["text"]
    con.print(f"[bold]{d['file']}[/]: charlm {d['kind']}, format version {d['version']}, "
              f"{d['bytes']:,} bytes, {d['dtype']}")
    con.print(f"text    level {t['level']}, split {t['split']}, normalize {t['normalize']}"
              f"{', lowercase' if t['lowercase'] else ''}{', graphemes' if t['graphemes'] else ''}"
              f"{', reversed (a backward model: each line read right to left)' if t.get('reverse') else ''}")
    con.print(f"model   {m['cell'].upper()}, {m['layers']} layer(s) of H = {m['hidden']}, "
              f"V = {m['vocab_size']}, "
              f"{'E = ' + str(m['embed']) if m['embed'] else 'one-hot input'}, "
              f"dropout {m['dropout']}, {m['parameters']:,} parameters")
    con.print("equations")
    for eq in d["equations"]:
        con.print(f"  {eq}", markup=False)
    gates = "  ".join(f"{g['name']} {g['rows'][0]}:{g['rows'][1]}" for g in d["gates"])
    con.print(f"gate rows of W_aa, W_ax, b_a: {gates}", markup=False)
    table = Table("parameter", "shape", "meaning", box=None, pad_edge=False)
    for a in d["arrays"]:
        table.add_row(a["name"], str(tuple(a["shape"])), a["meaning"])
    for s in d["stacked"]:
        table.add_row(s["name"], str(tuple(s["shape"])),
                      "the notes' stacked matrix (not stored: W_aa and W_ax side by side)")
    con.print(table)
    v = d["vocab"]
    shown = " ".join(repr(x)[1:-1] if x.isprintable() and x.strip() else repr(x)
                     for x in v["most_frequent"])
    con.print(f"vocab   {v['size']} tokens; EOS {v['eos']} = {v['eos_id']}, "
              f"UNK {v['unk']} = {v['unk_id']}; most frequent: {shown}", markup=False)
    tr = d["training"]
    if tr:
        line = (f"trained {tr.get('steps', 0):,} steps, {tr.get('tokens', 0):,} tokens, "
                f"{tr.get('seconds', 0):.0f} s")
        if tr.get("best_val_loss") is not None:
            line += (f"; best validation loss {tr['best_val_loss']:.4f} nats "
                     f"({tr['best_val_bits']:.3f} bits) at step {tr.get('best_step')}")
        con.print(line, markup=False)
        if tr.get("sources"):
            con.print(f"corpus  {', '.join(tr['sources'])}", markup=False)
        if tr.get("command"):
            con.print(f"command {tr['command']}", markup=False)
        for cmd in tr.get("resumed_with") or []:
            con.print(f"resumed {cmd}", markup=False)
    if "resume" in d:
        r = d["resume"]
        con.print(f"checkpoint at step {r['step']} (epoch {r['epoch']}, window {r['window']}); "
                  f"resume with: charlm train --resume {d['file']}", markup=False)
