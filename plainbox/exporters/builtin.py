"""The built-in exporters, registered as a plugin like any other."""

from __future__ import annotations

from plainbox.exporters.base import Exporter
from plainbox.exporters.htmlreport import HtmlExporter
from plainbox.exporters.jsonreport import JsonExporter
from plainbox.exporters.junitxml import JunitExporter
from plainbox.exporters.registry import LazyExporter
from plainbox.exporters.submission import SubmissionExporter
from plainbox.exporters.tarball import TarballExporter
from plainbox.exporters.text import TextExporter
from plainbox.plugins import hookimpl


__all__ = ["plainbox_exporters"]


@hookimpl
def plainbox_exporters() -> list[type[Exporter] | LazyExporter]:
    """The exporters plainbox ships."""
    return [
        JsonExporter,
        HtmlExporter,
        JunitExporter,
        TextExporter,
        LazyExporter(
            "plainbox.exporters.xlsxreport:XlsxExporter",
            id="xlsx",
            file_extension="xlsx",
            summary="XLSX: a workbook of results, descriptions, logs and resources",
        ),
        SubmissionExporter,
        TarballExporter,
    ]
