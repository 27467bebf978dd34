"""The run loop: setup, bootstrap, then the test plan's jobs in dependency order.

Every result is recorded in a :class:`~plainbox.session.state.SessionState`;
given a :class:`~plainbox.session.manager.SessionManager` the records go to
its journal as they happen, and the journal is fsynced before anything that
could take the machine down starts (a job's command, an operator prompt), so
one fsync covers the previous job's result and the next job's start.  A
session reopened from its journal runs through the same loop: jobs that have
a result are not run again (unless asked to be, see ``RunOptions.rerun``).

What a job's plugin means for how it runs and who decides its outcome:

========================  ==============================  ==========================
plugin                    runs its command                outcome decided by
========================  ==============================  ==========================
shell, attachment         yes                             exit status
resource                  yes; stdout parsed as records   exit status
user-interact             when the operator is ready      exit status
manual                    no                              the operator
user-verify,              yes                             the operator, after seeing
user-interact-verify                                      the output
========================  ==============================  ==========================

Without an operator (``--non-interactive``), the last three rows are skipped.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any
from typing import Protocol

from plainbox.errors import ExecutionError
from plainbox.errors import ResourceExpressionError
from plainbox.errors import SetupFailedError
from plainbox.errors import UnitError
from plainbox.execution.iolog import OutputLine
from plainbox.execution.runner import EnvironmentBuilder
from plainbox.execution.runner import JobDirectories
from plainbox.execution.runner import run_command
from plainbox.resources import evaluate_filter
from plainbox.resources import parse_imports
from plainbox.resources import parse_program
from plainbox.session.dependencies import order_run
from plainbox.session.dependencies import with_dependencies
from plainbox.session.manager import SessionManager
from plainbox.session.resource_cache import ResourceCache
from plainbox.session.resource_cache import is_cachable
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.state import SessionState
from plainbox.units.catalog import Catalog
from plainbox.units.fields import PLUGINS
from plainbox.units.model import DEFAULT_CATEGORY
from plainbox.units.model import JobDefinition
from plainbox.units.model import TemplateUnit
from plainbox.units.model import TestPlan
from plainbox.units.model import qualify
from plainbox.units.pxu import parse_pxu
from plainbox.units.siblings import generated_jobs
from plainbox.units.templates import instantiate
from plainbox.units.testplan import Qualifier
from plainbox.units.testplan import ResolvedPlan
from plainbox.units.testplan import resolve_test_plan


__all__ = [
    "Operator",
    "RunOptions",
    "parse_resource_output",
    "run_test_plan",
    "session_jobs",
]

Record = dict[str, str]
_OPERATOR_PLUGINS = frozenset(
    {"manual", "user-interact", "user-verify", "user-interact-verify"}
)
_VERIFIED_PLUGINS = frozenset({"manual", "user-verify", "user-interact-verify"})


class Operator(Protocol):
    """The person at the terminal, for jobs that need one."""

    def ready(self, job: JobDefinition) -> bool:
        """Show the job's instructions; True to run it, False to skip it."""
        ...

    def verdict(
        self, job: JobDefinition, result: JobResult | None
    ) -> tuple[Outcome, str]:
        """Judge a job: an outcome and a comment.

        :param result: what the job's command did, if it ran.
        """
        ...


@dataclass(slots=True)
class RunOptions:
    """How a run behaves."""

    session_share: Path
    operator: Operator | None = None  # None: nobody is there (non-interactive)
    job_timeout: float | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    # Progress callbacks, called in run order (every job's on_start before
    # its on_result, and before the next job's on_start).  Both may be made
    # while the next job's command runs: the run loop puts them off until
    # that command has started, so they cost the run no time.
    on_result: Callable[[JobDefinition, JobResult], None] | None = None
    on_start: Callable[[JobDefinition], None] | None = None
    # Called before each phase ("setup", "bootstrap", "main") with the jobs
    # it will run, in order: what progress displays count and estimate with.
    on_phase: Callable[[str, Sequence[JobDefinition]], None] | None = None
    # Launcher [test selection] match: when not empty, the main phase keeps
    # only the jobs one of these matches; their dependencies still join.
    match: Sequence[Qualifier] = ()
    # Where each attempt's io-log goes (None: not written), and a live view of
    # every output line as the command prints it.
    io_log_dir: Path | None = None
    on_output: Callable[[JobDefinition, OutputLine], None] | None = None
    # Where results are journaled; None keeps them in memory only.  When the
    # session already has results (a resumed session), those jobs are not
    # run again, except the ones listed in ``rerun`` (a new attempt each).
    session: SessionManager | None = None
    rerun: frozenset[str] = frozenset()
    # Called just before a ``noreturn`` job (one that reboots the machine)
    # starts, once its start is journaled: where automatic resume is primed.
    on_noreturn: Callable[[JobDefinition], None] | None = None
    # Called when such a job returned after all: undo what on_noreturn did.
    after_noreturn: Callable[[JobDefinition], None] | None = None
    # Things worth telling the user that are not results (a group that had
    # to be split to respect dependencies).
    on_note: Callable[[str], None] | None = None
    # Records of ``cachable`` resource jobs are taken from (and saved to)
    # this cache; None runs every resource job.
    resource_cache: ResourceCache | None = None


@dataclass(slots=True)
class _Run:
    catalog: Catalog
    options: RunOptions
    plan: ResolvedPlan
    jobs: dict[str, JobDefinition]
    state: SessionState
    rerun: set[str] = field(default_factory=set)  # still to run again
    invalid: dict[str, str] = field(default_factory=dict)  # id -> why it is broken
    log_dir_ready: bool = False
    # Results made by this process, with their output (the journal keeps the
    # output in io-logs only): what run_test_plan returns for them.
    live: dict[str, JobResult] = field(default_factory=dict)
    cached: dict[str, list[Record]] = field(default_factory=dict)
    # Built once per run: the base environment, and the parent of the jobs'
    # fresh private directories.
    environments: EnvironmentBuilder | None = None
    directories: JobDirectories | None = None
    log_names: dict[str, str] = field(default_factory=dict)  # job id -> slug
    logs_checked: bool = False  # resumed sessions: numbers may be taken
    log_offset: int = 0  # numbers skipped because their logs exist
    # Progress callbacks put off until the next command has started (or until
    # something else needs them made: an operator, a job that may not
    # return, the end of the phase); in the order they are due.
    deferred: list[Callable[[], object]] = field(default_factory=list)

    @property
    def resources(self) -> dict[str, list[Record]]:
        return self.state.resource_map

    def result(self, job_id: str) -> JobResult | None:
        """The latest result of a job, None if it has none (or is to run again)."""
        if job_id in self.rerun:
            return None
        return self.state.result_of(job_id)

    def sync(self) -> None:
        if self.options.session is not None:
            self.options.session.sync()

    def call_deferred(self) -> None:
        """Make the progress callbacks that were put off, in order."""
        calls, self.deferred = self.deferred, []
        for call in calls:
            call()


def parse_resource_output(stdout: str) -> list[Record]:
    """RFC 822 records printed by a resource job (the PXU syntax, comments too)."""
    records, _ = parse_pxu(stdout, "<resource output>")
    return [
        {name: value.value for name, value in record.fields.items()}
        for record in records
    ]


def _all_jobs(catalog: Catalog) -> dict[str, JobDefinition]:
    jobs: dict[str, JobDefinition] = {}
    for job in catalog.jobs:
        jobs.setdefault(job.id, job)
        for twin in generated_jobs(job):
            jobs.setdefault(twin.id, twin)
    return jobs


def session_jobs(
    catalog: Catalog, plan: TestPlan, state: SessionState
) -> dict[str, JobDefinition]:
    """Every job of a session as it ran: generated ones, overrides applied.

    A session reopened to be shown or exported knows the providers' units;
    the template instances and twins its results belong to are made again
    here from the journaled resource records, and the test plan's overrides
    applied, and the state's job states get those definitions.
    """
    resolved = resolve_test_plan(plan, {tp.id: tp for tp in catalog.test_plans})
    run = _Run(
        catalog, RunOptions(session_share=Path()), resolved, _all_jobs(catalog), state
    )
    _instantiate_templates(run)
    for job_id in list(run.jobs):
        job = _with_overrides(run, run.jobs[job_id])
        if job_id in state.job_state_map:
            state.set_job(job)
    return run.jobs


def run_test_plan(
    catalog: Catalog, plan: TestPlan, options: RunOptions
) -> list[tuple[JobDefinition, JobResult]]:
    """Run a test plan to the end; returns every job with its result, in run order.

    With ``options.session`` the session is marked finished at the end (not
    when interrupted by Ctrl-C or a failing setup job: it stays resumable).
    """
    resolved = resolve_test_plan(plan, {tp.id: tp for tp in catalog.test_plans})
    jobs = _all_jobs(catalog)
    session = options.session
    state = session.state if session is not None else SessionState()
    run = _Run(catalog, options, resolved, jobs, state, rerun=set(options.rerun))
    if options.io_log_dir is None and session is not None:
        options.io_log_dir = session.storage.io_log_dir
    run.environments = EnvironmentBuilder(
        catalog.providers,
        session_share=options.session_share,
        extra=options.environment,
    )
    with JobDirectories() as run.directories:
        return _run_phases(run, resolved, jobs, session)


def _run_phases(
    run: _Run,
    resolved: ResolvedPlan,
    jobs: dict[str, JobDefinition],
    session: SessionManager | None,
) -> list[tuple[JobDefinition, JobResult]]:
    options, state = run.options, run.state
    setup = resolved.select("setup_include", list(jobs.values()))
    _run_jobs(run, "setup", setup)
    failed_setup = [
        job.id
        for job in setup
        if (result := run.result(job.id)) is not None
        and result.outcome is not Outcome.PASS
    ]
    if failed_setup:
        raise SetupFailedError(
            f"setup job failed: {', '.join(failed_setup)}; the test plan was not run",
            _pairs(run),
        )
    _run_jobs(
        run, "bootstrap", resolved.select("bootstrap_include", list(jobs.values()))
    )
    _instantiate_templates(run)
    everything = list(run.jobs.values())
    mandatory = resolved.select("mandatory_include", everything)
    included = resolved.select("include", everything)
    if options.match:
        included = [j for j in included if any(q.matches(j) for q in options.match)]
    _run_jobs(run, "main", mandatory + included, mandatory)
    if session is not None:
        state.record("session-finished", {"finished": time.time()})
        session.checkpoint()
    return _pairs(run)


def _pairs(run: _Run) -> list[tuple[JobDefinition, JobResult]]:
    pairs = []
    for state, result in run.state.results_in_order():
        job = run.jobs.get(state.job_id) or state.job
        if job is not None:
            pairs.append((job, run.live.get(state.job_id, result)))
    return pairs


def _run_jobs(
    run: _Run,
    phase: str,
    selected: Sequence[JobDefinition],
    mandatory: Sequence[JobDefinition] = (),
) -> None:
    keep = {job.id for job in mandatory}
    excludes = run.plan.qualifiers.get("exclude", [])
    excluded = [
        job.id
        for job in run.jobs.values()
        if job.id not in keep and any(q.matches(job) for q in excludes)
    ]
    order = order_run(with_dependencies(selected, run.jobs, excluded))
    ordered, cycles = list(order.jobs), order.cycles
    notes = [str(split) for split in order.splits]
    run.state.record(
        "phase",
        {
            "name": phase,
            "jobs": [job.id for job in ordered],
            "mandatory": [job.id for job in mandatory],
            **({"notes": notes} if notes else {}),
        },
    )
    if run.options.on_note is not None:
        for note in notes:
            run.options.on_note(note)
    if run.options.session is not None:
        run.options.session.write_header(durable=False)
    for job_id, cycle in cycles.items():
        if run.result(job_id) is None:
            # A cycle is a definition error: report it on every job in it, run none.
            _record(
                run,
                run.jobs[job_id],
                JobResult(
                    job_id=job_id, outcome=Outcome.FAIL, comments=f"cannot run: {cycle}"
                ),
            )
    pending = [job for job in ordered if run.result(job.id) is None]
    if run.options.on_phase is not None:
        run.options.on_phase(phase, pending)
    on_start, on_result = run.options.on_start, run.options.on_result
    session = run.options.session
    try:
        for job in pending:
            job = _with_overrides(run, job)
            if on_start is not None:
                run.deferred.append(partial(on_start, job))
            started = time.time()
            result = (
                _blocked_result(run, job)
                or _cached_result(run, job)
                or _execute(run, job)
            )
            result = replace(
                result, started=result.started or started, finished=time.time()
            )
            _record(run, job, result)
            if on_result is not None:
                run.deferred.append(partial(on_result, job, result))
            if session is not None:
                run.deferred.append(session.refresh_header)
    finally:
        run.call_deferred()


def _record(run: _Run, job: JobDefinition, result: JobResult) -> None:
    resources = run.cached.pop(job.id, None)
    if (
        resources is None
        and job.plugin == "resource"
        and result.return_code is not None
    ):
        # What a resource job printed counts even when it then failed, and
        # printing nothing still leaves one (empty) record.
        resources = parse_resource_output(result.stdout) or [{}]
        cache = run.options.resource_cache
        if cache is not None and result.outcome is Outcome.PASS and is_cachable(job):
            # A cache that cannot be written only costs a rerun next time.
            with contextlib.suppress(OSError):
                cache.put(job, resources)
    run.rerun.discard(job.id)
    run.state.set_job(job)  # as it ran: overrides applied, generated ones known
    run.state.update_job_result(job, result, resources)
    run.live[job.id] = result


def _with_overrides(run: _Run, job: JobDefinition) -> JobDefinition:
    overrides = run.plan.overrides_for(job)
    if not overrides:
        return job
    values: dict[str, Any] = dict(overrides)
    job = replace(job, **values)
    run.jobs[job.id] = job
    return job


def _skip(
    job: JobDefinition, outcome: Outcome, comments: str, **reason: Any
) -> JobResult:
    return JobResult(
        job_id=job.id, outcome=outcome, comments=comments, skip_reason=reason or None
    )


def _blocked_result(run: _Run, job: JobDefinition) -> JobResult | None:
    """The result of a job that must not run, or None when it may."""
    if job.id in run.invalid:
        return _skip(
            job, Outcome.FAIL, f"invalid template instance: {run.invalid[job.id]}"
        )
    if job.plugin not in PLUGINS:
        return _skip(job, Outcome.CRASH, f"unsupported plugin {job.plugin!r}")
    unknown = [dep for dep in job.depends if dep not in run.jobs]
    if unknown:
        return _skip(
            job,
            Outcome.SKIPPED_DEPENDENCY,
            f"depends on jobs that do not exist: {', '.join(unknown)}",
            related_dependencies=unknown,
        )
    blockers = [
        dep
        for dep in job.depends
        if (result := run.result(dep)) is None or result.outcome is not Outcome.PASS
    ]
    if blockers:
        # A dependency the operator (or a non-interactive run) skipped makes
        # this job a plain skip: nothing failed, nobody was there.
        skipped = any(
            (result := run.result(dep)) is not None and result.outcome is Outcome.SKIP
            for dep in blockers
        )
        return _skip(
            job,
            Outcome.SKIP if skipped else Outcome.SKIPPED_DEPENDENCY,
            f"required job did not pass: {', '.join(blockers)}",
            related_dependencies=blockers,
        )
    # "salvages": the job exists to clean up after a failure; no failure, no
    # job.  Only "fail" counts: a crash may have left nothing to salvage.
    not_failed = [
        dep
        for dep in job.salvages
        if (result := run.result(dep)) is None or result.outcome is not Outcome.FAIL
    ]
    if not_failed:
        return _skip(
            job,
            Outcome.SKIPPED_DEPENDENCY,
            f"salvaged job did not fail: {', '.join(not_failed)}",
            related_dependencies=not_failed,
        )
    unmet = _unmet_requirements(run, job)
    if unmet:
        outcome = (
            Outcome.FAIL
            if "fail-on-resource" in job.flags
            else Outcome.SKIPPED_RESOURCE
        )
        return _skip(
            job,
            outcome,
            f"resource requirement not met: {'; '.join(unmet)}",
            related_resources=unmet,
        )
    if job.plugin in _OPERATOR_PLUGINS and run.options.operator is None:
        return _skip(job, Outcome.SKIP, "needs an operator; the run is non-interactive")
    return None


def _cached_result(run: _Run, job: JobDefinition) -> JobResult | None:
    """A ``cachable`` resource job's result from the cache, or None to run it."""
    cache = run.options.resource_cache
    if cache is None or not is_cachable(job) or job.id in run.options.rerun:
        return None
    records = cache.get(job)
    if records is None:
        return None
    run.cached[job.id] = records
    return JobResult(
        job_id=job.id,
        outcome=Outcome.PASS,
        return_code=0,
        comments="records reused from the resource cache (cachable job)",
        extra={"cached": True},
    )


def _unmet_requirements(run: _Run, job: JobDefinition) -> list[str]:
    if not job.requires:
        return []
    try:
        imports = parse_imports(job.imports or "", job.namespace)
        program = parse_program(job.requires, job.namespace, imports)
    except ResourceExpressionError as exc:
        return [f"invalid requirement: {exc.message}"]
    return [expression.text for expression in program.failing(run.resources)]


def _execute(run: _Run, job: JobDefinition) -> JobResult:
    operator = run.options.operator
    run.state.record(
        "job-started", {"job": job.id, "checksum": job.checksum, "started": time.time()}
    )
    noreturn = "noreturn" in job.flags
    if noreturn:
        run.call_deferred()  # the machine may go down before the command returns
        if run.options.on_noreturn is not None:
            run.options.on_noreturn(job)
        if run.options.session is not None:
            # What `session list` shows after the reboot: the header too.
            run.options.session.write_header()
    # Durable before anything that may never return: the previous result and
    # this job's start share one fsync.
    run.sync()
    try:
        return _interact_or_run(run, job, operator)
    except BaseException:
        # Ctrl-C (or a bug): the job did not finish; it runs again on resume.
        run.state.record("job-abandoned", {"job": job.id})
        run.sync()
        raise
    finally:
        if noreturn and run.options.after_noreturn is not None:
            # It returned after all (or was stopped): no resume is pending.
            run.options.after_noreturn(job)


def _interact_or_run(
    run: _Run, job: JobDefinition, operator: Operator | None
) -> JobResult:
    if operator is not None and job.plugin in _OPERATOR_PLUGINS:
        run.call_deferred()  # the progress so far, then the operator's dialogue
        if not operator.ready(job):
            return _skip(job, Outcome.SKIP, "skipped by the operator")
        if job.plugin == "manual":
            outcome, comments = operator.verdict(job, None)
            return JobResult(job_id=job.id, outcome=outcome, comments=comments)
    result = _run_command(run, job)
    if operator is not None and job.plugin in _VERIFIED_PLUGINS:
        outcome, comments = operator.verdict(job, result)
        return replace(result, outcome=outcome, comments=comments)
    return result


_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")


def _io_log_path(run: _Run, job: JobDefinition) -> Path | None:
    """A new io-log per attempt: ``<n>-<slug>.log``, never overwritten.

    ``n`` counts the session's job starts, so a resumed session goes on
    numbering where it stopped.
    """
    directory = run.options.io_log_dir
    if directory is None:
        return None
    if not run.log_dir_ready:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        run.log_dir_ready = True
    slug = run.log_names.get(job.id)
    if slug is None:
        slug = run.log_names[job.id] = _UNSAFE_IN_NAME.sub("_", job.id)[:150]
    if not run.logs_checked:
        # Only a session that stopped can have logs the journal lost with its
        # tail: look for them at this process's first job, then number on.
        taken = {entry.name.partition("-")[0] for entry in directory.iterdir()}
        while f"{run.state.attempts + run.log_offset:04d}" in taken:
            run.log_offset += 1
        run.logs_checked = True
    return directory / f"{run.state.attempts + run.log_offset:04d}-{slug}.log"


def _run_command(run: _Run, job: JobDefinition) -> JobResult:
    if not job.command:
        return _skip(job, Outcome.FAIL, "the job has no command to run")
    assert run.environments is not None
    env = run.environments.build(job)
    timeout = job.timeout or run.options.job_timeout
    started = time.time()
    io_log = _io_log_path(run, job)
    on_output = run.options.on_output
    try:
        done = run_command(
            job,
            env,
            timeout=timeout,
            io_log=io_log,
            on_output=(lambda line: on_output(job, line)) if on_output else None,
            directories=run.directories,
            while_running=run.call_deferred,
        )
    except (ExecutionError, OSError) as exc:
        return _skip(job, Outcome.FAIL, f"cannot start the command: {exc}")
    comments = ""
    if done.timed_out:
        outcome = Outcome.FAIL
        comments = f"timed out after {timeout:g} s; the job's processes were killed"
    elif done.return_code == 0:
        outcome = Outcome.PASS
    elif done.return_code > 0:
        outcome = Outcome.FAIL
    else:
        outcome = Outcome.CRASH
        comments = f"killed by signal {-done.return_code}"
    if done.leftovers and "has-leftovers" not in job.flags:
        note = f"left files in its directory: {', '.join(done.leftovers[:10])}"
        comments = f"{comments}; {note}" if comments else note
    return JobResult(
        job_id=job.id,
        outcome=outcome,
        return_code=done.return_code,
        duration=done.duration,
        comments=comments,
        stdout=done.stdout.decode("utf-8", errors="replace"),
        stderr=done.stderr.decode("utf-8", errors="replace"),
        started=started,
        # The runner creates the io-log with the first output line only.
        io_log=_relative_log(run, io_log) if done.lines or done.truncated else None,
    )


def _relative_log(run: _Run, io_log: Path | None) -> str | None:
    """The io-log's path as the journal keeps it, if the command wrote one."""
    if io_log is None:
        return None
    session = run.options.session
    if session is not None:
        try:
            return str(io_log.relative_to(session.storage.path))
        except ValueError:
            pass
    return str(io_log)


def _instantiate_templates(run: _Run) -> None:
    for template in run.catalog.templates:
        records = run.resources.get(template.template_resource)
        if not records:
            continue
        index = 0
        for record in records:
            if template.template_filter and not _filter_accepts(template, record):
                continue
            index += 1
            try:
                job = instantiate(template, record, index)
            except UnitError as exc:
                _add_invalid_instance(run, template, index, exc)
                continue
            run.jobs.setdefault(job.id, job)


def _filter_accepts(template: TemplateUnit, record: Record) -> bool:
    try:
        imports = parse_imports(template.template_imports or "", template.namespace)
        return evaluate_filter(
            template.template_filter or "",
            template.namespace,
            record,
            template.template_resource,
            imports,
        )
    except ResourceExpressionError:
        return False


def _add_invalid_instance(
    run: _Run, template: TemplateUnit, index: int, error: UnitError
) -> None:
    """A stand-in job that fails with the reason, if the plan selects it."""
    job = JobDefinition(
        partial_id=f"{template.partial_id}#{index}",
        namespace=template.namespace,
        provider=template.provider,
        origin=template.origin,
        fields={},
        field_lines={},
        checksum="",
        summary=f"invalid instance {index} of {template.template_id}",
        plugin="shell",
        category_id=qualify(template.fields["category_id"], template.namespace)
        if template.fields.get("category_id")
        else DEFAULT_CATEGORY,
        template_id=template.template_id,
    )
    run.jobs[job.id] = job
    run.invalid[job.id] = str(error)
