"""The operator at a terminal: instructions for interactive jobs, and verdicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from plainbox.cli.terminal import sanitize
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.units.model import JobDefinition


__all__ = ["TerminalOperator"]

_VERDICTS = {"p": Outcome.PASS, "f": Outcome.FAIL, "s": Outcome.SKIP}


class TerminalOperator:
    """Asks the person at the terminal, through ``ask`` (``input`` by default)."""

    def __init__(self, out: TextIO, ask: Callable[[str], str] = input) -> None:
        self._out = out
        self._ask = ask

    def _show(self, job: JobDefinition) -> None:
        self._out.write(f"\n== {sanitize(job.summary)} ({job.id})\n")
        for title, text in (
            ("Purpose", job.purpose),
            ("Steps", job.steps),
            ("Verification", job.verification),
        ):
            if text:
                self._out.write(f"{title}:\n{sanitize(text)}\n")
        if not (job.purpose or job.steps or job.verification) and job.description:
            self._out.write(sanitize(job.description) + "\n")

    def ready(self, job: JobDefinition) -> bool:
        """Show the instructions; Enter runs the job, ``s`` skips it."""
        self._show(job)
        if job.plugin == "manual":
            return True
        answer = self._ask("Press Enter to start, or type s to skip: ")
        return answer.strip().lower() != "s"

    def verdict(
        self, job: JobDefinition, result: JobResult | None
    ) -> tuple[Outcome, str]:
        """Ask for pass, fail or skip, and an optional comment."""
        hint = ""
        if result is not None:
            if result.stdout.strip():
                self._out.write(sanitize(result.stdout))
            suggested = "pass" if result.return_code == 0 else "fail"
            hint = f" (the command suggests {suggested})"
        while True:
            answer = self._ask(f"Outcome{hint}? [p]ass, [f]ail, [s]kip: ")
            outcome = _VERDICTS.get(answer.strip().lower()[:1])
            if outcome is not None:
                break
            self._out.write("Please answer p, f or s.\n")
        # A blocker that does not pass needs an explanation for the reviewer.
        needs_comment = job.certification_status == "blocker" and outcome in {
            Outcome.FAIL,
            Outcome.SKIP,
        }
        prompt = (
            "Comment (required for a blocker): "
            if needs_comment
            else "Comment (optional): "
        )
        comment = self._ask(prompt).strip()
        while needs_comment and not comment:
            comment = self._ask(prompt).strip()
        return outcome, comment
