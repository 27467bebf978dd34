"""Progress of a run on the terminal: one line per job, then a summary table.

The reporter's methods are the run loop's callbacks (``RunOptions.on_phase``,
``on_start``, ``on_result``). Bootstrap and main-phase jobs are counted
(``[n/N]``; N grows when bootstrapping adds jobs); setup jobs are labelled
``[setup]``. A job's line shows its outcome, summary, id and duration, and an
estimate of the time left: the ``estimated_duration`` of the jobs not
finished yet (``~`` when every job has one, ``>`` when only some do, nothing
when none does).

On a terminal, a "running" line is shown while a job runs (an automated
job's is then rewritten in place with its outcome), and outcomes are coloured unless ``NO_COLOR`` is set to a
non-empty value (https://no-color.org) or ``TERM`` is ``dumb``. Anywhere else
the output is plain lines: no colour, no carriage returns, no escape codes.
Every piece of text that comes from a provider or a job goes through
:func:`~plainbox.cli.terminal.sanitize`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TextIO

from plainbox.cli.terminal import sanitize
from plainbox.exporters.jsonreport import job_ran
from plainbox.exporters.text import render_summary
from plainbox.session.results import FAILING_OUTCOMES
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.units.model import JobDefinition


__all__ = [
    "ProgressReporter",
    "format_seconds",
    "render_summary",
    "use_color",
]

#: Phases whose jobs the ``[n/N]`` counter counts.
COUNTED_PHASES = frozenset({"bootstrap", "main"})
STDERR_TAIL_LINES = 5
_OUTCOME_WIDTH = max(len(outcome.value) for outcome in Outcome)
_INDENT = " " * 8
_COLORS = {
    Outcome.PASS: "32",  # green
    Outcome.FAIL: "31",  # red
    Outcome.CRASH: "1;35",  # bold magenta
    Outcome.UNDECIDED: "36",  # cyan
}
_SKIP_COLOR = "33"  # yellow


def use_color(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """True when ``stream`` is a terminal and neither NO_COLOR nor TERM=dumb says no."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except ValueError:  # closed
        return False


def format_seconds(seconds: float) -> str:
    """``0.42s``, ``42s``, ``3m05s``, ``1h02m``: short, for progress lines."""
    if seconds < 10:
        return f"{seconds:.2f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _one_line(text: str) -> str:
    return " ".join(sanitize(text).split())


def _job_label(job: JobDefinition) -> str:
    summary = _one_line(job.summary)
    return f"{summary} ({_one_line(job.id)})" if summary else _one_line(job.id)


class ProgressReporter:
    """Prints the progress of a run; its methods are the run loop's callbacks.

    :param tty: rewrite lines in place (default: whether ``stream`` is a terminal).
    :param color: colour outcomes (default: :func:`use_color`).
    :param width: the terminal width that in-place lines are cut to.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        color: bool | None = None,
        width: int | None = None,
    ) -> None:
        self._out = stream if stream is not None else sys.stdout
        self._tty = _isatty(self._out) if tty is None else tty
        self._color = use_color(self._out) if color is None else color
        self._width = width if width is not None else self._terminal_width()
        self._phase: str | None = None
        self._phases_announced = False
        self._planned: dict[str, JobDefinition] = {}  # counted jobs, in order
        self._done: set[str] = set()
        # Running totals over planned jobs not yet done, so the ETA costs
        # O(1) per job instead of a sum over the whole plan.
        self._left_seconds = 0.0
        self._left_unknown = 0
        self._planned_done = 0
        self._counted = 0
        self._pending = ""  # the in-place line waiting for its outcome
        self._label: dict[str, str] = {}  # job id -> its [n/N] or [setup]
        #: Every ``(job, result)`` reported so far, in run order.
        self.results: list[tuple[JobDefinition, JobResult]] = []

    def _terminal_width(self) -> int:
        try:
            columns = os.get_terminal_size(self._out.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = 0
        return columns if columns > 0 else 80  # a new pty may say 0

    # -- the run loop's callbacks ------------------------------------------------

    def on_phase(self, phase: str, jobs: Sequence[JobDefinition]) -> None:
        """A phase begins with these jobs: count them (bootstrap and main)."""
        self._phase = phase
        self._phases_announced = True
        if phase in COUNTED_PHASES:
            for job in jobs:
                if job.id not in self._done:
                    self._plan(job)

    def on_start(self, job: JobDefinition) -> None:
        """A job starts: on a terminal, its counter, name and the time left."""
        label = self._counter(job)
        self._label[job.id] = label
        if not self._tty:
            return  # plain output: one line per job, once it is done
        line = f"{label} {'running':<{_OUTCOME_WIDTH}} {_job_label(job)}"
        eta = self._eta()
        if eta:
            line += f"  ({eta})"
        if job.automated:
            # Rewritten with the outcome once the job is done.
            self._pending = line[: max(self._width - 1, 20)]
            self._out.write(self._pending)
        else:
            self._out.write(line + "\n")  # the operator's dialogue follows
        self._out.flush()

    def on_result(self, job: JobDefinition, result: JobResult) -> None:
        """A job finished: its outcome and duration, and why when it failed."""
        self.results.append((job, result))
        if job.id in self._planned and job.id not in self._done:
            planned = self._planned[job.id]
            self._planned_done += 1
            if planned.estimated_duration is None:
                self._left_unknown -= 1
            else:
                self._left_seconds -= planned.estimated_duration
        self._done.add(job.id)
        label = self._label.pop(job.id, None) or self._counter(job)
        outcome = result.outcome.value
        rest = " " * (_OUTCOME_WIDTH - len(outcome)) + f" {_job_label(job)}"
        if job_ran(result):
            rest += f"  {format_seconds(result.duration)}"
        if not self._tty:
            eta = self._eta()
            if eta:
                rest += f"  ({eta})"
        if self._color:
            color = _COLORS.get(result.outcome, _SKIP_COLOR)
            line = f"{label} \x1b[{color}m{outcome}\x1b[0m{rest}"
        else:
            line = f"{label} {outcome}{rest}"
        if self._pending:
            # Spaces, not an erase-line escape, cover what is left of the old line.
            visible = len(label) + 1 + len(outcome) + len(rest)
            cover = max(len(self._pending) - visible, 0)
            self._out.write("\r" + line + " " * cover + "\n")
            self._pending = ""
        else:
            self._out.write(line + "\n")
        for detail in self._details(result):
            self._out.write(f"{_INDENT}{detail}\n")
        self._out.flush()

    # -- the end -------------------------------------------------------------------

    def print_summary(
        self, results: Sequence[tuple[JobDefinition, JobResult]] | None = None
    ) -> None:
        """The table of outcomes (of ``results``, default: what was reported)."""
        rows = self.results if results is None else results
        self._out.write("\n")
        for line in render_summary(rows):
            self._out.write(line + "\n")
        self._out.flush()

    # -- helpers -------------------------------------------------------------------

    def _is_counted(self) -> bool:
        return self._phase is None or self._phase in COUNTED_PHASES

    def _counter(self, job: JobDefinition) -> str:
        if not self._is_counted():
            return f"[{self._phase}]"
        self._plan(job)
        self._counted += 1
        if not self._phases_announced:
            return f"[{self._counted}]"
        total = str(len(self._planned))
        return f"[{self._counted:>{len(total)}}/{total}]"

    def _plan(self, job: JobDefinition) -> None:
        if job.id in self._planned:
            return
        self._planned[job.id] = job
        if job.id in self._done:
            self._planned_done += 1
        elif job.estimated_duration is None:
            self._left_unknown += 1
        else:
            self._left_seconds += job.estimated_duration

    def _eta(self) -> str:
        if not self._is_counted():
            return ""
        known = len(self._planned) - self._planned_done - self._left_unknown
        if known <= 0:
            return ""
        prefix = ">" if self._left_unknown else "~"
        return f"ETA {prefix}{format_seconds(max(self._left_seconds, 0.0))}"

    def _details(self, result: JobResult) -> list[str]:
        lines: list[str] = []
        if result.outcome is not Outcome.PASS and result.comments.strip():
            lines.append(_one_line(result.comments))
        if result.outcome in FAILING_OUTCOMES and result.stderr.strip():
            tail = sanitize(result.stderr).rstrip().splitlines()[-STDERR_TAIL_LINES:]
            lines.extend(f"| {line}" for line in tail)
        return lines
