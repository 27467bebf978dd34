"""YAML unit files: documents become the same records as PXU text."""

from __future__ import annotations

import json
import textwrap

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox.units.problems import Origin
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity
from plainbox.units.pxu import Record
from plainbox.units.yamlunits import parse_yaml_units


def parse(text: str) -> tuple[list[Record], list[Problem]]:
    return parse_yaml_units(textwrap.dedent(text), "u.yaml")


def single(text: str) -> Record:
    records, problems = parse(text)
    assert problems == []
    [record] = records
    return record


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("depends: [a, b, ns::c]", "depends", "a\nb\nns::c"),
        ("flags:\n  - simple\n  - preserve-locale", "flags", "simple\npreserve-locale"),
        (
            "requires:\n  - package.name == 'x'\n  - cpu.count > '1'",
            "requires",
            "package.name == 'x'\ncpu.count > '1'",
        ),
        ("environ: []", "environ", ""),
        ("include: [a, b.*]", "include", "a\nb.*"),
    ],
)
def test_parse_yaml_units_lists_become_lines(text, field, expected):
    assert single(text).get(field) == expected


@pytest.mark.parametrize(
    "field", ["include", "mandatory_include", "bootstrap_include", "setup_include"]
)
def test_parse_yaml_units_include_overrides_become_pattern_kv(field):
    record = single(
        f"""\
        {field}:
          - plain/job
          - job/a: {{certification-status: blocker}}
          - job/b: {{certification-status: blocker, auto-retry: no}}
        """
    )
    assert record.get(field) == (
        "plain/job\n"
        "job/a certification-status=blocker\n"
        "job/b certification-status=blocker, auto-retry=no"
    )


def test_parse_yaml_units_requires_manifest_maps_become_id_equals_value():
    record = single(
        """\
        unit: setup job
        requires_manifest:
          - has_tpm
          - has_wifi: false
        """
    )
    assert record.get("requires_manifest") == "has_tpm\nhas_wifi=false"


def test_parse_yaml_units_siblings_become_json():
    record = single(
        """\
        siblings:
          - id: after-suspend-foo
            _summary: Foo after suspend
            depends: suspend
            count: 2
            enabled: true
            none:
        """
    )
    assert json.loads(record.fields["siblings"].value) == [
        {
            "id": "after-suspend-foo",
            "_summary": "Foo after suspend",
            "depends": "suspend",
            "count": 2,
            "enabled": True,
            "none": None,
        }
    ]


def test_parse_yaml_units_mapping_value_becomes_json():
    record = single("data:\n  template: a.html\n  extra_paths: [x]\n")
    assert json.loads(record.fields["data"].value) == {
        "template": "a.html",
        "extra_paths": ["x"],
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("value:", ""),
        ("value: ~", ""),
        ("value: null", ""),
        ("value: 12", "12"),
        ("value: 1.5", "1.5"),
        ("value: true", "true"),
        ("value: no", "no"),
        ("value: '  padded  '", "padded"),
        ("value: |\n  line1\n  line2\n", "line1\nline2"),
        ("value: >\n  folded\n  text\n", "folded text"),
    ],
)
def test_parse_yaml_units_scalars_are_kept_as_written(text, expected):
    assert single(text).get("value") == expected


def test_parse_yaml_units_underscore_marks_translatable():
    record = single("id: a\n_summary: Hello\nname: x\n")
    assert record.fields["summary"].translatable is True
    assert record.fields["name"].translatable is False
    assert record.get("summary") == "Hello"


def test_parse_yaml_units_splits_documents_with_origins():
    records, problems = parse(
        """\
        id: a
        plugin: shell
        ---
        # second
        id: b
        _summary: B
        ---
        id: c
        """
    )
    assert problems == []
    assert [r.get("id") for r in records] == ["a", "b", "c"]
    assert [r.origin for r in records] == [
        Origin("u.yaml", 1),
        Origin("u.yaml", 5),
        Origin("u.yaml", 8),
    ]
    assert records[1].line_of("summary") == 6


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("- a\n- b\n", 1),
        ("just a string\n", 1),
        ("id: a\n---\n- a list\n", 3),
    ],
)
def test_parse_yaml_units_non_mapping_document_is_located_error(text, line):
    records, problems = parse(text)
    assert [(p.severity, p.origin.line) for p in problems] == [(Severity.ERROR, line)]
    assert "mapping" in problems[0].message
    assert len(records) == text.count("id:")


def test_parse_yaml_units_shape_error_keeps_other_documents():
    records, problems = parse("id: a\n---\n[1, 2]\n---\nid: c\n")
    assert [r.get("id") for r in records] == ["a", "c"]
    assert len(problems) == 1


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("id: a\ndepends: [x,\n", 3),
        ("id: a\n  bad: indent\n", 2),
        ("id: a\n\tplugin: shell\n", 2),
        ("id: 'unterminated\n", 2),
    ],
)
def test_parse_yaml_units_syntax_error_is_located(text, line):
    records, problems = parse(text)
    assert records == []
    [problem] = problems
    assert problem.severity is Severity.ERROR
    assert problem.origin == Origin("u.yaml", line)
    assert problem.message.startswith("YAML: ")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("id: a\nid: b\n", 2),
        ("id: a\n_summary: x\nsummary: y\n", 3),
        ("id: a\nsummary: x\n_summary: y\n", 3),
    ],
)
def test_parse_yaml_units_duplicate_key_is_located_error(text, line):
    records, problems = parse(text)
    assert records == []
    assert [p.origin.line for p in problems] == [line]
    assert "duplicate" in problems[0].message


def test_parse_yaml_units_non_scalar_key_is_error():
    records, problems = parse("id: a\n? [x, y]\n: value\n")
    assert records == []
    assert [p.origin.line for p in problems] == [2]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_parse_yaml_units_empty_file_has_no_records(text):
    assert parse_yaml_units(text, "u.yaml") == ([], [])


@pytest.mark.parametrize(
    "text",
    ["id: a\n---\n", "id: a\n---\n---\nid: b\n", "# header\n---\n", "---\n...\n"],
    ids=[
        "trailing-separator",
        "empty-between",
        "comment-then-separator",
        "explicit-end",
    ],
)
def test_parse_yaml_units_skips_empty_documents(text):
    records, problems = parse_yaml_units(text, "u.yaml")
    assert problems == []
    assert len(records) == text.count("id:")


def test_parse_yaml_units_recursive_alias_is_reported_not_raised():
    records, problems = parse("id: a\nx: &a [*a]\n")
    assert records == []
    assert [p.severity for p in problems] == [Severity.ERROR]


def test_parse_yaml_units_explicit_tag_in_structured_value_does_not_lose_file():
    records, problems = parse(
        """\
        id: a
        siblings: [{id: x, n: !!int "[a"}]
        ---
        id: b
        """
    )
    assert "b" in [r.get("id") for r in records]
    assert all(p.origin.line == 2 for p in problems)


@settings(deadline=None)
@given(st.text())
def test_parse_yaml_units_never_raises(text):
    records, problems = parse_yaml_units(text, "u.yaml")
    assert all(isinstance(r, Record) for r in records)
    assert all(p.severity is Severity.ERROR for p in problems)


_yaml_alphabet = st.sampled_from(list("ab:-[]{}#,|>&*!?'\"\n \t_.1~"))


@settings(deadline=None)
@given(st.text(_yaml_alphabet))
def test_parse_yaml_units_never_raises_on_yaml_like_text(text):
    records, problems = parse_yaml_units(text, "u.yaml")
    assert isinstance(records, list)
    assert isinstance(problems, list)
