"""A read-only view of a session: what reports are made from.

Exporters never see live state: they get a :class:`SessionView` built from
a session manager (normally one loaded read-only from disk), so a report
can always be made again, and comes out the same, from the session's files.
Job output is read from the io-logs when asked for.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import cast

from plainbox.errors import PlainboxError
from plainbox.execution.iolog import iter_io_log
from plainbox.session.manager import SessionManager
from plainbox.session.results import JobResult
from plainbox.units.model import Category
from plainbox.units.model import JobDefinition


__all__ = ["ResultEntry", "SessionView", "merge_views", "read_output"]


def read_output(session_dir: Path, result: JobResult) -> tuple[bytes, bytes]:
    """A result's stdout and stderr bytes, from its io-log (empty when none).

    :raises OSError: the io-log cannot be read.
    :raises CorruptSessionError: the io-log is damaged.
    """
    if result.io_log is None:
        return b"", b""
    # Plain strings, not pathlib: this runs once per job of every export.
    name = os.path.join(session_dir, result.io_log)  # noqa: PTH118
    with open(name, "rb") as stream:
        raw = stream.read()
    fast = _read_output_fast(raw)
    if fast is not None:
        return fast
    path = Path(name)
    # Something is unusual (a torn last record, damage): the careful reader
    # keeps what it can and names the line that is wrong.
    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    for line in iter_io_log(path):
        chunks.setdefault(line.stream, []).append(line.data)
    return b"".join(chunks["stdout"]), b"".join(chunks["stderr"])


def _read_output_fast(raw: bytes) -> tuple[bytes, bytes] | None:
    """Decode a well-formed io-log with one ``json.loads``; None if it is not.

    Reports read every job's output back: one parse per file instead of one
    per line is what keeps a 10,000-job export within its second.
    """
    if not raw.endswith(b"\n"):
        return None if raw else (b"", b"")
    try:
        # Records are one per line and never contain a raw newline, so the
        # file is a JSON array once its newlines become commas.
        records = json.loads(
            "[" + raw.rstrip(b"\n").replace(b"\n", b",").decode() + "]"
        )
    except ValueError:
        return None
    try:
        # Most logs are all text: two comprehensions and one encode each.
        out = [r["d"] for r in records if r["s"] == "stdout"]
        err = [r["d"] for r in records if r["s"] == "stderr"]
        if len(out) + len(err) == len(records):
            return "".join(out).encode("utf-8"), "".join(err).encode("utf-8")
    except (KeyError, TypeError, ValueError):
        pass  # a base64 record (or damage): the general loop decides
    # Text records are joined as text and encoded once per stream; the
    # offsets ("t") do not matter here and are not checked.
    streams: dict[str, list[str | bytes]] = {"stdout": [], "stderr": []}
    binary = False
    try:
        for record in records:
            chunks = streams[record["s"]]
            if "b" not in record:
                text = record["d"]
                if not isinstance(text, str):
                    return None
                chunks.append(text)
            elif "d" not in record:
                chunks.append(base64.b64decode(record["b"], validate=True))
                binary = True
            else:
                return None
        if not binary:
            return tuple(  # type: ignore[return-value]
                "".join(streams[name]).encode("utf-8")  # type: ignore[arg-type]
                for name in ("stdout", "stderr")
            )
        return tuple(  # type: ignore[return-value]
            b"".join(
                c if isinstance(c, bytes) else c.encode("utf-8") for c in streams[name]
            )
            for name in ("stdout", "stderr")
        )
    except (KeyError, TypeError, AttributeError, ValueError):
        return None  # not what the writer writes: let the careful reader say why


def _joined(chunks: list[str | bytes], binary: bool) -> bytes:
    if not binary:  # the common case: one join and one encode
        return "".join(cast("list[str]", chunks)).encode("utf-8")
    return b"".join(c if isinstance(c, bytes) else c.encode("utf-8") for c in chunks)


@dataclass(frozen=True, slots=True)
class ResultEntry:
    """One job of the session: its definition, latest result and every attempt."""

    job: JobDefinition
    result: JobResult
    attempts: tuple[JobResult, ...]
    device: str
    session_dir: Path

    def output(self) -> tuple[str, str]:
        """The latest attempt's stdout and stderr as text (bad UTF-8 replaced)."""
        if self.result.stdout or self.result.stderr:
            return self.result.stdout, self.result.stderr
        try:
            stdout, stderr = read_output(self.session_dir, self.result)
        except (OSError, ValueError, PlainboxError) as exc:
            return "", f"(the io-log cannot be read: {exc})"
        return (
            stdout.decode("utf-8", errors="replace"),
            stderr.decode("utf-8", errors="replace"),
        )


@dataclass(frozen=True, slots=True)
class SessionView:
    """Everything a report needs, frozen at the moment it was taken."""

    id: str
    title: str
    test_plan: str | None
    created: float | None
    finished: float | None
    flags: frozenset[str]
    path: Path
    entries: tuple[ResultEntry, ...] = field(default=())
    # Category id -> its (untranslated) name, for the categories of entries.
    categories: dict[str, str] = field(default_factory=dict)
    devices: tuple[str, ...] = ("local",)

    def category_name(self, category_id: str) -> str:
        """The category's name, or its id when no unit names it."""
        return self.categories.get(category_id, category_id)

    @classmethod
    def of(cls, manager: SessionManager) -> SessionView:
        """Take a view of every device context's results, in run order."""
        meta = manager.state.metadata
        entries = []
        for context in manager.device_context_list:
            for job_state, result in context.state.results_in_order():
                if job_state.job is None:
                    continue  # a job no provider defines any more
                entries.append(
                    ResultEntry(
                        job=job_state.job,
                        result=result,
                        attempts=tuple(job_state.results),
                        device=context.device,
                        session_dir=manager.storage.path,
                    )
                )
        categories = {
            unit.id: unit.name
            for context in manager.device_context_list
            for unit in context.state.unit_list
            if isinstance(unit, Category)
        }
        return cls(
            id=manager.storage.id,
            title=meta.title,
            test_plan=meta.test_plan,
            created=meta.created,
            finished=meta.finished,
            flags=frozenset(meta.flags),
            path=manager.storage.path,
            entries=tuple(entries),
            categories=categories,
            devices=tuple(c.device for c in manager.device_context_list),
        )


def merge_views(views: Sequence[SessionView]) -> SessionView:
    """One view of several sessions: several devices, or a run and its rerun.

    Every result is kept.  A device name that more than one session uses
    (two sessions run on "local") is told apart by its session id, so the
    report shows which run each result came from.
    """
    if not views:
        raise ValueError("nothing to merge")
    owners: dict[str, set[str]] = {}
    for view in views:
        for device in view.devices:
            owners.setdefault(device, set()).add(view.id)
    clashing = {device for device, ids in owners.items() if len(ids) > 1}

    def label(view: SessionView, device: str) -> str:
        return f"{device}@{view.id}" if device in clashing else device

    entries = tuple(
        replace(entry, device=label(view, entry.device))
        for view in views
        for entry in view.entries
    )
    devices = tuple(
        dict.fromkeys(label(view, device) for view in views for device in view.devices)
    )
    categories: dict[str, str] = {}
    for view in views:
        categories.update(view.categories)
    created = [v.created for v in views if v.created is not None]
    finished = [v.finished for v in views if v.finished is not None]
    plans = {v.test_plan for v in views}
    return SessionView(
        id="+".join(view.id for view in views),
        title=" + ".join(dict.fromkeys(view.title for view in views)),
        test_plan=plans.pop() if len(plans) == 1 else None,
        created=min(created) if created else None,
        finished=max(finished) if len(finished) == len(views) else None,
        flags=frozenset().union(*(view.flags for view in views)),
        path=views[0].path,
        entries=entries,
        categories=categories,
        devices=devices,
    )
