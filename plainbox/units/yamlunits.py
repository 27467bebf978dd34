"""YAML unit files: one unit per document, lists where PXU has word lists.

YAML documents are converted to the same :class:`~plainbox.units.pxu.Record`
as PXU text, so everything after parsing is shared. A list becomes one item
per line (``requires`` expressions, ``include`` patterns and dependency ids
all accept that); an ``include`` item written as ``{pattern: {field: value}}``
becomes ``pattern field=value``; ``requires_manifest`` items written as
``{id: false}`` become ``id=false``. Anything else structured (``siblings``)
is kept as JSON text, which is what the PXU form of those fields holds.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from plainbox.units.problems import Origin
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity
from plainbox.units.pxu import Field
from plainbox.units.pxu import Record


__all__ = ["parse_yaml_units"]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OVERRIDE_LISTS = {"include", "mandatory_include", "bootstrap_include", "setup_include"}


class _ShapeError(Exception):
    """A document has a shape no unit can have."""

    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.line = node.start_mark.line + 1


def parse_yaml_units(text: str, path: str) -> tuple[list[Record], list[Problem]]:
    """Parse a multi-document YAML unit file into records; never raises."""
    records: list[Record] = []
    problems: list[Problem] = []
    try:
        for document in yaml.compose_all(text, Loader=_Loader):
            if document is None or _is_null(document):
                continue
            try:
                records.append(_record_from_document(document, path))
            except _ShapeError as exc:
                problems.append(
                    Problem(Severity.ERROR, Origin(path, exc.line), str(exc))
                )
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.append(Problem(Severity.ERROR, Origin(path, line), f"YAML: {reason}"))
    except (RecursionError, MemoryError):
        problems.append(
            Problem(Severity.ERROR, Origin(path), "YAML: nested too deeply")
        )
    return records, problems


def _is_null(node: yaml.Node) -> bool:
    """An empty document (``---`` with nothing after it) composes to a null scalar."""
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def _record_from_document(document: yaml.Node, path: str) -> Record:
    if not isinstance(document, yaml.MappingNode):
        raise _ShapeError("a YAML unit document must be a mapping of fields", document)
    fields: dict[str, Field] = {}
    for key_node, value_node in document.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise _ShapeError("field names must be plain strings", key_node)
        key = str(key_node.value)
        translatable = key.startswith("_")
        name = key[1:] if translatable else key
        line = key_node.start_mark.line + 1
        if name in fields:
            raise _ShapeError(f"duplicate field {key!r}", key_node)
        text = _field_text(name, value_node)
        value = text.strip()
        fields[name] = Field(
            value, text, line, translatable, _line_map(value_node, value)
        )
    return Record(Origin(path, document.start_mark.line + 1), fields)


def _field_text(name: str, node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return "" if node.tag.endswith(":null") else str(node.value)
    if isinstance(node, yaml.SequenceNode) and all(
        _is_line_item(name, item) for item in node.value
    ):
        return "\n".join(_item_text(item) for item in node.value)
    return json.dumps(_plain(node))


def _line_map(node: yaml.Node, value: str) -> tuple[int, ...]:
    """The file line of each line of a field's value, where YAML tells."""
    if not value:
        return ()
    if isinstance(node, yaml.SequenceNode):
        lines = [item.start_mark.line + 1 for item in node.value]
        if len(lines) == value.count("\n") + 1:
            return tuple(lines)
        return ()
    if isinstance(node, yaml.ScalarNode):
        first = node.start_mark.line + 1
        if node.style in {"|", ">"}:
            first += 1  # the value starts below its block indicator
        return tuple(range(first, first + value.count("\n") + 1))
    return ()


def _is_line_item(name: str, node: yaml.Node) -> bool:
    if isinstance(node, yaml.ScalarNode):
        return True
    if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
        return False
    key, value = node.value[0]
    if not isinstance(key, yaml.ScalarNode):
        return False
    if name in _OVERRIDE_LISTS:
        return isinstance(value, yaml.MappingNode) and all(
            isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode)
            for k, v in value.value
        )
    return name == "requires_manifest" and isinstance(value, yaml.ScalarNode)


def _item_text(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    key, value = node.value[0]
    if isinstance(value, yaml.ScalarNode):
        return f"{key.value}={value.value}"
    overrides = ", ".join(f"{k.value}={v.value}" for k, v in value.value)
    return f"{key.value} {overrides}"


def _plain(node: yaml.Node) -> Any:
    """Structured YAML as JSON-able data, scalars kept as the strings written."""
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        return {str(_plain(k)): _plain(v) for k, v in node.value}
    value = node.value
    if node.tag.endswith((":int", ":float", ":bool", ":null")):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:  # an explicit tag on text that is not that type
            return value
    return value
