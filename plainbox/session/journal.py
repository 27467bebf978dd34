"""The session journal: an append-only file of checksummed JSON records.

Each line is one JSON object ``{"seq": N, "kind": K, "data": {...}, "crc": C}``
where ``C`` is the CRC-32 (8 hex digits) of the line's bytes up to, but not
including, ``,"crc":``, with the closing brace put back.  The checksum sits at
the end so that it covers exactly the bytes written: verifying a record never
depends on serialising it again.

Appending is one write of a whole line, so a process killed at any instant
leaves whole records; only power loss can leave a torn line, and then only
the last one.  :func:`read_journal` therefore drops a damaged *last* record
with a warning and treats damage anywhere before it as corruption.

Durability is explicit: :meth:`Journal.sync` makes what was appended durable,
and the run loop calls it before it starts anything that could take the
machine down (a job's command, an operator prompt), so several records share
one sync.  To make that sync cheap, an open journal is *preallocated* as
database write-ahead logs are: the file is extended with zeros
:data:`PREALLOCATE` bytes at a time (then fully fsynced), and records are
written into that space, so :meth:`Journal.sync` is an ``fdatasync`` that
flushes data only -- no file-system journal commit for a new file size, which
halves its cost on ext4.  :meth:`Journal.close` cuts the unused zeros off; a
journal whose writer was killed keeps them, and readers ignore the zeros at
the end of a journal.
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


__all__ = [
    "PREALLOCATE",
    "Journal",
    "JournalContents",
    "Record",
    "read_first_record",
    "read_journal",
]

#: Bytes of zeros an open journal is extended by when its records reach the
#: end of the file: one full fsync per this many bytes of records (a job's
#: two records take about 400).
PREALLOCATE = 128 * 1024

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
    # The preallocated space a writer had not used yet (records never hold a
    # zero byte: JSON escapes it).
    raw = raw.rstrip(b"\0")
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
            # Cut off a torn tail (and old preallocated zeros) so new records
            # never follow garbage.
            os.ftruncate(self._fd, contents.valid_length)
            self._end = contents.valid_length
            self._allocated = contents.valid_length
            if contents.needs_newline:
                self._write(b"\n")
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
        self._write(_encode(self._next_seq, kind, data))
        record = Record(self._next_seq, kind, dict(data))
        self._next_seq += 1
        self._dirty = True
        return record

    def _write(self, line: bytes) -> None:
        if self._end + len(line) > self._allocated:
            self._preallocate(self._end + len(line))
        written = os.pwrite(self._fd, line, self._end)
        while written < len(line):  # only on a full disk or a signal mid-write
            written += os.pwrite(self._fd, line[written:], self._end + written)
        self._end += len(line)

    def _preallocate(self, needed: int) -> None:
        """Extend the file with zeros past ``needed``, durably (size included).

        Real zeros, not ``fallocate``: writing into unwritten extents would
        change metadata again at every sync.
        """
        size = needed + PREALLOCATE
        zeros = bytes(size - self._allocated)
        offset = self._allocated
        while zeros:
            written = os.pwrite(self._fd, zeros, offset)
            zeros = zeros[written:]
            offset += written
        os.fsync(self._fd)  # also makes every record so far durable
        self._allocated = size
        self._dirty = False

    def fileno(self) -> int:
        """The open file descriptor (for fsync by a caller that needs it)."""
        return self._fd

    def sync(self) -> None:
        """Make every appended record durable."""
        if self._dirty:
            # The blocks and the file size are durable already: data only.
            os.fdatasync(self._fd)
            self._dirty = False

    def close(self) -> None:
        """Cut off the unused zeros, sync and close; closing twice is harmless."""
        if self._fd >= 0:
            try:
                if self._allocated > self._end:
                    os.ftruncate(self._fd, self._end)
                    self._allocated = self._end
                    self._dirty = True  # the new size must be durable
                if self._dirty:
                    os.fsync(self._fd)
                    self._dirty = False
            finally:
                os.close(self._fd)
                self._fd = -1
