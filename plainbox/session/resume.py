"""Settling a reopened session: the job that was running, changed definitions.

When plainbox dies in the middle of a job (a crash, a kill, power loss, or
the reboot a ``noreturn`` job causes on purpose) the journal shows the job
as started and not finished.  Before the run goes on, that job gets an
outcome or is run again:

=====================  =======================================================
decision               effect
=====================  =======================================================
``pass``               default for ``noreturn`` jobs: the reboot was expected
``crash``              default for every other job
``fail``, ``skip``     chosen by the operator (with a comment)
``rerun``              no result; the job runs again from the start
=====================  =======================================================
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from plainbox.session.results import FAILING_OUTCOMES
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.state import SessionState
from plainbox.units.model import JobDefinition


__all__ = [
    "RESUME_ACTIONS",
    "ResumeDecision",
    "default_decision",
    "interrupted_job",
    "rerun_candidates",
    "settle_interrupted_job",
]

RESUME_ACTIONS = ("rerun", "pass", "fail", "skip", "crash")

_PASSED_AFTER_REBOOT = "passed: the session resumed after the reboot this job causes"
_CRASHED = "plainbox stopped while this job was running (crash, kill or power loss)"


@dataclass(frozen=True, slots=True)
class ResumeDecision:
    """What to do with the job that was running: an action and a comment."""

    action: str
    comment: str = ""

    def __post_init__(self) -> None:
        if self.action not in RESUME_ACTIONS:
            raise ValueError(
                f"unknown resume action {self.action!r}; one of {', '.join(RESUME_ACTIONS)}"
            )


def interrupted_job(state: SessionState) -> str | None:
    """The id of the job that was running when the session stopped, if any."""
    return state.metadata.running_job


def default_decision(job: JobDefinition | None) -> ResumeDecision:
    """``pass`` for a ``noreturn`` job, else ``crash``."""
    if job is not None and "noreturn" in job.flags:
        return ResumeDecision("pass", _PASSED_AFTER_REBOOT)
    return ResumeDecision("crash", _CRASHED)


def settle_interrupted_job(
    state: SessionState, job: JobDefinition, decision: ResumeDecision
) -> JobResult | None:
    """Record the decision about the interrupted ``job``; None for a rerun."""
    if decision.action == "rerun":
        state.record("job-abandoned", {"job": job.id})
        return None
    started = state.metadata.last_job_start_time
    now = time.time()
    result = JobResult(
        job_id=job.id,
        outcome=Outcome(decision.action),
        comments=decision.comment,
        started=started,
        finished=now,
        duration=max(0.0, now - started) if started is not None else 0.0,
    )
    state.update_job_result(job, result)
    return result


def rerun_candidates(state: SessionState) -> set[str]:
    """Jobs to run again: failed or crashed ones, and those skipped because of them.

    A job skipped for a dependency that is run again gets its chance too,
    transitively, so a fixed failure lets the jobs behind it run.
    """
    chosen = {
        job_id
        for job_id, job_state in state.job_state_map.items()
        if job_state.result is not None and job_state.result.outcome in FAILING_OUTCOMES
    }
    blocked = {
        job_id: job_state
        for job_id, job_state in state.job_state_map.items()
        if job_state.result is not None
        and job_state.result.outcome is Outcome.SKIPPED_DEPENDENCY
    }
    grew = True
    while grew:
        grew = False
        for job_id, job_state in blocked.items():
            if job_id in chosen:
                continue
            reason = (job_state.result.skip_reason or {}) if job_state.result else {}
            if set(reason.get("related_dependencies", ())) & chosen:
                chosen.add(job_id)
                grew = True
    return chosen
