"""``plainbox run``: run a test plan and write its reports."""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plainbox import paths
from plainbox.cli.common import catalog_from_args
from plainbox.cli.operator import TerminalOperator
from plainbox.cli.terminal import write_line
from plainbox.errors import UsageError
from plainbox.execution.controller import RunOptions
from plainbox.execution.controller import run_test_plan
from plainbox.exporters.jsonreport import report_data
from plainbox.exporters.jsonreport import write_json_report
from plainbox.session.results import FAILING_OUTCOMES
from plainbox.session.results import JobResult
from plainbox.units.model import JobDefinition
from plainbox.units.model import TestPlan


__all__ = ["parse_report_spec", "run_command"]

_Writer = Callable[[dict[str, Any], Path], None]


def _write_json(data: dict[str, Any], path: Path) -> None:
    with path.open("w", encoding="utf-8") as stream:
        write_json_report(data, stream)


def _write_text(data: dict[str, Any], path: Path) -> None:
    with path.open("w", encoding="utf-8") as stream:
        for result in data["results"]:
            stream.write(f"{result['outcome']:^20}: {result['summary']}\n")


_REPORT_WRITERS: dict[str, _Writer] = {"json": _write_json, "text": _write_text}


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


def _progress(
    total_hint: list[int],
) -> tuple[Callable[[JobDefinition], None], Callable[[JobDefinition, JobResult], None]]:
    def started(job: JobDefinition) -> None:
        total_hint[0] += 1

    def finished(job: JobDefinition, result: JobResult) -> None:
        write_line(
            f"[{total_hint[0]:>3}] {result.outcome.value:<18} {job.id}  {job.summary}"
        )
        if result.outcome in FAILING_OUTCOMES and result.stderr.strip():
            for line in result.stderr.strip().splitlines()[-5:]:
                write_line(f"        | {line}")

    return started, finished


def run_command(args: argparse.Namespace) -> int:
    """Run a test plan; exit 1 when a job failed or crashed."""
    reports = [parse_report_spec(spec) for spec in args.report]
    if args.job_timeout is not None and args.job_timeout <= 0:
        raise UsageError("--job-timeout must be a positive number of seconds")
    catalog = catalog_from_args(args)
    plan = catalog.resolve(args.test_plan, TestPlan)
    session = _new_session_dir()
    interactive = (
        not args.non_interactive and sys.stdin.isatty() and sys.stdout.isatty()
    )
    started, finished = _progress([0])
    options = RunOptions(
        session_share=session / "share",
        operator=TerminalOperator(sys.stdout) if interactive else None,
        job_timeout=args.job_timeout,
        on_start=started,
        on_result=finished,
    )
    write_line(f"Running {plan.id}: {plan.name}")
    results = run_test_plan(catalog, plan, options)
    data = report_data(
        results,
        session={"id": session.name, "test_plan": plan.id, "title": plan.name},
    )
    if not reports:
        reports = [("json", session / "report.json")]
    write_line()
    summary = ", ".join(
        f"{count} {outcome}" for outcome, count in data["summary"]["outcomes"].items()
    )
    write_line(f"{data['summary']['total']} jobs: {summary}")
    for fmt, path in reports:
        path.parent.mkdir(parents=True, exist_ok=True)
        _REPORT_WRITERS[fmt](data, path)
        write_line(f"Report ({fmt}): {path.absolute()}")
    failed = any(result.outcome in FAILING_OUTCOMES for _, result in results)
    return 1 if failed else 0
