"""Single-unit rules of plainbox.units.checks, one table row per rule."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from plainbox.paths import BUILTIN_PROVIDER_DIR
from plainbox.units.catalog import load_catalog
from plainbox.units.checks import check_unit
from plainbox.units.checks import value_line
from plainbox.units.fields import FLAGS
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity


ERROR, WARNING, ADVICE = Severity.ERROR, Severity.WARNING, Severity.ADVICE


@pytest.fixture
def unit_file(tmp_path: Path):
    """Write PXU text as the only unit file of a fresh provider; return its path."""

    def write(text: str, name: str = "units.pxu") -> Path:
        base = tmp_path / "prov"
        (base / "units").mkdir(parents=True, exist_ok=True)
        (base / "provider.toml").write_text(
            '[provider]\nname = "prov"\nnamespace = "com.example"\nversion = "1.0"\n'
        )
        path = base / "units" / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def check(unit_file):
    """check_unit over every unit of a unit file: (path, problems)."""

    def run(text: str, name: str = "units.pxu") -> tuple[Path, list[Problem]]:
        path = unit_file(text, name)
        catalog = load_catalog(
            [], explicit=[path.parent.parent], builtin_dir=BUILTIN_PROVIDER_DIR
        )
        assert not [p for p in catalog.problems if p.origin.path == str(path)]
        problems = [
            problem
            for unit in catalog.units
            if unit.origin.path == str(path)
            for problem in check_unit(unit)
        ]
        return path, problems

    return run


def find(problems: list[Problem], severity: Severity, fragment: str) -> list[Problem]:
    return [p for p in problems if p.severity is severity and fragment in p.message]


def assert_found(
    path: Path, problems: list[Problem], severity: Severity, fragment: str, line: int
) -> Problem:
    found = find(problems, severity, fragment)
    assert found, f"no {severity} with {fragment!r} in {[str(p) for p in problems]}"
    located = [p for p in found if str(p).startswith(f"{path}:{line}: {severity}:")]
    assert located, f"{fragment!r} not at line {line}: {[str(p) for p in found]}"
    return located[0]


JOB = "id: a\nplugin: shell\n_summary: A\ncommand: true\n"
TEMPLATE = (
    "unit: template\ntemplate-resource: res\nid: t_{name}\n"
    "_summary: T {name}\nplugin: shell\ncommand: echo {name}\n"
)
PLAN = "unit: test plan\nid: p\n_name: P\n"

RULES = [
    # unknown fields, with and without a suggestion, per unit type
    (
        "unknown-suggest",
        JOB + "comand: x\n",
        WARNING,
        "unknown field 'comand' (did you mean 'command'?)",
        5,
    ),
    (
        "unknown-template",
        TEMPLATE + "template-sumary: x\n",
        WARNING,
        "did you mean 'template-summary'?",
        7,
    ),
    (
        "unknown-plan",
        PLAN + "include: a\nincluded: b\n",
        WARNING,
        "unknown field 'included'",
        5,
    ),
    # required fields
    (
        "missing-plugin",
        "id: a\n_summary: A\ncommand: true\n",
        ERROR,
        "missing required field 'plugin'",
        1,
    ),
    (
        "empty-plugin",
        "id: a\nplugin:\ncommand: true\n",
        ERROR,
        "required field 'plugin' is empty",
        2,
    ),
    (
        "missing-id",
        "plugin: shell\ncommand: true\n",
        ERROR,
        "missing required field 'id'",
        1,
    ),
    (
        "plan-name",
        "unit: test plan\nid: p\ninclude: a\n",
        ERROR,
        "missing required field 'name'",
        1,
    ),
    ("plan-include", PLAN, ERROR, "missing required field 'include'", 1),
    (
        "category-name",
        "unit: category\nid: c\n",
        ERROR,
        "missing required field 'name'",
        1,
    ),
    (
        "exporter-entry",
        "unit: exporter\nid: e\nfile_extension: txt\n",
        ERROR,
        "missing required field 'entry_point'",
        1,
    ),
    (
        "exporter-ext",
        "unit: exporter\nid: e\nentry_point: text\n",
        ERROR,
        "missing required field 'file_extension'",
        1,
    ),
    (
        "manifest-name",
        "unit: manifest entry\nid: m\nvalue-type: bool\n",
        ERROR,
        "missing required field 'name'",
        1,
    ),
    (
        "manifest-type",
        "unit: manifest entry\nid: m\n_name: M\n",
        ERROR,
        "missing required field 'value-type'",
        1,
    ),
    (
        "packaging-os",
        "unit: packaging meta-data\nDepends: foo\n",
        ERROR,
        "missing required field 'os-id'",
        1,
    ),
    (
        "template-resource",
        "unit: template\nid: t_{x}\nplugin: shell\ncommand: true\n",
        ERROR,
        "missing required field 'template-resource'",
        1,
    ),
    (
        "template-id",
        "unit: template\ntemplate-resource: r\nplugin: shell\ncommand: true\n",
        ERROR,
        "missing required field 'id'",
        1,
    ),
    # translatable or not
    (
        "i18n-advice",
        "id: a\nplugin: shell\nsummary: A\ncommand: true\n",
        ADVICE,
        "mark field 'summary' translatable: write '_summary'",
        3,
    ),
    (
        "i18n-plan-name",
        "unit: test plan\nid: p\nname: P\ninclude: a\n",
        ADVICE,
        "write '_name'",
        3,
    ),
    (
        "i18n-unexpected",
        "id: a\nplugin: shell\n_command: true\n",
        WARNING,
        "field 'command' is not translatable",
        3,
    ),
    # short fields
    (
        "two-lines",
        "id: a\nplugin: shell\n_summary:\n one\n two\ncommand: true\n",
        WARNING,
        "field 'summary' should be one line",
        3,
    ),
    (
        "too-long",
        f"id: a\nplugin: shell\n_summary: {'x' * 81}\ncommand: true\n",
        WARNING,
        "longer than 80 characters (81)",
        3,
    ),
    # choices
    (
        "plugin-choice",
        "id: a\nplugin: shel\ncommand: true\n",
        ERROR,
        "field 'plugin': 'shel' is not one of shell, resource,",
        2,
    ),
    (
        "plugin-suggest",
        "id: a\nplugin: shel\ncommand: true\n",
        ERROR,
        "(did you mean 'shell'?)",
        2,
    ),
    (
        "user-choice",
        JOB + "user: admin\n",
        ERROR,
        "field 'user': 'admin' is not one of root",
        5,
    ),
    (
        "status-choice",
        JOB + "certification-status: blocking\n",
        ERROR,
        "'blocking' is not one of non-blocker, blocker",
        5,
    ),
    (
        "value-type",
        "unit: manifest entry\nid: m\n_name: M\nvalue-type: int\n",
        ERROR,
        "'int' is not one of bool, natural",
        4,
    ),
    # deprecated
    (
        "legacy-name",
        "name: a\nplugin: shell\ncommand: true\n",
        ADVICE,
        "field 'name' is deprecated: use 'id'",
        1,
    ),
    (
        "value-units",
        "unit: manifest entry\nid: m\n_name: M\nvalue-type: natural\n"
        "value-units: ports\n",
        ADVICE,
        "field 'value-units' is deprecated",
        5,
    ),
    (
        "old-overrides",
        PLAN + "include: a\ncategory-overrides: apply c to a\n",
        ADVICE,
        "use 'category_overrides'",
        5,
    ),
    (
        "user-verify",
        "id: a\nplugin: user-verify\ncommand: true\n_purpose: P\n",
        ADVICE,
        "plugin 'user-verify' is deprecated: use 'user-interact-verify'",
        2,
    ),
    # ids
    (
        "id-namespace",
        "id: x::a\nplugin: shell\ncommand: true\n",
        ERROR,
        "field 'id': 'x::a' must not contain '::'",
        1,
    ),
    (
        "id-chars",
        "id: a b\nplugin: shell\ncommand: true\n",
        WARNING,
        "field 'id': 'a b' has characters outside [A-Za-z0-9_./:+-]",
        1,
    ),
    (
        "template-id-chars",
        TEMPLATE.replace("t_{name}", "t {name}"),
        WARNING,
        "has characters outside",
        3,
    ),
    (
        "template-id-namespace",
        TEMPLATE.replace("t_{name}", "x::t_{name}"),
        ERROR,
        "must not contain '::'",
        3,
    ),
    (
        "plan-id",
        "unit: test plan\nid: a::p\n_name: P\ninclude: a\n",
        ERROR,
        "must not contain '::'",
        2,
    ),
    # durations
    (
        "duration-syntax",
        JOB + "estimated_duration: 5 minutes\n",
        ERROR,
        "'5 minutes' is not a duration",
        5,
    ),
    (
        "duration-nan",
        JOB + "estimated_duration: nan\n",
        ERROR,
        "'nan' is not a duration",
        5,
    ),
    (
        "duration-zero",
        JOB + "estimated_duration: 0\n",
        WARNING,
        "field 'estimated_duration' should be more than 0",
        5,
    ),
    (
        "plan-duration",
        PLAN + "include: a\nestimated_duration: 1x\n",
        ERROR,
        "is not a duration",
        5,
    ),
    (
        "timeout-zero",
        JOB + "timeout: 0s\n",
        WARNING,
        "field 'timeout' should be more than 0",
        5,
    ),
    (
        "duration-negative",
        JOB + "estimated_duration: -3\n",
        ERROR,
        "'-3' is not a duration",
        5,
    ),
    # JSON
    (
        "json-invalid",
        JOB + "siblings: [\n",
        ERROR,
        "field 'siblings' is not valid JSON",
        5,
    ),
    (
        "json-line",
        JOB + 'siblings:\n [{"id": "b"},\n  {"id": }]\n',
        ERROR,
        "is not valid JSON",
        7,
    ),
    (
        "siblings-list",
        JOB + 'siblings: {"id": "b"}\n',
        ERROR,
        "field 'siblings' must be a JSON list of objects",
        5,
    ),
    (
        "siblings-items",
        JOB + "siblings: [1, 2]\n",
        ERROR,
        "must be a JSON list of objects",
        5,
    ),
    (
        "siblings-keys",
        JOB + 'siblings: [{"id": "b", "_summary": "B", "comand": "x"}]\n',
        ERROR,
        "sibling 1 has unknown job field 'comand' (did you mean 'command'?)",
        5,
    ),
    (
        "exporter-data",
        "unit: exporter\nid: e\nentry_point: text\nfile_extension: txt\ndata: [1]\n",
        ERROR,
        "field 'data' must be a JSON object",
        5,
    ),
    # flags
    (
        "flag-unknown",
        JOB + "flags: preserve-cwd bogus\n",
        WARNING,
        "field 'flags': unknown flag 'bogus'",
        5,
    ),
    (
        "flag-suggest",
        JOB + "flags: preserve-cdw\n",
        WARNING,
        "(did you mean 'preserve-cwd'?)",
        5,
    ),
    # resource programs, located on the offending line
    (
        "requires-syntax",
        JOB + "requires: pkg.name ==\n",
        ERROR,
        "field 'requires': syntax error",
        5,
    ),
    (
        "requires-call",
        JOB + "requires: open(pkg.x)\n",
        ERROR,
        "field 'requires': function call 'open' is not allowed",
        5,
    ),
    (
        "requires-next-line",
        JOB + "requires:\n pkg.a == '1'\n pkg.b ==\n",
        ERROR,
        "syntax error",
        7,
    ),
    (
        "requires-same-line",
        JOB + "requires: pkg.a == '1'\n pkg.b ==\n",
        ERROR,
        "syntax error",
        6,
    ),
    (
        "requires-comment",
        JOB + "requires:\n pkg.a == '1'\n# a comment\n pkg.b ==\n",
        ERROR,
        "syntax error",
        8,
    ),
    (
        "requires-no-resource",
        JOB + "requires: 1 == 1\n",
        ERROR,
        "references no resource",
        5,
    ),
    (
        "imports-syntax",
        JOB + "imports: import manifest\n",
        ERROR,
        "field 'imports': bad import 'import manifest'",
        5,
    ),
    (
        "imports-line",
        JOB + "imports:\n from a import b\n bogus\n",
        ERROR,
        "bad import 'bogus'",
        7,
    ),
    (
        "filter-syntax",
        TEMPLATE + "template-filter: res.x ===\n",
        ERROR,
        "field 'template-filter': syntax error",
        7,
    ),
    (
        "template-imports",
        TEMPLATE + "template-imports: frm a import b\n",
        ERROR,
        "field 'template-imports': bad import",
        7,
    ),
    # job rules
    (
        "no-command",
        "id: a\nplugin: shell\n_summary: A\n",
        ERROR,
        "missing field 'command': shell jobs run a command",
        1,
    ),
    (
        "no-command-resource",
        "id: a\nplugin: resource\n",
        ERROR,
        "resource jobs run a command",
        1,
    ),
    (
        "manual-command",
        "id: a\nplugin: manual\n_purpose: P\ncommand: true\n",
        WARNING,
        "field 'command' is ignored: manual jobs run no command",
        4,
    ),
    (
        "manual-text",
        "id: a\nplugin: manual\n_summary: A\n",
        ERROR,
        "manual job needs 'purpose' and 'steps' (or 'description')",
        1,
    ),
    (
        "user-useless",
        "id: a\nplugin: manual\n_purpose: P\nuser: root\n",
        WARNING,
        "field 'user' is useless without 'command'",
        4,
    ),
    (
        "environ-useless",
        "id: a\nplugin: manual\n_purpose: P\nenviron: FOO\n",
        WARNING,
        "field 'environ' is useless without 'command'",
        4,
    ),
    (
        "checkbox-share",
        "id: a\nplugin: shell\ncommand:\n ls\n cat $CHECKBOX_SHARE/x\n",
        ADVICE,
        "field 'command' uses CHECKBOX_SHARE: use $PLAINBOX_PROVIDER_DATA",
        3,
    ),
    (
        "checkbox-data",
        "id: a\nplugin: shell\ncommand: ls $CHECKBOX_DATA\n",
        ADVICE,
        "uses CHECKBOX_DATA",
        3,
    ),
    (
        "setup-plugin",
        "unit: setup job\nid: s\nplugin: manual\n_purpose: P\n",
        ERROR,
        "setup jobs run unattended before everything else, "
        "so they must use 'shell', not 'manual'",
        3,
    ),
    (
        "setup-resource",
        "unit: setup job\nid: s\nplugin: resource\ncommand: true\n",
        ERROR,
        "not 'resource'",
        3,
    ),
    # test plans: qualifier syntax, per field, on the qualifier's own line
    (
        "include-override",
        PLAN + "include:\n a\n b bogus=1\n",
        ERROR,
        "field 'bogus' cannot be overridden",
        6,
    ),
    (
        "include-value",
        PLAN + "include: a certification-status=maybe\n",
        ERROR,
        "certification-status must be one of blocker, non-blocker",
        4,
    ),
    ("include-regex", PLAN + "include: a[\n", ERROR, "invalid pattern 'a['", 4),
    (
        "mandatory-regex",
        PLAN + "include: a\nmandatory_include: (b\n",
        ERROR,
        "invalid pattern '(b'",
        5,
    ),
    (
        "exclude-regex",
        PLAN + "include: a\nexclude:\n x\n y[\n",
        ERROR,
        "invalid pattern 'y['",
        7,
    ),
    (
        "bootstrap-syntax",
        PLAN + "include: a\nbootstrap_include: r x\n",
        ERROR,
        "expected 'field=value'",
        5,
    ),
    (
        "category-overrides",
        PLAN + "include: a\ncategory_overrides:\n apply c to a\n apply c\n",
        ERROR,
        "expected 'apply VALUE to PATTERN', got 'apply c'",
        7,
    ),
    (
        "status-overrides",
        PLAN + "include: a\ncertification_status_overrides: apply maybe to a\n",
        ERROR,
        "certification-status must be one of",
        5,
    ),
    # exporters and manifest entries
    (
        "file-extension",
        "unit: exporter\nid: e\nentry_point: text\nfile_extension: tar gz\n",
        ERROR,
        "field 'file_extension': 'tar gz' may only contain",
        4,
    ),
    (
        "file-extension-slash",
        "unit: exporter\nid: e\nentry_point: text\nfile_extension: a/b\n",
        ERROR,
        "'a/b' may only contain",
        4,
    ),
    (
        "manifest-hidden",
        "unit: manifest entry\nid: _m\n_name: M\nvalue-type: bool\n",
        ERROR,
        "hidden manifest entry (id starting with '_') needs 'hidden-reason'",
        2,
    ),
]


@pytest.mark.parametrize(
    ("text", "severity", "fragment", "line"),
    [pytest.param(*row[1:], id=row[0]) for row in RULES],
)
def test_rule(check, text: str, severity: Severity, fragment: str, line: int) -> None:
    path, problems = check(text)
    problem = assert_found(path, problems, severity, fragment, line)
    assert problem.unit_id is not None
    assert problem.unit_id.startswith("com.example::")
    assert problem.message == problem.message[0].lower() + problem.message[1:]


CLEAN = [
    ("job", JOB),
    ("simple-no-plugin", "id: a\nflags: simple\ncommand: true\n"),
    ("manual-steps", "id: a\nplugin: manual\n_summary: A\n_steps: do it\n"),
    ("plan-nested-only", "unit: test plan\nid: p\n_name: P\nnested_part: q\n"),
    (
        "packaging-open-fields",
        "unit: packaging meta-data\nos-id: debian\nDepends: x\nX-Extra: y\n",
    ),
    ("template-choice-placeholder", TEMPLATE + "certification-status: {status}\n"),
    ("template-duration-placeholder", TEMPLATE + "estimated_duration: {secs}\n"),
    ("template-flags-placeholder", TEMPLATE + "flags: {flag}\n"),
    ("template-requires-placeholder", TEMPLATE + "requires: pkg.name == '{name}'\n"),
    ("template-siblings", TEMPLATE + '_siblings: [{{"id": "x_{name}"}}]\n'),
    (
        "template-jinja-id",
        TEMPLATE.replace("t_{name}", "t_{{ name }}") + "template-engine: jinja2\n",
    ),
    ("durations", JOB + "estimated_duration: 1h 2m 3s\ntimeout: 2.5\n"),
    (
        "good-siblings",
        JOB + '_siblings: [{"id": "b", "_summary": "B", "depends": "a"}]\n',
    ),
    (
        "exporter",
        "unit: exporter\nid: e\n_summary: E\nentry_point: jinja2\n"
        'file_extension: tar.gz\ndata: {"template": "x.html"}\n',
    ),
    (
        "manifest-hidden",
        "unit: manifest entry\nid: _m\n_name: M\nvalue-type: bool\n"
        "_hidden-reason: set by config\n",
    ),
    (
        "imports",
        JOB + "imports: from com.canonical.plainbox import manifest as m\n"
        "requires: m.has_x == 'True'\n",
    ),
    ("all-flags", JOB + "flags: " + " ".join(FLAGS) + "\n"),
    ("setup-simple", "unit: setup job\nid: s\nflags: simple\ncommand: true\n"),
    (
        "plan-full",
        PLAN + "include:\n a certification-status=blocker, auto-retry=no\n b.*\n"
        "bootstrap_include: r\nsetup_include: s\ncategory_overrides: apply c to a\n",
    ),
]


@pytest.mark.parametrize("text", [pytest.param(t, id=i) for i, t in CLEAN])
def test_clean_units_have_no_problems(check, text: str) -> None:
    _, problems = check(text)
    assert [str(p) for p in problems] == []


def test_legacy_name_stands_for_id(check) -> None:
    _, problems = check("name: a\nplugin: shell\ncommand: true\n")
    assert [p.message for p in problems] == ["field 'name' is deprecated: use 'id'"]


def test_unknown_field_without_close_match_has_no_suggestion(check) -> None:
    path, problems = check(JOB + "zzzzzz: 1\n")
    problem = assert_found(path, problems, WARNING, "unknown field 'zzzzzz'", 5)
    assert "did you mean" not in problem.message
    assert problem.field == "zzzzzz"


def test_problem_carries_field_and_unit(check) -> None:
    path, problems = check("id: a\nplugin: shel\ncommand: true\n")
    (problem,) = problems
    assert problem.field == "plugin"
    assert problem.unit_id == "com.example::a"
    assert str(problem).startswith(f"{path}:2: error: field 'plugin'")


def test_template_values_with_placeholders_are_left_to_instances(check) -> None:
    # A literal bad choice in a template is still caught on the template.
    path, problems = check(TEMPLATE + "user: admin\n")
    assert_found(path, problems, ERROR, "'admin' is not one of root", 7)


def test_template_job_rules_are_left_to_instances(check) -> None:
    _, problems = check(
        "unit: template\ntemplate-resource: r\nid: t_{x}\nplugin: shell\n"
    )
    assert not find(problems, ERROR, "missing field 'command'")


def test_in_template_skips_what_the_template_reports(unit_file) -> None:
    path = unit_file("id: a\nplugin: PLUGIN\nsummary: A\nbogus: 1\nflags: FLAGS\n")
    catalog = load_catalog([], explicit=[path.parent.parent])
    (unit,) = [u for u in catalog.units if u.origin.path == str(path)]
    assert find(check_unit(unit), ERROR, "'PLUGIN' is not one of")
    quiet = check_unit(unit, in_template=True)
    assert [str(p) for p in quiet] == []


def test_in_template_keeps_job_rules(unit_file) -> None:
    path = unit_file("id: a\nplugin: manual\n_purpose: P\ncommand: true\n")
    catalog = load_catalog([], explicit=[path.parent.parent])
    (unit,) = [u for u in catalog.units if u.origin.path == str(path)]
    assert find(check_unit(unit, in_template=True), WARNING, "is ignored")


def test_yaml_units_are_located_and_translatable(check) -> None:
    text = """\
    id: y
    plugin: shell
    summary: Y
    command: "true"
    requires:
      - pkg.a == '1'
      - pkg.b ==
    """
    path, problems = check(text, "units.yaml")
    # Checkbox's own YAML units are written without '_': no advice there.
    assert not find(problems, ADVICE, "write '_summary'")
    assert_found(path, problems, ERROR, "syntax error", 7)


def test_value_line_without_the_file_is_approximated(unit_file) -> None:
    path = unit_file(JOB + "requires:\n pkg.a == '1'\n pkg.b == '2'\n")
    catalog = load_catalog([], explicit=[path.parent.parent])
    (unit,) = [u for u in catalog.units if u.origin.path == str(path)]
    assert value_line(unit, "requires", 1) == 7
    path.unlink()
    assert value_line(unit, "requires", 1) == 7  # multi-line: starts below the key
    assert value_line(unit, "absent") == unit.origin.line
    # Without the file, translatability cannot be judged: no false advice.
    assert not find(check_unit(unit), ADVICE, "translatable")
