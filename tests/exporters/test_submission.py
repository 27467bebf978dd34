"""The submission JSON: valid against Checkbox's schema whatever the session holds."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]  # no stubs in the typing group
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox import __version__
from plainbox.errors import ExporterError
from plainbox.execution.controller import parse_resource_output
from plainbox.exporters.submission import SubmissionExporter
from plainbox.exporters.submission import attachment_text
from plainbox.session.results import Outcome
from plainbox.session.view import ResultEntry
from plainbox.session.view import SessionView
from tests.exporters.conftest import FakeJob


SCHEMA_PATH = Path("/work/shared/schemas/checkbox-submission.schema.json")
CERT = "com.canonical.certification"

# Outcome -> (status, outcome written), written out here rather than taken
# from the module so a change to the mapping has to change this table too.
EXPECTED: dict[Outcome, tuple[str, str]] = {
    Outcome.PASS: ("pass", "pass"),
    Outcome.FAIL: ("fail", "fail"),
    Outcome.CRASH: ("fail", "crash"),
    Outcome.SKIP: ("skip", "skip"),
    Outcome.SKIPPED_DEPENDENCY: ("skip", "not-supported"),
    Outcome.SKIPPED_RESOURCE: ("skip", "not-supported"),
    Outcome.SKIPPED_MANIFEST: ("skip", "not-supported"),
    Outcome.NOT_SUPPORTED: ("skip", "not-supported"),
    Outcome.NOT_IMPLEMENTED: ("skip", "not-supported"),
    Outcome.UNDECIDED: ("skip", "undecided"),
}
RESULT_KEYS = {
    "id",
    "full_id",
    "name",
    "certification_status",
    "category",
    "category_id",
    "status",
    "outcome",
    "comments",
    "io_log",
    "duration",
    "plugin",
    "template_id",
}
# Control characters but newline and tab: what io_log must never contain.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
HOSTILE = (
    b"</script><script>alert(1)</script>\n"
    b"\x1b[31mred\x1b[0m \x1b]52;c;Y2xpcA==\x07 ctl:\x00\x01\x07\x7f\xc2\x85:end\r\n"
    b"bad utf-8: \xff\xfe\xc3\x28 done\n"
    b'"quotes" \\backslash\\ \xe2\x80\xa8 line separator\n'
)

MakeSession = Callable[..., SessionView]
Errors = Callable[[Any], list[str]]


@pytest.fixture(scope="module")
def schema_errors() -> Errors:
    """Every way a document breaks the submission schema, as readable lines.

    The schema requires ``resource-results`` yet forbids it (``Submission``
    has ``additionalProperties: false`` and does not declare it), so no
    document can pass it as written.  That one error is ignored, and only
    while the schema still contradicts itself: any other unexpected key is
    still reported.
    """
    if not SCHEMA_PATH.is_file():
        pytest.skip(f"the submission schema is not at {SCHEMA_PATH}")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    submission = schema["definitions"]["Submission"]
    declared = set(submission["properties"])
    contradictory = set()
    if submission.get("additionalProperties") is False:
        contradictory = set(submission["required"]) - declared

    def errors(document: Any) -> list[str]:
        found = []
        for error in validator.iter_errors(document):
            if (
                error.validator == "additionalProperties"
                and not error.absolute_path
                and set(document) - declared <= contradictory
            ):
                continue
            found.append(f"{list(error.absolute_path)}: {error.message}")
        return found

    return errors


def export_bytes(view: SessionView, *options: str) -> bytes:
    stream = io.BytesIO()
    SubmissionExporter(options).export(view, stream)
    return stream.getvalue()


def export(view: SessionView, *options: str) -> dict[str, Any]:
    data = export_bytes(view, *options)
    # parse_constant: NaN or Infinity in the file is a bug, not a number.
    loaded: dict[str, Any] = json.loads(
        data.decode("utf-8"), parse_constant=pytest.fail
    )
    return loaded


def items(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *document["results"],
        *document["resource-results"],
        *document["attachment-results"],
    ]


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items(document)}


def in_namespace(view: SessionView, namespace: str) -> SessionView:
    """The session with every job moved to ``namespace`` (ids included)."""
    entries = tuple(
        replace(entry, job=replace(entry.job, namespace=namespace))
        for entry in view.entries
    )
    return replace(view, entries=entries)


@pytest.fixture
def everything(make_session: MakeSession) -> SessionView:
    """Every outcome, every plugin, records, attachments and hostile text."""
    jobs = [
        FakeJob(
            f"o-{outcome.value}",
            outcome=outcome.value,
            return_code=None if outcome.is_skip else 1,
        )
        for outcome in Outcome
    ]
    jobs += [
        FakeJob("res", plugin="resource", stdout=b"name: a\nversion: 1\n\nname: b\n"),
        FakeJob("att-text", plugin="attachment", stdout=b"some text\n"),
        FakeJob("att-bin", plugin="attachment", stdout=b"\x89PNG\r\n\x1a\n\x00\xff"),
        FakeJob("manual", plugin="manual", certification_status="blocker"),
        FakeJob("uv", plugin="user-verify"),
        FakeJob("uiv", plugin="user-interact-verify", category="com.example::cat-b"),
        FakeJob(
            "hostile",
            outcome="fail",
            summary="</script>\x1b[2J\x07 summary",
            comments="\x1b[31mred\x1b[0m </script>",
            stdout=HOSTILE,
            stderr=HOSTILE,
            return_code=1,
        ),
    ]
    return make_session(jobs, title="Title </script>\x00\x1b[31m")


# --- the schema -----------------------------------------------------------------


def test_every_outcome_plugin_and_hostile_text_is_schema_valid(
    everything: SessionView, schema_errors: Errors
) -> None:
    document = export(everything)

    assert schema_errors(document) == []
    assert len(items(document)) == len(everything.entries)
    for item in items(document):
        assert set(item) >= RESULT_KEYS


def test_the_oracle_still_reports_other_unexpected_keys(
    everything: SessionView, schema_errors: Errors
) -> None:
    # The tolerated contradiction must not hide a real extra key.
    document = export(everything)
    document["skip_reason"] = {}
    document["results"][0]["skip_reason"] = {"why": "x"}

    found = schema_errors(document)

    assert len(found) == 2
    assert any("skip_reason" in line for line in found)


def test_resource_results_is_written_though_the_schema_cannot_accept_it(
    make_session: MakeSession, schema_errors: Errors
) -> None:
    document = export(make_session([FakeJob("a")]))

    # Required by the schema and read by Checkbox's merge-reports.
    assert document["resource-results"] == []
    assert schema_errors(document) == []


def test_empty_session_is_schema_valid(
    make_session: MakeSession, schema_errors: Errors
) -> None:
    document = export(make_session([]))

    assert schema_errors(document) == []
    assert document["results"] == document["attachment-results"] == []
    assert document["rejected-jobs"] == []
    assert document["system_information"] == {}


# --- status and outcome -----------------------------------------------------------


def test_the_expected_table_covers_every_outcome() -> None:
    assert set(EXPECTED) == set(Outcome)


@pytest.mark.parametrize(("outcome", "expected"), list(EXPECTED.items()))
def test_status_and_outcome_mapping(
    make_session: MakeSession,
    schema_errors: Errors,
    outcome: Outcome,
    expected: tuple[str, str],
) -> None:
    view = make_session([FakeJob("a", outcome=outcome.value)])

    document = export(view)

    (item,) = document["results"]
    assert (item["status"], item["outcome"]) == expected
    assert schema_errors(document) == []


@pytest.mark.parametrize("outcome", list(Outcome))
def test_native_outcomes_keeps_plainbox_names_and_the_status(
    make_session: MakeSession, outcome: Outcome
) -> None:
    view = make_session([FakeJob("a", outcome=outcome.value)])

    (item,) = export(view, "native-outcomes")["results"]

    assert item["outcome"] == outcome.value
    assert item["status"] == EXPECTED[outcome][0]


def test_unknown_option_is_an_error_in_strict_mode() -> None:
    with pytest.raises(ExporterError, match="no option 'with-io-log'"):
        SubmissionExporter(["with-io-log"])
    assert SubmissionExporter(["with-io-log"], strict=False).options == {}


# --- the fields of results ----------------------------------------------------------


def test_result_fields(make_session: MakeSession) -> None:
    view = make_session(
        [
            FakeJob(
                "a",
                outcome="fail",
                summary="Does a",
                category="com.example::cat-b",
                certification_status="blocker",
                comments="looked wrong",
                duration=1.25,
                return_code=1,
                stdout=b"out\n",
                stderr=b"err\n",
            )
        ]
    )

    (item,) = export(view)["results"]

    assert item == {
        "id": "a",
        "full_id": "com.example::a",
        "name": "Does a",
        "certification_status": "blocker",
        "category": "Category B",
        "category_id": "com.example::cat-b",
        "status": "fail",
        "outcome": "fail",
        "comments": "looked wrong",
        "io_log": "out\nerr\n",
        "duration": 1.25,
        "plugin": "shell",
        "template_id": None,
        "type": "test",
        "project": "certification",
    }


def test_jobs_are_split_by_plugin_in_run_order(everything: SessionView) -> None:
    document = export(everything)

    assert [item["id"] for item in document["resource-results"]] == ["res"]
    assert [item["id"] for item in document["attachment-results"]] == [
        "att-text",
        "att-bin",
    ]
    run_order = [
        entry.job.partial_id
        for entry in everything.entries
        if entry.job.plugin not in {"resource", "attachment"}
    ]
    assert [item["id"] for item in document["results"]] == run_order


def test_attachment_items_are_not_tests(everything: SessionView) -> None:
    document = export(everything)

    for item in document["attachment-results"]:
        assert "type" not in item
        assert "project" not in item
        assert item["plugin"] == "attachment"
    for item in [*document["results"], *document["resource-results"]]:
        assert (item["type"], item["project"]) == ("test", "certification")


def test_resource_io_log_parses_back_to_the_records(everything: SessionView) -> None:
    (item,) = export(everything)["resource-results"]

    assert item["plugin"] == "resource"
    assert parse_resource_output(item["io_log"]) == [
        {"name": "a", "version": "1"},
        {"name": "b"},
    ]


def test_resource_io_log_leaves_stderr_out(make_session: MakeSession) -> None:
    view = make_session(
        [FakeJob("r", plugin="resource", stdout=b"a: 1\n", stderr=b"oops: 2\n")]
    )

    (item,) = export(view)["resource-results"]

    # stderr mixed in would turn into records when readers parse io_log.
    assert parse_resource_output(item["io_log"]) == [{"a": "1"}]


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        (b"plain text\n", "plain text\n"),
        ("ünïcode ✓\n".encode(), "ünïcode ✓\n"),
        (b"\x1b[31mkept verbatim\x1b[0m", "\x1b[31mkept verbatim\x1b[0m"),
        (b"", ""),
    ],
)
def test_text_attachments_are_the_text(
    make_session: MakeSession, stdout: bytes, expected: str
) -> None:
    view = make_session([FakeJob("att", plugin="attachment", stdout=stdout)])

    (item,) = export(view)["attachment-results"]

    assert item["io_log"] == expected


@pytest.mark.parametrize(
    "stdout",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"bad utf-8 \xff\xfe", b"nul\x00inside"],
)
def test_binary_attachments_are_base64_of_the_bytes(
    make_session: MakeSession, stdout: bytes
) -> None:
    view = make_session([FakeJob("att", plugin="attachment", stdout=stdout)])

    (item,) = export(view)["attachment-results"]

    assert base64.b64decode(item["io_log"], validate=True) == stdout


@given(st.binary(max_size=300))
def test_attachment_text_keeps_every_byte(data: bytes) -> None:
    text = attachment_text(data)

    if b"\x00" not in data and _is_utf8(data):
        assert text.encode("utf-8") == data
    else:
        assert base64.b64decode(text, validate=True) == data


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_hostile_text_is_clean_and_round_trips(everything: SessionView) -> None:
    document = export(everything)

    item = by_id(document)["hostile"]
    assert document["title"] == "Title </script>"
    assert item["name"] == "</script> summary"
    assert item["comments"] == "red </script>"
    assert not CONTROL.search(item["io_log"])
    assert item["io_log"].count("</script><script>alert(1)</script>\n") == 2
    assert item["io_log"].count("bad utf-8: \ufffd\ufffd\ufffd( done\n") == 2
    assert item["io_log"].count('"quotes" \\backslash\\ \u2028 line separator') == 2


def test_lone_surrogates_in_every_string_are_replaced(
    make_session: MakeSession, schema_errors: Errors
) -> None:
    view = make_session(
        [
            FakeJob("a", outcome="fail"),
            FakeJob("att", plugin="attachment"),
            FakeJob("res", plugin="resource"),
        ]
    )
    bad = "\ud800x"

    def spoil(entry: ResultEntry) -> ResultEntry:
        return replace(
            entry,
            job=replace(
                entry.job,
                partial_id=entry.job.partial_id + bad,
                summary=bad,
                category_id=bad,
                template_id=bad,
            ),
            result=replace(entry.result, stdout=bad, stderr=bad, comments=bad),
        )

    view = replace(
        view,
        title=bad,
        test_plan=bad,
        entries=tuple(spoil(entry) for entry in view.entries),
        categories={bad: bad},
    )

    data = export_bytes(view)

    document = json.loads(data)
    assert "\ud800" not in data.decode("utf-8")
    assert schema_errors(document) == []
    assert document["title"] == document["testplan_id"] == "\ufffdx"
    assert document["category_map"] == {"\ufffdx": "\ufffdx"}
    for item in items(document):
        assert item["name"] == item["category"] == "\ufffdx"
        assert item["id"].endswith("\ufffdx")


# One session on disk; examples vary its text through replace(), so
# hypothesis runs at memory speed.  Every code point, surrogates included.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=100)


def test_arbitrary_text_is_always_schema_valid(
    make_session: MakeSession, schema_errors: Errors
) -> None:
    base = make_session(
        [FakeJob("a", outcome="fail"), FakeJob("att", plugin="attachment")]
    )

    @settings(max_examples=100, deadline=None)
    @given(
        stdout=ANY_TEXT,
        comments=ANY_TEXT,
        summary=ANY_TEXT,
        title=ANY_TEXT,
        duration=st.floats(allow_nan=True, allow_infinity=True),
        outcome=st.sampled_from(list(Outcome)),
    )
    def check(
        stdout: str,
        comments: str,
        summary: str,
        title: str,
        duration: float,
        outcome: Outcome,
    ) -> None:
        entries = tuple(
            replace(
                entry,
                job=replace(entry.job, summary=summary),
                result=replace(
                    entry.result,
                    stdout=stdout,
                    comments=comments,
                    duration=duration,
                    outcome=outcome,
                ),
            )
            for entry in base.entries
        )
        view = replace(base, title=title, entries=entries)

        data = export_bytes(view)
        document = json.loads(data, parse_constant=pytest.fail)

        assert schema_errors(document) == []
        assert data == export_bytes(view)
        for item in items(document):
            assert item["duration"] >= 0

    check()


# --- the session-level keys --------------------------------------------------------


@pytest.mark.parametrize(
    ("test_plan", "custom"), [("com.example::plan", False), (None, True)]
)
def test_test_plan_and_custom_joblist(
    make_session: MakeSession,
    schema_errors: Errors,
    test_plan: str | None,
    custom: bool,
) -> None:
    document = export(make_session([FakeJob("a")], test_plan=test_plan))

    assert document["custom_joblist"] is custom
    assert document.get("testplan_id") == test_plan
    assert schema_errors(document) == []


def test_category_map_names_every_category_of_a_result(
    make_session: MakeSession,
) -> None:
    view = make_session(
        [
            FakeJob("a"),
            FakeJob("b", category="com.example::cat-b"),
            FakeJob("c", category="com.example::no-such-unit"),
        ]
    )

    document = export(view)

    assert document["category_map"] == {
        "com.example::cat-a": "Category A",
        "com.example::cat-b": "Category B",
        # No category unit names it: its id stands in, as in the reports.
        "com.example::no-such-unit": "com.example::no-such-unit",
    }
    for item in items(document):
        assert document["category_map"][item["category_id"]] == item["category"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("blocker", "blocker"),
        ("non-blocker", "non-blocker"),
        ("unspecified", "non-blocker"),
        ("not-part-of-certification", "non-blocker"),
    ],
)
def test_certification_status_is_one_the_schema_knows(
    make_session: MakeSession, status: str, expected: str
) -> None:
    view = make_session([FakeJob("a", certification_status=status)])

    (item,) = export(view)["results"]

    assert item["certification_status"] == expected


@pytest.mark.parametrize(
    ("plugin", "expected"),
    [
        ("shell", "shell"),
        ("manual", "manual"),
        ("user-interact", "user-interact"),
        ("user-interact-verify", "user-interact-verify"),
        ("user-verify", "user-interact-verify"),
        ("made-up", "shell"),
    ],
)
def test_plugin_is_one_the_schema_knows(
    make_session: MakeSession, plugin: str, expected: str
) -> None:
    view = make_session([FakeJob("a", plugin=plugin)])

    (item,) = export(view)["results"]

    assert item["plugin"] == expected


@pytest.mark.parametrize(
    ("template_id", "expected"),
    [
        (None, None),
        ("tpl", "com.example::tpl"),
        ("com.other::tpl", "com.other::tpl"),
    ],
)
def test_template_id_is_the_templates_full_id(
    make_session: MakeSession, template_id: str | None, expected: str | None
) -> None:
    fields = {} if template_id is None else {"template-id": template_id}
    view = make_session([FakeJob("a", extra_fields=fields)])

    (item,) = export(view)["results"]

    assert item["template_id"] == expected


def test_empty_comments_are_null(make_session: MakeSession) -> None:
    (item,) = export(make_session([FakeJob("a")]))["results"]

    assert item["comments"] is None


@pytest.mark.parametrize(
    ("duration", "expected"),
    [(2.5, 2.5), (float("nan"), 0.0), (float("inf"), 0.0), (-1.0, 0.0)],
)
def test_durations_are_finite_numbers(
    make_session: MakeSession, duration: float, expected: float
) -> None:
    view = make_session([FakeJob("a")])
    entry = view.entries[0]
    view = replace(
        view, entries=(replace(entry, result=replace(entry.result, duration=duration)),)
    )

    (item,) = export(view)["results"]

    assert item["duration"] == expected


def test_a_damaged_io_log_still_gives_a_valid_document(
    make_session: MakeSession, schema_errors: Errors
) -> None:
    view = make_session(
        [
            FakeJob("a", stdout=b"fine\n"),
            FakeJob("att", plugin="attachment", stdout=b"data\n"),
            FakeJob("b", stdout=b"ok\n"),
        ]
    )
    for entry in view.entries[:2]:
        assert entry.result.io_log is not None
        log = entry.session_dir / entry.result.io_log
        log.write_bytes(b"this is not a record\n" + log.read_bytes())

    document = export(view)

    assert schema_errors(document) == []
    found = by_id(document)
    assert "cannot be read" in found["a"]["io_log"]
    assert found["att"]["io_log"] == ""
    assert found["b"]["io_log"] == "ok\n"


# --- origin ----------------------------------------------------------------------------


def test_origin_from_source(
    make_session: MakeSession, schema_errors: Errors, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SNAP_NAME", raising=False)
    monkeypatch.delenv("SNAP_REVISION", raising=False)

    document = export(make_session([]))

    assert document["origin"] == {
        "name": "plainbox",
        "version": __version__,
        "packaging": {"type": "source", "version": __version__},
    }
    assert schema_errors(document) == []


def test_origin_in_a_snap_has_its_revision(
    make_session: MakeSession, schema_errors: Errors, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAP_NAME", "plainbox-snap")
    monkeypatch.setenv("SNAP_VERSION", "1.2")
    monkeypatch.setenv("SNAP_REVISION", "42")

    document = export(make_session([]))

    assert document["origin"]["packaging"] == {
        "type": "snap",
        "name": "plainbox-snap",
        "version": "1.2",
        "revision": "42",
    }
    assert schema_errors(document) == []


# --- blocks from the certification provider's jobs -------------------------------------


@pytest.fixture
def certification(make_session: MakeSession) -> SessionView:
    snaps = (
        b"name: core\nconfinement: strict\ndevmode: False\nrevision: 16\n"
        b"status: active\ntype: os\nversion: 16-2.61\nnotes: dropped\n\n"
        # Not a snap the schema can describe: confinement outside its enum.
        b"name: odd\nconfinement: weird\ndevmode: False\nrevision: 1\nstatus: active\n\n"
        # An optional field outside its enum goes, the snap stays.
        b"name: app\nconfinement: classic\ndevmode: True\nrevision: 7\n"
        b"status: installed\ntype: toaster\n"
    )
    view = make_session(
        [
            FakeJob(
                "package",
                plugin="resource",
                stdout=b"name: bash\nversion: 5.2\n\nname: coreutils\n\nversion: 1\n",
            ),
            FakeJob("snap", plugin="resource", stdout=snaps),
            FakeJob(
                "lsb",
                plugin="resource",
                stdout=b"distributor_id: Ubuntu\ndescription: Ubuntu 24.04 LTS\n"
                b"release: 24.04\ncodename: noble\n",
            ),
            FakeJob("uname", plugin="resource", stdout=b"release: 6.8.0-31-generic\n"),
            FakeJob("dpkg", plugin="resource", stdout=b"architecture: amd64\n"),
            FakeJob("meminfo", plugin="resource", stdout=b"total: 16000\nswap: 2048\n"),
            FakeJob(
                "kernel_cmdline_attachment",
                plugin="attachment",
                stdout=b"  BOOT_IMAGE=/vmlinuz ro quiet\n",
            ),
            FakeJob(
                "info-buildstamp",
                plugin="attachment",
                stdout=b"header\nsomerville-jammy 20240101\n\n",
            ),
        ]
    )
    # The real id has a "/", which the fixture cannot put in an io-log name.
    *rest, buildstamp = view.entries
    buildstamp = replace(
        buildstamp, job=replace(buildstamp.job, partial_id="info/buildstamp")
    )
    return in_namespace(replace(view, entries=(*rest, buildstamp)), CERT)


def test_certification_blocks_come_from_their_jobs(
    certification: SessionView, schema_errors: Errors
) -> None:
    document = export(certification)

    assert schema_errors(document) == []
    assert document["packages"] == [
        {"name": "bash", "version": "5.2"},
        {"name": "coreutils", "version": ""},
    ]
    assert document["snap-packages"] == [
        {
            "name": "core",
            "confinement": "strict",
            "devmode": "False",
            "revision": "16",
            "status": "active",
            "type": "os",
            "version": "16-2.61",
        },
        {
            "name": "app",
            "confinement": "classic",
            "devmode": "True",
            "revision": "7",
            "status": "installed",
        },
    ]
    assert document["distribution"] == {
        "distributor_id": "Ubuntu",
        "description": "Ubuntu 24.04 LTS",
        "release": "24.04",
        "codename": "noble",
    }
    assert document["kernel"] == "6.8.0-31-generic"
    assert document["architecture"] == "amd64"
    assert document["memory"] == {"total": 16000, "swap": 2048}
    assert document["kernel-cmdline"] == "BOOT_IMAGE=/vmlinuz ro quiet"
    assert document["buildstamp"] == "somerville-jammy 20240101"


def test_certification_blocks_need_the_certification_namespace(
    certification: SessionView,
) -> None:
    document = export(in_namespace(certification, "com.example"))

    for key in (
        "packages",
        "snap-packages",
        "distribution",
        "kernel",
        "architecture",
        "memory",
        "kernel-cmdline",
        "buildstamp",
    ):
        assert key not in document


def test_incomplete_records_give_no_block(
    make_session: MakeSession, schema_errors: Errors
) -> None:
    view = make_session(
        [
            FakeJob("lsb", plugin="resource", stdout=b"release: 24.04\n"),
            FakeJob("meminfo", plugin="resource", stdout=b"total: lots\nswap: 0\n"),
            FakeJob("uname", plugin="resource", stdout=b"name: Linux\n"),
            FakeJob(
                "kernel_cmdline_attachment",
                plugin="attachment",
                outcome="fail",
                stdout=b"ro\n",
            ),
        ]
    )

    document = export(in_namespace(view, CERT))

    assert schema_errors(document) == []
    for key in ("distribution", "memory", "kernel", "kernel-cmdline"):
        assert key not in document


# --- determinism --------------------------------------------------------------------


def test_two_exports_are_byte_identical(everything: SessionView) -> None:
    assert export_bytes(everything) == export_bytes(everything)


def test_the_same_results_in_another_session_give_the_same_bytes(
    make_session: MakeSession,
) -> None:
    jobs = [
        FakeJob("a", stdout=b"x\n"),
        FakeJob("b", outcome="fail", return_code=1),
        FakeJob("att", plugin="attachment", stdout=b"\x00\x01"),
    ]
    first, second = make_session(jobs), make_session(jobs)
    assert first.path != second.path

    assert export_bytes(first) == export_bytes(second)


def test_keys_are_sorted_and_the_file_ends_with_a_newline(
    everything: SessionView,
) -> None:
    data = export_bytes(everything)

    document = json.loads(data)
    canonical = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    assert data == canonical.encode("utf-8") + b"\n"
