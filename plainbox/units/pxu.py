"""The PXU (RFC 822-like) unit file syntax: text in, records with origins out.

The rules, as Checkbox providers rely on them:

* records are separated by one or more blank (whitespace-only) lines;
* a line starting with ``#`` in column 0 is dropped before anything else,
  even in the middle of a multi-line value;
* ``key: value`` splits at the first colon; a key may appear once per record;
* a line starting with a space continues the previous value, minus that one
  space; a line of only ``.`` (after optional indentation) stands for an empty
  line, since a truly empty line would end the record;
* a value spanning several lines is dedented and stripped; an empty first
  line (``description:`` followed by indented lines) is dropped;
* a key starting with ``_`` (``_summary``) marks a translatable field.

Unlike Checkbox, a syntax error does not abandon the rest of the file: the
broken record is reported and skipped, and parsing resumes at the next record.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from plainbox.units.problems import Origin
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity


__all__ = ["Field", "Record", "decode_unit_text", "normalize_value", "parse_pxu"]

_MAGIC_DOT = re.compile(r"^\s*\.$")


@dataclass(frozen=True, slots=True)
class Field:
    """One ``key: value`` of a record.

    ``value`` is normalized (dedented, stripped, magic dots resolved); ``raw``
    is the text as written, which gettext catalogues are keyed on.
    """

    value: str
    raw: str
    line: int
    translatable: bool = False
    line_map: tuple[int, ...] = ()  # the file line of each line of ``value``


@dataclass(frozen=True, slots=True)
class Record:
    """A group of fields with the place it came from.

    ``fields`` is keyed by the plain field name: ``_summary`` is stored as
    ``summary`` with ``translatable`` set.
    """

    origin: Origin
    fields: dict[str, Field] = dataclass_field(default_factory=dict)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The normalized value of a field, or ``default``."""
        found = self.fields.get(name)
        return found.value if found is not None else default

    def line_of(self, name: str) -> int:
        """The line a field starts on, or the record's first line."""
        found = self.fields.get(name)
        return found.line if found is not None else self.origin.line


def normalize_value(lines: list[str]) -> str:
    """Turn the lines of one value into its normalized text."""
    return normalize_with_lines(lines, list(range(len(lines))))[0]


def normalize_with_lines(
    lines: list[str], numbers: list[int]
) -> tuple[str, tuple[int, ...]]:
    """Normalize a value, and say which file line each of its lines came from."""
    if len(lines) > 1 and not lines[0].strip():
        lines, numbers = lines[1:], numbers[1:]
    if len(lines) == 1:
        value = lines[0].strip()
        return value, (numbers[0],) if value else ()
    undotted = ["" if _MAGIC_DOT.match(line) else line for line in lines]
    value = textwrap.dedent("\n".join(undotted)).strip()
    if not value:
        return value, ()
    # strip() removed the blank lines around the text; skip the leading ones.
    lead = next(index for index, line in enumerate(undotted) if line.strip())
    return value, tuple(numbers[lead : lead + value.count("\n") + 1])


def decode_unit_text(data: bytes, path: str) -> tuple[str, list[Problem]]:
    """Decode a unit file, reporting (not raising on) bytes that are not UTF-8."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = Problem(
            Severity.ERROR,
            Origin(path, line),
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x}); replaced with U+FFFD",
        )
        return data.decode("utf-8", errors="replace"), [problem]


class _RecordBuilder:
    """Accumulates the fields of the record being parsed."""

    __slots__ = ("first_line", "keys_seen", "lines", "numbers", "path", "values")

    def __init__(self, path: str, first_line: int) -> None:
        self.path = path
        self.first_line = first_line
        # key as written -> (value lines, their file lines), in the file's order
        self.values: dict[str, tuple[list[str], list[int]]] = {}
        self.keys_seen: dict[str, int] = {}
        self.lines: list[str] | None = None
        self.numbers: list[int] = []

    def start_field(self, key: str, value: str, line: int) -> str | None:
        """Begin a field; returns an error message when the key is a duplicate."""
        plain = key[1:] if key.startswith("_") else key
        if plain in self.keys_seen:
            first = self.keys_seen[plain]
            return f"duplicate field {key!r} (first defined on line {first})"
        self.keys_seen[plain] = line
        self.lines, self.numbers = [value], [line]
        self.values[key] = (self.lines, self.numbers)
        return None

    def continue_field(self, text: str, line: int) -> bool:
        """Add a continuation line; False when no field has started."""
        if self.lines is None:
            return False
        self.lines.append(text)
        self.numbers.append(line)
        return True

    def build(self) -> Record:
        fields: dict[str, Field] = {}
        for key, (lines, numbers) in self.values.items():
            translatable = key.startswith("_")
            name = key[1:] if translatable else key
            value, line_map = normalize_with_lines(lines, numbers)
            raw = "\n".join(lines)
            fields[name] = Field(value, raw, numbers[0], translatable, line_map)
        return Record(Origin(self.path, self.first_line), fields)


def parse_pxu(text: str, path: str) -> tuple[list[Record], list[Problem]]:
    """Parse PXU text into records; syntax errors become problems, never raise.

    :param text: the file's content.
    :param path: the name used in origins and messages.
    """
    records: list[Record] = []
    problems: list[Problem] = []
    builder: _RecordBuilder | None = None
    broken = False  # skip to the end of a record that had a syntax error

    def fail(line: int, message: str) -> None:
        nonlocal broken
        problems.append(Problem(Severity.ERROR, Origin(path, line), message))
        broken = True

    # Universal newlines, as Python's text files give them to Checkbox.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("#"):
            continue
        if not line.strip():
            if builder is not None and not broken:
                records.append(builder.build())
            builder, broken = None, False
            continue
        if broken:
            continue
        if builder is None:
            builder = _RecordBuilder(path, number)
        if line.startswith(" "):
            if not builder.continue_field(line[1:], number):
                fail(
                    number, "continuation line (starting with a space) before any field"
                )
            continue
        key, colon, value = line.partition(":")
        key = key.strip()
        if not colon:
            if line.startswith("\t"):
                fail(number, "continuation lines must start with a space, not a tab")
            else:
                fail(number, f"expected 'key: value', got {_excerpt(line)}")
            continue
        if not key:
            fail(number, f"missing field name before ':' in {_excerpt(line)}")
            continue
        if line.startswith("\t"):
            problems.append(
                Problem(
                    Severity.WARNING,
                    Origin(path, number),
                    f"field {key!r} is indented with a tab; it starts a new field",
                )
            )
        duplicate = builder.start_field(key, value.lstrip(), number)
        if duplicate is not None:
            fail(number, duplicate)
    if builder is not None and not broken:
        records.append(builder.build())
    return records, problems


def _excerpt(line: str, width: int = 40) -> str:
    shown = line if len(line) <= width else line[: width - 1] + "…"
    return repr(shown)
