"""Job outcomes and results."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from dataclasses import field
from typing import Any


__all__ = ["FAILING_OUTCOMES", "JobResult", "Outcome"]


class Outcome(str, enum.Enum):
    """What became of a job."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    SKIPPED_DEPENDENCY = "skipped-dependency"
    SKIPPED_RESOURCE = "skipped-resource"
    SKIPPED_MANIFEST = "skipped-manifest"
    NOT_SUPPORTED = "not-supported"
    NOT_IMPLEMENTED = "not-implemented"
    UNDECIDED = "undecided"
    CRASH = "crash"

    def __str__(self) -> str:
        return self.value

    @property
    def is_skip(self) -> bool:
        """True for every outcome meaning the job did not really run."""
        return self in _SKIPS


_SKIPS = frozenset(
    {
        Outcome.SKIP,
        Outcome.SKIPPED_DEPENDENCY,
        Outcome.SKIPPED_RESOURCE,
        Outcome.SKIPPED_MANIFEST,
        Outcome.NOT_SUPPORTED,
        Outcome.NOT_IMPLEMENTED,
    }
)

#: Outcomes that make a run exit with status 1.
FAILING_OUTCOMES = frozenset({Outcome.FAIL, Outcome.CRASH})


@dataclass(frozen=True, slots=True, kw_only=True)
class JobResult:
    """The result of one attempt at a job."""

    job_id: str
    outcome: Outcome
    return_code: int | None = None
    duration: float = 0.0
    comments: str = ""
    skip_reason: dict[str, Any] | None = None
    stdout: str = ""
    stderr: str = ""
    started: float | None = None  # seconds since the epoch
    finished: float | None = None  # seconds since the epoch
    # The attempt's io-log, relative to the session directory; None when the
    # command printed nothing (or did not run).
    io_log: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """The journal form: every field but the output, which is in the io-log."""
        record: dict[str, Any] = {"outcome": self.outcome.value}
        for name in _RECORDED:
            value = getattr(self, name)
            # Only defaults are left out, so from_record restores every
            # field exactly (an empty skip_reason is not None).
            if value != _DEFAULTS[name]:
                record[name] = value
        return record

    @classmethod
    def from_record(cls, job_id: str, record: dict[str, Any]) -> JobResult:
        """Rebuild a result from :meth:`to_record`'s form.

        :raises ValueError: the record does not describe a result.
        """
        try:
            outcome = Outcome(record["outcome"])
        except (KeyError, TypeError, ValueError) as exc:  # TypeError: not a dict
            raise ValueError(f"bad outcome in {record!r}") from exc
        values = {name: record[name] for name in _RECORDED if name in record}
        return cls(job_id=job_id, outcome=outcome, **values)


_RECORDED = (
    "return_code",
    "duration",
    "comments",
    "skip_reason",
    "started",
    "finished",
    "io_log",
    "extra",
)
# Each recorded field's default, taken from the dataclass so the two agree.
_DEFAULTS: dict[str, Any] = {
    name: getattr(JobResult(job_id="", outcome=Outcome.PASS), name)
    for name in _RECORDED
}
