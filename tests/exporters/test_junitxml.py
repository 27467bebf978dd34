"""The JUnit XML report: valid against junit-10.xsd whatever the session holds.

Every export in this file goes through the ``export`` fixture, which checks
the bytes against the Jenkins xunit-plugin schema (the shared copy, used in
place as the oracle) before any test looks at them.
"""

from __future__ import annotations

import datetime
import io
import re
import time
import xml.etree.ElementTree as ExpatTree  # expat: a reader independent of libxml2
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from junitparser import JUnitXml
from lxml import etree

from plainbox.errors import ExporterError
from plainbox.exporters.junitxml import DEFAULT_MAX_OUTPUT
from plainbox.exporters.junitxml import JunitExporter
from plainbox.exporters.junitxml import clean_xml_text
from plainbox.session.results import Outcome
from plainbox.session.view import ResultEntry
from plainbox.session.view import SessionView
from tests.exporters.conftest import FakeJob


# DESIGN.md names the schema beside the repository: ../shared/schemas/.
_REPO = Path(__file__).resolve().parents[2]
XSD_CANDIDATES = (
    _REPO.parent / "shared" / "schemas" / "junit-10.xsd",
    Path("/work/shared/schemas/junit-10.xsd"),
)

EXPECTED_ELEMENT: dict[Outcome, str | None] = {
    Outcome.PASS: None,
    Outcome.FAIL: "failure",
    Outcome.CRASH: "error",
    Outcome.SKIP: "skipped",
    Outcome.SKIPPED_DEPENDENCY: "skipped",
    Outcome.SKIPPED_RESOURCE: "skipped",
    Outcome.SKIPPED_MANIFEST: "skipped",
    Outcome.NOT_SUPPORTED: "skipped",
    Outcome.NOT_IMPLEMENTED: "skipped",
    Outcome.UNDECIDED: "skipped",
}
RESULT_TAGS = ("failure", "error", "skipped")
TIME = re.compile(r"^\d+\.\d{3}$")

Export = Callable[..., etree._Element]
MakeSession = Callable[..., SessionView]


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    for path in XSD_CANDIDATES:
        if path.is_file():
            return etree.XMLSchema(file=str(path))
    pytest.skip(
        f"junit-10.xsd not found (looked at {', '.join(map(str, XSD_CANDIDATES))})"
    )


def render(view: SessionView, *options: str) -> bytes:
    stream = io.BytesIO()
    JunitExporter(options).export(view, stream)
    return stream.getvalue()


def validated(data: bytes, schema: etree.XMLSchema) -> etree._Element:
    root = etree.fromstring(data)
    assert schema.validate(root), schema.error_log
    return root


@pytest.fixture
def export(schema: etree.XMLSchema) -> Export:
    """``export(view, *options)`` → the validated ``testsuites`` element."""

    def run(view: SessionView, *options: str) -> etree._Element:
        data = render(view, *options)
        assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n")
        return validated(data, schema)

    return run


def cases(root: etree._Element) -> list[etree._Element]:
    return list(root.iter("testcase"))


def result_children(case: etree._Element) -> list[etree._Element]:
    return [child for child in case if child.tag in RESULT_TAGS]


def on_devices(view: SessionView, *devices: str) -> SessionView:
    """The view's entries repeated on each device, as a remote run would have."""
    entries = tuple(
        replace(entry, device=device) for device in devices for entry in view.entries
    )
    return replace(view, entries=entries, devices=devices)


def with_entry(view: SessionView, index: int, entry: ResultEntry) -> SessionView:
    entries = list(view.entries)
    entries[index] = entry
    return replace(view, entries=tuple(entries))


def ran(outcome: Outcome) -> bool:
    return not (outcome.is_skip or outcome is Outcome.UNDECIDED)


# --- outcome → element -------------------------------------------------------


def test_the_expected_table_covers_every_outcome() -> None:
    # A new Outcome must get a row here, and so a decision in the exporter.
    assert set(EXPECTED_ELEMENT) == set(Outcome)


@pytest.mark.parametrize(
    ("outcome", "tag"), list(EXPECTED_ELEMENT.items()), ids=lambda value: str(value)
)
def test_each_outcome_maps_to_one_element(
    make_session: MakeSession, export: Export, outcome: Outcome, tag: str | None
) -> None:
    return_code = (0 if outcome is Outcome.PASS else 2) if ran(outcome) else None
    view = make_session(
        [FakeJob("job", outcome=outcome.value, return_code=return_code)]
    )

    root = export(view)

    (case,) = cases(root)
    children = result_children(case)
    assert [child.tag for child in children] == ([tag] if tag else [])
    if tag is not None:
        assert children[0].get("type") == outcome.value
        assert children[0].get("message")
        assert f"outcome: {outcome.value}" in (children[0].text or "")
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("failures") == str(int(tag == "failure"))
    assert suite.get("errors") == str(int(tag == "error"))
    assert suite.get("skipped") == str(int(tag == "skipped"))


@pytest.mark.parametrize(
    ("job", "message"),
    [
        pytest.param(
            FakeJob(
                "blocked",
                outcome="skipped-dependency",
                return_code=None,
                skip_reason={
                    "related_dependencies": ["com.example::a", "com.example::b"]
                },
            ),
            "required job did not pass: com.example::a; com.example::b",
            id="names-blocking-jobs",
        ),
        pytest.param(
            FakeJob(
                "gated",
                outcome="skipped-resource",
                return_code=None,
                skip_reason={"related_resources": ["cpu.count > '64'"]},
            ),
            "resource requirement not met: cpu.count > '64'",
            id="names-false-expression",
        ),
        pytest.param(
            FakeJob(
                "judged", outcome="fail", comments="  the screen\n\tstayed   black\n"
            ),
            "the screen stayed black",
            id="comments-on-one-line",
        ),
        pytest.param(
            FakeJob("broke", outcome="fail", return_code=3),
            "failed (return code 3)",
            id="return-code-without-comments",
        ),
        pytest.param(
            FakeJob("killed", outcome="crash", return_code=-11),
            "crashed (return code -11)",
            id="crash",
        ),
        pytest.param(
            FakeJob("unjudged", outcome="undecided", return_code=None),
            "undecided: nobody decided the outcome",
            id="undecided",
        ),
        pytest.param(
            FakeJob(
                "unjudged", outcome="undecided", return_code=None, comments="left early"
            ),
            "undecided: left early",
            id="undecided-with-comments",
        ),
    ],
)
def test_message_is_one_line_with_the_reason(
    make_session: MakeSession, export: Export, job: FakeJob, message: str
) -> None:
    root = export(make_session([job]))

    (child,) = result_children(cases(root)[0])
    assert child.get("message") == message


def test_message_is_capped_and_details_keep_everything(
    make_session: MakeSession, export: Export
) -> None:
    comments = "word " * 400 + "\nsecond line"
    view = make_session(
        [FakeJob("long", outcome="fail", return_code=1, comments=comments)]
    )

    root = export(view)

    (failure,) = result_children(cases(root)[0])
    message = failure.get("message") or ""
    assert len(message) <= 256
    assert message.endswith("…")
    assert "\n" not in message
    details = failure.text or ""
    assert "return code: 1" in details
    assert comments in details  # the full comments, line breaks and all


def test_huge_comments_are_capped_in_the_details(
    make_session: MakeSession, export: Export
) -> None:
    comments = "A" * 50_000 + "END"
    view = make_session([FakeJob("chatty", outcome="fail", comments=comments)])

    root = export(view)

    (failure,) = result_children(cases(root)[0])
    details = failure.text or ""
    assert len(details) < 17_000
    assert details.startswith("job: com.example::chatty")
    assert details.endswith("AEND")  # head and tail both kept
    assert "characters omitted (details cap 16384)" in details


def test_details_list_attempts_and_the_skip_reason(
    make_session: MakeSession, export: Export
) -> None:
    view = make_session(
        [
            FakeJob(
                "gated",
                outcome="skipped-resource",
                return_code=None,
                summary="Check the gate",
                skip_reason={"related_resources": ["a.x == '1'", "b.y == '2'"]},
            )
        ]
    )
    entry = view.entries[0]
    # Two attempts: the details should say so (a retried job is worth knowing).
    view = with_entry(
        view,
        0,
        replace(
            entry, attempts=(replace(entry.result, outcome=Outcome.FAIL), entry.result)
        ),
    )

    root = export(view)

    (skipped,) = result_children(cases(root)[0])
    details = skipped.text or ""
    assert "summary: Check the gate" in details
    assert "resource requirement not met: a.x == '1'; b.y == '2'" in details
    assert "attempts: 2 (fail, skipped-resource)" in details
    assert "return code" not in details  # it never ran


# --- suites, counts, times -----------------------------------------------------


@pytest.fixture
def mixed(make_session: MakeSession) -> SessionView:
    return make_session(
        [
            FakeJob("a1", duration=0.25),
            FakeJob("a2", outcome="fail", return_code=1, duration=1.23456),
            FakeJob(
                "b1",
                category="com.example::cat-b",
                outcome="crash",
                return_code=-9,
                duration=2.0,
            ),
            FakeJob("a3", outcome="skip", return_code=None),
            FakeJob(
                "b2",
                category="com.example::cat-b",
                outcome="not-supported",
                return_code=None,
            ),
            FakeJob("b3", category="com.example::cat-b", duration=0.0004),
            FakeJob("a4", outcome="undecided", return_code=None),
        ]
    )


def test_suites_per_category_with_counts(export: Export, mixed: SessionView) -> None:
    root = export(mixed)

    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["Category A", "Category B"]
    counts = [
        {key: s.get(key) for key in ("tests", "failures", "errors", "skipped")}
        for s in suites
    ]
    assert counts == [
        {"tests": "4", "failures": "1", "errors": "0", "skipped": "2"},
        {"tests": "3", "failures": "0", "errors": "1", "skipped": "1"},
    ]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == (
        "7",
        "1",
        "1",
    )
    # junit-10 has neither on testsuites; the schema check would catch them too.
    assert root.get("skipped") is None
    assert root.get("timestamp") is None
    assert root.get("name") == "Exporter test session"


def test_times_are_three_decimals_and_add_up(
    export: Export, mixed: SessionView
) -> None:
    root = export(mixed)

    shown = {case.get("name"): case.get("time") for case in cases(root)}
    assert shown["com.example::a2"] == "1.235"
    assert shown["com.example::b3"] == "0.000"
    assert shown["com.example::a3"] == "0.000"  # never ran
    suites = root.findall("testsuite")
    for element in [root, *suites, *cases(root)]:
        assert TIME.match(element.get("time") or ""), element.get("time")
    for suite in suites:
        total = sum(float(case.get("time") or 0) for case in suite.iter("testcase"))
        assert float(suite.get("time") or 0) == pytest.approx(total, abs=1e-9)
    assert [s.get("time") for s in suites] == ["1.485", "2.000"]
    assert root.get("time") == "3.485"


@pytest.mark.parametrize("duration", [-1.0, float("nan"), float("inf"), 1e-7])
def test_odd_durations_never_break_the_time_pattern(
    make_session: MakeSession, export: Export, duration: float
) -> None:
    view = make_session([FakeJob("odd")])
    entry = view.entries[0]
    view = with_entry(
        view, 0, replace(entry, result=replace(entry.result, duration=duration))
    )

    root = export(view)

    assert cases(root)[0].get("time") == "0.000"


def test_timestamp_comes_from_the_session(
    make_session: MakeSession, export: Export
) -> None:
    view = make_session(
        [
            FakeJob("first", duration=5.0),
            FakeJob(
                "later", category="com.example::cat-b", outcome="skip", return_code=None
            ),
        ]
    )

    root = export(view)

    suites = root.findall("testsuite")
    # make_session starts its clock at 1,800,000,000 s: the first job's start.
    assert suites[0].get("timestamp") == "2027-01-15T08:00:00"
    # No job of category B started: the session's creation time stands in.
    assert view.created is not None
    created = datetime.datetime.fromtimestamp(view.created, datetime.timezone.utc)
    assert suites[1].get("timestamp") == created.strftime("%Y-%m-%dT%H:%M:%S")


def test_suite_properties_describe_the_session(
    export: Export, mixed: SessionView
) -> None:
    root = export(mixed)

    suite = root.find("testsuite")
    assert suite is not None
    properties = [
        (p.get("name"), p.get("value")) for p in suite.iterfind("properties/property")
    ]
    assert properties == [
        ("session.id", mixed.id),
        ("session.title", "Exporter test session"),
        ("session.test_plan", "com.example::plan"),
        ("category", "com.example::cat-a"),
        ("device", "local"),
    ]
    # junit-10 has no properties inside a testcase.
    assert not [case for case in cases(root) if case.find("properties") is not None]


def test_no_test_plan_no_test_plan_property(
    make_session: MakeSession, export: Export
) -> None:
    root = export(make_session([FakeJob("a")], test_plan=None))

    names = [p.get("name") for p in root.iter("property")]
    assert "session.test_plan" not in names
    assert "session.id" in names


def test_empty_session_is_a_valid_empty_report(
    make_session: MakeSession, export: Export
) -> None:
    root = export(make_session([]))

    assert root.findall("testsuite") == []
    assert (root.get("tests"), root.get("time")) == ("0", "0.000")


def test_categories_sharing_a_name_get_distinct_suite_names(
    make_session: MakeSession, export: Export
) -> None:
    view = make_session(
        [FakeJob("a"), FakeJob("b", category="com.example::cat-b")],
        categories={"com.example::cat-a": "Audio", "com.example::cat-b": "Audio"},
    )

    root = export(view)

    assert [s.get("name") for s in root.findall("testsuite")] == [
        "Audio (com.example::cat-a)",
        "Audio (com.example::cat-b)",
    ]


# --- devices and unique names -------------------------------------------------


def test_same_jobs_on_two_devices_get_unique_names(
    make_session: MakeSession, export: Export
) -> None:
    view = on_devices(
        make_session([FakeJob("a"), FakeJob("b", outcome="fail")]), "local", "dut-2"
    )

    root = export(view)

    keys = [(case.get("classname"), case.get("name")) for case in cases(root)]
    assert len(set(keys)) == len(keys) == 4
    assert keys == [
        ("com.example::cat-a", "com.example::a [local]"),
        ("com.example::cat-a", "com.example::b [local]"),
        ("com.example::cat-a", "com.example::a [dut-2]"),
        ("com.example::cat-a", "com.example::b [dut-2]"),
    ]
    devices = [
        p.get("value")
        for p in root.iterfind("testsuite/properties/property[@name='device']")
    ]
    assert devices == ["local", "dut-2"]
    assert root.get("failures") == "2"


def test_group_by_device(make_session: MakeSession, export: Export) -> None:
    view = on_devices(
        make_session([FakeJob("a"), FakeJob("b", category="com.example::cat-b")]),
        "local",
        "dut-2",
    )

    root = export(view, "group-by=device")

    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["local", "dut-2"]
    assert [s.get("tests") for s in suites] == ["2", "2"]
    assert [
        (c.get("classname"), c.get("name")) for c in suites[1].iter("testcase")
    ] == [
        ("dut-2.com.example::cat-a", "com.example::a"),
        ("dut-2.com.example::cat-b", "com.example::b"),
    ]
    device = suites[1].find("properties/property[@name='device']")
    assert device is not None
    assert device.get("value") == "dut-2"


@pytest.mark.parametrize("group_by", ["category", "device"])
def test_repeated_entries_are_numbered_in_run_order(
    make_session: MakeSession, export: Export, group_by: str
) -> None:
    view = make_session([FakeJob("a")])
    view = replace(view, entries=view.entries * 3)

    root = export(view, f"group-by={group_by}")

    assert [case.get("name") for case in cases(root)] == [
        "com.example::a",
        "com.example::a (2)",
        "com.example::a (3)",
    ]


def test_ids_equal_only_after_cleaning_are_still_unique(
    make_session: MakeSession, export: Export
) -> None:
    view = make_session([FakeJob("a"), FakeJob("b")])
    first, second = view.entries
    # Two lone surrogates both become U+FFFD: uniqueness must be checked after.
    view = replace(
        view,
        entries=(
            replace(first, job=replace(first.job, partial_id="x\ud800")),
            replace(second, job=replace(second.job, partial_id="x\udfff")),
        ),
    )

    root = export(view)

    assert [case.get("name") for case in cases(root)] == [
        "com.example::x\ufffd",
        "com.example::x\ufffd (2)",
    ]


# --- hostile text -------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(b"\x1b[31mred\x1b[0m\n", "\u241b[31mred\u241b[0m\n", id="ansi"),
        pytest.param(b"a\x00b\n", "a\u2400b\n", id="nul"),
        pytest.param(
            bytes(range(32)),
            "".join(
                c if c in "\t\n\r" else chr(0x2400 + ord(c))
                for c in map(chr, range(32))
            ),
            id="every-c0",
        ),
        pytest.param(
            b"x ]]> y <![CDATA[ & </system-out>\n",
            "x ]]> y <![CDATA[ & </system-out>\n",
            id="cdata-end",
        ),
        pytest.param(
            b"<\xed\xa0\x80>\n", "<\ufffd\ufffd\ufffd>\n", id="encoded-lone-surrogate"
        ),
        pytest.param(b"\xff\xfe\n", "\ufffd\ufffd\n", id="invalid-utf8"),
        pytest.param("\ufffe\uffff\n".encode(), "\ufffd\ufffd\n", id="non-characters"),
        pytest.param("\x7f\x85\x9b\n".encode(), "\ufffd\x85\ufffd\n", id="del-and-c1"),
        pytest.param("emoji 😀 𠀀\n".encode(), "emoji 😀 𠀀\n", id="astral-kept"),
    ],
)
def test_hostile_output_stays_valid(
    make_session: MakeSession, export: Export, payload: bytes, expected: str
) -> None:
    view = make_session([FakeJob("noisy", stdout=payload, stderr=payload)])

    root = export(view)

    case = cases(root)[0]
    assert case.findtext("system-out") == expected
    assert case.findtext("system-err") == expected


def test_lone_surrogates_in_every_string_are_replaced(
    make_session: MakeSession, export: Export
) -> None:
    view = make_session([FakeJob("a", outcome="fail", return_code=1)])
    entry = view.entries[0]
    bad = "\ud800\x1b"
    entry = replace(
        entry,
        job=replace(entry.job, partial_id=f"a{bad}", summary=bad, category_id=bad),
        result=replace(entry.result, stdout=bad, stderr=bad, comments=bad),
        device=bad,
    )
    view = replace(
        view, title=bad, test_plan=bad, entries=(entry,), categories={bad: bad}
    )

    root = export(view)

    clean = "\ufffd\u241b"
    case = cases(root)[0]
    assert case.get("name") == f"com.example::a{clean}"
    assert case.get("classname") == clean
    assert case.findtext("system-out") == clean
    assert root.get("name") == clean
    assert (root.findtext("testsuite/testcase/failure") or "").count(clean) >= 3
    values = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert values["session.title"] == values["device"] == clean


def test_ten_megabytes_of_output_are_capped_head_and_tail(
    make_session: MakeSession, export: Export
) -> None:
    body = b"\x00\x1b]]>\xff" * (10 * 1024 * 1024 // 5)
    stdout = b"HEAD-MARK" + body + b"TAIL-MARK"
    view = make_session([FakeJob("flood", stdout=stdout)])

    data_root = export(view)

    text = cases(data_root)[0].findtext("system-out") or ""
    assert text.startswith("HEAD-MARK\u2400\u241b]]>\ufffd")
    assert text.endswith("]]>\ufffdTAIL-MARK")
    assert len(text) < DEFAULT_MAX_OUTPUT + 200
    omitted = len(stdout) - DEFAULT_MAX_OUTPUT  # one character per byte here
    assert f"[... plainbox: {omitted} characters omitted" in text
    assert len(render(view)) < 4 * DEFAULT_MAX_OUTPUT


def test_max_output_keeps_head_and_tail_exactly(
    make_session: MakeSession, export: Export
) -> None:
    view = make_session([FakeJob("a", stdout=b"0123456789abcdefghij")])

    root = export(view, "max-output=10")

    assert cases(root)[0].findtext("system-out") == (
        "01234\n[... plainbox: 10 characters omitted (max-output=10) ...]\nfghij"
    )


def test_output_at_the_limit_is_untouched(
    make_session: MakeSession, export: Export
) -> None:
    view = make_session([FakeJob("a", stdout=b"0123456789")])

    root = export(view, "max-output=10")

    assert cases(root)[0].findtext("system-out") == "0123456789"


def test_max_output_zero_leaves_output_out(
    make_session: MakeSession, export: Export
) -> None:
    view = make_session(
        [FakeJob("a", outcome="fail", stdout=b"out\n", stderr=b"err\n")]
    )

    root = export(view, "max-output=0")

    case = cases(root)[0]
    assert case.find("system-out") is None
    assert case.find("system-err") is None
    assert case.find("failure") is not None


def test_no_output_no_system_elements(
    make_session: MakeSession, export: Export
) -> None:
    root = export(make_session([FakeJob("quiet")]))

    assert [child.tag for child in cases(root)[0]] == []


def test_a_damaged_io_log_still_gives_a_report(
    make_session: MakeSession, export: Export
) -> None:
    view = make_session([FakeJob("a", stdout=b"fine\n"), FakeJob("b", stdout=b"ok\n")])
    entry = view.entries[0]
    assert entry.result.io_log is not None
    log = entry.session_dir / entry.result.io_log
    log.write_bytes(b"this is not a record\n" + log.read_bytes())

    root = export(view)

    first, second = cases(root)
    assert "cannot be read" in (first.findtext("system-err") or "")
    assert second.findtext("system-out") == "ok\n"


# --- options, determinism, other readers ---------------------------------------


def test_option_help_documents_both_options() -> None:
    assert set(JunitExporter.option_help) == {"group-by", "max-output"}
    assert "category|device" in JunitExporter.option_help["group-by"]
    assert str(DEFAULT_MAX_OUTPUT) in JunitExporter.option_help["max-output"]
    assert (JunitExporter.id, JunitExporter.file_extension) == ("junit", "xml")


@pytest.mark.parametrize(
    "option",
    [
        "group-by=job",
        "group-by",
        "max-output=-1",
        "max-output=lots",
        "max-output=",
        "colour=yes",
    ],
)
def test_bad_options_are_exporter_errors(option: str) -> None:
    with pytest.raises(ExporterError, match="junit"):
        JunitExporter([option])


def test_two_exports_are_byte_identical(
    make_session: MakeSession, schema: etree.XMLSchema
) -> None:
    view = on_devices(
        make_session(
            [
                FakeJob("a", stdout=b"\x1bout\n", stderr=b"err\n"),
                FakeJob("b", outcome="fail", comments="why\n"),
                FakeJob(
                    "c",
                    outcome="skipped-dependency",
                    return_code=None,
                    skip_reason={"related_dependencies": ["com.example::b"]},
                ),
            ]
        ),
        "local",
        "dut-2",
    )

    first = render(view)
    second = render(view)

    assert first == second
    validated(first, schema)
    assert render(view, "group-by=device") == render(view, "group-by=device")


def test_expat_reads_the_same_report(make_session: MakeSession, export: Export) -> None:
    # A parser that shares no code with lxml: what libxml2 wrote, expat reads.
    view = make_session(
        [
            FakeJob("a", stdout=b"\x00]]>\xff\n"),
            FakeJob("b", outcome="fail", comments="\x1b"),
            FakeJob("c", outcome="skip", return_code=None),
        ]
    )
    data = render(view)
    root = export(view)

    other = ExpatTree.fromstring(data)

    assert other.get("tests") == root.get("tests") == "3"
    assert [c.get("name") for c in other.iter("testcase")] == [
        c.get("name") for c in cases(root)
    ]
    assert other.findtext("testsuite/testcase/system-out") == "\u2400]]>\ufffd\n"
    assert other.find("testsuite/testcase/failure") is not None


def test_junitparser_reads_the_report(
    make_session: MakeSession, export: Export
) -> None:
    view = make_session(
        [
            FakeJob("a"),
            FakeJob("b", outcome="fail"),
            FakeJob("c", outcome="skip", return_code=None),
        ]
    )
    export(view)

    report = JUnitXml.fromstring(render(view))

    suites = list(report)
    assert len(suites) == 1
    assert (suites[0].tests, suites[0].failures, suites[0].skipped) == (3, 1, 1)
    assert [case.name for case in suites[0]] == [
        "com.example::a",
        "com.example::b",
        "com.example::c",
    ]


# --- properties over arbitrary text ---------------------------------------------


def _legal_kept(original: str) -> bool:
    """XML 1.0 ``Char``, less DEL and C1 (but NEL), which the exporter replaces too."""
    code = ord(original)
    if code in (0x9, 0xA, 0xD) or 0x20 <= code < 0x7F or code == 0x85:
        return True
    return (0xA0 <= code <= 0xD7FF) or (0xE000 <= code <= 0xFFFD) or code >= 0x10000


def _assert_replaced_only_where_illegal(original: str, written: str) -> None:
    assert len(written) == len(original)
    for before, after in zip(original, written, strict=True):
        if _legal_kept(before):
            assert after == before
        else:
            assert after in (
                "\ufffd",
                chr(0x2400 + ord(before)) if ord(before) < 32 else "\ufffd",
            )


# Every code point, lone surrogates included (hypothesis leaves them out by default).
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=200)


def test_arbitrary_text_always_gives_valid_xml(
    make_session: MakeSession, schema: etree.XMLSchema
) -> None:
    # One session on disk; the examples vary its text through replace(), so
    # hypothesis runs at memory speed and the fixture is built once.
    base = make_session([FakeJob("a", outcome="fail"), FakeJob("b")])

    @settings(max_examples=150, deadline=None)
    @given(
        stdout=ANY_TEXT,
        stderr=ANY_TEXT,
        comments=ANY_TEXT,
        summary=ANY_TEXT,
        job_id=ANY_TEXT,
        title=ANY_TEXT,
        device=ANY_TEXT,
        group_by=st.sampled_from(["category", "device"]),
    )
    def check(
        stdout: str,
        stderr: str,
        comments: str,
        summary: str,
        job_id: str,
        title: str,
        device: str,
        group_by: str,
    ) -> None:
        first, second = base.entries
        first = replace(
            first,
            job=replace(first.job, partial_id=job_id, summary=summary),
            result=replace(
                first.result, stdout=stdout, stderr=stderr, comments=comments
            ),
            device=device,
        )
        # The same id twice: uniqueness must hold whatever the text.
        second = replace(second, job=replace(second.job, partial_id=job_id))
        view = replace(base, title=title, entries=(first, second))

        data = render(view, f"group-by={group_by}")
        root = validated(data, schema)

        assert data == render(view, f"group-by={group_by}")
        written = cases(root)
        assert len(written) == 2
        keys = {(case.get("classname"), case.get("name")) for case in written}
        assert len(keys) == 2
        assert (written[0].get("name") or "").startswith(
            clean_xml_text(f"com.example::{job_id}")
        )
        for tag, text in (("system-out", stdout), ("system-err", stderr)):
            if text:
                _assert_replaced_only_where_illegal(
                    text, written[0].findtext(tag) or ""
                )
            else:
                assert written[0].find(tag) is None
        message = written[0].find("failure")
        assert message is not None
        assert "\n" not in (message.get("message") or "")
        if comments.strip():
            _assert_replaced_only_where_illegal(
                comments, (message.text or "").split("comments:\n", 1)[1]
            )

    check()


# --- size and speed -------------------------------------------------------------


def test_ten_thousand_jobs_export_quickly(
    make_session: MakeSession, schema: etree.XMLSchema
) -> None:
    base = make_session(
        [
            FakeJob("p", stdout=b"line one\nline two\n"),
            FakeJob("f", outcome="fail", stderr=b"boom\n", comments="broken"),
            FakeJob(
                "s",
                outcome="skipped-dependency",
                return_code=None,
                skip_reason={"related_dependencies": ["com.example::f"]},
            ),
        ]
    )
    entries = tuple(
        replace(entry, job=replace(entry.job, partial_id=f"job-{number}"))
        for number in range(10_000 // 3 + 1)
        for entry in base.entries
    )[:10_000]
    view = replace(base, entries=entries)

    started = time.perf_counter()
    data = render(view)
    elapsed = time.perf_counter() - started

    root = validated(data, schema)
    assert root.get("tests") == "10000"
    # About 0.5 s on a loaded 2-core machine; the bound only catches a blow-up
    # (say, quadratic uniqueness checks), not a slow CI box.
    assert elapsed < 5.0, f"exporting 10,000 jobs took {elapsed:.2f} s"
