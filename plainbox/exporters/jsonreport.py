"""The JSON report: plain data with a ``schema_version``, results in run order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO
from typing import Any

from plainbox.session.results import JobResult
from plainbox.units.model import JobDefinition


__all__ = ["SCHEMA_VERSION", "report_data", "write_json_report"]

SCHEMA_VERSION = 1


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
        "started": result.started,
        "comments": result.comments,
        "skip_reason": result.skip_reason,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "template_id": job.template_id,
    }


def report_data(
    results: Sequence[tuple[JobDefinition, JobResult]], *, session: dict[str, Any]
) -> dict[str, Any]:
    """The report as plain data."""
    counts: dict[str, int] = {}
    for _, result in results:
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
    return {
        "schema_version": SCHEMA_VERSION,
        "session": session,
        "summary": {"total": len(results), "outcomes": dict(sorted(counts.items()))},
        "results": [_result_data(job, result) for job, result in results],
    }


def write_json_report(data: dict[str, Any], stream: IO[str]) -> None:
    """Write the report, UTF-8 safe and stable (sorted keys)."""
    json.dump(data, stream, indent=2, sort_keys=True, ensure_ascii=False)
    stream.write("\n")
