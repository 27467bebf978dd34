"""Sessions on disk for exporter tests, built without running any process.

``make_session`` writes a real session (journal, io-logs) through the
SessionManager API and returns a :class:`SessionView` of it loaded back
read-only from disk, exactly what exporters get in production.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pytest

from plainbox.execution.iolog import OutputLine
from plainbox.execution.iolog import write_io_log
from plainbox.session.manager import FLAG_READ_ONLY
from plainbox.session.manager import SessionManager
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.storage import SessionStorageRepository
from plainbox.session.view import SessionView
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import Unit
from plainbox.units.problems import Origin


NAMESPACE = "com.example"


@dataclass
class FakeJob:
    """One job of a made-up session and what became of it."""

    id: str
    outcome: str = "pass"
    summary: str = ""
    plugin: str = "shell"
    category: str = "com.example::cat-a"
    certification_status: str = "non-blocker"
    stdout: bytes = b""
    stderr: bytes = b""
    comments: str = ""
    return_code: int | None = 0
    duration: float = 0.5
    skip_reason: dict[str, Any] | None = None
    extra_fields: dict[str, str] = field(default_factory=dict)


def _unit(unit_type: str, fields: dict[str, str]) -> Unit:
    return unit_from_fields(
        unit_type,
        fields,
        namespace=NAMESPACE,
        provider="com.example:exporter-tests",
        origin=Origin("units/jobs.pxu", 1),
        field_lines={},
    )


@pytest.fixture
def make_session(
    tmp_path,
) -> Callable[..., SessionView]:
    """Factory: ``make_session(jobs, title=..., categories=...)`` → SessionView.

    Times are fixed (the session starts at 1,800,000,000 s and each job takes
    its ``duration``) so exports are reproducible.
    """
    counter = itertools.count()

    def factory(
        jobs: Sequence[FakeJob],
        *,
        title: str = "Exporter test session",
        test_plan: str | None = "com.example::plan",
        categories: dict[str, str] | None = None,
    ) -> SessionView:
        categories = categories or {
            "com.example::cat-a": "Category A",
            "com.example::cat-b": "Category B",
        }
        units: list[Unit] = [
            _unit("category", {"id": cat_id.split("::")[1], "name": name})
            for cat_id, name in categories.items()
        ]
        for job in jobs:
            fields = {
                "id": job.id,
                "plugin": job.plugin,
                "summary": job.summary or f"Summary of {job.id}",
                "category_id": job.category,
                "certification-status": job.certification_status,
                "command": "true",
                **job.extra_fields,
            }
            units.append(_unit("job", fields))
        repo = SessionStorageRepository(tmp_path / f"repo-{next(counter)}")
        manager = SessionManager.create(repo)
        from plainbox.session.context import SessionDeviceContext
        from plainbox.session.state import SessionState

        state = SessionState(units)
        state.metadata.title = title
        state.metadata.test_plan = test_plan
        manager.add_device_context(SessionDeviceContext(state))
        clock = 1_800_000_000.0
        by_id = {u.id: u for u in units}
        for number, job in enumerate(jobs, start=1):
            definition = by_id[f"{NAMESPACE}::{job.id}"]
            io_log = None
            if job.stdout or job.stderr:
                io_log = f"io-logs/{number:04d}-{job.id}.log"
                lines = [
                    OutputLine("stdout", chunk, 0.1)
                    for chunk in job.stdout.splitlines(keepends=True)
                ] + [
                    OutputLine("stderr", chunk, 0.2)
                    for chunk in job.stderr.splitlines(keepends=True)
                ]
                write_io_log(manager.storage.path / io_log, lines)
            ran = job.return_code is not None
            result = JobResult(
                job_id=definition.id,
                outcome=Outcome(job.outcome),
                return_code=job.return_code,
                duration=job.duration if ran else 0.0,
                comments=job.comments,
                skip_reason=job.skip_reason,
                started=clock if ran else None,
                finished=clock + job.duration if ran else None,
                io_log=io_log,
            )
            state.update_job_result(definition, result)  # type: ignore[arg-type]
            clock += job.duration
        state.record("session-finished", {"finished": clock})
        storage = manager.storage
        manager.close()
        loaded = SessionManager.load_session(units, storage, flags={FLAG_READ_ONLY})
        return SessionView.of(loaded)

    return factory
