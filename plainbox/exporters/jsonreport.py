"""The JSON report: plain data with a ``schema_version``, results in run order.

Shape (keys are written sorted, so the file is stable)::

    {
      "schema_version": 1,
      "session": {"id", "title", "test_plan", "started_at", "finished_at"},
      "summary": {"total": N, "outcomes": {"pass": n, ...}},
      "results": [
        {"id", "summary", "plugin", "outcome", "return_code", "duration",
         "certification_status", "category_id", "comments", "skip_reason",
         "started_at", "finished_at", "stdout", "stderr", "template_id",
         "attachment"},
        ...
      ]
    }

Times are ISO 8601 in UTC with microseconds (``2026-11-21T18:07:46.123456Z``);
a job that never ran (skipped before it started: a skip outcome and no
return code) has null times. Ids (``id``, ``template_id``) are full ids.
"""

from __future__ import annotations

import datetime
import io
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import IO
from typing import Any
from typing import BinaryIO

from plainbox.exporters.base import Exporter
from plainbox.session.results import JobResult
from plainbox.session.view import SessionView
from plainbox.units.model import JobDefinition
from plainbox.units.model import qualify


__all__ = [
    "SCHEMA_VERSION",
    "JsonExporter",
    "iso_utc",
    "job_ran",
    "report_data",
    "write_json_report",
]

SCHEMA_VERSION = 1


def iso_utc(timestamp: float | None) -> str | None:
    """Seconds since the epoch as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; None stays None."""
    if timestamp is None:
        return None
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def job_ran(result: JobResult) -> bool:
    """False for a job skipped before it started (no command, no operator)."""
    return not (result.outcome.is_skip and result.return_code is None)


def _started(result: JobResult) -> float | None:
    return result.started if job_ran(result) else None


def _finished(result: JobResult) -> float | None:
    if not job_ran(result):
        return None
    if result.finished is not None:
        return result.finished
    if result.started is not None:
        # Results made before the run loop recorded finish times.
        return result.started + result.duration
    return None


def _result_data(job: JobDefinition, result: JobResult) -> dict[str, Any]:
    return {
        "id": job.id,
        "summary": job.summary,
        "plugin": job.plugin,
        "category_id": job.category_id,
        "certification_status": job.certification_status,
        "outcome": result.outcome.value,
        "return_code": result.return_code,
        "duration": round(result.duration, 6),
        "started_at": iso_utc(_started(result)),
        "finished_at": iso_utc(_finished(result)),
        "comments": result.comments,
        "skip_reason": result.skip_reason,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "template_id": qualify(job.template_id, job.namespace)
        if job.template_id
        else None,
        "attachment": job.plugin == "attachment",
    }


def report_data(
    results: Sequence[tuple[JobDefinition, JobResult]],
    *,
    session_id: str,
    title: str,
    test_plan: str | None,
    started: float | None,
    finished: float | None,
) -> dict[str, Any]:
    """The report as plain data.

    :param results: ``(job, result)`` pairs in the order the jobs ran.
    :param test_plan: the plan's full id; None for hand-picked jobs.
    :param started: when the session started, seconds since the epoch.
    """
    counts: dict[str, int] = {}
    for _, result in results:
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
    return {
        "schema_version": SCHEMA_VERSION,
        "session": {
            "id": session_id,
            "title": title,
            "test_plan": test_plan,
            "started_at": iso_utc(started),
            "finished_at": iso_utc(finished),
        },
        "summary": {"total": len(results), "outcomes": dict(sorted(counts.items()))},
        "results": [_result_data(job, result) for job, result in results],
    }


def write_json_report(data: dict[str, Any], stream: IO[str]) -> None:
    """Write the report, UTF-8 safe and stable (sorted keys)."""
    json.dump(data, stream, indent=2, sort_keys=True, ensure_ascii=False)
    stream.write("\n")


class JsonExporter(Exporter):
    """The JSON report (see the module documentation for its shape)."""

    id = "json"
    file_extension = "json"
    summary = "JSON: every result with its output, for programs to read"

    def export(self, session: SessionView, stream: BinaryIO) -> None:
        results = []
        for entry in session.entries:
            stdout, stderr = entry.output()
            results.append(
                (entry.job, replace(entry.result, stdout=stdout, stderr=stderr))
            )
        data = report_data(
            results,
            session_id=session.id,
            title=session.title,
            test_plan=session.test_plan,
            started=session.created,
            finished=session.finished,
        )
        text = io.StringIO()
        write_json_report(data, text)
        stream.write(text.getvalue().encode("utf-8"))
