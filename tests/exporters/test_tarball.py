"""The submission tarball: safe member names, exact contents, reproducible bytes."""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plainbox.errors import ExporterError
from plainbox.exporters.base import Exporter
from plainbox.exporters.htmlreport import HtmlExporter
from plainbox.exporters.submission import SubmissionExporter
from plainbox.exporters.tarball import MAX_SLUG
from plainbox.exporters.tarball import TarballExporter
from plainbox.exporters.tarball import member_slug
from plainbox.exporters.tarball import member_stems
from plainbox.session.view import SessionView
from tests.exporters.conftest import FakeJob


MakeSession = Callable[..., SessionView]
SAFE_NAME = re.compile(r"^(?:attachments|logs)/\d{4,}-[A-Za-z0-9_.-]+$|^[a-z.]+$")
REPORTS = {"submission.json", "report.html", "junit.xml"}


def export_bytes(view: SessionView, *options: str) -> bytes:
    stream = io.BytesIO()
    TarballExporter(options).export(view, stream)
    return stream.getvalue()


def open_archive(data: bytes) -> tarfile.TarFile:
    # "r:xz", not "r:*": the file must really be xz.
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:xz")


def contents(data: bytes) -> dict[str, bytes]:
    with open_archive(data) as archive:
        found = {}
        for member in archive.getmembers():
            extracted = archive.extractfile(member)
            assert extracted is not None, member.name
            found[member.name] = extracted.read()
        return found


def render(exporter: Exporter, view: SessionView) -> bytes:
    stream = io.BytesIO()
    exporter.export(view, stream)
    return stream.getvalue()


def junit_exporter() -> Exporter:
    try:
        from plainbox.exporters.junitxml import JunitExporter
    except ImportError:
        pytest.skip("plainbox.exporters.junitxml is not written yet")
    return JunitExporter()


@pytest.fixture
def session(make_session: MakeSession) -> SessionView:
    return make_session(
        [
            FakeJob("a", stdout=b"out of a\n\x1b[31mred\x1b[0m \xff\n"),
            FakeJob("b", outcome="fail", stderr=b"err of b\n", return_code=1),
            FakeJob("quiet"),
            FakeJob("att", plugin="attachment", stdout=b"\x89PNG\r\n\x1a\n\x00"),
            FakeJob("att-err", plugin="attachment", stdout=b"x", stderr=b"warn\n"),
        ]
    )


# --- members -------------------------------------------------------------------


def test_members_are_the_reports_logs_and_attachments(session: SessionView) -> None:
    with open_archive(export_bytes(session)) as archive:
        names = archive.getnames()

    assert names == sorted(names)
    assert set(names) - {"junit.xml"} == {
        "attachments/0004-att",
        "attachments/0005-att-err",
        "logs/0001-a.stdout",
        "logs/0002-b.stderr",
        "logs/0005-att-err.stderr",
        "report.html",
        "submission.json",
    }


def test_logs_and_attachments_are_the_exact_bytes(session: SessionView) -> None:
    found = contents(export_bytes(session))

    assert found["logs/0001-a.stdout"] == b"out of a\n\x1b[31mred\x1b[0m \xff\n"
    assert found["logs/0002-b.stderr"] == b"err of b\n"
    assert found["attachments/0004-att"] == b"\x89PNG\r\n\x1a\n\x00"
    assert found["attachments/0005-att-err"] == b"x"
    assert found["logs/0005-att-err.stderr"] == b"warn\n"


def test_reports_are_what_their_exporters_write(session: SessionView) -> None:
    found = contents(export_bytes(session))

    assert found["submission.json"] == render(SubmissionExporter(), session)
    assert found["report.html"] == render(HtmlExporter(), session)
    assert json.loads(found["submission.json"])["title"] == session.title


def test_junit_report_is_what_its_exporter_writes(session: SessionView) -> None:
    junit = junit_exporter()

    found = contents(export_bytes(session))

    assert found["junit.xml"] == render(junit, session)


def test_without_a_junit_exporter_the_rest_is_still_written(
    session: SessionView, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes the import fail, as before junitxml existed.
    monkeypatch.setitem(sys.modules, "plainbox.exporters.junitxml", None)

    with open_archive(export_bytes(session)) as archive:
        names = set(archive.getnames())

    assert "junit.xml" not in names
    assert {"submission.json", "report.html", "logs/0001-a.stdout"} <= names


def test_empty_session_has_only_the_reports(make_session: MakeSession) -> None:
    with open_archive(export_bytes(make_session([]))) as archive:
        names = set(archive.getnames())

    assert names - {"junit.xml"} == {"report.html", "submission.json"}


def test_every_member_is_a_plain_file_owned_by_root_mode_0644(
    session: SessionView,
) -> None:
    assert session.finished is not None

    with open_archive(export_bytes(session)) as archive:
        members = archive.getmembers()

    assert members
    for member in members:
        assert member.isreg(), member.name
        assert member.mode == 0o644, member.name
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mtime == int(session.finished), member.name


@pytest.mark.parametrize(
    ("created", "finished", "expected"),
    [
        (1_700_000_000.0, 1_800_000_123.9, 1_800_000_123),
        (1_700_000_000.5, None, 1_700_000_000),
        (None, None, 0),
        (-5.0, None, 0),
    ],
)
def test_member_times_come_from_the_session(
    session: SessionView,
    created: float | None,
    finished: float | None,
    expected: int,
) -> None:
    view = replace(session, created=created, finished=finished)

    with open_archive(export_bytes(view)) as archive:
        times = {member.mtime for member in archive.getmembers()}

    assert times == {expected}


def test_the_same_job_twice_gets_two_members(session: SessionView) -> None:
    first = session.entries[0]
    view = replace(session, entries=(first, replace(first, device="remote")))

    found = contents(export_bytes(view))

    assert found["logs/0001-a.stdout"] == found["logs/0002-a.stdout"]


@pytest.mark.parametrize(("count", "width"), [(1, 4), (9999, 4), (10_000, 5)])
def test_numbers_widen_so_names_sort_in_run_order(
    session: SessionView, count: int, width: int
) -> None:
    entry = session.entries[0]
    # Stems only: no output is read, so 10,000 entries cost nothing.
    entries = tuple(
        replace(entry, job=replace(entry.job, partial_id=f"j{n}")) for n in range(count)
    )

    stems = member_stems(replace(session, entries=entries))

    assert stems[0] == f"{1:0{width}d}-j0"
    assert stems[-1] == f"{count:0{width}d}-j{count - 1}"
    assert sorted(stems) == stems
    assert len(set(stems)) == count


def test_a_damaged_io_log_leaves_a_note(session: SessionView) -> None:
    entry = session.entries[0]
    assert entry.result.io_log is not None
    log = entry.session_dir / entry.result.io_log
    log.write_bytes(b"this is not a record\n" + log.read_bytes())

    found = contents(export_bytes(session))

    assert b"cannot be read" in found["logs/0001-a.stderr"]
    assert "logs/0001-a.stdout" not in found
    assert found["logs/0002-b.stderr"] == b"err of b\n"


# --- hostile job ids -----------------------------------------------------------------


HOSTILE_IDS = [
    "../../etc/passwd",
    "/etc/shadow",
    "..",
    ".",
    ".hidden",
    "a/../../b",
    "nul\x00byte\nnewline\x1b[31m",
    "C:\\Windows\\system32",
    "ünïcode✓ spaces and 'quotes'",
    "x" * 300,
    "",
]


def test_hostile_ids_give_safe_member_names(
    session: SessionView, tmp_path: Path
) -> None:
    entry = session.entries[0]
    entries = tuple(
        replace(entry, job=replace(entry.job, partial_id=job_id))
        for job_id in HOSTILE_IDS
    )
    view = replace(session, entries=entries)

    data = export_bytes(view)

    with open_archive(data) as archive:
        names = archive.getnames()
        # The "data" filter refuses absolute paths, ".." and links outside.
        archive.extractall(tmp_path / "out", filter="data")
    logs = [name for name in names if name.startswith("logs/")]
    assert len(logs) == len(HOSTILE_IDS)
    for name in names:
        assert SAFE_NAME.match(name), name
        assert len(name.encode()) <= 100, name
        parts = PurePosixPath(name).parts
        assert ".." not in parts
        assert not PurePosixPath(name).is_absolute()
    extracted = sorted(
        path.relative_to(tmp_path / "out").as_posix()
        for path in (tmp_path / "out").rglob("*")
        if path.is_file()
    )
    assert extracted == sorted(names)
    assert "logs/0001-etc_passwd.stdout" in names


@given(st.text(st.characters(exclude_categories=()), max_size=400))
def test_member_slug_is_always_one_safe_component(job_id: str) -> None:
    slug = member_slug(job_id)

    assert re.fullmatch(r"[A-Za-z0-9_.-]+", slug)
    assert ".." not in slug
    assert not slug.startswith(".")
    assert not slug.endswith(".")
    assert len(slug) <= MAX_SLUG


@pytest.mark.parametrize(
    ("job_id", "slug"),
    [
        ("cpu/cpuinfo", "cpu_cpuinfo"),
        ("info/buildstamp", "info_buildstamp"),
        ("../../etc/passwd", "etc_passwd"),
        ("camera/detect-rgb_video0", "camera_detect-rgb_video0"),
        ("a...b", "a_b"),
        ("v1.2_x", "v1.2_x"),
        ("a._b", "a_b"),
        ("...", "job"),
        ("", "job"),
    ],
)
def test_member_slug_examples(job_id: str, slug: str) -> None:
    assert member_slug(job_id) == slug


# --- determinism, size, options --------------------------------------------------------


def test_two_exports_are_byte_identical(session: SessionView) -> None:
    first = export_bytes(session)

    assert first[:6] == b"\xfd7zXZ\x00"  # xz magic
    assert first == export_bytes(session)


@pytest.mark.parametrize("preset", ["0", "9"])
def test_every_preset_gives_the_same_members(session: SessionView, preset: str) -> None:
    assert contents(export_bytes(session, f"xz-preset={preset}")) == contents(
        export_bytes(session)
    )


@pytest.mark.parametrize("value", ["", "10", "-1", "fast", "6.0"])
def test_bad_presets_are_exporter_errors(value: str) -> None:
    with pytest.raises(ExporterError, match="xz-preset"):
        TarballExporter([f"xz-preset={value}"])


def test_unknown_option_is_an_error_in_strict_mode() -> None:
    with pytest.raises(ExporterError, match="no option"):
        TarballExporter(["with-io-log"])


@pytest.mark.slow
def test_ten_megabytes_of_output_keep_the_archive_sane(
    make_session: MakeSession,
) -> None:
    # Repetitive text: compressing it is quick, so the test is about what
    # goes into the archive, not about xz's speed on noise.
    body = b"".join(
        b"%08d some log output that goes on and on\n" % n
        for n in range(10 * 1024 * 1024 // 48)
    )
    view = make_session([FakeJob("big", stdout=body)])

    data = export_bytes(view, "xz-preset=0")

    with open_archive(data) as archive:
        sizes = {member.name: member.size for member in archive.getmembers()}
    found = contents(data)
    assert found["logs/0001-big.stdout"] == body
    # The output is whole in its log and in submission.json; the HTML and
    # JUnit reports keep a capped excerpt, so everything else is small.
    assert sum(sizes.values()) < 2 * len(body) + 1024 * 1024
    assert sizes["report.html"] < 1024 * 1024
    assert len(data) < len(body) // 10
