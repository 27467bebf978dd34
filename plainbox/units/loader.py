"""From records to units: typed values, full ids and checksums.

Loading never validates and never drops a unit for a bad value (the
validator reports those); it only refuses records whose ``unit:`` type is
unknown, since nothing can be built from them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from plainbox.errors import ResourceExpressionError
from plainbox.resources import parse_imports
from plainbox.units.model import DEFAULT_CATEGORY
from plainbox.units.model import Category
from plainbox.units.model import ExporterUnit
from plainbox.units.model import JobDefinition
from plainbox.units.model import ManifestEntry
from plainbox.units.model import PackagingMetaData
from plainbox.units.model import SetupJob
from plainbox.units.model import TemplateUnit
from plainbox.units.model import TestPlan
from plainbox.units.model import Unit
from plainbox.units.model import compute_checksum
from plainbox.units.model import qualify
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity
from plainbox.units.pxu import Record


__all__ = [
    "UNIT_TYPES",
    "default_template_id",
    "load_record",
    "parse_duration",
    "split_ids",
    "unit_from_fields",
]

_SEPARATORS = re.compile(r"[\s,]+")
_COMMENT = re.compile(r"#[^\n]*")
_OPTION_SEPARATORS = re.compile(r"[\s,;]+")
_DURATION = re.compile(r"^(?:(\d+)h)?[ :]*(?:(\d+)m)?[ :]*(?:(\d+)s)?$")
_TEMPLATE_ID_DROP = re.compile(r"[^A-Za-z0-9\-_.:/\\]")


def split_ids(text: str | None) -> tuple[str, ...]:
    """Words of a list field separated by white space and/or commas.

    ``#`` starts a comment that runs to the end of its line, at any column.
    """
    if not text:
        return ()
    if "#" in text:
        text = _COMMENT.sub("", text)
    return tuple(word for word in _SEPARATORS.split(text) if word)


def parse_duration(text: str | None) -> float | None:
    """Seconds from ``12.5`` or ``1h 2m 3s``; None when absent or malformed."""
    if text is None:
        return None
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        # float() also reads "nan", "inf" and negative numbers: no durations.
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    match = _DURATION.match(text)
    if not text or match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)


def default_template_id(raw_id: str) -> str:
    """A template's id when ``template-id`` is absent: its id without braces."""
    return _TEMPLATE_ID_DROP.sub("", raw_id)


def _job_kwargs(fields: dict[str, str], namespace: str) -> dict[str, Any]:
    def refs(name: str) -> tuple[str, ...]:
        return tuple(qualify(ref, namespace) for ref in split_ids(fields.get(name)))

    flags = frozenset(split_ids(fields.get("flags")))
    plugin = fields.get("plugin") or ("shell" if "simple" in flags else "")
    partial_id = fields.get("id") or fields.get("name", "")
    return {
        "partial_id": partial_id,
        "summary": fields.get("summary") or partial_id,
        "plugin": plugin,
        "command": fields.get("command"),
        "description": fields.get("description"),
        "purpose": fields.get("purpose"),
        "steps": fields.get("steps"),
        "verification": fields.get("verification"),
        "user": fields.get("user"),
        "environ": split_ids(fields.get("environ")),
        "estimated_duration": parse_duration(fields.get("estimated_duration")),
        "timeout": parse_duration(fields.get("timeout")),
        "depends": refs("depends"),
        "after": refs("after"),
        "before": refs("before"),
        "salvages": refs("salvages"),
        "group": fields.get("group"),
        "requires": fields.get("requires"),
        "imports": fields.get("imports"),
        "shell": fields.get("shell") or "bash",
        "flags": flags,
        "category_id": qualify(fields["category_id"], namespace)
        if fields.get("category_id")
        else DEFAULT_CATEGORY,
        "certification_status": fields.get("certification-status") or "non-blocker",
        "auto_retry": fields.get("auto-retry") or "unspecified",
        "siblings": fields.get("siblings"),
        "template_id": fields.get("template-id"),
        "template_engine": fields.get("template-engine"),
    }


def _setup_job_kwargs(fields: dict[str, str], namespace: str) -> dict[str, Any]:
    kwargs = _job_kwargs(fields, namespace)
    kwargs["requires_manifest"] = tuple(
        line.strip()
        for line in fields.get("requires_manifest", "").splitlines()
        if line.strip()
    )
    return kwargs


def _template_resource(fields: dict[str, str], namespace: str) -> str:
    """The full id of a template's resource, seen through ``template-imports``."""
    resource = fields.get("template-resource", "")
    try:
        aliases = parse_imports(fields.get("template-imports", ""), namespace)
    except ResourceExpressionError:
        aliases = {}  # reported by the validator
    if resource in aliases:
        return aliases[resource]
    imported = {full.partition("::")[2]: full for full in aliases.values()}
    return imported.get(resource) or qualify(resource, namespace)


def _template_kwargs(fields: dict[str, str], namespace: str) -> dict[str, Any]:
    raw_id = fields.get("id", "")
    return {
        "partial_id": fields.get("template-id") or default_template_id(raw_id),
        "template_id": fields.get("template-id") or default_template_id(raw_id),
        "template_resource": _template_resource(fields, namespace),
        "template_filter": fields.get("template-filter"),
        "template_imports": fields.get("template-imports"),
        "template_unit": fields.get("template-unit") or "job",
        "template_engine": fields.get("template-engine") or "default",
        "template_summary": fields.get("template-summary"),
    }


def _test_plan_kwargs(fields: dict[str, str], namespace: str) -> dict[str, Any]:
    return {
        "partial_id": fields.get("id", ""),
        "name": fields.get("name", ""),
        "description": fields.get("description"),
        "include": fields.get("include", ""),
        "mandatory_include": fields.get("mandatory_include", ""),
        "bootstrap_include": fields.get("bootstrap_include", ""),
        "setup_include": fields.get("setup_include", ""),
        "exclude": fields.get("exclude", ""),
        "nested_part": tuple(
            qualify(ref, namespace) for ref in split_ids(fields.get("nested_part"))
        ),
        "category_overrides": fields.get("category_overrides")
        or fields.get("category-overrides", ""),
        "certification_status_overrides": fields.get(
            "certification_status_overrides", ""
        ),
        "estimated_duration": parse_duration(fields.get("estimated_duration")),
    }


def _category_kwargs(fields: dict[str, str], namespace: str) -> dict[str, Any]:
    return {"partial_id": fields.get("id", ""), "name": fields.get("name", "")}


def _exporter_kwargs(fields: dict[str, str], namespace: str) -> dict[str, Any]:
    options = fields.get("options", "")
    return {
        "partial_id": fields.get("id", ""),
        "summary": fields.get("summary") or fields.get("id", ""),
        "entry_point": fields.get("entry_point", ""),
        "file_extension": fields.get("file_extension", ""),
        "options": tuple(word for word in _OPTION_SEPARATORS.split(options) if word),
        "data": fields.get("data"),
    }


def _manifest_kwargs(fields: dict[str, str], namespace: str) -> dict[str, Any]:
    partial_id = fields.get("id", "")
    return {
        "partial_id": partial_id,
        "name": fields.get("name", ""),
        "value_type": fields.get("value-type", ""),
        "value_unit": fields.get("value-unit") or fields.get("value-units"),
        "resource_key": fields.get("resource-key") or partial_id,
        "prompt": fields.get("prompt"),
        "hidden_reason": fields.get("hidden-reason"),
    }


def _packaging_kwargs(fields: dict[str, str], namespace: str) -> dict[str, Any]:
    return {
        "partial_id": "",
        "os_id": fields.get("os-id", ""),
        "os_version_id": fields.get("os-version-id"),
    }


_Builder = Callable[[dict[str, str], str], dict[str, Any]]

UNIT_TYPES: dict[str, tuple[type[Unit], _Builder]] = {
    "job": (JobDefinition, _job_kwargs),
    "setup job": (SetupJob, _setup_job_kwargs),
    "template": (TemplateUnit, _template_kwargs),
    "test plan": (TestPlan, _test_plan_kwargs),
    "category": (Category, _category_kwargs),
    "exporter": (ExporterUnit, _exporter_kwargs),
    "manifest entry": (ManifestEntry, _manifest_kwargs),
    "packaging meta-data": (PackagingMetaData, _packaging_kwargs),
}


def unit_from_fields(
    unit_type: str,
    fields: dict[str, str],
    *,
    namespace: str,
    provider: str,
    origin: Any,
    field_lines: dict[str, int],
    parameters: dict[str, str] | None = None,
    translated: frozenset[str] = frozenset(),
    line_maps: dict[str, tuple[int, ...]] | None = None,
) -> Unit:
    """Build a unit of a known type from normalized fields."""
    cls, builder = UNIT_TYPES[unit_type]
    return cls(
        namespace=namespace,
        provider=provider,
        origin=origin,
        fields=fields,
        field_lines=field_lines,
        checksum=compute_checksum(fields, namespace, parameters),
        translated=translated,
        line_maps=line_maps or {},
        **builder(fields, namespace),
    )


def load_record(
    record: Record, *, namespace: str, provider: str
) -> tuple[Unit | None, Problem | None]:
    """Build the unit a record describes, or say why none can be built."""
    fields = {name: field.value for name, field in record.fields.items()}
    unit_type = fields.get("unit", "job")
    if unit_type not in UNIT_TYPES:
        known = ", ".join(sorted(UNIT_TYPES))
        problem = Problem(
            Severity.ERROR,
            record.origin.at(record.line_of("unit")),
            f"unknown unit type {unit_type!r} (known: {known})",
            field="unit",
        )
        return None, problem
    lines = {name: field.line for name, field in record.fields.items()}
    unit = unit_from_fields(
        unit_type,
        fields,
        namespace=namespace,
        provider=provider,
        origin=record.origin,
        field_lines=lines,
        translated=frozenset(
            name for name, field in record.fields.items() if field.translatable
        ),
        line_maps={name: field.line_map for name, field in record.fields.items()},
    )
    return unit, None
