"""Templates a test plan selects but can never instantiate.

A template makes jobs from the records of its resource job, and the run
instantiates templates once, after the bootstrap phase: a plan that selects a
template (by its id, an instance's id or a pattern) whose resource job does
not run in its setup or bootstrap phase gets no jobs from it. This module
finds such selections for the validator, choosing the early jobs as the run
does (:func:`plainbox.execution.controller.run_test_plan`).
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from dataclasses import field

from plainbox.errors import UnitError
from plainbox.session.dependencies import with_dependencies
from plainbox.units.checks import plan_fields
from plainbox.units.model import JobDefinition
from plainbox.units.model import TemplateUnit
from plainbox.units.model import TestPlan
from plainbox.units.model import qualify
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity
from plainbox.units.references import ReferenceIndex
from plainbox.units.references import literal_prefix
from plainbox.units.templates import instantiate
from plainbox.units.templates import placeholder_record
from plainbox.units.testplan import Qualifier
from plainbox.units.testplan import ResolvedPlan
from plainbox.units.testplan import is_setup_job
from plainbox.units.testplan import resolve_test_plan


__all__ = ["BootstrapIndex", "unbootstrapped_templates"]


@dataclass(slots=True)
class BootstrapIndex:
    """What test plans select of templates, and which resources they bootstrap.

    Built once per validation, lazily: the index of template and instance
    ids, each template's placeholder instance id, and the jobs by id.
    """

    index: ReferenceIndex
    _by_key: dict[str, list[tuple[int, JobDefinition]]] | None = None
    _instance_ids: dict[str, str | None] = field(default_factory=dict)
    _named: list[tuple[str, TemplateUnit]] | None = None  # sorted by id

    def selected(self, qualifier: Qualifier) -> list[TemplateUnit]:
        """Templates a qualifier names, by template id or an instance's id."""
        templates = self.index.templates
        if qualifier.is_exact:
            found = templates.get(qualifier.pattern)
            if found is None and qualifier.pattern not in self.index.jobs:
                found = self.index.template_for(qualifier.pattern)
            return [] if found is None else [found]
        if self._named is None:
            named = [(template_id, t) for template_id, t in templates.items()]
            for template in templates.values():
                instance = self.instance_id(template)
                if instance is not None:
                    named.append((instance, template))
            self._named = sorted(named, key=lambda pair: pair[0])
        # Only ids starting with the pattern's literal prefix can match.
        prefix = literal_prefix(qualifier)
        first = bisect.bisect_left(self._named, prefix, key=lambda pair: pair[0])
        found_ids: dict[str, TemplateUnit] = {}
        for unit_id, template in itertools.islice(self._named, first, None):
            if not unit_id.startswith(prefix):
                break
            if template.id not in found_ids and qualifier.matches_id(unit_id):
                found_ids[template.id] = template
        return list(found_ids.values())

    def instance_id(self, template: TemplateUnit) -> str | None:
        """The id of an instance made from placeholder values (None: none)."""
        if template.id not in self._instance_ids:
            try:
                made = instantiate(template, placeholder_record(template), 1)
            except UnitError:
                self._instance_ids[template.id] = None
            else:
                self._instance_ids[template.id] = made.id
        return self._instance_ids[template.id]

    def early_resources(
        self, resolved: ResolvedPlan
    ) -> tuple[frozenset[str], frozenset[str]]:
        """Resource jobs that run before a plan's templates are instantiated.

        Those of the setup and bootstrap phases, with the jobs they pull in,
        chosen as the run chooses them (see
        :func:`plainbox.execution.controller.run_test_plan`); and the
        resource jobs those phases would run but for the plan's ``exclude``.
        """
        jobs = self.index.jobs
        excludes = resolved.qualifiers.get("exclude", [])
        ran: set[str] = set()
        wanted: set[str] = set()
        for kind in ("setup_include", "bootstrap_include"):
            candidates = self._candidates(resolved, kind)
            if kind != "setup_include":
                candidates = [job for job in candidates if not is_setup_job(job)]
            # Only jobs reachable from the selection can be kept out by
            # ``exclude``: find them first, then pull in again without them.
            reachable = with_dependencies(candidates, jobs)
            wanted.update(job.id for job in reachable if job.plugin == "resource")
            excluded = [
                job.id
                for job in reachable
                if any(qualifier.matches(job) for qualifier in excludes)
            ]
            selected = resolved.select(kind, candidates)
            ran.update(
                job.id
                for job in with_dependencies(selected, jobs, excluded)
                if job.plugin == "resource"
            )
        return frozenset(ran), frozenset(wanted - ran)

    def _candidates(self, resolved: ResolvedPlan, kind: str) -> list[JobDefinition]:
        """The jobs an exact-id field can select, in catalog order.

        ``ResolvedPlan.select`` gives the answer; this only spares it a walk
        over every job of the catalog for each plan.
        """
        if self._by_key is None:
            self._by_key = {}
            for position, job in enumerate(self.index.jobs.values()):
                self._by_key.setdefault(job.id, []).append((position, job))
                if job.template_id is not None:
                    key = qualify(job.template_id, job.namespace)
                    self._by_key.setdefault(key, []).append((position, job))
        found = {
            position: job
            for qualifier in resolved.qualifiers.get(kind, [])
            for position, job in self._by_key.get(qualifier.pattern, [])
        }
        return [found[position] for position in sorted(found)]


def _names(qualifier: Qualifier, template: TemplateUnit, instance: str | None) -> bool:
    """Does a pattern match a template's id or the ids of its instances?"""
    if qualifier.matches_id(template.id):
        return True
    return instance is not None and qualifier.matches_id(instance)


def unbootstrapped_templates(
    plan: TestPlan, bootstraps: BootstrapIndex
) -> list[Problem]:
    """Templates a plan selects whose resource job does not run early enough.

    Templates make their jobs once the setup and bootstrap phases are over,
    from the records of the resource jobs that ran by then: a template
    whose resource job is not among them makes no jobs in this plan. Only
    the plan's own lines are checked (its nested parts are plans too);
    the bootstrap phase is the whole plan's, nested parts included.
    """
    wanted: list[tuple[str, Qualifier, TemplateUnit]] = []
    for part in plan_fields(plan):
        if part.name not in {"include", "mandatory_include"}:
            continue
        for qualifier in part.qualifiers:
            wanted.extend(
                (part.name, qualifier, template)
                for template in bootstraps.selected(qualifier)
                if bootstraps.index.plugin_of(template.template_resource) == "resource"
            )
    if not wanted:
        return []
    resolved = resolve_test_plan(plan, bootstraps.index.plans)
    early, excluded = bootstraps.early_resources(resolved)
    excludes = resolved.qualifiers.get("exclude", [])
    problems: list[Problem] = []
    for name, qualifier, template in wanted:
        resource = template.template_resource
        if resource in early:
            continue
        instance = bootstraps.instance_id(template)
        if name == "include" and any(_names(q, template, instance) for q in excludes):
            continue  # deselected anyway
        where = (
            "is excluded from the bootstrap phase"
            if resource in excluded
            else "is not in bootstrap_include"
        )
        problems.append(
            Problem(
                Severity.WARNING,
                qualifier.origin,
                f"test plan {plan.id!r} selects template {template.id!r}, but its "
                f"resource job {resource!r} {where}: the template makes no jobs",
                plan.id,
                name,
            )
        )
    return problems
