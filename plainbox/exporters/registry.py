"""Which exporters exist: built-in ones, plugins' ones, and exporter units."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from plainbox.exporters.base import Exporter
from plainbox.units.model import ExporterUnit


__all__ = [
    "LEGACY_IDS",
    "LazyExporter",
    "create_exporter",
    "exporter_classes",
    "exporter_map",
    "find_exporter_unit",
    "split_unit_options",
]

#: Short ids older tools use, and the exporter each one means.
LEGACY_IDS = {
    "json": "json",
    "text": "text",
    "html": "html",
    "xml": "junit",
    "junit": "junit",
    "xlsx": "xlsx",
    "rfc822": "text",
    "tar": "tar",
    "submission": "submission",
}


class LazyExporter:
    """Stands in for an exporter class whose module is slow to import.

    It has the class's ``id``, ``file_extension`` and ``summary`` and is
    called like the class; the module is imported only then (or when
    ``option_help`` is asked for), so listing formats and running sessions
    do not pay for libraries no report needs (openpyxl pulls in numpy).
    """

    def __init__(
        self, target: str, *, id: str, file_extension: str, summary: str
    ) -> None:
        self.target = target
        self.id = id
        self.file_extension = file_extension
        self.summary = summary

    def load(self) -> type[Exporter]:
        """The real exporter class."""
        import importlib

        module_name, _, class_name = self.target.partition(":")
        cls: type[Exporter] = getattr(importlib.import_module(module_name), class_name)
        return cls

    @property
    def option_help(self) -> Any:
        return self.load().option_help

    def __call__(
        self, option_list: Sequence[str] = (), strict: bool = True
    ) -> Exporter:
        return self.load()(option_list, strict)


def exporter_classes() -> dict[str, type[Exporter] | LazyExporter]:
    """Exporter id → class: plugins' exporters (built-ins are plugins too)."""
    from plainbox.plugins import get_plugin_manager

    classes: dict[str, type[Exporter] | LazyExporter] = {}
    for contributed in get_plugin_manager().hook.plainbox_exporters():
        for cls in contributed:
            classes.setdefault(cls.id, cls)
    return classes


def exporter_map(units: Sequence[ExporterUnit] = ()) -> dict[str, Any]:
    """Exporter id → exporter class, for plugin ids, legacy ids and exporter units.

    An exporter unit maps to the class its ``entry_point`` names (a
    Checkbox entry-point name such as ``text`` or ``xlsx``, or a plugin id).
    """
    classes = exporter_classes()
    result: dict[str, Any] = dict(classes)
    for legacy, target in LEGACY_IDS.items():
        if target in classes:
            result.setdefault(legacy, classes[target])
    for unit in units:
        entry_point = unit.fields.get("entry_point", "")
        target = LEGACY_IDS.get(entry_point, entry_point)
        if entry_point == "jinja2":
            target = "html"
        if target in classes:
            result[unit.id] = classes[target]
    return result


def find_exporter_unit(text: str, units: Sequence[ExporterUnit]) -> ExporterUnit | None:
    """The exporter unit ``text`` names (its full id, or its partial id alone).

    As everywhere units are looked up, a partial id (no ``::``) must name
    units of one full id only.  None when no unit has that id.

    :raises LookupError: the partial id is ambiguous.
    """
    if "::" in text:
        matches = [unit for unit in units if unit.id == text]
    else:
        matches = [unit for unit in units if unit.partial_id == text]
    distinct = sorted({unit.id for unit in matches})
    if len(distinct) > 1:
        raise LookupError(f"{text!r} is ambiguous; use one of: {', '.join(distinct)}")
    return matches[0] if matches else None


def split_unit_options(
    unit: ExporterUnit, cls: type[Exporter] | LazyExporter
) -> tuple[list[str], list[str]]:
    """The unit's ``options`` the exporter understands, and the names of the rest.

    Exporter units written for Checkbox name options of Checkbox's
    exporters (``with-sys-info`` and the like) that plainbox's exporters
    may lack; those are left out rather than make the report fail.
    """
    if not unit.options:
        return [], []
    option_help = cls.option_help
    understood: list[str] = []
    unknown: list[str] = []
    for option in unit.options:
        name = option.partition("=")[0]
        (understood if name in option_help else unknown).append(option)
    return understood, [option.partition("=")[0] for option in unknown]


def create_exporter(
    mapping: dict[str, Any],
    exporter_id: str,
    option_list: Sequence[str] = (),
    strict: bool = True,
    *,
    units: Sequence[ExporterUnit] = (),
    warn: Callable[[str], object] | None = None,
) -> Exporter:
    """An exporter configured with ``option_list``.

    When ``exporter_id`` is the full id of one of ``units``, that unit's
    ``options`` come first; those the exporter does not understand are
    dropped whatever ``strict`` says (``warn``, when given, is told about
    each), since ``strict`` is about ``option_list``, the caller's own.

    :raises LookupError: no exporter has that id.
    :raises ExporterError: an unknown option in ``option_list`` in strict
        mode, or an option with a bad value.
    """
    cls = mapping.get(exporter_id)
    if cls is None:
        known = ", ".join(sorted(mapping)) or "none"
        raise LookupError(f"no exporter {exporter_id!r} (known: {known})")
    unit = next((unit for unit in units if unit.id == exporter_id), None)
    if unit is not None:
        understood, unknown = split_unit_options(unit, cls)
        if warn is not None:
            for name in unknown:
                warn(
                    f"exporter unit {unit.id}: exporter {cls.id!r} has no option "
                    f"{name!r}; it is ignored"
                )
        option_list = [*understood, *option_list]
    exporter: Exporter = cls(option_list, strict)
    return exporter
