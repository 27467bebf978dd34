"""``plainbox validate``, ``list`` and ``show``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from plainbox.cli.common import absolute_origin
from plainbox.cli.common import catalog_from_args
from plainbox.cli.common import print_json
from plainbox.cli.terminal import write_line
from plainbox.units.catalog import Catalog
from plainbox.units.model import Category
from plainbox.units.model import ExporterUnit
from plainbox.units.model import JobDefinition
from plainbox.units.model import ManifestEntry
from plainbox.units.model import PackagingMetaData
from plainbox.units.model import TemplateUnit
from plainbox.units.model import TestPlan
from plainbox.units.model import Unit
from plainbox.units.problems import Severity
from plainbox.units.testplan import resolve_test_plan


__all__ = ["list_command", "show_command", "validate_command"]

_GROUPS: dict[str, type[Unit]] = {
    "jobs": JobDefinition,
    "templates": TemplateUnit,
    "test-plans": TestPlan,
    "categories": Category,
    "exporters": ExporterUnit,
    "manifest-entries": ManifestEntry,
    "packaging-meta-data": PackagingMetaData,
}


def validate_command(args: argparse.Namespace) -> int:
    """Validate providers; exit 1 on errors (or warnings with ``--strict``)."""
    from plainbox.units.validation import validate

    catalog = catalog_from_args(args, *args.providers)
    targets = None
    if args.providers:
        named = {Path(entry).resolve() for entry in args.providers}
        targets = [
            provider
            for provider in catalog.providers
            if provider.definition.resolve() in named
            or provider.definition.parent.resolve() in named
        ]
        # A named path that is not a provider was reported while loading.
        read_failures = [
            p for p in catalog.problems if Path(p.origin.path).resolve() in named
        ]
    problems = validate(catalog, targets)
    if targets is not None:
        problems = [*read_failures, *problems]
    shown = [
        problem
        for problem in problems
        if args.advice or args.strict or problem.severity is not Severity.ADVICE
    ]
    shown.sort(key=lambda problem: (problem.origin.path, problem.origin.line))
    if args.format == "json":
        print_json([problem.as_dict() for problem in shown])
    else:
        for problem in shown:
            write_line(str(problem))
    failing = {Severity.ERROR, Severity.WARNING} if args.strict else {Severity.ERROR}
    return 1 if any(problem.severity in failing for problem in shown) else 0


def _unit_data(unit: Unit) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": unit.id,
        "unit": unit.unit_type,
        "origin": absolute_origin(unit.origin),
        "provider": unit.provider,
    }
    key = (
        "summary"
        if isinstance(unit, (JobDefinition, TemplateUnit, ExporterUnit))
        else "name"
    )
    data[key] = unit.display_name
    if isinstance(unit, JobDefinition):
        data["plugin"] = unit.plugin
        data["category_id"] = unit.category_id
    if isinstance(unit, TemplateUnit):
        data["template_resource"] = unit.template_resource
    return data


def list_command(args: argparse.Namespace) -> int:
    """List units of one kind, or providers."""
    catalog = catalog_from_args(args)
    if args.group == "providers":
        rows = [provider.as_dict() for provider in catalog.providers]
        if args.format == "json":
            print_json(rows)
        else:
            for row in rows:
                write_line(f"{row['id']}  {row['version'] or '?'}  {row['origin']}")
        return 0
    units = catalog.of_kind(_GROUPS[args.group])
    if args.format == "json":
        print_json([_unit_data(unit) for unit in units])
    else:
        for unit in units:
            write_line(f"{unit.id}  {unit.display_name}")
    return 0


def _plan_jobs(catalog: Catalog, plan: TestPlan) -> dict[str, list[str]]:
    resolved = resolve_test_plan(plan, {tp.id: tp for tp in catalog.test_plans})
    jobs = catalog.jobs
    selection: dict[str, list[str]] = {}
    for kind in ("setup_include", "bootstrap_include", "mandatory_include", "include"):
        selection[kind] = [job.id for job in resolved.select(kind, jobs)]
    selection["templates"] = [
        template.id
        for template in catalog.templates
        if any(
            q.matches_id(template.id) for q in resolved.qualifiers.get("include", [])
        )
    ]
    selection["nested_part"] = [nested.id for nested in resolved.nested]
    return selection


def show_command(args: argparse.Namespace) -> int:
    """Show a unit's fields, origin and (for test plans) what it selects."""
    catalog = catalog_from_args(args)
    unit: Unit = catalog.resolve(args.unit_id)
    data = _unit_data(unit)
    data["fields"] = dict(unit.fields)
    data["checksum"] = unit.checksum
    if isinstance(unit, TestPlan):
        data["selection"] = _plan_jobs(catalog, unit)
    if args.format == "json":
        print_json(data)
        return 0
    write_line(f"{unit.id} ({unit.unit_type})")
    write_line(f"  origin: {data['origin']}")
    for name, value in unit.fields.items():
        lines = value.splitlines() or [""]
        write_line(f"  {name}: {lines[0]}")
        for line in lines[1:]:
            write_line(f"    {line}")
    for kind, ids in data.get("selection", {}).items():
        if ids:
            write_line(f"  {kind.replace('_', ' ')} ({len(ids)}):")
            for unit_id in ids:
                write_line(f"    {unit_id}")
    return 0
