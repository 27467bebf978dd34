"""The session journal: an append-only file of checksummed JSON records.

Each line is one JSON object ``{"seq": N, "kind": K, "data": {...}, "crc": C}``
where ``C`` is the CRC-32 (8 hex digits) of the line's bytes up to, but not
including, ``,"crc":``, with the closing brace put back.  The checksum sits at
the end so that it covers exactly the bytes written: verifying a record never
depends on serialising it again.

Appending is one ``os.write`` of a whole line, so a process killed at any
instant leaves whole records; only power loss can leave a torn line, and then
only the last one.  :func:`read_journal` therefore drops a damaged *last*
record with a warning and treats damage anywhere before it as corruption.
Durability is explicit: :meth:`Journal.sync` fsyncs what was appended, and the
run loop calls it before it starts anything that could take the machine down
(a job's command, an operator prompt), so several records share one fsync.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from plainbox.errors import CorruptSessionError


__all__ = ["Journal", "JournalContents", "Record", "read_first_record", "read_journal"]

# One encoder for every record: json.dumps would build one per call.
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
_CRC_PREFIX = b',"crc":"'
_SUFFIX_LENGTH = len(_CRC_PREFIX) + 8 + len(b'"}')
_HEX_DIGITS = re.compile(rb"[0-9a-f]{8}")


@dataclass(frozen=True, slots=True)
class Record:
    """One journal entry."""

    seq: int
    kind: str
    data: dict[str, Any]


@dataclass(slots=True)
class JournalContents:
    """What :func:`read_journal` found.

    ``valid_length`` is the byte offset after the last good record: where
    the next record goes once a torn tail is cut off.
    """

    records: list[Record] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    valid_length: int = 0
    needs_newline: bool = False  # the last good record lacks its "\n"


def _encode(seq: int, kind: str, data: Mapping[str, Any]) -> bytes:
    body = _ENCODE({"seq": seq, "kind": kind, "data": data}).encode("ascii")
    crc = zlib.crc32(body)
    return body[:-1] + b'%s%08x"}\n' % (_CRC_PREFIX, crc)


def _decode(line: bytes) -> Record | None:
    """The record on ``line`` (without its newline), or None if it is damaged."""
    if len(line) <= _SUFFIX_LENGTH or not line.endswith(b'"}'):
        return None
    split = len(line) - _SUFFIX_LENGTH
    if line[split : split + len(_CRC_PREFIX)] != _CRC_PREFIX:
        return None
    body = line[:split] + b"}"
    digits = line[split + len(_CRC_PREFIX) : -2]
    # Exactly what _encode writes: int() alone would also take " 1a2b3c4",
    # "+1a2b3c4" or "0_1a2b3c", so a damaged checksum could still verify.
    if _HEX_DIGITS.fullmatch(digits) is None:
        return None
    if zlib.crc32(body) != int(digits, 16):
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    seq, kind, data = value.get("seq"), value.get("kind"), value.get("data")
    if not (isinstance(seq, int) and isinstance(kind, str) and isinstance(data, dict)):
        return None
    return Record(seq, kind, data)


def _joins_two_records(line: bytes, seq: int) -> bool:
    """True when ``line`` is records ``seq`` and ``seq + 1`` with the newline
    between them damaged.

    A write cut short leaves a prefix of one record, never two whole ones, so
    such a last line is damage to the record before the last, not a torn tail.
    """
    start = 0
    while (found := line.find(_CRC_PREFIX, start)) >= 0:
        end = found + _SUFFIX_LENGTH
        first = _decode(line[:end])
        if first is not None:
            second = _decode(line[end + 1 :])
            return first.seq == seq and second is not None and second.seq == seq + 1
        start = found + 1
    return False


def read_journal(path: Path) -> JournalContents:
    """Read and verify every record of a journal.

    :raises CorruptSessionError: a record before the last one is damaged or
        out of sequence; the message names the file and line.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return JournalContents()
    except OSError as exc:
        raise CorruptSessionError(f"{path}: cannot read the journal: {exc}") from exc
    contents = JournalContents()
    offset = 0
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        is_last = number == len(lines) or (
            number == len(lines) - 1 and lines[-1] == b""
        )
        end = offset + len(line)
        if number == len(lines) and line == b"":
            break  # the file ends with a newline: nothing torn
        record = _decode(line)
        expected_seq = len(contents.records) + 1
        if record is None or record.seq != expected_seq:
            problem = (
                "damaged record"
                if record is None
                else f"record {record.seq} where {expected_seq} was expected"
            )
            if is_last and not (
                record is None and _joins_two_records(line, expected_seq)
            ):
                contents.warnings.append(
                    f"{path}:{number}: {problem} at the end of the journal"
                    " (a write was cut short); it was dropped"
                )
                break
            raise CorruptSessionError(f"{path}:{number}: {problem}")
        contents.records.append(record)
        contents.valid_length = end + 1 if end < len(raw) else end
        contents.needs_newline = end == len(raw)
        offset = end + 1
    return contents


def read_first_record(path: Path) -> Record | None:
    """The journal's first record without reading the rest; None if damaged."""
    try:
        with path.open("rb") as stream:
            line = stream.readline()
    except OSError:
        return None
    return _decode(line.rstrip(b"\n"))


class Journal:
    """An open journal, appending after the records already in it."""

    def __init__(self, path: Path, contents: JournalContents | None = None) -> None:
        self.path = path
        contents = contents if contents is not None else read_journal(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            # Cut off a torn tail so new records never follow garbage.
            os.ftruncate(self._fd, contents.valid_length)
            os.lseek(self._fd, contents.valid_length, os.SEEK_SET)
            if contents.needs_newline:
                os.write(self._fd, b"\n")
        except OSError:
            os.close(self._fd)
            raise
        self._next_seq = len(contents.records) + 1
        self._dirty = contents.valid_length > 0

    @property
    def next_seq(self) -> int:
        """The sequence number the next record gets."""
        return self._next_seq

    def append(self, kind: str, data: Mapping[str, Any]) -> Record:
        """Write one record (not yet durable: see :meth:`sync`)."""
        line = _encode(self._next_seq, kind, data)
        written = os.write(self._fd, line)
        while written < len(line):  # only on a full disk or a signal mid-write
            written += os.write(self._fd, line[written:])
        record = Record(self._next_seq, kind, dict(data))
        self._next_seq += 1
        self._dirty = True
        return record

    def fileno(self) -> int:
        """The open file descriptor (for fsync by a caller that needs it)."""
        return self._fd

    def sync(self) -> None:
        """Make every appended record durable."""
        if self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def close(self) -> None:
        """Sync and close; closing twice is harmless."""
        if self._fd >= 0:
            try:
                self.sync()
            finally:
                os.close(self._fd)
                self._fd = -1
