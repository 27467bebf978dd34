"""What a job's command printed, line by line, with timestamps: the io-log.

Each job attempt gets one io-log file, written while the command runs. The
format is `JSON Lines <https://jsonlines.org/>`_: one JSON object per output
line, in the order the lines arrived, each ending with ``\\n``::

    {"t": 0.003, "s": "stdout", "d": "checking /dev/sda\\n"}
    {"t": 0.412, "s": "stderr", "d": "warning: no SMART data\\n"}
    {"t": 0.413, "s": "stdout", "b": "/v5hCg=="}

``t``
    seconds since the command started (float, rounded to the millisecond);
    never decreases from one record to the next.
``s``
    the stream: ``"stdout"`` or ``"stderr"``.
``d``
    the line as text, when its bytes are valid UTF-8 -- *or*
``b``
    the line's bytes in standard base64, when they are not.

A "line" keeps its terminating ``\\n``; the last line of a stream may lack
one, and a line longer than the runner's chunk size (64 KiB) is split into
several records, so concatenating the ``d``/``b`` payloads of one stream
gives back its exact bytes.

Files are created with mode 0600 (output can hold secrets) and every batch of
records is written with one unbuffered ``write(2)`` as soon as it is read
from the pipe, so after a crash or Ctrl-C the file holds everything the
command printed so far. A reader therefore tolerates a torn final record
(one without its ``\\n``) and ignores it; any other malformed record is an
error.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring as _json_string
from pathlib import Path
from types import TracebackType

from plainbox.errors import CorruptSessionError


__all__ = [
    "STDERR",
    "STDOUT",
    "IOLogWriter",
    "OutputLine",
    "decode_record",
    "encode_record",
    "iter_io_log",
    "read_io_log",
    "write_io_log",
]

STDOUT = "stdout"
STDERR = "stderr"
_STREAMS = frozenset({STDOUT, STDERR})


@dataclass(frozen=True, slots=True)
class OutputLine:
    """One line (or 64 KiB chunk of a longer line) a command printed.

    :ivar stream: ``"stdout"`` or ``"stderr"``.
    :ivar data: the exact bytes, including the trailing ``\\n`` if any.
    :ivar offset: seconds since the command started.
    """

    stream: str
    data: bytes
    offset: float

    @property
    def text(self) -> str:
        """The line decoded as UTF-8, undecodable bytes replaced."""
        return self.data.decode("utf-8", errors="replace")


def encode_record(line: OutputLine) -> bytes:
    """The io-log record of ``line``, UTF-8 encoded, ending with ``\\n``."""
    text = _head(line.offset, line.stream) + _payload(line.data) + "}\n"
    return text.encode("utf-8")


# Records are assembled by hand (the same text as json.dumps gives), in two
# parts: the lines of one read share their offset and stream, so the writer
# makes that head once per read rather than once per line.
_STREAM_FIELDS = {STDOUT: '"s":"stdout",', STDERR: '"s":"stderr",'}


def _head(offset: float, stream: str) -> str:
    """``{"t":OFFSET,"s":STREAM,`` -- a record up to its payload."""
    field = _STREAM_FIELDS.get(stream) or f'"s":{_json_string(stream)},'
    return f'{{"t":{round(float(offset), 3)!r},{field}'


def _payload(data: bytes) -> str:
    """``"d":TEXT`` when ``data`` is UTF-8, else ``"b":BASE64``."""
    try:
        return '"d":' + _json_string(data.decode("utf-8"))
    except UnicodeDecodeError:
        return '"b":"' + base64.b64encode(data).decode("ascii") + '"'


def decode_record(text: str | bytes) -> OutputLine:
    """The line an io-log record describes; ``ValueError`` if malformed."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise ValueError("a record must be a JSON object")
    offset, stream = record.get("t"), record.get("s")
    if isinstance(offset, bool) or not isinstance(offset, (int, float)):
        raise ValueError("'t' must be a number")
    if stream not in _STREAMS:
        raise ValueError("'s' must be 'stdout' or 'stderr'")
    if isinstance(record.get("d"), str) and "b" not in record:
        data = record["d"].encode("utf-8")  # lone surrogates: ValueError
    elif isinstance(record.get("b"), str) and "d" not in record:
        try:
            data = base64.b64decode(record["b"], validate=True)
        except binascii.Error as exc:
            raise ValueError(f"'b' is not base64: {exc}") from None
    else:
        raise ValueError("a record needs exactly one of 'd' (text) or 'b' (base64)")
    return OutputLine(stream=stream, data=data, offset=float(offset))


class IOLogWriter:
    """Appends records to a new io-log file (mode 0600), unbuffered.

    Usable as a context manager; ``close`` is idempotent. With ``lazy`` the
    file is created by the first write, so a command that prints nothing
    leaves no file (and costs no file creation: most jobs of big sessions).
    """

    def __init__(self, path: Path, *, lazy: bool = False) -> None:
        self.path = path
        self._fd: int | None = None
        self._closed = False
        if not lazy:
            self._open()

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
        fd = os.open(self.path, flags, 0o600)
        os.fchmod(fd, 0o600)  # a pre-existing file keeps its mode otherwise
        self._fd = fd
        return fd

    def write(self, lines: Iterable[OutputLine]) -> None:
        """Write the records of ``lines`` with a single ``write(2)`` (if possible)."""
        if self._closed:
            raise ValueError(f"io-log {self.path} is closed")
        if self._fd is None:
            self._open()
        assert self._fd is not None
        records: list[str] = []
        offset: float | None = None
        stream = head = ""
        for line in lines:
            if line.offset != offset or line.stream != stream:
                offset, stream = line.offset, line.stream
                head = _head(offset, stream)
            records.append(head + _payload(line.data) + "}\n")
        view = memoryview("".join(records).encode("utf-8"))
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self) -> None:
        self._closed = True
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> IOLogWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def write_io_log(path: Path, lines: Iterable[OutputLine]) -> None:
    """Write ``lines`` as a complete io-log file at ``path`` (mode 0600)."""
    with IOLogWriter(path) as writer:
        writer.write(lines)


def iter_io_log(path: Path) -> Iterator[OutputLine]:
    """The lines of the io-log at ``path``, one at a time.

    A torn final record (no ``\\n``, not valid) is ignored.

    :raises CorruptSessionError: a record is malformed.
    """
    with open(path, "rb") as stream:
        for number, raw in enumerate(stream, 1):
            if not raw.strip():
                continue
            try:
                yield decode_record(raw)
            except ValueError as exc:
                if not raw.endswith(b"\n"):
                    return  # interrupted while writing the last record
                raise CorruptSessionError(
                    f"io-log {path}, line {number}: {exc}"
                ) from None


def read_io_log(path: Path) -> list[OutputLine]:
    """All the lines of the io-log at ``path``; bytes are exactly as printed.

    Offsets come back rounded to the millisecond.

    :raises CorruptSessionError: a record is malformed.
    """
    return list(iter_io_log(path))
