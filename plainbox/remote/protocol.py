"""The agent protocol: one JSON object per line, UTF-8, on a byte stream.

Every message is an object with a ``"type"``; requests that expect a reply
carry an ``"id"`` the reply repeats.  ``docs/remote.rst`` lists every message
with an example.  The protocol is versioned as a whole: the controller's
``hello`` offers the versions it speaks and the agent picks one, or says
why it cannot.
"""

from __future__ import annotations

import json
from typing import IO
from typing import Any

from plainbox.errors import RemoteError


__all__ = [
    "MAX_LINE",
    "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS",
    "ProtocolError",
    "decode",
    "encode",
    "read_message",
]

#: The version this plainbox speaks best.
PROTOCOL_VERSION = 1
#: Every version this plainbox can speak.
SUPPORTED_VERSIONS = (1,)
#: The longest line accepted (fetched files come in chunks far below it):
#: a peer sending more is broken or hostile, not slow.
MAX_LINE = 8 * 1024 * 1024


class ProtocolError(RemoteError):
    """A peer sent something that is not a protocol message."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line; ASCII-only JSON so no newline can hide in it."""
    if not isinstance(message.get("type"), str):
        raise ValueError(f"a message needs a string 'type': {message!r}")
    return (
        json.dumps(message, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"
    )


def decode(line: bytes) -> dict[str, Any]:
    """The message on ``line``.

    :raises ProtocolError: not JSON, not an object, or no string ``type``.
    """
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not a JSON message: {line[:80]!r}") from exc
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise ProtocolError(f"not a protocol message: {line[:80]!r}")
    return value


def read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next message from ``stream``; None at end of file.

    Blank lines are ignored (a human typing at the agent).

    :raises ProtocolError: the line is too long or not a message.
    """
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return None
        if len(line) > MAX_LINE:
            raise ProtocolError(f"a message longer than {MAX_LINE} bytes")
        if line.strip():
            return decode(line)
