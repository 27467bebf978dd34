"""``plainbox session list|show|resume|export|remove`` and ``run --rerun-failed``.

Most commands run in-process through :func:`plainbox.cli.main.main`. Sessions
that must stop half-way are made by real ``python -m plainbox`` processes:
either a ``noreturn`` job kills its parent plainbox as a reboot would, or a
job holds the run until the test releases it (a running session).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plainbox.cli.main import ExitCode
from plainbox.session.journal import read_journal
from plainbox.session.restart import XdgAutostartStrategy
from plainbox.session.storage import SessionStorageRepository
from tests.conftest import cli


# A noreturn job primes an automatic resume: keep it to XDG autostart.
pytestmark = pytest.mark.usefixtures("xdg_autostart_only")


NS = "com.example"

UNITS = """\
id: ok
_summary: Always passes
plugin: shell
command: echo ok

id: flaky
_summary: Fails the first time only
plugin: shell
command:
 if [ -e "@FLAG@" ]; then echo fixed; exit 0; fi
 touch "@FLAG@"; echo broken >&2; exit 1

id: needs-flaky
_summary: Depends on flaky
plugin: shell
depends: flaky
command: echo after flaky

id: always-fails
_summary: Always fails
plugin: shell
command: echo no >&2; exit 2

id: reboot
_summary: Reboots, that is kills the plainbox running it
plugin: shell
flags: noreturn
command:
 case "$(tr '\\0' ' ' < /proc/$PPID/cmdline)" in
 *' -m plainbox '*) kill -9 $PPID;;
 esac
 echo 'plainbox is not my parent' >&2; exit 1

id: after-reboot
_summary: Runs after the reboot
plugin: shell
command: echo back

id: hold
_summary: Runs until the test releases it
plugin: shell
command:
 touch "@HELD@"
 for i in $(seq 3000); do [ -e "@RELEASE@" ] && exit 0; sleep 0.01; done; exit 1

id: hold-noreturn
_summary: A reboot that takes until the test releases it
plugin: shell
flags: noreturn
command:
 touch "@HELD@"
 for i in $(seq 3000); do [ -e "@RELEASE@" ] && exit 0; sleep 0.01; done; exit 1

unit: test plan
id: green
_name: Green plan
include: ok

unit: test plan
id: flaky
_name: Flaky plan
include:
 ok
 flaky
 needs-flaky

unit: test plan
id: mixed
_name: Mixed plan
include:
 ok
 flaky
 needs-flaky
 always-fails

unit: test plan
id: rebooting
_name: Rebooting plan
include:
 ok
 reboot
 after-reboot

unit: test plan
id: holding
_name: Holding plan
include:
 ok
 hold

unit: test plan
id: holding-reboot
_name: Holding reboot plan
include:
 ok
 hold-noreturn
"""


def full(job_id: str) -> str:
    return f"{NS}::{job_id}"


def short(job_id: str) -> str:
    return job_id.partition("::")[2]


@dataclass
class Files:
    """The files the provider's jobs use to talk with the test."""

    flag: Path
    held: Path
    release: Path


@pytest.fixture
def files(tmp_path) -> Files:
    return Files(tmp_path / "flaky-ran", tmp_path / "held", tmp_path / "release")


def units_for(files: Files) -> str:
    return (
        UNITS.replace("@FLAG@", str(files.flag))
        .replace("@HELD@", str(files.held))
        .replace("@RELEASE@", str(files.release))
    )


@pytest.fixture
def provider(toml_provider, files) -> Path:
    return toml_provider(units_for(files))  # type: ignore[no-any-return]


def run_plan(
    capsys: pytest.CaptureFixture[str], provider: Path, plan: str, *extra: str
) -> tuple[int, str, str]:
    """Run a plan in-process; exit status, the session id, stdout."""
    code, out, err = cli(
        capsys, "-P", str(provider), "run", full(plan), "--non-interactive", *extra
    )
    assert "error" not in err, err
    match = re.match(r"Session: (\S+)\n", out)
    assert match, out
    return code, match.group(1), out


def plainbox(*argv: str) -> list[str]:
    return [sys.executable, "-m", "plainbox", *argv]


def rebooted_session(provider: Path) -> str:
    """A session whose ``noreturn`` job killed plainbox: left incomplete."""
    done = subprocess.run(
        plainbox("-P", str(provider), "run", full("rebooting"), "--non-interactive"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stderr
    match = re.match(r"Session: (\S+)\n", done.stdout)
    assert match, done.stdout
    return match.group(1)


def session_dir(session_id: str) -> Path:
    return SessionStorageRepository().root / session_id


def journal_bytes(session_id: str) -> bytes:
    """The journal's records: without the zeros a killed writer preallocated
    (opening the journal again cuts those off)."""
    return (session_dir(session_id) / "journal.jsonl").read_bytes().rstrip(b"\0")


def listing(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code, out, _ = cli(capsys, "session", "list", "--format", "json")
    assert code == 0
    return json.loads(out)  # type: ignore[no-any-return]


def shown(capsys: pytest.CaptureFixture[str], session_id: str) -> dict[str, Any]:
    code, out, err = cli(capsys, "session", "show", session_id, "--format", "json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def outcomes(data: dict[str, Any]) -> dict[str, str]:
    return {short(entry["id"]): entry["outcome"] for entry in data["results"]}


def finished_outcomes(session_id: str) -> list[tuple[str, str]]:
    """Every result the journal holds, in order: (job, outcome)."""
    journal = session_dir(session_id) / "journal.jsonl"
    return [
        (short(record.data["job"]), record.data["result"]["outcome"])
        for record in read_journal(journal).records
        if record.kind == "job-finished"
    ]


def autostart_entry(session_id: str) -> Path:
    return XdgAutostartStrategy().path_for(session_id)


def wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert process.poll() is None, "plainbox ended before the job started"
        assert time.monotonic() < deadline, f"timed out waiting for {path}"
        time.sleep(0.01)


@dataclass
class Running:
    """A ``plainbox run`` that is in the middle of a job."""

    session_id: str
    process: subprocess.Popen[bytes]


def start_holding(provider: Path, files: Files, plan: str) -> Running:
    process = subprocess.Popen(
        plainbox("-P", str(provider), "run", full(plan), "--non-interactive"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(files.held, process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    (session,) = SessionStorageRepository().get_storage_list()
    return Running(session.id, process)


@pytest.fixture
def running(provider, files) -> Iterator[Running]:
    """A session whose ``plainbox run`` is busy (and holds the session lock)."""
    holding = start_holding(provider, files, "holding")
    try:
        yield holding
    finally:
        files.release.touch()
        holding.process.wait(60)


# -- run ---------------------------------------------------------------------


def test_run_prints_the_session_id_first(capsys, provider):
    code, session_id, out = run_plan(capsys, provider, "green")
    assert code == 0
    assert out.splitlines()[0] == f"Session: {session_id}"
    assert [entry["id"] for entry in listing(capsys)] == [session_id]


def test_the_session_id_is_out_before_plainbox_dies(provider):
    # rebooted_session reads the id from the output of a killed plainbox: it
    # was written (and flushed) before the first job started.
    session_id = rebooted_session(provider)
    assert session_dir(session_id).is_dir()


# -- list --------------------------------------------------------------------


def test_list_without_sessions(capsys):
    assert cli(capsys, "session", "list") == (0, "No sessions.\n", "")
    assert listing(capsys) == []


def test_list_newest_first_with_status_and_progress(capsys, provider):
    _, green, _ = run_plan(capsys, provider, "green")
    rebooted = rebooted_session(provider)
    _, mixed, _ = run_plan(capsys, provider, "mixed")

    entries = listing(capsys)
    assert [entry["id"] for entry in entries] == [mixed, rebooted, green]
    for entry in entries:
        assert set(entry) >= {
            "id",
            "title",
            "test_plan",
            "created",
            "status",
            "done",
            "total",
        }
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["created"])
    summary = [
        (e["test_plan"], e["title"], e["status"], e["done"], e["total"])
        for e in entries
    ]
    assert summary[0] == (full("mixed"), "Mixed plan", "finished", 4, 4)
    # The header, which the list reads, is written before a noreturn job:
    # after the "reboot" it counts the job done before it.
    assert summary[1] == (full("rebooting"), "Rebooting plan", "incomplete", 1, 3)
    assert summary[2] == (full("green"), "Green plan", "finished", 1, 1)

    code, out, _ = cli(capsys, "session", "list")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [mixed, rebooted, green]
    created, status, progress, plan, *title = lines[0].split()[1:]
    assert (status, progress, plan, " ".join(title)) == (
        "finished",
        "4/4",
        full("mixed"),
        "Mixed plan",
    )
    assert created == entries[0]["created"]
    assert lines[1].split()[2] == "incomplete"


def test_list_shows_a_session_in_use_as_running(capsys, running):
    (entry,) = listing(capsys)
    assert (entry["id"], entry["status"]) == (running.session_id, "running")
    _, out, _ = cli(capsys, "session", "list")
    assert out.split()[:3] == [running.session_id, entry["created"], "running"]


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (b"", "Expecting value"),
        (b'{"format": "plainbox-sess', "Unterminated string"),
        (b"[]", "not a JSON object"),
        (b'{"format": "plainbox-session", "version": 99}', "newer plainbox"),
        (None, "missing"),
    ],
)
def test_a_damaged_header_hides_no_other_session(capsys, provider, header, error):
    _, older, _ = run_plan(capsys, provider, "green")
    _, damaged, _ = run_plan(capsys, provider, "mixed")
    _, newer, _ = run_plan(capsys, provider, "green")
    path = session_dir(damaged) / "session.json"
    if header is None:
        path.unlink()
    else:
        path.write_bytes(header)

    entries = {entry["id"]: entry for entry in listing(capsys)}
    assert set(entries) == {older, damaged, newer}
    assert entries[damaged]["status"] == "damaged"
    assert error in entries[damaged]["error"]
    assert entries[older]["status"] == entries[newer]["status"] == "finished"

    code, out, _ = cli(capsys, "session", "list")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert set(lines) == {older, damaged, newer}
    assert lines[damaged].startswith(f"{damaged}  damaged: ")
    assert "finished" in lines[older]


# -- show ----------------------------------------------------------------------


def test_show_a_finished_session(capsys, provider):
    _, session_id, _ = run_plan(capsys, provider, "mixed")

    data = shown(capsys, session_id)
    assert (data["id"], data["title"], data["test_plan"]) == (
        session_id,
        "Mixed plan",
        full("mixed"),
    )
    assert (data["status"], data["done"], data["total"]) == ("finished", 4, 4)
    assert data["flags"] == []
    assert data["running_job"] is None
    assert data["warnings"] == []
    assert outcomes(data) == {
        "ok": "pass",
        "flaky": "fail",
        "needs-flaky": "skipped-dependency",
        "always-fails": "fail",
    }
    assert {entry["attempts"] for entry in data["results"]} == {1}
    skipped = data["results"][2]
    assert skipped["skip_reason"] == {"related_dependencies": [full("flaky")]}

    code, out, _ = cli(capsys, "session", "show", session_id)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Session {session_id}: Mixed plan"
    assert f"  test plan: {full('mixed')}" in lines
    assert "  status:    finished" in lines
    assert f"  created:   {data['created']}" in lines
    assert lines[-4:] == [
        f"pass               {full('ok')}",
        f"fail               {full('flaky')}",
        f"skipped-dependency {full('needs-flaky')}",
        f"fail               {full('always-fails')}",
    ]


def test_show_a_killed_session(capsys, provider, files):
    # Killed during hold, the second job, less than a second after ok ended:
    # the header (refreshed at most once a second) still says nothing was
    # done. show replays the journal, so its progress is exact.
    holding = start_holding(provider, files, "holding")
    holding.process.kill()
    holding.process.wait(60)
    files.release.touch()
    session_id = holding.session_id

    data = shown(capsys, session_id)
    assert data["status"] == "incomplete"
    assert data["running_job"] == full("hold")
    assert outcomes(data) == {"ok": "pass"}
    assert (data["done"], data["total"]) == (1, 2)

    _, out, _ = cli(capsys, "session", "show", session_id)
    lines = out.splitlines()
    assert f"  stopped while running: {full('hold')}" in lines
    assert "  status:    incomplete" in lines
    assert lines[-1] == f"pass               {full('ok')}"


@pytest.mark.parametrize(
    "argv",
    [
        ("session", "show", "nope"),
        ("session", "resume", "nope"),
        ("session", "resume", "nope", "--auto"),
        ("session", "export", "nope", "--report", "json:x.json"),
        ("session", "remove", "nope"),
        ("run", "--rerun-failed", "nope"),
        ("session", "show", "../sessions"),
    ],
)
def test_an_unknown_session_is_a_usage_error(capsys, provider, argv):
    run_plan(capsys, provider, "green")  # some other session exists
    code, out, err = cli(capsys, *argv)
    assert code == ExitCode.USAGE_ERROR
    assert out == ""
    assert re.search(r"no session '[^']+' \('plainbox session list' shows them\)", err)


def test_a_session_without_header_can_be_shown_resumed_and_removed(capsys, provider):
    # The list shows a session whose header is gone as damaged: the other
    # commands find it too, and the journal has everything they need.
    session_id = rebooted_session(provider)
    (session_dir(session_id) / "session.json").unlink()

    assert outcomes(shown(capsys, session_id)) == {"ok": "pass"}
    code, out, err = cli(capsys, "session", "resume", session_id, "--non-interactive")
    assert code == 0, err
    assert f"Resuming session {session_id}" in out
    assert listing(capsys)[0]["status"] == "finished"  # the header is back
    assert cli(capsys, "session", "remove", session_id)[0] == 0
    assert listing(capsys) == []


# -- resume ----------------------------------------------------------------


def test_resume_by_id_passes_the_reboot_and_runs_the_rest(capsys, provider):
    session_id = rebooted_session(provider)
    assert autostart_entry(session_id).exists()

    code, out, err = cli(capsys, "session", "resume", session_id, "--non-interactive")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:2] == [
        f"{full('reboot')}: pass",
        f"Resuming session {session_id}",
    ]
    data = shown(capsys, session_id)
    assert data["status"] == "finished"
    assert outcomes(data) == {"ok": "pass", "reboot": "pass", "after-reboot": "pass"}
    # ok ran once, before the reboot; nothing ran twice.
    assert finished_outcomes(session_id) == [
        ("ok", "pass"),
        ("reboot", "pass"),
        ("after-reboot", "pass"),
    ]
    # The automatic resume primed before the reboot is taken away.
    assert not autostart_entry(session_id).exists()


def test_resume_writes_the_reports_asked_for(capsys, provider, tmp_path):
    session_id = rebooted_session(provider)
    report = tmp_path / "resumed.json"
    code, _, err = cli(
        capsys,
        "session",
        "resume",
        session_id,
        "--non-interactive",
        "--report",
        f"json:{report}",
    )
    assert code == 0, err
    data = json.loads(report.read_text())
    assert data["session"]["id"] == session_id
    assert [short(row["id"]) for row in data["results"]] == [
        "ok",
        "reboot",
        "after-reboot",
    ]


def test_resume_without_id_takes_the_newest_incomplete_session(capsys, provider):
    older = rebooted_session(provider)
    newer = rebooted_session(provider)
    run_plan(capsys, provider, "green")  # the newest session: finished

    code, out, _ = cli(capsys, "session", "resume", "--non-interactive")
    assert code == 0
    assert f"Resuming session {newer}" in out
    status = {entry["id"]: entry["status"] for entry in listing(capsys)}
    assert (status[older], status[newer]) == ("incomplete", "finished")

    code, out, _ = cli(capsys, "session", "resume", "--non-interactive")
    assert code == 0
    assert f"Resuming session {older}" in out

    code, _, err = cli(capsys, "session", "resume", "--non-interactive")
    assert code == ExitCode.USAGE_ERROR
    assert "no incomplete session to resume" in err


def test_auto_resume_asks_nothing_and_accepts_changed_jobs(
    capsys, provider, toml_provider, files
):
    session_id = rebooted_session(provider)
    toml_provider(units_for(files).replace("command: echo ok", "command: echo OK"))
    code, out, err = cli(capsys, "session", "resume", "--auto", session_id)
    assert code == 0, err
    assert f"jobs changed since they ran: {full('ok')}" in err
    assert f"Resuming session {session_id}" in out
    assert shown(capsys, session_id)["status"] == "finished"


@pytest.mark.parametrize(("plan", "status"), [("green", 0), ("mixed", 1)])
def test_resume_a_finished_session_says_so(capsys, provider, plan, status):
    _, session_id, _ = run_plan(capsys, provider, plan)
    before = journal_bytes(session_id)

    code, out, _ = cli(capsys, "session", "resume", session_id, "--non-interactive")
    # The exit status is the session's: 1 when a job failed.
    assert code == status
    assert out == f"Session {session_id} is finished; nothing to resume.\n"
    assert journal_bytes(session_id) == before


def test_changed_jobs_stop_the_resume_until_accepted(
    capsys, provider, toml_provider, files
):
    session_id = rebooted_session(provider)
    toml_provider(units_for(files).replace("command: echo ok", "command: echo OK"))
    before = journal_bytes(session_id)

    code, out, err = cli(capsys, "session", "resume", session_id, "--non-interactive")
    assert code == ExitCode.USAGE_ERROR
    assert out == ""
    assert f"jobs changed since they ran in session {session_id}: {full('ok')}" in err
    assert "--accept-changed" in err
    # Nothing was decided or run: the session is as it was.
    assert journal_bytes(session_id) == before
    assert shown(capsys, session_id)["status"] == "incomplete"

    code, out, err = cli(
        capsys,
        "session",
        "resume",
        session_id,
        "--non-interactive",
        "--accept-changed",
    )
    assert code == 0, err
    assert f"warning: jobs changed since they ran: {full('ok')}" in err
    data = shown(capsys, session_id)
    assert data["status"] == "finished"
    # ok keeps the result of the definition it ran with.
    assert finished_outcomes(session_id)[0] == ("ok", "pass")
    assert [entry["attempts"] for entry in data["results"]] == [1, 1, 1]


def test_resume_refused_for_a_session_in_use_keeps_its_automatic_resume(
    capsys, provider, files
):
    # A noreturn job is running (the machine is about to reboot) and primed
    # an automatic resume; someone tries to resume the session meanwhile.
    holding = start_holding(provider, files, "holding-reboot")
    try:
        entry = autostart_entry(holding.session_id)
        assert entry.exists()

        code, out, err = cli(
            capsys, "session", "resume", holding.session_id, "--non-interactive"
        )
        assert code == ExitCode.FAILED
        assert out == ""
        assert (
            f"session {holding.session_id} is in use by process "
            f"{holding.process.pid}" in err
        )
        # The refused resume must not undo the resume after the reboot.
        assert entry.exists()
    finally:
        files.release.touch()
        holding.process.wait(60)


def test_a_noreturn_job_that_returns_leaves_no_automatic_resume(
    capsys, provider, files
):
    files.release.touch()  # hold-noreturn returns at once: no reboot happened
    code, session_id, _ = run_plan(capsys, provider, "holding-reboot")
    assert code == 0
    assert shown(capsys, session_id)["status"] == "finished"
    # Otherwise every later login runs 'session resume --auto' on it.
    assert not autostart_entry(session_id).exists()


# -- export ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_export_is_repeatable_and_equals_the_run_report(
    capsys, provider, tmp_path, fmt
):
    run_report = tmp_path / f"run.{fmt}"
    _, session_id, _ = run_plan(
        capsys, provider, "mixed", "--report", f"{fmt}:{run_report}"
    )
    exports = [tmp_path / f"first.{fmt}", tmp_path / f"second.{fmt}"]
    for path in exports:
        code, out, err = cli(
            capsys, "session", "export", session_id, "--report", f"{fmt}:{path}"
        )
        assert code == 0, err
        assert out == f"Report ({fmt}): {path}\n"
    assert exports[0].read_bytes() == exports[1].read_bytes()
    assert exports[0].read_bytes() == run_report.read_bytes()
    assert "always-fails" in run_report.read_text()


def test_export_an_interrupted_session(capsys, provider, tmp_path):
    session_id = rebooted_session(provider)
    path = tmp_path / "partial.json"
    code, _, err = cli(
        capsys, "session", "export", session_id, "--report", f"json:{path}"
    )
    assert code == 0, err
    data = json.loads(path.read_text())
    assert [(short(r["id"]), r["outcome"]) for r in data["results"]] == [("ok", "pass")]
    assert data["results"][0]["stdout"] == "ok\n"
    # Exporting reads the session: it stays as it was, still to be resumed.
    assert shown(capsys, session_id)["running_job"] == full("reboot")


def test_export_needs_a_report(capsys, provider):
    _, session_id, _ = run_plan(capsys, provider, "green")
    code, _, err = cli(capsys, "session", "export", session_id)
    assert code == ExitCode.USAGE_ERROR
    assert "--report FORMAT:PATH" in err


# -- remove --------------------------------------------------------------------


def test_remove_deletes_every_session_named(capsys, provider):
    _, first, _ = run_plan(capsys, provider, "green")
    _, second, _ = run_plan(capsys, provider, "mixed")
    _, kept, _ = run_plan(capsys, provider, "green")

    code, out, _ = cli(capsys, "session", "remove", first, second)
    assert code == 0
    assert out == f"Removed {first}\nRemoved {second}\n"
    assert not session_dir(first).exists()
    assert not session_dir(second).exists()
    assert [entry["id"] for entry in listing(capsys)] == [kept]
    # Gone means gone: show no longer finds it.
    assert cli(capsys, "session", "show", first)[0] == ExitCode.USAGE_ERROR


def test_remove_keeps_a_session_in_use(capsys, running, provider):
    _, other, _ = run_plan(capsys, provider, "green")

    code, out, err = cli(capsys, "session", "remove", running.session_id, other)
    assert code == ExitCode.FAILED
    assert (
        f"session {running.session_id} is in use by process {running.process.pid}; "
        "not removed" in err
    )
    # The other session named is removed all the same.
    assert out == f"Removed {other}\n"
    assert session_dir(running.session_id).is_dir()
    assert [entry["id"] for entry in listing(capsys)] == [running.session_id]


def test_remove_takes_away_a_primed_automatic_resume(capsys, provider):
    # The machine rebooted and the session will not be resumed after all:
    # nothing must try to resume it at the next login.
    session_id = rebooted_session(provider)
    assert autostart_entry(session_id).exists()
    assert cli(capsys, "session", "remove", session_id)[0] == 0
    assert not autostart_entry(session_id).exists()


# -- run --rerun-failed --------------------------------------------------------


def test_rerun_failed_gives_failed_jobs_a_second_attempt(capsys, provider, tmp_path):
    code, session_id, _ = run_plan(capsys, provider, "flaky")
    assert code == 1

    report = tmp_path / "rerun.json"
    code, out, err = cli(
        capsys,
        "run",
        "--rerun-failed",
        session_id,
        "--non-interactive",
        "--report",
        f"json:{report}",
    )
    # Every job passes now, so the exit status is 0.
    assert code == 0, err
    assert (
        out.splitlines()[0] == f"Session: {session_id} (running 2 failed job(s) again)"
    )
    data = shown(capsys, session_id)
    assert data["status"] == "finished"
    assert outcomes(data) == {"ok": "pass", "flaky": "pass", "needs-flaky": "pass"}
    attempts = {short(entry["id"]): entry["attempts"] for entry in data["results"]}
    assert attempts == {"ok": 1, "flaky": 2, "needs-flaky": 2}
    # The journal keeps the first results; only the failed jobs ran again.
    assert finished_outcomes(session_id) == [
        ("ok", "pass"),
        ("flaky", "fail"),
        ("needs-flaky", "skipped-dependency"),
        ("flaky", "pass"),
        ("needs-flaky", "pass"),
    ]
    rows = json.loads(report.read_text())["results"]
    assert {short(row["id"]): row["outcome"] for row in rows} == outcomes(data)


def test_rerun_failed_exit_status_follows_the_new_results(capsys, provider):
    code, session_id, _ = run_plan(capsys, provider, "mixed")
    assert code == 1
    code, _, _ = cli(capsys, "run", "--rerun-failed", session_id, "--non-interactive")
    # flaky passes now, always-fails does not.
    assert code == 1
    data = shown(capsys, session_id)
    assert outcomes(data)["flaky"] == "pass"
    assert outcomes(data)["always-fails"] == "fail"
    attempts = {short(entry["id"]): entry["attempts"] for entry in data["results"]}
    assert attempts == {"ok": 1, "flaky": 2, "needs-flaky": 2, "always-fails": 2}


def test_rerun_failed_with_nothing_failed(capsys, provider):
    _, session_id, _ = run_plan(capsys, provider, "green")
    before = journal_bytes(session_id)
    code, out, _ = cli(capsys, "run", "--rerun-failed", session_id, "--non-interactive")
    assert code == 0
    assert out == f"Session {session_id}: nothing failed; nothing to rerun\n"
    assert journal_bytes(session_id) == before


def test_rerun_failed_takes_no_plan(capsys, provider):
    _, session_id, _ = run_plan(capsys, provider, "mixed")
    code, _, err = cli(
        capsys, "-P", str(provider), "run", "--rerun-failed", session_id, full("green")
    )
    assert code == ExitCode.USAGE_ERROR
    assert "--rerun-failed takes no test plan" in err
