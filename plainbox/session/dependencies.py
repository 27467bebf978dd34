"""Which jobs a selection needs, and the order they run in."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence

from plainbox.errors import DependencyError
from plainbox.errors import ResourceExpressionError
from plainbox.resources import parse_imports
from plainbox.resources import parse_program
from plainbox.units.model import JobDefinition


__all__ = ["order_jobs", "pulled_ids", "resource_ids"]


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
    """The selection plus every job it needs, transitively; excluded jobs stay out."""
    banned = set(excluded)
    result: dict[str, JobDefinition] = {job.id: job for job in selected}
    pending = list(selected)
    while pending:
        job = pending.pop()
        for dep_id in pulled_ids(job):
            dep = jobs.get(dep_id)
            if dep is not None and dep_id not in result and dep_id not in banned:
                result[dep_id] = dep
                pending.append(dep)
    return list(result.values())


def order_jobs(selected: Sequence[JobDefinition]) -> list[JobDefinition]:
    """Order jobs so each runs after what it depends on, else in selection order.

    :raises DependencyError: the jobs depend on each other in a cycle; the
        message names the jobs of the cycle.
    """
    position = {job.id: index for index, job in enumerate(selected)}
    by_id = {job.id: job for job in selected}
    needs: dict[str, set[str]] = {job.id: set() for job in selected}
    for job in selected:
        needs[job.id].update(
            dep for dep in pulled_ids(job) if dep in by_id and dep != job.id
        )
        for later in job.before:
            if later in by_id and later != job.id:
                needs[later].add(job.id)
    waiting_on = {job_id: len(deps) for job_id, deps in needs.items()}
    dependents: dict[str, list[str]] = {job_id: [] for job_id in needs}
    for job_id, deps in needs.items():
        for dep in deps:
            dependents[dep].append(job_id)
    ready = [
        (position[job_id], job_id) for job_id, count in waiting_on.items() if count == 0
    ]
    heapq.heapify(ready)
    ordered: list[JobDefinition] = []
    while ready:
        _, job_id = heapq.heappop(ready)
        ordered.append(by_id[job_id])
        for dependent in dependents[job_id]:
            waiting_on[dependent] -= 1
            if waiting_on[dependent] == 0:
                heapq.heappush(ready, (position[dependent], dependent))
    if len(ordered) < len(selected):
        message, cycle = _describe_cycle(needs, {job.id for job in ordered})
        raise DependencyError(message, cycle)
    return ordered


def order_tolerating_cycles(
    selected: Sequence[JobDefinition],
) -> tuple[list[JobDefinition], dict[str, str]]:
    """Order jobs; jobs caught in a cycle are taken out and reported, not run.

    :return: the ordered jobs, and for each job of a cycle the cycle's description.
    """
    remaining = list(selected)
    cyclic: dict[str, str] = {}
    while True:
        try:
            return order_jobs(remaining), cyclic
        except DependencyError as exc:
            cyclic.update(dict.fromkeys(exc.jobs, str(exc)))
            remaining = [job for job in remaining if job.id not in cyclic]


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
