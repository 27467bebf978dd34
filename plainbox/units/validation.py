"""Validate providers: every located problem of their units, in one list.

``validate`` combines three sources:

* what loading found (syntax errors, unknown unit types, bad declarations);
* :func:`plainbox.units.checks.check_unit` for every unit, alone;
* cross-unit checks, with every unit of the catalog as context: duplicate
  ids, references (:mod:`plainbox.units.references`), template instances
  made from placeholder values, and test-plan resolution and selections
  (including templates selected without their resource job in the
  bootstrap phase, which would make no jobs).

Only problems located in the target providers are reported, so validating
one provider against a full catalog says nothing about the others.
"""

from __future__ import annotations

import os
import re
import string
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterable

from plainbox.errors import UnitError
from plainbox.units.bootstrapping import BootstrapIndex
from plainbox.units.bootstrapping import unbootstrapped_templates
from plainbox.units.catalog import Catalog
from plainbox.units.checks import check_unit
from plainbox.units.fields import fields_of
from plainbox.units.model import TemplateUnit
from plainbox.units.model import TestPlan
from plainbox.units.model import Unit
from plainbox.units.problems import Origin
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity
from plainbox.units.provider import Provider
from plainbox.units.references import ReferenceIndex
from plainbox.units.references import check_references
from plainbox.units.references import check_test_plan_references
from plainbox.units.templates import instantiate
from plainbox.units.templates import placeholder_record
from plainbox.units.testplan import resolve_test_plan


__all__ = ["check_template", "validate"]

_FIELD_IN_MESSAGE = re.compile(r"field '([^']+)'")
_PathFilter = Callable[[str], bool]


def validate(
    catalog: Catalog, targets: Collection[Provider] | None = None
) -> list[Problem]:
    """Every problem of the target providers (all providers when None).

    The result is ordered by file and line; it never raises for a bad unit.
    """
    in_target = _target_filter(targets)
    index = ReferenceIndex.build(catalog)
    problems = [p for p in catalog.problems if in_target(p.origin.path)]
    units = [
        unit
        for unit in (*catalog.units, *catalog.quarantined)
        if in_target(unit.origin.path)
    ]
    problems.extend(_duplicate_ids(catalog.units, in_target))
    bootstraps = BootstrapIndex(index)
    for unit in units:
        own = check_unit(unit)
        problems.extend(own)
        problems.extend(check_references(unit, index))
        if isinstance(unit, TemplateUnit):
            problems.extend(check_template(unit, own))
        elif isinstance(unit, TestPlan):
            problems.extend(_nested_part_problems(unit, index, in_target))
            problems.extend(check_test_plan_references(unit, index))
            problems.extend(unbootstrapped_templates(unit, bootstraps))
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.origin.path, p.origin.line))


def _nested_part_problems(
    plan: TestPlan, index: ReferenceIndex, in_target: _PathFilter
) -> list[Problem]:
    """Unknown and cyclic nested parts (the rest is checked plan by plan)."""
    if not plan.nested_part:
        return []
    resolved = resolve_test_plan(plan, index.plans, with_qualifiers=False)
    return [
        problem
        for problem in resolved.problems
        if problem.field == "nested_part" and in_target(problem.origin.path)
    ]


def _target_filter(targets: Collection[Provider] | None) -> _PathFilter:
    if targets is None:
        return lambda path: True
    roots: set[str] = set()
    for provider in targets:
        roots.add(str(provider.definition))
        for directory in (provider.base_dir, provider.units_dir, provider.jobs_dir):
            if directory is not None:
                roots.add(str(directory).rstrip(os.sep) + os.sep)
    seen: dict[str, bool] = {}

    def in_target(path: str) -> bool:
        found = seen.get(path)
        if found is None:
            found = path in roots or any(
                root.endswith(os.sep) and path.startswith(root) for root in roots
            )
            seen[path] = found
        return found

    return in_target


def _duplicate_ids(units: Iterable[Unit], in_target: _PathFilter) -> list[Problem]:
    """Same id twice in one provider (error), or differently in two (warning)."""
    by_id: dict[tuple[str, str], list[Unit]] = defaultdict(list)
    for unit in units:
        if unit.partial_id and unit.unit_type != "packaging meta-data":
            by_id[(unit.unit_type, unit.id)].append(unit)
    problems: list[Problem] = []
    for same in by_id.values():
        if len(same) < 2:
            continue
        firsts: dict[str, Unit] = {}
        for unit in same:
            first = firsts.setdefault(unit.provider, unit)
            if first is not unit and in_target(unit.origin.path):
                problems.append(
                    Problem(
                        Severity.ERROR,
                        unit.field_origin("id"),
                        f"duplicate {unit.unit_type} id {unit.partial_id!r} "
                        f"(also defined at {first.origin})",
                        unit.id,
                        "id",
                    )
                )
        for unit in firsts.values():
            if not in_target(unit.origin.path):
                continue
            for other in firsts.values():
                if other.provider != unit.provider and other.checksum != unit.checksum:
                    problems.append(
                        Problem(
                            Severity.WARNING,
                            unit.field_origin("id"),
                            f"{unit.unit_type} {unit.id!r} is also defined, "
                            f"differently, by provider {other.provider!r} "
                            f"at {other.origin}",
                            unit.id,
                            "id",
                        )
                    )
    return problems


def check_template(template: TemplateUnit, own: Collection[Problem]) -> list[Problem]:
    """Problems of a template as a generator of jobs.

    :param own: what :func:`check_unit` found in the template itself; the
        same findings on the instance are not repeated.
    """
    problems = _parameter_use(template)
    try:
        instance = instantiate(template, placeholder_record(template), 1)
    except UnitError as exc:
        origin = Origin(exc.path, exc.line) if exc.path else template.origin
        match = _FIELD_IN_MESSAGE.search(exc.message)
        field = match.group(1) if match else None
        problems.append(
            Problem(Severity.ERROR, origin, exc.message, template.id, field)
        )
        return problems
    seen = {(problem.field, problem.message) for problem in own}
    for problem in check_unit(instance, in_template=True):
        if (problem.field, problem.message) not in seen:
            problems.append(
                Problem(
                    problem.severity,
                    problem.origin,
                    f"in instances: {problem.message}",
                    template.id,
                    problem.field,
                )
            )
    return problems


def _mentions_parameter(template: TemplateUnit, text: str) -> bool:
    if template.template_engine == "jinja2":
        return "{{" in text or "{%" in text
    try:
        return any(name for _, name, _, _ in string.Formatter().parse(text))
    except ValueError:
        return "{" in text  # not a valid template: instantiate() reports it


def _parameter_use(template: TemplateUnit) -> list[Problem]:
    """Fields that must (or must not) differ between instances."""
    problems: list[Problem] = []
    for name, spec in fields_of("template").items():
        text = template.fields.get(name)
        if text is None:
            continue
        mentions = _mentions_parameter(template, text)
        if spec.template_variant and not mentions:
            severity = Severity.ERROR if name == "id" else Severity.WARNING
            verb = "must" if name == "id" else "should"
            message = (
                f"field {name!r} {verb} reference a template parameter, "
                f"or every instance gets the same {name}"
            )
        elif spec.template_invariant and mentions:
            severity = Severity.WARNING
            message = (
                f"field {name!r} should not reference a template parameter: "
                "it must be the same for every instance"
            )
        else:
            continue
        origin = template.field_origin(name)
        problems.append(Problem(severity, origin, message, template.id, name))
    return problems
