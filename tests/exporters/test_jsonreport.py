"""The JSON report: its shape (checked with a JSON Schema), times, order."""

from __future__ import annotations

import datetime
import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]  # no stubs in the typing group
import pytest

from plainbox.cli.main import ExitCode
from plainbox.cli.main import main
from plainbox.exporters.jsonreport import SCHEMA_VERSION
from plainbox.exporters.jsonreport import iso_utc
from plainbox.exporters.jsonreport import job_ran
from plainbox.exporters.jsonreport import report_data
from plainbox.exporters.jsonreport import write_json_report
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import JobDefinition
from plainbox.units.problems import Origin


ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"
TIME = {"anyOf": [{"type": "null"}, {"type": "string", "pattern": ISO}]}
RESULT_KEYS = {
    "id": {"type": "string", "pattern": "::"},
    "summary": {"type": "string"},
    "plugin": {"type": "string"},
    "outcome": {"enum": [outcome.value for outcome in Outcome]},
    "return_code": {"type": ["integer", "null"]},
    "duration": {"type": "number", "minimum": 0},
    "certification_status": {"type": "string"},
    "category_id": {"type": "string"},
    "comments": {"type": "string"},
    "skip_reason": {"type": ["object", "null"]},
    "started_at": TIME,
    "finished_at": TIME,
    "stdout": {"type": "string"},
    "stderr": {"type": "string"},
    "template_id": {"type": ["string", "null"]},
    "attachment": {"type": "boolean"},
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["schema_version", "session", "summary", "results"],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "session": {
            "type": "object",
            "required": ["id", "title", "test_plan", "started_at", "finished_at"],
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "test_plan": {"type": ["string", "null"]},
                "started_at": {"type": "string", "pattern": ISO},
                "finished_at": {"type": "string", "pattern": ISO},
            },
        },
        "summary": {
            "type": "object",
            "required": ["total", "outcomes"],
            "properties": {
                "total": {"type": "integer", "minimum": 0},
                "outcomes": {
                    "type": "object",
                    "propertyNames": {"enum": [o.value for o in Outcome]},
                    "additionalProperties": {"type": "integer", "minimum": 1},
                },
            },
        },
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": sorted(RESULT_KEYS),
                "properties": RESULT_KEYS,
            },
        },
    },
}

UNITS = """\
id: widgets
_summary: List widgets
plugin: resource
command: printf 'name: alpha\\n\\nname: beta\\n'

unit: template
template-resource: widgets
template-id: widget-check
id: widget-check-{name}
_summary: Check widget {name}
plugin: shell
command: echo checking {name}

id: logs
_summary: Attach a log
plugin: attachment
command: echo log line

id: passes
_summary: Passes
plugin: shell
command: echo ok

id: fails
_summary: Fails
plugin: shell
command: echo bad >&2; exit 3

id: after-fail
_summary: Depends on the failing job
plugin: shell
depends: fails
command: true

id: unwanted
_summary: Excluded by the plan
plugin: shell
command: true

unit: test plan
id: plan
_name: The plan
bootstrap_include: widgets
include:
 passes
 fails
 after-fail
 widget-check
 logs
 unwanted
exclude: unwanted
"""


@pytest.fixture
def provider(toml_provider):
    return toml_provider(UNITS)


@pytest.fixture
def report(provider: Path, tmp_path: Path, capsys) -> dict[str, Any]:
    """The JSON report of running the example plan."""
    path = tmp_path / "report.json"
    code = main(
        [
            "-P",
            str(provider),
            "run",
            "com.example::plan",
            "--non-interactive",
            "--report",
            f"json:{path}",
        ]
    )
    capsys.readouterr()
    assert code == ExitCode.FAILED
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"].partition("::")[2]: row for row in report["results"]}


def parse_iso(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def test_report_matches_the_schema(report):
    jsonschema.validate(report, SCHEMA)


def test_report_is_in_execution_order(report):
    # Bootstrap first, then the plan's include order, dependencies before.
    assert [row["id"].partition("::")[2] for row in report["results"]] == [
        "widgets",
        "passes",
        "fails",
        "after-fail",
        "widget-check-alpha",
        "widget-check-beta",
        "logs",
    ]


def test_excluded_jobs_are_absent(report):
    assert "unwanted" not in by_id(report)
    assert report["summary"]["total"] == len(report["results"]) == 7


def test_resource_attachment_and_template_jobs_are_reported(report):
    rows = by_id(report)
    assert rows["widgets"]["plugin"] == "resource"
    assert rows["logs"]["attachment"] is True
    assert rows["logs"]["stdout"] == "log line\n"
    assert [rows[name]["attachment"] for name in ("widgets", "passes")] == [
        False,
        False,
    ]
    assert rows["widget-check-beta"]["template_id"] == "com.example::widget-check"
    assert rows["passes"]["template_id"] is None


def test_result_fields(report):
    rows = by_id(report)
    assert rows["fails"]["outcome"] == "fail"
    assert rows["fails"]["return_code"] == 3
    assert rows["fails"]["stderr"] == "bad\n"
    assert rows["fails"]["certification_status"] == "non-blocker"
    assert rows["fails"]["category_id"] == "com.canonical.plainbox::uncategorised"
    skipped = rows["after-fail"]
    assert skipped["outcome"] == "skipped-dependency"
    assert skipped["skip_reason"] == {"related_dependencies": ["com.example::fails"]}
    assert skipped["return_code"] is None
    assert report["summary"]["outcomes"] == {
        "fail": 1,
        "pass": 5,
        "skipped-dependency": 1,
    }


def test_timestamps_are_iso_utc_and_null_for_jobs_that_never_ran(report):
    rows = by_id(report)
    assert rows["after-fail"]["started_at"] is None
    assert rows["after-fail"]["finished_at"] is None
    session = report["session"]
    session_start = parse_iso(session["started_at"])
    session_end = parse_iso(session["finished_at"])
    previous_end = session_start
    for row in report["results"]:
        if row["started_at"] is None:
            continue
        started, finished = parse_iso(row["started_at"]), parse_iso(row["finished_at"])
        assert started.utcoffset() == datetime.timedelta(0)
        assert previous_end <= started <= finished <= session_end
        previous_end = finished


def test_session_has_plan_and_title(report):
    assert report["session"]["test_plan"] == "com.example::plan"
    assert report["session"]["title"] == "The plan"
    assert re.fullmatch(r"pbox-\S+", report["session"]["id"])


def test_report_keys_are_sorted_and_output_is_stable(report):
    first, second = io.StringIO(), io.StringIO()
    write_json_report(report, first)
    write_json_report(json.loads(first.getvalue()), second)
    assert first.getvalue() == second.getvalue()
    assert list(report["results"][0]) == sorted(report["results"][0])
    assert list(report) == sorted(report)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (None, None),
        (0.0, "1970-01-01T00:00:00.000000Z"),
        (1.5, "1970-01-01T00:00:01.500000Z"),
        (1795284466.123456, "2026-11-21T18:07:46.123456Z"),
    ],
)
def test_iso_utc(timestamp, expected):
    assert iso_utc(timestamp) == expected


def make_job(partial_id: str, plugin: str = "shell") -> JobDefinition:
    job = unit_from_fields(
        "job",
        {"id": partial_id, "summary": f"Job {partial_id}", "plugin": plugin},
        namespace="com.example",
        provider="example",
        origin=Origin("units.pxu", 1),
        field_lines={},
    )
    assert isinstance(job, JobDefinition)
    return job


@pytest.mark.parametrize(
    ("outcome", "return_code", "ran"),
    [
        (Outcome.PASS, 0, True),
        (Outcome.FAIL, None, True),  # e.g. the operator said so
        (Outcome.SKIP, 0, True),  # the operator skipped after the command ran
        (Outcome.SKIP, None, False),
        (Outcome.SKIPPED_RESOURCE, None, False),
    ],
)
def test_job_ran(outcome, return_code, ran):
    result = JobResult(job_id="x", outcome=outcome, return_code=return_code)
    assert job_ran(result) is ran


def test_report_data_without_finish_times_uses_the_duration():
    job = make_job("old")
    result = JobResult(
        job_id=job.id, outcome=Outcome.PASS, return_code=0, duration=2.0, started=10.0
    )
    data = report_data(
        [(job, result)],
        session_id="s",
        title="t",
        test_plan=None,
        started=9.0,
        finished=13.0,
    )
    jsonschema.validate(data, SCHEMA)
    assert data["results"][0]["finished_at"] == "1970-01-01T00:00:12.000000Z"
    assert data["session"]["test_plan"] is None
