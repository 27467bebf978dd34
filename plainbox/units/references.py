"""Cross-unit reference checks: do the units a unit names exist, and fit?

The whole catalog is indexed once (:class:`ReferenceIndex`): exact ids go in
dicts and sets, and every template's ``id`` becomes a regular expression for
the ids its instances may get, all compiled once into a single alternation.
A reference is then a dict lookup, and only the unknown ones are tried
against the templates.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

from plainbox.errors import ResourceExpressionError
from plainbox.units.catalog import Catalog
from plainbox.units.checks import imports_of
from plainbox.units.checks import plan_fields
from plainbox.units.checks import program_of
from plainbox.units.checks import value_line
from plainbox.units.loader import split_ids
from plainbox.units.model import JobDefinition
from plainbox.units.model import SetupJob
from plainbox.units.model import TemplateUnit
from plainbox.units.model import TestPlan
from plainbox.units.model import Unit
from plainbox.units.model import qualify
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity
from plainbox.units.siblings import generated_jobs
from plainbox.units.testplan import EXACT_ID_FIELDS
from plainbox.units.testplan import Qualifier


__all__ = [
    "ReferenceIndex",
    "check_references",
    "check_test_plan_references",
    "instance_id_pattern",
    "literal_prefix",
]

_PLACEHOLDERS = re.compile(r"(\{%.*?%\}|\{\{.*?\}\}|\{[^{}]*\})", re.DOTALL)
_SEPARATORS = re.compile(r"[\s,]+")
_REGEX_SPECIALS = frozenset(".^$*+?{}[]\\|()")
_ORDERING = {
    "depends": Severity.ERROR,
    "after": Severity.ERROR,
    "salvages": Severity.ERROR,
    "before": Severity.WARNING,
}


def instance_id_pattern(template: TemplateUnit) -> str:
    """A regular expression for the full ids a template's instances may get."""
    raw = template.fields.get("id", "")
    parts = _PLACEHOLDERS.split(raw)
    source = "".join(
        (".*" if part.startswith("{%") else ".+") if index % 2 else re.escape(part)
        for index, part in enumerate(parts)
    )
    return source if "::" in raw else f"{re.escape(template.namespace)}::{source}"


def _instance_id_prefix(template: TemplateUnit) -> str:
    """Text every id of the template's instances starts with."""
    raw = template.fields.get("id", "")
    head = _PLACEHOLDERS.split(raw, maxsplit=1)[0]
    return head if "::" in raw else f"{template.namespace}::{head}"


@dataclass(slots=True)
class ReferenceIndex:
    """Everything references are resolved against, built once per catalog.

    Template id patterns are compiled only when a reference is not a plain
    job id and starts with the template's literal prefix.
    """

    jobs: dict[str, JobDefinition] = field(default_factory=dict)
    templates: dict[str, TemplateUnit] = field(default_factory=dict)
    categories: set[str] = field(default_factory=set)
    plans: dict[str, TestPlan] = field(default_factory=dict)
    _instances: list[tuple[str, TemplateUnit]] = field(default_factory=list)
    _patterns: dict[int, re.Pattern[str]] = field(default_factory=dict)
    _instance_of: dict[str, TemplateUnit | None] = field(default_factory=dict)
    _selectable: list[str] = field(default_factory=list)  # sorted
    _regex_hits: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def build(cls, catalog: Catalog) -> ReferenceIndex:
        index = cls()
        for unit in catalog.units:
            if isinstance(unit, JobDefinition):
                index.jobs.setdefault(unit.id, unit)
                for twin in generated_jobs(unit):
                    index.jobs.setdefault(twin.id, twin)
            elif isinstance(unit, TemplateUnit):
                index.templates.setdefault(unit.id, unit)
                index._instances.append((_instance_id_prefix(unit), unit))
            elif isinstance(unit, TestPlan):
                index.plans.setdefault(unit.id, unit)
            elif unit.unit_type == "category":
                index.categories.add(unit.id)
        index._selectable = sorted({*index.jobs, *index.templates})
        return index

    def template_for(self, unit_id: str) -> TemplateUnit | None:
        """The template whose instances may have this id."""
        if unit_id in self._instance_of:
            return self._instance_of[unit_id]
        found = None
        for number, (prefix, template) in enumerate(self._instances):
            if not unit_id.startswith(prefix):
                continue
            pattern = self._patterns.get(number)
            if pattern is None:
                pattern = re.compile(instance_id_pattern(template), re.DOTALL)
                self._patterns[number] = pattern
            if pattern.fullmatch(unit_id):
                found = template
                break
        self._instance_of[unit_id] = found
        return found

    def is_job(self, unit_id: str) -> bool:
        """A job, or possibly an instance of a template."""
        return unit_id in self.jobs or self.template_for(unit_id) is not None

    def plugin_of(self, unit_id: str) -> str | None:
        """The plugin of a job or of the template making it; None if unknown."""
        job = self.jobs.get(unit_id)
        if job is not None:
            return job.plugin
        template = self.templates.get(unit_id) or self.template_for(unit_id)
        return None if template is None else template.fields.get("plugin", "")

    def selects_anything(self, qualifier: Qualifier) -> bool:
        """Does a test-plan qualifier match some job, template or instance?"""
        if qualifier.regex is None:
            pattern = qualifier.pattern
            return pattern in self.templates or self.is_job(pattern)
        source = qualifier.regex.pattern
        hit = self._regex_hits.get(source)
        if hit is None:
            # Only ids starting with the pattern's literal prefix can match.
            prefix = literal_prefix(qualifier)
            ids = self._selectable
            first = bisect.bisect_left(ids, prefix)
            last = bisect.bisect_left(ids, prefix + "\U0010ffff", first)
            hit = any(qualifier.matches_id(ids[i]) for i in range(first, last))
            self._regex_hits[source] = hit
        return hit


def literal_prefix(qualifier: Qualifier) -> str:
    """Text every id a regex qualifier matches must start with."""
    text = qualifier.text
    # An unqualified pattern is matched after its plan's literal namespace.
    head = "" if "::" in text else qualifier.pattern[: -len(text) or None]
    if "|" in text:
        return head  # an alternation has no common prefix
    end = next((i for i, c in enumerate(text) if c in _REGEX_SPECIALS), len(text))
    if end < len(text) and text[end] in "*?{":
        end -= 1  # the quantifier may drop the character before it
    return head + text[: max(end, 0)]


_Report = Callable[[Severity, str, str, int], None]


def _reporter(unit: Unit, problems: list[Problem]) -> _Report:
    def report(severity: Severity, name: str, message: str, offset: int) -> None:
        origin = unit.origin.at(value_line(unit, name, offset))
        problems.append(Problem(severity, origin, message, unit.id, name))

    return report


def _offset_of(text: str, word: str) -> int:
    """Which line of a list field's value holds ``word``."""
    for offset, line in enumerate(text.split("\n")):
        if word in _SEPARATORS.split(line):
            return offset
    return 0


def check_references(unit: Unit, index: ReferenceIndex) -> list[Problem]:
    """Problems with the jobs, resources and category a job or template names."""
    problems: list[Problem] = []
    if not isinstance(unit, (JobDefinition, TemplateUnit)):
        return problems
    report = _reporter(unit, problems)
    _check_ordering(unit, index, report)
    _check_requires(unit, index, report)
    for name in ("imports", "template-imports"):
        _check_imports(unit, name, index, report)
    if isinstance(unit, TemplateUnit):
        _check_template_resource(unit, index, report)
    category = unit.fields.get("category_id", "").strip()
    if category and "{" not in category:
        full = qualify(category, unit.namespace)
        if full not in index.categories:
            report(
                Severity.ERROR,
                "category_id",
                f"field 'category_id': unknown category {full!r}",
                0,
            )
    return problems


def _check_ordering(unit: Unit, index: ReferenceIndex, report: _Report) -> None:
    for name, severity in _ORDERING.items():
        text = unit.fields.get(name, "")
        for ref in split_ids(text):
            if "{" in ref:
                continue  # differs per instance
            full = qualify(ref, unit.namespace)
            if not index.is_job(full):
                report(
                    severity,
                    name,
                    f"field {name!r}: unknown job {full!r}",
                    _offset_of(text, ref),
                )


def _check_requires(unit: Unit, index: ReferenceIndex, report: _Report) -> None:
    text = unit.fields.get("requires", "")
    if not text or (isinstance(unit, TemplateUnit) and "{" in text):
        return
    program = program_of(unit, "requires")
    if isinstance(program, ResourceExpressionError):
        return  # reported by check_unit
    for expression in program.expressions:
        for resource in expression.resource_ids:
            _check_resource("requires", resource, index, report, expression.line_offset)


def _check_resource(
    name: str, resource: str, index: ReferenceIndex, report: _Report, offset: int
) -> None:
    plugin = index.plugin_of(resource)
    if plugin is None:
        report(
            Severity.ERROR,
            name,
            f"field {name!r}: unknown resource job {resource!r}",
            offset,
        )
    elif plugin != "resource":
        report(
            Severity.ERROR,
            name,
            f"field {name!r}: {resource!r} is not a resource job "
            f"(its plugin is {plugin!r})",
            offset,
        )


def _check_imports(
    unit: Unit, name: str, index: ReferenceIndex, report: _Report
) -> None:
    text = unit.fields.get(name, "")
    if not text or "{" in text:
        return
    aliases, _ = imports_of(unit, name)
    for full in aliases.values():
        if not index.is_job(full):
            partial = full.rpartition("::")[2]
            report(
                Severity.ERROR,
                name,
                f"field {name!r}: unknown job {full!r}",
                _offset_of(text, partial),
            )


def _check_template_resource(
    template: TemplateUnit, index: ReferenceIndex, report: _Report
) -> None:
    raw = template.fields.get("template-resource", "").strip()
    if not raw or "{" in raw:
        return  # a missing one is reported by check_unit
    aliases, _ = imports_of(template, "template-imports")
    full = aliases.get(raw, qualify(raw, template.namespace))
    _check_resource("template-resource", full, index, report, 0)


def check_test_plan_references(plan: TestPlan, index: ReferenceIndex) -> list[Problem]:
    """Problems with what a test plan's own qualifiers and overrides select."""
    problems: list[Problem] = []
    for part in plan_fields(plan):
        for qualifier in part.qualifiers:
            findings = [_selection_problem(part.name, qualifier, index)]
            for key, value in qualifier.overrides:
                category = qualify(value, plan.namespace)
                if key == "category_id" and category not in index.categories:
                    message = f"field {part.name!r}: unknown category {category!r}"
                    findings.append((Severity.ERROR, message))
            problems.extend(
                Problem(severity, qualifier.origin, message, plan.id, part.name)
                for severity, message in filter(None, findings)
            )
    return problems


def _selection_problem(
    name: str, qualifier: Qualifier, index: ReferenceIndex
) -> tuple[Severity, str] | None:
    """What is wrong with what one qualifier selects, if anything."""
    if not index.selects_anything(qualifier):
        if qualifier.is_exact:
            # Checkbox only advises here; plainbox warns, except where the
            # plan cannot work without the job.
            severity = Severity.ERROR if name in EXACT_ID_FIELDS else Severity.WARNING
            return severity, f"field {name!r}: unknown job {qualifier.pattern!r}"
        return (
            Severity.WARNING,
            f"field {name!r}: pattern {qualifier.text!r} matches no job",
        )
    if not qualifier.is_exact:
        return None
    if name == "bootstrap_include":
        plugin = index.plugin_of(qualifier.pattern)
        if plugin is not None and plugin not in {"shell", "resource", "attachment"}:
            return Severity.ERROR, (
                f"field 'bootstrap_include': {qualifier.text!r} is not an automated "
                f"job (its plugin is {plugin!r})"
            )
    elif name == "setup_include" and not isinstance(
        index.jobs.get(qualifier.pattern), SetupJob
    ):
        return (
            Severity.WARNING,
            f"field 'setup_include': {qualifier.text!r} is not a setup job",
        )
    return None
