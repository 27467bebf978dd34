"""The run loop: setup, bootstrap, then the test plan's jobs in dependency order.

This is the thin first version: results are kept in memory and written as a
report at the end; a journal and resume come with sessions on disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any

from plainbox.errors import ResourceExpressionError
from plainbox.errors import UnitError
from plainbox.execution.runner import build_environment
from plainbox.execution.runner import run_command
from plainbox.resources import evaluate_filter
from plainbox.resources import parse_imports
from plainbox.resources import parse_program
from plainbox.session.dependencies import order_jobs
from plainbox.session.dependencies import with_dependencies
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.units.catalog import Catalog
from plainbox.units.model import JobDefinition
from plainbox.units.model import TemplateUnit
from plainbox.units.model import TestPlan
from plainbox.units.pxu import parse_pxu
from plainbox.units.templates import instantiate
from plainbox.units.testplan import ResolvedPlan
from plainbox.units.testplan import resolve_test_plan


__all__ = ["RunOptions", "run_test_plan"]

Record = dict[str, str]
_AUTOMATED_IN_SILENT = {"shell", "resource", "attachment"}


@dataclass(slots=True)
class RunOptions:
    """How a run behaves."""

    session_share: Path
    interactive: bool = False
    job_timeout: float | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    on_result: Callable[[JobDefinition, JobResult], None] | None = None
    on_start: Callable[[JobDefinition], None] | None = None


@dataclass(slots=True)
class _Run:
    catalog: Catalog
    options: RunOptions
    plan: ResolvedPlan
    jobs: dict[str, JobDefinition]
    results: dict[str, JobResult] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    resources: dict[str, list[Record]] = field(default_factory=dict)


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
    run = _Run(catalog, options, resolved, {job.id: job for job in catalog.jobs})
    for phase in ("setup_include", "bootstrap_include"):
        selected = resolved.select(phase, list(run.jobs.values()))
        _run_jobs(run, selected)
    _instantiate_templates(run)
    jobs = list(run.jobs.values())
    desired = resolved.select("mandatory_include", jobs) + resolved.select(
        "include", jobs
    )
    _run_jobs(run, desired)
    return [(run.jobs[job_id], run.results[job_id]) for job_id in run.order]


def _run_jobs(run: _Run, selected: Sequence[JobDefinition]) -> None:
    excluded = [
        job.id
        for job in run.jobs.values()
        if any(q.matches(job) for q in run.plan.qualifiers.get("exclude", []))
    ]
    needed = with_dependencies(selected, run.jobs, excluded)
    for job in order_jobs(needed):
        if job.id in run.results:
            continue
        job = _with_overrides(run, job)
        if run.options.on_start is not None:
            run.options.on_start(job)
        result = _blocked_result(run, job) or _execute(run, job)
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


def _blocked_result(run: _Run, job: JobDefinition) -> JobResult | None:
    """The result of a job that must not run, or None when it may."""
    failed = [
        dep
        for dep in job.depends
        if dep in run.results and run.results[dep].outcome is not Outcome.PASS
    ]
    missing = [dep for dep in job.depends if dep not in run.results]
    if failed or missing:
        blockers = failed + missing
        return JobResult(
            job_id=job.id,
            outcome=Outcome.SKIPPED_DEPENDENCY,
            comments=f"required job did not pass: {', '.join(blockers)}",
            skip_reason={"related_dependencies": blockers},
        )
    if job.requires:
        unmet = _unmet_requirements(run, job)
        if unmet:
            outcome = (
                Outcome.FAIL
                if "fail-on-resource" in job.flags
                else Outcome.SKIPPED_RESOURCE
            )
            return JobResult(
                job_id=job.id,
                outcome=outcome,
                comments=f"resource requirement not met: {'; '.join(unmet)}",
                skip_reason={"related_resources": unmet},
            )
    if job.plugin not in _AUTOMATED_IN_SILENT and not run.options.interactive:
        return JobResult(
            job_id=job.id,
            outcome=Outcome.SKIP,
            comments="interactive job skipped in a non-interactive session",
        )
    return None


def _unmet_requirements(run: _Run, job: JobDefinition) -> list[str]:
    try:
        imports = parse_imports(job.imports or "", job.namespace)
        program = parse_program(job.requires or "", job.namespace, imports)
    except ResourceExpressionError as exc:
        return [f"invalid requirement: {exc.message}"]
    return [expression.text for expression in program.failing(run.resources)]


def _execute(run: _Run, job: JobDefinition) -> JobResult:
    if not job.command:
        return JobResult(
            job_id=job.id,
            outcome=Outcome.FAIL,
            comments="the job has no command to run",
        )
    env = build_environment(
        job,
        run.catalog.providers,
        session_share=run.options.session_share,
        extra=run.options.environment,
    )
    timeout = job.timeout or run.options.job_timeout
    started = time.time()
    done = run_command(job, env, timeout=timeout)
    if done.timed_out:
        outcome, comments = (
            Outcome.FAIL,
            f"timed out after {timeout:g} s; the job's processes were killed",
        )
    elif done.return_code == 0:
        outcome, comments = Outcome.PASS, ""
    elif done.return_code > 0:
        outcome, comments = Outcome.FAIL, ""
    else:
        outcome, comments = Outcome.CRASH, f"killed by signal {-done.return_code}"
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
                _record_invalid_instance(run, template, index, exc)
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


def _record_invalid_instance(
    run: _Run, template: TemplateUnit, index: int, error: UnitError
) -> None:
    job_id = f"{template.id}#{index}"
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
        template_id=template.template_id,
    )
    run.jobs[job_id] = job
    run.results[job_id] = JobResult(
        job_id=job_id,
        outcome=Outcome.FAIL,
        comments=f"invalid template instance: {error}",
    )
    run.order.append(job_id)
