"""The built-in exporters, registered as a plugin like any other.

Only the JSON exporter (every run's default report) is imported with the
plugin; the others stand in as :class:`LazyExporter` until a report needs
them, so a run does not pay for jinja2, lxml or openpyxl it never uses (a
test checks each stand-in against the class it loads).
"""

from __future__ import annotations

from plainbox.exporters.base import Exporter
from plainbox.exporters.jsonreport import JsonExporter
from plainbox.exporters.registry import LazyExporter
from plainbox.plugins import hookimpl


__all__ = ["plainbox_exporters"]


def _lazy(target: str, id: str, file_extension: str, summary: str) -> LazyExporter:
    return LazyExporter(
        f"plainbox.exporters.{target}",
        id=id,
        file_extension=file_extension,
        summary=summary,
    )


@hookimpl
def plainbox_exporters() -> list[type[Exporter] | LazyExporter]:
    """The exporters plainbox ships."""
    return [
        JsonExporter,
        _lazy(
            "htmlreport:HtmlExporter",
            "html",
            "html",
            "HTML: one self-contained page for people, with filters and output",
        ),
        _lazy(
            "junitxml:JunitExporter",
            "junit",
            "xml",
            "JUnit XML: one testcase per job, for CI systems",
        ),
        _lazy(
            "text:TextExporter",
            "text",
            "txt",
            "text: one line per job and the outcome counts, for people",
        ),
        _lazy(
            "xlsxreport:XlsxExporter",
            "xlsx",
            "xlsx",
            "XLSX: a workbook of results, descriptions, logs and resources",
        ),
        _lazy(
            "submission:SubmissionExporter",
            "submission",
            "json",
            "Checkbox submission JSON: what certification.canonical.com ingests",
        ),
        _lazy(
            "tarball:TarballExporter",
            "tar",
            "tar.xz",
            "tar.xz of submission.json, report.html, junit.xml and every log",
        ),
    ]
