"""The text report: what the terminal summary shows, as a file.

::

    <title>
    Test plan: <id>
    Session: <id>

    pass               com.example::a  Summary of a
    fail               com.example::b  Summary of b
    ...

      outcome             jobs
      pass                   1
      fail                   1
      total                  2

    Failed or crashed jobs:
      com.example::b (fail): comments

Every job-provided string is sanitized (no terminal escapes or control
characters) and kept to one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from plainbox.cli.terminal import sanitize
from plainbox.exporters.base import Exporter
from plainbox.session.results import FAILING_OUTCOMES
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.view import SessionView
from plainbox.units.model import JobDefinition


__all__ = ["TextExporter", "render_summary"]

_OUTCOME_WIDTH = max(len(outcome.value) for outcome in Outcome)


def _one_line(text: str) -> str:
    return " ".join(sanitize(text).split())


def render_summary(results: Sequence[tuple[JobDefinition, JobResult]]) -> list[str]:
    """The summary table: count per outcome, total, and what failed or crashed."""
    counts: dict[Outcome, int] = {}
    for _, result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    width = max(_OUTCOME_WIDTH, len("total"))
    number = max(len(str(len(results))), 4)
    lines = [f"  {'outcome':<{width}}  {'jobs':>{number}}"]
    lines += [
        f"  {outcome.value:<{width}}  {counts[outcome]:>{number}}"
        for outcome in Outcome  # a fixed order, whatever order jobs ran in
        if outcome in counts
    ]
    lines.append(f"  {'total':<{width}}  {len(results):>{number}}")
    failed = [
        (job, result) for job, result in results if result.outcome in FAILING_OUTCOMES
    ]
    if failed:
        lines.append("")
        lines.append("Failed or crashed jobs:")
        for job, result in failed:
            comments = _one_line(result.comments)
            detail = f": {comments}" if comments else ""
            lines.append(f"  {_one_line(job.id)} ({result.outcome.value}){detail}")
    return lines


class TextExporter(Exporter):
    """A plain-text list of results and the summary table."""

    id = "text"
    file_extension = "txt"
    summary = "text: one line per job and the outcome counts, for people"

    def export(self, session: SessionView, stream: BinaryIO) -> None:
        lines = [_one_line(session.title)]
        if session.test_plan:
            lines.append(f"Test plan: {_one_line(session.test_plan)}")
        lines.append(f"Session: {session.id}")
        lines.append("")
        several = len(session.devices) > 1
        for entry in session.entries:
            device = f"{_one_line(entry.device)}  " if several else ""
            lines.append(
                f"{entry.result.outcome.value:<{_OUTCOME_WIDTH}} {device}"
                f"{_one_line(entry.job.id)}  {_one_line(entry.job.summary)}".rstrip()
            )
        lines.append("")
        lines += render_summary([(e.job, e.result) for e in session.entries])
        stream.write(("\n".join(lines) + "\n").encode("utf-8"))
