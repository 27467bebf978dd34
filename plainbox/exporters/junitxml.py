"""The JUnit XML report, for CI systems (Jenkins, GitLab, ...) to ingest.

The target is the Jenkins xunit-plugin ``junit-10.xsd`` (what pytest's
xunit2 writes), the schema most JUnit consumers accept::

    <testsuites name tests failures errors time>
      <testsuite name tests failures errors skipped time timestamp>
        <properties>  session.id, session.title, session.test_plan,
                      category or device
        <testcase classname name time>
          <failure|error|skipped type message>details</...>
          <system-out>...</system-out>  <system-err>...</system-err>

* One ``testsuite`` per category (``group-by=category``, the default) or per
  device (``group-by=device``), in the order their first job ran.
* ``classname`` is the category id (``device.category-id`` when grouping by
  device); ``name`` is the job id.  GitLab keys tests by classname+name and
  drops duplicates, so colliding pairs (the same job on several devices) are
  made unique: first by `` [device]``, then by `` (2)``, `` (3)``, ... in run
  order.
* ``fail`` → ``failure``, ``crash`` → ``error``, every skip outcome and
  ``undecided`` → ``skipped``; ``type`` is the outcome, ``message`` one
  capped line (the comments or the skip reason), the text the details.
* Times are ``%.3f`` seconds; a suite's time is the sum of its cases' shown
  times.  ``timestamp`` is when the suite's first job started (else when the
  session was created), UTC, ``YYYY-MM-DDTHH:MM:SS`` (no zone, as Ant and
  the strict schemas want).  ``testsuites`` gets no ``skipped`` or
  ``timestamp``: junit-10 does not allow them there.
* XML-illegal characters are replaced *before* lxml sees a string (lxml
  raises ``ValueError`` on them): C0 controls other than tab, newline and
  carriage return become their Unicode "control picture" (``\\x1b`` → ``␛``)
  so the reader still sees what was there; DEL, C1 controls (but NEL), lone
  surrogates, U+FFFE and U+FFFF become U+FFFD.
* Output is deterministic: the same session exports to the same bytes.
"""

from __future__ import annotations

import datetime
import math
import re
from collections import Counter
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import BinaryIO
from typing import ClassVar

from lxml import etree

from plainbox.errors import CorruptSessionError
from plainbox.errors import ExporterError
from plainbox.exporters.base import Exporter
from plainbox.session.results import Outcome
from plainbox.session.view import ResultEntry
from plainbox.session.view import SessionView


__all__ = ["DEFAULT_MAX_OUTPUT", "JunitExporter", "clean_xml_text"]

#: Characters kept of each of a job's stdout and stderr, by default.
DEFAULT_MAX_OUTPUT = 65_536
# A message attribute is one line shown in a table cell: keep it short.
_MESSAGE_LIMIT = 256
# Comments are written by people or jobs; cap them so one cannot bloat the file.
_DETAILS_LIMIT = 16_384

# Not allowed in XML 1.0 (C0 but tab/LF/CR, surrogates, U+FFFE/U+FFFF), plus
# DEL and C1 but NEL: legal, but "discouraged" and rejected by XML 1.1
# readers, and never meaningful in a report.
_ILLEGAL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]"
)

# Outcome → the testcase child element (None: a pass has none).
_ELEMENT: Mapping[Outcome, str | None] = {
    Outcome.PASS: None,
    Outcome.FAIL: "failure",
    Outcome.CRASH: "error",
    Outcome.SKIP: "skipped",
    Outcome.SKIPPED_DEPENDENCY: "skipped",
    Outcome.SKIPPED_RESOURCE: "skipped",
    Outcome.SKIPPED_MANIFEST: "skipped",
    Outcome.NOT_SUPPORTED: "skipped",
    Outcome.NOT_IMPLEMENTED: "skipped",
    Outcome.UNDECIDED: "skipped",
}

# The message when a result has neither comments nor a skip reason.
_DEFAULT_MESSAGE: Mapping[Outcome, str] = {
    Outcome.FAIL: "failed",
    Outcome.CRASH: "crashed",
    Outcome.SKIP: "skipped",
    Outcome.SKIPPED_DEPENDENCY: "a required job did not pass",
    Outcome.SKIPPED_RESOURCE: "a resource requirement was not met",
    Outcome.SKIPPED_MANIFEST: "the manifest says the hardware is not there",
    Outcome.NOT_SUPPORTED: "not supported",
    Outcome.NOT_IMPLEMENTED: "not implemented",
    Outcome.UNDECIDED: "nobody decided the outcome",
}

# How the controller words the known skip-reason keys (see controller._skip).
_REASON_LABELS: Mapping[str, str] = {
    "related_dependencies": "required job did not pass",
    "related_resources": "resource requirement not met",
}

_GROUPINGS = ("category", "device")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # U+2400..U+241F: a visible stand-in per C0 char
    return "\ufffd"


def clean_xml_text(text: str) -> str:
    """``text`` with every character XML cannot carry replaced (length kept)."""
    return _ILLEGAL.sub(_picture, text)


def _cap(text: str, limit: int, why: str) -> str:
    """At most ``limit`` characters of ``text``: its head and tail, marked."""
    if len(text) <= limit:
        return text
    head = limit // 2
    tail = limit - head
    # The tail is usually where a failing command says why: keep both ends.
    return (
        f"{text[:head]}\n[... plainbox: {len(text) - limit} characters omitted"
        f" ({why}) ...]\n{text[len(text) - tail :]}"
    )


def _one_line(text: str) -> str:
    line = " ".join(clean_xml_text(text).split())
    if len(line) <= _MESSAGE_LIMIT:
        return line
    return line[: _MESSAGE_LIMIT - 1] + "…"


def _seconds(millis: int) -> str:
    # Integer milliseconds so sums of shown times add up exactly; never
    # negative or an exponent (the SUREFIRE_TIME pattern rejects both).
    return f"{millis // 1000}.{millis % 1000:03d}"


def _millis(duration: float) -> int:
    if not math.isfinite(duration) or duration <= 0:
        return 0
    return round(duration * 1000)


def _timestamp(moment: float | None) -> str | None:
    if moment is None or not math.isfinite(moment):
        return None
    try:
        value = datetime.datetime.fromtimestamp(moment, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None  # a damaged journal time: leave the optional attribute out
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def _items(value: Any) -> list[str]:
    """A skip-reason value (from JSON: anything) as a list of strings."""
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    if value is None or value == "":
        return []
    return [str(value)]


def _reason_lines(reason: Mapping[str, Any]) -> list[str]:
    lines = []
    for key in sorted(reason, key=str):
        items = _items(reason[key])
        if items:
            label = _REASON_LABELS.get(key, str(key).replace("_", " "))
            lines.append(f"{label}: {'; '.join(items)}")
    return lines


def _message(entry: ResultEntry) -> str:
    result = entry.result
    reason = result.skip_reason if isinstance(result.skip_reason, dict) else {}
    text = result.comments or "; ".join(_reason_lines(reason))
    if not text:
        text = _DEFAULT_MESSAGE.get(result.outcome, result.outcome.value)
        if result.return_code is not None and result.return_code != 0:
            text += f" (return code {result.return_code})"
    if result.outcome is Outcome.UNDECIDED:
        # "skipped" alone would hide that nobody judged the job.
        text = f"undecided: {text}"
    return _one_line(text)


def _details(entry: ResultEntry) -> str:
    result = entry.result
    job = entry.job
    lines = [
        f"job: {job.id}",
        f"summary: {job.summary}",
        f"outcome: {result.outcome.value}",
        f"device: {entry.device}",
    ]
    if result.return_code is not None:
        lines.append(f"return code: {result.return_code}")
    if len(entry.attempts) > 1:
        outcomes = ", ".join(attempt.outcome.value for attempt in entry.attempts)
        lines.append(f"attempts: {len(entry.attempts)} ({outcomes})")
    if isinstance(result.skip_reason, dict):
        # The controller already words the reason into the comments: once is enough.
        lines.extend(
            line
            for line in _reason_lines(result.skip_reason)
            if line not in result.comments
        )
    if result.comments:
        lines.append("comments:")
        lines.append(result.comments)
    return clean_xml_text(
        _cap("\n".join(lines), _DETAILS_LIMIT, f"details cap {_DETAILS_LIMIT}")
    )


@dataclass(slots=True)
class _Case:
    entry: ResultEntry
    classname: str
    name: str
    millis: int


def _make_unique(cases: Sequence[_Case]) -> None:
    """Rename cases so no two share classname+name (deterministic: run order)."""
    counts = Counter((case.classname, case.name) for case in cases)
    devices: dict[tuple[str, str], set[str]] = {}
    for case in cases:
        devices.setdefault((case.classname, case.name), set()).add(case.entry.device)
    for case in cases:
        key = (case.classname, case.name)
        # The same job on several devices: say which device, the useful name.
        if counts[key] > 1 and len(devices[key]) > 1:
            case.name = f"{case.name} [{clean_xml_text(case.entry.device)}]"
    used: set[tuple[str, str]] = set()
    for case in cases:
        if (case.classname, case.name) in used:
            number = 2
            while (case.classname, f"{case.name} ({number})") in used:
                number += 1
            case.name = f"{case.name} ({number})"
        used.add((case.classname, case.name))


class JunitExporter(Exporter):
    """JUnit XML valid against junit-10.xsd (see the module documentation)."""

    id = "junit"
    file_extension = "xml"
    summary = "JUnit XML: one testcase per job, for CI systems"
    option_help: ClassVar[Mapping[str, str]] = {
        "group-by": (
            "group-by=category|device: one testsuite per job category"
            " (default) or per device"
        ),
        "max-output": (
            "max-output=N: keep at most N characters of each job's stdout and"
            f" stderr, head and tail around a marker (default {DEFAULT_MAX_OUTPUT};"
            " 0 leaves output out)"
        ),
    }

    def __init__(self, option_list: Sequence[str] = (), strict: bool = True) -> None:
        super().__init__(option_list, strict)
        # Checked here, not in export(), so a bad option fails before a run.
        self.group_by = self.options.get("group-by", "category")
        if self.group_by not in _GROUPINGS:
            raise ExporterError(
                f"exporter 'junit': group-by must be one of {', '.join(_GROUPINGS)},"
                f" not {self.group_by!r}"
            )
        self.max_output = self.whole_number_option(
            "max-output", DEFAULT_MAX_OUTPUT, "characters"
        )

    def export(self, session: SessionView, stream: BinaryIO) -> None:
        tree = etree.ElementTree(self.build(session))
        tree.write(stream, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def build(self, session: SessionView) -> etree._Element:
        """The ``testsuites`` element of ``session``'s report."""
        groups: dict[str, list[_Case]] = {}
        cases = []
        for entry in session.entries:
            category = clean_xml_text(entry.job.category_id)
            if self.group_by == "device":
                key = entry.device
                classname = f"{clean_xml_text(entry.device)}.{category}"
            else:
                key = entry.job.category_id
                classname = category
            case = _Case(
                entry,
                classname,
                clean_xml_text(entry.job.id),
                _millis(entry.result.duration),
            )
            cases.append(case)
            groups.setdefault(key, []).append(case)
        _make_unique(cases)

        root = etree.Element("testsuites")
        root.set("name", clean_xml_text(session.title or session.id))
        totals = Counter[str]()
        total_millis = 0
        keys = list(groups)
        for key, name in zip(keys, self._suite_names(session, keys), strict=True):
            suite, counts, millis = self._suite(session, key, name, groups[key])
            root.append(suite)
            totals.update(counts)
            total_millis += millis
        root.set("tests", str(len(cases)))
        root.set("failures", str(totals["failure"]))
        root.set("errors", str(totals["error"]))
        root.set("time", _seconds(total_millis))
        return root

    def _suite_names(self, session: SessionView, groups: Sequence[str]) -> list[str]:
        if self.group_by == "device":
            return [clean_xml_text(key) for key in groups]
        names = [clean_xml_text(session.category_name(key)) for key in groups]
        shared = {name for name, count in Counter(names).items() if count > 1}
        # Two categories with one name: tell them apart by id.
        return [
            f"{name} ({clean_xml_text(key)})" if name in shared else name
            for key, name in zip(groups, names, strict=True)
        ]

    def _suite(
        self, session: SessionView, key: str, name: str, cases: Sequence[_Case]
    ) -> tuple[etree._Element, Counter[str], int]:
        counts = Counter[str]()
        millis = 0
        testcases = []
        for case in cases:
            testcases.append(self._testcase(case))
            counts[_ELEMENT.get(case.entry.result.outcome, "error") or "pass"] += 1
            millis += case.millis
        started = [
            case.entry.result.started
            for case in cases
            if case.entry.result.started is not None
        ]
        suite = etree.Element("testsuite")
        suite.set("name", name)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(counts["failure"]))
        suite.set("errors", str(counts["error"]))
        suite.set("skipped", str(counts["skipped"]))
        suite.set("time", _seconds(millis))
        timestamp = _timestamp(min(started) if started else session.created)
        if timestamp is not None:
            suite.set("timestamp", timestamp)
        properties = etree.SubElement(suite, "properties")
        values = [("session.id", session.id), ("session.title", session.title)]
        if session.test_plan is not None:
            values.append(("session.test_plan", session.test_plan))
        if self.group_by == "device":
            values.append(("device", key))
        else:
            values.append(("category", key))
            # Every device whose jobs are in this suite, in run order.
            seen = dict.fromkeys(case.entry.device for case in cases)
            values.extend(("device", device) for device in seen)
        for prop_name, value in values:
            etree.SubElement(
                properties, "property", name=prop_name, value=clean_xml_text(value)
            )
        suite.extend(testcases)
        return suite, counts, millis

    def _testcase(self, case: _Case) -> etree._Element:
        entry = case.entry
        testcase = etree.Element(
            "testcase",
            classname=case.classname,
            name=case.name,
            time=_seconds(case.millis),
        )
        # An outcome added later without a mapping shows as an error, not a pass.
        tag = _ELEMENT.get(entry.result.outcome, "error")
        if tag is not None:
            child = etree.SubElement(
                testcase, tag, type=entry.result.outcome.value, message=_message(entry)
            )
            child.text = _details(entry)
        if self.max_output > 0:
            try:
                stdout, stderr = entry.output()
            except CorruptSessionError as exc:
                # output() turns OSError/ValueError into a note but lets a
                # damaged record through; one bad io-log must not lose the report.
                stdout, stderr = "", f"(the io-log cannot be read: {exc})"
            for stream_tag, text in (("system-out", stdout), ("system-err", stderr)):
                if text:
                    capped = _cap(
                        text, self.max_output, f"max-output={self.max_output}"
                    )
                    etree.SubElement(testcase, stream_tag).text = clean_xml_text(capped)
        return testcase
