"""SessionState: every change is a record, and replaying records rebuilds it."""

from __future__ import annotations

import base64
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox.session.journal import Journal
from plainbox.session.journal import read_journal
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.state import FLAG_BOOTSTRAPPING
from plainbox.session.state import FLAG_INCOMPLETE
from plainbox.session.state import FLAG_SUBMITTED
from plainbox.session.state import JobState
from plainbox.session.state import SessionState
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import JobDefinition
from plainbox.units.problems import Origin


NS = "com.example"


def make_job(partial_id: str, **fields: str) -> JobDefinition:
    unit = unit_from_fields(
        "job",
        {"id": partial_id, "plugin": "shell", "summary": partial_id, **fields},
        namespace=NS,
        provider="example",
        origin=Origin("units.pxu", 1),
        field_lines={},
    )
    assert isinstance(unit, JobDefinition)
    return unit


Rec = tuple[str, Any]  # a record's kind and data (data may be malformed)


def started(job: str, at: float = 10.0, checksum: str | None = None) -> Rec:
    data: dict[str, Any] = {"job": job, "started": at}
    if checksum is not None:
        data["checksum"] = checksum
    return ("job-started", data)


def finished(job: str, outcome: str = "pass", **extra: Any) -> Rec:
    return ("job-finished", {"job": job, "result": {"outcome": outcome}, **extra})


SESSION_STARTED = (
    "session-started",
    {
        "created": 5,
        "title": "T",
        "test_plan": "p",
        "app_id": "app",
        "options": {"x": 1},
    },
)


def observe(state: SessionState) -> dict[str, Any]:
    """Everything a session state tells, as plain data."""
    meta = state.metadata
    return {
        "title": meta.title,
        "test_plan": meta.test_plan,
        "app_id": meta.app_id,
        "app_blob": meta.app_blob,
        "flags": meta.flags,
        "created": meta.created,
        "finished": meta.finished,
        "running_job": meta.running_job,
        "last_job_start_time": meta.last_job_start_time,
        "options": meta.options,
        "phases": state.phases,
        "run_list": state.run_list,
        "desired_job_list": state.desired_job_list,
        "mandatory_job_list": state.mandatory_job_list,
        "results": {
            job_id: [r.outcome.value for r in s.results]
            for job_id, s in state.job_state_map.items()
            if s.results
        },
        "checksums": {
            job_id: s.checksum
            for job_id, s in state.job_state_map.items()
            if s.checksum is not None
        },
        "execution_order": state.execution_order,
        "resource_map": state.resource_map,
        "attempts": state.attempts,
        "changed_jobs": state.changed_jobs(),
    }


EMPTY = observe(SessionState())

# (records, what differs from an empty state afterwards)
CASES: dict[str, tuple[list[Rec], dict[str, Any]]] = {
    "nothing": ([], {}),
    "session-started": (
        [SESSION_STARTED],
        {
            "title": "T",
            "test_plan": "p",
            "app_id": "app",
            "created": 5.0,
            "options": {"x": 1},
            "flags": {FLAG_INCOMPLETE},
        },
    ),
    "session-started resets flags": (
        [
            ("metadata", {"flags": [FLAG_SUBMITTED]}),
            ("session-started", {"created": 1}),
        ],
        {"created": 1.0, "flags": {FLAG_INCOMPLETE}},
    ),
    "metadata changes only what it names": (
        [
            SESSION_STARTED,
            ("metadata", {"title": "new"}),
            ("metadata", {"flags": [FLAG_BOOTSTRAPPING, FLAG_INCOMPLETE]}),
            ("metadata", {"app_blob": base64.b64encode(b"\0blob").decode()}),
            ("metadata", {"test_plan": None, "app_id": "other"}),
        ],
        {
            "title": "new",
            "test_plan": None,
            "app_id": "other",
            "app_blob": b"\0blob",
            "created": 5.0,
            "options": {"x": 1},
            "flags": {FLAG_BOOTSTRAPPING, FLAG_INCOMPLETE},
        },
    ),
    "app blob cleared": (
        [("metadata", {"app_blob": "aGk="}), ("metadata", {"app_blob": None})],
        {},
    ),
    "title None is empty": ([("metadata", {"title": None})], {}),
    "phases": (
        [
            ("phase", {"name": "bootstrap", "jobs": ["r"]}),
            ("phase", {"name": "main", "jobs": ["a", "b"], "mandatory": ["a"]}),
            # A phase planned again replaces its list; mandatory ones add up.
            (
                "phase",
                {"name": "main", "jobs": ["b", "r", "c"], "mandatory": ["c", "a"]},
            ),
        ],
        {
            "phases": {"bootstrap": ["r"], "main": ["b", "r", "c"]},
            "run_list": ["r", "b", "c"],
            "desired_job_list": ["b", "r", "c"],
            "mandatory_job_list": ["a", "c"],
        },
    ),
    "job running": (
        [started("a", at=7.5, checksum="c1")],
        {
            "running_job": "a",
            "last_job_start_time": 7.5,
            "attempts": 1,
            "checksums": {"a": "c1"},
        },
    ),
    "job finished": (
        [started("a"), finished("a", "fail", checksum="c1")],
        {
            "last_job_start_time": 10.0,
            "attempts": 1,
            "results": {"a": ["fail"]},
            "execution_order": ["a"],
            "checksums": {"a": "c1"},
        },
    ),
    "results history and first-result order": (
        [
            started("a", 1.0),
            finished("a", "fail"),
            started("b", 2.0),
            finished("b"),
            started("a", 3.0),
            finished("a", "pass"),
        ],
        {
            "last_job_start_time": 3.0,
            "attempts": 3,
            "results": {"a": ["fail", "pass"], "b": ["pass"]},
            "execution_order": ["a", "b"],
        },
    ),
    "abandoned job runs again": (
        [started("a", checksum="c1"), ("job-abandoned", {"job": "a"})],
        {"last_job_start_time": 10.0, "attempts": 1, "checksums": {"a": "c1"}},
    ),
    "abandoning another job changes nothing": (
        [started("a"), ("job-abandoned", {"job": "b"})],
        {"running_job": "a", "last_job_start_time": 10.0, "attempts": 1},
    ),
    "another job's result keeps the running one": (
        [started("a"), finished("b", "skip")],
        {
            "running_job": "a",
            "last_job_start_time": 10.0,
            "attempts": 1,
            "results": {"b": ["skip"]},
            "execution_order": ["b"],
        },
    ),
    "resources": (
        [
            finished("r1", resources=[{"name": "x"}, {"name": "y"}]),
            finished("r2", resources=[{"name": "z"}]),
            finished("r2", resources=[]),
            finished("r1"),  # no resources: the earlier ones stay
        ],
        {
            "results": {"r1": ["pass", "pass"], "r2": ["pass", "pass"]},
            "execution_order": ["r1", "r2"],
            "resource_map": {"r1": [{"name": "x"}, {"name": "y"}], "r2": []},
        },
    ),
    "session finished": (
        [
            SESSION_STARTED,
            (
                "metadata",
                {"flags": [FLAG_INCOMPLETE, FLAG_BOOTSTRAPPING, FLAG_SUBMITTED]},
            ),
            started("a"),
            ("session-finished", {"finished": 99}),
        ],
        {
            "title": "T",
            "test_plan": "p",
            "app_id": "app",
            "created": 5.0,
            "options": {"x": 1},
            "finished": 99.0,
            "flags": {FLAG_SUBMITTED},
            "last_job_start_time": 10.0,
            "attempts": 1,
        },
    ),
    "device records apply to this state": (
        [("job-started", {"job": "a", "started": 1.0, "device": "dut"})],
        {"running_job": "a", "attempts": 1, "last_job_start_time": 1.0},
    ),
}


@pytest.mark.parametrize(("records", "changes"), CASES.values(), ids=CASES.keys())
def test_records_give_the_expected_state(records, changes):
    state = SessionState()
    for kind, data in records:
        state.apply(kind, data)
    assert observe(state) == {**EMPTY, **changes}


def test_changed_jobs_are_those_that_ran_with_another_definition():
    a, b, c, e, f = (make_job(n) for n in "abcef")
    # Stand-ins for invalid template instances have no checksum.
    invalid = dataclasses.replace(make_job("g"), checksum="")
    state = SessionState([a, b, c, e, f, invalid])
    for kind, data in [
        finished(a.id, checksum="old"),  # ran as another definition: changed
        finished(b.id, checksum=b.checksum),  # the same definition
        finished(e.id),  # no checksum recorded: cannot tell
        started(f.id, checksum="old"),  # abandoned, no result: nothing to report
        ("job-abandoned", {"job": f.id}),
        finished(invalid.id, checksum="old"),  # no checksum of its own
        finished("com.example::gone", checksum="old"),  # not among the units
        started(c.id, checksum="old"),  # running as another definition: changed
    ]:
        state.apply(kind, data)

    assert state.changed_jobs() == [a.id, c.id]
    assert state.job_state_map[a.id].changed
    assert not state.job_state_map["com.example::gone"].changed


# -- malformed records ---------------------------------------------------------------

MALFORMED = [
    ("no-such-kind", {}, "unknown record kind 'no-such-kind'"),
    ("session-started", {}, "malformed session-started"),
    ("session-started", {"created": None}, "malformed session-started"),
    ("session-started", {"created": "soon"}, "could not convert"),
    ("session-started", {"created": 1, "options": 5}, "malformed session-started"),
    ("session-started", {"created": 1, "options": "ab"}, "sequence"),
    ("metadata", None, "malformed metadata"),
    ("metadata", {"title": "t", "app_blob": 5}, "malformed metadata"),
    ("metadata", {"title": "t", "app_blob": "a"}, "base64"),  # bad base64 padding
    ("metadata", {"title": "t", "flags": 5}, "malformed metadata"),
    ("phase", {"name": "main"}, "malformed phase"),
    ("phase", {"name": "main", "jobs": 5}, "malformed phase"),
    ("phase", {"name": "main", "jobs": ["x"], "mandatory": 5}, "malformed phase"),
    ("job-started", {}, "malformed job-started"),
    ("job-started", ["job"], "malformed job-started"),
    ("job-abandoned", {}, "malformed job-abandoned"),
    ("job-finished", {"job": "x"}, "malformed job-finished"),
    ("job-finished", {"job": "x", "result": {"outcome": "meh"}}, "bad outcome"),
    ("job-finished", {"job": "x", "result": "pass"}, "bad outcome"),
    (
        "job-finished",
        {"job": "a", "result": {"outcome": "pass"}, "resources": [1]},
        "malformed job-finished",
    ),
    (
        "job-finished",
        {"job": "a", "result": {"outcome": "pass"}, "resources": 1},
        "malformed job-finished",
    ),
    ("session-finished", {}, "malformed session-finished"),
]


@pytest.mark.parametrize(("kind", "data", "message"), MALFORMED)
def test_malformed_records_raise_and_change_nothing(kind, data, message):
    collected: list[tuple[str, Any]] = []
    state = SessionState()
    state.attach(lambda k, d: collected.append((k, d)))
    for good_kind, good_data in [SESSION_STARTED, started("a"), finished("b")]:
        state.record(good_kind, good_data)
    before = observe(state)

    with pytest.raises(ValueError, match=message):
        state.record(kind, data)
    # Nothing half-applied, nothing journaled: live still equals replay.
    assert observe(state) == before
    assert len(collected) == 3


# -- the sink --------------------------------------------------------------------------


def test_records_wait_for_a_sink_and_arrive_in_order():
    state = SessionState()
    state.record(*SESSION_STARTED)
    state.set_title("first")
    assert state.unsaved == [SESSION_STARTED, ("metadata", {"title": "first"})]

    received: list[tuple[str, dict[str, Any]]] = []
    state.attach(lambda kind, data: received.append((kind, data)))
    assert state.unsaved == []
    state.set_flags(["b", "a", "b"])
    assert received == [
        SESSION_STARTED,
        ("metadata", {"title": "first"}),
        ("metadata", {"flags": ["a", "b"]}),
    ]

    state.attach(None)
    state.set_app_blob(b"\xff")
    assert state.unsaved == [("metadata", {"app_blob": "/w=="})]
    assert state.metadata.app_blob == b"\xff"
    assert len(received) == 3


# -- units and questions ----------------------------------------------------------------


def test_units_and_job_states():
    a, b = make_job("a"), make_job("b")
    state = SessionState([a])
    state.update_job_result(a, JobResult(job_id=a.id, outcome=Outcome.FAIL))
    changed_a = make_job("a", summary="changed")
    state.add_unit(changed_a)  # a job known again keeps its history
    state.set_job(b)

    assert state.unit_list == [a, changed_a]
    assert state.job_list == [changed_a, b]
    assert [r.outcome for r in state.job_state_map[a.id].results] == [Outcome.FAIL]
    assert state.changed_jobs() == [a.id]
    assert state.result_of(a.id) == JobResult(job_id=a.id, outcome=Outcome.FAIL)
    assert state.result_of(b.id) is None
    assert state.result_of("unknown") is None


def test_results_in_order_counts_and_failure():
    a, b, c = make_job("a"), make_job("b"), make_job("c")
    state = SessionState([a, b, c])
    failed = [state.failed]
    state.update_job_result(b, JobResult(job_id=b.id, outcome=Outcome.CRASH))
    state.update_job_result(a, JobResult(job_id=a.id, outcome=Outcome.PASS))
    failed.append(state.failed)
    state.update_job_result(b, JobResult(job_id=b.id, outcome=Outcome.PASS))
    failed.append(state.failed)
    assert failed == [False, True, False]  # only the latest result counts

    # Latest result of each job, in the order jobs first finished.
    assert [(s.job_id, r.outcome) for s, r in state.results_in_order()] == [
        (b.id, Outcome.PASS),
        (a.id, Outcome.PASS),
    ]
    assert state.outcome_counts() == {Outcome.PASS: 2}


def test_update_job_result_journals_the_result_without_output():
    job = make_job("r", plugin="resource")
    received: list[tuple[str, dict[str, Any]]] = []
    state = SessionState([job])
    state.attach(lambda kind, data: received.append((kind, data)))
    result = JobResult(
        job_id=job.id, outcome=Outcome.PASS, stdout="a: 1\n", return_code=0
    )
    state.update_job_result(job, result, resources=[{"a": "1"}])

    assert received == [
        (
            "job-finished",
            {
                "job": job.id,
                "checksum": job.checksum,
                "result": {"outcome": "pass", "return_code": 0},
                "resources": [{"a": "1"}],
            },
        )
    ]
    # The live state holds what replay would give: no output.
    assert state.result_of(job.id) == JobResult(
        job_id=job.id, outcome=Outcome.PASS, return_code=0
    )
    assert state.resource_map == {job.id: [{"a": "1"}]}


# -- replay equals live -------------------------------------------------------------------

JOBS = [make_job(n) for n in ("a", "b", "c")] + [make_job("r", plugin="resource")]
JOB_IDS = [job.id for job in JOBS] + ["com.example::generated"]

# Every public name of SessionState, sorted into what full_view() compares
# and what changes state; a new one must be placed here.
QUERIES = {
    "unit_list", "job_state_map", "metadata", "resource_map", "phases",
    "mandatory_job_list", "execution_order", "attempts", "unsaved", "job_list",
    "run_list", "desired_job_list", "changed_jobs", "results_in_order",
    "outcome_counts", "failed", "result_of",
}  # fmt: skip
CHANGERS = {
    "add_unit", "set_job", "attach", "record", "apply", "update_job_result",
    "set_title", "set_flags", "set_app_blob",
}  # fmt: skip


def full_view(state: SessionState) -> dict[str, Any]:
    return {
        "unit_list": state.unit_list,
        "job_state_map": state.job_state_map,
        "metadata": state.metadata,
        "resource_map": state.resource_map,
        "phases": state.phases,
        "mandatory_job_list": state.mandatory_job_list,
        "execution_order": state.execution_order,
        "attempts": state.attempts,
        "unsaved": state.unsaved,
        "job_list": state.job_list,
        "run_list": state.run_list,
        "desired_job_list": state.desired_job_list,
        "changed_jobs": state.changed_jobs(),
        "results_in_order": state.results_in_order(),
        "outcome_counts": state.outcome_counts(),
        "failed": state.failed,
        "result_of": {job_id: state.result_of(job_id) for job_id in JOB_IDS},
    }


def test_every_public_name_is_compared():
    public = {name for name in dir(SessionState) if not name.startswith("_")}
    public |= {name for name in vars(SessionState()) if not name.startswith("_")}
    assert public == QUERIES | CHANGERS
    assert set(full_view(SessionState())) == QUERIES


# No surrogates: JSON reads a high one followed by a low one back as a single
# astral character, and surrogateescape only ever makes low ones.
JSON_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
RESULTS = st.builds(
    JobResult,
    job_id=st.just(""),
    outcome=st.sampled_from(Outcome),
    return_code=st.none() | st.integers(-1, 255),
    duration=st.floats(0, 100),
    comments=JSON_TEXT,
    skip_reason=st.none() | st.dictionaries(JSON_TEXT, JSON_TEXT, max_size=2),
    stdout=JSON_TEXT,
    started=st.none() | st.floats(0, 1e9),
)
JOB_INDEX = st.integers(0, len(JOBS) - 1)
ACTIONS = st.one_of(
    st.tuples(
        st.just("phase"),
        st.sampled_from(["bootstrap", "main"]),
        st.lists(st.sampled_from(JOB_IDS), max_size=4),
        st.lists(st.sampled_from(JOB_IDS), max_size=2),
    ),
    st.tuples(
        st.just("start"),
        st.sampled_from(JOB_IDS),
        st.sampled_from([None, "c1", "c2"]),
        st.floats(0, 1e9),
    ),
    st.tuples(st.just("abandon"), st.sampled_from(JOB_IDS)),
    st.tuples(
        st.just("result"),
        JOB_INDEX,
        RESULTS,
        st.none()
        | st.lists(st.dictionaries(JSON_TEXT, JSON_TEXT, max_size=2), max_size=2),
    ),
    st.tuples(
        st.just("raw-result"),
        st.sampled_from(JOB_IDS),
        RESULTS,
        st.sampled_from([None, "c1"]),
    ),
    st.tuples(st.just("title"), JSON_TEXT),
    st.tuples(
        st.just("flags"),
        st.lists(
            st.sampled_from([FLAG_INCOMPLETE, FLAG_BOOTSTRAPPING, FLAG_SUBMITTED])
        ),
    ),
    st.tuples(st.just("blob"), st.none() | st.binary(max_size=8)),
    st.tuples(st.just("finish"), st.floats(0, 1e9)),
)


def perform(state: SessionState, action: tuple[Any, ...]) -> None:
    match action:
        case ("phase", name, jobs, mandatory):
            state.record("phase", {"name": name, "jobs": jobs, "mandatory": mandatory})
        case ("start", job_id, checksum, at):
            state.record(
                "job-started", {"job": job_id, "checksum": checksum, "started": at}
            )
        case ("abandon", job_id):
            state.record("job-abandoned", {"job": job_id})
        case ("result", index, result, resources):
            state.update_job_result(JOBS[index], result, resources)
        case ("raw-result", job_id, result, checksum):
            state.record(
                "job-finished",
                {"job": job_id, "checksum": checksum, "result": result.to_record()},
            )
        case ("title", title):
            state.set_title(title)
        case ("flags", flags):
            state.set_flags(flags)
        case ("blob", blob):
            state.set_app_blob(blob)
        case ("finish", at):
            state.record("session-finished", {"finished": at})
        case _:  # pragma: no cover - the strategy makes only the above
            raise AssertionError(action)


@settings(max_examples=60, deadline=None)
@given(st.lists(ACTIONS, max_size=25))
def test_replaying_the_journal_gives_the_live_state(actions):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "journal.jsonl"
        journal = Journal(path)

        def sink(kind: str, data: dict[str, Any]) -> None:
            journal.append(kind, data)

        live = SessionState(JOBS)
        live.attach(sink)
        live.record(
            "session-started", {"created": 1.5, "title": "t", "options": {"o": [1]}}
        )
        for action in actions:
            perform(live, action)
        journal.close()
        records = read_journal(path).records

    replayed = SessionState(JOBS)
    for record in records:
        replayed.apply(record.kind, record.data)

    assert full_view(replayed) == full_view(live)


def test_replay_of_collected_records_without_a_journal():
    collected: list[tuple[str, dict[str, Any]]] = []
    live = SessionState(JOBS)
    live.attach(lambda kind, data: collected.append((kind, data)))
    live.record(*SESSION_STARTED)
    live.record("phase", {"name": "main", "jobs": JOB_IDS, "mandatory": [JOB_IDS[0]]})
    live.record(*started(JOBS[0].id))
    live.update_job_result(
        JOBS[0], JobResult(job_id="", outcome=Outcome.FAIL, duration=1.0)
    )
    live.record(*started(JOBS[1].id))

    replayed = SessionState(JOBS)
    for kind, data in collected:
        replayed.apply(kind, data)
    assert full_view(replayed) == full_view(live)
    assert replayed.metadata.running_job == JOBS[1].id


def test_job_state_defaults():
    state = JobState("x")
    assert state.result is None
    assert not state.changed
