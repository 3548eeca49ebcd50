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

    from charlm.store.info import description

    d, summary = description(model or model_path or default_model_path())
    if fmt == "json":
        sys.stdout.write(json.dumps(d, ensure_ascii=False, indent=1) + "\n")
        return
    render(Console(highlight=False, soft_wrap=True), d, summary)


def render(con, d, summary):
    """Draw the description of a file of any kind: its title, the kind's own lines,
    the equations, the gate rows, the table of arrays, then the kind's closing lines."""
    from rich.table import Table
    from rich.text import Text

    con.print(f"[bold]{d['file']}[/]: charlm {d['kind']}, format version {d['version']}, "
              f"{d['bytes']:,} bytes, {d['dtype']}")
    for line in summary.head:
        con.print(line, markup=False)
    con.print("equations")
    for eq in d["equations"]:
        con.print(f"  {eq}", markup=False)
    gates = "  ".join(f"{g['name']} {g['rows'][0]}:{g['rows'][1]}" for g in d["gates"])
    con.print(f"{summary.gates}: {gates}", markup=False)
    table = Table("parameter", "shape", "meaning", box=None, pad_edge=False)
    rows = [(a["name"], a["shape"], a["meaning"]) for a in d["arrays"]] + summary.rows
    for name, shape, meaning in rows:
        table.add_row(Text(name), str(tuple(shape)), Text(meaning))
    con.print(table)
    for line in summary.tail:
        con.print(line, markup=False)
