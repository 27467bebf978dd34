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
