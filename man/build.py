"""Write charlm's man pages from its click definitions: ``python man/build.py``.

One page for the program, ``charlm.1``, and one per command in the git style
(``charlm-train.1``, ``charlm-score.1``, ...), for every command the program has, so
a new command gets its page by running this script again. Everything that can drift
comes from click: the synopsis, every option with its metavar and default, the
option groups and examples of ``charlm/cli/manual.py``. The prose comes from
``man/src/NAME.roff`` when there is one, else from the command's help text.

A fragment ``man/src/NAME.roff`` is roff in blocks, each opened by a line
``.\\" @@ KEY``:

  description        the DESCRIPTION section (else the command's --help text)
  option --NAME      what the page says about that option (else its --help text);
                     its default is always added from click
  section TITLE      a section of its own, after OPTIONS, in the order given
  env NAME           an ENVIRONMENT entry, kept only if the code mentions NAME
  exit-status        entries added to EXIT STATUS (.TP, status, meaning)
  examples           roff added after the generated EXAMPLES
  see-also           command names (first line), then any roff

``python man/build.py --check`` writes nothing and exits 1 if a page on disk is not
what the script would write.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys
import unicodedata

import click

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = HERE / "src"
sys.path.insert(0, str(ROOT))

from charlm import __version__  # noqa: E402
from charlm.cli.app import cli  # noqa: E402
from charlm.cli.manual import EXAMPLES, grouped_options, option_name, summary  # noqa: E402

MARK = re.compile(r'^\.\\" @@ (.*)$')
ASCII_SAFE = re.compile(r"[^\x00-\x7f]")


# ---- roff text ---------------------------------------------------------------------

def esc(text):
    """Plain text as roff: backslashes, hyphens (as \\-), non-ASCII characters (as
    \\[uXXXX], which groff reads in any locale) and control characters at the start
    of a line."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = ASCII_SAFE.sub(lambda m: f"\\[u{ord(m.group()):04X}]", text)
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)


def inline(text):
    """Help text as roff: `code` in bold, the rest escaped."""
    parts = re.split(r"`([^`]+)`", text)
    return "".join(f"\\fB{esc(p)}\\fR" if i % 2 else esc(p) for i, p in enumerate(parts))


def help_to_roff(text):
    """A click help text (paragraphs; \\b before a block that keeps its lines)."""
    out = []
    for para in re.split(r"\n\s*\n", text.strip("\n")):
        lines = para.split("\n")
        if lines[0].strip() == "\b":
            indent = min(len(ln) - len(ln.lstrip()) for ln in lines[1:] if ln.strip())
            body = "\n".join(ln[indent:] for ln in lines[1:])
            out.append(".PP\n.RS\n.nf\n" + esc(body) + "\n.fi\n.RE")
        else:
            out.append(".PP\n" + inline(" ".join(ln.strip() for ln in lines)))
    return "\n".join(out)


def synopsis_word(word):
    """[OPTIONS] and CORPUS... in the synopsis: the words in italics."""
    return re.sub(r"([A-Z][A-Z_]*)", r"\\fI\1\\fR", esc(word))


def fragments(name):
    """The blocks of man/src/NAME.roff as [(key, roff)] in file order."""
    path = SRC / f"{name}.roff"
    if not path.exists():
        return []
    blocks, key, body = [], None, []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = MARK.match(line)
        if m:
            if key is not None:
                blocks.append((key, "\n".join(body).strip("\n")))
            key, body = m.group(1).strip(), []
        elif key is not None:
            body.append(line)
        elif line.strip() and not line.startswith('.\\"'):
            raise SystemExit(f"{path}: text before the first '.\\\" @@' block")
    if key is not None:
        blocks.append((key, "\n".join(body).strip("\n")))
    return blocks


def block(blocks, key):
    texts = [b for k, b in blocks if k == key]
    return "\n".join(texts) if texts else None


# ---- options -----------------------------------------------------------------------

def metavar(param):
    """What an option's value looks like: its metavar, the choices, or a word for
    its type."""
    if param.is_flag or param.count:
        return None
    if param.metavar:
        return param.metavar
    t = param.type
    if isinstance(t, click.Choice):
        return "|".join(str(c) for c in t.choices)
    if isinstance(t, (click.Path, click.File)):
        return "FILE"
    if isinstance(t, (click.IntRange,)) or t is click.INT:
        return "N"
    if isinstance(t, click.FloatRange) or t is click.FLOAT:
        return "X"
    return t.name.upper()


def default_text(param, ctx):
    """The default as ``--help`` shows it (click's own rule, with every default
    shown), or None when there is none to show."""
    if hasattr(param, "get_help_extra"):                # click >= 8.1.8
        return param.get_help_extra(ctx).get("default")
    if param.is_flag and not param.secondary_opts:
        return None
    value = param.get_default(ctx, call=False)
    if value is None or callable(value) or type(value).__name__ == "Sentinel":
        return None
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or None
    return str(value)


def option_head(param):
    """``-o, --output FILE`` as roff."""
    names = ", ".join(f"\\fB{esc(o)}\\fR" for o in param.opts + param.secondary_opts)
    mv = metavar(param)
    if mv is None:
        return names
    if "|" in mv:
        mv = "|".join(f"\\fI{esc(c)}\\fR" for c in mv.split("|"))
    else:
        mv = f"\\fI{esc(mv)}\\fR"
    return f"{names} {mv}"


def option_entry(param, ctx, blocks):
    text = block(blocks, f"option {option_name(param)}")
    if text is None:
        text = inline(" ".join((param.help or "").split()))
    default = default_text(param, ctx)
    if default is not None:
        text += f"\nDefault: \\fB{esc(default)}\\fR."
    if isinstance(param.envvar, str) and param.envvar not in text:
        text += f"\nAlso read from \\fB{esc(param.envvar)}\\fR."
    return f".TP\n{option_head(param)}\n{text}"


def options_section(cmd, ctx, blocks):
    groups = grouped_options(cmd, ctx)
    out = [".SH OPTIONS"]
    for title, params in groups:
        if len(groups) > 1:
            out.append(f'.SS "{esc(title)}"')
        out.extend(option_entry(p, ctx, blocks) for p in params)
    return "\n".join(out)


# ---- pages -------------------------------------------------------------------------

def page_name(cmd_name):
    return "charlm" if cmd_name is None else f"charlm-{cmd_name}"


def header(title, what):
    return (f'.\\" Written by man/build.py from the click definitions and man/src/; '
            f"do not edit.\n"
            f'.TH {esc(title.upper())} 1 "" "charlm {esc(__version__)}" "charlm manual"\n'
            f".SH NAME\n{esc(title)} \\- {inline(what)}")


def one_line(cmd):
    s = summary(cmd).rstrip(".")
    return s[:1].lower() + s[1:]


def exit_status(blocks):
    base = (".SH EXIT STATUS\n.TP\n0\nSuccess.\n.TP\n1\nA runtime error: a missing or "
            "damaged file, invalid input. The message is one line on standard error.\n"
            ".TP\n2\nA usage error: an unknown option or an invalid value.")
    extra = block(blocks, "exit-status")
    return base + ("\n" + extra if extra else "")


def see_also(blocks, names, current=None):
    text = block(blocks, "see-also") or ""
    first, _, rest = text.partition("\n")
    wanted = first.split() if first.strip() else []
    refs = [page_name(None)] if current is not None else []
    refs += [page_name(n) for n in (wanted or names) if n in names and n != current]
    out = ".SH SEE ALSO\n" + ",\n".join(f".BR {esc(r)} (1)" for r in refs)
    return out + ("\n" + rest.strip("\n") if rest.strip() else "")


def examples_section(name, blocks):
    out = [".SH EXAMPLES"]
    for what, line in EXAMPLES.get(name, []):
        out.append(f".PP\n{inline(what)}:\n.PP\n.RS\n.nf\n{esc(line)}\n.fi\n.RE")
    extra = block(blocks, "examples")
    if extra:
        out.append(extra)
    return "\n".join(out) if len(out) > 1 else ""


def extra_sections(blocks):
    return [f'.SH {esc(k.split(" ", 1)[1].upper())}\n{b}' for k, b in blocks
            if k.startswith("section ")]


def command_page(name, cmd, names):
    blocks = fragments(name)
    ctx = click.Context(cmd, info_name=name, parent=root_context())
    pieces = " ".join(synopsis_word(p) for p in cmd.collect_usage_pieces(ctx))
    description = block(blocks, "description") or help_to_roff(cmd.help or "").removeprefix(".PP\n")
    parts = [header(page_name(name), one_line(cmd)),
             f".SH SYNOPSIS\n.B charlm {esc(name)}\n{pieces}",
             f".SH DESCRIPTION\n{description}",
             options_section(cmd, ctx, blocks),
             *extra_sections(blocks),
             environment(blocks),
             exit_status(blocks),
             examples_section(name, blocks),
             see_also(blocks, names, current=name)]
    return "\n".join(p for p in parts if p) + "\n"


def environment(blocks):
    """ENVIRONMENT entries whose variable the code mentions (so a variable that is
    gone drops out of the pages)."""
    source = code_text()
    entries = [f".TP\n.B {esc(k.split()[1])}\n{b}" for k, b in blocks
               if k.startswith("env ") and k.split()[1] in source]
    return ".SH ENVIRONMENT\n" + "\n".join(entries) if entries else ""


_code = None


def code_text():
    global _code
    if _code is None:
        _code = "\n".join(p.read_text(encoding="utf-8")
                          for p in sorted((ROOT / "charlm").rglob("*.py")))
    return _code


def program_page(names, commands):
    blocks = fragments("charlm")
    ctx = root_context()
    rows = []
    for n in names:
        rows.append(f".TP\n.BR {esc(page_name(n))} (1)\n{inline(summary(commands[n]))}")
    synopsis = (".B charlm\n[\\fB\\-\\-threads\\fR \\fIN\\fR] \\fICOMMAND\\fR "
                "[\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n.br\n.B charlm\n"
                "\\fICOMMAND\\fR \\fB\\-\\-help\\fR")
    global_opts = [".SH GLOBAL OPTIONS"] + [option_entry(p, ctx, blocks)
                                            for p in cli.get_params(ctx)
                                            if isinstance(p, click.Option)]
    parts = [header("charlm", one_line(cli)),
             f".SH SYNOPSIS\n{synopsis}",
             ".SH DESCRIPTION\n" + (block(blocks, "description") or help_to_roff(cli.help)),
             "\n".join(global_opts),
             ".SH COMMANDS\nEach command has its own page, and its own \\fB\\-\\-help\\fR.\n"
             + "\n".join(rows),
             *extra_sections(blocks),
             environment(blocks),
             exit_status(blocks),
             examples_section("charlm", blocks),
             see_also(blocks, names)]
    return "\n".join(p for p in parts if p) + "\n"


def root_context():
    """The context ``charlm`` runs in (its settings: -h, every default shown)."""
    return click.Context(cli, info_name="charlm", **cli.context_settings)


def render_all():
    """{file name: roff} for the program and every command it has."""
    ctx = root_context()
    names = [n for n in cli.list_commands(ctx) if not cli.get_command(ctx, n).hidden]
    commands = {n: cli.get_command(ctx, n) for n in names}
    pages = {"charlm.1": program_page(names, commands)}
    for n in names:
        pages[f"{page_name(n)}.1"] = command_page(n, commands[n], names)
    return pages


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write charlm's man pages into man/.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a page differs from what would be written")
    args = parser.parse_args(argv)
    pages = render_all()
    stale = sorted(p.name for p in HERE.glob("charlm*.1") if p.name not in pages)
    differ = [n for n, text in pages.items()
              if not (HERE / n).exists() or (HERE / n).read_text(encoding="utf-8") != text]
    if args.check:
        for n in differ + stale:
            print(f"man/{n} is out of date: run python man/build.py", file=sys.stderr)
        return 1 if differ or stale else 0
    for n in differ:
        (HERE / n).write_text(pages[n], encoding="utf-8")
    for n in stale:
        (HERE / n).unlink()
    print(f"{len(pages)} pages in man/ ({len(differ)} written, {len(stale)} removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
