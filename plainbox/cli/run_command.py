"""``plainbox run``: run a test plan (or hand-picked jobs) and write its reports.

Every run is a session on disk (see :mod:`plainbox.session`): its id is
printed first, every result is journaled as it happens, and
``plainbox session resume`` picks up a session that stopped.  What the
command line asked for is journaled too (:class:`RunSpec`), so a resumed
session runs the same plan with the same options.

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
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from plainbox.cli.common import catalog_from_args
from plainbox.cli.progress import ProgressReporter
from plainbox.cli.terminal import sanitize
from plainbox.cli.terminal import write_line
from plainbox.errors import PlainboxError
from plainbox.errors import SessionError
from plainbox.errors import SetupFailedError
from plainbox.errors import UsageError
from plainbox.execution.controller import RunOptions
from plainbox.execution.controller import run_test_plan
from plainbox.execution.iolog import OutputLine
from plainbox.session.manager import SessionManager
from plainbox.session.resource_cache import ResourceCache
from plainbox.session.results import JobResult
from plainbox.session.state import SessionState
from plainbox.session.view import SessionView
from plainbox.units.catalog import Catalog
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import ExporterUnit
from plainbox.units.model import JobDefinition
from plainbox.units.model import TestPlan
from plainbox.units.problems import Origin


if TYPE_CHECKING:
    # Imported where used: a run without a launcher or an operator skips them.
    from plainbox.cli.launcher import Launcher


__all__ = [
    "RunSpec",
    "check_stored_reports",
    "drive_session",
    "hand_picked_plan",
    "needs_exporter_units",
    "parse_report_spec",
    "resolve_reports",
    "run_command",
    "write_reports",
]

Results = Sequence[tuple[JobDefinition, JobResult]]
HAND_PICKED_NAMESPACE = "io.plainbox.cli"
HAND_PICKED_TITLE = "Hand-picked jobs"
_COMMAND_LINE = Origin("command line")
P = TypeVar("P")


def _split_report_spec(spec: str) -> tuple[str, str] | None:
    """``FORMAT`` and ``PATH`` of ``FORMAT:PATH``, or None without a separator.

    Unit ids contain ``::`` but never a lone colon, so FORMAT ends at the
    first colon that is not one of a ``::`` pair; PATH may hold colons.  In
    a longer run of colons (``json:::x``) the first one separates.
    """
    for run in re.finditer(r":+", spec):
        if len(run.group()) != 2:
            return spec[: run.start()], spec[run.start() + 1 :]
    return None


def _is_plain_format(fmt: str) -> bool:
    """Whether FORMAT is a plugin's or a legacy id, known without providers."""
    from plainbox.exporters.registry import exporter_map

    return "::" not in fmt and fmt in exporter_map()


def parse_report_spec(spec: str) -> tuple[str, Path]:
    """Split ``FORMAT:PATH``: FORMAT is an exporter id or an exporter unit's id.

    Only the form is checked here, before providers are loaded: a FORMAT
    that is no plugin's id may name an exporter unit, which
    :func:`resolve_reports` checks once they are.

    :raises UsageError: no FORMAT, no colon after it, or no PATH.
    """
    parts = _split_report_spec(spec)
    if parts is None or not parts[0] or not parts[1]:
        raise UsageError(f"--report expects FORMAT:PATH, got {spec!r}")
    return parts[0], Path(parts[1])


def needs_exporter_units(reports: Sequence[tuple[str, object]]) -> bool:
    """Whether a FORMAT may name an exporter unit, so providers must be loaded."""
    return not all(_is_plain_format(fmt) for fmt, _ in reports)


def _resolve_format(fmt: str, units: Sequence[ExporterUnit]) -> ExporterUnit | None:
    """The exporter unit FORMAT names; None for a plugin's or legacy id."""
    from plainbox.exporters.registry import exporter_map
    from plainbox.exporters.registry import find_exporter_unit

    if _is_plain_format(fmt):
        return None
    known = exporter_map(units)
    plain = sorted(name for name in known if "::" not in name)
    try:
        unit = find_exporter_unit(fmt, units)
    except LookupError as exc:
        raise UsageError(f"report format {exc}") from None
    if unit is None:
        names = [*plain, *sorted(name for name in known if "::" in name)]
        raise UsageError(f"unknown report format {fmt!r} (known: {', '.join(names)})")
    if unit.id not in known:
        raise UsageError(
            f"report format {unit.id!r}: its entry_point {unit.entry_point!r} "
            f"names no exporter (known: {', '.join(plain)})"
        )
    return unit


def resolve_reports(
    reports: Sequence[tuple[str, P]],
    units: Sequence[ExporterUnit],
    *,
    warn: bool = True,
) -> list[tuple[str, P]]:
    """``reports`` with each FORMAT checked against the loaded exporter units.

    A plugin's or legacy id stays as it is (it wins over a unit of the same
    partial id); any other FORMAT must name an exporter unit, by full id or
    by an unambiguous partial id, and becomes that unit's full id (as such
    it is journaled, so a resume finds the same unit).  Options of a unit
    that its exporter does not understand are warned about (when ``warn``)
    and ignored; a bad option value is an error before anything runs.

    :raises UsageError: a FORMAT names no exporter, or several units, or
        a unit's option has a bad value.
    """
    from plainbox.errors import ExporterError
    from plainbox.exporters.registry import create_exporter
    from plainbox.exporters.registry import exporter_map

    resolved: list[tuple[str, P]] = []
    for fmt, path in reports:
        unit = _resolve_format(fmt, units)
        if unit is None:
            resolved.append((fmt, path))
            continue
        if unit.options:
            try:
                create_exporter(
                    exporter_map([unit]),
                    unit.id,
                    units=[unit],
                    warn=_warn if warn else None,
                )
            except ExporterError as exc:
                raise UsageError(f"report format {unit.id!r}: {exc}") from None
        resolved.append((unit.id, path))
    return resolved


def check_stored_reports(
    reports: Sequence[tuple[str, str]], units: Sequence[ExporterUnit]
) -> None:
    """Warn about reports a session was started with that cannot be written now.

    Their exporter unit may be gone with its provider.  The session goes
    on and that report fails at the end; ``--report`` asks for others, and
    ``plainbox session export`` can write it later.
    """
    for fmt, path in reports:
        try:
            resolve_reports([(fmt, path)], units)
        except UsageError as exc:
            _warn(
                f"the session was started with --report {fmt}:{path}, which "
                f"cannot be written now: {exc}"
            )


def _warn(message: str) -> None:
    sys.stderr.write(f"plainbox: warning: {sanitize(message)}\n")


def hand_picked_plan(catalog: Catalog, patterns: Sequence[str]) -> TestPlan:
    """A throwaway test plan whose ``include`` lines are the patterns.

    :raises UsageError: a pattern is invalid, or no pattern matches a job
        or template (a pattern that alone matches nothing gets a warning).
    """
    from plainbox.cli.launcher import pattern_qualifiers

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


@dataclass(slots=True)
class RunSpec:
    """What the command line asked to run; journaled so a resume does the same."""

    targets: list[str] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)
    launcher: str | None = None
    title: str | None = None
    job_timeout: float | None = None
    non_interactive: bool = False
    reports: list[tuple[str, str]] = field(default_factory=list)

    def to_options(self) -> dict[str, Any]:
        return {
            "targets": list(self.targets),
            "providers": list(self.providers),
            "launcher": self.launcher,
            "title": self.title,
            "job_timeout": self.job_timeout,
            "non_interactive": self.non_interactive,
            "reports": [list(report) for report in self.reports],
        }

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> RunSpec:
        """Rebuild from :meth:`to_options` (unknown keys ignored)."""
        return cls(
            targets=[str(t) for t in options.get("targets", ())],
            providers=[str(p) for p in options.get("providers", ())],
            launcher=options.get("launcher"),
            title=options.get("title"),
            job_timeout=options.get("job_timeout"),
            non_interactive=bool(options.get("non_interactive")),
            reports=[(str(f), str(p)) for f, p in options.get("reports", ())],
        )


@dataclass(slots=True)
class _Prepared:
    catalog: Catalog
    plan: TestPlan
    real_plan: bool
    launcher: Launcher | None
    title: str


def _prepare(spec: RunSpec, args: argparse.Namespace) -> _Prepared:
    launcher = None
    if spec.launcher:
        from plainbox.cli.launcher import load_launcher

        launcher = load_launcher(Path(spec.launcher))
    if launcher is not None:
        for warning in launcher.warnings:
            _warn(warning)
    catalog = catalog_from_args(args, *spec.providers)
    plan, real_plan = _choose_plan(catalog, spec.targets, launcher)
    if launcher is not None:
        from plainbox.cli.launcher import with_exclusions

        plan = with_exclusions(plan, launcher.exclude)
    title = spec.title or (launcher.session_title if launcher else None) or plan.name
    return _Prepared(catalog, plan, real_plan, launcher, title)


def _spec_from_args(args: argparse.Namespace) -> RunSpec:
    reports = [parse_report_spec(spec) for spec in args.report]
    if args.job_timeout is not None and args.job_timeout <= 0:
        raise UsageError("--job-timeout must be a positive number of seconds")
    return RunSpec(
        targets=list(args.targets),
        launcher=str(Path(args.launcher).absolute()) if args.launcher else None,
        title=args.title,
        job_timeout=args.job_timeout,
        non_interactive=args.non_interactive,
        reports=[(fmt, str(path.absolute())) for fmt, path in reports],
    )


def run_command(args: argparse.Namespace) -> int:
    """Run a test plan or hand-picked jobs; exit 1 when a job failed or crashed."""
    if args.rerun_failed:
        return _rerun_failed(args)
    spec = _spec_from_args(args)
    # -P providers are global options: keep them (absolute) for a resume.
    spec.providers = [str(Path(p).absolute()) for p in args.provider]
    prepared = _prepare(spec, _without_providers(args))
    spec.reports = resolve_reports(spec.reports, prepared.catalog.exporters)
    state = SessionState(prepared.catalog.units)
    state.metadata.title = prepared.title
    state.metadata.test_plan = prepared.plan.id if prepared.real_plan else None
    state.metadata.app_id = "plainbox"
    state.metadata.options = spec.to_options()
    manager = SessionManager.create_with_state(state)
    with manager:
        write_line(f"Session: {manager.storage.id}")
        return drive_session(manager, prepared, spec)


def _without_providers(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` minus ``-P``: the spec carries the providers instead."""
    return argparse.Namespace(**{**vars(args), "provider": []})


def _rerun_failed(args: argparse.Namespace) -> int:
    from plainbox.cli.session_commands import open_session

    if args.targets or args.launcher:
        raise UsageError("--rerun-failed takes no test plan, patterns or launcher")
    reports = _spec_from_args(args).reports if args.report else None
    manager, spec, prepared = open_session(args, args.rerun_failed)
    with manager:
        from plainbox.session.resume import rerun_candidates

        units = prepared.catalog.exporters
        if reports is not None:
            spec.reports = resolve_reports(reports, units)
        else:
            check_stored_reports(spec.reports, units)

        rerun = rerun_candidates(manager.state)
        if not rerun:
            write_line(
                f"Session {manager.storage.id}: nothing failed; nothing to rerun"
            )
            return 0
        if args.non_interactive:
            spec.non_interactive = True
        flags = manager.state.metadata.flags | {"incomplete"}
        manager.state.set_flags(flags)
        write_line(
            f"Session: {manager.storage.id} (running {len(rerun)} failed job(s) again)"
        )
        return drive_session(manager, prepared, spec, rerun=frozenset(rerun))


def _interactive(spec: RunSpec, launcher: Launcher | None) -> bool:
    silent = spec.non_interactive or (launcher is not None and launcher.silent)
    return not silent and sys.stdin.isatty() and sys.stdout.isatty()


def drive_session(
    manager: SessionManager,
    prepared: _Prepared,
    spec: RunSpec,
    *,
    rerun: frozenset[str] = frozenset(),
) -> int:
    """Run (or go on running) the session's plan, then write its reports."""
    storage = manager.storage
    reports = [(fmt, Path(path)) for fmt, path in spec.reports] or [
        ("json", storage.path / "report.json")
    ]
    units = prepared.catalog.exporters
    launcher = prepared.launcher
    operator = None
    interactive = _interactive(spec, launcher)
    if interactive:
        from plainbox.cli.operator import TerminalOperator

        operator = TerminalOperator(sys.stdout)
    reporter = ProgressReporter(sys.stdout)
    options = RunOptions(
        session_share=storage.share_dir,
        operator=operator,
        job_timeout=spec.job_timeout,
        environment=dict(launcher.environment) if launcher else {},
        match=launcher.match if launcher else (),
        on_output=_live_output if interactive else None,
        on_phase=reporter.on_phase,
        on_start=reporter.on_start,
        on_result=reporter.on_result,
        session=manager,
        rerun=rerun,
        on_noreturn=lambda job: _prime_restart(
            manager, job, launcher.restart_strategy if launcher else None
        ),
        after_noreturn=lambda job: diffuse_restart(storage.id),
        resource_cache=ResourceCache(),
    )
    plan, title = prepared.plan, prepared.title
    if prepared.real_plan:
        write_line(f"Running {plan.id}: {title}")
    else:
        named = f": {title}" if title != HAND_PICKED_TITLE else ""
        write_line(f"Running hand-picked jobs{named}")

    setup_error: SetupFailedError | None = None
    try:
        run_test_plan(prepared.catalog, plan, options)
    except SetupFailedError as exc:
        setup_error = exc
    except KeyboardInterrupt:
        # Keep what ran: reports of an interrupted run are still worth having.
        manager.checkpoint()
        _write_reports(reports, manager, units, interrupted=True)
        write_line(f"Resume with: plainbox session resume {storage.id}")
        raise
    view = SessionView.of(manager)
    # The summary needs outcomes and comments only, not the output.
    reporter.print_summary([(entry.job, entry.result) for entry in view.entries])
    write_line()
    reported = write_reports(
        reports, view, private_dir=storage.path, exporter_units=units
    )
    if setup_error is not None:
        sys.stderr.write(f"plainbox: error: {sanitize(str(setup_error))}\n")
        return 1
    return 1 if manager.state.failed or not reported else 0


def _prime_restart(
    manager: SessionManager, job: JobDefinition, preferred: str | None
) -> None:
    """Arrange for the session to resume by itself after ``job`` reboots."""
    from plainbox.session.restart import detect_restart_strategy

    strategy = detect_restart_strategy(preferred)
    session_id = manager.storage.id
    if strategy is None:
        _warn(
            f"{job.id} may reboot this machine and no automatic resume is "
            f"available here; afterwards run: plainbox session resume {session_id}"
        )
        return
    environment = [
        f"{name}={os.environ[name]}"
        for name in ("PLAINBOX_STATE_DIR", "PLAINBOX_PROVIDERPATH")
        if name in os.environ
    ]
    command = [
        *(["env", *environment] if environment else []),
        sys.executable,
        "-m",
        "plainbox",
        "session",
        "resume",
        "--auto",
        session_id,
    ]
    try:
        strategy.prime(session_id, command)
    except (SessionError, OSError) as exc:
        _warn(f"cannot arrange automatic resume ({strategy.name}): {exc}")


def diffuse_restart(session_id: str) -> None:
    """Remove any automatic resume primed for the session (all strategies)."""
    from plainbox.session.restart import restart_strategies

    for strategy in restart_strategies():
        try:
            strategy.diffuse(session_id)
        except (PlainboxError, OSError, ValueError) as exc:
            _warn(f"cannot remove automatic resume ({strategy.name}): {exc}")


def _write_reports(
    reports: Sequence[tuple[str, Path]],
    manager: SessionManager,
    units: Sequence[ExporterUnit],
    interrupted: bool = False,
) -> bool:
    return write_reports(
        reports,
        SessionView.of(manager),
        private_dir=manager.storage.path,
        interrupted=interrupted,
        exporter_units=units,
    )


def write_reports(
    reports: Sequence[tuple[str, Path]],
    view: SessionView,
    *,
    private_dir: Path | None = None,
    interrupted: bool = False,
    exporter_units: Sequence[ExporterUnit] = (),
) -> bool:
    """Write each report of ``view``; False if an exporter failed.

    A FORMAT is an exporter id or the full id of one of ``exporter_units``
    (see :func:`resolve_reports`), whose exporter is made with the unit's
    ``options``.  Each report is written to a temporary file renamed into
    place, so a failing exporter leaves no half-written file (and never
    touches the session); the others are still written.  Reports inside
    ``private_dir`` (the session's directory) are made 0600 like the rest
    of it.
    """
    from plainbox.exporters.registry import create_exporter
    from plainbox.exporters.registry import exporter_map

    known = exporter_map(exporter_units)
    ok = True
    for fmt, path in reports:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        try:
            exporter = create_exporter(known, fmt, units=exporter_units)
            with partial.open("wb") as stream:
                exporter.export(view, stream)
            if private_dir is not None and path.parent == private_dir:
                partial.chmod(0o600)
            partial.replace(path)
        except Exception as exc:  # an exporter's bug must not lose the others
            partial.unlink(missing_ok=True)
            sys.stderr.write(
                f"plainbox: error: the {fmt} exporter failed: "
                f"{sanitize(f'{type(exc).__name__}: {exc}')}; the session is "
                f"intact, export it again with: plainbox session export "
                f"{view.id} --report {fmt}:PATH\n"
            )
            ok = False
            continue
        note = " (partial: interrupted)" if interrupted else ""
        write_line(f"Report ({fmt}){note}: {path.absolute()}")
    return ok


def write_session_reports(
    reports: Sequence[tuple[str, Path]],
    manager: SessionManager,
    units: Sequence[ExporterUnit] = (),
) -> bool:
    """Write reports of a session (``plainbox session export``); False on failure."""
    return _write_reports(reports, manager, units)


def _live_output(job: JobDefinition, line: OutputLine) -> None:
    """Show a job's output as it comes, at a terminal."""
    if "suppress-output" not in job.flags:
        write_line(f"  | {line.text.rstrip()}")
