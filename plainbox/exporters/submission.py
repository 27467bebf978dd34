"""The Checkbox submission JSON: what certification.canonical.com ingests.

The target is Checkbox's ``submission.json`` and its JSON Schema (2020-12).
Top-level keys (written sorted)::

    title, origin {name, version, packaging {type, version, [name, revision]}},
    testplan_id (when the session ran a plan), custom_joblist,
    results, resource-results, attachment-results, rejected-jobs,
    category_map, system_information,
    and, when the session has the certification provider's jobs that give
    them: packages, snap-packages, distribution, kernel, architecture,
    memory, kernel-cmdline, buildstamp.

Each result item has ``id`` (no namespace), ``full_id``, ``name`` (the
summary), ``certification_status``, ``category``, ``category_id``,
``status``, ``outcome``, ``comments``, ``io_log``, ``duration``, ``plugin``
and ``template_id``; items of ``results`` and ``resource-results`` also have
``type`` = "test" and ``project`` = "certification".

Where plainbox knows more than the schema allows, the schema wins:

* ``status`` is the hexr mapping (pass, fail, skip); ``outcome`` is the
  outcome, except that those the schema's enum lacks are written as their
  legacy equivalent: the three ``skipped-*`` outcomes replaced
  ``not-supported``, and ``not-implemented`` never meant anything else.
  The ``native-outcomes`` option writes them as they are (as Checkbox does
  today, schema or not).
* ``plugin`` ``user-verify`` (deprecated, absent from the enum) is written
  as ``user-interact-verify``, its replacement; ``certification_status``
  other than ``blocker`` is ``non-blocker`` (the enum has only those two).
* ``skip_reason`` is left out: ``Result`` forbids it.
* ``resource-results`` is written although the schema, which requires it,
  also forbids it (``Submission`` has ``additionalProperties: false`` and
  does not declare it): Checkbox's own ``merge-reports`` reads it.
* ``rejected-jobs`` is empty: a session does not record the jobs an operator
  deselected.  ``system_information`` is empty: plainbox runs no collectors
  (the key is kept because readers index it).

``io_log`` is the job's output as flat text: stdout and stderr in the order
they were printed, bad UTF-8 replaced, escape sequences and control
characters (but newline and tab) removed.  Resource jobs get their stdout
only, so readers can parse the records back.  Attachment jobs get their
stdout verbatim when it is UTF-8 text (no NUL), else base64 of the bytes:
the schema has only a string for it, and Checkbox's empty string would lose
the attachment.

Output is deterministic: the same session exports to the same bytes (keys
sorted, results in run order; the file holds no export time).
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import BinaryIO
from typing import ClassVar

from plainbox import __version__
from plainbox.errors import CorruptSessionError
from plainbox.execution.controller import parse_resource_output
from plainbox.execution.iolog import iter_io_log
from plainbox.exporters.base import Exporter
from plainbox.exporters.htmlreport import strip_controls
from plainbox.session.results import Outcome
from plainbox.session.view import ResultEntry
from plainbox.session.view import SessionView
from plainbox.session.view import read_output
from plainbox.units.model import qualify


__all__ = [
    "SCHEMA_OUTCOME",
    "STATUS",
    "SubmissionExporter",
    "attachment_text",
    "clean_text",
    "submission_data",
]

#: The ``status`` of each outcome: the "hexr mapping" C3 counts results by.
STATUS: Mapping[Outcome, str] = {
    Outcome.PASS: "pass",
    Outcome.FAIL: "fail",
    Outcome.CRASH: "fail",
    Outcome.SKIP: "skip",
    Outcome.SKIPPED_DEPENDENCY: "skip",
    Outcome.SKIPPED_RESOURCE: "skip",
    Outcome.SKIPPED_MANIFEST: "skip",
    Outcome.NOT_SUPPORTED: "skip",
    Outcome.NOT_IMPLEMENTED: "skip",
    Outcome.UNDECIDED: "skip",
}

#: The ``outcome`` written for each outcome: itself when the schema's enum
#: has it, else the legacy outcome that meant the same ("could not start").
SCHEMA_OUTCOME: Mapping[Outcome, str] = {
    Outcome.PASS: "pass",
    Outcome.FAIL: "fail",
    Outcome.CRASH: "crash",
    Outcome.SKIP: "skip",
    Outcome.SKIPPED_DEPENDENCY: "not-supported",
    Outcome.SKIPPED_RESOURCE: "not-supported",
    Outcome.SKIPPED_MANIFEST: "not-supported",
    Outcome.NOT_SUPPORTED: "not-supported",
    Outcome.NOT_IMPLEMENTED: "not-supported",
    Outcome.UNDECIDED: "undecided",
}

# The schema's Plugin enum, and what the plugins it lacks are written as.
_PLUGINS = frozenset(
    {
        "shell",
        "user-interact-verify",
        "user-interact",
        "manual",
        "attachment",
        "resource",
    }
)
_PLUGIN_ALIASES = {"user-verify": "user-interact-verify"}

# The certification provider's namespace: the jobs whose data fills the
# optional top-level blocks are identified by their ids in it.
_CERT = "com.canonical.certification::"

# The values the schema's SnapPackage accepts; a record outside them is not
# a snap the schema can describe.
_SNAP_ENUMS: Mapping[str, frozenset[str]] = {
    "confinement": frozenset({"strict", "classic", "devmode"}),
    "devmode": frozenset({"False", "True"}),
    "status": frozenset({"active", "installed"}),
    "type": frozenset({"base", "app", "snapd", "os", "gadget", "kernel"}),
}
_SNAP_REQUIRED = ("name", "confinement", "devmode", "revision", "status")
_SNAP_OPTIONAL = ("type", "version", "developer", "channel")
_LSB_KEYS = ("codename", "description", "distributor_id", "release")

_SURROGATE = re.compile("[\ud800-\udfff]")
_DEBIAN_SITE = Path("/usr/lib/python3/dist-packages")


def clean_text(text: str) -> str:
    """``text`` as valid Unicode: lone surrogates (from ``surrogateescape``
    decoding) become U+FFFD, since UTF-8 cannot encode them."""
    return _SURROGATE.sub("\ufffd", text)


def _prose(text: str) -> str:
    """A single field of job text: valid Unicode, no escapes or controls."""
    return strip_controls(clean_text(text))


def attachment_text(data: bytes) -> str:
    """An attachment as a JSON string: the text itself, or base64 when binary.

    NUL marks binary even in valid UTF-8: no text file has one, and readers
    written in C stop at it.
    """
    if b"\x00" not in data:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return base64.b64encode(data).decode("ascii")


def _flat_output(entry: ResultEntry) -> str:
    """stdout and stderr interleaved as printed, as clean text."""
    result = entry.result
    if result.stdout or result.stderr:
        text = result.stdout + result.stderr
    elif result.io_log is None:
        text = ""
    else:
        try:
            data = b"".join(
                line.data for line in iter_io_log(entry.session_dir / result.io_log)
            )
        except (OSError, ValueError, CorruptSessionError) as exc:
            # The report still describes the job; the reader learns why
            # the output is missing.
            data = f"(the io-log cannot be read: {exc})".encode()
        text = data.decode("utf-8", errors="replace")
    return _prose(text)


def _stdout_bytes(entry: ResultEntry) -> bytes:
    """The exact bytes the job printed on stdout (empty when unreadable)."""
    if entry.result.stdout:
        try:
            # Undo a surrogateescape decoding: the bytes as printed.
            return entry.result.stdout.encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:
            return clean_text(entry.result.stdout).encode("utf-8")
    try:
        stdout, _ = read_output(entry.session_dir, entry.result)
    except (OSError, ValueError, CorruptSessionError):
        return b""
    return stdout


def _duration(seconds: float) -> float:
    # NaN and infinities are not JSON; a negative duration is a clock step.
    if not math.isfinite(seconds) or seconds < 0:
        return 0.0
    return round(seconds, 6)


class _Builder:
    """The submission of one session, built in one pass over its entries."""

    def __init__(self, session: SessionView, native_outcomes: bool) -> None:
        self.session = session
        self.native_outcomes = native_outcomes
        # Resource records by full job id, the first device's that ran it.
        self.records: dict[str, list[dict[str, str]]] = {}
        # Passed attachments' stdout by full job id.
        self.attachments: dict[str, bytes] = {}

    def item(self, entry: ResultEntry, io_log: str, test: bool) -> dict[str, Any]:
        job, result = entry.job, entry.result
        plugin = _PLUGIN_ALIASES.get(job.plugin, job.plugin)
        if plugin not in _PLUGINS:
            # Only a plugin a provider made up gets here; "shell" is what
            # readers assume for a job with a command.
            plugin = "shell"
        if self.native_outcomes:
            outcome = result.outcome.value
        else:
            outcome = SCHEMA_OUTCOME[result.outcome]
        data: dict[str, Any] = {
            "id": _prose(job.partial_id),
            "full_id": _prose(job.id),
            "name": _prose(job.summary),
            "certification_status": (
                "blocker" if job.certification_status == "blocker" else "non-blocker"
            ),
            "category": _prose(self.session.category_name(job.category_id)),
            "category_id": _prose(job.category_id),
            "status": STATUS[result.outcome],
            "outcome": outcome,
            "comments": _prose(result.comments) or None,
            "io_log": io_log,
            "duration": _duration(result.duration),
            "plugin": plugin,
            "template_id": (
                _prose(qualify(job.template_id, job.namespace))
                if job.template_id
                else None
            ),
        }
        if test:
            data["type"] = "test"
            data["project"] = "certification"
        return data

    def build(self) -> dict[str, Any]:
        session = self.session
        results, resources, attachments = [], [], []
        category_map = {
            _prose(cat_id): _prose(name) for cat_id, name in session.categories.items()
        }
        for entry in session.entries:
            job = entry.job
            category_map.setdefault(
                _prose(job.category_id), _prose(session.category_name(job.category_id))
            )
            if job.plugin == "resource":
                stdout = _stdout_bytes(entry).decode("utf-8", errors="replace")
                self.records.setdefault(job.id, parse_resource_output(stdout))
                resources.append(self.item(entry, _prose(stdout), test=True))
            elif job.plugin == "attachment":
                data = _stdout_bytes(entry)
                if entry.result.outcome is Outcome.PASS:
                    self.attachments.setdefault(job.id, data)
                attachments.append(self.item(entry, attachment_text(data), test=False))
            else:
                results.append(self.item(entry, _flat_output(entry), test=True))
        submission: dict[str, Any] = {
            "title": _prose(session.title),
            "origin": _origin(),
            "custom_joblist": session.test_plan is None,
            "results": results,
            "resource-results": resources,
            "attachment-results": attachments,
            "rejected-jobs": [],
            "category_map": category_map,
            "system_information": {},
        }
        if session.test_plan is not None:
            submission["testplan_id"] = _prose(session.test_plan)
        for key, make in self._extras():
            value = make()
            if value is not None:
                submission[key] = value
        return submission

    def _extras(self) -> Iterator[tuple[str, Callable[[], Any]]]:
        yield "packages", self._packages
        yield "snap-packages", self._snaps
        yield "distribution", self._distribution
        yield "kernel", lambda: self._first_value("uname", "release")
        yield "architecture", lambda: self._first_value("dpkg", "architecture")
        yield "memory", self._memory
        yield "kernel-cmdline", self._kernel_cmdline
        yield "buildstamp", self._buildstamp

    def _first(self, job: str) -> dict[str, str] | None:
        records = self.records.get(_CERT + job)
        return records[0] if records else None

    def _first_value(self, job: str, key: str) -> str | None:
        record = self._first(job)
        if record is None or key not in record:
            return None
        return _prose(record[key])

    def _packages(self) -> list[dict[str, str]] | None:
        records = self.records.get(_CERT + "package")
        if records is None:
            return None
        return [
            {"name": _prose(r["name"]), "version": _prose(r.get("version", ""))}
            for r in records
            if r.get("name")
        ]

    def _snaps(self) -> list[dict[str, str]] | None:
        records = self.records.get(_CERT + "snap")
        if records is None:
            return None
        snaps = []
        for record in records:
            snap = {
                key: _prose(record[key])
                for key in (*_SNAP_REQUIRED, *_SNAP_OPTIONAL)
                if key in record
            }
            # An optional value outside its enum goes; a required one
            # outside it (or missing) takes the whole record with it.
            for key, allowed in _SNAP_ENUMS.items():
                if key in snap and snap[key] not in allowed:
                    del snap[key]
            if all(key in snap for key in _SNAP_REQUIRED) and snap["name"]:
                snaps.append(snap)
        return snaps

    def _distribution(self) -> dict[str, str] | None:
        record = self._first("lsb")
        if record is None or not all(key in record for key in _LSB_KEYS):
            return None
        return {key: _prose(record[key]) for key in _LSB_KEYS}

    def _memory(self) -> dict[str, int] | None:
        record = self._first("meminfo")
        if record is None:
            return None
        try:
            return {"swap": int(record["swap"]), "total": int(record["total"])}
        except (KeyError, ValueError):
            return None

    def _attachment(self, job: str) -> str | None:
        data = self.attachments.get(_CERT + job)
        if data is None:
            return None
        return _prose(data.decode("utf-8", errors="replace"))

    def _kernel_cmdline(self) -> str | None:
        text = self._attachment("kernel_cmdline_attachment")
        return None if text is None else text.strip()

    def _buildstamp(self) -> str | None:
        text = self._attachment("info/buildstamp")
        if text is None:
            return None
        lines = text.rstrip().splitlines()
        return lines[-1] if lines else "Unknown"


def _origin(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The application that made the file, and how it was installed."""
    packaging: dict[str, str] = {"type": "source", "version": __version__}
    if environ.get("SNAP_NAME") and environ.get("SNAP_REVISION"):
        packaging = {
            "type": "snap",
            "name": environ["SNAP_NAME"],
            "version": environ.get("SNAP_VERSION", __version__),
            "revision": environ["SNAP_REVISION"],
        }
    elif Path(__file__).resolve().is_relative_to(_DEBIAN_SITE):
        packaging["type"] = "debian"
    return {
        "name": "plainbox",
        "version": __version__,
        "packaging": {key: clean_text(value) for key, value in packaging.items()},
    }


def submission_data(
    session: SessionView, *, native_outcomes: bool = False
) -> dict[str, Any]:
    """The submission of ``session`` as plain data (see the module documentation)."""
    return _Builder(session, native_outcomes).build()


class SubmissionExporter(Exporter):
    """Checkbox's submission JSON (see the module documentation)."""

    id = "submission"
    file_extension = "json"
    summary = "Checkbox submission JSON: what certification.canonical.com ingests"
    option_help: ClassVar[Mapping[str, str]] = {
        "native-outcomes": (
            "write outcomes the submission schema lacks (skipped-dependency,"
            " skipped-resource, skipped-manifest, not-implemented) as they are,"
            " as current Checkbox does, instead of as 'not-supported'; the file"
            " then no longer validates against the schema"
        ),
    }

    def __init__(self, option_list: Sequence[str] = (), strict: bool = True) -> None:
        super().__init__(option_list, strict)
        self.native_outcomes = "native-outcomes" in self.options

    def export(self, session: SessionView, stream: BinaryIO) -> None:
        data = submission_data(session, native_outcomes=self.native_outcomes)
        # allow_nan=False: a NaN that slipped through is a bug, not "NaN"
        # in a file JSON parsers reject.
        text = json.dumps(
            data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False
        )
        stream.write(text.encode("utf-8"))
        stream.write(b"\n")
