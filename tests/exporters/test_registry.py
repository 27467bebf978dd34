"""The exporter registry: built-in ids, legacy ids, lazy stand-ins."""

from __future__ import annotations

import subprocess
import sys

import pytest

from plainbox.errors import ExporterError
from plainbox.exporters.registry import LEGACY_IDS
from plainbox.exporters.registry import LazyExporter
from plainbox.exporters.registry import create_exporter
from plainbox.exporters.registry import exporter_classes
from plainbox.exporters.registry import exporter_map
from plainbox.exporters.registry import find_exporter_unit
from plainbox.exporters.registry import split_unit_options
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import ExporterUnit
from plainbox.units.problems import Origin


def test_every_builtin_format_is_registered():
    assert set(exporter_classes()) >= {
        "json",
        "html",
        "junit",
        "text",
        "xlsx",
        "submission",
        "tar",
    }


@pytest.mark.parametrize(("legacy", "target"), sorted(LEGACY_IDS.items()))
def test_legacy_ids_name_the_same_exporter(legacy, target):
    known = exporter_map()
    assert known[legacy] is known[target]


def test_lazy_stand_ins_agree_with_the_class_they_load():
    lazy = [cls for cls in exporter_classes().values() if isinstance(cls, LazyExporter)]
    assert lazy  # xlsx, whose openpyxl import is slow
    for stand_in in lazy:
        real = stand_in.load()
        assert (real.id, real.file_extension, real.summary) == (
            stand_in.id,
            stand_in.file_extension,
            stand_in.summary,
        )
        assert stand_in.option_help == real.option_help
        assert isinstance(stand_in(), real)


def test_listing_exporters_does_not_import_openpyxl():
    code = (
        "import sys; from plainbox.exporters.registry import exporter_map; "
        "exporter_map(); print('openpyxl' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def test_unknown_ids_and_options():
    known = exporter_map()
    with pytest.raises(LookupError, match="no exporter 'pdf'"):
        create_exporter(known, "pdf")
    with pytest.raises(ExporterError, match="no option 'colour'"):
        create_exporter(known, "html", ["colour=yes"])
    assert create_exporter(known, "html", ["colour=yes"], strict=False).options == {}


def exporter_unit(
    partial_id: str, entry_point: str, options: str = "", namespace: str = "com.example"
) -> ExporterUnit:
    unit = unit_from_fields(
        "exporter",
        {
            "id": partial_id,
            "entry_point": entry_point,
            "file_extension": "xml",
            "options": options,
        },
        namespace=namespace,
        provider="example",
        origin=Origin("units.pxu", 1),
        field_lines={},
    )
    assert isinstance(unit, ExporterUnit)
    return unit


def test_exporter_units_are_found_by_full_or_unambiguous_partial_id():
    one = exporter_unit("report", "json", namespace="com.example.one")
    two = exporter_unit("report", "json", namespace="com.example.two")
    solo = exporter_unit("solo", "junit")
    units = [one, two, solo]
    assert find_exporter_unit("com.example.two::report", units) is two
    assert find_exporter_unit("solo", units) is solo
    assert find_exporter_unit("com.example::solo", units) is solo
    with pytest.raises(LookupError, match="'report' is ambiguous; use one of: com"):
        find_exporter_unit("report", units)
    assert find_exporter_unit("solo::x", units) is None
    assert find_exporter_unit("com.example::report", units) is None
    assert find_exporter_unit("json", units) is None


def test_a_units_options_are_split_into_understood_and_unknown():
    unit = exporter_unit("u", "junit", "group-by=device with-sys-info,max-output=3")
    cls = exporter_map([unit])[unit.id]
    assert split_unit_options(unit, cls) == (
        ["group-by=device", "max-output=3"],
        ["with-sys-info"],
    )


def test_create_exporter_applies_a_units_options_and_warns_about_the_rest():
    unit = exporter_unit("u", "junit", "group-by=device with-sys-info")
    known = exporter_map([unit])
    warnings: list[str] = []

    exporter = create_exporter(
        known, unit.id, ["max-output=7"], units=[unit], warn=warnings.append
    )

    assert exporter.options == {"group-by": "device", "max-output": "7"}
    assert warnings == [
        "exporter unit com.example::u: exporter 'junit' has no option "
        "'with-sys-info'; it is ignored"
    ]
    # Without the unit (or by the plain id) the options are the caller's only.
    assert create_exporter(known, "junit").options == {}
    assert create_exporter(known, unit.id).options == {}
    # A unit's unknown option never fails, even in strict mode; the caller's does.
    with pytest.raises(ExporterError, match="no option 'colour'"):
        create_exporter(known, unit.id, ["colour"], units=[unit])
