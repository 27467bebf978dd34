"""The JSON report: plain data with a ``schema_version``, results in run order.

The full description, field by field, is ``docs/reports.rst``; the JSON
Schema (draft 2020-12) is ``docs/report-schema.json``.  In short (keys are
written sorted, so the file is stable)::

    {
      "schema_version": 2,
      "session": {"id", "title", "test_plan", "started_at", "finished_at",
                  "devices", "flags"},
      "summary": {"total": N, "outcomes": {"pass": n, ...}},
      "results": [
        {"id", "summary", "plugin", "outcome", "return_code", "duration",
         "certification_status", "category_id", "category_name", "comments",
         "skip_reason", "started_at", "finished_at", "stdout", "stderr",
         "template_id", "attachment", "attachment_data", "device", "io_log",
         "extra", "attempts": [{"outcome", "return_code", "duration",
         "started_at", "finished_at", "comments", "skip_reason", "io_log",
         "extra"}, ...]},
        ...
      ]
    }

Times are ISO 8601 in UTC with microseconds (``2026-11-21T18:07:46.123456Z``);
a job that never ran (skipped before it started: a skip outcome and no
return code) has null times. Ids (``id``, ``template_id``) are full ids.

The bytes are valid UTF-8 whatever the session holds: output is decoded
with bad bytes replaced (see :meth:`ResultEntry.output`), and a lone
surrogate in a string (text read with ``surrogateescape``) is written as a
``\\uXXXX`` escape, which JSON readers turn back into the same string.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import math
from collections.abc import Iterator
from typing import Any
from typing import BinaryIO

from plainbox.errors import PlainboxError
from plainbox.exporters.base import Exporter
from plainbox.session.results import JobResult
from plainbox.session.view import ResultEntry
from plainbox.session.view import SessionView
from plainbox.session.view import read_output
from plainbox.units.model import qualify


__all__ = [
    "SCHEMA_VERSION",
    "JsonExporter",
    "attachment_data",
    "encode_report",
    "iso_utc",
    "job_ran",
    "report_data",
]

#: Bumped whenever a key is added, removed or changes meaning: the schema in
#: docs/report-schema.json allows no unknown key, so it describes exactly
#: one version.
SCHEMA_VERSION = 2

ATTACHMENT_PLUGIN = "attachment"


def iso_utc(timestamp: float | None) -> str | None:
    """Seconds since the epoch as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; None stays None.

    The same text as formatting ``datetime.fromtimestamp(timestamp, UTC)``,
    made faster (a report formats four times per result): the fraction is
    rounded exactly as ``fromtimestamp`` rounds it (half to even, on the
    fraction ``math.modf`` splits off), and the whole-second part is cached,
    since the jobs of a session mostly start and end within the same few
    seconds of one another.
    """
    if timestamp is None:
        return None
    fraction, whole = math.modf(timestamp)
    micros = round(fraction * 1e6)
    seconds = int(whole)
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    elif micros < 0:
        seconds, micros = seconds - 1, micros + 1_000_000
    return f"{_iso_second(seconds)}.{micros:06d}Z"


@functools.lru_cache(maxsize=4096)
def _iso_second(seconds: int) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.isoformat()[:19]  # YYYY-MM-DDTHH:MM:SS, no zone


def job_ran(result: JobResult) -> bool:
    """False for a job skipped before it started (no command, no operator)."""
    return not (result.outcome.is_skip and result.return_code is None)


def _started(result: JobResult) -> float | None:
    return result.started if job_ran(result) else None


def _finished(result: JobResult) -> float | None:
    if not job_ran(result):
        return None
    if result.finished is not None:
        return result.finished
    if result.started is not None:
        # Results made before the run loop recorded finish times.
        return result.started + result.duration
    return None


def _attempt_data(result: JobResult) -> dict[str, Any]:
    """What one attempt shares with the result row (its output stays on disk)."""
    return {
        "outcome": result.outcome.value,
        "return_code": result.return_code,
        "duration": round(result.duration, 6),
        "started_at": iso_utc(_started(result)),
        "finished_at": iso_utc(_finished(result)),
        "comments": result.comments,
        "skip_reason": result.skip_reason,
        "io_log": result.io_log,
        "extra": result.extra,
    }


def attachment_data(data: bytes) -> dict[str, Any]:
    """An attachment's bytes as JSON: text when they are UTF-8, else base64.

    ``size`` is the number of bytes either way, so a reader can check what
    it decoded.
    """
    try:
        return {"encoding": "utf-8", "data": data.decode("utf-8"), "size": len(data)}
    except UnicodeDecodeError:
        encoded = base64.b64encode(data).decode("ascii")
        return {"encoding": "base64", "data": encoded, "size": len(data)}


def _output(entry: ResultEntry) -> tuple[str, str, dict[str, Any] | None]:
    """stdout and stderr text, and the attachment (attachment jobs only).

    Other jobs take the text :meth:`ResultEntry.output` gives.  An attachment
    also needs the exact bytes, so its io-log is read once here, raw, and the
    text decoded from those bytes the way ``output`` does.
    """
    if entry.job.plugin != ATTACHMENT_PLUGIN:
        stdout, stderr = entry.output()
        return stdout, stderr, None
    result = entry.result
    if result.stdout or result.stderr:
        # Output held in memory (a result that never went through a journal):
        # the text is all there is.  Lone surrogates cannot be UTF-8 bytes;
        # surrogatepass keeps them visible as (base64) bytes, not an error.
        raw = result.stdout.encode("utf-8", errors="surrogatepass")
        return result.stdout, result.stderr, attachment_data(raw)
    try:
        raw_out, raw_err = read_output(entry.session_dir, result)
    except (OSError, ValueError, PlainboxError):
        # Same text as ResultEntry.output gives for an unreadable io-log; no
        # attachment rather than an empty one that would look real.
        stdout, stderr = entry.output()
        return stdout, stderr, None
    return (
        raw_out.decode("utf-8", errors="replace"),
        raw_err.decode("utf-8", errors="replace"),
        attachment_data(raw_out),
    )


def _result_data(session: SessionView, entry: ResultEntry) -> dict[str, Any]:
    job, result = entry.job, entry.result
    stdout, stderr, attachment = _output(entry)
    attempts = [_attempt_data(attempt) for attempt in entry.attempts]
    # The latest attempt is the result: its fields are made once (a copy,
    # so the row and its attempt never share a dict).
    if entry.attempts and entry.attempts[-1] is result:
        row = dict(attempts[-1])
    else:
        row = _attempt_data(result)
    row.update(
        {
            "id": job.id,
            "summary": job.summary,
            "plugin": job.plugin,
            # entry.job is the definition as it ran: the plan's overrides of
            # these two are already applied.
            "category_id": job.category_id,
            "category_name": session.category_name(job.category_id),
            "certification_status": job.certification_status,
            "stdout": stdout,
            "stderr": stderr,
            "template_id": qualify(job.template_id, job.namespace)
            if job.template_id
            else None,
            "attachment": job.plugin == ATTACHMENT_PLUGIN,
            "attachment_data": attachment,
            "device": entry.device,
            "attempts": attempts,
        }
    )
    return row


def report_data(session: SessionView) -> dict[str, Any]:
    """The report of ``session`` as plain data (job output read from disk)."""
    counts: dict[str, int] = {}
    for entry in session.entries:
        outcome = entry.result.outcome.value
        counts[outcome] = counts.get(outcome, 0) + 1
    return {
        "schema_version": SCHEMA_VERSION,
        "session": {
            "id": session.id,
            "title": session.title,
            "test_plan": session.test_plan,
            "started_at": iso_utc(session.created),
            "finished_at": iso_utc(session.finished),
            "devices": list(session.devices),
            "flags": sorted(session.flags),
        },
        "summary": {
            "total": len(session.entries),
            "outcomes": dict(sorted(counts.items())),
        },
        "results": [_result_data(session, entry) for entry in session.entries],
    }


def encode_report(data: dict[str, Any]) -> bytes:
    """The report's bytes: sorted keys, UTF-8, one result per line.

    Layout: the top-level keys one per line, a non-empty list with one item
    per line, every item or other value on one line (``", "`` and ``": "``
    separators).  ``json.dumps`` with ``indent`` runs the pure-Python
    encoder, several times slower than the C one that this layout keeps, and
    a line per result is what ``grep`` and ``diff`` want anyway.

    ``json`` leaves a lone surrogate in its text as it is, and strict UTF-8
    cannot encode one; ``backslashreplace`` writes it as ``\\udcXX``, which
    inside a JSON string is the escape of that very code point.  Every other
    character is valid UTF-8, so that is the only replacement made.
    """
    return b"".join(_encoded_pieces(data))


def _encoded_pieces(data: dict[str, Any]) -> Iterator[bytes]:
    """:func:`encode_report`'s bytes, a line at a time.

    Written piece by piece, a report never exists whole in memory: one
    character outside the BMP in one attachment would otherwise make the
    whole document's string 4 bytes per character.
    """
    encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode

    def utf8(text: str) -> bytes:
        return text.encode("utf-8", errors="backslashreplace")

    keys = sorted(data)
    yield b"{\n"
    for number, key in enumerate(keys):
        value = data[key]
        yield utf8(f"  {encode(key)}: ")
        if isinstance(value, list) and value:
            yield b"[\n"
            last = len(value) - 1
            for index, item in enumerate(value):
                yield utf8("    " + encode(item) + (",\n" if index < last else "\n"))
            yield b"  ]"
        else:
            yield utf8(encode(value))
        yield b",\n" if number < len(keys) - 1 else b"\n"
    yield b"}\n"


class JsonExporter(Exporter):
    """The JSON report (see the module documentation for its shape)."""

    id = "json"
    file_extension = "json"
    summary = "JSON: every result with its output, for programs to read"

    def export(self, session: SessionView, stream: BinaryIO) -> None:
        for piece in _encoded_pieces(report_data(session)):
            stream.write(piece)
