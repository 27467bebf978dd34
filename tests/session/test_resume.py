"""Settling the job that was running, and choosing the jobs to run again."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox.session.results import FAILING_OUTCOMES
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.resume import RESUME_ACTIONS
from plainbox.session.resume import ResumeDecision
from plainbox.session.resume import default_decision
from plainbox.session.resume import interrupted_job
from plainbox.session.resume import rerun_candidates
from plainbox.session.resume import settle_interrupted_job
from plainbox.session.state import SessionState
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import JobDefinition
from plainbox.units.problems import Origin


def make_job(partial_id: str, **fields: str) -> JobDefinition:
    unit = unit_from_fields(
        "job",
        {"id": partial_id, "plugin": "shell", "summary": partial_id, **fields},
        namespace="com.example",
        provider="example",
        origin=Origin("units.pxu", 1),
        field_lines={},
    )
    assert isinstance(unit, JobDefinition)
    return unit


# -- decisions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "action"),
    [
        ("noreturn", "pass"),
        ("preserve-locale noreturn", "pass"),
        ("preserve-locale", "crash"),
        (None, "crash"),
    ],
)
def test_default_decision(flags, action):
    job = make_job("j", **({"flags": flags} if flags else {}))
    decision = default_decision(job)
    assert decision.action == action
    assert decision.comment  # the report says why the job got this outcome
    if action == "pass":
        assert "reboot" in decision.comment


def test_default_decision_for_a_job_no_longer_defined():
    assert default_decision(None).action == "crash"


@pytest.mark.parametrize("action", RESUME_ACTIONS)
def test_every_resume_action_is_accepted(action):
    assert ResumeDecision(action, "why").action == action


@pytest.mark.parametrize(
    "action", ["retry", "", "PASS", "skipped-dependency", "undecided"]
)
def test_unknown_resume_actions_are_rejected(action):
    with pytest.raises(ValueError, match="unknown resume action") as caught:
        ResumeDecision(action)
    assert "rerun, pass, fail, skip, crash" in str(caught.value)


# -- settling the interrupted job ------------------------------------------------------


@pytest.fixture
def interrupted() -> tuple[
    SessionState, JobDefinition, list[tuple[str, dict[str, Any]]]
]:
    """A state whose job ``j`` started a second ago and never finished."""
    job = make_job("j")
    state = SessionState([job])
    journaled: list[tuple[str, dict[str, Any]]] = []
    state.attach(lambda kind, data: journaled.append((kind, data)))
    state.record(
        "job-started",
        {"job": job.id, "checksum": job.checksum, "started": time.time() - 1},
    )
    journaled.clear()
    return state, job, journaled


@pytest.mark.parametrize("action", ["pass", "fail", "skip", "crash"])
def test_settle_with_an_outcome(interrupted, action):
    state, job, journaled = interrupted
    assert interrupted_job(state) == job.id
    started = state.metadata.last_job_start_time
    before = time.time()

    result = settle_interrupted_job(
        state, job, ResumeDecision(action, "operator said so")
    )

    assert result is not None
    assert result.outcome is Outcome(action)
    assert result.comments == "operator said so"
    assert result.started == started
    assert result.finished is not None
    assert before <= result.finished <= time.time()
    assert result.duration == pytest.approx(result.finished - started)
    assert 1 <= result.duration < 60
    assert interrupted_job(state) is None
    assert state.result_of(job.id) == result
    assert [kind for kind, _ in journaled] == ["job-finished"]
    assert journaled[0][1]["job"] == job.id
    assert journaled[0][1]["result"]["outcome"] == action


def test_settle_with_a_rerun(interrupted):
    state, job, journaled = interrupted
    result = settle_interrupted_job(state, job, ResumeDecision("rerun"))

    assert result is None
    assert journaled == [("job-abandoned", {"job": job.id})]
    assert interrupted_job(state) is None
    assert state.result_of(job.id) is None
    assert state.attempts == 1  # the next start is a new attempt


@pytest.mark.parametrize(
    ("started", "duration"),
    [(None, 0.0), (time.time() + 3600, 0.0)],
    ids=["start-unknown", "clock-went-back"],
)
def test_settle_never_gives_a_negative_duration(started, duration):
    job = make_job("j")
    state = SessionState([job])
    state.record("job-started", {"job": job.id, "started": started})

    result = settle_interrupted_job(state, job, default_decision(job))

    assert result is not None
    assert result.outcome is Outcome.CRASH
    assert result.duration == duration
    assert result.started == started


# -- jobs to run again ---------------------------------------------------------------------


def blocked(*dependencies: str) -> tuple[str, dict[str, Any] | None]:
    return ("skipped-dependency", {"related_dependencies": list(dependencies)})


# job -> its results in order: an outcome, or (outcome, skip_reason)
RERUN_CASES: dict[str, tuple[dict[str, list[Any]], set[str]]] = {
    "all passed": ({"a": ["pass"], "b": ["pass"]}, set()),
    "failed and crashed": ({"a": ["fail"], "b": ["crash"], "c": ["pass"]}, {"a", "b"}),
    "other skips stay": (
        {
            "a": ["skip"],
            "b": ["skipped-resource"],
            "c": ["not-supported"],
            "d": ["undecided"],
            "e": ["skipped-manifest"],
        },
        set(),
    ),
    "skipped behind a failure": ({"a": ["fail"], "b": [blocked("a")]}, {"a", "b"}),
    "transitively, in any order": (
        {"d": [blocked("c")], "c": [blocked("b")], "b": [blocked("a")], "a": ["crash"]},
        {"a", "b", "c", "d"},
    ),
    "one of several dependencies": (
        {"a": ["pass"], "b": ["fail"], "c": [blocked("a", "b")]},
        {"b", "c"},
    ),
    "skipped behind a job that is not run again": (
        {"a": ["skipped-resource"], "b": [blocked("a")], "c": [blocked("gone")]},
        set(),
    ),
    "no reason recorded": ({"a": ["fail"], "b": [("skipped-dependency", None)]}, {"a"}),
    "the latest result counts": (
        {"a": ["fail", "pass"], "b": ["fail", blocked("a")], "c": ["pass", "crash"]},
        {"c"},
    ),
    "a cycle of skips with nothing failing": (
        {"a": [blocked("b")], "b": [blocked("a")]},
        set(),
    ),
    "a job that has not run": ({"a": [], "b": [blocked("a")]}, set()),
}


def state_with(results: dict[str, list[Any]]) -> SessionState:
    state = SessionState()
    for job_id, history in results.items():
        for entry in history:
            outcome, reason = entry if isinstance(entry, tuple) else (entry, None)
            result = JobResult(
                job_id=job_id, outcome=Outcome(outcome), skip_reason=reason
            )
            state.record("job-finished", {"job": job_id, "result": result.to_record()})
    return state


@pytest.mark.parametrize(
    ("results", "expected"), RERUN_CASES.values(), ids=RERUN_CASES.keys()
)
def test_rerun_candidates(results, expected):
    assert rerun_candidates(state_with(results)) == expected


JOB_NAMES = st.sampled_from("abcdef")
HISTORIES = st.dictionaries(
    JOB_NAMES,
    st.lists(
        st.sampled_from(
            [o.value for o in Outcome if o is not Outcome.SKIPPED_DEPENDENCY]
        )
        | st.lists(JOB_NAMES, max_size=3).map(lambda deps: blocked(*deps)),
        min_size=1,
        max_size=2,
    ),
)


@settings(max_examples=100, deadline=None)
@given(HISTORIES)
def test_rerun_candidates_are_the_smallest_closed_set(results):
    state = state_with(results)
    chosen = rerun_candidates(state)

    def latest(job_id: str) -> JobResult:
        result = state.result_of(job_id)
        assert result is not None
        return result

    def blockers(job_id: str) -> set[str]:
        result = latest(job_id)
        if result.outcome is not Outcome.SKIPPED_DEPENDENCY:
            return set()
        return set((result.skip_reason or {}).get("related_dependencies", ()))

    # Closed: every failure, and every job skipped behind a chosen one.
    for job_id in results:
        if latest(job_id).outcome in FAILING_OUTCOMES or blockers(job_id) & chosen:
            assert job_id in chosen, job_id
    # Smallest: each chosen job is a failure or reaches one through its
    # blockers, without going round in a circle.
    grounded = {j for j in chosen if latest(j).outcome in FAILING_OUTCOMES}
    while True:
        more = {j for j in chosen - grounded if blockers(j) & grounded}
        if not more:
            break
        grounded |= more
    assert grounded == chosen
