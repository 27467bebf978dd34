"""Progress output: counter, ETA, colour rules, failure details, summary table."""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import TextIO

import pytest

from plainbox.cli.progress import ProgressReporter
from plainbox.cli.progress import format_seconds
from plainbox.cli.progress import render_summary
from plainbox.cli.progress import use_color
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import JobDefinition
from plainbox.units.problems import Origin


ESCAPE = "\x1b"


def make_job(
    partial_id: str,
    *,
    plugin: str = "shell",
    estimate: str | None = None,
    summary: str | None = None,
) -> JobDefinition:
    fields = {
        "id": partial_id,
        "summary": summary if summary is not None else f"Job {partial_id}",
        "plugin": plugin,
    }
    if estimate is not None:
        fields["estimated_duration"] = estimate
    job = unit_from_fields(
        "job",
        fields,
        namespace="com.example",
        provider="example",
        origin=Origin("units.pxu", 1),
        field_lines={},
    )
    assert isinstance(job, JobDefinition)
    return job


def result(
    job: JobDefinition,
    outcome: Outcome = Outcome.PASS,
    *,
    stderr: str = "",
    comments: str = "",
    ran: bool = True,
) -> JobResult:
    return JobResult(
        job_id=job.id,
        outcome=outcome,
        return_code=(0 if outcome is Outcome.PASS else 1) if ran else None,
        duration=0.25,
        stderr=stderr,
        comments=comments,
        started=100.0,
        finished=100.25,
    )


def run_jobs(
    reporter: ProgressReporter,
    phases: list[tuple[str, list[tuple[JobDefinition, JobResult]]]],
) -> None:
    """Drive the reporter the way the run loop does."""
    for phase, pairs in phases:
        reporter.on_phase(phase, [job for job, _ in pairs])
        for job, outcome in pairs:
            reporter.on_start(job)
            reporter.on_result(job, outcome)


@pytest.fixture
def pty_stream() -> Iterator[tuple[TextIO, int]]:
    """A text stream that is a terminal, and the descriptor to read it back."""
    master, slave = os.openpty()
    stream = open(slave, "w", encoding="utf-8")  # noqa: SIM115
    try:
        yield stream, master
    finally:
        stream.close()
        os.close(master)


def read_all(master: int) -> str:
    chunks = []
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def test_counter_counts_bootstrap_and_main_jobs_not_setup():
    setup, resource = make_job("setup"), make_job("resource", plugin="resource")
    one, two = make_job("one"), make_job("two")
    out = io.StringIO()
    run_jobs(
        ProgressReporter(out),
        [
            ("setup", [(setup, result(setup))]),
            ("bootstrap", [(resource, result(resource))]),
            ("main", [(one, result(one)), (two, result(two))]),
        ],
    )
    labels = [line.split()[0] for line in out.getvalue().splitlines()]
    assert labels == ["[setup]", "[1/1]", "[2/3]", "[3/3]"]


def test_counter_without_phase_announcements_counts_up():
    jobs = [make_job("one"), make_job("two")]
    out = io.StringIO()
    reporter = ProgressReporter(out)
    for job in jobs:
        reporter.on_start(job)
        reporter.on_result(job, result(job))
    assert [line.split()[0] for line in out.getvalue().splitlines()] == ["[1]", "[2]"]


def test_plain_output_has_one_line_per_job_with_outcome_summary_id_duration():
    job = make_job("one", summary="The first job")
    out = io.StringIO()
    run_jobs(ProgressReporter(out), [("main", [(job, result(job))])])
    assert out.getvalue() == (
        "[1/1] pass               The first job (com.example::one)  0.25s\n"
    )


@pytest.mark.parametrize(
    ("estimates", "expected"),
    [
        (["10", "20", "30"], ["ETA ~50s", "ETA ~30s", None]),
        (["10", None, "30"], ["ETA >30s", "ETA ~30s", None]),
        ([None, None, None], [None, None, None]),
    ],
)
def test_eta_from_estimated_durations_of_jobs_left(estimates, expected):
    jobs = [
        make_job(f"job{index}", estimate=estimate)
        for index, estimate in enumerate(estimates)
    ]
    out = io.StringIO()
    run_jobs(ProgressReporter(out), [("main", [(job, result(job)) for job in jobs])])
    found = [
        match.group(1) if match else None
        for match in (
            re.search(r"\((ETA [^)]*)\)", line) for line in out.getvalue().splitlines()
        )
    ]
    assert found == expected


def test_failing_job_shows_comments_and_last_lines_of_stderr():
    job = make_job("bad")
    stderr = "".join(f"line {n}\n" for n in range(1, 9))
    out = io.StringIO()
    run_jobs(
        ProgressReporter(out),
        [("main", [(job, result(job, Outcome.FAIL, stderr=stderr, comments="why"))])],
    )
    lines = out.getvalue().splitlines()
    assert lines[1:] == [
        "        why",
        "        | line 4",
        "        | line 5",
        "        | line 6",
        "        | line 7",
        "        | line 8",
    ]


def test_skipped_job_shows_why_and_no_duration():
    job = make_job("manual", plugin="manual")
    skipped = result(job, Outcome.SKIP, comments="needs an operator", ran=False)
    out = io.StringIO()
    run_jobs(ProgressReporter(out), [("main", [(job, skipped)])])
    first, second = out.getvalue().splitlines()
    assert first.endswith("(com.example::manual)")
    assert second == "        needs an operator"


def test_untrusted_text_is_sanitized():
    job = make_job("evil", summary="Evil \x1b]0;title\x07job\x1b[2J")
    out = io.StringIO()
    bad = result(job, Outcome.FAIL, stderr="\x1b[31mred\r\n", comments="\x1b[1mloud")
    run_jobs(ProgressReporter(out), [("main", [(job, bad)])])
    text = out.getvalue()
    assert ESCAPE not in text
    assert "\r" not in text
    assert "Evil job" in text
    assert "| red" in text


def test_terminal_output_rewrites_the_running_line_and_colours_outcomes():
    quick = make_job("quick", estimate="5")
    manual = make_job("ask", plugin="manual", estimate="60")
    out = io.StringIO()
    reporter = ProgressReporter(out, tty=True, color=True, width=200)
    run_jobs(
        reporter,
        [
            (
                "main",
                [
                    (quick, result(quick)),
                    (manual, result(manual, Outcome.FAIL, comments="no")),
                ],
            )
        ],
    )
    text = out.getvalue()
    first, rest = text.split("\n", 1)
    assert first.startswith("[1/2] running")
    assert "(ETA ~1m05s)" in first
    assert "\r[1/2] \x1b[32mpass\x1b[0m" in first
    # An operator job's line ends at once: the operator's dialogue follows.
    assert rest.startswith(
        "[2/2] running            Job ask (com.example::ask)  (ETA ~1m00s)\n"
    )
    assert "[2/2] \x1b[31mfail\x1b[0m" in rest


def test_terminal_output_without_colour_has_no_escape_codes():
    job = make_job("quick")
    out = io.StringIO()
    reporter = ProgressReporter(out, tty=True, color=False, width=30)
    run_jobs(reporter, [("main", [(job, result(job))])])
    text = out.getvalue()
    assert ESCAPE not in text
    running, done = text.rstrip("\n").split("\r")
    assert len(running) == 29  # cut to the terminal width
    assert done.startswith("[1/1] pass")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, True),
        ({"NO_COLOR": "1"}, False),
        ({"NO_COLOR": "anything"}, False),
        ({"NO_COLOR": ""}, True),  # only a non-empty value disables colour
        ({"TERM": "dumb"}, False),
    ],
)
def test_use_color_on_a_terminal(pty_stream, environ, expected):
    stream, _ = pty_stream
    assert use_color(stream, environ) is expected


def test_no_color_off_a_terminal():
    assert use_color(io.StringIO(), {}) is False


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0.00s"),
        (0.256, "0.26s"),
        (9.994, "9.99s"),
        (42.4, "42s"),
        (65, "1m05s"),
        (3599, "59m59s"),
        (3720, "1h02m"),
    ],
)
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_summary_table_counts_outcomes_and_lists_failures():
    jobs = [make_job(name) for name in ("a", "b", "c", "d", "e")]
    results = [
        (jobs[0], result(jobs[0])),
        (jobs[1], result(jobs[1], Outcome.FAIL, comments="wrong\nanswer")),
        (jobs[2], result(jobs[2])),
        (jobs[3], result(jobs[3], Outcome.CRASH)),
        (jobs[4], result(jobs[4], Outcome.SKIPPED_RESOURCE, ran=False)),
    ]
    assert render_summary(results) == [
        "  outcome             jobs",
        "  pass                   2",
        "  fail                   1",
        "  skipped-resource       1",
        "  crash                  1",
        "  total                  5",
        "",
        "Failed or crashed jobs:",
        "  com.example::b (fail): wrong answer",
        "  com.example::d (crash)",
    ]


def test_print_summary_uses_what_was_reported():
    job = make_job("a")
    out = io.StringIO()
    reporter = ProgressReporter(out)
    run_jobs(reporter, [("main", [(job, result(job))])])
    reporter.print_summary()
    assert reporter.results == [(job, result(job))]
    assert out.getvalue().endswith("  total                  1\n")


UNITS = """\
id: passes
_summary: A job that passes
plugin: shell
command: true

id: fails
_summary: A job that fails
plugin: shell
command: exit 1

unit: test plan
id: plan
_name: The plan
include:
 passes
 fails
"""


def run_on_a_terminal(tmp_path: Path, **env: str) -> str:
    """Run ``plainbox run`` in a subprocess whose stdout is a terminal."""
    provider = tmp_path / "provider"
    (provider / "units").mkdir(parents=True)
    (provider / "provider.toml").write_text(
        '[provider]\nname = "example"\nnamespace = "com.example"\nversion = "1.0"\n'
    )
    (provider / "units" / "units.pxu").write_text(UNITS)
    environ: dict[str, Any] = {
        key: value
        for key, value in os.environ.items()
        if key not in ("NO_COLOR", "TERM")
    }
    environ.update(env)
    master, slave = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "plainbox", "-P", str(provider), "run", "plan"],
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.PIPE,
            env=environ,
        )
        os.close(slave)
        output = []
        while True:
            chunk = read_all(master)
            output.append(chunk)
            if process.poll() is not None:
                output.append(read_all(master))
                break
        assert process.wait(timeout=30) == 1
        assert process.stderr is not None
        process.stderr.close()
    finally:
        os.close(master)
    return "".join(output)


def test_terminal_run_has_colour_unless_no_color(tmp_path):
    coloured = run_on_a_terminal(tmp_path / "a")
    assert "\x1b[32mpass" in coloured
    plain = run_on_a_terminal(tmp_path / "b", NO_COLOR="1")
    assert ESCAPE not in plain
    assert "[2/2] fail" in plain
