"""Safe terminal output: untrusted text never reaches the terminal raw."""

from __future__ import annotations

import re
import sys
from typing import TextIO


__all__ = ["sanitize", "write_line"]

# ANSI/VT escape sequences and C0/C1 control characters other than tab and newline.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sanitize(text: str) -> str:
    """Remove escape sequences and control characters (keeps tab and newline)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def write_line(text: str = "", stream: TextIO | None = None) -> None:
    """Print one sanitized line."""
    out = stream if stream is not None else sys.stdout
    out.write(sanitize(text) + "\n")
