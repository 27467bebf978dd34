"""The PXU (RFC 822-like) parser: one test per syntax rule, plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox.units.problems import Origin
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity
from plainbox.units.pxu import Record
from plainbox.units.pxu import decode_unit_text
from plainbox.units.pxu import normalize_value
from plainbox.units.pxu import parse_pxu


def values(text: str) -> list[dict[str, str]]:
    """Parse and return each record's normalized values; no problems allowed."""
    records, problems = parse_pxu(text, "f.pxu")
    assert problems == []
    return [{name: f.value for name, f in r.fields.items()} for r in records]


def errors(text: str) -> list[Problem]:
    _, problems = parse_pxu(text, "f.pxu")
    return [p for p in problems if p.severity is Severity.ERROR]


# --- record separation -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("\n\n\n", []),
        ("a: 1", [{"a": "1"}]),
        ("a: 1\nb: 2\n", [{"a": "1", "b": "2"}]),
        ("a: 1\n\nb: 2\n", [{"a": "1"}, {"b": "2"}]),
        ("a: 1\n\n\n\nb: 2\n", [{"a": "1"}, {"b": "2"}]),
        ("a: 1\n   \nb: 2\n", [{"a": "1"}, {"b": "2"}]),
        ("a: 1\n\t\nb: 2\n", [{"a": "1"}, {"b": "2"}]),
        ("a: 1\n \t \nb: 2\n", [{"a": "1"}, {"b": "2"}]),
        ("\n\na: 1\n\n", [{"a": "1"}]),
    ],
    ids=[
        "empty",
        "only-blank",
        "one-field",
        "two-fields",
        "blank-line",
        "many-blank-lines",
        "spaces-line",
        "tab-line",
        "mixed-whitespace-line",
        "leading-trailing-blank",
    ],
)
def test_parse_pxu_separates_records_on_blank_lines(text, expected):
    assert values(text) == expected


def test_parse_pxu_whitespace_line_ends_a_multiline_value():
    """A blank line inside a value ends the record; use the magic dot instead."""
    records, problems = parse_pxu("a:\n x\n \n y\n", "f")
    assert [r.get("a") for r in records] == ["x"]
    assert [p.origin.line for p in problems] == [4]


# --- comments ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# comment\na: 1\n", [{"a": "1"}]),
        ("a: 1\n# comment\nb: 2\n", [{"a": "1", "b": "2"}]),
        ("a:\n line1\n# comment\n line2\n", [{"a": "line1\nline2"}]),
        ("a: one\n#comment\n two\n", [{"a": "one\ntwo"}]),
        ("#only: a comment\n", []),
        ("# c1\n\n# c2\n", []),
        ("a: value # not a comment\n", [{"a": "value # not a comment"}]),
        ("a: #value\n", [{"a": "#value"}]),
        ("a: x\n # kept\n", [{"a": "x\n# kept"}]),
        ("a:\n  x\n  # kept\n", [{"a": "x\n# kept"}]),
    ],
    ids=[
        "before-record",
        "between-fields",
        "inside-multiline-value",
        "inside-value-no-space",
        "comment-with-colon",
        "comments-only",
        "hash-in-value",
        "hash-starting-value",
        "indented-hash-is-text",
        "indented-hash-after-empty-first-line",
    ],
)
def test_parse_pxu_drops_column_zero_comments_only(text, expected):
    assert values(text) == expected


def test_parse_pxu_comment_line_does_not_end_record():
    records, _ = parse_pxu("a: 1\n# c\nb: 2\n", "f")
    assert len(records) == 1


# --- values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: first\n second\n  third\n", "first\nsecond\n third"),
        ("a:\n line1\n line2\n", "line1\nline2"),
        ("a:\n only\n", "only"),
        ("a:   \n only\n", "only"),
        ("a:\n p1\n .\n p2\n", "p1\n\np2"),
        ("a:\n  p1\n    .\n  p2\n", "p1\n\np2"),
        ("a:\n p1\n \t.\n p2\n", "p1\n\np2"),
        ("a:\n p1\n .x\n", "p1\n.x"),
        ("a:\n p1\n ..\n", "p1\n.."),
        ("a:\n    x\n      y\n", "x\n  y"),
        ("a:\n x   \n y  \n", "x   \ny"),
        ("a:\n p\n .\n .\n", "p"),
        ("a:    x   \n", "x"),
        ("a:x\n", "x"),
        ("a:\n", ""),
        ("a: .\n", "."),
        ("command: echo a:b: c\n", "echo a:b: c"),
        ("url: http://example.com:80/x\n", "http://example.com:80/x"),
    ],
    ids=[
        "one-space-removed",
        "empty-first-line-dropped",
        "empty-first-line-single",
        "blank-first-line-dropped",
        "magic-dot",
        "indented-magic-dot",
        "tab-indented-magic-dot",
        "dot-with-text-kept",
        "double-dot-kept",
        "dedent",
        "strip-end-only",
        "trailing-dots-stripped",
        "single-line-strip",
        "no-space-after-colon",
        "empty-value",
        "single-dot-value",
        "colon-in-value",
        "url-value",
    ],
)
def test_parse_pxu_normalizes_values(text, expected):
    [record] = values(text)
    [value] = record.values()
    assert value == expected


def test_parse_pxu_key_is_stripped_and_split_at_first_colon():
    assert values("key with spaces :  a: b\n") == [{"key with spaces": "a: b"}]


def test_parse_pxu_keeps_raw_value_for_gettext():
    [record], _ = parse_pxu("_description:\n  Hello\n  .\n  world\n", "f")
    field = record.fields["description"]
    assert field.raw == "\n Hello\n .\n world"
    assert field.value == "Hello\n\nworld"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["x"], "x"),
        (["  x  "], "x"),
        (["", "x"], "x"),
        (["", " a", " b"], "a\nb"),
        (["a", "", "b"], "a\n\nb"),
        (["a", ".", "b"], "a\n\nb"),
        (["", "  a", "   .", "  b"], "a\n\nb"),
    ],
)
def test_normalize_value(lines, expected):
    assert normalize_value(lines) == expected


# --- translatable fields -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "translatable"),
    [
        ("_summary: Hello\n", "summary", True),
        ("summary: Hello\n", "summary", False),
        ("_purpose:\n Hello\n", "purpose", True),
        ("_template-summary: Hello\n", "template-summary", True),
    ],
)
def test_parse_pxu_underscore_marks_translatable(text, name, translatable):
    [record], problems = parse_pxu(text, "f")
    assert problems == []
    assert list(record.fields) == [name]
    assert record.fields[name].translatable is translatable
    assert record.get(name) == "Hello"


# --- errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: 2\na: 3\n", 3),
        ("_summary: x\nsummary: y\n", 2),
        ("summary: x\n_summary: y\n", 2),
        ("_summary: x\n_summary: y\n", 2),
        ("# c\nid: x\n\nid: y\nplugin: shell\nid: z\n", 6),
    ],
)
def test_parse_pxu_duplicate_key_is_error_at_duplicate(text, line):
    problems = errors(text)
    assert [p.origin.line for p in problems] == [line]
    assert "duplicate" in problems[0].message


def test_parse_pxu_duplicate_key_drops_the_record():
    records, problems = parse_pxu("id: a\n\nid: b\nid: c\n\nid: d\n", "f")
    assert [r.get("id") for r in records] == ["a", "d"]
    assert len(problems) == 1


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (" orphan\na: 1\n", 1),
        ("a: 1\n\n continued\n", 3),
        ("# c\n  x: 1\n", 2),
    ],
)
def test_parse_pxu_continuation_before_any_key_is_error(text, line):
    problems = errors(text)
    assert [p.origin.line for p in problems] == [line]
    assert "continuation" in problems[0].message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("bogus\n", 1),
        ("a: 1\nbogus line\n", 2),
        ("a: 1\n\n# c\nnot a field\n", 4),
    ],
)
def test_parse_pxu_line_without_colon_is_error_with_location(text, line):
    problems = errors(text)
    assert len(problems) == 1
    assert problems[0].origin == Origin("f.pxu", line)
    assert str(problems[0]).startswith(f"f.pxu:{line}: error: ")


def test_parse_pxu_tab_led_line_without_colon_mentions_tab():
    [problem] = errors("command:\n\techo hello\n")
    assert problem.origin.line == 2
    assert "tab" in problem.message


def test_parse_pxu_tab_led_line_with_colon_is_new_field_with_warning():
    records, problems = parse_pxu("a: 1\n\tb: 2\n", "f")
    assert [{n: f.value for n, f in r.fields.items()} for r in records] == [
        {"a": "1", "b": "2"}
    ]
    assert [(p.severity, p.origin.line) for p in problems] == [(Severity.WARNING, 2)]


def test_parse_pxu_missing_key_before_colon_is_error():
    [problem] = errors("a: 1\n: value\n")
    assert problem.origin.line == 2


def test_parse_pxu_recovers_after_error():
    """The broken record is dropped; the records before and after are kept."""
    text = "id: a\n\nid: b\nbogus\nsummary: lost\n\nid: c\n\n orphan\n\nid: d\n"
    records, problems = parse_pxu(text, "f")
    assert [r.get("id") for r in records] == ["a", "c", "d"]
    assert [p.origin.line for p in problems] == [4, 9]


def test_parse_pxu_reports_one_error_per_broken_record():
    records, problems = parse_pxu("a: 1\nbad\nworse\n also bad\n", "f")
    assert records == []
    assert len(problems) == 1


# --- origins -----------------------------------------------------------------


def test_parse_pxu_records_origins_of_records_and_fields():
    text = (
        "# header\n"  # 1
        "\n"  # 2
        "id: a\n"  # 3
        "summary: s\n"  # 4
        "command:\n"  # 5
        " echo 1\n"  # 6
        " echo 2\n"  # 7
        "plugin: shell\n"  # 8
        "\n"  # 9
        "\n"  # 10
        "# comment\n"  # 11
        "id: b\n"  # 12
    )
    records, problems = parse_pxu(text, "units/a.pxu")
    assert problems == []
    assert [r.origin for r in records] == [
        Origin("units/a.pxu", 3),
        Origin("units/a.pxu", 12),
    ]
    first = records[0]
    assert {n: f.line for n, f in first.fields.items()} == {
        "id": 3,
        "summary": 4,
        "command": 5,
        "plugin": 8,
    }
    assert first.line_of("command") == 5
    assert first.line_of("absent") == 3
    assert first.get("absent") is None
    assert first.get("absent", "dflt") == "dflt"


def test_parse_pxu_record_keeps_file_order_of_fields():
    [record], _ = parse_pxu("z: 1\na: 2\nm: 3\n", "f")
    assert list(record.fields) == ["z", "a", "m"]


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_parse_pxu_accepts_crlf_and_cr(newline):
    text = newline.join(["a: 1", "b:", " x", " y", "", "c: 3", ""])
    records, problems = parse_pxu(text, "f")
    assert problems == []
    assert [{n: f.value for n, f in r.fields.items()} for r in records] == [
        {"a": "1", "b": "x\ny"},
        {"c": "3"},
    ]
    assert [r.origin.line for r in records] == [1, 6]
    assert records[0].fields["b"].line == 2


# --- decoding ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"\xffa: 1\n", 1),
        (b"a: 1\nb: \xff\n", 2),
        (b"a: 1\n\nb: 2\nc: x\xc3\n", 4),
    ],
)
def test_decode_unit_text_reports_invalid_utf8_line_and_still_decodes(data, line):
    text, problems = decode_unit_text(data, "f.pxu")
    assert [p.origin for p in problems] == [Origin("f.pxu", line)]
    assert problems[0].severity is Severity.ERROR
    assert "\ufffd" in text
    records, parse_problems = parse_pxu(text, "f.pxu")
    assert records
    assert parse_problems == []


def test_decode_unit_text_strips_bom():
    text, problems = decode_unit_text("\ufeffid: x\n".encode(), "f")
    assert problems == []
    assert text == "id: x\n"
    [record], _ = parse_pxu(text, "f")
    assert list(record.fields) == ["id"]


def test_decode_unit_text_valid_utf8_round_trips():
    assert decode_unit_text("_summary: Ünïcödé ✓\n".encode(), "f") == (
        "_summary: Ünïcödé ✓\n",
        [],
    )


def test_decode_unit_text_invalid_utf8_after_bom_reports_right_line():
    text, problems = decode_unit_text(b"\xef\xbb\xbfa\nb\n\xffc\n", "f")
    assert text == "a\nb\n\ufffdc\n"
    assert [p.origin.line for p in problems] == [3]
    assert "0xff" in problems[0].message


@settings(deadline=None)
@given(st.binary())
def test_decode_unit_text_never_raises(data):
    text, problems = decode_unit_text(data, "f")
    assert isinstance(text, str)
    assert all(1 <= p.origin.line <= data.count(b"\n") + 1 for p in problems)


# --- properties --------------------------------------------------------------


def _line_count(text: str) -> int:
    return len(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


@settings(deadline=None)
@given(st.text())
def test_parse_pxu_never_raises(text):
    records, problems = parse_pxu(text, "f")
    assert isinstance(records, list)
    assert isinstance(problems, list)
    assert all(isinstance(r, Record) for r in records)
    assert all(isinstance(p, Problem) for p in problems)


@settings(deadline=None)
@given(st.text(alphabet=st.sampled_from("ab: \t\n\r#._")))
def test_parse_pxu_problem_lines_are_within_the_file(text):
    records, problems = parse_pxu(text, "f")
    count = _line_count(text)
    assert all(1 <= p.origin.line <= count for p in problems)
    assert all(1 <= r.origin.line <= count for r in records)
    for record in records:
        assert all(
            r_field.line >= record.origin.line for r_field in record.fields.values()
        )


_keys = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
_values = st.text(
    st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]),
    max_size=30,
).filter(lambda v: v == v.strip())
_records = st.lists(st.dictionaries(_keys, _values, min_size=1, max_size=6), max_size=5)


@settings(deadline=None)
@given(_records)
def test_parse_pxu_round_trips_single_line_records(records):
    text = "\n\n".join(
        "\n".join(f"{key}: {value}" for key, value in record.items())
        for record in records
    )
    assert values(text) == records
