"""The reference documentation: generated tables, tested examples, the build.

The unit and command-line references are rendered by
``docs/_ext/plainbox_docs/reference.py`` (plain functions, no Sphinx needed)
from the tables and the parser plainbox uses, and placed in the pages by the
Sphinx extension ``plainbox_docs`` (``docs/_ext/plainbox_docs/``). These tests check that
nothing is left out, that the unit examples of the reference pages validate,
that the resource-expression tables say what the interpreter does, that the
Python examples run, and that the documentation builds with warnings as
errors.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
import pytest

from plainbox import hookspecs
from plainbox import paths
from plainbox.cli import launcher
from plainbox.cli.main import ExitCode
from plainbox.cli.main import build_parser
from plainbox.errors import ResourceExpressionError
from plainbox.execution.controller import parse_resource_output
from plainbox.paths import BUILTIN_PROVIDER_DIR
from plainbox.resources import parse_program
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.storage import SessionStorageRepository
from plainbox.session.view import ResultEntry
from plainbox.session.view import SessionView
from plainbox.units.catalog import load_catalog
from plainbox.units.fields import FLAGS
from plainbox.units.fields import PLUGINS
from plainbox.units.fields import UNIT_FIELDS
from plainbox.units.fields import Kind
from plainbox.units.fields import fields_of
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import JobDefinition
from plainbox.units.problems import Origin
from plainbox.units.validation import validate


DOCS = Path(__file__).resolve().parents[2] / "docs"
NAMESPACE = "com.example"
# Pages whose "pxu" (and "yaml") code blocks must validate.
EXAMPLE_PAGES = ["units.rst", "testplans.rst", "resources.rst"]


def _load_reference() -> ModuleType:
    """``docs/_ext/plainbox_docs/reference.py``: the rendering, without Sphinx."""
    path = DOCS / "_ext" / "plainbox_docs" / "reference.py"
    spec = importlib.util.spec_from_file_location("plainbox_docs_reference", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ext: Any = _load_reference()


def _read(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


def _rst_text(lines: list[str]) -> str:
    return "\n".join(lines)


# -- escaping ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "plain words",
        "a *star*, an _under_score_ and `ticks` and ``literal``",
        "name_ and [1]_ and |substitution| and :role:`x`",
        "- starts like a list",
        "1. starts like an enumeration",
        ".. starts like a directive",
        "ends like a literal block::",
        "--non-interactive, 'quotes' and \"double\" ... dashes --",
        "back\\slash <angle> {brace} 100% #hash",
    ],
)
def test_escaped_text_reads_as_written(text):
    docutils_core = pytest.importorskip("docutils.core")
    tree = docutils_core.publish_doctree(
        ext.rst_escape(text), settings_overrides={"halt_level": 2, "report_level": 2}
    )
    assert tree.astext() == text


def test_escaping_joins_lines():
    assert ext.rst_escape("two\n  lines") == "two lines"


# -- unit fields -----------------------------------------------------------------------


@pytest.mark.parametrize("unit_type", list(UNIT_FIELDS))
def test_unit_table_lists_every_field(unit_type):
    text = _rst_text(ext.unit_fields_rst(unit_type))
    for spec in fields_of(unit_type).values():
        assert f"``{spec.name}``" in text
        assert ext.rst_escape(spec.doc.rstrip(".")) in text
        if spec.translatable:
            assert f"``_{spec.name}``" in text
        for choice in spec.choices:
            assert f"``{choice}``" in text
        if spec.deprecated:
            assert ext.rst_escape(spec.deprecated) in text


def test_unit_table_rows_match_the_field_count():
    for unit_type in UNIT_FIELDS:
        rows = [
            line
            for line in ext.unit_fields_rst(unit_type)
            if line.startswith("   * - ")
        ]
        assert len(rows) == 1 + len(fields_of(unit_type))  # the header row too


def test_template_rules_show_only_where_templates_apply():
    assert "*In a template:*" in _rst_text(ext.unit_fields_rst("job"))
    assert "*In a template:*" in _rst_text(ext.unit_fields_rst("template"))
    assert "*In a template:*" not in _rst_text(ext.unit_fields_rst("test plan"))


def test_unknown_unit_type_is_refused():
    with pytest.raises(KeyError, match="unknown unit type"):
        ext.unit_fields_rst("jobs")


def test_every_unit_type_has_a_table_in_the_unit_reference():
    page = _read("units.rst")
    for unit_type in UNIT_FIELDS:
        assert f".. plainbox-unit-fields:: {unit_type}\n" in page


def test_every_kind_plugin_flag_and_bound_is_explained():
    kinds = _rst_text(ext.field_kinds_rst())
    assert all(f"``{kind.value}``" in kinds for kind in Kind)
    plugins = _rst_text(ext.job_plugins_rst())
    assert all(f"``{plugin}``" in plugins for plugin in PLUGINS)
    flags = _rst_text(ext.job_flags_rst())
    assert all(f"``{flag}``" in flags for flag in FLAGS)
    limits = _rst_text(ext.resource_limits_rst())
    from plainbox import resources

    for name in resources.__all__:
        if name.startswith("MAX_"):
            assert f"``{name}``" in limits
            assert f"``{getattr(resources, name):,}``" in limits


def test_a_plugin_without_an_explanation_is_an_error(monkeypatch):
    monkeypatch.delitem(ext.PLUGIN_HELP, "shell")
    with pytest.raises(ValueError, match="shell"):
        ext.job_plugins_rst()


# -- the command line ---------------------------------------------------------------


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    hidden = (argparse._HelpAction, argparse._SubParsersAction)
    return [action for action in parser._actions if not isinstance(action, hidden)]


def test_cli_reference_has_every_command_and_option():
    parser = build_parser()
    text = _rst_text(ext.cli_rst(parser))
    commands = list(ext.walk_commands(parser))
    assert len(commands) > 10
    for path, command, _ in commands:
        title = " ".join(["plainbox", *path])
        assert f".. _{ext.cli_label(path)}:\n\n{title}\n" in text
        assert ext.usage_line(command).splitlines()[0] in text
        for action in _actions(command):
            for option in action.option_strings:
                assert f"``{option}" in text, (title, option)
            if not action.option_strings:
                assert f"``{action.metavar or action.dest}``" in text, title


def test_cli_reference_walks_every_subparser():
    """Commands are found by walking the parser, to any depth."""
    parser = build_parser()
    expected: set[tuple[str, ...]] = {()}
    pending: list[tuple[tuple[str, ...], argparse.ArgumentParser]] = [((), parser)]
    while pending:
        path, current = pending.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                hidden = {
                    choice.dest
                    for choice in action._choices_actions
                    if choice.help == argparse.SUPPRESS
                }
                for name, sub in action.choices.items():
                    if name not in hidden:
                        expected.add((*path, name))
                        pending.append(((*path, name), sub))
    assert {path for path, _, _ in ext.walk_commands(parser)} == expected


def test_section_ids_are_stable():
    assert ext.cli_label(()) == "cli-plainbox"
    assert ext.cli_label(("run",)) == "cli-run"
    assert ext.cli_label(("session", "resume")) == "cli-session-resume"


def test_commands_added_later_are_documented():
    parser = argparse.ArgumentParser(prog="plainbox", description="Root.")
    commands = parser.add_subparsers(dest="command")
    tool = commands.add_parser("tool", help="tools *for* authors")
    actions = tool.add_subparsers(dest="action")
    check = actions.add_parser(
        "check",
        aliases=["verify"],
        description="Check a thing.",
        epilog="Examples: plainbox tool check a; plainbox tool check --deep b",
    )
    check.add_argument("target", nargs="+", metavar="TARGET", help="what to check")
    check.add_argument("--deep", action="store_true", help="look harder")
    check.add_argument(
        "--level", type=int, default=3, choices=[1, 2, 3], help="how hard"
    )
    text = _rst_text(ext.cli_rst(parser))
    assert ".. _cli-tool-check:\n\nplainbox tool check\n~~~~~~~~~~~~~~~~~~~" in text
    assert ":ref:`tool <cli-tool>`\n   tools \\*for\\* authors" in text
    assert text.count("plainbox tool check\n~") == 1  # the alias is not repeated
    assert "``--level {1,2,3}``" in text
    assert "One of ``1``, ``2``, ``3``. Default: ``3``." in text
    assert "``TARGET``\n   what to check\n\n   One or more." in text
    assert "   plainbox tool check a\n   plainbox tool check --deep b\n" in text


def test_raw_descriptions_keep_their_lines():
    parser = argparse.ArgumentParser(
        prog="plainbox",
        description="First line\n  indented *line*",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    text = _rst_text(ext.cli_rst(parser))
    assert ".. code-block:: text\n\n   First line\n     indented *line*\n" in text


def test_pxu_examples_lex_without_errors(monkeypatch):
    pytest.importorskip("sphinx")
    monkeypatch.syspath_prepend(str(DOCS / "_ext"))  # as conf.py does
    extension: Any = importlib.import_module("plainbox_docs")
    source = "# comment\nid: x\n_summary: X\ncommand:\n echo 1\n .\n echo 2\n"
    tokens = list(extension.PxuLexer().get_tokens(source))
    assert "".join(value for _, value in tokens) == source
    assert not [value for kind, value in tokens if "Error" in str(kind)]


def test_cli_examples_are_one_command_per_line():
    title, lines = ext.example_lines(
        "Examples: plainbox run a; plainbox run 'b;c' --x", "plainbox"
    )
    assert title == "Examples"
    assert lines == ["plainbox run a", "plainbox run 'b;c' --x"]
    assert ext.example_lines("Example: ssh host plainbox agent", "plainbox") == (
        "Example",
        ["ssh host plainbox agent"],
    )


def test_cli_page_uses_the_directive_and_lists_every_exit_status():
    page = _read("cli.rst")
    assert ".. plainbox-cli::" in page
    for status in ExitCode:
        assert f"\n``{int(status)}`` " in page, status


# -- launchers ------------------------------------------------------------------------


def test_launcher_page_names_every_key_plainbox_knows():
    page = _read("launchers.rst")
    known = {**launcher._APPLIED, **launcher._IGNORED}
    for section, keys in known.items():
        assert f"[{section}]" in page, section
        for key in sorted(keys or ()):
            assert f"``{key}``" in page, (section, key)
    for prefix in launcher._IGNORED_SECTION_PREFIXES:
        assert f"``[{prefix}NAME]``" in page
    for report in launcher.STOCK_REPORTS:
        assert f"``{report}``" in page


# -- Python examples --------------------------------------------------------------------


def python_examples(page: str) -> dict[str, str]:
    """Every Python block of a page, by the name its tested-example comment gives."""
    text = _read(page)
    examples = {}
    pattern = r"^\.\. tested-example: (\S+)\n\n(?=\.\. code-block:: python\n)"
    for match in re.finditer(pattern, text, re.MULTILINE):
        _, _, body = code_blocks(text[match.end() :], {"python"})[0]
        examples[match.group(1)] = body
    assert len(examples) == len(code_blocks(text, {"python"})), (
        f"{page}: a Python example without a tested-example comment"
    )
    return examples


def test_the_api_example_runs_a_test_plan(tmp_path, monkeypatch):
    examples = python_examples("api.rst")
    assert set(examples) == {"run-a-test-plan"}
    bundled = paths.bundled_providers_dir()
    assert bundled is not None
    monkeypatch.setenv("PLAINBOX_PROVIDERPATH", str(bundled))
    monkeypatch.chdir(tmp_path)
    code = compile(examples["run-a-test-plan"], f"{DOCS / 'api.rst'}", "exec")
    exec(code, {"__name__": "docs_api_example"})
    junit = (tmp_path / "junit.xml").read_text(encoding="utf-8")
    assert "check-config-retries-in-bounds" in junit
    assert len(SessionStorageRepository().get_storage_list()) == 1


def _plugin_example() -> ModuleType:
    blocks = code_blocks(_read("plugins.rst"), {"python"})
    assert len(blocks) == 1
    module = ModuleType("plainbox_lab")
    module.__file__ = "/opt/plainbox-lab/plainbox_lab.py"
    exec(compile(blocks[0][2], "plugins.rst:plainbox_lab.py", "exec"), vars(module))
    return module


def test_the_plugin_example_implements_real_hooks():
    plugin = _plugin_example()
    manager = pluggy.PluginManager("plainbox")
    manager.add_hookspecs(hookspecs)
    manager.register(plugin, name="lab")  # checks every argument name
    manager.check_pending()  # checks every hook name
    hooks = {caller.name for caller in manager.get_hookcallers(plugin) or ()}
    assert hooks == {
        "plainbox_exporters",
        "plainbox_job_finished",
        "plainbox_provider_dirs",
    }
    assert manager.hook.plainbox_provider_dirs() == [
        [Path("/opt/plainbox-lab/provider")]
    ]


def test_the_plugin_example_exports_csv_and_reports_failures(tmp_path, capsys):
    plugin = _plugin_example()
    job = unit_from_fields(
        "job",
        {"id": "disk/smart", "plugin": "shell", "command": "true"},
        namespace=NAMESPACE,
        provider="examples",
        origin=Origin("units/disk.pxu", 1),
        field_lines={},
    )
    assert isinstance(job, JobDefinition)
    result = JobResult(
        job_id=job.id, outcome=Outcome.FAIL, duration=1.5, comments="no, it broke"
    )
    entry = ResultEntry(job, result, (result,), "local", tmp_path)
    view = SessionView("s1", "Lab", None, None, None, frozenset(), tmp_path, (entry,))
    (exporter_class,) = plugin.plainbox_exporters()
    stream = io.BytesIO()
    exporter_class(["with-comments"]).export(view, stream)
    assert stream.getvalue().decode().splitlines() == [
        "job,device,outcome,seconds,comments",
        'com.example::disk/smart,local,fail,1.5,"no, it broke"',
    ]
    plugin.plainbox_job_finished(job=job, result=result, device="local")
    assert capsys.readouterr().err == "lab: com.example::disk/smart on local: fail\n"


# -- PXU examples ----------------------------------------------------------------------


def code_blocks(text: str, languages: set[str]) -> list[tuple[str, int, str]]:
    """``(language, first line, body)`` of the code blocks in those languages."""
    lines = text.splitlines()
    found = []
    index = 0
    while index < len(lines):
        match = re.match(r"^(\s*)\.\. code-block:: (\S+)\s*$", lines[index])
        index += 1
        if match is None or match.group(2) not in languages:
            continue
        indent = len(match.group(1))
        while index < len(lines) and re.match(r"^\s+:[\w-]+:", lines[index]):
            index += 1  # directive options
        start = index
        while index < len(lines) and (
            not lines[index].strip()
            or len(lines[index]) - len(lines[index].lstrip()) > indent
        ):
            index += 1
        body = textwrap.dedent("\n".join(lines[start:index])).strip("\n")
        found.append((match.group(2), start + 1, body + "\n"))
    return found


@pytest.mark.parametrize("page", EXAMPLE_PAGES)
def test_unit_examples_validate(page, tmp_path):
    blocks = code_blocks(_read(page), {"pxu", "yaml"})
    assert blocks, f"no pxu examples in {page}"
    provider = tmp_path / "examples"
    (provider / "units").mkdir(parents=True)
    (provider / "provider.toml").write_text(
        f'[provider]\nname = "examples"\nnamespace = "{NAMESPACE}"\nversion = "1.0"\n'
    )
    for number, (language, line, body) in enumerate(blocks):
        unit_file = provider / "units" / f"{number:02d}-{page}-line{line}.{language}"
        unit_file.write_text(body, encoding="utf-8")
    catalog = load_catalog([], explicit=[provider], builtin_dir=BUILTIN_PROVIDER_DIR)
    targets = [p for p in catalog.providers if p.name == "examples"]
    problems = [str(problem) for problem in validate(catalog, targets)]
    assert problems == []
    loaded = [unit for unit in catalog.units if unit.provider == "examples"]
    assert len(loaded) >= len(blocks)


# -- resource expressions --------------------------------------------------------------


def resource_records(text: str) -> dict[str, list[dict[str, str]]]:
    """The records of each ``.. resource-records: NAME`` block."""
    records: dict[str, list[dict[str, str]]] = {}
    for match in re.finditer(r"^\.\. resource-records: (\S+)\n", text, re.MULTILINE):
        following = text[match.end() :]
        _, _, body = code_blocks(following, {"text"})[0]
        records[f"{NAMESPACE}::{match.group(1)}"] = parse_resource_output(body)
    return records


def resource_examples(text: str) -> list[tuple[str, str]]:
    """``(expression, result)`` of every row of the example tables."""
    rows = []
    for match in re.finditer(r"^\.\. resource-examples\n", text, re.MULTILINE):
        table = text[match.end() :].split("\n\n", 1)[1]  # the table directive
        table_lines: list[str] = []
        for line in table.splitlines():
            if line.strip() and not line.startswith(" ") and table_lines:
                break
            table_lines.append(line)
        body = "\n".join(table_lines)
        rows += re.findall(
            r"^   \* - ``(.+)``\n     - (true|false|rejected)\n", body, re.MULTILINE
        )
    return rows


def test_resource_example_tables_are_found():
    text = _read("resources.rst")
    assert set(resource_records(text)) == {f"{NAMESPACE}::disk", f"{NAMESPACE}::device"}
    rows = resource_examples(text)
    assert len(rows) >= 30
    assert {result for _, result in rows} == {"true", "false", "rejected"}
    # Every row of every marked table was read.
    marked = text.count(".. resource-examples\n")
    headers = len(re.findall(r"^   \* - Expression$", text, re.MULTILINE))
    assert marked == headers
    table_rows = len(
        re.findall(r"^     - (?:true|false|rejected)$", text, re.MULTILINE)
    )
    assert table_rows == len(rows)


@pytest.mark.parametrize("row", resource_examples(_read("resources.rst")))
def test_resource_example_holds_as_documented(row):
    expression, result = row
    records = resource_records(_read("resources.rst"))
    if result == "rejected":
        with pytest.raises(ResourceExpressionError):
            parse_program(expression, NAMESPACE)
        return
    program = parse_program(expression, NAMESPACE)
    assert program.evaluate(records) is (result == "true")


# -- the build -------------------------------------------------------------------------


@pytest.mark.slow
def test_documentation_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    output = tmp_path / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "-n", "--keep-going", "-q"]
    command += ["-b", "html", "-d", str(tmp_path / "doctrees"), str(DOCS), str(output)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    cli = (output / "cli.html").read_text(encoding="utf-8")
    assert 'id="cli-session-resume"' in cli
    assert "--non-interactive" in cli  # no smart dashes in option names
    units = (output / "units.html").read_text(encoding="utf-8")
    for unit_type in UNIT_FIELDS:
        for name in fields_of(unit_type):
            assert f'<span class="pre">{name}</span>' in units
