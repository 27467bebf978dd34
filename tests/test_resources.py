"""Tests for plainbox.resources: the requires/template-filter language."""

from __future__ import annotations

import itertools
import time
import warnings

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox.errors import ResourceExpressionError
from plainbox.resources import MAX_EXPRESSION_CHARS
from plainbox.resources import MAX_PROGRAM_CHARS
from plainbox.resources import Record
from plainbox.resources import ResourceExpression
from plainbox.resources import ResourceMap
from plainbox.resources import evaluate_filter
from plainbox.resources import parse_imports
from plainbox.resources import parse_program


NS = "com.example"
CERT = "com.canonical.certification"

DEVICES: ResourceMap = {
    f"{NS}::device": [
        {"category": "NETWORK", "driver": "e1000e", "bus": "pci"},
        {"category": "WIRELESS", "driver": "iwlwifi", "bus": "pci"},
        {"category": "DISK", "name": "sda", "size": "500107862016"},
    ],
    f"{NS}::cpuinfo": [{"platform": "x86_64", "count": "8", "other": "fpu sse2"}],
    f"{NS}::empty": [],
}


def holds(text: str, resources: ResourceMap = DEVICES) -> bool:
    return parse_program(text, NS).evaluate(resources)


def short(text: str) -> str:
    return repr(text[:40]) + (f"...({len(text)} chars)" if len(text) > 40 else "")


def assert_quick(started: float, limit: float = 5.0) -> None:
    # CPU time, not wall time: "bounded" means little work, however busy
    # the machine running the tests is.
    assert time.process_time() - started < limit


# --- evaluation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # equality, implicit ANY over the records
        ("device.category == 'WIRELESS'", True),
        ("device.category == 'BLUETOOTH'", False),
        ("device.category != 'NETWORK'", True),  # the != pitfall: another record
        ("cpuinfo.platform == 'x86_64'", True),
        # in, with strings, lists and tuples
        ("'sse2' in cpuinfo.other", True),
        ("'avx512' in cpuinfo.other", False),
        ("'avx512' not in cpuinfo.other", True),
        ("device.driver in ['iwlwifi', 'ath9k']", True),
        ("device.driver in ('ath9k', 'ath10k')", False),
        ("'name' in device", True),  # a bare name is the record itself
        # not / and / or
        ("not device.category == 'BLUETOOTH'", True),
        ("(device.category == 'DISK' and device.name == 'sda')", True),
        ("(device.category == 'DISK' and device.name == 'sdb')", False),
        ("(device.category == 'X' or device.driver == 'e1000e')", True),
        ("(device.category == 'X' or device.driver == 'none')", False),
        # casts, whole-expression casts, arithmetic
        ("int(cpuinfo.count) > 4", True),
        ("int(cpuinfo.count) >= 16", False),
        ("int(device.size) / 1024 ** 3 > 400", True),
        ("int(cpuinfo.count)", True),
        ("bool(cpuinfo.platform)", True),
        ("float(cpuinfo.count) == 8.0", True),
        ("int(cpuinfo.count) % 3 == 2 and -int(cpuinfo.count) < 0", True),
        ("int(cpuinfo.count) // 3 + 1 - 1 == 2", True),
        ("int(cpuinfo.count) ** 2 == 64", True),
        ("int('ff', 16) == 255 and cpuinfo.count", True),
        ("1 < int(cpuinfo.count) < 10", True),
        ("cpuinfo.platform + '!' == 'x86_64!'", True),
        ("len(device.driver) == 7", True),
        ("len(cpuinfo) == 3", True),
        ("cpuinfo.platform is not None", True),
        ("cpuinfo.platform is None", False),
        # failures are false, never errors
        ("device.missing == 'x'", False),
        ("int(device.driver) > 1", False),  # int('e1000e') raises
        ("int(cpuinfo.count) / 0 == 1", False),
        ("cpuinfo.platform < 3", False),  # str < int
        ("-cpuinfo.platform == 1", False),
        ("cpuinfo.platform % 1 == 1", False),  # no string formatting
        ("empty.anything == 'x'", False),
        ("missing.anything == 'x'", False),
        ("not missing.anything", False),  # no records, not even for `not`
    ],
)
def test_evaluate(text: str, expected: bool) -> None:
    assert holds(text) is expected


def test_missing_key_on_one_record_does_not_hide_another() -> None:
    # Only the DISK record has 'size'; the others fail quietly.
    assert holds("int(device.size) > 150")


def test_cartesian_product_of_two_resources() -> None:
    resources: ResourceMap = {
        f"{NS}::a": [{"v": "1"}, {"v": "2"}, {"v": "3"}],
        f"{NS}::b": [{"v": "3"}, {"v": "4"}],
    }
    assert holds("(a.v == b.v)", resources)
    assert not holds("(int(a.v) + int(b.v) == 8)", resources)
    assert holds("(int(a.v) + int(b.v) == 7)", resources)
    assert not holds("(a.v == b.v)", {**resources, f"{NS}::b": []})


QUIRK: ResourceMap = {f"{NS}::a": [{"x": "1", "y": "0"}, {"x": "0", "y": "2"}]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # No '(' in the line: each half gets its own implicit ANY (Checkbox).
        ("a.x == '1' and a.y == '2'", True),
        ("a.x == '1' and a.y == '2' and a.x == '0'", True),
        ("a.missing == '1' or a.x == '0'", True),
        # Any '(' in the line: one ANY over the whole expression.
        ("(a.x == '1' and a.y == '2')", False),
        ("a.x == '1' and (a.y == '2')", False),
        ("int(a.x) == 1 and int(a.y) == 2", False),
        ("(a.missing == '1' or a.x == '0')", False),  # the exception spoils it
        # One record still cannot hold two values for one key.
        ("a.x == '1' and a.x == '0'", True),
        ("(a.x == '1' and a.x == '0')", False),
        # ' or ' inside a string literal is not a split point.
        ("a.x == '1 or 2' and a.y == '2'", False),
    ],
)
def test_checkbox_split_quirk(text: str, expected: bool) -> None:
    assert holds(text, QUIRK) is expected


def test_split_or_and_precedence() -> None:
    # Python precedence: (x1 and y2) or never; each operand is any'd alone.
    assert holds("a.x == '1' and a.y == '2' or a.x == '9'", QUIRK)
    assert not holds("a.x == '9' or a.x == '1' and a.y == '9'", QUIRK)


# --- programs --------------------------------------------------------------


def test_program_all_lines_must_hold_and_failing_lists_the_false_ones() -> None:
    text = "\n".join(
        [
            "# wireless and a big disk",
            "device.category == 'WIRELESS'",
            "",
            "   int(device.size) > 10 ** 15",
            "cpuinfo.platform in ['x86_64', 'i386']",
            "device.category == 'BLUETOOTH'",
        ]
    )
    program = parse_program(text, NS)
    assert [e.line_offset for e in program.expressions] == [1, 3, 4, 5]
    assert program.expressions[1].text == "int(device.size) > 10 ** 15"
    assert not program.evaluate(DEVICES)
    failing = program.failing(DEVICES)
    assert [e.line_offset for e in failing] == [3, 5]
    assert all(isinstance(e, ResourceExpression) for e in failing)
    assert program.resource_ids == (f"{NS}::device", f"{NS}::cpuinfo")


def test_empty_program_holds() -> None:
    program = parse_program("\n  \n# nothing\n", NS)
    assert program.expressions == ()
    assert program.evaluate({})
    assert program.failing({}) == []


def test_resource_ids_in_first_use_order_without_functions() -> None:
    expr = parse_program("len(b.x) > 0 and a.y == b.z and int(a.q)", NS).expressions[0]
    assert expr.resource_ids == (f"{NS}::b", f"{NS}::a")


def test_expressions_compare_by_value() -> None:
    first = parse_program("a.x == '1'", NS)
    assert first == parse_program("a.x == '1'", NS)
    assert hash(first) == hash(parse_program("a.x == '1'", NS))
    assert first != parse_program("a.x == '2'", NS)


# --- imports ---------------------------------------------------------------


def test_parse_imports() -> None:
    text = "\n".join(
        [
            f"from {CERT} import cpuinfo as cpu",
            "# comment",
            "",
            "  from com.canonical.plainbox import manifest  ",
            f"from {CERT} import net/if-list.v2 as nets",
            f"from {CERT} import cpuinfo as cpu",
        ]
    )
    assert parse_imports(text, NS) == {
        "cpu": f"{CERT}::cpuinfo",
        "manifest": "com.canonical.plainbox::manifest",
        "nets": f"{CERT}::net/if-list.v2",
    }


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("import cpuinfo", 0),
        (f"from {CERT} import", 0),
        (f"from {CERT} import cpuinfo as", 0),
        (f"from {CERT} import cpuinfo as 1cpu", 0),
        (f"from {CERT} import cpuinfo as class", 0),
        (f"from {CERT} import cpuinfo extra", 0),
        (f"from {CERT} import other::cpuinfo", 0),
        (f"# ok\nfrom {CERT} import a as x\nfrom {CERT} import b as x", 2),
    ],
)
def test_parse_imports_rejects(text: str, offset: int) -> None:
    with pytest.raises(ResourceExpressionError) as info:
        parse_imports(text, NS)
    assert info.value.line_offset == offset


def test_imported_alias_resolves_to_full_id() -> None:
    imports = parse_imports(f"from {CERT} import cpuinfo as cpu", NS)
    program = parse_program("cpu.platform == 'x86_64' and device.bus", NS, imports)
    assert program.resource_ids == (f"{CERT}::cpuinfo", f"{NS}::device")
    resources: ResourceMap = {
        f"{CERT}::cpuinfo": [{"platform": "x86_64"}],
        f"{NS}::device": [{"bus": "usb"}],
    }
    assert program.evaluate(resources)
    assert not program.evaluate({f"{NS}::cpuinfo": [{"platform": "x86_64"}]})


# --- template-filter -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "record", "expected"),
    [
        ("device.category == 'DISK'", {"category": "DISK"}, True),
        ("device.category == 'DISK'", {"category": "NETWORK"}, False),
        (
            "device.category == 'DISK'\nint(device.size) > 9",
            {"category": "DISK"},
            False,
        ),
        ("device.category == 'DISK' and other.x == '1'", {"category": "DISK"}, False),
        ("dev.category == 'DISK'", {"category": "DISK"}, True),  # via the import
    ],
)
def test_evaluate_filter(text: str, record: Record, expected: bool) -> None:
    imports = {"dev": f"{NS}::device"}
    assert evaluate_filter(text, NS, record, f"{NS}::device", imports) is expected


def test_filter_is_per_record_not_any() -> None:
    text = "device.category == 'DISK' and device.bus == 'pci'"
    assert holds(text)  # requires: the halves match different records
    records = DEVICES[f"{NS}::device"]
    assert not any(evaluate_filter(text, NS, r, f"{NS}::device") for r in records)


# --- parse errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.__class__", "'__class__'"),
        ("__import__.x", "'__import__'"),
        (
            "open('x')",
            "function call 'open' is not allowed; only len, bool, int, float",
        ),
        ("len(a.x, key=1)", "positional"),
        ("len(*a.x)", "positional"),
        ("a.x()", "method call 'a.x()'"),
        ("a.x.lower()", "method call '...lower()'"),
        ("(a.x or len)(a.y)", "calling a computed value"),
        ("[x for x in a.y]", "comprehension"),
        ("{x for x in a.y}", "comprehension"),
        ("any(x for x in a.y)", "function call 'any'"),
        ("(x for x in a.y)", "generator expression"),
        ("a.x[0]", "subscript"),
        ("a[0]", "subscript"),
        ("lambda: a.x", "lambda"),
        ('f"{a.b}"', "f-string"),
        ("(a := 1)", "assignment expression"),
        ("a.b.c", "only allowed directly on a resource name"),
        ("'x'.join(a.y)", "method call '...join()'"),
        ("a.x if a.y else a.z", "conditional expression"),
        ("{'k': a.x}", "dict literal"),
        ("{a.x}", "set literal"),
        ("[*a.x]", "star expression"),
        ("~int(a.x)", "'~'"),
        ("int(a.x) << 2", "LShift"),
        ("a.x == b'x'", "constant bytes"),
        ("a.x == 1j", "constant complex"),
        ("a.x == ...", "constant ellipsis"),
        ("1 == 1", "references no resource"),
        ("len('abc') == 3", "references no resource"),
        ("a.x ==", "syntax error"),
        ("a.x = 1", "syntax error"),
        ("import os", "syntax error"),
    ],
)
def test_disallowed_constructs(text: str, message: str) -> None:
    with pytest.raises(ResourceExpressionError) as info:
        parse_program(text, NS)
    assert message in info.value.message
    assert info.value.line_offset == 0


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("a.x == '1'\na.y ==", 1),
        ("a.x == '1'\n\n# c\nopen('f')", 3),
        ("\r\n  a.x()\r\n", 1),
    ],
)
def test_parse_error_line_offset(text: str, offset: int) -> None:
    with pytest.raises(ResourceExpressionError) as info:
        parse_program(text, NS)
    assert info.value.line_offset == offset


# --- hostile input ---------------------------------------------------------

MANY: ResourceMap = {
    f"{NS}::a": [{"x": str(i)} for i in range(2_000)],
    f"{NS}::b": [{"x": str(-i)} for i in range(2_000)],
}


@pytest.mark.parametrize(
    "text",
    [
        "2 ** 10 ** 10 == 1 and a.x",
        "(2 ** 10 ** 10 == 1 or a.x == 'no')",
        "(a.x == 'a' * 10 ** 9)",
        "(a.x in ['a' * 999_999] * 1_000_000)",
        "('a' * 999_998 + 'b' in ['a' * 999_999] * 10 or a.x == 'no')",
        "(a.x == (-1) ** 10 ** 100)",
        "(a.x == 10 ** 4000 * 10 ** 4000)",
        "(a.x == '%999999999d' % 1)",
        "(int('9' * 100_000) > 0 and a.x)",
        "(float('1' * 100_000) > 0 and a.x)",
        "(a.x + a.x == b.x)",  # 4M combinations: cut off, so false
        "(a.x in [" + ", ".join(["a.x + b.x"] * 800) + "])",
    ],
    ids=short,
)
def test_hostile_evaluation_is_bounded_and_false(text: str) -> None:
    started = time.process_time()
    assert parse_program(text, NS).evaluate(MANY) is False
    assert_quick(started)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 100_000 + "a.x" + ")" * 100_000,
        "(" * 4_000 + "a.x" + ")" * 4_000,
        "[" * 4_000 + "a.x" + "]" * 4_000,
        "-" * 9_000 + "int(a.x)",
        "not " * 2_000 + "a.x",
        "a.x == " + "1 + " * 2_000 + "1",
        "a.x == '" + "x" * MAX_EXPRESSION_CHARS + "'",
        "a.x == '1'\n" * (MAX_PROGRAM_CHARS // 10),
        "a.x == '1'\0",
        "a.x == '\0'",
        "a.x == 0x" + "f" * 5_000,
        "\ufeffa.x",
    ],
    ids=short,
)
def test_hostile_text_is_rejected_quickly(text: str) -> None:
    started = time.process_time()
    with pytest.raises(ResourceExpressionError):
        parse_program(text, NS)
    assert_quick(started)


def test_large_but_legitimate_join_still_works() -> None:
    started = time.process_time()
    # 100k combinations of a two-resource join are within the budget.
    assert holds("(int(a.x) + int(b.x) == 0 and a.x == '50')", MANY)
    assert_quick(started)


# --- properties ------------------------------------------------------------

TOKENS = [
    *("a", "b", "a.x", "a.y", "b.x", "a.__x", "len", "int", "float", "bool"),
    *("==", "!=", "<", ">=", "in", "not", "is", "None", "and", "or"),
    *("(", ")", "[", "]", ",", ".", "+", "-", "*", "**", "/", "//", "%"),
    *("'1'", "'ab'", "''", "0", "1", "10", "1.5", "True", "1e308", "-1"),
]
ATOMS = ["a.x", "a.y", "b.x", "a", "'1'", "''", "0", "1", "-1", "1.5", "True", "None"]
BINARY = ["+", "-", "*", "/", "//", "%", "**"]
COMPARE = ["==", "!=", "<", ">=", "in", "not in", "is", "is not"]


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(inner, inner)
    return st.one_of(
        st.tuples(inner, st.sampled_from(BINARY), inner).map(
            "({0[0]} {0[1]} {0[2]})".format
        ),
        st.tuples(inner, st.sampled_from(COMPARE), inner).map(" ".join),
        pair.map("{0[0]} and {0[1]}".format),
        pair.map("{0[0]} or {0[1]}".format),
        inner.map("not {}".format),
        st.tuples(st.sampled_from(["len", "int", "float", "bool"]), inner).map(
            "{0[0]}({0[1]})".format
        ),
        pair.map("[{0[0]}, {0[1]}]".format),
    )


# Token soup finds odd syntax; the grammar mostly yields valid expressions.
expression_text = st.one_of(
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12).map(" ".join),
    st.recursive(st.sampled_from(ATOMS), _extend, max_leaves=8),
)
ORACLE_BUILTINS = {"len": len, "int": int, "float": float, "bool": bool}
records = st.lists(
    st.dictionaries(
        st.sampled_from(["x", "y", "z"]) | st.text(max_size=3),
        st.sampled_from(["1", "0", "-1", "ab", "", "1.5", "inf"]) | st.text(max_size=3),
        max_size=4,
    ),
    max_size=3,
)


@settings(deadline=None, max_examples=300)
@given(st.text())
def test_parse_arbitrary_text_returns_or_raises_cleanly(text: str) -> None:
    try:
        program = parse_program(text, NS)
    except ResourceExpressionError:
        return  # anything else escaping fails the test
    assert isinstance(program.evaluate({}), bool)


@settings(deadline=None, max_examples=300)
@given(
    st.lists(expression_text, min_size=1, max_size=3).map("\n".join), records, records
)
def test_evaluating_any_program_returns_a_bool(
    text: str, a_records: list[dict[str, str]], b_records: list[dict[str, str]]
) -> None:
    try:
        program = parse_program(text, NS)
    except ResourceExpressionError:
        return
    resources: ResourceMap = {f"{NS}::a": a_records, f"{NS}::b": b_records}
    assert isinstance(program.evaluate(resources), bool)
    assert isinstance(program.failing(resources), list)
    for record in a_records:
        result = evaluate_filter(text, NS, record, f"{NS}::a")
        assert isinstance(result, bool)


class _AttrRecord(dict[str, str]):
    """A record whose keys read as attributes, for the Python oracle below."""

    def __getattr__(self, key: str) -> str:
        return self[key]


@settings(deadline=None, max_examples=300)
@given(st.recursive(st.sampled_from(ATOMS), _extend, max_leaves=8), records, records)
def test_interpreter_agrees_with_python_on_the_grammar(
    expression: str, a_records: list[dict[str, str]], b_records: list[dict[str, str]]
) -> None:
    # Parenthesized, so one implicit ANY; '%' is skipped as string formatting
    # is refused on purpose.  The oracle is Python itself, on generated text.
    text = f"({expression})"
    try:
        program = parse_program(text, NS)
    except ResourceExpressionError:
        return
    pools = {"a": a_records, "b": b_records}
    used = [name for name in pools if f"{NS}::{name}" in program.resource_ids]
    expected = False
    for combination in itertools.product(*(pools[name] for name in used)):
        scope = {n: _AttrRecord(r) for n, r in zip(used, combination, strict=True)}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "is" with a literal
                value = eval(text, {"__builtins__": ORACLE_BUILTINS}, scope)
            if value:
                expected = True
                break
        except Exception:  # a failing combination is false
            continue
    resources = {f"{NS}::{name}": pool for name, pool in pools.items()}
    assert "%" in text or program.evaluate(resources) is expected
