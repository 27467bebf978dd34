"""The JSON report: its shape (checked with docs/report-schema.json), fields, bytes."""

from __future__ import annotations

import base64
import datetime
import io
import json
import os
import re
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]  # no stubs in the typing group
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox.cli.main import ExitCode
from plainbox.cli.main import main
from plainbox.errors import ExporterError
from plainbox.execution.iolog import OutputLine
from plainbox.execution.iolog import write_io_log
from plainbox.exporters.base import Exporter
from plainbox.exporters.jsonreport import SCHEMA_VERSION
from plainbox.exporters.jsonreport import JsonExporter
from plainbox.exporters.jsonreport import attachment_data
from plainbox.exporters.jsonreport import encode_report
from plainbox.exporters.jsonreport import iso_utc
from plainbox.exporters.jsonreport import job_ran
from plainbox.exporters.jsonreport import report_data
from plainbox.session.context import SessionDeviceContext
from plainbox.session.manager import FLAG_READ_ONLY
from plainbox.session.manager import SessionManager
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.state import SessionState
from plainbox.session.storage import SessionStorage
from plainbox.session.storage import SessionStorageRepository
from plainbox.session.view import ResultEntry
from plainbox.session.view import SessionView
from plainbox.session.view import merge_views
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import JobDefinition
from plainbox.units.model import Unit
from plainbox.units.problems import Origin


DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMA: dict[str, Any] = json.loads((DOCS / "report-schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
RESULT_KEYS = sorted(SCHEMA["$defs"]["result"]["required"])
ATTEMPT_KEYS = sorted(SCHEMA["$defs"]["attempt"]["required"])
NS = "com.example"


def validate(report: dict[str, Any]) -> None:
    """Fail with every schema error, not just the first."""
    errors = [
        f"{list(error.absolute_path)}: {error.message}"
        for error in VALIDATOR.iter_errors(report)
    ]
    assert errors == []


def export(view: SessionView) -> bytes:
    stream = io.BytesIO()
    JsonExporter().export(view, stream)
    return stream.getvalue()


def exported(view: SessionView) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(export(view).decode("utf-8"))
    return data


# -- the schema itself ---------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["properties"]["schema_version"]["const"] == SCHEMA_VERSION


def test_the_schema_lists_every_outcome() -> None:
    assert SCHEMA["$defs"]["outcome"]["enum"] == [outcome.value for outcome in Outcome]


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("top", lambda report: report.update(surprise=1)),
        ("result", lambda report: report["results"][0].update(surprise=1)),
        ("result", lambda report: report["results"][0].pop("device")),
        ("attempt", lambda report: report["results"][0]["attempts"][0].pop("io_log")),
        ("attempt", lambda report: report["results"][0].update(attempts=[])),
        ("session", lambda report: report["session"].pop("flags")),
        ("time", lambda report: report["session"].update(started_at="2026-11-21")),
        ("outcome", lambda report: report["results"][0].update(outcome="passed")),
        (
            "attachment",
            lambda report: report["results"][0].update(
                attachment_data={"encoding": "utf-8", "data": "", "size": 0}
            ),
        ),
        (
            "base64",
            lambda report: report["results"][1].update(
                attachment_data={"encoding": "base64", "data": "not base64!", "size": 1}
            ),
        ),
    ],
)
def test_the_schema_rejects_what_the_exporter_never_writes(
    make_view: MakeView, where: str, change: Callable[[dict[str, Any]], object]
) -> None:
    # The schema is strict, so the validation tests below can fail: a key
    # the exporter forgot or added shows up as an error.
    view = make_view(
        [Job("plain"), Job("attach", plugin="attachment", attempts=[Try(out=b"x")])]
    )
    report = exported(view)
    validate(report)
    change(report)
    assert list(VALIDATOR.iter_errors(report)), where


# -- sessions made through the SessionManager API --------------------------------


@dataclass
class Try:
    """One attempt at a job and what it printed."""

    outcome: Outcome = Outcome.PASS
    return_code: int | None = 0
    out: bytes = b""
    err: bytes = b""
    comments: str = ""
    skip_reason: dict[str, Any] | None = None
    duration: float = 0.25
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    """A job of a made-up session, its attempts, and the device it ran on."""

    id: str
    plugin: str = "shell"
    device: str = "local"
    attempts: list[Try] = field(default_factory=lambda: [Try()])
    category: str = f"{NS}::cat-a"
    certification_status: str = "non-blocker"
    template_id: str | None = None


def _unit(unit_type: str, fields: dict[str, str]) -> Unit:
    return unit_from_fields(
        unit_type,
        fields,
        namespace=NS,
        provider=f"{NS}:json-tests",
        origin=Origin("units/jobs.pxu", 1),
        field_lines={},
    )


def _units(jobs: Sequence[Job]) -> list[Unit]:
    units = [
        _unit("category", {"id": "cat-a", "name": "Category A"}),
        _unit("category", {"id": "cat-b", "name": "Catégorie B"}),
    ]
    for job in {job.id: job for job in jobs}.values():
        fields = {
            "id": job.id,
            "plugin": job.plugin,
            "summary": f"Summary of {job.id}",
            "category_id": job.category,
            "certification-status": job.certification_status,
            "command": "true",
        }
        if job.template_id is not None:
            fields["template-id"] = job.template_id
        units.append(_unit("job", fields))
    return units


class MakeView:
    """Makes sessions: ``make_view(jobs, devices=..., flags=...)`` → a SessionView.

    The session is written through the SessionManager API (journal and
    io-logs, one io-log per attempt that printed something) and loaded back
    read-only, as exporters get it.  Job times are fixed; each device gets
    a device context, the first one being the session's own.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[str, tuple[list[Unit], SessionStorage]] = {}

    def __call__(
        self,
        jobs: Sequence[Job],
        *,
        devices: Sequence[str] = ("local",),
        flags: Sequence[str] = (),
        title: str = "JSON test session",
        finish: bool = True,
    ) -> SessionView:
        units = _units(jobs)
        by_id = {unit.id: unit for unit in units}
        repo = SessionStorageRepository(self.root / f"repo-{len(self.made)}")
        manager = SessionManager.create(repo)
        contexts: dict[str, SessionDeviceContext] = {}
        for device in devices:
            state = SessionState(units)
            state.metadata.title = title
            state.metadata.test_plan = f"{NS}::plan"
            contexts[device] = SessionDeviceContext(state, device=device)
            manager.add_device_context(contexts[device])
        clock = 1_800_000_000.0
        number = 0
        for job in jobs:
            definition = by_id[f"{NS}::{job.id}"]
            assert isinstance(definition, JobDefinition)
            for attempt in job.attempts:
                number += 1
                result = self._result(manager, definition, attempt, number, clock)
                contexts[job.device].state.update_job_result(definition, result)
                clock += attempt.duration
        first = manager.state
        if finish:
            first.record("session-finished", {"finished": clock})
        if flags:
            first.set_flags({*first.metadata.flags, *flags})
        self.made[manager.storage.id] = (units, manager.storage)
        manager.close()
        return self.reload(manager.storage.id)

    def reload(self, session_id: str) -> SessionView:
        """A new view of a session made here, from its files."""
        units, storage = self.made[session_id]
        loaded = SessionManager.load_session(units, storage, flags={FLAG_READ_ONLY})
        return SessionView.of(loaded)

    @staticmethod
    def _result(
        manager: SessionManager,
        job: JobDefinition,
        attempt: Try,
        number: int,
        clock: float,
    ) -> JobResult:
        io_log = None
        if attempt.out or attempt.err:
            io_log = f"io-logs/{number:04d}-{job.partial_id}.log"
            lines = [
                OutputLine("stdout", chunk, 0.1)
                for chunk in attempt.out.splitlines(keepends=True)
            ] + [
                OutputLine("stderr", chunk, 0.2)
                for chunk in attempt.err.splitlines(keepends=True)
            ]
            write_io_log(manager.storage.path / io_log, lines)
        ran = attempt.return_code is not None
        return JobResult(
            job_id=job.id,
            outcome=attempt.outcome,
            return_code=attempt.return_code,
            duration=attempt.duration if ran else 0.0,
            comments=attempt.comments,
            skip_reason=attempt.skip_reason,
            started=clock if ran else None,
            finished=clock + attempt.duration if ran else None,
            io_log=io_log,
            extra=attempt.extra,
        )


@pytest.fixture
def make_view(tmp_path: Path) -> MakeView:
    return MakeView(tmp_path)


def _every_outcome() -> list[Job]:
    jobs = []
    for outcome in Outcome:
        ran = not outcome.is_skip
        jobs.append(
            Job(
                f"outcome-{outcome.value}",
                attempts=[
                    Try(
                        outcome,
                        return_code=(1 if outcome is Outcome.FAIL else 0)
                        if ran
                        else None,
                        out=f"{outcome.value} out\n".encode() if ran else b"",
                        comments=f"comment for {outcome.value}",
                        skip_reason={"related_dependencies": [f"{NS}::other"]}
                        if outcome is Outcome.SKIPPED_DEPENDENCY
                        else None,
                    )
                ],
            )
        )
    return jobs


SESSIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "every outcome": lambda: {"jobs": _every_outcome()},
    "attempts": lambda: {
        "jobs": [
            Job(
                "flaky",
                attempts=[
                    Try(Outcome.FAIL, 1, out=b"first\n", err=b"oops\n"),
                    Try(Outcome.CRASH, -9, out=b"second\n", comments="signal 9"),
                    Try(Outcome.PASS, 0, out=b"third\n", extra={"note": [1, 2]}),
                ],
            ),
            Job("steady"),
        ]
    },
    "multi-device": lambda: {
        "devices": ("local", "dut-1", "dut-2"),
        "jobs": [
            Job("probe", device="local", attempts=[Try(out=b"local\n")]),
            Job("probe", device="dut-1", attempts=[Try(Outcome.FAIL, 2)]),
            Job("probe", device="dut-2", attempts=[Try(out=b"dut-2\n")]),
        ],
    },
    "attachments and templates": lambda: {
        "flags": ("submitted",),
        "jobs": [
            Job("text-log", plugin="attachment", attempts=[Try(out=b"caf\xc3\xa9\n")]),
            Job("blob", plugin="attachment", attempts=[Try(out=b"\x89PNG\r\n\xff")]),
            Job("nothing", plugin="attachment"),
            Job(
                "from-template",
                category=f"{NS}::cat-b",
                certification_status="blocker",
                template_id="a-template",
            ),
        ],
    },
    "unfinished": lambda: {"finish": False, "jobs": [Job("only")]},
    "empty": lambda: {"jobs": []},
}


@pytest.fixture(params=sorted(SESSIONS))
def session(request: pytest.FixtureRequest, make_view: MakeView) -> SessionView:
    kwargs = SESSIONS[request.param]()
    jobs = kwargs.pop("jobs")
    return make_view(jobs, **kwargs)


def test_sessions_validate_against_the_schema(session: SessionView) -> None:
    validate(exported(session))


def test_every_field_is_present(session: SessionView) -> None:
    report = exported(session)
    assert sorted(report) == ["results", "schema_version", "session", "summary"]
    assert report["schema_version"] == SCHEMA_VERSION == 2
    assert sorted(report["session"]) == [
        "devices",
        "finished_at",
        "flags",
        "id",
        "started_at",
        "test_plan",
        "title",
    ]
    assert len(report["results"]) == len(session.entries)
    for row, entry in zip(report["results"], session.entries, strict=True):
        assert sorted(row) == RESULT_KEYS
        assert len(row["attempts"]) == len(entry.attempts)
        for attempt in row["attempts"]:
            assert sorted(attempt) == ATTEMPT_KEYS


def test_double_export_is_byte_identical(
    session: SessionView, make_view: MakeView
) -> None:
    first = export(session)
    assert export(session) == first
    # A view taken again from the files on disk gives the same bytes too.
    assert export(make_view.reload(session.id)) == first
    first.decode("utf-8")  # strict: the bytes are valid UTF-8


def test_summary_counts_latest_outcomes(session: SessionView) -> None:
    report = exported(session)
    expected: dict[str, int] = {}
    for entry in session.entries:
        expected[entry.result.outcome.value] = (
            expected.get(entry.result.outcome.value, 0) + 1
        )
    assert report["summary"] == {"total": len(session.entries), "outcomes": expected}
    assert list(report["summary"]["outcomes"]) == sorted(expected)


def test_every_outcome_is_reported_as_it_ended(make_view: MakeView) -> None:
    report = exported(make_view(_every_outcome()))
    rows = {row["id"]: row for row in report["results"]}
    assert set(report["summary"]["outcomes"]) == {o.value for o in Outcome}
    for outcome in Outcome:
        row = rows[f"{NS}::outcome-{outcome.value}"]
        assert row["outcome"] == outcome.value
        assert row["comments"] == f"comment for {outcome.value}"
        if outcome.is_skip:
            # Skipped before it started: no times, no output, no io-log.
            assert (row["started_at"], row["finished_at"]) == (None, None)
            assert (row["stdout"], row["io_log"]) == ("", None)
        else:
            assert row["started_at"] is not None
            assert row["stdout"] == f"{outcome.value} out\n"
    skipped = rows[f"{NS}::outcome-skipped-dependency"]
    assert skipped["skip_reason"] == {"related_dependencies": [f"{NS}::other"]}


def test_attempts_are_listed_oldest_first_and_the_row_is_the_latest(
    make_view: MakeView,
) -> None:
    report = exported(make_view(SESSIONS["attempts"]()["jobs"]))
    flaky = report["results"][0]
    assert [a["outcome"] for a in flaky["attempts"]] == ["fail", "crash", "pass"]
    assert [a["return_code"] for a in flaky["attempts"]] == [1, -9, 0]
    assert [a["io_log"] for a in flaky["attempts"]] == [
        "io-logs/0001-flaky.log",
        "io-logs/0002-flaky.log",
        "io-logs/0003-flaky.log",
    ]
    assert flaky["attempts"][1]["comments"] == "signal 9"
    assert flaky["attempts"][2]["extra"] == {"note": [1, 2]}
    # Each attempt starts when the one before ended (the made-up clock).
    assert flaky["attempts"][0]["finished_at"] == flaky["attempts"][1]["started_at"]
    latest = flaky["attempts"][-1]
    assert {key: flaky[key] for key in ATTEMPT_KEYS} == latest
    assert flaky["io_log"] == "io-logs/0003-flaky.log"
    # Output is the latest attempt's; earlier ones are reachable by io_log.
    assert (flaky["stdout"], flaky["stderr"]) == ("third\n", "")
    assert report["summary"]["outcomes"] == {"pass": 2}
    assert report["results"][1]["attempts"] == [
        {key: report["results"][1][key] for key in ATTEMPT_KEYS}
    ]


def test_io_log_paths_are_relative_to_the_session_directory(
    make_view: MakeView,
) -> None:
    view = make_view(SESSIONS["attempts"]()["jobs"])
    for row in exported(view)["results"]:
        for attempt in row["attempts"]:
            if attempt["io_log"] is not None:
                assert not Path(attempt["io_log"]).is_absolute()
                assert (view.path / attempt["io_log"]).is_file()


def test_devices_are_listed_and_each_result_names_its_own(make_view: MakeView) -> None:
    spec = SESSIONS["multi-device"]()
    report = exported(make_view(spec["jobs"], devices=spec["devices"]))
    assert report["session"]["devices"] == ["local", "dut-1", "dut-2"]
    assert [(r["id"], r["device"], r["outcome"]) for r in report["results"]] == [
        (f"{NS}::probe", "local", "pass"),
        (f"{NS}::probe", "dut-1", "fail"),
        (f"{NS}::probe", "dut-2", "pass"),
    ]
    assert [r["stdout"] for r in report["results"]] == ["local\n", "", "dut-2\n"]


def test_a_merged_report_validates_and_tells_clashing_devices_apart(
    make_view: MakeView,
) -> None:
    run = make_view([Job("a", attempts=[Try(Outcome.FAIL, 1, out=b"run\n")])])
    rerun = make_view([Job("a", attempts=[Try(out=b"rerun\n")])])
    report = exported(merge_views([run, rerun]))
    validate(report)
    assert report["session"]["id"] == f"{run.id}+{rerun.id}"
    assert report["session"]["devices"] == [f"local@{run.id}", f"local@{rerun.id}"]
    assert [(r["device"], r["stdout"]) for r in report["results"]] == [
        (f"local@{run.id}", "run\n"),
        (f"local@{rerun.id}", "rerun\n"),
    ]


def test_session_fields(make_view: MakeView) -> None:
    flags = ("submitted", "zz", "a-custom-flag", "m", "b", "y")
    view = make_view([Job("a")], flags=flags, title="Tïtle")
    session = exported(view)["session"]
    assert session["id"] == view.id
    assert session["title"] == "Tïtle"
    assert session["test_plan"] == f"{NS}::plan"
    # Sorted: a frozenset's own order changes from one process to the next.
    assert session["flags"] == sorted(flags)
    assert session["started_at"] == iso_utc(view.created)
    assert session["finished_at"] == iso_utc(view.finished)


def test_an_unfinished_session_has_no_finish_time_and_says_so(
    make_view: MakeView,
) -> None:
    report = exported(make_view([Job("a")], finish=False))
    validate(report)
    assert report["session"]["finished_at"] is None
    assert "incomplete" in report["session"]["flags"]


def test_category_certification_and_template(make_view: MakeView) -> None:
    report = exported(make_view(SESSIONS["attachments and templates"]()["jobs"]))
    row = report["results"][-1]
    assert row["category_id"] == f"{NS}::cat-b"
    assert row["category_name"] == "Catégorie B"
    assert row["certification_status"] == "blocker"
    assert row["template_id"] == f"{NS}::a-template"
    assert report["results"][0]["category_name"] == "Category A"
    assert report["results"][0]["template_id"] is None


def test_a_category_no_unit_names_is_named_by_its_id(make_view: MakeView) -> None:
    view = make_view([Job("a", category=f"{NS}::cat-nowhere")])
    row = exported(view)["results"][0]
    assert row["category_name"] == row["category_id"] == f"{NS}::cat-nowhere"


# -- attachments -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", {"encoding": "utf-8", "data": "", "size": 0}),
        (b"caf\xc3\xa9\n", {"encoding": "utf-8", "data": "café\n", "size": 6}),
        (b"nul \x00 too", {"encoding": "utf-8", "data": "nul \x00 too", "size": 9}),
        (b"\xff\xfe", {"encoding": "base64", "data": "//4=", "size": 2}),
        # Surrogates encoded in UTF-8 are not valid UTF-8.
        (b"\xed\xb3\xbf", {"encoding": "base64", "data": "7bO/", "size": 3}),
    ],
)
def test_attachment_data(data: bytes, expected: dict[str, Any]) -> None:
    assert attachment_data(data) == expected


@settings(max_examples=200)
@given(st.binary())
def test_attachment_data_gives_the_bytes_back(data: bytes) -> None:
    encoded = json.loads(json.dumps(attachment_data(data)))
    if encoded["encoding"] == "utf-8":
        assert encoded["data"].encode("utf-8") == data
    else:
        assert base64.b64decode(encoded["data"], validate=True) == data
    assert encoded["size"] == len(data)


def test_attachment_jobs_carry_their_exact_bytes(make_view: MakeView) -> None:
    report = exported(make_view(SESSIONS["attachments and templates"]()["jobs"]))
    rows = {row["id"].partition("::")[2]: row for row in report["results"]}
    assert rows["text-log"]["attachment_data"] == {
        "encoding": "utf-8",
        "data": "café\n",
        "size": 6,
    }
    blob = rows["blob"]
    assert blob["attachment"] is True
    assert blob["attachment_data"]["encoding"] == "base64"
    assert base64.b64decode(blob["attachment_data"]["data"]) == b"\x89PNG\r\n\xff"
    # stdout is still the text, bad bytes replaced, as for any job.
    assert blob["stdout"] == "\ufffdPNG\r\n\ufffd"
    assert rows["nothing"]["attachment_data"] == {
        "encoding": "utf-8",
        "data": "",
        "size": 0,
    }
    assert rows["from-template"]["attachment"] is False
    assert rows["from-template"]["attachment_data"] is None


def test_an_unreadable_io_log_is_no_attachment_and_a_note(make_view: MakeView) -> None:
    view = make_view(
        [
            Job("gone", plugin="attachment", attempts=[Try(out=b"lost\n")]),
            Job("gone-too", attempts=[Try(out=b"lost\n")]),
        ]
    )
    for entry in view.entries:
        assert entry.result.io_log is not None
        (view.path / entry.result.io_log).unlink()
    report = exported(view)
    validate(report)
    attachment, plain = report["results"]
    assert attachment["attachment_data"] is None
    for row in (attachment, plain):
        assert row["stdout"] == ""
        assert row["stderr"].startswith("(the io-log cannot be read:")


def test_output_is_the_entry_output(make_view: MakeView) -> None:
    # The report's text is what ResultEntry.output gives, attachments included
    # (which are decoded from the raw bytes by the exporter itself).
    view = make_view(
        [
            Job("text", attempts=[Try(out=b"a\xffb\n", err=b"e\n")]),
            Job("att", plugin="attachment", attempts=[Try(out=b"c\xfed\n", err=b"x")]),
        ]
    )
    report = exported(view)
    for row, entry in zip(report["results"], view.entries, strict=True):
        assert (row["stdout"], row["stderr"]) == entry.output()


# -- strings: valid UTF-8 out, the same text back in --------------------------------


def _job(summary: str) -> JobDefinition:
    job = unit_from_fields(
        "job",
        {"id": "hostile", "summary": summary, "plugin": "shell"},
        namespace=NS,
        provider="example",
        origin=Origin("units.pxu", 1),
        field_lines={},
    )
    assert isinstance(job, JobDefinition)
    return job


def _view_in_memory(
    tmp_path: Path,
    *,
    title: str = "t",
    summary: str = "s",
    device: str = "local",
    category: str = "Category",
    result: JobResult | None = None,
    plugin: str = "shell",
) -> SessionView:
    job = replace(_job(summary), plugin=plugin)
    result = result or JobResult(job_id=job.id, outcome=Outcome.PASS, return_code=0)
    entry = ResultEntry(
        job=job,
        result=result,
        attempts=(result,),
        device=device,
        session_dir=tmp_path,
    )
    return SessionView(
        id="pbox-test",
        title=title,
        test_plan=None,
        created=1.0,
        finished=2.0,
        flags=frozenset(),
        path=tmp_path,
        entries=(entry,),
        categories={job.category_id: category},
        devices=(device,),
    )


# A high surrogate followed by a low one is one astral character to every
# JSON reader (RFC 8259 strings are UTF-16 escapes): such a pair of lone
# surrogates cannot come back as two, so the strategy leaves it out.
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
hostile = st.text(st.characters(exclude_categories=())).filter(
    lambda text: not _SURROGATE_PAIR.search(text)
)
HOSTILE_EXAMPLES = [
    "\udcff\udc80 surrogate-escaped bytes",
    "\ud800 lone high",
    'quote " backslash \\ \\udcff not an escape',
    "\x00\x1b[31mred\x1b[0m\r\n\t\x7f\x85\u2028\u2029",
    "\ufeff\ufffe\uffff 🎉 \U0010ffff",
]


@settings(max_examples=60, deadline=None)
@given(
    title=hostile,
    summary=hostile,
    device=hostile,
    category=hostile,
    comments=hostile,
    stdout=hostile,
    stderr=hostile,
    reason=hostile,
)
def test_hostile_strings_round_trip_exactly(
    title: str,
    summary: str,
    device: str,
    category: str,
    comments: str,
    stdout: str,
    stderr: str,
    reason: str,
) -> None:
    result = JobResult(
        job_id=f"{NS}::hostile",
        outcome=Outcome.FAIL,
        return_code=1,
        comments=comments,
        skip_reason={"related_resources": [reason], f"x-{reason}": reason},
        stdout=stdout or "x",  # not empty, or output() would read an io-log
        stderr=stderr,
    )
    view = _view_in_memory(
        # Never read: output held in memory is what ResultEntry.output returns.
        Path("/nonexistent-session"),
        title=title,
        summary=summary,
        device=device,
        category=category,
        result=result,
    )
    raw = export(view)
    report = json.loads(raw.decode("utf-8"))  # strict decoding: valid UTF-8
    validate(report)
    row = report["results"][0]
    assert report["session"]["title"] == title
    assert report["session"]["devices"] == [device]
    # An empty summary defaults to the partial id; any other is kept as is.
    assert row["summary"] == view.entries[0].job.summary == (summary or "hostile")
    assert row["device"] == device
    assert row["category_name"] == category
    assert row["comments"] == row["attempts"][0]["comments"] == comments
    assert (row["stdout"], row["stderr"]) == (stdout or "x", stderr)
    assert row["skip_reason"] == {"related_resources": [reason], f"x-{reason}": reason}


@pytest.mark.parametrize("text", HOSTILE_EXAMPLES)
def test_hostile_examples_round_trip(tmp_path: Path, text: str) -> None:
    result = JobResult(
        job_id=f"{NS}::hostile", outcome=Outcome.PASS, comments=text, stdout=text
    )
    raw = export(_view_in_memory(tmp_path, title=text, summary=text, result=result))
    report = json.loads(raw.decode("utf-8"))
    assert report["session"]["title"] == text
    assert report["results"][0]["comments"] == text
    assert report["results"][0]["stdout"] == text


def test_a_lone_surrogate_is_written_as_its_escape(tmp_path: Path) -> None:
    result = JobResult(
        job_id=f"{NS}::hostile", outcome=Outcome.PASS, comments="a\udcffb"
    )
    raw = export(_view_in_memory(tmp_path, result=result))
    assert b'"a\\udcffb"' in raw
    assert "é".encode() in export(_view_in_memory(tmp_path, title="é"))  # not escaped


def test_an_attachment_held_as_text_with_lone_surrogates_is_base64(
    tmp_path: Path,
) -> None:
    result = JobResult(
        job_id=f"{NS}::hostile", outcome=Outcome.PASS, stdout="a\udcffb\n"
    )
    row = exported(_view_in_memory(tmp_path, result=result, plugin="attachment"))[
        "results"
    ][0]
    assert row["stdout"] == "a\udcffb\n"
    assert row["attachment_data"]["encoding"] == "base64"
    assert base64.b64decode(row["attachment_data"]["data"]) == b"a\xed\xb3\xbfb\n"


# -- the bytes --------------------------------------------------------------------


def test_layout_one_result_per_line_keys_sorted(make_view: MakeView) -> None:
    raw = export(make_view(SESSIONS["attempts"]()["jobs"])).decode("utf-8")
    lines = raw.split("\n")
    assert lines[0] == "{"
    assert lines[1] == '  "results": ['
    assert lines[2].startswith('    {"attachment": false, ')
    assert lines[3].startswith('    {"attachment": false, ')
    assert lines[4:6] == ["  ],", '  "schema_version": 2,']
    assert lines[6].startswith('  "session": {"devices": ["local"], ')
    assert lines[7:] == ['  "summary": {"outcomes": {"pass": 2}, "total": 2}', "}", ""]
    report = json.loads(raw)
    for row in report["results"]:
        assert list(row) == sorted(row)
        assert list(row["attempts"][0]) == sorted(row["attempts"][0])
    assert list(report) == sorted(report)
    assert list(report["session"]) == sorted(report["session"])


def test_encode_report_is_stable_and_parses_back(make_view: MakeView) -> None:
    data = report_data(make_view(SESSIONS["every outcome"]()["jobs"]))
    raw = encode_report(data)
    assert json.loads(raw) == data
    assert encode_report(json.loads(raw)) == raw


def test_an_empty_list_stays_on_its_line() -> None:
    assert encode_report({"b": [], "a": [1, {"y": 1, "x": None}]}) == (
        b'{\n  "a": [\n    1,\n    {"x": null, "y": 1}\n  ],\n  "b": []\n}\n'
    )


# -- times -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (None, None),
        (0.0, "1970-01-01T00:00:00.000000Z"),
        (1.5, "1970-01-01T00:00:01.500000Z"),
        (-0.5, "1969-12-31T23:59:59.500000Z"),
        (0.9999995, "1970-01-01T00:00:01.000000Z"),  # rounds up a second
        (1795284466.123456, "2026-11-21T18:07:46.123456Z"),
    ],
)
def test_iso_utc(timestamp: float | None, expected: str | None) -> None:
    assert iso_utc(timestamp) == expected


@given(
    st.floats(min_value=-2e9, max_value=4e9, allow_nan=False)
    | st.integers(0, 4_000_000_000).map(lambda n: n + 0.5e-6)
)
def test_iso_utc_is_what_datetime_gives(timestamp: float) -> None:
    # The fast path must agree with datetime to the microsecond, rounding
    # included, or reports made before and after it would disagree.
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    assert iso_utc(timestamp) == moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
def test_job_ran(outcome: Outcome, return_code: int | None, ran: bool) -> None:
    result = JobResult(job_id="x", outcome=outcome, return_code=return_code)
    assert job_ran(result) is ran


def test_a_result_without_finish_time_ends_after_its_duration(tmp_path: Path) -> None:
    result = JobResult(
        job_id=f"{NS}::hostile",
        outcome=Outcome.PASS,
        return_code=0,
        duration=2.0,
        started=10.0,
    )
    report = exported(_view_in_memory(tmp_path, result=result))
    validate(report)
    row = report["results"][0]
    assert row["started_at"] == "1970-01-01T00:00:10.000000Z"
    assert row["finished_at"] == "1970-01-01T00:00:12.000000Z"
    assert report["session"]["test_plan"] is None


# -- a real run through the command line ------------------------------------------

UNITS = """\
id: cat-b
unit: category
_name: Category B

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
 passes certification_status=blocker
 fails
 after-fail
 widget-check
 logs
 unwanted
exclude: unwanted
category_overrides: apply com.example::cat-b to fails
"""


@pytest.fixture
def provider(toml_provider: Callable[[str], Path]) -> Path:
    return toml_provider(UNITS)


@dataclass
class Run:
    report: dict[str, Any]
    raw: bytes
    session_dir: Path


@pytest.fixture
def run(provider: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
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
    raw = path.read_bytes()
    report: dict[str, Any] = json.loads(raw)
    state = Path(os.environ["PLAINBOX_STATE_DIR"])
    return Run(report, raw, state / "sessions" / report["session"]["id"])


@pytest.fixture
def report(run: Run) -> dict[str, Any]:
    return run.report


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"].partition("::")[2]: row for row in report["results"]}


def parse_iso(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def test_report_matches_the_schema(report: dict[str, Any]) -> None:
    validate(report)


def test_report_is_in_execution_order(report: dict[str, Any]) -> None:
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


def test_excluded_jobs_are_absent(report: dict[str, Any]) -> None:
    assert "unwanted" not in by_id(report)
    assert report["summary"]["total"] == len(report["results"]) == 7


def test_resource_attachment_and_template_jobs_are_reported(
    report: dict[str, Any],
) -> None:
    rows = by_id(report)
    assert rows["widgets"]["plugin"] == "resource"
    assert rows["logs"]["attachment"] is True
    assert rows["logs"]["stdout"] == "log line\n"
    assert rows["logs"]["attachment_data"] == {
        "encoding": "utf-8",
        "data": "log line\n",
        "size": 9,
    }
    assert [rows[name]["attachment"] for name in ("widgets", "passes")] == [
        False,
        False,
    ]
    assert rows["passes"]["attachment_data"] is None
    assert rows["widget-check-beta"]["template_id"] == "com.example::widget-check"
    assert rows["passes"]["template_id"] is None


def test_result_fields(report: dict[str, Any]) -> None:
    rows = by_id(report)
    assert rows["fails"]["outcome"] == "fail"
    assert rows["fails"]["return_code"] == 3
    assert rows["fails"]["stderr"] == "bad\n"
    assert rows["fails"]["device"] == "local"
    skipped = rows["after-fail"]
    assert skipped["outcome"] == "skipped-dependency"
    assert skipped["skip_reason"] == {"related_dependencies": ["com.example::fails"]}
    assert skipped["return_code"] is None
    assert skipped["io_log"] is None
    assert report["summary"]["outcomes"] == {
        "fail": 1,
        "pass": 5,
        "skipped-dependency": 1,
    }
    assert report["session"]["devices"] == ["local"]


def test_certification_and_category_are_as_they_ran(report: dict[str, Any]) -> None:
    rows = by_id(report)
    # The plan's inline override and its category_overrides line.
    assert rows["passes"]["certification_status"] == "blocker"
    assert rows["fails"]["certification_status"] == "non-blocker"
    assert rows["fails"]["category_id"] == "com.example::cat-b"
    assert rows["fails"]["category_name"] == "Category B"
    assert rows["passes"]["category_id"] == "com.canonical.plainbox::uncategorised"


def test_io_logs_hold_the_reported_output(run: Run) -> None:
    rows = by_id(run.report)
    log = run.session_dir / rows["fails"]["io_log"]
    assert b"bad" in log.read_bytes()
    assert rows["fails"]["attempts"][0]["io_log"] == rows["fails"]["io_log"]


def test_session_export_writes_the_same_bytes_as_the_run(
    run: Run, provider: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    again = tmp_path / "again.json"
    session_id = run.report["session"]["id"]
    code = main(
        [
            "-P",
            str(provider),
            "session",
            "export",
            session_id,
            "--report",
            f"json:{again}",
        ]
    )
    capsys.readouterr()
    assert code == 0
    assert again.read_bytes() == run.raw


def test_timestamps_are_iso_utc_and_null_for_jobs_that_never_ran(
    report: dict[str, Any],
) -> None:
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


def test_session_has_plan_and_title(report: dict[str, Any]) -> None:
    assert report["session"]["test_plan"] == "com.example::plan"
    assert report["session"]["title"] == "The plan"
    assert report["session"]["flags"] == []
    assert re.fullmatch(r"pbox-\S+", report["session"]["id"])


# -- the documentation ------------------------------------------------------------


def test_the_documentation_describes_every_key() -> None:
    text = (DOCS / "reports.rst").read_text(encoding="utf-8")
    assert ".. literalinclude:: report-schema.json" in text
    keys = {*RESULT_KEYS, *ATTEMPT_KEYS, *SCHEMA["properties"]}
    keys |= set(SCHEMA["properties"]["session"]["properties"])
    keys |= set(SCHEMA["$defs"]["attachment_data"]["properties"])
    missing = sorted(key for key in keys if f"``{key}``" not in text)
    assert missing == []


def _documented_code(caption: str) -> str:
    """The Python code block of docs/reports.rst with this caption."""
    text = (DOCS / "reports.rst").read_text(encoding="utf-8")
    head = f".. code-block:: python\n   :caption: {caption}\n\n"
    lines = []
    for line in text[text.index(head) + len(head) :].split("\n"):
        if line and not line.startswith("   "):
            break
        lines.append(line[3:])
    return "\n".join(lines)


def test_the_documented_exporter_plugin_works(make_view: MakeView) -> None:
    # The example must keep working as the exporter API changes.
    module: dict[str, Any] = {"__name__": "plainbox_tap_exporter"}
    source = _documented_code("plainbox_tap_exporter.py")
    exec(compile(source, "plainbox_tap_exporter.py", "exec"), module)
    (exporter_class,) = module["plainbox_exporters"]()
    assert issubclass(exporter_class, Exporter)
    assert exporter_class.id == "tap"
    view = make_view(
        [
            Job("good", attempts=[Try(out=b"fine\n")]),
            Job("bad", attempts=[Try(Outcome.FAIL, 1)]),
            Job("absent", attempts=[Try(Outcome.SKIPPED_RESOURCE, None)]),
        ]
    )
    stream = io.BytesIO()
    exporter_class(["with-output"]).export(view, stream)
    assert stream.getvalue().decode("utf-8") == (
        "TAP version 13\n1..3\n"
        f"ok 1 - {NS}::good\n# fine\n"
        f"not ok 2 - {NS}::bad\n"
        f"ok 3 - {NS}::absent # SKIP skipped-resource\n"
    )
    with pytest.raises(ExporterError, match="colour"):
        exporter_class(["colour"])
