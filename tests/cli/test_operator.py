"""The terminal operator: instructions shown, verdicts and comments asked."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from plainbox.cli.operator import TerminalOperator
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import JobDefinition
from plainbox.units.problems import Origin


def make_job(**fields: str) -> JobDefinition:
    unit = unit_from_fields(
        "job",
        {"id": "j", "plugin": "manual", "summary": "Look", **fields},
        namespace="com.example",
        provider="p",
        origin=Origin("u.pxu", 1),
        field_lines={},
    )
    assert isinstance(unit, JobDefinition)
    return unit


def scripted(*answers: str):
    pending = list(answers)
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return pending.pop(0)

    return ask, asked


@pytest.mark.parametrize(
    ("answers", "outcome", "comment"),
    [
        (("p", "fine"), Outcome.PASS, "fine"),
        (("F", ""), Outcome.FAIL, ""),
        (("x", "s", "later"), Outcome.SKIP, "later"),
    ],
)
def test_verdict_reads_outcome_and_comment(answers, outcome, comment):
    ask, _ = scripted(*answers)
    operator = TerminalOperator(io.StringIO(), ask)
    assert operator.verdict(make_job(), None) == (outcome, comment)


def test_blocker_failure_requires_a_comment():
    ask, asked = scripted("f", "", "", "cable unplugged")
    job = replace(make_job(), certification_status="blocker")
    operator = TerminalOperator(io.StringIO(), ask)
    assert operator.verdict(job, None) == (Outcome.FAIL, "cable unplugged")
    assert sum("required" in prompt for prompt in asked) == 3


def test_instructions_are_shown_sanitized_and_output_suggests_outcome():
    out = io.StringIO()
    ask, asked = scripted("", "p", "")
    job = make_job(
        plugin="user-interact-verify", purpose="Check \x1b[31mit", command="true"
    )
    operator = TerminalOperator(out, ask)
    assert operator.ready(job) is True
    result = JobResult(
        job_id=job.id, outcome=Outcome.PASS, return_code=0, stdout="ok\n"
    )
    operator.verdict(job, result)
    assert "Purpose:\nCheck it" in out.getvalue()
    assert "\x1b" not in out.getvalue()
    assert "suggests pass" in asked[1]


def test_ready_may_skip():
    ask, _ = scripted("s")
    operator = TerminalOperator(io.StringIO(), ask)
    assert operator.ready(make_job(plugin="user-interact", command="true")) is False
