"""Template instantiation: one job per (filtered) record of a resource job.

Two engines: ``default`` is Python's ``str.format`` over every field (so
literal braces are written ``{{`` and ``}}``), ``jinja2`` renders each field
in a sandboxed environment. Instances keep only the parameters their fields
reference, so their checksums stay stable when a resource gains new keys.
"""

from __future__ import annotations

import functools
import os
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from plainbox.errors import UnitError
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import JobDefinition
from plainbox.units.model import TemplateUnit


if TYPE_CHECKING:
    import jinja2
    import jinja2.sandbox


__all__ = ["instantiate", "placeholder_record", "template_parameters"]

_TEMPLATE_ONLY = (
    "template-resource",
    "template-filter",
    "template-imports",
    "template-unit",
    "template-summary",
    "template-description",
)
_environment: jinja2.sandbox.SandboxedEnvironment | None = None


def _jinja() -> jinja2.sandbox.SandboxedEnvironment:
    # Imported lazily: jinja2 costs startup time most commands never need.
    global _environment
    if _environment is None:
        import jinja2.sandbox

        _environment = jinja2.sandbox.SandboxedEnvironment(keep_trailing_newline=False)
    return _environment


def _instance_fields(template: TemplateUnit) -> dict[str, str]:
    return {
        name: value
        for name, value in template.fields.items()
        if name not in _TEMPLATE_ONLY
        and name not in {"template-engine", "template-id", "unit"}
    }


def _is_templated(engine: str, text: str) -> bool:
    """Whether a field needs rendering at all (most fields are plain text)."""
    if engine == "jinja2":
        return "{" in text
    return "{" in text or "}" in text


@functools.lru_cache(maxsize=8192)
def _jinja_variables(text: str) -> frozenset[str]:
    from jinja2 import meta

    return frozenset(meta.find_undeclared_variables(_jinja().parse(text)))


@functools.lru_cache(maxsize=8192)
def _jinja_template(text: str) -> jinja2.Template:
    return _jinja().from_string(text)


@functools.lru_cache(maxsize=8192)
def _format_variables(text: str) -> frozenset[str]:
    return frozenset(
        field_name.split(".")[0].split("[")[0]
        for _, field_name, _, _ in string.Formatter().parse(text)
        if field_name
    )


def template_parameters(template: TemplateUnit) -> set[str]:
    """Names of the record keys the template's fields refer to.

    :raises UnitError: a field is not a valid template for its engine.
    """
    names: set[str] = set()
    engine = template.template_engine
    for name, text in _instance_fields(template).items():
        if not _is_templated(engine, text):
            continue
        try:
            if engine == "jinja2":
                names |= _jinja_variables(text)
            else:
                names |= _format_variables(text)
        except Exception as exc:
            origin = template.field_origin(name)
            raise UnitError(
                f"field {name!r} is not a valid template: {exc}",
                origin.path,
                origin.line,
            ) from exc
    return {name for name in names if not name.startswith("__")}


def placeholder_record(template: TemplateUnit) -> dict[str, str]:
    """A fake record for validation: every referenced key maps to ``KEY``."""
    return {name: name.upper() for name in template_parameters(template)}


def _render(template: TemplateUnit, text: str, params: Mapping[str, Any]) -> str:
    if not _is_templated(template.template_engine, text):
        return text
    if template.template_engine == "jinja2":
        context = {
            **params,
            "__system_env__": dict(os.environ),
            "__checkbox_env__": {},
            "__on_ubuntucore__": False,
        }
        return _jinja_template(text).render(context)
    return text.format(**params)


def instantiate(
    template: TemplateUnit, record: Mapping[str, str], index: int
) -> JobDefinition:
    """The job a template makes from one record (``index`` counts from 1).

    :raises UnitError: the record lacks a key the template uses, or a field
        does not render.
    """
    referenced = template_parameters(template)
    params: dict[str, Any] = {key: record[key] for key in referenced if key in record}
    params["__index__"] = index
    fields: dict[str, str] = {}
    for name, text in _instance_fields(template).items():
        try:
            fields[name] = _render(template, text, params).strip()
        except KeyError as exc:
            origin = template.field_origin(name)
            raise UnitError(
                f"field {name!r}: the resource record has no key {exc}",
                origin.path,
                origin.line,
            ) from exc
        except Exception as exc:
            origin = template.field_origin(name)
            raise UnitError(
                f"field {name!r} does not render: {exc}", origin.path, origin.line
            ) from exc
    fields["unit"] = template.template_unit
    fields["template-engine"] = template.template_engine
    fields["template-id"] = template.template_id
    unit_type = "job" if template.template_unit != "setup job" else "setup job"
    unit = unit_from_fields(
        unit_type,
        fields,
        namespace=template.namespace,
        provider=template.provider,
        origin=template.origin,
        field_lines=dict(template.field_lines),
        translated=template.translated,
        line_maps=dict(template.line_maps),
        parameters={
            key: str(value) for key, value in params.items() if key in referenced
        },
    )
    assert isinstance(unit, JobDefinition)
    return unit
