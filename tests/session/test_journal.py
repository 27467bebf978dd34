"""The append-only session journal: round trips, torn tails and corruption."""

from __future__ import annotations

import functools
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox.errors import CorruptSessionError
from plainbox.session.journal import PREALLOCATE
from plainbox.session.journal import Journal
from plainbox.session.journal import Record
from plainbox.session.journal import read_first_record
from plainbox.session.journal import read_journal


# Text with lone surrogates mixed in: job output and environment values are
# decoded with surrogateescape (U+DC80..U+DCFF), so they reach the journal.
# (A high surrogate followed by a low one is JSON's spelling of one astral
# character, so such a pair could not come back as two; surrogateescape never
# makes high surrogates.)
TEXT = st.text(
    st.one_of(
        st.characters(exclude_categories=["Cs"]),
        st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF),
    )
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=False),  # NaN != NaN: nothing to compare it with
    TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(TEXT, children, max_size=3),
    ),
    max_leaves=8,
)
RECORDS = st.lists(
    st.tuples(TEXT, st.dictionaries(TEXT, JSON_VALUES, max_size=3)),
    min_size=1,
    max_size=4,
)


def write_journal(path: Path, count: int, *, prefix: str = "r") -> list[Record]:
    """A journal of ``count`` records; returns what was appended."""
    journal = Journal(path)
    try:
        return [
            journal.append("job-finished", {"job": f"{prefix}{i}", "n": i, "s": "é✓"})
            for i in range(count)
        ]
    finally:
        journal.close()


def line_spans(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of each line, the end including its newline."""
    spans = []
    start = 0
    while start < len(raw):
        end = raw.index(b"\n", start) + 1
        spans.append((start, end))
        start = end
    return spans


def typed(value: Any) -> str:
    # JSON text tells 1, 1.0 and True apart, where == does not.
    return json.dumps(value, sort_keys=True)


# -- round trip --------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(RECORDS)
def test_round_trip_keeps_every_record(entries):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "journal.jsonl"
        journal = Journal(path)
        written = [journal.append(kind, data) for kind, data in entries]
        journal.close()
        contents = read_journal(path)

    assert contents.warnings == []
    assert contents.records == written
    assert [r.seq for r in contents.records] == list(range(1, len(entries) + 1))
    for record, (kind, data) in zip(contents.records, entries, strict=True):
        assert record.kind == kind
        assert typed(record.data) == typed(data)


@pytest.mark.parametrize(
    "data",
    [
        {"big": 2**128, "negative": -(2**70)},
        {"floats": [0.1, 1e308, 5e-324, -0.5, float("inf"), float("-inf")]},
        {"lone": "\udcff\ud800", "\udc80key": "value"},
        {"unicode": "Ünïcödé ✓ 🎉 \u2028 \x00 \n \r\t"},
        {
            "nested": {"a": [1, {"b": None}], "crc": "00000000"}
        },  # a "crc" key in the data
        {},
    ],
    ids=["big-ints", "floats", "surrogates", "unicode", "nested", "empty"],
)
def test_round_trip_of_awkward_values(tmp_path, data):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.append("metadata", data)
    journal.close()

    (record,) = read_journal(path).records
    assert typed(record.data) == typed(data)
    # One record is one line, whatever the data holds.
    assert path.read_bytes().count(b"\n") == 1


def test_journal_file_is_private_and_sequence_continues_after_reopen(tmp_path):
    path = tmp_path / "journal.jsonl"
    write_journal(path, 2)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    journal = Journal(path)
    assert journal.next_seq == 3
    record = journal.append("session-finished", {"finished": 1.5})
    journal.close()
    journal.close()  # closing twice is harmless

    assert record == Record(3, "session-finished", {"finished": 1.5})
    assert [r.seq for r in read_journal(path).records] == [1, 2, 3]


def test_journal_uses_the_contents_it_is_given(tmp_path):
    path = tmp_path / "journal.jsonl"
    write_journal(path, 3)
    contents = read_journal(path)

    journal = Journal(path, contents)
    assert journal.next_seq == 4
    journal.close()


# -- torn tails --------------------------------------------------------------


def test_cut_at_every_offset_of_the_last_record(tmp_path):
    path = tmp_path / "journal.jsonl"
    written = write_journal(path, 3)
    full = path.read_bytes()
    start, end = line_spans(full)[-1]

    for cut in range(start, end + 1):
        path.write_bytes(full[:cut])
        contents = read_journal(path)
        if cut >= end - 1:
            # Whole record; at end - 1 only its newline is missing.
            assert contents.records == written, cut
            assert contents.warnings == [], cut
        elif cut == start:
            # The file ends at a record boundary: nothing was torn.
            assert contents.records == written[:2], cut
            assert contents.warnings == [], cut
        else:
            assert contents.records == written[:2], cut
            (warning,) = contents.warnings
            assert warning.startswith(f"{path}:3: "), (cut, warning)
            assert "dropped" in warning

        # Appending after the cut continues cleanly.
        journal = Journal(path)
        journal.append("after", {"cut": cut})
        journal.append("after", {"cut": cut, "second": True})
        journal.close()
        reread = read_journal(path)
        assert reread.warnings == [], cut
        assert reread.records[: len(contents.records)] == contents.records, cut
        assert [r.seq for r in reread.records] == list(
            range(1, len(contents.records) + 3)
        ), cut
        assert [r.kind for r in reread.records[-2:]] == ["after", "after"], cut
        assert path.read_bytes().endswith(b"\n"), cut


def test_complete_last_record_without_newline_is_kept(tmp_path):
    path = tmp_path / "journal.jsonl"
    written = write_journal(path, 2)
    path.write_bytes(path.read_bytes()[:-1])

    contents = read_journal(path)
    assert contents.records == written
    assert contents.needs_newline
    assert contents.warnings == []

    # The next record goes on a line of its own.
    journal = Journal(path, contents)
    journal.append("next", {})
    journal.close()
    assert path.read_bytes().count(b"\n") == 3
    assert [r.seq for r in read_journal(path).records] == [1, 2, 3]


@pytest.mark.parametrize(
    "tail",
    [
        b"\0",
        b"\0" * 4096,  # a block the file grew by, never written
        b"\0" * PREALLOCATE,  # what a killed writer had preallocated
    ],
    ids=["one-zero", "zero-block", "preallocated"],
)
def test_zeros_after_the_last_record_are_unused_space(tmp_path, tail):
    path = tmp_path / "journal.jsonl"
    written = write_journal(path, 2)
    clean = path.read_bytes()
    path.write_bytes(clean + tail)

    contents = read_journal(path)
    assert contents.records == written
    assert contents.warnings == []
    assert contents.valid_length == len(clean)

    journal = Journal(path, contents)
    new = journal.append("next", {"ok": True})
    journal.close()
    assert path.read_bytes().startswith(clean)
    assert b"\0" not in path.read_bytes()
    assert read_journal(path).records == [*written, new]


@pytest.mark.parametrize(
    "tail",
    [
        b"\xff\xfe\x00garbage \x80",
        b'{"seq":3,"kind":"job-finished","data":{"job":"x"',
        b'{"seq":3,"kind":"job-finished","data":{"job":"x"' + b"\0" * 100,
        b"\n",  # a stray empty line
        b"\r",
    ],
    ids=["binary", "torn-record", "torn-record-then-zeros", "empty-line", "cr"],
)
def test_garbage_after_the_last_record_is_dropped(tmp_path, tail):
    path = tmp_path / "journal.jsonl"
    written = write_journal(path, 2)
    clean = path.read_bytes()
    path.write_bytes(clean + tail)

    contents = read_journal(path)
    assert contents.records == written
    (warning,) = contents.warnings
    assert warning.startswith(f"{path}:3: ")
    assert contents.valid_length == len(clean)

    # Opening the journal cuts the garbage off before appending.
    journal = Journal(path, contents)
    new = journal.append("next", {"ok": True})
    journal.close()
    assert path.read_bytes().startswith(clean)
    assert read_journal(path).records == [*written, new]


def test_last_record_whose_newline_is_zero_is_kept(tmp_path):
    # Power loss with the record's last byte lost to a preallocated zero: the
    # record itself verifies, so it is kept, and the next one starts on a new
    # line.
    path = tmp_path / "journal.jsonl"
    written = write_journal(path, 2)
    path.write_bytes(path.read_bytes()[:-1] + b"\0" * 100)

    contents = read_journal(path)
    assert contents.records == written
    assert contents.warnings == []
    assert contents.needs_newline

    journal = Journal(path, contents)
    new = journal.append("next", {"ok": True})
    journal.close()
    assert read_journal(path).records == [*written, new]


# -- corruption ----------------------------------------------------------------


@pytest.mark.parametrize("damaged", [1, 3, 4], ids=["first", "middle", "before-last"])
@pytest.mark.parametrize(
    "replace",
    [
        lambda b: b ^ 0x01,
        lambda b: b ^ 0x20,  # case flips: "a" -> "A" in the checksum
        lambda b: ord("\n"),
    ],
    ids=["bit0", "bit5", "newline"],
)
def test_a_damaged_byte_before_the_last_record_names_its_line(
    tmp_path, damaged, replace
):
    path = tmp_path / "journal.jsonl"
    write_journal(path, 5)
    full = path.read_bytes()
    start, end = line_spans(full)[damaged - 1]

    for position in range(start, end):  # the record and its newline
        changed = bytearray(full)
        new = replace(changed[position])
        if new == changed[position]:
            continue
        changed[position] = new
        path.write_bytes(bytes(changed))
        with pytest.raises(CorruptSessionError) as caught:
            read_journal(path)
        assert str(caught.value).startswith(f"{path}:{damaged}: "), position


@functools.cache
def four_records() -> bytes:
    """The bytes of a four-record journal, written once for many examples."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "journal.jsonl"
        write_journal(path, 4)
        return path.read_bytes()


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_changed_byte_before_the_last_record_is_corruption(data):
    full = four_records()
    spans = line_spans(full)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "journal.jsonl"
        position = data.draw(st.integers(0, spans[-1][0] - 1), label="position")
        value = data.draw(
            st.integers(0, 255).filter(lambda v: v != full[position]), label="value"
        )
        line = next(n for n, (s, e) in enumerate(spans, 1) if s <= position < e)
        changed = bytearray(full)
        changed[position] = value
        path.write_bytes(bytes(changed))

        with pytest.raises(
            CorruptSessionError, match=rf"^{re.escape(str(path))}:{line}: "
        ):
            read_journal(path)


@pytest.mark.parametrize("replacement", [b" ", b"+"])
def test_a_checksum_must_be_exactly_eight_lowercase_hex_digits(tmp_path, replacement):
    # int(" 1234567", 16) == int("01234567", 16): a leading "0" of the
    # checksum damaged into a space or a sign must not still verify.
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    for n in range(200):
        journal.append("job-finished", {"n": n})
    journal.close()
    lines = path.read_bytes().splitlines(keepends=True)
    suffix = len('0abcdef1"}\n')
    leading_zero = next(i for i, line in enumerate(lines) if line[-suffix] == ord("0"))
    line = lines[leading_zero]
    lines[leading_zero] = line[:-suffix] + replacement + line[-suffix + 1 :]
    path.write_bytes(b"".join(lines[: leading_zero + 1]))

    contents = read_journal(path)
    assert len(contents.records) == leading_zero
    (warning,) = contents.warnings
    assert warning.startswith(f"{path}:{leading_zero + 1}: damaged record")


def test_joined_last_records_are_corruption_not_a_torn_tail(tmp_path):
    # The newline between the last two records damaged: both are whole, so
    # this is not a write cut short, and record 2 must not vanish quietly.
    path = tmp_path / "journal.jsonl"
    write_journal(path, 3)
    full = path.read_bytes()
    newline = line_spans(full)[1][1] - 1
    path.write_bytes(full[:newline] + b"x" + full[newline + 1 :])

    with pytest.raises(
        CorruptSessionError, match=rf"^{re.escape(str(path))}:2: damaged record"
    ):
        read_journal(path)


@pytest.mark.parametrize(
    ("order", "error", "kept"),
    [
        ([1, 3, 4], "2: record 3 where 2 was expected", None),
        ([1, 1, 2], "2: record 1 where 2 was expected", None),
        ([2, 3], "1: record 2 where 1 was expected", None),
        ([1, 2, 4], "3: record 4 where 3 was expected", 2),  # last: dropped
        ([1, 2, 2], "3: record 2 where 3 was expected", 2),
        ([2], "1: record 2 where 1 was expected", 0),
    ],
)
def test_records_out_of_sequence(tmp_path, order, error, kept):
    source = tmp_path / "source.jsonl"
    write_journal(source, 5)
    lines = source.read_bytes().splitlines(keepends=True)
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"".join(lines[seq - 1] for seq in order))

    if kept is None:
        with pytest.raises(CorruptSessionError) as caught:
            read_journal(path)
        assert str(caught.value) == f"{path}:{error}"
    else:
        contents = read_journal(path)
        assert [r.seq for r in contents.records] == order[:kept]
        (warning,) = contents.warnings
        assert warning.startswith(f"{path}:{error} at the end of the journal")


@pytest.mark.parametrize("content", [None, b""], ids=["missing", "empty"])
def test_missing_or_empty_journal(tmp_path, content):
    path = tmp_path / "journal.jsonl"
    if content is not None:
        path.write_bytes(content)

    contents = read_journal(path)
    assert contents.records == []
    assert contents.warnings == []
    assert contents.valid_length == 0
    assert read_first_record(path) is None

    journal = Journal(path)
    assert journal.next_seq == 1
    journal.append("session-started", {"created": 1.0})
    journal.close()
    assert [r.seq for r in read_journal(path).records] == [1]


def test_unreadable_journal_is_corrupt(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.mkdir()  # reading a directory fails with an OSError other than ENOENT
    with pytest.raises(CorruptSessionError, match="cannot read the journal"):
        read_journal(path)


# -- read_first_record ---------------------------------------------------------


def test_read_first_record_ignores_the_rest(tmp_path):
    path = tmp_path / "journal.jsonl"
    written = write_journal(path, 2)
    # Damage after the first line would make read_journal fail...
    path.write_bytes(path.read_bytes() + b"garbage\n" + b"more garbage\n")
    with pytest.raises(CorruptSessionError):
        read_journal(path)
    # ...but the first record is still found on its own.
    assert read_first_record(path) == written[0]


@pytest.mark.parametrize(
    "content",
    [b"garbage\n", b'{"seq":1}\n', b"\0" * 10],
    ids=["garbage", "no-checksum", "zeros"],
)
def test_read_first_record_of_a_damaged_journal(tmp_path, content):
    path = tmp_path / "journal.jsonl"
    path.write_bytes(content)
    assert read_first_record(path) is None


def test_read_first_record_without_newline(tmp_path):
    path = tmp_path / "journal.jsonl"
    (written,) = write_journal(path, 1)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert read_first_record(path) == written


# -- visibility ------------------------------------------------------------------


_READER = """
import json, sys
from pathlib import Path
from plainbox.session.journal import read_journal
contents = read_journal(Path(sys.argv[1]))
print(json.dumps([[r.seq, r.kind, r.data] for r in contents.records]))
"""


def test_appended_records_are_visible_to_another_process_before_sync(tmp_path):
    # sync() is about surviving power loss; another reader sees appends at once.
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    try:
        journal.append("session-started", {"created": 1.0})
        journal.append("job-started", {"job": "a", "started": 2.0})
        output = subprocess.run(
            [sys.executable, "-c", _READER, str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    finally:
        journal.close()

    assert json.loads(output) == [
        [1, "session-started", {"created": 1.0}],
        [2, "job-started", {"job": "a", "started": 2.0}],
    ]


# -- preallocation ---------------------------------------------------------------


def test_an_open_journal_is_preallocated_and_readable_as_it_is(tmp_path):
    # What a reader sees of a journal whose writer is running, or was killed.
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    written = [journal.append("step", {"n": n}) for n in range(3)]
    journal.sync()

    raw = path.read_bytes()
    assert len(raw) > PREALLOCATE
    records_end = raw.index(b"\0")
    assert raw[records_end:] == bytes(len(raw) - records_end)
    assert read_journal(path).records == written
    assert read_first_record(path) == written[0]

    journal.close()
    assert path.read_bytes() == raw[:records_end]


def test_records_go_on_past_the_preallocated_space(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    filler = "x" * 1000
    written = [
        journal.append("step", {"n": n, "filler": filler})
        for n in range(2 * PREALLOCATE // 1000)
    ]
    journal.close()

    assert read_journal(path).records == written
    assert b"\0" not in path.read_bytes()


def test_sync_flushes_data_only_once_the_space_is_allocated(tmp_path, monkeypatch):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.append("first", {})  # allocates: one full fsync
    calls: list[str] = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append("fsync"))
    monkeypatch.setattr(os, "fdatasync", lambda fd: calls.append("fdatasync"))

    journal.append("second", {})
    journal.sync()
    journal.sync()  # nothing new: nothing to do

    assert calls == ["fdatasync"]
    monkeypatch.undo()
    journal.close()
