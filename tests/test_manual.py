"""The manual cannot drift from the program: man pages generated from the click
definitions and committed as generated, every option in its page with its default,
groff-clean pages, grouped --help with examples, and the man pages in the wheel."""

import importlib.util
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import click
import pytest
from click.testing import CliRunner

from charlm.cli.app import cli
from charlm.cli.manual import EXAMPLES, GROUPS, option_name, summary

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAN = ROOT / "man"


def _build():
    spec = importlib.util.spec_from_file_location("man_build", MAN / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build()
PAGES = build.render_all()


def _plain(roff):
    """Roff with its escapes of - and \\ undone, for searching."""
    return roff.replace("\\-", "-").replace("\\e", "\\")


def test_committed_pages_are_what_the_build_script_writes():
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in MAN.glob("charlm*.1")}
    assert sorted(on_disk) == sorted(PAGES), "run python man/build.py"
    stale = [name for name, text in PAGES.items() if on_disk[name] != text]
    assert stale == [], "run python man/build.py"


def test_a_page_for_the_program_and_one_for_each_command():
    assert set(PAGES) == {"charlm.1"} | {f"charlm-{name}.1" for name in cli.commands}


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_option_is_in_its_page_with_its_default(name):
    cmd = cli.commands[name]
    page = _plain(PAGES[f"charlm-{name}.1"])
    ctx = click.Context(cmd, parent=click.Context(cli, **cli.context_settings))
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS",
                    "EXAMPLES", "SEE ALSO"):
        assert f".SH {section}\n" in page, section
    entries = page.split(".TP\n")
    for param in cmd.get_params(ctx):
        if not isinstance(param, click.Option):
            continue
        names = param.opts + param.secondary_opts
        entry = [e for e in entries if e.split("\n", 1)[0].startswith(f"\\fB{names[0]}\\fR")]
        assert len(entry) == 1, f"{name} {names[0]} has no entry in its page"
        for opt in names:
            assert f"\\fB{opt}\\fR" in entry[0].split("\n", 1)[0]
        default = param.get_help_extra(ctx).get("default")
        if default is not None:
            assert f"Default: \\fB{default}\\fR." in entry[0], f"{name} {names[0]}"


def test_the_program_page_lists_every_command_and_global_option():
    page = _plain(PAGES["charlm.1"])
    for name in cli.commands:
        assert f".BR charlm-{name} (1)" in page
    for param in cli.params:
        for opt in param.opts:
            assert f"\\fB{opt}\\fR" in page
    for var in ("CHARLM_MODEL", "CHARLM_THREADS", "NO_COLOR"):
        assert f".B {var}\n" in page


def test_environment_entries_only_for_variables_the_code_reads():
    page = _plain(PAGES["charlm.1"])
    code = build.code_text()
    for var in re.findall(r"^\.B ([A-Z_]+)\n", page.split(".SH ENVIRONMENT")[1], re.M):
        assert var in code


def test_fragments_name_only_options_their_command_has():
    for path in sorted((MAN / "src").glob("*.roff")):
        name = path.stem
        blocks = build.fragments(name)
        assert blocks, f"{path} has no blocks"
        keys = [k for k, _ in blocks]
        known = ("description", "examples", "exit-status", "see-also")
        assert all(k in known or k.split(" ")[0] in ("option", "section", "env")
                   for k in keys), keys
        cmd = cli if name == "charlm" else cli.commands.get(name)
        if cmd is None:
            continue                     # a page for a command still to come
        have = {option_name(p) for p in cmd.params if isinstance(p, click.Option)}
        described = {k.split(" ", 1)[1] for k in keys if k.startswith("option ")}
        assert described <= have, f"{path} describes options {described - have}"


def test_score_page_gives_formats_and_formulas():
    page = _plain(PAGES["charlm-score.1"])
    assert ".SH OUTPUT FORMATS" in page and ".SH FORMULAS" in page
    for word in ("kenlm", "jsonl", "tsv", "perplexity   = 10^(-log10prob / tokens)",
                 "bits/char", "Perplexity excluding OOVs:"):
        assert word in page


def test_info_page_points_to_the_model_format_document():
    assert "docs/model-format.md" in _plain(PAGES["charlm-info.1"])
    assert (ROOT / "docs" / "model-format.md").exists()


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_groff_finds_nothing_to_warn_about():
    for name in sorted(PAGES):
        run = subprocess.run(["groff", "-man", "-ww", "-z", str(MAN / name)],
                             capture_output=True, text=True)
        assert run.returncode == 0 and run.stderr == "", f"{name}: {run.stderr}"


def test_the_wheel_installs_every_page_under_share_man():
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[tool.setuptools.data-files]")[1].split("\n[")[0]
    patterns = re.findall(r'"(man/[^"]+)"', section.split('"share/man/man1"')[1].split("\n")[0])
    installed = {p.name for pattern in patterns for p in ROOT.glob(pattern)}
    assert installed == set(PAGES)


@pytest.mark.slow
def test_man_finds_the_pages_of_an_installed_wheel(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path), str(ROOT)], check=True)
    wheel = next(tmp_path.glob("charlm-*.whl"))
    names = {pathlib.PurePosixPath(n).name for n in zipfile.ZipFile(wheel).namelist()
             if "/data/share/man/man1/" in n}
    assert names == set(PAGES)
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip would first uninstall the charlm under test
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--ignore-installed", "--prefix", str(prefix), str(wheel)], check=True)
    if shutil.which("man"):
        found = subprocess.run(["man", "-w", "charlm-score"], capture_output=True, text=True,
                               env={"MANPATH": str(prefix / "share" / "man"),
                                    "PATH": "/usr/bin:/bin"})
        assert found.stdout.strip().endswith("share/man/man1/charlm-score.1")


# ---- --help ------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(cli.commands))
def test_help_has_a_summary_grouped_options_defaults_and_examples(name):
    cmd = cli.commands[name]
    runner = CliRunner()
    long = runner.invoke(cli, [name, "--help"])
    short = runner.invoke(cli, [name, "-h"])
    assert long.exit_code == 0 and short.output == long.output
    first = summary(cmd)
    assert "\n" not in first and len(first) <= 80 and first.endswith(".")
    assert len(EXAMPLES.get(name, [])) >= 2, f"add examples for {name} to cli/manual.py"
    assert "\nExamples:\n" in long.output
    for _, line in EXAMPLES[name]:
        assert line in long.output
    ctx = click.Context(cmd, parent=click.Context(cli, **cli.context_settings))
    for param in cmd.get_params(ctx):
        if isinstance(param, click.Option) and param.get_help_extra(ctx).get("default"):
            record = param.get_help_record(ctx)[1]
            assert "default: " in record, f"{name} {param.opts}"
    for title, _ in GROUPS.get(name, []):
        members = [o for t, opts in GROUPS[name] if t == title for o in opts]
        if any(o in long.output for o in members):
            assert f"\n{title}:\n" in long.output


def test_option_groups_name_real_options():
    """Groups of the commands that exist name only options they have (a renamed option
    would silently fall into "Other options")."""
    for name, groups in GROUPS.items():
        cmd = cli.commands.get(name)
        if cmd is None:
            continue
        have = {option_name(p) for p in cmd.params if isinstance(p, click.Option)}
        named = {o for _, opts in groups for o in opts}
        pending = {"--force"}            # options other work adds to these commands
        assert named - have <= pending, f"{name}: {named - have - pending}"


def test_examples_use_real_commands_and_options():
    for name, examples in EXAMPLES.items():
        if name not in cli.commands:
            continue
        for _, line in examples:
            for part in re.split(r"[|;]", line):
                words = part.split()
                if words[:1] != ["charlm"] or len(words) < 2:
                    continue
                cmd = cli.commands[words[1]]
                opts = {o for p in cmd.params for o in p.opts + p.secondary_opts}
                for w in words[2:]:
                    if w.startswith("-") and len(w) > 1:
                        assert w.split("=")[0] in opts, f"{line}: {w}"


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_pages_of_commands_still_to_come_are_groff_clean(tmp_path):
    """A fragment written before its command exists renders cleanly once it does
    (rendered here for a stand-in command with one option)."""
    for path in sorted((MAN / "src").glob("*.roff")):
        name = path.stem
        if name == "charlm" or name in cli.commands:
            continue
        stand_in = click.Command(name, help="Stand-in.", params=[click.Option(["--x"])])
        page = tmp_path / f"charlm-{name}.1"
        page.write_text(build.command_page(name, stand_in, sorted(cli.commands)))
        run = subprocess.run(["groff", "-man", "-ww", "-z", str(page)],
                             capture_output=True, text=True)
        assert run.returncode == 0 and run.stderr == "", f"{path}: {run.stderr}"


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_a_command_without_a_fragment_gets_a_clean_page_from_its_help(tmp_path):
    @click.command("new-thing")
    @click.argument("files", nargs=-1)
    @click.option("-k", "--keep", type=click.IntRange(1), default=3, help="How many `to` keep.")
    @click.option("--mode", type=click.Choice(["a", "b"]), default="a", help="Mode.")
    def new_thing(files, keep, mode):
        """Do a new thing to FILES.

        .A line starting with a dot, a back\\slash, and --dashes.

        \b
          charlm new-thing x.txt     an example
          charlm new-thing -k 2      another
        """

    page = build.command_page("new-thing", new_thing, sorted(cli.commands))
    assert "Default: \\fB3\\fR." in page and "\\fB\\-k\\fR, \\fB\\-\\-keep\\fR" in page
    assert ".SH EXIT STATUS" in page and ".SH SEE ALSO" in page
    path = tmp_path / "charlm-new-thing.1"
    path.write_text(page)
    run = subprocess.run(["groff", "-man", "-ww", "-z", str(path)], capture_output=True, text=True)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    text = subprocess.run(["groff", "-man", "-Tutf8", str(path)], capture_output=True,
                          text=True).stdout
    assert "charlm new-thing -k 2      another" in re.sub(".\x08", "", text)   # no overstrike
