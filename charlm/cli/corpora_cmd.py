"""``charlm corpora``: list the corpora bundled with charlm."""

import json
import sys

import click


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="A table, or a JSON list for scripts.")
def corpora(fmt):
    """List the corpora that ship with charlm; pass a name to `charlm train`."""
    from rich.console import Console
    from rich.table import Table

    from charlm.text import bundled

    entries = bundled.catalogue()
    if fmt == "json":
        sys.stdout.write(json.dumps(entries, indent=1) + "\n")
        return
    table = Table("name", "lines", "bytes", "licence", "description", box=None)
    for e in entries:
        name = e["name"] + (" (default)" if e["name"] == bundled.DEFAULT else "")
        table.add_row(name, f"{e['lines']:,}", f"{e['bytes']:,}", e["licence"],
                      e["description"])
    Console(highlight=False).print(table)
