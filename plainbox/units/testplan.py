"""Test-plan qualifiers, overrides and resolution into job lists.

A qualifier line is ``PATTERN [field=value, ...]``. A pattern made only of
literal characters matches one id exactly; anything else is a regular
expression anchored to the whole id. Unqualified patterns are relative to the
plan's namespace, so ``.*`` means "every job of this namespace". Patterns are
tried against a job's id and, for template instances, its template id: naming
a template includes all its instances.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

from plainbox.units.model import JobDefinition
from plainbox.units.model import SetupJob
from plainbox.units.model import TemplateUnit
from plainbox.units.model import TestPlan
from plainbox.units.model import qualify
from plainbox.units.problems import Origin
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity


__all__ = [
    "OVERRIDABLE_FIELDS",
    "Qualifier",
    "ResolvedPlan",
    "parse_override_lines",
    "parse_qualifiers",
    "resolve_test_plan",
]

#: Job fields a test plan may override inline, with their allowed values.
OVERRIDABLE_FIELDS: dict[str, tuple[str, ...] | None] = {
    "category_id": None,
    "certification_status": ("blocker", "non-blocker"),
    "auto_retry": ("no", "unspecified"),
}
_REGEX_SPECIALS = frozenset(".^$*+?{}[]\\|()")
_OVERRIDE_LINE = re.compile(r"^apply\s+(\S+)\s+to\s+(\S+)\s*$")
_PLAN_FIELDS = (
    "setup_include",
    "bootstrap_include",
    "mandatory_include",
    "include",
    "exclude",
)


@dataclass(frozen=True, slots=True)
class Qualifier:
    """One pattern of a test plan, with the overrides written beside it."""

    text: str
    pattern: str  # qualified with the plan's namespace
    origin: Origin
    overrides: tuple[tuple[str, str], ...] = ()
    regex: re.Pattern[str] | None = None

    @property
    def is_exact(self) -> bool:
        return self.regex is None

    def matches_id(self, unit_id: str) -> bool:
        if self.regex is None:
            return unit_id == self.pattern
        return self.regex.fullmatch(unit_id) is not None

    def matches(self, job: JobDefinition) -> bool:
        """True for the job itself or the template it was made from."""
        if self.matches_id(job.id):
            return True
        return job.template_id is not None and self.matches_id(
            qualify(job.template_id, job.namespace)
        )


def _compile(
    text: str, namespace: str, origin: Origin, problems: list[Problem]
) -> tuple[str, re.Pattern[str] | None] | None:
    # Patterns are anchored anyway; authors often write the anchors out too.
    text = text.removeprefix("^").removesuffix("$") or text
    pattern = qualify(text, namespace)
    if not _REGEX_SPECIALS.intersection(text):
        return pattern, None
    if "::" not in text:
        # Anchor the namespace outside the user's alternation: a|b means ns::a|ns::b.
        source = f"{re.escape(namespace)}::(?:{text})"
    else:
        source = text
    try:
        return pattern, re.compile(source)
    except (re.error, RecursionError, OverflowError) as exc:
        problems.append(
            Problem(Severity.ERROR, origin, f"invalid pattern {text!r}: {exc}")
        )
        return None


def _parse_overrides(
    text: str, namespace: str, origin: Origin, problems: list[Problem]
) -> tuple[tuple[str, str], ...] | None:
    overrides: list[tuple[str, str]] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, equals, value = item.partition("=")
        name, value = name.strip().replace("-", "_"), value.strip()
        if not equals or not name or not value:
            problems.append(
                Problem(Severity.ERROR, origin, f"expected 'field=value', got {item!r}")
            )
            return None
        if name not in OVERRIDABLE_FIELDS:
            allowed = ", ".join(n.replace("_", "-") for n in OVERRIDABLE_FIELDS)
            problems.append(
                Problem(
                    Severity.ERROR,
                    origin,
                    f"field {name.replace('_', '-')!r} cannot be overridden (allowed: {allowed})",
                )
            )
            return None
        choices = OVERRIDABLE_FIELDS[name]
        if choices is not None and value not in choices:
            problems.append(
                Problem(
                    Severity.ERROR,
                    origin,
                    f"{name.replace('_', '-')} must be one of {', '.join(choices)}, not {value!r}",
                )
            )
            return None
        if name == "category_id":
            value = qualify(value, namespace)
        overrides.append((name, value))
    return tuple(overrides)


def _meaningful_lines(
    text: str, origin: Origin, line_map: Sequence[int]
) -> Iterator[tuple[Origin, str]]:
    """Each line that is neither blank nor a ``#`` comment, with its origin."""
    for offset, raw_line in enumerate(text.splitlines()):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if offset < len(line_map):
            yield origin.at(line_map[offset]), line
        else:
            yield (origin.at(origin.line + offset) if origin.line else origin), line


#: Fields that list exact job ids only (dots in a namespace are no regex).
EXACT_ID_FIELDS = frozenset({"bootstrap_include", "setup_include"})


def parse_qualifiers(
    text: str,
    namespace: str,
    origin: Origin,
    line_map: Sequence[int] = (),
    *,
    exact: bool = False,
) -> tuple[list[Qualifier], list[Problem]]:
    """Parse an include-like field.

    :param origin: where the field is written.
    :param line_map: the file line of each line of ``text`` (``Unit.line_maps``);
        without it lines are counted from ``origin``.
    :param exact: every word is an exact id, never a regular expression.
    """
    qualifiers: list[Qualifier] = []
    problems: list[Problem] = []
    for where, line in _meaningful_lines(text, origin, line_map):
        pattern_text, *rest_list = line.split(None, 1)
        rest = rest_list[0] if rest_list else ""
        if exact:
            compiled: tuple[str, re.Pattern[str] | None] | None = (
                qualify(pattern_text, namespace),
                None,
            )
        else:
            compiled = _compile(pattern_text, namespace, where, problems)
        overrides = _parse_overrides(rest, namespace, where, problems)
        if compiled is None or overrides is None:
            continue
        pattern, regex = compiled
        qualifiers.append(Qualifier(pattern_text, pattern, where, overrides, regex))
    return qualifiers, problems


def parse_override_lines(
    text: str,
    field_name: str,
    namespace: str,
    origin: Origin,
    line_map: Sequence[int] = (),
) -> tuple[list[Qualifier], list[Problem]]:
    """Parse ``apply VALUE to PATTERN`` lines into qualifiers carrying one override."""
    qualifiers: list[Qualifier] = []
    problems: list[Problem] = []
    for where, line in _meaningful_lines(text, origin, line_map):
        match = _OVERRIDE_LINE.match(line)
        if match is None:
            problems.append(
                Problem(
                    Severity.ERROR,
                    where,
                    f"expected 'apply VALUE to PATTERN', got {line!r}",
                )
            )
            continue
        value, pattern_text = match.groups()
        overrides = _parse_overrides(
            f"{field_name}={value}", namespace, where, problems
        )
        compiled = _compile(pattern_text, namespace, where, problems)
        if compiled is None or overrides is None:
            continue
        qualifiers.append(
            Qualifier(pattern_text, compiled[0], where, overrides, compiled[1])
        )
    return qualifiers, problems


@dataclass(slots=True)
class ResolvedPlan:
    """A test plan with its nested parts merged, as qualifiers and matches."""

    plan: TestPlan
    qualifiers: dict[str, list[Qualifier]] = field(default_factory=dict)
    override_qualifiers: list[Qualifier] = field(default_factory=list)
    nested: list[TestPlan] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    _overriding_cache: list[Qualifier] | None = field(
        default=None, repr=False, compare=False
    )

    def select(self, kind: str, jobs: Sequence[JobDefinition]) -> list[JobDefinition]:
        """Jobs matched by one field's qualifiers, in qualifier order, minus excludes."""
        # Mandatory jobs cannot be deselected; setup jobs run only as setup.
        excluded = (
            [] if kind == "mandatory_include" else self.qualifiers.get("exclude", [])
        )
        setup_wanted = kind == "setup_include"
        candidates = [
            (position, job)
            for position, job in enumerate(jobs)
            if setup_wanted or not is_setup_job(job)
        ]
        # Exact qualifiers (most lines of big plans) are dictionary look-ups
        # by id and by template id; only regular expressions scan every job.
        by_key: dict[str, list[tuple[int, JobDefinition]]] = {}
        for position, job in candidates:
            by_key.setdefault(job.id, []).append((position, job))
            if job.template_id is not None:
                key = qualify(job.template_id, job.namespace)
                by_key.setdefault(key, []).append((position, job))
        ranked: dict[str, tuple[int, int, JobDefinition]] = {}
        for rank, qualifier in enumerate(self.qualifiers.get(kind, [])):
            if qualifier.is_exact:
                matches = by_key.get(qualifier.pattern, [])
            else:
                matches = [pair for pair in candidates if qualifier.matches(pair[1])]
            for position, job in matches:
                if job.id not in ranked:
                    ranked[job.id] = (rank, position, job)
        chosen = sorted(ranked.values(), key=lambda item: (item[0], item[1]))
        if not excluded:
            return [job for _, _, job in chosen]
        return [
            job for _, _, job in chosen if not any(q.matches(job) for q in excluded)
        ]

    def overrides_for(self, job: JobDefinition) -> dict[str, str]:
        """Inline and ``*_overrides`` values applying to a job (later lines win)."""
        result: dict[str, str] = {}
        for qualifier in self._overriding():
            if qualifier.matches(job):
                result.update(qualifier.overrides)
        return result

    def _overriding(self) -> list[Qualifier]:
        # Big plans have thousands of include lines and few with overrides:
        # look only at those, for every job of the session.
        if self._overriding_cache is None:
            self._overriding_cache = [
                qualifier
                for kind in ("mandatory_include", "include")
                for qualifier in self.qualifiers.get(kind, [])
                if qualifier.overrides
            ] + list(self.override_qualifiers)
        return self._overriding_cache

    def unmatched(
        self, jobs: Sequence[JobDefinition], templates: Iterable[TemplateUnit]
    ) -> list[Qualifier]:
        """Qualifiers that match no job and no template."""
        template_ids = [template.id for template in templates]
        missing = []
        for kind in _PLAN_FIELDS:
            for qualifier in self.qualifiers.get(kind, []):
                if not any(qualifier.matches(job) for job in jobs) and not any(
                    qualifier.matches_id(tid) for tid in template_ids
                ):
                    missing.append(qualifier)
        return missing


def _collect_qualifiers(current: TestPlan, resolved: ResolvedPlan) -> None:
    """Add one plan's selection and override lines to a resolution."""
    for name in _PLAN_FIELDS:
        text = getattr(current, name)
        if text:
            qualifiers, problems = parse_qualifiers(
                text,
                current.namespace,
                current.field_origin(name),
                current.line_maps.get(name, ()),
                exact=name in EXACT_ID_FIELDS,
            )
            resolved.qualifiers.setdefault(name, []).extend(qualifiers)
            resolved.problems.extend(problems)
    for name, field_name in (
        ("category_overrides", "category_id"),
        ("certification_status_overrides", "certification_status"),
    ):
        text = getattr(current, name)
        if text:
            spelled = name if name in current.fields else name.replace("_", "-")
            qualifiers, problems = parse_override_lines(
                text,
                field_name,
                current.namespace,
                current.field_origin(spelled),
                current.line_maps.get(spelled, ()),
            )
            resolved.override_qualifiers.extend(qualifiers)
            resolved.problems.extend(problems)


def resolve_test_plan(
    plan: TestPlan, plans: dict[str, TestPlan], *, with_qualifiers: bool = True
) -> ResolvedPlan:
    """Merge a plan with its nested parts (recursively, each once, cycle-safe).

    :param with_qualifiers: also parse the plans' selection and override
        lines; without them only the nested parts are resolved (cheap).
    """
    resolved = ResolvedPlan(plan)
    visiting: list[str] = []
    done: set[str] = set()

    def visit(current: TestPlan) -> None:
        visiting.append(current.id)
        if current is not plan:
            resolved.nested.append(current)
        if with_qualifiers:
            _collect_qualifiers(current, resolved)
        for part_id in current.nested_part:
            origin = current.field_origin("nested_part")
            if part_id in visiting:
                cycle = " -> ".join([*visiting[visiting.index(part_id) :], part_id])
                resolved.problems.append(
                    Problem(
                        Severity.ERROR,
                        origin,
                        f"nested_part cycle: {cycle}",
                        current.id,
                        "nested_part",
                    )
                )
            elif part_id not in plans:
                resolved.problems.append(
                    Problem(
                        Severity.ERROR,
                        origin,
                        f"nested_part {part_id!r} is not a known test plan",
                        current.id,
                        "nested_part",
                    )
                )
            elif part_id not in done:
                visit(plans[part_id])
        visiting.pop()
        done.add(current.id)

    visit(plan)
    return resolved


def is_setup_job(job: JobDefinition) -> bool:
    """Setup jobs may only be selected through ``setup_include``."""
    return isinstance(job, SetupJob)
