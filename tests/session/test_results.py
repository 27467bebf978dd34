"""Job results and their journal form."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox.session.results import FAILING_OUTCOMES
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=6,
)
JSON_OBJECTS = st.dictionaries(st.text(), JSON_VALUES, max_size=3)
TIMES = st.none() | st.floats(min_value=0, max_value=4e9)

RESULTS = st.builds(
    JobResult,
    job_id=st.text(min_size=1),
    outcome=st.sampled_from(Outcome),
    return_code=st.none() | st.integers(-255, 255),
    duration=st.floats(min_value=0, max_value=1e6),
    comments=st.text(),
    skip_reason=st.none() | JSON_OBJECTS,
    stdout=st.text(),
    stderr=st.text(),
    started=TIMES,
    finished=TIMES,
    io_log=st.none() | st.text(),
    extra=JSON_OBJECTS,
)


def without_output(result: JobResult) -> JobResult:
    # By design the journal leaves the output out: the io-log holds it.
    return dataclasses.replace(result, stdout="", stderr="")


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_field_round_trips_for_every_outcome(outcome):
    result = JobResult(
        job_id="com.example::job",
        outcome=outcome,
        return_code=3,
        duration=1.25,
        comments="operator's comment ✓",
        skip_reason={"related_dependencies": ["com.example::a"], "why": "because"},
        stdout="printed",
        stderr="complained",
        started=1700000000.5,
        finished=1700000001.75,
        io_log="io-logs/1-job.log",
        extra={"attachment": True},
    )
    record = result.to_record()

    assert "stdout" not in record
    assert "stderr" not in record
    assert record["outcome"] == outcome.value
    # The record is what goes into the journal: it must survive JSON.
    restored = JobResult.from_record(result.job_id, json.loads(json.dumps(record)))
    assert restored == without_output(result)


@settings(max_examples=60, deadline=None)
@given(RESULTS)
def test_round_trip_through_json(result):
    record = json.loads(json.dumps(result.to_record()))
    assert JobResult.from_record(result.job_id, record) == without_output(result)


@pytest.mark.parametrize(
    ("result", "record"),
    [
        (JobResult(job_id="j", outcome=Outcome.PASS), {"outcome": "pass"}),
        (
            JobResult(job_id="j", outcome=Outcome.FAIL, return_code=0),
            {"outcome": "fail", "return_code": 0},  # 0 is not "no return code"
        ),
        (
            JobResult(job_id="j", outcome=Outcome.SKIP, skip_reason={}),
            {"outcome": "skip", "skip_reason": {}},  # an empty reason is not None
        ),
        (
            JobResult(job_id="j", outcome=Outcome.PASS, io_log=""),
            {"outcome": "pass", "io_log": ""},
        ),
        (
            JobResult(job_id="j", outcome=Outcome.PASS, stdout="out", stderr="err"),
            {"outcome": "pass"},
        ),
        (
            JobResult(job_id="j", outcome=Outcome.CRASH, started=0.0, duration=2.0),
            {"outcome": "crash", "started": 0.0, "duration": 2.0},
        ),
    ],
    ids=[
        "defaults",
        "return-code-0",
        "empty-skip-reason",
        "empty-io-log",
        "output",
        "epoch",
    ],
)
def test_record_holds_exactly_the_non_default_fields(result, record):
    assert result.to_record() == record
    assert JobResult.from_record("j", record) == without_output(result)


def test_from_record_ignores_unknown_keys():
    # A newer writer's extra keys must not make the result unreadable.
    restored = JobResult.from_record("j", {"outcome": "pass", "new_field": 1})
    assert restored == JobResult(job_id="j", outcome=Outcome.PASS)


@pytest.mark.parametrize(
    "record",
    [{}, {"outcome": "passed"}, {"outcome": None}, {"outcome": 1}, [], "pass", None],
    ids=["no-outcome", "unknown", "none", "int", "list", "str", "null"],
)
def test_from_record_rejects_what_is_not_a_result(record):
    with pytest.raises(ValueError, match="bad outcome"):
        JobResult.from_record("j", record)


# outcome, is_skip, failing
OUTCOME_CLASSES = [
    (Outcome.PASS, False, False),
    (Outcome.FAIL, False, True),
    (Outcome.CRASH, False, True),
    (Outcome.UNDECIDED, False, False),
    (Outcome.SKIP, True, False),
    (Outcome.SKIPPED_DEPENDENCY, True, False),
    (Outcome.SKIPPED_RESOURCE, True, False),
    (Outcome.SKIPPED_MANIFEST, True, False),
    (Outcome.NOT_SUPPORTED, True, False),
    (Outcome.NOT_IMPLEMENTED, True, False),
]


@pytest.mark.parametrize(("outcome", "is_skip", "failing"), OUTCOME_CLASSES)
def test_outcome_classes(outcome, is_skip, failing):
    assert outcome.is_skip is is_skip
    assert (outcome in FAILING_OUTCOMES) is failing
    assert str(outcome) == outcome.value
    assert Outcome(outcome.value) is outcome


def test_the_outcome_table_covers_every_outcome():
    # A new outcome must be classified here, not silently left out.
    assert sorted(row[0] for row in OUTCOME_CLASSES) == sorted(Outcome)
