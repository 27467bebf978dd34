"""The io-log: JSON Lines records of a command's output, bytes kept exactly."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from plainbox.errors import CorruptSessionError
from plainbox.execution.iolog import IOLogWriter
from plainbox.execution.iolog import OutputLine
from plainbox.execution.iolog import decode_record
from plainbox.execution.iolog import encode_record
from plainbox.execution.iolog import iter_io_log
from plainbox.execution.iolog import read_io_log
from plainbox.execution.iolog import write_io_log


DATA = [
    b"plain\n",
    b"",
    b"\n",
    b"no newline",
    "café ✓ 😀\n".encode(),
    b'quote " backslash \\ slash /\n',
    b"\x00nul \x1b[31mansi\x1b[0m\t\r\n",
    b"\xff\xfe invalid\n",
    b"caf\xe9\n",  # Latin-1
    b"truncated \xe2\x9c",  # a UTF-8 sequence cut in two
    b"\xed\xa0\x80 surrogate\n",  # UTF-8-encoded surrogate: not valid UTF-8
    bytes(range(256)),
]


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_record_round_trips_the_exact_bytes(data, stream):
    line = OutputLine(stream, data, 1.25)

    assert decode_record(encode_record(line)) == line


@pytest.mark.parametrize(
    ("data", "payload"),
    [
        (b"ok\n", {"d": "ok\n"}),
        ("é\n".encode(), {"d": "é\n"}),
        (b"\xff\n", {"b": base64.b64encode(b"\xff\n").decode()}),
    ],
)
def test_a_record_is_one_json_object_on_one_line(data, payload):
    record = encode_record(OutputLine("stderr", data, 0.0123456))

    assert record.endswith(b"\n")
    assert record.count(b"\n") == 1
    assert json.loads(record) == {"t": 0.012, "s": "stderr", **payload}


@pytest.mark.parametrize("data", DATA)
def test_a_record_is_what_json_dumps_would_write(data):
    line = OutputLine("stdout", data, 12.3456)
    record = json.loads(encode_record(line))

    expected = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    assert encode_record(line) == expected.encode() + b"\n"


def test_text_records_are_written_as_utf8_not_escapes():
    assert "é".encode() in encode_record(OutputLine("stdout", "é".encode(), 0))


@pytest.mark.parametrize(
    ("offset", "logged"),
    [(0, 0), (0.0004, 0.0), (0.0005001, 0.001), (3600.1234, 3600.123)],
)
def test_offsets_are_rounded_to_the_millisecond(offset, logged):
    record = json.loads(encode_record(OutputLine("stdout", b"x", offset)))

    assert record["t"] == logged


def test_a_log_round_trips_lines_in_order(tmp_path):
    path = tmp_path / "job.jsonl"
    lines = [
        OutputLine("stdout" if i % 3 else "stderr", data, i * 0.5)
        for i, data in enumerate(DATA)
    ]

    write_io_log(path, lines)

    assert read_io_log(path) == lines


def test_the_writer_writes_what_encode_record_encodes(tmp_path):
    # The writer builds a record's head once per run of lines sharing offset
    # and stream; the bytes must not differ from record-by-record encoding.
    path = tmp_path / "job.jsonl"
    lines = [
        OutputLine(stream, data, offset)
        for offset in (0.0, 0.0004, 1.25)
        for stream in ("stdout", "stdout", "stderr")
        for data in DATA[:4] + DATA[-2:]
    ]

    write_io_log(path, lines)

    assert path.read_bytes() == b"".join(encode_record(line) for line in lines)


def test_an_empty_log_has_no_lines(tmp_path):
    path = tmp_path / "job.jsonl"

    write_io_log(path, [])

    assert path.read_bytes() == b""
    assert read_io_log(path) == []


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_logs_are_private(tmp_path, umask):
    path = tmp_path / "job.jsonl"
    old = os.umask(umask)
    try:
        write_io_log(path, [OutputLine("stdout", b"secret\n", 0)])
    finally:
        os.umask(old)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_file_is_replaced_and_made_private(tmp_path):
    path = tmp_path / "job.jsonl"
    path.write_text("x" * 1000)
    path.chmod(0o644)

    write_io_log(path, [OutputLine("stdout", b"new\n", 0)])

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_io_log(path) == [OutputLine("stdout", b"new\n", 0)]


def test_a_symlink_is_not_followed(tmp_path):
    target = tmp_path / "target"
    target.write_text("keep")
    (tmp_path / "job.jsonl").symlink_to(target)

    with pytest.raises(OSError, match="symbolic link"):
        write_io_log(tmp_path / "job.jsonl", [])

    assert target.read_text() == "keep"


def test_the_writer_puts_each_batch_on_disk_at_once(tmp_path):
    path = tmp_path / "job.jsonl"
    with IOLogWriter(path) as writer:
        writer.write([OutputLine("stdout", b"one\n", 0.1)])
        assert read_io_log(path) == [OutputLine("stdout", b"one\n", 0.1)]
        writer.write(
            [OutputLine("stderr", b"two\n", 0.2), OutputLine("stdout", b"3", 0.2)]
        )
        assert len(read_io_log(path)) == 3


def test_a_closed_writer_refuses_to_write(tmp_path):
    writer = IOLogWriter(tmp_path / "job.jsonl")
    writer.close()
    writer.close()

    with pytest.raises(ValueError, match="closed"):
        writer.write([OutputLine("stdout", b"late\n", 0)])


def test_a_torn_last_record_is_ignored(tmp_path):
    path = tmp_path / "job.jsonl"
    whole = encode_record(OutputLine("stdout", b"whole\n", 0))
    torn = encode_record(OutputLine("stdout", b"torn\n", 1))[:-9]
    path.write_bytes(whole + torn)

    assert read_io_log(path) == [OutputLine("stdout", b"whole\n", 0)]


def test_a_complete_last_record_without_newline_is_read(tmp_path):
    path = tmp_path / "job.jsonl"
    path.write_bytes(encode_record(OutputLine("stdout", b"x", 0)).rstrip(b"\n"))

    assert read_io_log(path) == [OutputLine("stdout", b"x", 0)]


def test_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "job.jsonl"
    path.write_bytes(b"\n" + encode_record(OutputLine("stdout", b"x", 0)) + b"\n")

    assert read_io_log(path) == [OutputLine("stdout", b"x", 0)]


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"s": "stdout", "d": ""}', "'t'"),
        ('{"t": true, "s": "stdout", "d": ""}', "'t'"),
        ('{"t": "1", "s": "stdout", "d": ""}', "'t'"),
        ('{"t": 1, "s": "stdin", "d": ""}', "'s'"),
        ('{"t": 1, "s": "stdout"}', "exactly one"),
        ('{"t": 1, "s": "stdout", "d": "", "b": ""}', "exactly one"),
        ('{"t": 1, "s": "stdout", "d": 5}', "exactly one"),
        ('{"t": 1, "s": "stdout", "b": "***"}', "base64"),
        ('{"t": 1, "s": "stdout", "d": "\\ud800"}', "surrogate"),
    ],
)
def test_a_malformed_record_is_an_error(tmp_path, record, problem):
    path = tmp_path / "job.jsonl"
    good = encode_record(OutputLine("stdout", b"x", 0))
    path.write_bytes(good + record.encode() + b"\n" + good)

    with pytest.raises(CorruptSessionError, match=rf"job\.jsonl, line 2: .*{problem}"):
        read_io_log(path)


def test_lines_can_be_read_one_at_a_time(tmp_path):
    path = tmp_path / "job.jsonl"
    write_io_log(path, [OutputLine("stdout", b"%d\n" % i, i) for i in range(3)])

    lines = iter_io_log(path)

    assert next(lines) == OutputLine("stdout", b"0\n", 0)
    assert [line.data for line in lines] == [b"1\n", b"2\n"]


def test_a_line_offers_its_text():
    assert OutputLine("stdout", b"caf\xc3\xa9 \xff\n", 0).text == "café \ufffd\n"


def test_a_missing_log_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_io_log(tmp_path / "nope.jsonl")
