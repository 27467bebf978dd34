"""Test-plan qualifiers, override lines, nested-part resolution and selection."""

from __future__ import annotations

import textwrap

import pytest

from plainbox.units.loader import load_record
from plainbox.units.model import JobDefinition
from plainbox.units.model import TemplateUnit
from plainbox.units.model import TestPlan
from plainbox.units.model import Unit
from plainbox.units.problems import Origin
from plainbox.units.problems import Severity
from plainbox.units.pxu import parse_pxu
from plainbox.units.testplan import ResolvedPlan
from plainbox.units.testplan import parse_override_lines
from plainbox.units.testplan import parse_qualifiers
from plainbox.units.testplan import resolve_test_plan


NS = "com.example"
FIELD = Origin("units/plans.pxu", 10)


def load_units(text: str, namespace: str = NS) -> list[Unit]:
    """Units of a PXU text, as the loader builds them (path ``units.pxu``)."""
    records, problems = parse_pxu(textwrap.dedent(text), "units.pxu")
    assert not problems, problems
    units = []
    for record in records:
        unit, problem = load_record(record, namespace=namespace, provider="example")
        assert unit is not None, problem
        units.append(unit)
    return units


def jobs_of(text: str, namespace: str = NS) -> list[JobDefinition]:
    units = load_units(text, namespace)
    assert all(isinstance(unit, JobDefinition) for unit in units)
    return [unit for unit in units if isinstance(unit, JobDefinition)]


def plans_of(text: str) -> dict[str, TestPlan]:
    return {unit.id: unit for unit in load_units(text) if isinstance(unit, TestPlan)}


def resolved(text: str, plan: str = "tp") -> ResolvedPlan:
    plans = plans_of(text)
    return resolve_test_plan(plans[f"{NS}::{plan}"], plans)


def ids(jobs: list[JobDefinition]) -> list[str]:
    return [job.partial_id for job in jobs]


def job(partial_id: str, namespace: str = NS, template_id: str | None = None):
    text = f"id: {partial_id}\nplugin: shell\ncommand: true\n"
    if template_id is not None:
        text += f"template-id: {template_id}\n"
    (unit,) = jobs_of(text, namespace)
    return unit


# -- parse_qualifiers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "exact"),
    [
        ("foo", True),
        ("disk/read-1_b", True),
        ("foo.*", False),
        ("disk/read.1", False),
        ("a|b", False),
        ("foo[12]", False),
        ("foo?", False),
        ("(foo)", False),
        ("^foo$", True),
    ],
)
def test_parse_qualifiers_detects_exact_and_regex_patterns(text, exact):
    (qualifier,), problems = parse_qualifiers(text, NS, FIELD)

    assert problems == []
    assert qualifier.is_exact is exact
    assert qualifier.text == text


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("foo", f"{NS}::foo"),
        ("disk/.*", f"{NS}::disk/.*"),
        ("com.other::foo", "com.other::foo"),
        (".*::.*", ".*::.*"),
    ],
)
def test_parse_qualifiers_qualifies_patterns_with_the_namespace(text, pattern):
    (qualifier,), _ = parse_qualifiers(text, NS, FIELD)

    assert qualifier.pattern == pattern


@pytest.mark.parametrize(
    ("text", "matching", "not_matching"),
    [
        ("foo", [f"{NS}::foo"], [f"{NS}::foobar", "com.other::foo", "foo"]),
        (".*", [f"{NS}::a", f"{NS}::b/c"], ["com.other::a"]),
        (".*::.*", [f"{NS}::a", "com.other::a"], []),
        ("a|b", [f"{NS}::a", f"{NS}::b"], ["com.other::b", f"{NS}::ab", "b"]),
        ("disk/.*", [f"{NS}::disk/read"], [f"{NS}::net/disk/x", "com.x::disk/r"]),
        ("disk/.*$", [f"{NS}::disk/read"], ["com.x::disk/r"]),
        ("com.other::disk/.*", ["com.other::disk/a"], [f"{NS}::disk/a"]),
        ("com.other::x|com.other::y", ["com.other::x", "com.other::y"], []),
    ],
)
def test_parse_qualifiers_matches_whole_ids(text, matching, not_matching):
    (qualifier,), _ = parse_qualifiers(text, NS, FIELD)

    assert [uid for uid in matching if qualifier.matches_id(uid)] == matching
    assert [uid for uid in not_matching if qualifier.matches_id(uid)] == []


@pytest.mark.parametrize("text", ["^disk/.*$", "^disk/.*"])
def test_parse_qualifiers_accepts_explicit_anchors(text):
    (qualifier,), _ = parse_qualifiers(text, NS, FIELD)

    assert qualifier.matches_id(f"{NS}::disk/read")
    assert not qualifier.matches_id("com.other::disk/read")


def test_parse_qualifiers_skips_comments_and_blank_lines():
    text = "foo\n\n# a comment\n   # indented comment\n  \nbar"

    qualifiers, problems = parse_qualifiers(text, NS, FIELD)

    assert problems == []
    assert [q.text for q in qualifiers] == ["foo", "bar"]
    assert [q.origin for q in qualifiers] == [FIELD, FIELD.at(15)]


@pytest.mark.parametrize(
    ("text", "overrides"),
    [
        ("foo", ()),
        ("foo certification-status=blocker", (("certification_status", "blocker"),)),
        (
            "foo certification-status=blocker, category-id=x",
            (("certification_status", "blocker"), ("category_id", "com.example::x")),
        ),
        (
            "foo   certification_status=non-blocker ,auto-retry=no",
            (("certification_status", "non-blocker"), ("auto_retry", "no")),
        ),
    ],
)
def test_parse_qualifiers_normalises_inline_overrides(text, overrides):
    (qualifier,), problems = parse_qualifiers(text, NS, FIELD)

    assert problems == []
    assert qualifier.overrides == overrides
    assert qualifier.pattern == f"{NS}::foo"


def test_parse_qualifiers_splits_overrides_at_any_whitespace():
    (qualifier,), problems = parse_qualifiers(
        "foo\tcertification-status=blocker", NS, FIELD
    )

    assert problems == []
    assert qualifier.pattern == f"{NS}::foo"
    assert qualifier.overrides == (("certification_status", "blocker"),)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("bar bogus=1", ["bogus"]),
        ("bar summary=x", ["summary"]),
        ("bar certification-status=maybe", ["certification-status", "maybe"]),
        ("bar auto-retry=yes", ["auto-retry", "yes"]),
        ("bar certification-status", ["field=value"]),
        ("bar =blocker", ["field=value"]),
    ],
)
def test_parse_qualifiers_reports_bad_overrides_at_their_line(line, words):
    qualifiers, problems = parse_qualifiers(f"foo\n# note\n{line}", NS, FIELD)

    assert [q.text for q in qualifiers] == ["foo"]
    (problem,) = problems
    assert problem.severity is Severity.ERROR
    assert problem.origin == Origin("units/plans.pxu", 12)
    for word in words:
        assert word in problem.message


@pytest.mark.parametrize("pattern", ["x(", "[a-", "a)", "*", "(?P<x"])
def test_parse_qualifiers_reports_bad_regex_at_its_line(pattern):
    qualifiers, problems = parse_qualifiers(f"foo\n\n{pattern}", NS, FIELD)

    assert [q.text for q in qualifiers] == ["foo"]
    (problem,) = problems
    assert problem.severity is Severity.ERROR
    assert problem.origin == Origin("units/plans.pxu", 12)
    assert pattern in problem.message


def test_parse_qualifiers_without_a_line_reports_the_file():
    _, problems = parse_qualifiers("foo\nx(", NS, Origin("plans.pxu"))

    assert [p.origin for p in problems] == [Origin("plans.pxu")]


PLAN_WITH_PROBLEMS = """\
unit: test plan
id: tp
_name: Problems on known lines
include:
 foo
# a column-0 comment, dropped by the PXU parser
 bar bogus=1
 baz
 x(
"""


def test_resolve_test_plan_locates_problems_at_their_file_line():
    plan = resolved(PLAN_WITH_PROBLEMS)

    assert sorted(problem.origin.line for problem in plan.problems) == [7, 9]


# -- parse_override_lines -----------------------------------------------------


def test_parse_override_lines_builds_one_override_per_line():
    text = "apply blocker to foo.*\n\n# comment\napply non-blocker to bar"

    qualifiers, problems = parse_override_lines(text, "certification_status", NS, FIELD)

    assert problems == []
    assert [(q.pattern, q.overrides, q.origin.line) for q in qualifiers] == [
        (f"{NS}::foo.*", (("certification_status", "blocker"),), 10),
        (f"{NS}::bar", (("certification_status", "non-blocker"),), 13),
    ]
    assert qualifiers[0].matches_id(f"{NS}::foo/1")
    assert not qualifiers[0].matches_id("com.other::foo/1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("disks", f"{NS}::disks"), ("com.other::disks", "com.other::disks")],
)
def test_parse_override_lines_qualifies_categories(value, expected):
    (qualifier,), problems = parse_override_lines(
        f"apply {value} to foo", "category_id", NS, FIELD
    )

    assert problems == []
    assert qualifier.overrides == (("category_id", expected),)


@pytest.mark.parametrize(
    "line",
    [
        "apply blocker",
        "apply blocker to",
        "apply blocker foo",
        "set blocker to foo",
        "apply blocker to foo bar",
        "blocker",
    ],
)
def test_parse_override_lines_reports_malformed_lines(line):
    qualifiers, problems = parse_override_lines(
        f"apply blocker to ok\n{line}", "certification_status", NS, FIELD
    )

    assert [q.text for q in qualifiers] == ["ok"]
    (problem,) = problems
    assert problem.severity is Severity.ERROR
    assert problem.origin == FIELD.at(11)
    assert "apply VALUE to PATTERN" in problem.message


@pytest.mark.parametrize(
    ("text", "word"),
    [("apply maybe to foo", "maybe"), ("apply blocker to x(", "x(")],
)
def test_parse_override_lines_reports_bad_values_and_patterns(text, word):
    qualifiers, problems = parse_override_lines(text, "certification_status", NS, FIELD)

    assert qualifiers == []
    (problem,) = problems
    assert problem.origin == FIELD
    assert word in problem.message


# -- resolve_test_plan --------------------------------------------------------


NESTED = """\
unit: test plan
id: tp
_name: Top
include: top
nested_part: part-a, part-b
exclude: top-excluded
certification_status_overrides: apply blocker to top

unit: test plan
id: part-a
_name: A
include: a
nested_part: part-b
bootstrap_include: res-a

unit: test plan
id: part-b
_name: B
include: b certification-status=blocker
nested_part: part-c
setup_include: setup-b

unit: test plan
id: part-c
_name: C
mandatory_include: c
category_overrides: apply cat-c to c
"""


def test_resolve_test_plan_merges_nested_parts_recursively_once():
    plan = resolved(NESTED)

    assert plan.problems == []
    assert plan.plan.partial_id == "tp"
    assert [p.partial_id for p in plan.nested] == ["part-a", "part-b", "part-c"]
    patterns = {
        kind: [q.pattern for q in qualifiers]
        for kind, qualifiers in plan.qualifiers.items()
    }
    assert patterns == {
        "include": [f"{NS}::top", f"{NS}::a", f"{NS}::b"],
        "exclude": [f"{NS}::top-excluded"],
        "bootstrap_include": [f"{NS}::res-a"],
        "setup_include": [f"{NS}::setup-b"],
        "mandatory_include": [f"{NS}::c"],
    }
    assert sorted(q.pattern for q in plan.override_qualifiers) == [
        f"{NS}::c",
        f"{NS}::top",
    ]


@pytest.mark.parametrize(
    ("text", "cycle"),
    [
        (
            "unit: test plan\nid: tp\n_name: A\ninclude: a\nnested_part: b\n\n"
            "unit: test plan\nid: b\n_name: B\ninclude: b\nnested_part: tp\n",
            f"{NS}::tp -> {NS}::b -> {NS}::tp",
        ),
        (
            "unit: test plan\nid: tp\n_name: A\ninclude: a\nnested_part: tp\n",
            f"{NS}::tp -> {NS}::tp",
        ),
        (
            "unit: test plan\nid: tp\n_name: A\ninclude: a\nnested_part: b\n\n"
            "unit: test plan\nid: b\n_name: B\ninclude: b\nnested_part: c\n\n"
            "unit: test plan\nid: c\n_name: C\ninclude: c\nnested_part: b\n",
            f"{NS}::b -> {NS}::c -> {NS}::b",
        ),
    ],
)
def test_resolve_test_plan_reports_nested_part_cycles(text, cycle):
    plan = resolved(text)

    (problem,) = plan.problems
    assert problem.severity is Severity.ERROR
    assert cycle in problem.message
    assert problem.field == "nested_part"
    assert problem.origin.path == "units.pxu"
    assert problem.origin.line > 0
    assert len(plan.qualifiers["include"]) == len(plans_of(text))


def test_resolve_test_plan_reports_unknown_nested_parts():
    text = "unit: test plan\nid: tp\n_name: A\ninclude: a\nnested_part: ghost\n"

    plan = resolved(text)

    (problem,) = plan.problems
    assert problem.severity is Severity.ERROR
    assert f"{NS}::ghost" in problem.message
    assert problem.unit_id == f"{NS}::tp"
    assert problem.origin == Origin("units.pxu", 5)
    assert [q.pattern for q in plan.qualifiers["include"]] == [f"{NS}::a"]


def test_resolve_test_plan_collects_qualifier_problems_of_nested_parts():
    text = (
        "unit: test plan\nid: tp\n_name: A\ninclude: a\nnested_part: b\n\n"
        "unit: test plan\nid: b\n_name: B\ninclude: x(\n"
        "category_overrides: apply cat to\n"
    )

    plan = resolved(text)

    assert sorted(p.origin.line for p in plan.problems) == [10, 11]


def test_resolve_test_plan_reads_dashed_override_field_names():
    text = (
        "unit: test plan\nid: tp\n_name: A\ninclude: a\n"
        "category-overrides: apply cat to a\n"
    )

    plan = resolved(text)

    assert plan.problems == []
    (qualifier,) = plan.override_qualifiers
    assert qualifier.overrides == (("category_id", f"{NS}::cat"),)
    assert qualifier.origin == Origin("units.pxu", 5)


# -- ResolvedPlan.select ------------------------------------------------------


JOBS = """\
id: a
plugin: shell

id: b
plugin: shell

id: c
plugin: shell

id: d
plugin: shell
"""


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ("c\nb", "", ["c", "b"]),
        ("c\n.*", "", ["c", "a", "b", "d"]),
        (".*\nc", "", ["a", "b", "c", "d"]),
        ("d|b\na", "", ["b", "d", "a"]),
        (".*", "b", ["a", "c", "d"]),
        ("b\n.*", "[bc]", ["a", "d"]),
        ("a\na\n.*", "", ["a", "b", "c", "d"]),
        ("ghost", "", []),
    ],
)
def test_resolved_plan_select_orders_by_qualifier_then_load_order(
    include, exclude, expected
):
    plan_text = "unit: test plan\nid: tp\n_name: P\n"
    plan_text += "include:\n" + textwrap.indent(include, " ") + "\n"
    if exclude:
        plan_text += f"exclude: {exclude}\n"
    plan = resolved(plan_text)

    assert ids(plan.select("include", jobs_of(JOBS))) == expected


def test_resolved_plan_select_ignores_other_namespaces_unless_asked():
    jobs = [job("a"), job("a", "com.other"), job("b", "com.other")]

    own = resolved("unit: test plan\nid: tp\n_name: P\ninclude: .*\n")
    every = resolved("unit: test plan\nid: tp\n_name: P\ninclude: .*::.*\n")

    assert [j.id for j in own.select("include", jobs)] == [f"{NS}::a"]
    assert len(every.select("include", jobs)) == 3


def test_resolved_plan_select_matches_instances_by_template_id():
    jobs = [
        job("mount-root", template_id="mount-point"),
        job("other"),
        job("mount-home", template_id="mount-point"),
    ]
    plan = resolved(
        "unit: test plan\nid: tp\n_name: P\ninclude:\n other\n mount-point\n"
        "exclude: mount-home\n"
    )

    assert ids(plan.select("include", jobs)) == ["other", "mount-root"]


def test_resolved_plan_select_excludes_instances_by_template_id():
    jobs = [job("mount-root", template_id="mount-point"), job("other")]
    plan = resolved(
        "unit: test plan\nid: tp\n_name: P\ninclude: .*\nexclude: mount-point\n"
    )

    assert ids(plan.select("include", jobs)) == ["other"]


def test_resolved_plan_select_reads_each_field_separately():
    plan = resolved(
        "unit: test plan\nid: tp\n_name: P\ninclude: a\nmandatory_include: b\n"
        "bootstrap_include: c\nsetup_include: d\n"
    )
    jobs = jobs_of(JOBS)

    assert {
        kind: ids(plan.select(kind, jobs))
        for kind in ("include", "mandatory_include", "bootstrap_include")
    } == {"include": ["a"], "mandatory_include": ["b"], "bootstrap_include": ["c"]}
    assert ids(plan.select("setup_include", jobs)) == ["d"]
    assert plan.select("nothing", jobs) == []


# -- overrides_for / unmatched ------------------------------------------------


OVERRIDES = """\
unit: test plan
id: tp
_name: Overrides
include:
 a certification-status=blocker, auto-retry=no
 b
 c category-id=inline-cat
nested_part: part
category_overrides:
 apply plan-cat to [ab]
certification_status_overrides:
 apply non-blocker to b

unit: test plan
id: part
_name: Part
include: d certification-status=blocker
mandatory_include: m certification-status=blocker
"""


@pytest.mark.parametrize(
    ("partial_id", "expected"),
    [
        (
            "a",
            {
                "certification_status": "blocker",
                "auto_retry": "no",
                "category_id": f"{NS}::plan-cat",
            },
        ),
        (
            "b",
            {"certification_status": "non-blocker", "category_id": f"{NS}::plan-cat"},
        ),
        ("d", {"certification_status": "blocker"}),
        ("m", {"certification_status": "blocker"}),
        ("z", {}),
    ],
)
def test_resolved_plan_overrides_for_merges_inline_and_override_lines(
    partial_id, expected
):
    plan = resolved(OVERRIDES)

    assert plan.problems == []
    assert plan.overrides_for(job(partial_id)) == expected


def test_resolved_plan_overrides_for_later_lines_win():
    plan = resolved(
        "unit: test plan\nid: tp\n_name: P\n"
        "include:\n a certification-status=non-blocker\n"
        " .* certification-status=blocker\n"
        "certification_status_overrides: apply non-blocker to [a]\n"
    )

    assert plan.overrides_for(job("a")) == {"certification_status": "non-blocker"}
    assert plan.overrides_for(job("b")) == {"certification_status": "blocker"}


def test_resolved_plan_overrides_for_matches_template_instances():
    plan = resolved(
        "unit: test plan\nid: tp\n_name: P\ninclude: tpl certification-status=blocker\n"
    )

    instance = job("tpl-1", template_id="tpl")

    assert plan.overrides_for(instance) == {"certification_status": "blocker"}


def test_resolved_plan_overrides_for_qualifies_inline_categories():
    plan = resolved(OVERRIDES)

    assert plan.overrides_for(job("c")) == {"category_id": f"{NS}::inline-cat"}


def test_resolved_plan_unmatched_lists_qualifiers_matching_nothing():
    units = load_units(
        JOBS + "\nunit: template\ntemplate-resource: res\ntemplate-id: tpl\n"
        "id: tpl-{name}\nplugin: shell\n"
    )
    jobs = [unit for unit in units if isinstance(unit, JobDefinition)]
    templates = [unit for unit in units if isinstance(unit, TemplateUnit)]
    plan = resolved(
        "unit: test plan\nid: tp\n_name: P\n"
        "include:\n a\n ghost\n tpl\n [cd]\n nothing-.*\n"
        "exclude: also-ghost\nbootstrap_include: b\nsetup_include: missing-setup\n"
    )

    missing = plan.unmatched(jobs, templates)

    assert [q.text for q in missing] == [
        "missing-setup",
        "ghost",
        "nothing-.*",
        "also-ghost",
    ]
