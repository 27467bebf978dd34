"""The run loop: setup, bootstrap, then the test plan's jobs in dependency order.

This is the first version of the loop: results are kept in memory and
written as a report at the end; a journal and resume come with sessions on
disk. What a job's plugin means for how it runs and who decides its outcome:

========================  ============================  ==========================
plugin                    runs its command              outcome decided by
========================  ============================  ==========================
shell, attachment         yes                           exit status
resource                  yes; stdout parsed as records exit status
user-interact             when the operator is ready    exit status
manual                    no                            the operator
user-verify,              yes                           the operator, after seeing
user-interact-verify                                    the output
========================  ============================  ==========================

Without an operator (``--non-interactive``), the last three rows are skipped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any
from typing import Protocol

from plainbox.errors import ExecutionError
from plainbox.errors import ResourceExpressionError
from plainbox.errors import SetupFailedError
from plainbox.errors import UnitError
from plainbox.execution.iolog import OutputLine
from plainbox.execution.runner import build_environment
from plainbox.execution.runner import run_command
from plainbox.resources import evaluate_filter
from plainbox.resources import parse_imports
from plainbox.resources import parse_program
from plainbox.session.dependencies import order_tolerating_cycles
from plainbox.session.dependencies import with_dependencies
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
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


__all__ = ["Operator", "RunOptions", "parse_resource_output", "run_test_plan"]

Record = dict[str, str]
_OPERATOR_PLUGINS = frozenset(
    {"manual", "user-interact", "user-verify", "user-interact-verify"}
)
_VERIFIED_PLUGINS = frozenset({"manual", "user-verify", "user-interact-verify"})
_FAILED = frozenset({Outcome.FAIL, Outcome.CRASH})


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


@dataclass(slots=True)
class _Run:
    catalog: Catalog
    options: RunOptions
    plan: ResolvedPlan
    jobs: dict[str, JobDefinition]
    results: dict[str, JobResult] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    resources: dict[str, list[Record]] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)  # id -> why it is broken
    attempts: int = 0  # commands started, numbering the io-logs


def parse_resource_output(stdout: str) -> list[Record]:
    """RFC 822 records printed by a resource job (the PXU syntax, comments too)."""
    records, _ = parse_pxu(stdout, "<resource output>")
    return [
        {name: value.value for name, value in record.fields.items()}
        for record in records
    ]


def run_test_plan(
    catalog: Catalog, plan: TestPlan, options: RunOptions
) -> list[tuple[JobDefinition, JobResult]]:
    """Run a test plan to the end; returns every job with its result, in run order."""
    resolved = resolve_test_plan(plan, {tp.id: tp for tp in catalog.test_plans})
    jobs: dict[str, JobDefinition] = {}
    for job in catalog.jobs:
        jobs.setdefault(job.id, job)
        for twin in generated_jobs(job):
            jobs.setdefault(twin.id, twin)
    run = _Run(catalog, options, resolved, jobs)
    _run_jobs(run, "setup", resolved.select("setup_include", list(jobs.values())))
    failed_setup = [
        job_id
        for job_id in run.order
        if run.results[job_id].outcome is not Outcome.PASS
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
    return _pairs(run)


def _pairs(run: _Run) -> list[tuple[JobDefinition, JobResult]]:
    return [(run.jobs[job_id], run.results[job_id]) for job_id in run.order]


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
    ordered, cycles = order_tolerating_cycles(
        with_dependencies(selected, run.jobs, excluded)
    )
    for job_id, cycle in cycles.items():
        # A cycle is a definition error: report it on every job in it, run none.
        run.results[job_id] = JobResult(
            job_id=job_id, outcome=Outcome.FAIL, comments=f"cannot run: {cycle}"
        )
        run.order.append(job_id)
    pending = [job for job in ordered if job.id not in run.results]
    if run.options.on_phase is not None:
        run.options.on_phase(phase, pending)
    for job in pending:
        job = _with_overrides(run, job)
        if run.options.on_start is not None:
            run.options.on_start(job)
        started = time.time()
        result = _blocked_result(run, job) or _execute(run, job)
        result = replace(
            result, started=result.started or started, finished=time.time()
        )
        run.results[job.id] = result
        run.order.append(job.id)
        if job.plugin == "resource" and result.outcome is Outcome.PASS:
            run.resources[job.id] = parse_resource_output(result.stdout)
        if run.options.on_result is not None:
            run.options.on_result(job, result)


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
        if dep not in run.results or run.results[dep].outcome is not Outcome.PASS
    ]
    if blockers:
        return _skip(
            job,
            Outcome.SKIPPED_DEPENDENCY,
            f"required job did not pass: {', '.join(blockers)}",
            related_dependencies=blockers,
        )
    # "salvages": the job exists to clean up after a failure; no failure, no job.
    not_failed = [
        dep
        for dep in job.salvages
        if dep not in run.results or run.results[dep].outcome not in _FAILED
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
    if operator is not None and job.plugin in _OPERATOR_PLUGINS:
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


def _io_log_path(run: _Run, job: JobDefinition) -> Path | None:
    """A new io-log per attempt: ``<n>-<slug>.log``, never overwritten."""
    directory = run.options.io_log_dir
    if directory is None:
        return None
    if run.attempts == 0:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", job.id)[:150]
    run.attempts += 1
    return directory / f"{run.attempts:04d}-{slug}.log"


def _run_command(run: _Run, job: JobDefinition) -> JobResult:
    if not job.command:
        return _skip(job, Outcome.FAIL, "the job has no command to run")
    env = build_environment(
        job,
        run.catalog.providers,
        session_share=run.options.session_share,
        extra=run.options.environment,
    )
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
    )


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
