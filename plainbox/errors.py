"""The plainbox exception tree.

Every error plainbox raises on purpose derives from :class:`PlainboxError`;
anything else escaping to the command line is a bug and keeps its traceback::

    PlainboxError
    ├── UsageError                 bad command-line use (exit status 2)
    ├── ProviderError              a provider cannot be found or read
    │   └── UnitError              a unit is malformed (located: path:line)
    │       └── UnitSyntaxError    a unit file cannot be parsed
    ├── UnknownUnitError           no unit has the requested id (also LookupError)
    ├── ResourceExpressionError    a requires/template-filter program is invalid
    ├── DependencyError            dependency cycle or missing dependency
    ├── SessionError
    │   ├── CorruptSessionError
    │   ├── IncompatibleSessionError
    │   └── SessionLockedError
    ├── ExecutionError             a job could not be started at all
    │   └── SetupFailedError       a setup job failed; the run stopped
    ├── ExporterError              a report could not be produced
    └── RemoteError                the agent link failed

A failing *job* is a result, never an exception.
"""

from __future__ import annotations

from typing import Any


__all__ = [
    "CorruptSessionError",
    "DependencyError",
    "ExecutionError",
    "ExporterError",
    "IncompatibleSessionError",
    "PlainboxError",
    "ProviderError",
    "RemoteError",
    "ResourceExpressionError",
    "SessionError",
    "SessionLockedError",
    "SetupFailedError",
    "UnitError",
    "UnitSyntaxError",
    "UnknownUnitError",
    "UsageError",
]


class PlainboxError(Exception):
    """Base class of every error plainbox raises deliberately."""


class UsageError(PlainboxError):
    """The command line or an API call was used wrongly."""


class ProviderError(PlainboxError):
    """A provider could not be discovered or read."""


class UnitError(ProviderError):
    """A unit is malformed; ``path`` and ``line`` locate the problem."""

    def __init__(self, message: str, path: str = "", line: int = 0) -> None:
        self.message = message
        self.path = path
        self.line = line
        location = f"{path}:{line}: " if path else ""
        super().__init__(f"{location}{message}")


class UnitSyntaxError(UnitError):
    """A unit file could not be parsed."""


class UnknownUnitError(PlainboxError, LookupError):
    """No unit has the requested id."""


class ResourceExpressionError(PlainboxError):
    """A resource program (``requires``, ``template-filter``) is invalid.

    ``line_offset`` counts from 0, the program's first line, so callers that
    know where the field starts can report ``path:line``.
    """

    def __init__(self, message: str, line_offset: int = 0) -> None:
        self.message = message
        self.line_offset = line_offset
        super().__init__(message)


class DependencyError(PlainboxError):
    """Jobs depend on each other in a cycle, or on a job that does not exist.

    ``jobs`` names the jobs involved.
    """

    def __init__(self, message: str, jobs: list[str] | None = None) -> None:
        self.jobs = list(jobs or [])
        super().__init__(message)


class SessionError(PlainboxError):
    """A session could not be created, read or written."""


class CorruptSessionError(SessionError):
    """Session data on disk is damaged beyond the tolerated torn tail."""


class IncompatibleSessionError(SessionError):
    """Session data was written in a format this version cannot read."""


class SessionLockedError(SessionError):
    """Another process holds the session's lock."""

    def __init__(self, message: str, pid: int | None = None) -> None:
        self.pid = pid
        super().__init__(message)


class ExecutionError(PlainboxError):
    """A job could not be started at all (not: the job failed)."""


class SetupFailedError(ExecutionError):
    """A setup job did not pass, so the run stopped before its test jobs.

    ``results`` holds the ``(job, result)`` pairs of what did run, so that
    reports can still be written.
    """

    def __init__(self, message: str, results: list[Any]) -> None:
        self.results = results
        super().__init__(message)


class ExporterError(PlainboxError):
    """An exporter could not produce its report."""


class RemoteError(PlainboxError):
    """The link to a remote agent failed."""
