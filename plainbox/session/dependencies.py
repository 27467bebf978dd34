"""Which jobs a selection needs, and the order they run in.

The order respects every edge between selected jobs: ``depends``, ``after``
and resource (``requires``) edges, and ``before`` edges when both ends are
selected. Jobs sharing a ``group`` run as one block: each group is ordered as
a single node among the other jobs, then its members are ordered inside it.
Among jobs that are free to go, the one selected first runs first (a group
goes where its first-selected member would).

When the edges leave no room for a group to run as one block (a job outside
it must run between two members, ``a (g) -> x -> b (g)``), the edges win: the
group is split into as few blocks as the edges need, and :func:`order_run`
reports a :class:`GroupSplit` for it. When two groups interlock (each must
run partly before the other), the group selected later is the one split.
Nothing is dropped or moved against an edge.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from plainbox.errors import DependencyError
from plainbox.errors import ResourceExpressionError
from plainbox.resources import parse_imports
from plainbox.resources import parse_program
from plainbox.units.model import JobDefinition


__all__ = [
    "GroupSplit",
    "RunOrder",
    "order_jobs",
    "order_run",
    "order_tolerating_cycles",
    "pulled_ids",
    "resource_ids",
    "with_dependencies",
]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class GroupSplit:
    """A group whose members could not all run as one block.

    ``forced_by`` is a job outside the group that runs between two of its
    members: one the edges put there whenever there is one, else (two groups
    whose edges interlock, so one of them has to give) the first outsider
    that runs between members.
    """

    group: str
    forced_by: str

    def __str__(self) -> str:
        return (
            f"group {self.group!r} does not run as one block: "
            f"{self.forced_by} runs between its members"
        )


@dataclass(frozen=True, slots=True)
class RunOrder:
    """The jobs to run in order, the jobs left out for cycles, and group splits.

    ``cycles`` maps each job caught in a cycle to the cycle's description;
    those jobs are not in ``jobs``. ``splits`` holds one note per group that
    does not run as one block, in the order the groups first run.
    """

    jobs: tuple[JobDefinition, ...]
    cycles: Mapping[str, str]
    splits: tuple[GroupSplit, ...]


def resource_ids(job: JobDefinition) -> tuple[str, ...]:
    """Full ids of the resource jobs a job's ``requires`` refers to."""
    if not job.requires:
        return ()
    try:
        imports = parse_imports(job.imports or "", job.namespace)
        return parse_program(job.requires, job.namespace, imports).resource_ids
    except ResourceExpressionError:
        return ()


def pulled_ids(job: JobDefinition) -> tuple[str, ...]:
    """Jobs that must join the run when this one does (``before`` never pulls)."""
    return (*job.depends, *job.after, *resource_ids(job))


def with_dependencies(
    selected: Sequence[JobDefinition],
    jobs: Mapping[str, JobDefinition],
    excluded: Iterable[str] = (),
) -> list[JobDefinition]:
    """The selection plus every job it needs, transitively; excluded jobs stay out.

    The order is the selection's, with each job a selected job needs placed
    just before the first job needing it (depth first), which is what
    :func:`order_jobs` then uses to break ties: a plan runs in the order it
    lists its jobs, and a pulled-in job runs where it is first needed, not
    at the end.
    """
    banned = set(excluded)
    chosen = {job.id: job for job in selected}
    placed: dict[str, JobDefinition] = {}
    for root in selected:
        if root.id in placed:
            continue
        # Iterative depth-first walk: dependency chains may be long.
        on_path = {root.id}
        stack = [(root, iter(pulled_ids(root)))]
        while stack:
            job, needs = stack[-1]
            for dep_id in needs:
                if dep_id in placed or dep_id in on_path:
                    continue
                dep = chosen.get(dep_id)
                if dep is None and dep_id not in banned:
                    dep = jobs.get(dep_id)
                if dep is None:
                    continue
                on_path.add(dep_id)
                stack.append((dep, iter(pulled_ids(dep))))
                break
            else:
                stack.pop()
                on_path.discard(job.id)
                placed[job.id] = job
    return list(placed.values())


def order_jobs(selected: Sequence[JobDefinition]) -> list[JobDefinition]:
    """Order jobs so each runs after what it depends on, else in selection order.

    Groups run as blocks where the edges allow it; use :func:`order_run` to
    learn which groups had to be split.

    :raises DependencyError: the jobs depend on each other in a cycle; the
        message names the jobs of the cycle.
    """
    return _Graph(selected).order()[0]


def order_run(selected: Sequence[JobDefinition]) -> RunOrder:
    """Order jobs; jobs caught in a cycle are taken out and reported, not run.

    Group splits forced by the edges are reported in :attr:`RunOrder.splits`.
    """
    remaining = list(selected)
    cyclic: dict[str, str] = {}
    while True:
        try:
            ordered, splits = _Graph(remaining).order()
        except DependencyError as exc:
            cyclic.update(dict.fromkeys(exc.jobs, str(exc)))
            remaining = [job for job in remaining if job.id not in cyclic]
        else:
            return RunOrder(tuple(ordered), cyclic, tuple(splits))


def order_tolerating_cycles(
    selected: Sequence[JobDefinition],
) -> tuple[list[JobDefinition], dict[str, str]]:
    """Order jobs; jobs caught in a cycle are taken out and reported, not run.

    :return: the ordered jobs, and for each job of a cycle the cycle's description.
        Group splits are not part of this answer: :func:`order_run` has them.
    """
    result = order_run(selected)
    return list(result.jobs), dict(result.cycles)


class _Graph:
    """The ``must run before`` relation between selected jobs."""

    def __init__(self, selected: Sequence[JobDefinition]) -> None:
        # The first definition of a repeated id wins, so one id is one node.
        self.by_id: dict[str, JobDefinition] = {}
        for job in selected:
            self.by_id.setdefault(job.id, job)
        self.position = {job_id: index for index, job_id in enumerate(self.by_id)}
        # needs[j]: jobs that must run before j; dependents[j]: jobs after j.
        self.needs: dict[str, set[str]] = {job_id: set() for job_id in self.by_id}
        for job in self.by_id.values():
            self.needs[job.id].update(
                dep for dep in pulled_ids(job) if dep in self.by_id and dep != job.id
            )
            for later in job.before:
                if later in self.by_id and later != job.id:
                    self.needs[later].add(job.id)
        self.dependents: dict[str, set[str]] = {job_id: set() for job_id in self.by_id}
        for job_id, deps in self.needs.items():
            for dep in deps:
                self.dependents[dep].add(job_id)

    def order(self) -> tuple[list[JobDefinition], list[GroupSplit]]:
        """The run order and the groups it splits.

        :raises DependencyError: on a cycle of jobs (groups never make cycles).
        """
        # Cycles are a property of the jobs alone; finding them before any
        # grouping keeps their reports the same with or without groups.
        plain = self._kahn([[job_id] for job_id in self.by_id])
        if len(plain) < len(self.by_id):
            done = {job_id for unit in plain for job_id in unit}
            message, cycle = _describe_cycle(self.needs, done)
            raise DependencyError(message, cycle)
        groups = self._groups()
        if not groups:
            return [self.by_id[unit[0]] for unit in plain], []
        units = self._split_units(groups)
        ordered = [job_id for unit in self._kahn(units) for job_id in self._inner(unit)]
        return [self.by_id[job_id] for job_id in ordered], self._splits(groups, ordered)

    def _groups(self) -> dict[str, list[str]]:
        """Groups with at least two selected members, members in selection order."""
        members: dict[str, list[str]] = {}
        for job in self.by_id.values():
            if job.group:
                members.setdefault(job.group, []).append(job.id)
        return {name: ids for name, ids in members.items() if len(ids) > 1}

    def _kahn(self, units: Sequence[Sequence[str]]) -> list[list[str]]:
        """Units in an order respecting every edge between different units.

        Units stuck in a cycle are left out of the answer.
        """
        needs = self._unit_needs(units)
        return [list(units[index]) for index in self._release_order(units, needs)]

    def _unit_needs(self, units: Sequence[Sequence[str]]) -> list[set[int]]:
        """For each unit, the units it must run after."""
        unit_of = {job_id: index for index, unit in enumerate(units) for job_id in unit}
        needs: list[set[int]] = [set() for _ in units]
        for index, unit in enumerate(units):
            for job_id in unit:
                # Edges leaving the given units do not constrain their order.
                needs[index].update(
                    unit_of[dep] for dep in self.needs[job_id] if dep in unit_of
                )
            needs[index].discard(index)
        return needs

    def _release_order(
        self, units: Sequence[Sequence[str]], needs: Sequence[set[int]]
    ) -> list[int]:
        """Unit indices, each released once the units it needs have run.

        Among released units the one with the earliest-selected member goes
        first: selection order is the tiebreak everywhere.
        """
        dependents: list[list[int]] = [[] for _ in units]
        for index, deps in enumerate(needs):
            for dep in deps:
                dependents[dep].append(index)
        waiting_on = [len(deps) for deps in needs]
        first = [min(self.position[job_id] for job_id in unit) for unit in units]
        ready = [(first[index], index) for index, deps in enumerate(needs) if not deps]
        heapq.heapify(ready)
        ordered: list[int] = []
        while ready:
            _, index = heapq.heappop(ready)
            ordered.append(index)
            for dependent in dependents[index]:
                waiting_on[dependent] -= 1
                if waiting_on[dependent] == 0:
                    heapq.heappush(ready, (first[dependent], dependent))
        return ordered

    def _inner(self, unit: Sequence[str]) -> list[str]:
        """The members of one unit in order; only edges inside it matter here.

        No path between two members of a unit leaves it (that would be a
        cycle of units), so ordering by the edges between members respects
        every edge.
        """
        if len(unit) == 1:
            return list(unit)
        return [part[0] for part in self._kahn([[job_id] for job_id in unit])]

    def _split_units(self, groups: Mapping[str, list[str]]) -> list[list[str]]:
        """Partition the jobs into units that each run as one block.

        Groups become blocks one at a time, the first-selected first, each cut
        into the fewest blocks the edges allow given that the groups before it
        run whole. So a lone group is split only where a job outside it must
        run between two members, and where two groups interlock (each must go
        partly before the other) the one selected later gives way.
        """
        units: list[list[str]] = [[job_id] for job_id in self.by_id]
        for members in groups.values():
            inside = set(members)
            by_level: dict[int, list[str]] = {}
            levels = self._levels(inside, units)
            for job_id in members:
                by_level.setdefault(levels[job_id], []).append(job_id)
            units = [unit for unit in units if unit[0] not in inside]
            units.extend(by_level.values())
        return units

    def _levels(
        self, members: set[str], units: Sequence[Sequence[str]]
    ) -> dict[str, int]:
        """For each member, how often a path from a member left the group and came back.

        ``members`` are single-job units among ``units`` (a DAG of blocks).
        Members of one level have no unit between them (a path from one to
        another through an outsider would raise the second's level), and no
        path goes from a higher level to a lower one, so each level can run as
        one block without making a cycle; and a path that leaves and re-enters
        the group k times forces k + 1 blocks, so no fewer will do.
        """
        needs = self._unit_needs(units)
        is_member = [unit[0] in members for unit in units]
        dependents: dict[int, list[int]] = {index: [] for index in range(len(units))}
        for index, deps in enumerate(needs):
            for dep in deps:
                dependents[dep].append(index)
        # Only units reachable from a member get a level: a member's level, or
        # for an outsider the highest level of a member it is reached from.
        reachable = self._reach(
            (index for index, member in enumerate(is_member) if member), dependents
        )
        waiting_on = {
            index: sum(dep in reachable for dep in needs[index]) for index in reachable
        }
        ready = [index for index, count in waiting_on.items() if count == 0]
        level: dict[int, int] = {}
        while ready:
            index = ready.pop()
            reached = [
                level[dep] + (is_member[index] and not is_member[dep])
                for dep in needs[index]
                if dep in level
            ]
            level[index] = max(reached, default=0)
            for dependent in dependents[index]:
                waiting_on[dependent] -= 1
                if waiting_on[dependent] == 0:
                    ready.append(dependent)
        return {
            units[index][0]: level[index]
            for index in range(len(units))
            if is_member[index]
        }

    def _between(self, members: Sequence[str]) -> set[str]:
        """Jobs outside a group that must run after one member and before another."""
        inside = set(members)
        after = self._reach(members, self.dependents) - inside
        before = self._reach(members, self.needs) - inside
        return after & before

    @staticmethod
    def _reach(start: Iterable[T], edges: Mapping[T, Collection[T]]) -> set[T]:
        """``start`` and everything reachable from it along ``edges``."""
        seen = set(start)
        stack = list(seen)
        while stack:
            for nxt in edges[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    def _splits(
        self, groups: Mapping[str, list[str]], ordered: Sequence[str]
    ) -> list[GroupSplit]:
        """A note for every group that does not run as one block in ``ordered``."""
        index = {job_id: at for at, job_id in enumerate(ordered)}
        notes: list[tuple[int, GroupSplit]] = []
        for name, members in groups.items():
            spots = sorted(index[job_id] for job_id in members)
            if spots[-1] - spots[0] + 1 == len(members):
                continue
            inside = set(members)
            outsiders = [
                job_id
                for job_id in ordered[spots[0] : spots[-1] + 1]
                if job_id not in inside
            ]
            forced = self._between(members)
            culprit = next((job_id for job_id in outsiders if job_id in forced), None)
            notes.append((spots[0], GroupSplit(name, culprit or outsiders[0])))
        return [note for _, note in sorted(notes, key=lambda item: item[0])]


def _describe_cycle(
    needs: Mapping[str, set[str]], done: set[str]
) -> tuple[str, list[str]]:
    remaining = {
        job_id: deps - done for job_id, deps in needs.items() if job_id not in done
    }
    start = min(remaining)
    path = [start]
    while True:
        nxt = min(remaining[path[-1]])
        if nxt in path:
            cycle = [*path[path.index(nxt) :], nxt]
            return "dependency cycle: " + " -> ".join(cycle), cycle[:-1]
        path.append(nxt)
