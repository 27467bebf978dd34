"""Single-unit validation: every rule that can be judged from one unit alone.

Rules that depend on a field's kind (choices, durations, JSON, resource
programs, ids, ...) are driven by the field tables of
:mod:`plainbox.units.fields`; the rules specific to a unit type follow them.
Cross-unit rules (references, duplicates, template instances, test-plan
selections) live in :mod:`plainbox.units.validation`.

Two facts the unit model does not keep are recovered from the unit file
itself, read once and cached: whether a field was written with ``_``
(translatable), and on which line a multi-line value starts (``requires:``
alone on its line puts the first expression on the next line; column-0 ``#``
comment lines inside a value are skipped when counting). When the file cannot
be read the translatable checks are skipped and a value spanning several
lines is assumed to start on the line after its key.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass

from plainbox.errors import ResourceExpressionError
from plainbox.resources import ResourceProgram
from plainbox.resources import parse_imports
from plainbox.resources import parse_program
from plainbox.units.fields import FLAGS
from plainbox.units.fields import PLUGINS
from plainbox.units.fields import FieldSpec
from plainbox.units.fields import Kind
from plainbox.units.fields import fields_of
from plainbox.units.loader import parse_duration
from plainbox.units.loader import split_ids
from plainbox.units.model import ExporterUnit
from plainbox.units.model import JobDefinition
from plainbox.units.model import ManifestEntry
from plainbox.units.model import TemplateUnit
from plainbox.units.model import TestPlan
from plainbox.units.model import Unit
from plainbox.units.problems import Origin
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity
from plainbox.units.testplan import EXACT_ID_FIELDS
from plainbox.units.testplan import Qualifier
from plainbox.units.testplan import parse_override_lines
from plainbox.units.testplan import parse_qualifiers


__all__ = [
    "PlanField",
    "check_unit",
    "imports_of",
    "plan_fields",
    "program_of",
    "value_line",
]

_ID_CHARS = re.compile(r"^[A-Za-z0-9_./:+\-]*$")
_PLACEHOLDER = re.compile(r"\{+[^{}]*\}+")
_FILE_EXTENSION = re.compile(r"^[\w.\-]+$")
_QUALIFIER_FIELDS = (
    "include",
    "mandatory_include",
    "bootstrap_include",
    "setup_include",
    "exclude",
)
_OVERRIDE_FIELDS = {
    "category_overrides": "category_id",
    "category-overrides": "category_id",
    "certification_status_overrides": "certification_status",
}
_OLD_DATA_VARIABLES = ("CHECKBOX_SHARE", "CHECKBOX_DATA")
# Kinds whose values mean nothing once a template's placeholders are filled
# with fake values; literal values are checked on the template itself.
_PLACEHOLDER_BLIND = frozenset({Kind.CHOICE, Kind.DURATION, Kind.WORDS, Kind.ID})


# -- the unit file, for what the model does not keep -------------------------


def value_line(unit: Unit, name: str, offset: int = 0) -> int:
    """The file line of line ``offset`` (from 0) of a field's value."""
    return unit.value_origin(name, offset).line


# -- shared parsing helpers (also used by the cross-unit checks) --------------


@functools.lru_cache(maxsize=4096)
def _imports(text: str, namespace: str) -> tuple[tuple[str, str], ...] | str:
    try:
        return tuple(parse_imports(text, namespace).items())
    except ResourceExpressionError as exc:
        return f"{exc.line_offset}:{exc.message}"


def imports_of(
    unit: Unit, name: str
) -> tuple[dict[str, str], ResourceExpressionError | None]:
    """Aliases declared by an imports field, or why they cannot be read."""
    text = unit.fields.get(name)
    if not text:
        return {}, None
    parsed = _imports(text, unit.namespace)
    if isinstance(parsed, str):
        offset, _, message = parsed.partition(":")
        return {}, ResourceExpressionError(message, int(offset))
    return dict(parsed), None


@functools.lru_cache(maxsize=4096)
def _program(
    text: str, namespace: str, imports: tuple[tuple[str, str], ...]
) -> ResourceProgram | ResourceExpressionError:
    try:
        return parse_program(text, namespace, dict(imports))
    except ResourceExpressionError as exc:
        return exc


def program_of(unit: Unit, name: str) -> ResourceProgram | ResourceExpressionError:
    """The parsed resource program of ``requires`` or ``template-filter``."""
    imports_field = "template-imports" if name == "template-filter" else "imports"
    aliases, _ = imports_of(unit, imports_field)
    return _program(unit.fields.get(name, ""), unit.namespace, tuple(aliases.items()))


@dataclass(frozen=True, slots=True)
class PlanField:
    """The qualifiers of one test-plan field, located on their own lines."""

    name: str
    qualifiers: list[Qualifier]
    problems: list[Problem]


_PLAN_CACHE: dict[tuple[Origin, str], list[PlanField]] = {}


def plan_fields(plan: TestPlan) -> list[PlanField]:
    """Parse every qualifier and override field a test plan has (cached)."""
    key = (plan.origin, plan.checksum)
    cached = _PLAN_CACHE.get(key)
    if cached is None:
        if len(_PLAN_CACHE) >= 2048:
            _PLAN_CACHE.clear()
        cached = _PLAN_CACHE[key] = _parse_plan_fields(plan)
    return cached


def _parse_plan_fields(plan: TestPlan) -> list[PlanField]:
    result = []
    for name in (*_QUALIFIER_FIELDS, *_OVERRIDE_FIELDS):
        text = plan.fields.get(name)
        if not text:
            continue
        origin = plan.field_origin(name)
        line_map = plan.line_maps.get(name, ())
        if name in _OVERRIDE_FIELDS:
            qualifiers, problems = parse_override_lines(
                text, _OVERRIDE_FIELDS[name], plan.namespace, origin, line_map
            )
        else:
            qualifiers, problems = parse_qualifiers(
                text, plan.namespace, origin, line_map, exact=name in EXACT_ID_FIELDS
            )
        located = [
            dataclasses.replace(problem, unit_id=plan.id, field=name)
            for problem in problems
        ]
        result.append(PlanField(name, qualifiers, located))
    return result


# -- the checker ---------------------------------------------------------------


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _templated(value: str) -> bool:
    return "{" in value


@dataclass(slots=True)
class _Check:
    """One unit being checked, and what was found so far."""

    unit: Unit
    specs: Mapping[str, FieldSpec]
    in_template: bool
    problems: list[Problem] = dataclasses.field(default_factory=list)

    @property
    def is_template(self) -> bool:
        return isinstance(self.unit, TemplateUnit)

    def report(
        self,
        severity: Severity,
        name: str,
        message: str,
        *,
        offset: int | None = None,
        at_unit: bool = False,
    ) -> None:
        if at_unit or name not in self.unit.field_lines:
            origin = self.unit.origin
        elif offset is None:
            origin = self.unit.field_origin(name)
        else:
            origin = self.unit.origin.at(value_line(self.unit, name, offset))
        self.problems.append(Problem(severity, origin, message, self.unit.id, name))


def check_unit(unit: Unit, *, in_template: bool = False) -> list[Problem]:
    """Every problem of one unit that needs no other unit to be seen.

    :param in_template: the unit is a template instance made from placeholder
        values: checks the template itself already made, and checks that the
        fake values would defeat (choices, durations, flags, ids), are skipped.
    """
    template = isinstance(unit, TemplateUnit)
    specs = fields_of("template" if template else unit.unit_type)
    check = _Check(unit, specs, in_template)
    for name, value in unit.fields.items():
        _check_field(check, name, value)
    _check_required(check)
    type_check = _TYPE_CHECKS.get(unit.unit_type)
    if type_check is not None and not template:
        type_check(check)  # a template's job rules are judged on its instances
    return check.problems


def _check_field(check: _Check, name: str, value: str) -> None:
    spec = check.specs.get(name)
    if spec is None:
        # Packaging units take any distribution's driver fields.
        if not check.in_template and check.unit.unit_type != "packaging meta-data":
            suggestion = _suggest(name, check.specs)
            check.report(Severity.WARNING, name, f"unknown field {name!r}{suggestion}")
        return
    if not check.in_template:
        _check_presentation(check, spec, value)
    if not value.strip() or (check.in_template and spec.kind in _PLACEHOLDER_BLIND):
        return
    if check.is_template and _templated(value) and spec.kind is not Kind.ID:
        return  # judged on the instances
    kind_check = _KIND_CHECKS.get(spec.kind)
    if kind_check is not None:
        kind_check(check, spec, value)


def _check_presentation(check: _Check, spec: FieldSpec, value: str) -> None:
    """Translatability, length and deprecation: how a field is written."""
    name = spec.name
    marked = name in check.unit.translated
    # YAML units are written without '_' by Checkbox's own tools: no advice.
    yaml_unit = check.unit.origin.path.endswith((".yaml", ".yml"))
    if spec.translatable and not marked and not yaml_unit:
        check.report(
            Severity.ADVICE, name, f"mark field {name!r} translatable: write '_{name}'"
        )
    elif not spec.translatable and marked:
        check.report(
            Severity.WARNING,
            name,
            f"field {name!r} is not translatable: write {name!r}, not '_{name}'",
        )
    if spec.short and "\n" in value:
        check.report(Severity.WARNING, name, f"field {name!r} should be one line")
    if spec.short and len(value) > 80 and not (check.is_template and _templated(value)):
        check.report(
            Severity.WARNING,
            name,
            f"field {name!r} is longer than 80 characters ({len(value)})",
        )
    if spec.deprecated:
        check.report(
            Severity.ADVICE, name, f"field {name!r} is deprecated: {spec.deprecated}"
        )


def _check_required(check: _Check) -> None:
    fields = check.unit.fields
    flags = split_ids(fields.get("flags"))
    for spec in check.specs.values():
        name = spec.name
        if not spec.required or (name == "plugin" and "simple" in flags):
            continue
        legacy = check.specs.get("name")
        if (
            name == "id"
            and legacy is not None
            and legacy.kind is Kind.ID
            and fields.get("name", "").strip()
        ):
            continue  # the old spelling of 'id' still names the unit
        value = fields.get(name)
        if value is None:
            check.report(Severity.ERROR, name, f"missing required field {name!r}")
        elif not value.strip():
            check.report(Severity.ERROR, name, f"required field {name!r} is empty")


# -- checks by field kind ------------------------------------------------------


def _check_choice(check: _Check, spec: FieldSpec, value: str) -> None:
    if spec.choices and value not in spec.choices:
        allowed = ", ".join(spec.choices)
        check.report(
            Severity.ERROR,
            spec.name,
            f"field {spec.name!r}: {value!r} is not one of {allowed}"
            + _suggest(value, spec.choices),
        )
    if spec.name == "plugin" and value == "user-verify":
        check.report(
            Severity.ADVICE,
            "plugin",
            "plugin 'user-verify' is deprecated: use 'user-interact-verify'",
        )


def _check_id(check: _Check, spec: FieldSpec, value: str) -> None:
    if "::" in value:
        check.report(
            Severity.ERROR,
            spec.name,
            f"field {spec.name!r}: {value!r} must not contain '::' "
            "(the namespace is added to it)",
        )
        return
    bare = _PLACEHOLDER.sub("", value) if check.is_template else value
    if not _ID_CHARS.match(bare):
        check.report(
            Severity.WARNING,
            spec.name,
            f"field {spec.name!r}: {value!r} has characters outside [A-Za-z0-9_./:+-]",
        )


def _check_duration(check: _Check, spec: FieldSpec, value: str) -> None:
    seconds = parse_duration(value)
    if seconds is None or not math.isfinite(seconds):
        check.report(
            Severity.ERROR,
            spec.name,
            f"field {spec.name!r}: {value!r} is not a duration "
            "(seconds, or '1h 2m 3s')",
        )
    elif seconds <= 0:
        check.report(
            Severity.WARNING, spec.name, f"field {spec.name!r} should be more than 0"
        )


def _check_json(check: _Check, spec: FieldSpec, value: str) -> None:
    name = spec.name
    try:
        data = json.loads(value)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        offset = exc.lineno - 1 if isinstance(exc, json.JSONDecodeError) else 0
        check.report(
            Severity.ERROR,
            name,
            f"field {name!r} is not valid JSON: {reason}",
            offset=offset,
        )
        return
    if name == "data" and isinstance(check.unit, ExporterUnit):
        if not isinstance(data, dict):
            check.report(Severity.ERROR, name, "field 'data' must be a JSON object")
    elif name == "siblings":
        _check_siblings(check, data)


def _check_siblings(check: _Check, data: object) -> None:
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        check.report(
            Severity.ERROR,
            "siblings",
            "field 'siblings' must be a JSON list of objects",
        )
        return
    job_fields = fields_of("job")
    for number, item in enumerate(data, start=1):
        for key in item:
            if key.removeprefix("_") not in job_fields:
                check.report(
                    Severity.ERROR,
                    "siblings",
                    f"field 'siblings': sibling {number} has unknown job field "
                    f"{key!r}{_suggest(key.removeprefix('_'), job_fields)}",
                )


def _check_words(check: _Check, spec: FieldSpec, value: str) -> None:
    if spec.name != "flags":
        return
    for flag in split_ids(value):
        if flag not in FLAGS and not (check.is_template and _templated(flag)):
            check.report(
                Severity.WARNING,
                "flags",
                f"field 'flags': unknown flag {flag!r}{_suggest(flag, FLAGS)}",
            )


def _check_imports(check: _Check, spec: FieldSpec, value: str) -> None:
    _, error = imports_of(check.unit, spec.name)
    if error is not None:
        check.report(
            Severity.ERROR,
            spec.name,
            f"field {spec.name!r}: {error.message}",
            offset=error.line_offset,
        )


def _check_program(check: _Check, spec: FieldSpec, value: str) -> None:
    unit = check.unit
    if (
        isinstance(unit, JobDefinition)
        and unit.template_engine == "jinja2"
        and ("{%" in value or "{{" in value)
    ):
        return  # rendered before use: plain jobs may be jinja2 templates too
    program = program_of(check.unit, spec.name)
    if isinstance(program, ResourceExpressionError):
        check.report(
            Severity.ERROR,
            spec.name,
            f"field {spec.name!r}: {program.message}",
            offset=program.line_offset,
        )


_KindCheck = Callable[[_Check, FieldSpec, str], None]
_KIND_CHECKS: dict[Kind, _KindCheck] = {
    Kind.CHOICE: _check_choice,
    Kind.ID: _check_id,
    Kind.DURATION: _check_duration,
    Kind.JSON: _check_json,
    Kind.WORDS: _check_words,
    Kind.IMPORTS: _check_imports,
    Kind.PROGRAM: _check_program,
}


# -- checks by unit type -------------------------------------------------------


def _check_job(check: _Check) -> None:
    job = check.unit
    assert isinstance(job, JobDefinition)
    fields = job.fields
    command = fields.get("command", "").strip()
    if job.plugin in PLUGINS and job.plugin != "manual" and not command:
        check.report(
            Severity.ERROR,
            "command",
            f"missing field 'command': {job.plugin} jobs run a command "
            "(only manual jobs may omit it)",
            at_unit=True,
        )
    if job.plugin == "manual":
        if command:
            check.report(
                Severity.WARNING,
                "command",
                "field 'command' is ignored: manual jobs run no command",
            )
        if not any(fields.get(name) for name in ("description", "purpose", "steps")):
            check.report(
                Severity.ERROR,
                "description",
                "manual job needs 'purpose' and 'steps' (or 'description') "
                "to tell the operator what to do",
                at_unit=True,
            )
    if not command:
        for name in ("user", "environ"):
            if name in fields:
                check.report(
                    Severity.WARNING,
                    name,
                    f"field {name!r} is useless without 'command'",
                )
    for variable in _OLD_DATA_VARIABLES:
        if variable in command:
            check.report(
                Severity.ADVICE,
                "command",
                f"field 'command' uses {variable}: use $PLAINBOX_PROVIDER_DATA",
            )
    if job.unit_type == "setup job" and job.plugin and job.plugin != "shell":
        check.report(
            Severity.ERROR,
            "plugin",
            "field 'plugin': setup jobs run unattended before everything else, "
            f"so they must use 'shell', not {job.plugin!r}",
        )


def _check_test_plan(check: _Check) -> None:
    plan = check.unit
    assert isinstance(plan, TestPlan)
    # "include:" with nothing after it is how real plans built only from
    # nested parts satisfy the field; only its absence is a problem.
    if "include" not in plan.fields and not plan.nested_part:
        check.report(
            Severity.ERROR,
            "include",
            "missing required field 'include' (a plan without it needs 'nested_part')",
        )
    for part in plan_fields(plan):
        check.problems.extend(part.problems)


def _check_exporter(check: _Check) -> None:
    extension = check.unit.fields.get("file_extension", "").strip()
    if extension and not _FILE_EXTENSION.match(extension):
        check.report(
            Severity.ERROR,
            "file_extension",
            f"field 'file_extension': {extension!r} may only contain letters, "
            "digits, '_', '.' and '-'",
        )


def _check_manifest_entry(check: _Check) -> None:
    entry = check.unit
    assert isinstance(entry, ManifestEntry)
    if entry.is_hidden and not (entry.hidden_reason or "").strip():
        check.report(
            Severity.ERROR,
            "id",
            "hidden manifest entry (id starting with '_') needs 'hidden-reason'",
        )


_TYPE_CHECKS: dict[str, Callable[[_Check], None]] = {
    "job": _check_job,
    "setup job": _check_job,
    "test plan": _check_test_plan,
    "exporter": _check_exporter,
    "manifest entry": _check_manifest_entry,
}
