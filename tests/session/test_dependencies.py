"""Pulling in needed jobs and ordering a selection by its dependencies."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox.errors import DependencyError
from plainbox.session.dependencies import GroupSplit
from plainbox.session.dependencies import RunOrder
from plainbox.session.dependencies import order_jobs
from plainbox.session.dependencies import order_run
from plainbox.session.dependencies import order_tolerating_cycles
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

    assert names(pulled)[-1] == "top"  # what it needs comes first
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

    # b is pulled in just before c, the first job needing it.
    assert names(pulled) == ["b", "c", "a"]


def test_with_dependencies_places_pulled_jobs_where_first_needed():
    jobs = chain("a b:depends=x c x:depends=y y")

    pulled = with_dependencies([jobs["a"], jobs["b"], jobs["c"]], by_id(jobs))

    assert names(pulled) == ["a", "y", "x", "b", "c"]
    assert names(order_jobs(pulled)) == ["a", "y", "x", "b", "c"]


def test_with_dependencies_pulls_across_namespaces_through_imports():
    local = load_jobs(
        "id: job\nplugin: shell\nimports: from com.other import thing as t\n"
        "requires: t.x == '1'\n"
    )
    other = load_jobs("id: thing\nplugin: resource\n", namespace="com.other")

    pulled = with_dependencies([local["job"]], {**by_id(local), **by_id(other)})

    assert [job.id for job in pulled] == ["com.other::thing", f"{NS}::job"]


# -- order_tolerating_cycles / order_run --------------------------------------


def test_order_tolerating_cycles_keeps_its_two_part_answer():
    jobs = chain("a:depends=b b:depends=a c d:depends=c")

    ordered, cycles = order_tolerating_cycles(list(jobs.values()))

    assert names(ordered) == ["c", "d"]
    assert set(cycles) == {f"{NS}::a", f"{NS}::b"}
    assert all("cycle" in text for text in cycles.values())


def test_order_run_reports_the_same_as_order_tolerating_cycles_plus_splits():
    jobs = chain("a:group=g x:depends=a b:group=g;depends=x c:depends=c2 c2:depends=c")
    selection = list(jobs.values())

    result = order_run(selection)

    ordered, cycles = order_tolerating_cycles(selection)
    assert isinstance(result, RunOrder)
    assert list(result.jobs) == ordered
    assert dict(result.cycles) == cycles
    assert result.splits == (GroupSplit("g", f"{NS}::x"),)


# -- groups -------------------------------------------------------------------


def split_names(splits: Iterable[GroupSplit]) -> list[tuple[str, str]]:
    return [(split.group, split.forced_by.partition("::")[2]) for split in splits]


@pytest.mark.parametrize(
    ("spec", "expected", "splits"),
    [
        # A group runs where its first-selected member would.
        ("a:group=g x b:group=g", ["a", "b", "x"], []),
        ("x a:group=g y b:group=g", ["x", "a", "b", "y"], []),
        # Edges inside a group order its members.
        ("a:group=g;depends=b x b:group=g", ["b", "a", "x"], []),
        ("a:group=g;after=c b:group=g c:group=g", ["b", "c", "a"], []),
        ("a:group=g b:group=g;before=a", ["b", "a"], []),
        # A group waits, as one block, for what any member needs.
        ("a:group=g b:group=g;depends=y x y", ["x", "y", "a", "b"], []),
        (
            "a:group=g b:group=g;requires=r.k=='1' x r",
            ["x", "r", "a", "b"],
            [],
        ),
        ("y a:group=g b:group=g x:after=a", ["y", "a", "b", "x"], []),
        # Edges across groups order the blocks.
        ("a:group=g;depends=c b:group=g c:group=h d:group=h", ["c", "d", "a", "b"], []),
        ("a:group=g b:group=g c:group=h;before=b d:group=h", ["c", "d", "a", "b"], []),
        # before on an outsider puts it ahead of the whole block.
        ("a:group=g b:group=g c:before=b", ["c", "a", "b"], []),
        ("a:group=g b:group=g c:before=ghost", ["a", "b", "c"], []),
        # Two groups interleaved in the selection each run as one block.
        ("a1:group=g b1:group=h a2:group=g b2:group=h", ["a1", "a2", "b1", "b2"], []),
        (
            "a1:group=g b1:group=h a2:group=g;after=b2 b2:group=h",
            ["b1", "b2", "a1", "a2"],
            [],
        ),
        # One selected member is no block to keep.
        ("a:group=g x:depends=a", ["a", "x"], []),
        # The edges put an outsider between members: the group is split.
        ("a:group=g x:depends=a b:group=g;depends=x", ["a", "x", "b"], [("g", "x")]),
        (
            "a:group=g b:group=g;depends=x x:depends=a y",
            ["a", "x", "b", "y"],
            [("g", "x")],
        ),
        (
            "a:group=g x:after=a b:group=g;after=x c:group=g",
            ["a", "c", "x", "b"],
            [("g", "x")],
        ),
        (
            "a:group=g x:depends=a b:group=g;depends=x y:depends=b c:group=g;depends=y",
            ["a", "x", "b", "y", "c"],
            [("g", "x")],
        ),
        ("a:group=g b:group=g x:before=b;after=a", ["a", "x", "b"], [("g", "x")]),
        # Interlocking groups: the one selected first stays whole.
        (
            "a1:group=g a2:group=g;after=b2 b1:group=h;after=a1 b2:group=h",
            ["b2", "a1", "a2", "b1"],
            [("h", "a1")],
        ),
    ],
)
def test_groups_run_as_blocks_unless_the_edges_split_them(spec, expected, splits):
    jobs = chain(spec)

    result = order_run(list(jobs.values()))

    assert names(list(result.jobs)) == expected
    assert split_names(result.splits) == splits
    assert not result.cycles
    assert names(order_jobs(list(jobs.values()))) == expected


@pytest.mark.parametrize(
    ("spec", "expected", "cycle"),
    [
        # A cycle inside a group leaves the rest of the group as a block.
        ("a:group=g;depends=b b:group=g;depends=a x c:group=g", ["x", "c"], {"a", "b"}),
        # A cycle through an outsider takes the outsider out too.
        ("a:group=g;depends=x x:depends=a b:group=g y", ["b", "y"], {"a", "x"}),
        # A group is never a cycle of its own: a split is not an error.
        ("a:group=g x:depends=a b:group=g;depends=x", ["a", "x", "b"], set()),
    ],
)
def test_groups_and_cycles(spec, expected, cycle):
    jobs = chain(spec)

    result = order_run(list(jobs.values()))

    assert names(list(result.jobs)) == expected
    assert {job_id.partition("::")[2] for job_id in result.cycles} == cycle


def test_order_jobs_reports_the_same_cycle_with_or_without_groups():
    plain = chain("x:depends=y y:after=z z:depends=x w")
    grouped = chain("x:depends=y;group=g y:after=z z:depends=x;group=g w:group=g")

    with pytest.raises(DependencyError) as without_groups:
        order_jobs(list(plain.values()))
    with pytest.raises(DependencyError) as with_groups:
        order_jobs(list(grouped.values()))

    assert str(with_groups.value) == str(without_groups.value)
    assert with_groups.value.jobs == without_groups.value.jobs


def test_group_split_names_the_group_and_the_job():
    split = GroupSplit("storage", f"{NS}::x")

    assert "'storage'" in str(split)
    assert f"{NS}::x" in str(split)


def test_groups_are_matched_by_name_across_namespaces():
    local = load_jobs("id: a\nplugin: shell\ngroup: g\n\nid: x\nplugin: shell\n")
    other = load_jobs("id: b\nplugin: shell\ngroup: g\n", namespace="com.other")
    selection = [local["a"], local["x"], other["b"]]

    assert [job.id for job in order_jobs(selection)] == [
        f"{NS}::a",
        "com.other::b",
        f"{NS}::x",
    ]


# -- groups: properties -------------------------------------------------------

# Edge kinds, each meaning "job i runs before job j" in its own way.
EDGE_KINDS = ("depends", "after", "before", "requires")


@st.composite
def grouped_dags(draw, group_names=("g", "h", "k")):
    """(jobs in selection order, edges as (earlier, later) names).

    Edges only go from lower to higher rank in a hidden order, so the graph
    is a DAG; the selection order is an independent shuffle.
    """
    count = draw(st.integers(min_value=1, max_value=9))
    ranked = [f"j{index}" for index in range(count)]
    edges = []
    for later_at in range(count):
        for earlier_at in range(later_at):
            kind = draw(st.sampled_from((None, None, None, *EDGE_KINDS)))
            if kind is not None:
                edges.append((ranked[earlier_at], ranked[later_at], kind))
    groups = {name: draw(st.sampled_from((None, *group_names))) for name in ranked}
    selection = draw(st.permutations(ranked))
    # fields[job][key]: the values of one field; a field is written once.
    fields: dict[str, dict[str, list[str]]] = {name: {} for name in ranked}
    for earlier, later, kind in edges:
        if kind == "before":
            fields[earlier].setdefault("before", []).append(later)
        elif kind == "requires":
            fields[later].setdefault(kind, []).append(f"{earlier}.k == '1'")
        else:
            fields[later].setdefault(kind, []).append(earlier)
    records = []
    for name in selection:
        lines = [f"id: {name}", "plugin: shell"]
        for key, values in fields[name].items():
            # One requires expression per line; all must hold.
            joiner = "\n " if key == "requires" else " "
            lines.append(f"{key}: {joiner.join(values)}")
        if groups[name]:
            lines.append(f"group: {groups[name]}")
        records.append("\n".join(lines))
    jobs = load_jobs("\n\n".join(records) + "\n")
    pairs = [(earlier, later) for earlier, later, _ in edges]
    return [jobs[name] for name in selection], pairs, groups


def member_spots(
    order: list[str], groups: dict[str, str | None]
) -> dict[str, list[int]]:
    spots: dict[str, list[int]] = {}
    for at, name in enumerate(order):
        group = groups[name]
        if group:
            spots.setdefault(group, []).append(at)
    return spots


@settings(max_examples=150, deadline=None)
@given(grouped_dags())
def test_every_order_respects_every_edge_and_keeps_unsplit_groups_whole(dag):
    selection, edges, groups = dag

    result = order_run(selection)

    order = names(list(result.jobs))
    assert sorted(order) == sorted(names(selection))
    assert not result.cycles
    at = {name: index for index, name in enumerate(order)}
    for earlier, later in edges:
        assert at[earlier] < at[later], (earlier, later)
    noted = {split.group: split for split in result.splits}
    for group, spots in member_spots(order, groups).items():
        whole = spots[-1] - spots[0] + 1 == len(spots)
        assert whole == (group not in noted), (group, order)
        if not whole:
            # The named job really runs between two members of the group.
            culprit = noted[group].forced_by.partition("::")[2]
            assert groups[culprit] != group
            assert spots[0] < at[culprit] < spots[-1]


def reachable(start: str, edges: list[tuple[str, str]]) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        for earlier, later in edges:
            if earlier == node and later not in seen:
                seen.add(later)
                stack.append(later)
    return seen


@settings(max_examples=150, deadline=None)
@given(grouped_dags())
def test_the_first_selected_group_is_split_exactly_when_an_outsider_must_run_inside(
    dag,
):
    selection, edges, groups = dag
    first = next((job.group for job in selection if job.group), None)
    members = [name for name, group in groups.items() if group == first]
    # Brute force: an outsider after one member and before another (a path
    # member -> outsider -> member) makes one block impossible. Nothing else
    # may split the first-selected group: other groups give way to it.
    forced = {
        outsider
        for outsider in groups
        if groups[outsider] != first
        and any(outsider in reachable(m, edges) for m in members)
        and any(m in reachable(outsider, edges) for m in members)
    }

    result = order_run(selection)

    notes = [split for split in result.splits if split.group == first]
    assert bool(notes) == bool(forced and len(members) > 1)
    for split in notes:
        assert split.forced_by.partition("::")[2] in forced


@settings(max_examples=100, deadline=None)
@given(grouped_dags(group_names=()))
def test_without_groups_order_is_the_plain_dependency_order(dag):
    selection, edges, _ = dag

    result = order_run(selection)

    # Reference: repeatedly take the first selected job whose needs have run.
    done: list[str] = []
    left = names(selection)
    while left:
        pick = next(
            name
            for name in left
            if all(earlier in done for earlier, later in edges if later == name)
        )
        done.append(pick)
        left.remove(pick)
    assert names(list(result.jobs)) == done
    assert result.splits == ()
