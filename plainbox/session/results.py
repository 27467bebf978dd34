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
    extra: dict[str, Any] = field(default_factory=dict)
