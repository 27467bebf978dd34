"""``plainbox session``: list, show, resume, export and remove sessions."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import sys
from collections.abc import Sequence
from typing import Any

from plainbox.cli.common import catalog_from_args
from plainbox.cli.common import print_json
from plainbox.cli.run_command import RunSpec
from plainbox.cli.run_command import _prepare
from plainbox.cli.run_command import _Prepared
from plainbox.cli.run_command import _without_providers
from plainbox.cli.run_command import check_stored_reports
from plainbox.cli.run_command import diffuse_restart
from plainbox.cli.run_command import drive_session
from plainbox.cli.run_command import needs_exporter_units
from plainbox.cli.run_command import parse_report_spec
from plainbox.cli.run_command import resolve_reports
from plainbox.cli.run_command import write_session_reports
from plainbox.cli.terminal import sanitize
from plainbox.cli.terminal import write_line
from plainbox.errors import SessionError
from plainbox.errors import SessionLockedError
from plainbox.errors import UsageError
from plainbox.execution.controller import session_jobs
from plainbox.session.journal import read_first_record
from plainbox.session.manager import FLAG_READ_ONLY
from plainbox.session.manager import SessionManager
from plainbox.session.resume import RESUME_ACTIONS
from plainbox.session.resume import ResumeDecision
from plainbox.session.resume import default_decision
from plainbox.session.resume import interrupted_job
from plainbox.session.resume import settle_interrupted_job
from plainbox.session.state import FLAG_INCOMPLETE
from plainbox.session.storage import SessionStorage
from plainbox.session.storage import SessionStorageRepository
from plainbox.units.catalog import Catalog
from plainbox.units.model import ExporterUnit
from plainbox.units.model import JobDefinition


__all__ = [
    "export_command",
    "list_command",
    "open_session",
    "remove_command",
    "report_exporter_units",
    "resume_command",
    "show_command",
]


def _storage(session_id: str) -> SessionStorage:
    repository = SessionStorageRepository()
    try:
        return repository.get(session_id)
    except LookupError:
        pass
    # A session whose header is missing is listed (as damaged), so it must be
    # found here too: its journal is enough to show, resume or remove it.
    for storage in repository.get_storage_list():
        if storage.id == session_id:
            return storage
    raise UsageError(f"no session {session_id!r} ('plainbox session list' shows them)")


def _spec_of(storage: SessionStorage) -> RunSpec:
    """What the session was started with, from its header or first record."""
    options: Any = None
    with contextlib.suppress(SessionError):
        options = storage.read_header().get("options")
    if not isinstance(options, dict):
        first = read_first_record(storage.journal_path)
        if first is None or first.kind != "session-started":
            raise SessionError(
                f"{storage.journal_path}: the session's first record is missing"
            )
        options = first.data.get("options") or {}
    return RunSpec.from_options(options)


def open_session(
    args: argparse.Namespace, session_id: str, *, read_only: bool = False
) -> tuple[SessionManager, RunSpec, _Prepared]:
    """Load a session with the providers and plan it was started with."""
    storage = _storage(session_id)
    spec = _spec_of(storage)
    prepared = _prepare(spec, _without_providers(args))
    flags = {FLAG_READ_ONLY} if read_only else set()
    manager = SessionManager.load_session(prepared.catalog.units, storage, flags=flags)
    for warning in manager.load_warnings:
        sys.stderr.write(f"plainbox: warning: {sanitize(warning)}\n")
    session_jobs(prepared.catalog, prepared.plan, manager.state)
    return manager, spec, prepared


# -- list ------------------------------------------------------------------


def _iso(timestamp: Any) -> str | None:
    if not isinstance(timestamp, (int, float)):
        return None
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(storage: SessionStorage) -> dict[str, Any]:
    """One session's line in ``session list``, from its header alone."""
    entry: dict[str, Any] = {"id": storage.id}
    try:
        header = storage.read_header()
    except SessionError as exc:
        return {**entry, "status": "damaged", "error": str(exc)}
    progress = header.get("progress") or {}
    holder = storage.lock_holder()
    if holder is not None:
        status = "running"
    elif FLAG_INCOMPLETE in (header.get("flags") or ()):
        status = "incomplete"
    else:
        status = "finished"
    return {
        **entry,
        "title": header.get("title") or "",
        "test_plan": header.get("test_plan"),
        "created": _iso(header.get("created")),
        "status": status,
        "done": int(progress.get("done", 0)),
        "total": int(progress.get("total", 0)),
        "running_job": header.get("running_job"),
        "outcomes": header.get("outcomes") or {},
        "path": str(storage.path),
    }


def list_command(args: argparse.Namespace) -> int:
    """List sessions, newest first."""
    sessions = [_summary(s) for s in SessionStorageRepository().get_storage_list()]
    if args.format == "json":
        print_json(sessions)
        return 0
    if not sessions:
        write_line("No sessions.")
        return 0
    for entry in sessions:
        if entry["status"] == "damaged":
            write_line(f"{entry['id']}  damaged: {sanitize(entry['error'])}")
            continue
        progress = f"{entry['done']}/{entry['total']}"
        plan = entry["test_plan"] or "hand-picked jobs"
        write_line(
            f"{entry['id']}  {entry['created'] or '?':20}  {entry['status']:10}  "
            f"{progress:>9}  {sanitize(plan)}  {sanitize(entry['title'])}"
        )
    return 0


# -- show ------------------------------------------------------------------


def show_command(args: argparse.Namespace) -> int:
    """Show a session's metadata and its jobs' latest results."""
    storage = _storage(args.session_id)
    manager = SessionManager.load_session([], storage, flags={FLAG_READ_ONLY})
    state = manager.state
    meta = state.metadata
    summary = _summary(storage)
    # The header is a cache refreshed at most once a second: after a kill
    # its progress lags behind. The journal just replayed is exact.
    progress = manager.header()["progress"]
    results: list[dict[str, Any]] = [
        {
            "id": job_state.job_id,
            "outcome": result.outcome.value,
            "attempts": len(job_state.results),
            "comments": result.comments,
            "skip_reason": result.skip_reason,
        }
        for job_state, result in state.results_in_order()
    ]
    data = {
        **summary,
        "title": meta.title,
        "test_plan": meta.test_plan,
        "created": _iso(meta.created),
        "done": progress["done"],
        "total": progress["total"],
        "flags": sorted(meta.flags),
        "running_job": meta.running_job,
        "warnings": manager.load_warnings,
        "results": results,
    }
    if args.format == "json":
        print_json(data)
        return 0
    write_line(f"Session {storage.id}: {sanitize(meta.title)}")
    write_line(f"  test plan: {sanitize(meta.test_plan or 'hand-picked jobs')}")
    write_line(f"  created:   {_iso(meta.created) or '?'}")
    write_line(f"  status:    {summary.get('status')}")
    write_line(f"  path:      {storage.path}")
    if meta.running_job:
        write_line(f"  stopped while running: {sanitize(meta.running_job)}")
    for warning in manager.load_warnings:
        write_line(f"  warning: {sanitize(warning)}")
    write_line()
    for entry in results:
        attempts = f" ({entry['attempts']} attempts)" if entry["attempts"] > 1 else ""
        write_line(f"{entry['outcome']:<18} {sanitize(entry['id'])}{attempts}")
    return 0


# -- resume ----------------------------------------------------------------


def _newest_incomplete() -> str:
    for storage in SessionStorageRepository().get_storage_list():
        summary = _summary(storage)
        if summary["status"] == "incomplete":
            return storage.id
    raise UsageError("no incomplete session to resume")


def _ask_decision(job: JobDefinition, default: ResumeDecision) -> ResumeDecision:
    write_line(f"\nplainbox stopped while {sanitize(job.id)} was running.")
    write_line(f"  {sanitize(job.summary)}")
    choices = "/".join(RESUME_ACTIONS)
    while True:
        answer = input(f"What now? {choices} [{default.action}]: ").strip().lower()
        action = answer or default.action
        if action in RESUME_ACTIONS:
            break
        write_line(f"Please answer one of {choices}.")
    if action == "rerun":
        return ResumeDecision("rerun")
    needs_comment = job.certification_status == "blocker" and action in {
        "fail",
        "skip",
        "crash",
    }
    comment = input("Comment" + (" (required): " if needs_comment else ": ")).strip()
    while needs_comment and not comment:
        comment = input("Comment (required for a blocker): ").strip()
    if action == default.action and not comment:
        comment = default.comment
    return ResumeDecision(action, comment)


def resume_command(args: argparse.Namespace) -> int:
    """Go on with a session that stopped."""
    if args.auto:
        args.non_interactive = True
        args.accept_changed = True
    session_id = args.session_id or _newest_incomplete()
    _storage(session_id)  # an unknown id is a usage error before anything else
    reports = [parse_report_spec(spec) for spec in args.report]
    manager, spec, prepared = open_session(args, session_id)
    with manager:
        units = prepared.catalog.exporters
        if reports:
            spec.reports = [
                (fmt, str(path.absolute()))
                for fmt, path in resolve_reports(reports, units)
            ]
        else:
            check_stored_reports(spec.reports, units)
        # Only once the session is ours (locked): a resume refused because
        # the session is in use must not undo the automatic resume that its
        # running process primed before a reboot.
        diffuse_restart(session_id)
        state = manager.state
        if FLAG_INCOMPLETE not in state.metadata.flags:
            write_line(f"Session {session_id} is finished; nothing to resume.")
            return 1 if state.failed else 0
        if args.non_interactive:
            spec.non_interactive = True
        interactive = not spec.non_interactive and sys.stdin.isatty()
        changed = state.changed_jobs()
        if changed and not args.accept_changed:
            names = ", ".join(changed)
            if not interactive:
                raise UsageError(
                    f"jobs changed since they ran in session {session_id}: {names}; "
                    "resume with --accept-changed to keep their results"
                )
            answer = input(f"Jobs changed since they ran: {names}. Go on? [y/N]: ")
            if answer.strip().lower() not in {"y", "yes"}:
                return 1
        elif changed:
            sys.stderr.write(
                f"plainbox: warning: jobs changed since they ran: {', '.join(changed)}\n"
            )
        running = interrupted_job(state)
        if running is not None:
            job = state.job_state_map[running].job
            if job is None:
                state.record("job-abandoned", {"job": running})
            else:
                decision = default_decision(job)
                if interactive:
                    decision = _ask_decision(job, decision)
                result = settle_interrupted_job(state, job, decision)
                outcome = result.outcome.value if result else "to be run again"
                write_line(f"{sanitize(running)}: {outcome}")
        write_line(f"Resuming session {session_id}")
        return drive_session(manager, prepared, spec)


# -- export and remove -----------------------------------------------------


def export_command(args: argparse.Namespace) -> int:
    """Write reports of a session from disk."""
    if not args.report:
        raise UsageError("give at least one --report FORMAT:PATH")
    reports = [parse_report_spec(spec) for spec in args.report]
    manager, _, prepared = open_session(args, args.session_id, read_only=True)
    units = report_exporter_units(args, reports, [prepared.catalog])
    reports = resolve_reports(reports, units)
    return 0 if write_session_reports(reports, manager, units) else 1


def report_exporter_units(
    args: argparse.Namespace,
    reports: Sequence[tuple[str, object]],
    catalogs: Sequence[Catalog],
) -> list[ExporterUnit]:
    """Exporter units ``--report`` may name when writing reports of sessions.

    The sessions' own catalogs hold the built-in provider, the search path
    and the providers each session was started with.  When a FORMAT may
    name an exporter unit and ``-P`` is given, its providers are loaded
    too, as ``plainbox run`` would load them.
    """
    catalogs = list(catalogs)
    if args.provider and needs_exporter_units(reports):
        catalogs.append(catalog_from_args(args))
    units: dict[str, ExporterUnit] = {}
    for catalog in catalogs:
        for unit in catalog.exporters:
            units.setdefault(unit.id, unit)
    return list(units.values())


def remove_command(args: argparse.Namespace) -> int:
    """Delete sessions; one in use by a running plainbox is kept."""
    status = 0
    for session_id in args.session_ids:
        storage = _storage(session_id)
        try:
            storage.lock()
        except SessionLockedError as exc:
            sys.stderr.write(f"plainbox: error: {exc}; not removed\n")
            status = 1
            continue
        storage.remove()
        # Nothing is left to resume: an automatic resume primed before a
        # reboot would otherwise fail at every login.
        diffuse_restart(session_id)
        write_line(f"Removed {session_id}")
    return status
