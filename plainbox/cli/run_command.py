"""``plainbox run``: run a test plan (or hand-picked jobs) and write its reports.

``plainbox run TEST_PLAN_ID`` runs a plan. Anything else on the command
line (several words, or one that names no test plan) is a list of patterns
picking jobs by id: regular expressions anchored to the whole id, where a
pattern without ``::`` may match in any namespace. The picked jobs run as
the ``include`` of a throwaway test plan, so dependencies, resources and
ordering work as in any plan; the resources of picked templates are
bootstrapped first.

A launcher (``--launcher FILE``) may name the test plan, the environment and
test selection; options given on the command line win over it.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plainbox import paths
from plainbox.cli.common import catalog_from_args
from plainbox.cli.launcher import Launcher
from plainbox.cli.launcher import load_launcher
from plainbox.cli.launcher import pattern_qualifiers
from plainbox.cli.launcher import with_exclusions
from plainbox.cli.operator import TerminalOperator
from plainbox.cli.progress import ProgressReporter
from plainbox.cli.progress import render_summary
from plainbox.cli.terminal import sanitize
from plainbox.cli.terminal import write_line
from plainbox.errors import SetupFailedError
from plainbox.errors import UsageError
from plainbox.execution.controller import RunOptions
from plainbox.execution.controller import run_test_plan
from plainbox.execution.iolog import OutputLine
from plainbox.exporters.jsonreport import report_data
from plainbox.exporters.jsonreport import write_json_report
from plainbox.session.results import FAILING_OUTCOMES
from plainbox.session.results import JobResult
from plainbox.units.catalog import Catalog
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import JobDefinition
from plainbox.units.model import TestPlan
from plainbox.units.problems import Origin


__all__ = ["hand_picked_plan", "parse_report_spec", "run_command"]

Results = Sequence[tuple[JobDefinition, JobResult]]
HAND_PICKED_NAMESPACE = "io.plainbox.cli"
HAND_PICKED_TITLE = "Hand-picked jobs"
_COMMAND_LINE = Origin("command line")


@dataclass(frozen=True, slots=True)
class _Report:
    data: dict[str, Any]
    results: Results


def _write_json(report: _Report, path: Path) -> None:
    with path.open("w", encoding="utf-8") as stream:
        write_json_report(report.data, stream)


def _write_text(report: _Report, path: Path) -> None:
    session = report.data["session"]
    with path.open("w", encoding="utf-8") as stream:
        stream.write(f"{sanitize(session['title'])}\n")
        if session["test_plan"]:
            stream.write(f"Test plan: {sanitize(session['test_plan'])}\n")
        stream.write("\n")
        for job, result in report.results:
            summary = " ".join(sanitize(job.summary).split())
            job_id = sanitize(job.id)
            stream.write(f"{result.outcome.value:<18} {job_id}  {summary}\n")
        stream.write("\n")
        for line in render_summary(report.results):
            stream.write(line + "\n")


_REPORT_WRITERS: dict[str, Callable[[_Report, Path], None]] = {
    "json": _write_json,
    "text": _write_text,
}


def parse_report_spec(spec: str) -> tuple[str, Path]:
    """Split ``FORMAT:PATH``.

    :raises UsageError: no colon, or an unknown format.
    """
    fmt, colon, path = spec.partition(":")
    if not colon or not path:
        raise UsageError(f"--report expects FORMAT:PATH, got {spec!r}")
    if fmt not in _REPORT_WRITERS:
        raise UsageError(
            f"unknown report format {fmt!r} (known: {', '.join(_REPORT_WRITERS)})"
        )
    return fmt, Path(path)


def _new_session_dir() -> Path:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    root = paths.sessions_dir()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    session = root / f"run-{stamp}"
    session.mkdir(mode=0o700)
    (session / "share").mkdir(mode=0o700)
    return session


def _warn(message: str) -> None:
    sys.stderr.write(f"plainbox: warning: {sanitize(message)}\n")


def hand_picked_plan(catalog: Catalog, patterns: Sequence[str]) -> TestPlan:
    """A throwaway test plan whose ``include`` lines are the patterns.

    :raises UsageError: a pattern is invalid, or no pattern matches a job
        or template (a pattern that alone matches nothing gets a warning).
    """
    qualifiers = pattern_qualifiers((_COMMAND_LINE, text) for text in patterns)
    templates = catalog.templates
    resources: dict[str, None] = {}
    matched_any = False
    for qualifier in qualifiers:
        matched = any(qualifier.matches(job) for job in catalog.jobs)
        for template in templates:
            if qualifier.matches_id(template.id):
                matched = True
                resources[template.template_resource] = None
        if matched:
            matched_any = True
        else:
            _warn(f"no job or template matches {qualifier.text!r}")
    if not matched_any:
        raise UsageError(
            f"no test plan, job or template matches {' '.join(patterns)!r}"
        )
    fields = {
        "id": "hand-picked",
        "name": HAND_PICKED_TITLE,
        "include": "\n".join(qualifier.pattern for qualifier in qualifiers),
        "bootstrap_include": "\n".join(resources),
    }
    plan = unit_from_fields(
        "test plan",
        fields,
        namespace=HAND_PICKED_NAMESPACE,
        provider="<command line>",
        origin=_COMMAND_LINE,
        field_lines={},
    )
    assert isinstance(plan, TestPlan)
    return plan


def _names_a_test_plan(catalog: Catalog, text: str) -> bool:
    return any(text in (plan.id, plan.partial_id) for plan in catalog.test_plans)


def _choose_plan(
    catalog: Catalog, targets: Sequence[str], launcher: Launcher | None
) -> tuple[TestPlan, bool]:
    """The plan to run, and whether it is a real one (not hand-picked)."""
    if len(targets) == 1 and _names_a_test_plan(catalog, targets[0]):
        return catalog.resolve(targets[0], TestPlan), True
    if targets:
        return hand_picked_plan(catalog, targets), False
    if launcher is not None and launcher.test_plan:
        return catalog.resolve(launcher.test_plan, TestPlan), True
    raise UsageError(
        "nothing to run: give a TEST_PLAN_ID or job patterns, or a launcher "
        "with [test plan] unit"
    )


def _write_reports(
    reports: Sequence[tuple[str, Path]], report: _Report, interrupted: bool = False
) -> None:
    for fmt, path in reports:
        path.parent.mkdir(parents=True, exist_ok=True)
        _REPORT_WRITERS[fmt](report, path)
        partial = " (partial: interrupted)" if interrupted else ""
        write_line(f"Report ({fmt}){partial}: {path.absolute()}")


def _live_output(job: JobDefinition, line: OutputLine) -> None:
    """Show a job's output as it comes, at a terminal."""
    if "suppress-output" not in job.flags:
        write_line(f"  | {line.text.rstrip()}")


def run_command(args: argparse.Namespace) -> int:
    """Run a test plan or hand-picked jobs; exit 1 when a job failed or crashed."""
    reports = [parse_report_spec(spec) for spec in args.report]
    if args.job_timeout is not None and args.job_timeout <= 0:
        raise UsageError("--job-timeout must be a positive number of seconds")
    launcher = load_launcher(Path(args.launcher)) if args.launcher else None
    if launcher is not None:
        for warning in launcher.warnings:
            _warn(warning)
    catalog = catalog_from_args(args)
    plan, real_plan = _choose_plan(catalog, args.targets, launcher)
    if launcher is not None:
        plan = with_exclusions(plan, launcher.exclude)
    title = args.title or (launcher.session_title if launcher else None) or plan.name
    silent = args.non_interactive or (launcher is not None and launcher.silent)
    interactive = not silent and sys.stdin.isatty() and sys.stdout.isatty()
    session = _new_session_dir()
    if not reports:
        reports = [("json", session / "report.json")]
    reporter = ProgressReporter(sys.stdout)
    options = RunOptions(
        session_share=session / "share",
        operator=TerminalOperator(sys.stdout) if interactive else None,
        job_timeout=args.job_timeout,
        environment=dict(launcher.environment) if launcher else {},
        match=launcher.match if launcher else (),
        io_log_dir=session / "io-logs",
        on_output=_live_output if interactive else None,
        on_phase=reporter.on_phase,
        on_start=reporter.on_start,
        on_result=reporter.on_result,
    )
    if real_plan:
        write_line(f"Running {plan.id}: {title}")
    else:
        named = f": {title}" if title != HAND_PICKED_TITLE else ""
        write_line(f"Running hand-picked jobs{named}")
    started = time.time()

    def report_of(results: Results) -> _Report:
        data = report_data(
            results,
            session_id=session.name,
            title=title,
            test_plan=plan.id if real_plan else None,
            started=started,
            finished=time.time(),
        )
        return _Report(data, results)

    setup_error: SetupFailedError | None = None
    try:
        results: Results = run_test_plan(catalog, plan, options)
    except SetupFailedError as exc:
        setup_error = exc
        results = list(exc.results)
    except KeyboardInterrupt:
        # Keep what ran: reports of an interrupted run are still worth having.
        _write_reports(reports, report_of(list(reporter.results)), interrupted=True)
        raise
    report = report_of(results)
    reporter.print_summary(results)
    write_line()
    _write_reports(reports, report)
    if setup_error is not None:
        sys.stderr.write(f"plainbox: error: {sanitize(str(setup_error))}\n")
        return 1
    failed = any(result.outcome in FAILING_OUTCOMES for _, result in results)
    return 1 if failed else 0
