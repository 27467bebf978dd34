"""Located problems: what parsing, loading and validation report instead of raising."""

from __future__ import annotations

import enum
from dataclasses import dataclass


__all__ = ["Origin", "Problem", "Severity"]


@dataclass(frozen=True, slots=True, order=True)
class Origin:
    """Where something was defined: a file and a 1-based line (0: the whole file)."""

    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def at(self, line: int) -> Origin:
        """The same file at another line."""
        return Origin(self.path, line)


class Severity(str, enum.Enum):
    """How bad a problem is; only errors make ``plainbox validate`` fail."""

    ERROR = "error"
    WARNING = "warning"
    ADVICE = "advice"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about a unit or unit file, printed as ``path:line: severity: msg``."""

    severity: Severity
    origin: Origin
    message: str
    unit_id: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.origin}: {self.severity}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        """Plain data for ``--format json``."""
        return {
            "path": self.origin.path,
            "line": self.origin.line,
            "severity": self.severity.value,
            "message": self.message,
            "unit": self.unit_id,
            "field": self.field,
        }
