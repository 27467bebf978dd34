"""Pulling in needed jobs and ordering a selection by its dependencies."""

from __future__ import annotations

import textwrap

import pytest

from plainbox.errors import DependencyError
from plainbox.session.dependencies import order_jobs
from plainbox.session.dependencies import pulled_ids
from plainbox.session.dependencies import resource_ids
from plainbox.session.dependencies import with_dependencies
from plainbox.units.loader import load_record
from plainbox.units.model import JobDefinition
from plainbox.units.pxu import parse_pxu


NS = "com.example"


def load_jobs(text: str, namespace: str = NS) -> dict[str, JobDefinition]:
    """Jobs of a PXU text by partial id, in file order."""
    records, problems = parse_pxu(textwrap.dedent(text), "jobs.pxu")
    assert not problems, problems
    jobs = {}
    for record in records:
        unit, _ = load_record(record, namespace=namespace, provider="example")
        assert isinstance(unit, JobDefinition)
        jobs[unit.partial_id] = unit
    return jobs


def chain(spec: str) -> dict[str, JobDefinition]:
    """Jobs from ``name[:field=a,b;field=c]`` words separated by spaces."""
    records = []
    for word in spec.split():
        name, _, rest = word.partition(":")
        lines = [f"id: {name}", "plugin: shell"]
        for item in filter(None, rest.split(";")):
            key, _, value = item.partition("=")
            lines.append(f"{key}: {value.replace(',', ' ')}")
        records.append("\n".join(lines))
    return load_jobs("\n\n".join(records) + "\n")


def names(jobs: list[JobDefinition]) -> list[str]:
    return [job.partial_id for job in jobs]


def by_id(jobs: dict[str, JobDefinition]) -> dict[str, JobDefinition]:
    return {job.id: job for job in jobs.values()}


# -- resource_ids / pulled_ids ------------------------------------------------


@pytest.mark.parametrize(
    ("requires", "imports", "expected"),
    [
        ("", "", ()),
        ("cpu.count == '2'", "", (f"{NS}::cpu",)),
        (
            "cpu.count == '2'\nmem.size > '1'\ncpu.arch == 'x'",
            "",
            (f"{NS}::cpu", f"{NS}::mem"),
        ),
        (
            "alias.x == '1'",
            "from com.other import thing as alias",
            ("com.other::thing",),
        ),
        ("thing.x == '1'", "from com.other import thing", ("com.other::thing",)),
        (
            "alias.x == '1' and local.y == '2'",
            "from com.other import thing as alias",
            ("com.other::thing", f"{NS}::local"),
        ),
        (
            "manifest.has_usb == 'True'",
            "from com.canonical.plainbox import manifest",
            ("com.canonical.plainbox::manifest",),
        ),
        ("cpu.count == (", "", ()),
        ("__import__('os')", "", ()),
    ],
)
def test_resource_ids_resolves_names_and_import_aliases(requires, imports, expected):
    text = "id: job\nplugin: shell\n"
    if requires:
        text += "requires:\n" + textwrap.indent(requires, " ") + "\n"
    if imports:
        text += f"imports: {imports}\n"
    (job,) = load_jobs(text).values()

    assert resource_ids(job) == expected


def test_pulled_ids_are_depends_after_and_resources_not_before():
    jobs = load_jobs(
        """\
        id: job
        plugin: shell
        depends: a
        after: b
        before: c
        salvages: d
        requires: res.x == '1'
        """
    )

    assert pulled_ids(jobs["job"]) == (f"{NS}::a", f"{NS}::b", f"{NS}::res")


# -- order_jobs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("a b c", ["a", "b", "c"]),
        ("c b a", ["c", "b", "a"]),
        ("a:depends=b b", ["b", "a"]),
        ("a:after=b b", ["b", "a"]),
        ("a:requires=res.x=='1' res", ["res", "a"]),
        ("a b:before=a", ["b", "a"]),
        ("a b c:before=a", ["b", "c", "a"]),
        ("a:depends=c b c", ["b", "c", "a"]),
        ("a:depends=c b:depends=c c d", ["c", "a", "b", "d"]),
        ("a:depends=b b:depends=c c", ["c", "b", "a"]),
        ("x a:depends=b b:after=c c y", ["x", "c", "b", "a", "y"]),
        ("a:before=b b:depends=c c", ["a", "c", "b"]),
        ("a:depends=ghost;before=ghost b", ["a", "b"]),
        ("a:depends=a b", ["a", "b"]),
    ],
)
def test_order_jobs_runs_dependencies_first_else_keeps_selection_order(spec, expected):
    jobs = chain(spec)

    assert names(order_jobs(list(jobs.values()))) == expected


def test_order_jobs_is_stable_for_a_reversed_selection():
    jobs = chain("a b:depends=a c d:depends=c e")
    selection = [jobs[name] for name in ("e", "d", "c", "b", "a")]

    assert names(order_jobs(selection)) == ["e", "c", "d", "a", "b"]


def test_order_jobs_before_never_pulls():
    jobs = chain("a b:before=c c")

    assert names(order_jobs([jobs["a"], jobs["b"]])) == ["a", "b"]
    assert names(with_dependencies([jobs["b"]], by_id(jobs))) == ["b"]


def test_order_jobs_ignores_dependencies_outside_the_selection():
    jobs = chain("a:depends=b;after=c b c")

    assert names(order_jobs([jobs["a"]])) == ["a"]


@pytest.mark.parametrize(
    ("spec", "cycle"),
    [
        ("x:depends=y y:depends=x", ["x", "y"]),
        ("x:depends=y y:after=z z:depends=x w", ["x", "y", "z"]),
        ("x:before=y y:before=x", ["x", "y"]),
        ("w:depends=x x:depends=y y:requires=x.k=='1'", ["x", "y"]),
        ("a b:depends=c c:depends=d d:after=b e", ["b", "c", "d"]),
    ],
)
def test_order_jobs_cycle_error_names_the_cycle(spec, cycle):
    jobs = chain(spec)

    with pytest.raises(DependencyError) as caught:
        order_jobs(list(jobs.values()))

    message = str(caught.value)
    assert "cycle" in message
    mentioned = {name for name in jobs if f"{NS}::{name}" in message}
    assert mentioned == set(cycle)


# -- with_dependencies --------------------------------------------------------


DEPS = """\
id: top
plugin: shell
depends: mid
after: side

id: mid
plugin: shell
depends: low
requires: res.ok == 'yes'

id: low
plugin: shell

id: side
plugin: shell
after: side-dep

id: side-dep
plugin: shell

id: res
plugin: resource
depends: res-dep

id: res-dep
plugin: shell

id: unrelated
plugin: shell
"""


def test_with_dependencies_pulls_transitively():
    jobs = load_jobs(DEPS)

    pulled = with_dependencies([jobs["top"]], by_id(jobs))

    assert names(pulled)[0] == "top"
    assert set(names(pulled)) == {
        "top",
        "mid",
        "low",
        "side",
        "side-dep",
        "res",
        "res-dep",
    }
    assert names(order_jobs(pulled))[-1] == "top"


@pytest.mark.parametrize(
    ("excluded", "missing"),
    [
        (["mid"], {"mid", "low", "res", "res-dep"}),
        (["res"], {"res", "res-dep"}),
        (["low", "side-dep"], {"low", "side-dep"}),
        (["top"], set()),
    ],
)
def test_with_dependencies_never_pulls_excluded_jobs(excluded, missing):
    jobs = load_jobs(DEPS)
    everything = set(jobs) - {"unrelated"}

    pulled = with_dependencies(
        [jobs["top"]], by_id(jobs), [f"{NS}::{name}" for name in excluded]
    )

    assert set(names(pulled)) == everything - missing


def test_with_dependencies_keeps_selection_and_ignores_unknown_ids():
    jobs = chain("a:depends=ghost,b b c:after=b")

    pulled = with_dependencies([jobs["c"], jobs["a"]], by_id(jobs))

    assert names(pulled) == ["c", "a", "b"]


def test_with_dependencies_pulls_across_namespaces_through_imports():
    local = load_jobs(
        "id: job\nplugin: shell\nimports: from com.other import thing as t\n"
        "requires: t.x == '1'\n"
    )
    other = load_jobs("id: thing\nplugin: resource\n", namespace="com.other")

    pulled = with_dependencies([local["job"]], {**by_id(local), **by_id(other)})

    assert [job.id for job in pulled] == [f"{NS}::job", "com.other::thing"]
