"""Cross-unit validation: plainbox.units.validation and plainbox.units.references."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings

from plainbox.paths import BUILTIN_PROVIDER_DIR
from plainbox.units.catalog import Catalog
from plainbox.units.catalog import load_catalog
from plainbox.units.fields import UNIT_FIELDS
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity
from plainbox.units.references import ReferenceIndex
from plainbox.units.references import instance_id_pattern
from plainbox.units.testplan import resolve_test_plan
from plainbox.units.validation import validate


ERROR, WARNING, ADVICE = Severity.ERROR, Severity.WARNING, Severity.ADVICE


def write_provider(
    base: Path, units: str, *, namespace: str = "com.example", name: str = "units.pxu"
) -> Path:
    """A provider.toml provider with one unit file; returns the unit file."""
    (base / "units").mkdir(parents=True, exist_ok=True)
    (base / "provider.toml").write_text(
        f'[provider]\nname = "{base.name}"\nnamespace = "{namespace}"\n'
        'version = "1.0"\n'
    )
    path = base / "units" / name
    path.write_text(textwrap.dedent(units).lstrip("\n"), encoding="utf-8")
    return path


def load(*bases: Path) -> Catalog:
    return load_catalog([], explicit=bases, builtin_dir=BUILTIN_PROVIDER_DIR)


@pytest.fixture
def validated(tmp_path: Path):
    """Validate a one-file provider (against the built-in one): (path, problems)."""

    def run(units: str) -> tuple[Path, list[Problem]]:
        path = write_provider(tmp_path / "prov", units)
        catalog = load(tmp_path / "prov")
        target = [p for p in catalog.providers if p.name == "prov"]
        return path, validate(catalog, target)

    return run


def located(
    path: Path, problems: list[Problem], severity: Severity, fragment: str, line: int
) -> Problem:
    found = [p for p in problems if p.severity is severity and fragment in p.message]
    assert found, f"no {severity} {fragment!r} in {[str(p) for p in problems]}"
    at = [p for p in found if str(p).startswith(f"{path}:{line}: {severity}:")]
    assert at, f"{fragment!r} not at line {line}: {[str(p) for p in found]}"
    return at[0]


def serious(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems if p.severity is not ADVICE]


RES = "id: res\nplugin: resource\ncommand: echo a: b\n_summary: R\n\n"
SHELL = "id: sh\nplugin: shell\ncommand: true\n_summary: S\n\n"
MANUAL = "id: man\nplugin: manual\n_summary: M\n_purpose: P\n_steps: S\n\n"
SETUP = "unit: setup job\nid: su\nplugin: shell\ncommand: true\n_summary: U\n\n"
TMPL = (
    "unit: template\ntemplate-resource: res\nid: t_{name}\n_summary: T {name}\n"
    "plugin: shell\ncommand: echo {name}\n\n"
)
T = TMPL.rstrip("\n") + "\n"  # the template, open for more fields
U = T.replace("t_{name}", "u_{name}")  # another template, not a duplicate
BASE = RES + SHELL + MANUAL + SETUP + TMPL  # 30 lines, each unit 4-6 lines
BASE_LINES = BASE.count("\n")


def job(extra: str, job_id: str = "j") -> str:
    return f"id: {job_id}\nplugin: shell\ncommand: true\n_summary: J\n{extra}"


def plan(extra: str) -> str:
    return f"unit: test plan\nid: p\n_name: P\n{extra}"


L = BASE_LINES + 5  # the line of the first ``extra`` field after BASE
RULES = [
    # ordering references
    (
        "depends",
        job("depends: sh nope\n"),
        ERROR,
        "field 'depends': unknown job 'com.example::nope'",
        L,
    ),
    (
        "depends-line",
        job("depends:\n sh\n man, nope\n"),
        ERROR,
        "unknown job 'com.example::nope'",
        L + 2,
    ),
    (
        "after",
        job("after: other::x\n"),
        ERROR,
        "field 'after': unknown job 'other::x'",
        L,
    ),
    ("salvages", job("salvages: gone\n"), ERROR, "field 'salvages': unknown job", L),
    (
        "before",
        job("before: gone\n"),
        WARNING,
        "field 'before': unknown job 'com.example::gone'",
        L,
    ),
    (
        "template-depends",
        T.replace("plugin:", "depends: gone\nplugin:"),
        ERROR,
        "field 'depends': unknown job",
        L,
    ),
    # categories
    (
        "category",
        job("category_id: nope\n"),
        ERROR,
        "field 'category_id': unknown category 'com.example::nope'",
        L,
    ),
    (
        "category-other-ns",
        job("category_id: com.canonical.plainbox::nope\n"),
        ERROR,
        "unknown category 'com.canonical.plainbox::nope'",
        L,
    ),
    # resources
    (
        "requires-unknown",
        job("requires: gone.x == '1'\n"),
        ERROR,
        "field 'requires': unknown resource job 'com.example::gone'",
        L,
    ),
    (
        "requires-not-resource",
        job("requires: sh.x == '1'\n"),
        ERROR,
        "'com.example::sh' is not a resource job (its plugin is 'shell')",
        L,
    ),
    (
        "requires-line",
        job("requires:\n res.a == 'b'\n man.x == '1'\n"),
        ERROR,
        "'com.example::man' is not a resource job",
        L + 2,
    ),
    (
        "requires-import",
        job("imports: from other import r as x\nrequires: x.a == '1'\n"),
        ERROR,
        "unknown resource job 'other::r'",
        L + 1,
    ),
    (
        "imports-unknown",
        job("imports:\n from com.example import res\n from other import r\n"),
        ERROR,
        "field 'imports': unknown job 'other::r'",
        L + 2,
    ),
    (
        "template-resource-shell",
        TMPL.replace("template-resource: res", "template-resource: sh"),
        ERROR,
        "field 'template-resource': 'com.example::sh' is not a resource job",
        BASE_LINES + 2,
    ),
    (
        "template-resource-unknown",
        TMPL.replace("template-resource: res", "template-resource: gone"),
        ERROR,
        "unknown resource job 'com.example::gone'",
        BASE_LINES + 2,
    ),
    (
        "template-requires",
        T.replace("plugin:", "requires: sh.a == '1'\nplugin:"),
        ERROR,
        "is not a resource job",
        L,
    ),
    # templates
    (
        "template-render",
        T.replace("echo {name}", "echo {name.x}"),
        ERROR,
        "field 'command' does not render",
        L + 1,
    ),
    (
        "template-jinja",
        T.replace("echo {name}", "echo {{ name") + "template-engine: jinja2\n",
        ERROR,
        "field 'command' is not a valid template",
        L + 1,
    ),
    (
        "instances",
        T.replace("shell\ncommand", "manual\n_purpose: P\ncommand"),
        WARNING,
        "in instances: field 'command' is ignored: manual jobs run no command",
        L + 2,
    ),
    (
        "instances-requires",
        T.replace("plugin:", "requires: {name} ==\nplugin:"),
        ERROR,
        "in instances: field 'requires': syntax error",
        L,
    ),
    (
        "instances-siblings",
        T + '_siblings: [{{"id": "x_{name}", "bogus": 1}}]\n',
        ERROR,
        "in instances: field 'siblings': sibling 1 has unknown job field 'bogus'",
        L + 2,
    ),
    (
        "template-id-constant",
        TMPL.replace("t_{name}", "t_fixed"),
        ERROR,
        "field 'id' must reference a template parameter",
        BASE_LINES + 3,
    ),
    (
        "template-summary-constant",
        TMPL.replace("T {name}", "T"),
        WARNING,
        "field 'summary' should reference a template parameter",
        BASE_LINES + 4,
    ),
    (
        "template-plugin-variant",
        T.replace("plugin: shell", "plugin: {p}"),
        WARNING,
        "field 'plugin' should not reference a template parameter",
        L,
    ),
    (
        "template-flags-variant",
        T + "flags: {f}\n",
        WARNING,
        "field 'flags' should not reference a template parameter",
        L + 2,
    ),
    (
        "template-shell-variant",
        T + "shell: {sh}\n",
        WARNING,
        "field 'shell' should not reference",
        L + 2,
    ),
    # test plans
    (
        "plan-unknown",
        plan("include:\n sh\n gone\n"),
        WARNING,
        "field 'include': unknown job 'com.example::gone'",
        L + 1,
    ),
    (
        "plan-regex",
        plan("include: sh\nexclude: zz.*\n"),
        WARNING,
        "field 'exclude': pattern 'zz.*' matches no job",
        L,
    ),
    (
        "plan-mandatory",
        plan("include: sh\nmandatory_include: gone\n"),
        WARNING,
        "field 'mandatory_include': unknown job",
        L,
    ),
    (
        "plan-exclude",
        plan("include: sh\nexclude: gone\n"),
        WARNING,
        "field 'exclude': unknown job",
        L,
    ),
    (
        "plan-bootstrap-unknown",
        plan("include: sh\nbootstrap_include: com.example::gone.res\n"),
        ERROR,
        "field 'bootstrap_include': unknown job 'com.example::gone.res'",
        L,
    ),
    (
        "plan-nested-comment",
        plan("include: sh\nnested_part:\n  # not a plan\n  gone # nor this\n"),
        ERROR,
        "nested_part 'com.example::gone' is not a known test plan",
        L,
    ),
    (
        "plan-nested-unknown",
        plan("include: sh\nnested_part: gone\n"),
        ERROR,
        "nested_part 'com.example::gone' is not a known test plan",
        L,
    ),
    (
        "plan-nested-cycle",
        plan("include: sh\nnested_part: p\n"),
        ERROR,
        "nested_part cycle: com.example::p -> com.example::p",
        L,
    ),
    (
        "plan-bootstrap-manual",
        plan("include: sh\nbootstrap_include:\n res\n man\n"),
        ERROR,
        "field 'bootstrap_include': 'man' is not an automated job "
        "(its plugin is 'manual')",
        L + 2,
    ),
    (
        "plan-bootstrap-unknown",
        plan("include: sh\nbootstrap_include: gone\n"),
        ERROR,
        "field 'bootstrap_include': unknown job",
        L,
    ),
    (
        "plan-setup-not-setup",
        plan("include: sh\nsetup_include: sh\n"),
        WARNING,
        "field 'setup_include': 'sh' is not a setup job",
        L,
    ),
    (
        "plan-inline-category",
        plan("include: sh category_id=nope\n"),
        ERROR,
        "field 'include': unknown category 'com.example::nope'",
        L - 1,
    ),
    (
        "plan-category-overrides",
        plan(
            "include: sh\ncategory_overrides:\n"
            " apply com.canonical.plainbox::audio to sh\n apply nope to sh\n"
        ),
        ERROR,
        "field 'category_overrides': unknown category 'com.example::nope'",
        L + 2,
    ),
    (
        "plan-override-target",
        plan("include: sh\ncertification_status_overrides: apply blocker to gone\n"),
        WARNING,
        "field 'certification_status_overrides': unknown job",
        L,
    ),
]


@pytest.mark.parametrize(
    ("units", "severity", "fragment", "line"),
    [pytest.param(*row[1:], id=row[0]) for row in RULES],
)
def test_rule(validated, units: str, severity: Severity, fragment: str, line: int):
    path, problems = validated(BASE + units)
    problem = located(path, problems, severity, fragment, line)
    assert problem.unit_id is not None
    assert problem.field is not None


CLEAN = [
    ("depends-instance", job("depends: t_sda, sh\nafter: man\nbefore: su\n")),
    ("depends-full-id", job("depends: com.example::sh\nsalvages: com.example::t_x\n")),
    ("builtin-category", job("category_id: com.canonical.plainbox::audio\n")),
    (
        "manifest",
        job(
            "imports: from com.canonical.plainbox import manifest\n"
            "requires: manifest.has_x == 'True'\n"
        ),
    ),
    (
        "resource-by-template",
        job("requires: r_sda.a == '1'\n")
        + "\n"
        + TMPL.replace("t_{name}", "r_{name}").replace("shell", "resource"),
    ),
    (
        "template-imports",
        U.replace("res\n", "x\ntemplate-imports: from com.example import res as x\n"),
    ),
    ("template-filter", U + "template-filter: res.name == 'sda'\n"),
    ("template-index", TMPL.replace("t_{name}", "t_{__index__}")),
    ("template-jinja", U.replace("{name}", "{{ name }}") + "template-engine: jinja2\n"),
    (
        "plan-template-id",
        plan("include:\n t_name\n t_.*\n sh\nbootstrap_include: res\n"),
    ),
    ("plan-instance-id", plan("include: t_sda\nbootstrap_include: res\n")),
    ("plan-regex", plan("include: .*\nexclude: m.*\nbootstrap_include: res\n")),
    ("plan-cross-namespace", plan("include: com.canonical.plainbox::manifest\n")),
    (
        "plan-bootstrap",
        plan("include: sh\nbootstrap_include: res\nsetup_include: su\n"),
    ),
    (
        "plan-overrides",
        plan(
            "include: sh category_id=com.canonical.plainbox::audio\n"
            "category_overrides: apply com.canonical.plainbox::info to .*\n"
        ),
    ),
    (
        "plan-nested",
        plan("include: sh\nnested_part: q\n")
        + "\n\nunit: test plan\nid: q\n_name: Q\ninclude: man\n",
    ),
]


@pytest.mark.parametrize("units", [pytest.param(u, id=i) for i, u in CLEAN])
def test_clean(validated, units: str) -> None:
    _, problems = validated(BASE + units)
    assert [str(p) for p in problems] == []


def test_a_clean_provider_gives_no_problems(validated) -> None:
    _, problems = validated(BASE)
    assert [str(p) for p in problems] == []


def test_bundled_and_builtin_providers_are_clean() -> None:
    catalog = load_catalog([], builtin_dir=BUILTIN_PROVIDER_DIR)
    assert serious(validate(catalog)) == []


PL = BASE_LINES + 4  # the line of the first field after plan()'s header
Q = "\nunit: test plan\nid: q\n_name: Q\n"  # another plan, after plan(...)
NEEDS_RES = job("requires: res.a == 'b'\n", "needs-res") + "\n"  # 6 lines
DEPENDS_RES = job("depends: res\n", "after-res") + "\n"  # 6 lines
SETUP_RES = SETUP.replace("id: su", "id: su2").replace(
    "_summary: U\n", "_summary: U\nrequires: res.a == 'b'\n"
)  # 7 lines
# (id, units after BASE, [(line, field) of each "selects template" warning])
TEMPLATE_BOOTSTRAP = [
    ("bootstrapped", plan("include: t_name\nbootstrap_include: res\n"), []),
    ("not-bootstrapped", plan("include:\n sh\n t_name\n"), [(PL + 2, "include")]),
    ("pattern-template-id", plan("include: t_.*\n"), [(PL, "include")]),
    ("pattern-any", plan("include: sh\n  .*\n"), [(PL + 1, "include")]),
    ("instance-id", plan("include: t_sda\n"), [(PL, "include")]),
    (
        "mandatory",
        plan("include: sh\nmandatory_include: t_name\n"),
        [(PL + 1, "mandatory_include")],
    ),
    (
        "resource-only-in-include",
        plan("include:\n res\n t_name\n"),
        [(PL + 2, "include")],
    ),
    ("pattern-not-template", plan("include: s.*\n"), []),
    (
        "nested-part-bootstraps",
        plan("include: t_name\nnested_part: q\n")
        + Q
        + "include: sh\nbootstrap_include: res\n",
        [],
    ),
    (
        "nested-part-selects",  # reported once, on the part's own line
        plan("include: sh\nnested_part: q\n") + Q + "include: t_name\n",
        [(PL + 6, "include")],
    ),
    (
        "another-plan-bootstraps",
        plan("include: t_name\n") + Q + "include: sh\nbootstrap_include: res\n",
        [(PL, "include")],
    ),
    (
        "bootstrap-requires",
        NEEDS_RES + plan("include: t_name\nbootstrap_include: needs-res\n"),
        [],
    ),
    (
        "bootstrap-depends",
        DEPENDS_RES + plan("include: t_name\nbootstrap_include: after-res\n"),
        [],
    ),
    (
        "setup-requires",
        SETUP_RES + plan("include: t_name\nsetup_include: su2\n"),
        [],
    ),
    (
        "bootstrap-pull-excluded",
        NEEDS_RES
        + plan("include: t_name\nbootstrap_include: needs-res\nexclude: res\n"),
        [(PL + 6, "include")],
    ),
    ("template-excluded", plan("include: .*\nexclude: t_name\n"), []),
    (
        "mandatory-not-excluded",
        plan("include: sh\nmandatory_include: t_name\nexclude: t_name\n"),
        [(PL + 1, "mandatory_include")],
    ),
]


@pytest.mark.parametrize(
    ("units", "expected"),
    [pytest.param(row[1], row[2], id=row[0]) for row in TEMPLATE_BOOTSTRAP],
)
def test_template_without_bootstrap(
    validated, units: str, expected: list[tuple[int, str]]
) -> None:
    path, problems = validated(BASE + units)
    found = [p for p in problems if "selects template" in p.message]
    assert [(p.origin.path, p.origin.line, p.field) for p in found] == [
        (str(path), line, name) for line, name in expected
    ]
    assert all(p.severity is WARNING for p in found)
    others = [str(p) for p in problems if p not in found]
    assert others == []


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        pytest.param("", "is not in bootstrap_include", id="missing"),
        pytest.param(
            "bootstrap_include: res\nexclude: res\n",
            "is excluded from the bootstrap phase",
            id="excluded",
        ),
    ],
)
def test_template_without_bootstrap_message(validated, extra: str, why: str) -> None:
    path, problems = validated(BASE + plan("include: t_name\n" + extra))
    assert [str(p) for p in problems] == [
        f"{path}:{PL}: warning: test plan 'com.example::p' selects template "
        f"'com.example::t_name', but its resource job 'com.example::res' {why}: "
        "the template makes no jobs"
    ]
    assert problems[0].unit_id == "com.example::p"


def test_load_problems_are_included(validated) -> None:
    path, problems = validated(BASE + "id: x\nbroken line\n")
    located(path, problems, ERROR, "expected 'key: value'", BASE_LINES + 2)


def test_check_unit_problems_are_included(validated) -> None:
    path, problems = validated(BASE + job("plugin2: x\n"))
    located(path, problems, WARNING, "unknown field 'plugin2'", L)


def test_only_target_providers_are_reported(tmp_path: Path) -> None:
    mine = write_provider(tmp_path / "mine", BASE + job("depends: gone\n"))
    theirs = write_provider(
        tmp_path / "theirs", "id: x\nbroken\n\n" + job("depends: gone\n")
    )
    catalog = load(tmp_path / "mine", tmp_path / "theirs")
    target = [p for p in catalog.providers if p.name == "mine"]
    problems = validate(catalog, target)
    assert problems
    assert {p.origin.path for p in problems} == {str(mine)}
    everything = validate(catalog)
    assert str(theirs) in {p.origin.path for p in everything}


def test_duplicate_id_in_one_provider(validated) -> None:
    path, problems = validated(BASE + SHELL)
    problem = located(path, problems, ERROR, "duplicate job id 'sh'", BASE_LINES + 1)
    assert f"also defined at {path}:6" in problem.message


def test_same_id_of_another_kind_is_not_a_duplicate(validated) -> None:
    _, problems = validated(BASE + "unit: category\nid: sh\n_name: S\n")
    assert [str(p) for p in problems] == []


def test_same_id_in_two_providers(tmp_path: Path) -> None:
    a = write_provider(tmp_path / "a", SHELL)
    write_provider(tmp_path / "b", SHELL.replace("true", "false"))
    write_provider(tmp_path / "c", SHELL)  # identical: no complaint about it
    catalog = load(tmp_path / "a", tmp_path / "b", tmp_path / "c")
    target = [p for p in catalog.providers if p.name == "a"]
    problems = validate(catalog, target)
    problem = located(
        a, problems, WARNING, "is also defined, differently, by provider 'b'", 1
    )
    assert problem.field == "id"
    assert len(problems) == 1


def test_instance_problems_are_not_repeated(validated) -> None:
    path, problems = validated(BASE + T + "bogus: 1\n")
    unknown = [p for p in problems if "bogus" in p.message]
    assert [str(p) for p in unknown] == [
        f"{path}:{L + 2}: warning: unknown field 'bogus'"
    ]


def test_template_placeholders_do_not_make_false_references(validated) -> None:
    units = U.replace("plugin:", "depends: d_{name}\ncategory_id: {cat}\nplugin:")
    _, problems = validated(BASE + units)
    assert [str(p) for p in problems] == []


def test_nested_problems_are_reported_once(validated) -> None:
    units = plan("include: sh\nnested_part: q\n") + "\n"
    units += "unit: test plan\nid: q\n_name: Q\ninclude: sh\nnested_part: gone\n"
    _, problems = validated(BASE + units)
    assert len([p for p in problems if "'com.example::gone'" in p.message]) == 1


def test_problems_are_sorted_and_unique(validated) -> None:
    _, problems = validated(BASE + job("depends: gone gone\n") + "\n" + SHELL)
    keys = [(p.origin.path, p.origin.line) for p in problems]
    assert keys == sorted(keys)
    assert len(set(problems)) == len(problems)


def test_yaml_test_plan_lines(tmp_path: Path) -> None:
    write_provider(tmp_path / "prov", BASE)
    path = write_provider(
        tmp_path / "prov",
        """\
        unit: test plan
        id: y
        _name: Y
        include:
          - sh
          - gone
        """,
        name="plans.yaml",
    )
    catalog = load(tmp_path / "prov")
    problems = validate(catalog, [p for p in catalog.providers if p.name == "prov"])
    located(path, problems, WARNING, "unknown job 'com.example::gone'", 6)


def test_instance_id_pattern(tmp_path: Path) -> None:
    write_provider(
        tmp_path / "prov",
        "unit: template\ntemplate-resource: r\n"
        "id: a.{x}/{{ y }}-{% if z %}q{% endif %}\n",
    )
    catalog = load(tmp_path / "prov")
    (template,) = catalog.templates
    assert instance_id_pattern(template) == r"com\.example::a\..+/.+\-.*q.*"


def test_reference_index() -> None:
    catalog = load_catalog([], builtin_dir=BUILTIN_PROVIDER_DIR)
    index = ReferenceIndex.build(catalog)
    assert index.is_job("com.canonical.plainbox::manifest")
    assert index.plugin_of("com.canonical.plainbox::manifest") == "resource"
    assert index.plugin_of("com.canonical.plainbox::nope") is None
    assert "com.canonical.plainbox::uncategorised" in index.categories


def test_resolved_qualifiers_are_on_their_own_lines(tmp_path: Path) -> None:
    write_provider(tmp_path / "prov", plan("include:\n a\n b\n"))
    catalog = load(tmp_path / "prov")
    (test_plan,) = [tp for tp in catalog.test_plans if tp.partial_id == "p"]
    resolved = resolve_test_plan(test_plan, {test_plan.id: test_plan})
    assert [q.origin.line for q in resolved.qualifiers["include"]] == [5, 6]


def test_many_units_validate_quickly(tmp_path: Path) -> None:
    """2,500 units: a coarse guard against quadratic work (not a benchmark)."""
    chunks = [BASE]
    for n in range(600):
        chunks.append(
            job(f"depends: sh j{n - 1 if n else 0}\nrequires: res.a == 'b'\n", f"j{n}")
            + "\n"
        )
        chunks.append(T.replace("t_{name}", f"t{n}_{{name}}") + f"depends: j{n}\n\n")
        chunks.append(f"unit: category\nid: c{n}\n_name: C\n\n")
        chunks.append(
            plan(f"include:\n j{n}\n t{n}_.*\nbootstrap_include: res\n").replace(
                "id: p", f"id: p{n}"
            )
            + "\n"
        )
    write_provider(tmp_path / "big", "".join(chunks))
    start = time.perf_counter()
    catalog = load(tmp_path / "big")
    problems = validate(catalog)
    elapsed = time.perf_counter() - start
    assert len(catalog.units) > 2_400
    assert serious(problems) == []
    assert elapsed < 10  # measured well under 1 s; generous for slow CI machines


FIELD_NAMES = sorted({spec.name for specs in UNIT_FIELDS.values() for spec in specs})
_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "shell",
            "manual",
            "resource",
            "template",
            "test plan",
            "job",
            "setup job",
            "{x}",
            "{{ y }}",
            "a.*",
            "res.a == 'b'",
            "[{}]",
            "1h",
            "apply a to b",
            "from a import b",
            "jinja2",
            "category",
            "exporter",
            "manifest entry",
            "sh",
            "res",
            "com.canonical.plainbox::manifest",
            "_x",
            "a::b",
        ]
    ),
)
_lines = st.tuples(
    st.sampled_from([*FIELD_NAMES, "_summary", "_name", "unit", "bogus"]), _values
).map(lambda kv: f"{kv[0]}: {kv[1]}".replace("\n", "\n "))
_records = st.lists(_lines, min_size=1, max_size=8).map("\n".join)
_files = st.one_of(
    st.lists(_records, max_size=6).map("\n\n".join),
    st.text(max_size=300),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=_files)
def test_validating_arbitrary_text_never_raises(tmp_path: Path, text: str) -> None:
    base = tmp_path / "fuzz"
    (base / "units").mkdir(parents=True, exist_ok=True)
    (base / "provider.toml").write_text(
        '[provider]\nname = "fuzz"\nnamespace = "com.example"\nversion = "1"\n'
    )
    (base / "units" / "units.pxu").write_text(BASE + "\n\n" + text, encoding="utf-8")
    catalog = load(base)
    for problem in validate(catalog):
        assert str(problem).startswith(problem.origin.path)
