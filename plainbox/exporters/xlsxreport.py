"""The XLSX report: a workbook to sort, filter and annotate results in.

Sheets, in this order:

* **Summary**: the session's metadata (title, test plan, id, start and end as
  real date-times in UTC, duration, devices, flags) and the number of jobs of
  each outcome, as numbers.
* **Results**: one row per job (per device) in run order: id, summary,
  outcome (filled with its colour), certification status, category, device
  (only when the session has more than one), duration, return code,
  attempts, comments, skip reason and an excerpt of the output.
* **Descriptions**: one row per job id: summary, plugin, category,
  description (or purpose/steps/verification) and command.
* **Logs**: a job's full stdout and stderr, one row per stream and per part.
  A stream longer than a cell can hold (32,767 characters) is split over
  several rows, cut at a line end when one is near, numbered by ``Part``;
  concatenating the parts gives the stream back.  The ``log-limit`` option
  caps each stream first (its head and tail are kept around a marker), so
  one runaway job cannot make a workbook no spreadsheet opens.
* **Resources**: one row per field of each record printed by a resource
  job: job id, record number, key, value.

Every sheet but Summary has a frozen header row and a filter on its columns.

Job text (ids, summaries, comments, output, resource values) is untrusted:

* it is always stored as a string cell, never a formula or an error value
  (openpyxl makes ``"=..."`` a formula and ``"#N/A"`` an error on its own);
  text that a spreadsheet would read as a formula once someone edits the cell
  (``= + - @``, first or after leading blanks, a leading tab or CR) also gets
  Excel's "quote prefix" flag, which keeps it text when edited, without
  changing the value;
* escape sequences (colours, OSC links) are removed whole, so no ``[31m``
  residue is left, then every control character XML or Excel cannot hold
  (C0 but tab, newline and CR; DEL; C1); lone surrogates and U+FFFE/U+FFFF
  become U+FFFD;
* a literal ``_xHHHH_`` gets its ``_`` escaped as ``_x005F_``: Excel decodes
  ``_xHHHH_`` in cell text as the character U+HHHH (ECMA-376's ST_Xstring),
  so text that looks like one would otherwise change when shown;
* a cell longer than Excel's 32,767 characters (counted in UTF-16 units, as
  Excel does) is cut, with a ``[… N more characters cut …]`` marker.

Output is deterministic: the same session exports to the same bytes.  The
document properties take their times from the session, and the zip entries
get a fixed time (the session's start) instead of the clock's.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import zipfile
from collections import Counter
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from typing import Any
from typing import BinaryIO
from typing import ClassVar

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.cell.cell import Cell  # type: ignore[import-untyped]
from openpyxl.styles import Alignment  # type: ignore[import-untyped]
from openpyxl.styles import Font
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.writer.excel import ExcelWriter  # type: ignore[import-untyped]

from plainbox import __version__
from plainbox.execution.controller import parse_resource_output
from plainbox.exporters.base import Exporter
from plainbox.session.results import FAILING_OUTCOMES
from plainbox.session.results import Outcome
from plainbox.session.view import ResultEntry
from plainbox.session.view import SessionView


__all__ = [
    "CELL_LIMIT",
    "DEFAULT_EXCERPT",
    "DEFAULT_LOG_LIMIT",
    "OUTCOME_FILLS",
    "XlsxExporter",
    "cap_text",
    "cell_text",
    "clean_text",
    "split_text",
]

# openpyxl ships no type hints: its objects (workbook, sheets, cells) are Any.
_Sheet = Any
_Cell = Any

#: Excel's limit on the characters of a cell (UTF-16 code units).
CELL_LIMIT = 32_767
#: Characters of a job's output shown in the Results sheet, by default.
DEFAULT_EXCERPT = 1_000
#: Characters of each of a job's streams kept in the Logs sheet, by default:
#: a megabyte of text is 31 rows; more would make a workbook nobody can open.
DEFAULT_LOG_LIMIT = 1_000_000

# Escape sequences, removed whole: CSI (SGR colours among them, a cut-short
# one included), OSC/DCS/SOS/PM/APC strings, and two-character escapes.  A
# string without its terminator ends at the end of its line: a stray
# "ESC ]" must not hide the rest of a log from the report.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
# C0 controls but tab, LF and CR (illegal in XML 1.0, refused by openpyxl);
# DEL and C1 (legal XML, but never text and shown as boxes).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Not representable in XML at all: replaced, so the reader sees something was.
_UNENCODABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")
_SUSPECT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# "_xHHHH_" in cell text means the character U+HHHH to Excel; "_x005F_" is
# the escaped underscore that keeps such text literal.
_XSTRING = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")
_ESCAPED_UNDERSCORE = "_x005F_"
# Characters after which a spreadsheet reads an edited cell as a formula
# (full-width forms too: East Asian input methods type them).
_FORMULA_START = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")

# Outcome → fill colour (ARGB) of its cells: the usual spreadsheet
# good/bad/neutral palette; skips are greys, so failures stand out.
OUTCOME_FILLS: Mapping[Outcome, str] = {
    Outcome.PASS: "FFC6EFCE",
    Outcome.FAIL: "FFFFC7CE",
    Outcome.CRASH: "FFFF8F8F",
    Outcome.UNDECIDED: "FFFFEB9C",
    Outcome.SKIP: "FFD9D9D9",
    Outcome.SKIPPED_DEPENDENCY: "FFD9D9D9",
    Outcome.SKIPPED_RESOURCE: "FFD9D9D9",
    Outcome.SKIPPED_MANIFEST: "FFD9D9D9",
    Outcome.NOT_SUPPORTED: "FFEDEDED",
    Outcome.NOT_IMPLEMENTED: "FFEDEDED",
}
# Outcomes in the order the Summary lists them.
_OUTCOME_ORDER = (
    Outcome.PASS,
    Outcome.FAIL,
    Outcome.CRASH,
    Outcome.UNDECIDED,
    Outcome.SKIP,
    Outcome.SKIPPED_DEPENDENCY,
    Outcome.SKIPPED_RESOURCE,
    Outcome.SKIPPED_MANIFEST,
    Outcome.NOT_SUPPORTED,
    Outcome.NOT_IMPLEMENTED,
)

# How the controller words the known skip-reason keys.
_REASON_LABELS: Mapping[str, str] = {
    "related_dependencies": "required job did not pass",
    "related_resources": "resource requirement not met",
}

_HEADER_FILL = PatternFill(fill_type="solid", fgColor="FFDDEBF7")
# When a session has no times at all: the earliest time a zip entry can have.
_NO_TIME = datetime.datetime(1980, 1, 1)


def clean_text(text: str) -> str:
    """``text`` without escape sequences and characters a cell cannot hold.

    Tab, newline and carriage return are kept; see the module's docstring
    for what goes.
    """
    if _SUSPECT.search(text) is None:
        return text  # the common case, one scan
    text = _ESCAPES.sub("", text)
    text = _CONTROLS.sub("", text)
    return _UNENCODABLE.sub("\ufffd", text)


def _escape_xstring(text: str) -> str:
    if "_x" not in text:
        return text
    return _XSTRING.sub(_ESCAPED_UNDERSCORE, text)


def _units(text: str) -> int:
    """Length in UTF-16 code units, what Excel's cell limit counts."""
    return len(text) + len(_ASTRAL.findall(text))


def _fit(text: str, limit: int) -> int:
    """The longest prefix of ``text`` (an index) that fits ``limit`` units.

    The cut never falls inside an ``_x005F_`` escape: Excel would show its
    remains as text (an escape split between two parts of a log stays
    right: the part before it ends with the whole escape or none of it).
    """
    end = min(len(text), limit)
    while (excess := _units(text[:end]) - limit) > 0:
        # Each character is one or two units: dropping half the excess (in
        # characters) never cuts more than needed, and always makes progress.
        end -= (excess + 1) // 2
    start = text.find(_ESCAPED_UNDERSCORE, max(end - len(_ESCAPED_UNDERSCORE) + 1, 0))
    if start != -1 and start < end < start + len(_ESCAPED_UNDERSCORE):
        end = start
    return end


def _cut_marker(dropped: int) -> str:
    return f"\n[… {dropped:,} more characters cut: a cell holds at most {CELL_LIMIT:,}]"


def cap_text(text: str, limit: int = CELL_LIMIT) -> str:
    """``text`` (already cleaned and escaped) cut to fit a cell, with a marker."""
    # Fast path: even if every character took two units, it would fit.
    if len(text) * 2 <= limit or _units(text) <= limit:
        return text
    # The marker's length depends on the count it shows, at most the
    # whole text's length: reserve room for that.
    room = len(_cut_marker(len(text)))
    end = _fit(text, limit - room)
    return text[:end] + _cut_marker(len(text) - end)


def cell_text(text: str, limit: int = CELL_LIMIT) -> str:
    """What a cell holding untrusted ``text`` stores: cleaned, escaped, capped."""
    return cap_text(_escape_xstring(clean_text(text)), limit)


def split_text(text: str, limit: int = CELL_LIMIT) -> list[str]:
    """``text`` (cleaned and escaped) in parts that each fit a cell.

    Parts end at a line end when one is in the last eighth of the room, so
    lines are seldom broken across rows; joined, the parts are ``text``.
    """
    parts: list[str] = []
    slack = max(limit // 8, 1)
    while len(text) * 2 > limit and _units(text) > limit:
        end = _fit(text, limit)
        newline = text.rfind("\n", end - slack, end)
        if newline != -1:
            end = newline + 1
        parts.append(text[:end])
        text = text[end:]
    if text or not parts:
        parts.append(text)
    return parts


def _trim_log(text: str, limit: int) -> str:
    """Keep about ``limit`` characters of ``text``: its head and its tail.

    The marker between them says how much went; cuts move to a line end
    when one is near.  ``limit`` 0 keeps everything.
    """
    if limit <= 0 or len(text) <= limit:
        return text
    head_end = limit // 2
    tail_start = len(text) - (limit - head_end)
    slack = max(limit // 8, 1)
    newline = text.rfind("\n", head_end - slack, head_end)
    if newline != -1:
        head_end = newline + 1
    newline = text.find("\n", tail_start, tail_start + slack)
    if newline != -1:
        tail_start = newline + 1
    dropped = tail_start - head_end
    marker = f"[… {dropped:,} characters cut: log-limit is {limit:,} …]\n"
    if not text[:head_end].endswith("\n"):
        marker = "\n" + marker
    return text[:head_end] + marker + text[tail_start:]


def _excerpt(stdout: str, stderr: str, limit: int) -> str:
    """The head of a job's output for the Results sheet (stderr after stdout)."""
    text = stdout
    if stderr:
        text = f"{stdout}\n[stderr]\n{stderr}" if stdout else f"[stderr]\n{stderr}"
    if limit > 0 and len(text) > limit:
        rest = len(text) - limit
        text = f"{text[:limit]}\n[… {rest:,} more characters: see the Logs sheet]"
    return text


def _skip_reason(reason: Mapping[str, Any] | None) -> str:
    """The skip reason, one line per key, known keys first and worded."""
    if not reason:
        return ""
    lines = []
    for key, label in _REASON_LABELS.items():
        if key in reason:
            value = reason[key]
            items = value if isinstance(value, list | tuple) else [value]
            lines.append(f"{label}: {', '.join(str(item) for item in items)}")
    for key in sorted(set(reason) - set(_REASON_LABELS)):
        value = reason[key]
        if not isinstance(value, str):
            value = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
        lines.append(f"{key}: {value}")
    return "\n".join(lines)


def _utc(timestamp: float | None) -> datetime.datetime | None:
    """A naive UTC date-time: Excel has no time zones (openpyxl refuses them)."""
    if timestamp is None:
        return None
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return moment.replace(tzinfo=None)


def _ran(entry: ResultEntry) -> bool:
    result = entry.result
    return not (result.outcome.is_skip and result.return_code is None)


class _DeterministicZip(zipfile.ZipFile):
    """A zip written with one fixed time and fixed attributes on every entry.

    ``ZipFile.writestr`` stamps entries with the clock, and ``ZipFile.write``
    with the file's mtime: openpyxl uses both.  Here both make their entry
    from the name alone, so the same workbook always gives the same bytes.
    """

    def __init__(self, file: IO[bytes], date_time: datetime.datetime) -> None:
        super().__init__(file, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self._date_time = (
            date_time.year,
            date_time.month,
            date_time.day,
            date_time.hour,
            date_time.minute,
            date_time.second,
        )

    def _entry(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3  # Unix, whatever system writes the file
        info.external_attr = 0o644 << 16
        return info

    def writestr(
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: Any,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        name = (
            zinfo_or_arcname.filename
            if isinstance(zinfo_or_arcname, zipfile.ZipInfo)
            else zinfo_or_arcname
        )
        super().writestr(self._entry(name), data)

    def write(
        self,
        filename: str | os.PathLike[str],
        arcname: str | os.PathLike[str] | None = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        info = self._entry(os.fspath(arcname if arcname is not None else filename))
        # The size, known up front, lets zipfile choose ZIP64 for huge sheets.
        info.file_size = Path(filename).stat().st_size
        with open(filename, "rb") as source, self.open(info, "w") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)


class _Styles:
    """The report's cell styles, each made once per workbook.

    Setting a style attribute on a cell makes openpyxl hash the style to
    find it in the workbook, which dominated the time of big exports; a cell
    made from a ready style array (openpyxl's ``style_array`` argument)
    skips that.  The arrays are taken from template cells, the only way
    openpyxl gives them out.
    """

    def __init__(self, sheet: _Sheet) -> None:
        def array(**attributes: Any) -> Any:
            template = WriteOnlyCell(sheet)
            for name, value in attributes.items():
                setattr(template, name, value)
            return template._style

        self.header = array(font=Font(bold=True), fill=_HEADER_FILL)
        self.wrap = array(alignment=Alignment(vertical="top", wrap_text=True))
        self.date = array(number_format="yyyy-mm-dd hh:mm:ss")
        self.duration = array(number_format="0.000")
        self.percent = array(number_format="0.0%")
        self.blocker = array(font=Font(bold=True, color="FF9C0006"))
        self.outcome = {
            outcome: array(fill=PatternFill(fill_type="solid", fgColor=argb))
            for outcome, argb in OUTCOME_FILLS.items()
        }


def _string_cell(sheet: _Sheet, text: str, style: Any = None) -> _Cell:
    """A cell holding ``text`` (made safe by :func:`cell_text`) as a string.

    openpyxl guesses a type from a plain str: ``=…`` becomes a formula and
    the ``#N/A``-like error codes errors, everything else a string.  Those,
    and styled text, get a real cell whose type is set back to string after
    its value; the rest stay plain str (a cell object costs ten times more
    to write, and a big session has hundreds of thousands of cells).
    """
    if not text:
        return None  # no cell at all: an empty string cell is noise
    formula_like = (
        text[:1] in ("\t", "\r") or text.lstrip(" \t\r\n")[:1] in _FORMULA_START
    )
    if style is None and not formula_like and text[:1] != "#":
        return text
    cell = Cell(sheet, row=1, column=1, value=text, style_array=style)
    cell.data_type = "s"
    if formula_like:
        # Excel's "quote prefix": the text stays text when someone edits it.
        cell.quotePrefix = True
    return cell


def _number_cell(
    sheet: _Sheet, value: float | datetime.datetime | None, style: Any = None
) -> _Cell:
    if value is None or style is None:
        return value  # plain numbers: openpyxl makes them number cells
    return Cell(sheet, row=1, column=1, value=value, style_array=style)


@dataclass(frozen=True, slots=True)
class _Column:
    title: str
    width: float


class _Table:
    """A sheet with a header row, frozen, and a filter over all its rows."""

    def __init__(
        self, book: Any, styles: _Styles, title: str, columns: Sequence[_Column]
    ) -> None:
        self.sheet: _Sheet = book.create_sheet(title)
        self.styles = styles
        self.columns = tuple(columns)
        # Write-only sheets write widths and panes with their first row:
        # both must be set before it.
        for index, column in enumerate(self.columns, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = column.width
        self.sheet.freeze_panes = "A2"
        self.rows = 0
        self.append(
            [
                _string_cell(self.sheet, column.title, styles.header)
                for column in self.columns
            ]
        )

    def text(
        self,
        value: str,
        *,
        wrap: bool = False,
        style: Any = None,
        cleaned: bool = False,
    ) -> _Cell:
        """A string cell for untrusted ``value`` (``cleaned``: already safe).

        ``wrap``: long text, wrapped and top-aligned so a row shows it all.
        """
        if style is None and wrap:
            style = self.styles.wrap
        text = value if cleaned else cell_text(value)
        return _string_cell(self.sheet, text, style)

    def number(self, value: float | None, style: Any = None) -> _Cell:
        return _number_cell(self.sheet, value, style)

    def append(self, row: Sequence[_Cell]) -> None:
        self.sheet.append(row)
        self.rows += 1

    def finish(self) -> None:
        last = get_column_letter(len(self.columns))
        self.sheet.auto_filter.ref = f"A1:{last}{self.rows}"


class _Report:
    """One export: the workbook, its sheets, and the session's rows in them."""

    def __init__(self, session: SessionView, excerpt: int, log_limit: int) -> None:
        self.session = session
        self.excerpt = excerpt
        self.log_limit = log_limit
        devices = set(session.devices) | {entry.device for entry in session.entries}
        self.many_devices = len(devices) > 1
        self.devices = sorted(devices)
        self.book = Workbook(write_only=True)
        self.summary = self.book.create_sheet("Summary")
        self.styles = _Styles(self.summary)

    def write(self, stream: IO[bytes]) -> None:
        self._summary(self.summary)
        results, descriptions, logs, resources = self._tables()
        described: set[str] = set()
        # One pass over the entries feeds every sheet, so each io-log is
        # read once; write-only sheets each stream to their own temp file.
        for entry in self.session.entries:
            stdout, stderr = entry.output()
            self._result(results, entry, stdout, stderr)
            if entry.job.id not in described:
                described.add(entry.job.id)
                self._description(descriptions, entry)
            self._logs(logs, entry, stdout, stderr)
            if entry.job.plugin == "resource":
                self._resources(resources, entry, stdout)
        for table in (results, descriptions, logs, resources):
            table.finish()
        self._save(stream)

    # -- Summary ---------------------------------------------------------

    def _summary(self, sheet: _Sheet) -> None:
        session, styles = self.session, self.styles
        sheet.column_dimensions["A"].width = 30
        sheet.column_dimensions["B"].width = 60
        sheet.column_dimensions["C"].width = 10

        def text(value: str, style: Any = None) -> _Cell:
            return _string_cell(sheet, cell_text(value), style)

        def when(timestamp: float | None) -> _Cell:
            return _number_cell(sheet, _utc(timestamp), styles.date)

        duration = None
        if session.created is not None and session.finished is not None:
            duration = max(session.finished - session.created, 0.0)
        counts = Counter(entry.result.outcome for entry in session.entries)
        blockers = sum(
            1
            for entry in session.entries
            if entry.job.certification_status == "blocker"
            and entry.result.outcome in FAILING_OUTCOMES
        )
        rows: list[list[_Cell]] = [
            [text("Session", styles.header), text("Value", styles.header)],
            [text("Title"), text(session.title)],
            [text("Test plan"), text(session.test_plan or "")],
            [text("Session id"), text(session.id)],
            [text("Started (UTC)"), when(session.created)],
            [text("Finished (UTC)"), when(session.finished)],
            [text("Duration (s)"), _number_cell(sheet, duration, styles.duration)],
            [text("Devices"), text(", ".join(self.devices))],
            [text("Flags"), text(", ".join(sorted(session.flags)))],
            [text("Jobs"), len(session.entries)],
            [text("Failed certification blockers"), blockers],
            [text("Exported by"), text(f"plainbox {__version__}")],
            [],
            [
                text("Outcome", styles.header),
                text("Jobs", styles.header),
                text("Share", styles.header),
            ],
        ]
        total = len(session.entries)
        for outcome in _OUTCOME_ORDER:
            if counts[outcome]:
                rows.append(
                    [
                        text(outcome.value, styles.outcome[outcome]),
                        counts[outcome],
                        _number_cell(sheet, counts[outcome] / total, styles.percent),
                    ]
                )
        rows.append(
            [
                text("total"),
                total,
                _number_cell(sheet, 1 if total else 0, styles.percent),
            ]
        )
        for row in rows:
            sheet.append(row)

    # -- Results, Descriptions, Logs, Resources ----------------------------

    def _tables(self) -> tuple[_Table, _Table, _Table, _Table]:
        # Sized to the longest id, within bounds: a write-only sheet cannot
        # be measured after it is written.
        longest = max((len(entry.job.id) for entry in self.session.entries), default=0)
        id_width = float(min(max(longest + 2, 12), 60))
        device = [_Column("Device", 16)] if self.many_devices else []
        results = _Table(
            self.book,
            self.styles,
            "Results",
            [
                _Column("ID", id_width),
                _Column("Summary", 40),
                _Column("Outcome", 18),
                _Column("Certification status", 14),
                _Column("Category", 24),
                *device,
                _Column("Duration (s)", 12),
                _Column("Return code", 8),
                _Column("Attempts", 8),
                _Column("Comments", 40),
                _Column("Skip reason", 40),
                _Column("Output excerpt", 60),
            ],
        )
        descriptions = _Table(
            self.book,
            self.styles,
            "Descriptions",
            [
                _Column("ID", id_width),
                _Column("Summary", 40),
                _Column("Plugin", 12),
                _Column("Category", 24),
                _Column("Description", 80),
                _Column("Command", 60),
            ],
        )
        logs = _Table(
            self.book,
            self.styles,
            "Logs",
            [
                _Column("ID", id_width),
                *device,
                _Column("Stream", 8),
                _Column("Part", 6),
                # Not wrapped: a 32,767-character cell would make a row
                # taller than a screen.
                _Column("Text", 120),
            ],
        )
        resources = _Table(
            self.book,
            self.styles,
            "Resources",
            [
                _Column("Resource job", id_width),
                *device,
                _Column("Record", 8),
                _Column("Key", 24),
                _Column("Value", 60),
            ],
        )
        return results, descriptions, logs, resources

    def _device(self, table: _Table, entry: ResultEntry) -> list[_Cell]:
        return [table.text(entry.device)] if self.many_devices else []

    def _result(
        self, table: _Table, entry: ResultEntry, stdout: str, stderr: str
    ) -> None:
        job, result = entry.job, entry.result
        blocker = (
            job.certification_status == "blocker" and result.outcome in FAILING_OUTCOMES
        )
        table.append(
            [
                table.text(job.id),
                table.text(job.summary),
                table.text(
                    result.outcome.value, style=self.styles.outcome[result.outcome]
                ),
                # A failed blocker stands out.
                table.text(
                    job.certification_status,
                    style=self.styles.blocker if blocker else None,
                ),
                table.text(self.session.category_name(job.category_id)),
                *self._device(table, entry),
                table.number(
                    result.duration if _ran(entry) else None, self.styles.duration
                ),
                result.return_code,
                len(entry.attempts) or 1,
                table.text(result.comments, wrap=True),
                table.text(_skip_reason(result.skip_reason), wrap=True),
                table.text(_excerpt(stdout, stderr, self.excerpt), wrap=True),
            ]
        )

    def _description(self, table: _Table, entry: ResultEntry) -> None:
        job = entry.job
        table.append(
            [
                table.text(job.id),
                table.text(job.summary),
                table.text(job.plugin),
                table.text(self.session.category_name(job.category_id)),
                table.text(job.full_description, wrap=True),
                table.text(job.command or "", wrap=True),
            ]
        )

    def _logs(
        self, table: _Table, entry: ResultEntry, stdout: str, stderr: str
    ) -> None:
        for stream, output in (("stdout", stdout), ("stderr", stderr)):
            if not output:
                continue
            text = _escape_xstring(_trim_log(clean_text(output), self.log_limit))
            for part, piece in enumerate(split_text(text), start=1):
                table.append(
                    [
                        table.text(entry.job.id),
                        *self._device(table, entry),
                        stream,
                        part,
                        table.text(piece, cleaned=True),
                    ]
                )

    def _resources(self, table: _Table, entry: ResultEntry, stdout: str) -> None:
        for number, record in enumerate(parse_resource_output(stdout), start=1):
            for key, value in record.items():
                table.append(
                    [
                        table.text(entry.job.id),
                        *self._device(table, entry),
                        number,
                        table.text(key),
                        table.text(value),
                    ]
                )

    # -- Saving ------------------------------------------------------------

    def _save(self, stream: IO[bytes]) -> None:
        session = self.session
        created = _utc(session.created) or _utc(session.finished) or _NO_TIME
        modified = _utc(session.finished) or created
        properties = self.book.properties
        properties.creator = f"plainbox {__version__}"
        # Plain XML text, not cell text: cleaned, not escaped.
        properties.title = clean_text(session.title)[:1_000]
        properties.created = created
        properties.modified = modified
        # openpyxl's save() sets "modified" to now: its writer is used
        # directly instead, with an archive that fixes every entry's time.
        stamp = min(max(created, _NO_TIME), datetime.datetime(2107, 12, 31))
        archive = _DeterministicZip(stream, stamp)
        ExcelWriter(self.book, archive).save()


class XlsxExporter(Exporter):
    """The XLSX report: summary, results, descriptions, logs and resources."""

    id = "xlsx"
    file_extension = "xlsx"
    summary = "XLSX: a workbook of results, descriptions, logs and resources"
    option_help: ClassVar[Mapping[str, str]] = {
        "excerpt": (
            "characters of a job's output shown in the Results sheet (default "
            f"{DEFAULT_EXCERPT}); 0 shows as much as a cell holds; the whole "
            "output is in the Logs sheet"
        ),
        "log-limit": (
            "characters of each job's stdout and of its stderr kept in the Logs "
            f"sheet (default {DEFAULT_LOG_LIMIT}), split over rows of "
            f"{CELL_LIMIT} characters; longer output keeps its head and tail "
            "around a '… N characters cut …' marker; 0 keeps everything"
        ),
    }

    def __init__(self, option_list: Sequence[str] = (), strict: bool = True) -> None:
        super().__init__(option_list, strict)
        self.excerpt = self.whole_number_option(
            "excerpt", DEFAULT_EXCERPT, "characters"
        )
        self.log_limit = self.whole_number_option(
            "log-limit", DEFAULT_LOG_LIMIT, "characters"
        )

    def export(self, session: SessionView, stream: BinaryIO) -> None:
        _Report(session, self.excerpt, self.log_limit).write(stream)
