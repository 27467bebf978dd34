"""Crash injection: ``plainbox run`` and ``session resume`` killed and resumed.

The acceptance test of issue 4. Real ``python -m plainbox`` processes run a
provider of about fifty short jobs and are killed with SIGKILL at random
moments, each kill followed by ``plainbox session resume``, until the session
ends. After every kill the journal is read back and checked: it only grew,
results recorded before the kill are unchanged, and the session loads. At the
end every job of the plan has exactly one result, and the number of
``crash`` results is at most the number of kills.

The kill moments come from a seeded ``random.Random``. The seed is fresh on
every run, so CI explores new moments each time; it is printed at the
start, and shown with the test's output when it fails. Set
``PLAINBOX_CRASH_SEED`` to replay a seed. Timing still depends on the
machine's speed, so a seed gives the same delays but maybe not the same
moments in the run.

Also here: kills at exact moments of a session's creation (through an
audit hook) leave no session or a resumable one; a journal whose last
record was cut short by power loss still resumes, losing only that record;
and Ctrl-C stops a job so that it runs again on resume.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest

from plainbox.session.journal import read_journal
from plainbox.session.manager import FLAG_READ_ONLY
from plainbox.session.manager import SessionManager
from plainbox.session.restart import XdgAutostartStrategy
from plainbox.session.storage import SessionStorage
from plainbox.session.storage import SessionStorageRepository
from tests.conftest import cli


# A noreturn job primes an automatic resume: keep it to XDG autostart.
pytestmark = pytest.mark.usefixtures("xdg_autostart_only")


NS = "com.example"
PLAN = f"{NS}::plan"
JOB_COUNT = 50
KILLS = 20
# The comment resume gives the job that was running when plainbox died.
CRASH_COMMENT = "plainbox stopped while this job was running"
REBOOT_COMMENT = "passed: the session resumed after the reboot"


# -- the provider ------------------------------------------------------------


# Kills the job's parent if it is ``python -m plainbox``: should plainbox be
# gone already (killed by the test), the orphaned shell must not kill
# whatever adopted it. A job that gets past it failed to "reboot".
KILL_PARENT_PLAINBOX = (
    " case \"$(tr '\\0' ' ' < /proc/$PPID/cmdline)\" in\n"
    " *' -m plainbox '*) kill -9 $PPID;;\n"
    " esac\n"
    " echo 'plainbox is not my parent' >&2; exit 1\n"
)


def _numbered_job(number: int) -> tuple[str, str, str | None]:
    """The unit text of ``job-NN``, its outcome in a clean run, its dependency."""
    job_id = f"job-{number:02d}"
    # Every ninth job (from the fifth) fails; every sixth (from the sixth)
    # depends on the job before it, so some depend on a failed job.
    fails = number % 9 == 4
    depends = f"job-{number - 1:02d}" if number % 6 == 5 else None
    sleep = 0.01 + (number % 5) * 0.01
    command = f"sleep {sleep:.2f}; echo {job_id}" + ("; exit 1" if fails else "")
    lines = [
        f"id: {job_id}",
        f"_summary: Numbered job {number}",
        "plugin: shell",
        f"command: {command}",
    ]
    if depends:
        lines.append(f"depends: {depends}")
    outcome = "fail" if fails else "pass"
    return "\n".join(lines) + "\n", outcome, depends


def _build_units() -> tuple[str, dict[str, str], dict[str, list[str]]]:
    """The provider's units, each job's outcome in a clean run, and its depends."""
    units: list[str] = []
    expected: dict[str, str] = {}
    depends: dict[str, list[str]] = {}
    includes: list[str] = []
    for number in range(JOB_COUNT):
        text, outcome, dependency = _numbered_job(number)
        job_id = f"job-{number:02d}"
        units.append(text)
        expected[job_id] = outcome
        depends[job_id] = [dependency] if dependency else []
        includes.append(job_id)
        if dependency is not None and expected[dependency] != "pass":
            expected[job_id] = "skipped-dependency"
        if number == JOB_COUNT // 2:
            # Half-way, the job that "reboots": it kills plainbox, its parent.
            units.append(
                "id: reboot\n"
                "_summary: Reboot the machine\n"
                "plugin: shell\n"
                "flags: noreturn\n"
                "command:\n"
                " echo rebooting now\n" + KILL_PARENT_PLAINBOX
            )
            units.append(
                "id: after-reboot\n"
                "_summary: Runs once the reboot passed\n"
                "plugin: shell\n"
                "depends: reboot\n"
                "command: echo back\n"
            )
            includes += ["reboot", "after-reboot"]
            expected |= {"reboot": "pass", "after-reboot": "pass"}
            depends |= {"reboot": [], "after-reboot": ["reboot"]}
    units.append(
        "id: gadgets\n"
        "_summary: List the gadgets\n"
        "plugin: resource\n"
        "command: sleep 0.02; printf 'name: g0\\nstate: on\\n\\n"
        "name: g1\\nstate: off\\n\\nname: g2\\nstate: on\\n'\n"
    )
    units.append(
        "unit: template\n"
        "template-resource: gadgets\n"
        "template-id: gadget-check\n"
        "id: gadget-check-{name}\n"
        "_summary: Check gadget {name}\n"
        "plugin: shell\n"
        'command: sleep 0.01; test "{state}" = on\n'
    )
    units.append(
        "id: needs-g0\n"
        "_summary: Needs gadget g0\n"
        "plugin: shell\n"
        'requires: gadgets.name == "g0" and gadgets.state == "on"\n'
        "command: echo g0 is here\n"
    )
    units.append(
        "id: needs-missing\n"
        "_summary: Needs a gadget nobody has\n"
        "plugin: shell\n"
        'requires: gadgets.name == "nope"\n'
        "command: echo unreachable\n"
    )
    includes += ["gadget-check", "needs-g0", "needs-missing"]
    expected |= {
        "gadgets": "pass",
        "gadget-check-g0": "pass",
        "gadget-check-g1": "fail",
        "gadget-check-g2": "pass",
        "needs-g0": "pass",
        "needs-missing": "skipped-resource",
    }
    for job_id in ("gadgets", "needs-g0", "needs-missing", *GADGET_CHECKS):
        depends[job_id] = []
    plan = (
        "unit: test plan\n"
        "id: plan\n"
        "_name: A long session\n"
        "bootstrap_include: gadgets\n"
        "include:\n" + "".join(f" {item}\n" for item in includes)
    )
    units.append(plan)
    return "\n".join(units), expected, depends


GADGET_CHECKS = ("gadget-check-g0", "gadget-check-g1", "gadget-check-g2")
UNITS, EXPECTED, DEPENDS = _build_units()


def full(job_id: str) -> str:
    return f"{NS}::{job_id}"


def short(job_id: str) -> str:
    return job_id.partition("::")[2]


# -- the environment -----------------------------------------------------------


@pytest.fixture
def provider(toml_provider) -> Path:
    return toml_provider(UNITS)  # type: ignore[no-any-return]


@pytest.fixture
def seed() -> int:
    configured = os.environ.get("PLAINBOX_CRASH_SEED")
    value = int(configured) if configured else secrets.randbits(32)
    # Captured, and shown with the test's output when the test fails.
    print(f"crash-injection seed: {value} (replay: PLAINBOX_CRASH_SEED={value})")
    return value


def plainbox(*argv: str) -> list[str]:
    return [sys.executable, "-m", "plainbox", *argv]


@dataclass
class Proc:
    """A plainbox subprocess whose output goes to files (readable after a kill)."""

    process: subprocess.Popen[bytes]
    out: Path
    err: Path
    started: float

    @classmethod
    def start(cls, directory: Path, name: str, argv: list[str]) -> Proc:
        out, err = directory / f"{name}.out", directory / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            started = time.monotonic()
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
            )
        return cls(process, out, err, started)

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout)

    @property
    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err.read_text(errors="replace")


def run_cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        plainbox(*argv),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def only_session() -> SessionStorage | None:
    sessions = SessionStorageRepository().get_storage_list()
    assert len(sessions) <= 1, sessions
    return sessions[0] if sessions else None


def wait_for(condition: Any, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.005)


# -- journal checks --------------------------------------------------------------


@dataclass
class Snapshot:
    """What a session's journal said after one kill."""

    raw: bytes
    finished: dict[str, dict[str, Any]] = field(default_factory=dict)


def snapshot(storage: SessionStorage) -> Snapshot:
    # The records, without the zeros preallocated after them.
    raw = storage.journal_path.read_bytes().rstrip(b"\0")
    contents = read_journal(storage.journal_path)
    # SIGKILL cannot tear a record: each is one write(2).
    assert contents.warnings == []
    assert contents.valid_length == len(raw)
    shot = Snapshot(raw)
    for record in contents.records:
        if record.kind == "job-finished":
            job_id = short(record.data["job"])
            # Nothing runs twice in this session: one result per job, ever.
            assert job_id not in shot.finished, f"{job_id} finished twice"
            shot.finished[job_id] = record.data["result"]
    return shot


def check_after_kill(storage: SessionStorage, before: Snapshot) -> Snapshot:
    """The invariants a kill must keep; returns the journal as it is now."""
    now = snapshot(storage)
    # Append-only: what was written before is still there, byte for byte...
    assert now.raw.startswith(before.raw)
    # ...so every job that had finished keeps its result.
    for job_id, result in before.finished.items():
        assert now.finished.get(job_id) == result, job_id
    # The kernel drops the dead process's lock. A child it was forking at the
    # moment of the kill holds a copy of the lock's descriptor until it
    # closes it (close_fds) and execs, a few microseconds later: so wait a
    # little, but a lock that stays held would make the session unresumable.
    wait_for(lambda: storage.lock_holder() is None, 5, "the lock's release")
    # The session loads: it can be resumed.
    manager = SessionManager.load_session([], storage, flags={FLAG_READ_ONLY})
    assert manager.load_warnings == []
    assert manager.state.metadata.options["targets"] == [PLAN]
    return now


# -- the crash injection -------------------------------------------------------


def record_count(storage: SessionStorage) -> int:
    return storage.journal_path.read_bytes().count(b"\n")


def kill_at_random_moment(
    proc: Proc, storage: SessionStorage, rng: random.Random, startup: float
) -> tuple[int, bool, str]:
    """Let ``proc`` run until a random moment, then SIGKILL it.

    A quarter of the moments fall in the start-up (loading providers,
    replaying the journal); the others a little after the process wrote
    one to eight records (a job takes two, a resume writes a few before
    its first job), so that every process makes some progress, yet not so
    much that the session ends before the test has killed it often enough,
    however fast the machine is.

    :returns: the exit status, whether the test killed the process (it may
        have ended first), and the moment chosen, for the failure report.
    """
    if rng.random() < 0.25:
        delay = rng.uniform(0.0, startup)
        moment = f"{delay:.3f} s after the start"
    else:
        more, extra = rng.randint(1, 8), rng.uniform(0.0, 0.05)
        moment = f"{extra:.3f} s after {more} more records"
        target = record_count(storage) + more
        deadline = time.monotonic() + 60
        while proc.process.poll() is None and record_count(storage) < target:
            assert time.monotonic() < deadline, f"{proc.out.stem} hangs"
            time.sleep(0.002)
        delay = time.monotonic() - proc.started + extra
    try:
        timeout = max(0.0, proc.started + delay - time.monotonic())
        return proc.wait(timeout=timeout), False, moment
    except subprocess.TimeoutExpired:
        proc.process.send_signal(signal.SIGKILL)
        return proc.wait(), True, moment


def expected_outcome(job_id: str, outcomes: dict[str, str]) -> set[str]:
    """The outcomes ``job_id`` may have, given the others' final outcomes.

    A kill turns the running job into ``crash``, and the jobs depending on
    it into ``skipped-dependency``; a crashed resource job leaves the jobs
    that require its records ``skipped-resource``.
    """
    allowed = {EXPECTED[job_id], "crash"}
    if any(outcomes.get(dep) == "crash" for dep in DEPENDS[job_id]):
        allowed.add("skipped-dependency")
    if outcomes.get("gadgets") == "crash" and job_id == "needs-g0":
        allowed.add("skipped-resource")
    if job_id == "reboot":
        allowed = {"pass"}  # noreturn: a kill while it runs is the reboot
    return allowed


@pytest.mark.slow
def test_killed_at_random_moments_the_session_always_resumes(tmp_path, provider, seed):
    rng = random.Random(seed)
    logs = tmp_path / "logs"
    logs.mkdir()
    proc = Proc.start(
        logs,
        "0-run",
        plainbox("-P", str(provider), "run", PLAN, "--non-interactive"),
    )
    # How long plainbox takes to start (imports, providers) until its
    # session exists: the start-up kill moments are scaled to it. (A kill
    # at the very moment the session appears has its own test below.)
    wait_for(
        lambda: (s := only_session()) is not None and s.journal_path.stat().st_size,
        what="the session's first record",
    )
    startup = time.monotonic() - proc.started
    storage = only_session()
    assert storage is not None
    session_id = storage.id
    before = Snapshot(b"")
    kills = self_kills = resumes = 0
    autostart = XdgAutostartStrategy().path_for(session_id)
    while True:
        if kills < KILLS:
            code, killed, moment = kill_at_random_moment(proc, storage, rng, startup)
        else:
            code, killed, moment = proc.wait(), False, "not killed"
        kills += killed
        # Shown with the seed when the test fails.
        print(f"{proc.out.stem}: {moment}: exit {code}{' (killed)' if killed else ''}")
        if code == -signal.SIGKILL:
            if not killed:
                # Nothing else kills plainbox: the noreturn job did.
                self_kills += 1
                check_reboot_prepared(storage)
            before = check_after_kill(storage, before)
            resumes += 1
            proc = Proc.start(
                logs,
                f"{resumes}-resume",
                plainbox("session", "resume", session_id, "--non-interactive"),
            )
            continue
        # It ended on its own: some jobs fail, so exit status 1.
        assert code == 1, (code, proc.stdout, proc.stderr)
        assert "error" not in proc.stderr, proc.stderr
        break

    print(f"kills: {kills}, by the noreturn job: {self_kills}, resumes: {resumes}")
    assert self_kills <= 1
    # Each killed process gets only a few jobs done, so the session lasts
    # for (nearly) all the kills; one that ended early would test little.
    assert kills >= KILLS // 2

    shown = run_cli("session", "show", session_id, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    show = json.loads(shown.stdout)
    assert show["status"] == "finished"
    assert show["warnings"] == []
    outcomes = {short(entry["id"]): entry["outcome"] for entry in show["results"]}
    # Exactly one result per job of the plan: the show lists each job once,
    # with a single attempt, and the plan is all of them.
    assert len(show["results"]) == len(outcomes)
    assert all(entry["attempts"] == 1 for entry in show["results"])
    plan_jobs = set(EXPECTED)
    if outcomes.get("gadgets") == "crash":
        # Without the resource records there are no template instances.
        plan_jobs -= set(GADGET_CHECKS)
    assert set(outcomes) == plan_jobs
    for job_id, outcome in outcomes.items():
        assert outcome in expected_outcome(job_id, outcomes), (job_id, outcome)
    crashes = [entry for entry in show["results"] if entry["outcome"] == "crash"]
    print(f"crashes: {len(crashes)}")
    assert len(crashes) <= kills
    assert all(CRASH_COMMENT in entry["comments"] for entry in crashes)
    assert outcomes["reboot"] == "pass"
    reboot = next(e for e in show["results"] if short(e["id"]) == "reboot")
    assert REBOOT_COMMENT in reboot["comments"]

    report_path = tmp_path / "report.json"
    exported = run_cli(
        "session", "export", session_id, "--report", f"json:{report_path}"
    )
    assert exported.returncode == 0, exported.stderr
    report = json.loads(report_path.read_text())
    reported = [short(row["id"]) for row in report["results"]]
    assert sorted(reported) == sorted(outcomes)
    assert {short(r["id"]): r["outcome"] for r in report["results"]} == outcomes
    assert report["summary"]["total"] == len(outcomes)
    # The resume removed the automatic resume primed before the reboot.
    assert not autostart.exists()


def check_reboot_prepared(storage: SessionStorage) -> None:
    """What the process the noreturn job killed did before the "reboot"."""
    # It died while the reboot job ran (the job's output may not have
    # reached the io-log: the job kills its reader).
    last = read_journal(storage.journal_path).records[-1]
    assert (last.kind, last.data["job"]) == ("job-started", full("reboot"))
    # The automatic resume was primed: an entry that resumes this session.
    entry = XdgAutostartStrategy().path_for(storage.id)
    assert f"session resume --auto {storage.id}" in entry.read_text()


# A kill at one exact moment: the run SIGKILLs itself at the first audit
# event (see sys.addaudithook) of a kind whose first two arguments mention
# a given text.
KILL_AT_EVENT = """
import os, signal, sys
EVENT, MATCH = sys.argv.pop(1), sys.argv.pop(1)
def kill_at(event, args):
    if event == EVENT and MATCH in repr(args[:2]):
        os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(kill_at)
from plainbox.cli.main import console_main
console_main()
"""

SMALL_RUN = (f"{NS}::small", "--non-interactive")
SMALL_UNITS = """\
id: first
_summary: First
plugin: shell
command: echo first

unit: test plan
id: small
_name: Small
include: first
"""


@pytest.mark.parametrize(
    ("event", "match", "listed"),
    [
        # The header of the session being built, in its hidden directory.
        ("os.rename", "session.json'", 0),
        # The hidden directory about to be renamed into place.
        ("os.rename", ".new'", 0),
        # The lock, just after the rename: the session is there.
        ("open", "/lock'", 1),
    ],
)
def test_killed_while_the_session_is_created_it_is_absent_or_resumable(
    toml_provider, event, match, listed
):
    provider = toml_provider(SMALL_UNITS)
    argv = [sys.executable, "-c", KILL_AT_EVENT, event, match]
    killed = subprocess.run(
        [*argv, "-P", str(provider), "run", *SMALL_RUN],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    entries = json.loads(run_cli("session", "list", "--format", "json").stdout)
    # A session half-made in hiding is not listed; once it is in place it
    # can be resumed like any session a kill left behind.
    assert len(entries) == listed
    for entry in entries:
        assert entry["status"] == "incomplete", entry
        resumed = run_cli("session", "resume", entry["id"], "--non-interactive")
        assert resumed.returncode == 0, resumed.stderr
        shown = json.loads(
            run_cli("session", "show", entry["id"], "--format", "json").stdout
        )
        assert [r["outcome"] for r in shown["results"]] == ["pass"]
    # Whatever was left behind does not stand in the way of a new run.
    again = run_cli("-P", str(provider), "run", *SMALL_RUN)
    assert again.returncode == 0, again.stderr


# -- a torn last record ------------------------------------------------------

TORN_UNITS = """\
id: alpha
_summary: Alpha
plugin: shell
command: echo alpha

id: beta
_summary: Beta fails
plugin: shell
command: echo beta; exit 1

id: gamma
_summary: Gamma
plugin: shell
command: echo gamma

id: hang
_summary: Hangs the first time, until released
plugin: shell
command:
 if [ -e "{mark}" ]; then echo again; exit 0; fi
 touch "{mark}"
 for i in $(seq 3000); do [ -e "{release}" ] && exit 0; sleep 0.01; done

unit: test plan
id: torn
_name: Torn
include:
 alpha
 beta
 gamma
 hang
"""


def journal_lines(path: Path) -> list[bytes]:
    # Without the zeros a killed writer had preallocated after its records.
    return path.read_bytes().rstrip(b"\0").splitlines(keepends=True)


@pytest.fixture
def killed_during_hang(tmp_path, toml_provider) -> SessionStorage:
    """A session SIGKILLed while its last job (``hang``) runs."""
    mark, release = tmp_path / "hang-started", tmp_path / "release"
    provider = toml_provider(TORN_UNITS.format(mark=mark, release=release))
    proc = Proc.start(
        tmp_path,
        "run",
        plainbox("-P", str(provider), "run", f"{NS}::torn", "--non-interactive"),
    )
    try:
        wait_for(mark.exists, what="the hang job")
        proc.process.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
    finally:
        release.touch()  # lets the orphaned job end
        if proc.process.poll() is None:
            proc.process.kill()
            proc.wait()
    storage = only_session()
    assert storage is not None
    return storage


def record_of(line: bytes) -> dict[str, Any]:
    return json.loads(line)  # type: ignore[no-any-return]


def test_torn_last_record_resumes_losing_only_that_record(
    seed, killed_during_hang, capsys
):
    # (seed first: it prints the seed before capsys takes over stdout.)
    original = killed_during_hang
    lines = journal_lines(original.journal_path)
    # The journal as a power loss right after gamma's result could leave it:
    # that result is not fsynced until the next job starts, so it is the
    # record that can be torn.
    assert record_of(lines[-1])["kind"] == "job-started"
    lines = lines[:-1]
    last = lines[-1]
    assert record_of(last)["kind"] == "job-finished"
    assert record_of(last)["data"]["job"] == full("gamma")
    prefix = b"".join(lines[:-1])
    kept = {record_of(line)["seq"]: line for line in lines[:-1]}
    # Both ends, the newline, the checksum, and a few seeded others.
    rng = random.Random(seed)
    size = len(last)
    offsets = {0, 1, size // 2, size - 12, size - 2, size - 1, size}
    offsets |= {rng.randrange(size) for _ in range(20)}
    for offset in sorted(offsets):
        copy = original.path.with_name(f"{original.id}-cut{offset:03d}")
        shutil.copytree(original.path, copy)
        (copy / "journal.jsonl").write_bytes(prefix + last[:offset])
        storage = SessionStorage(copy)
        intact = offset >= size - 1  # only the newline is missing, or nothing

        # In-process, through the command line: these are quick.
        code, out, err = cli(capsys, "session", "show", storage.id, "--format", "json")
        assert code == 0, (offset, err)
        shown = json.loads(out)
        results = [short(entry["id"]) for entry in shown["results"]]
        assert results == (["alpha", "beta", "gamma"] if intact else ["alpha", "beta"])
        # A cut inside the record is reported; a cut before it or after its
        # last byte leaves nothing damaged.
        damaged = 0 < offset < size - 1
        assert len(shown["warnings"]) == damaged, (offset, shown["warnings"])
        if damaged:
            assert "dropped" in shown["warnings"][0]
        # Gamma's start is still there: it was running when the power went.
        assert shown["running_job"] == (None if intact else full("gamma"))

        code, out, err = cli(
            capsys, "session", "resume", storage.id, "--non-interactive"
        )
        # beta failed: exit status 1, and no error.
        assert code == 1, (offset, out, err)
        assert "error" not in err, (offset, err)
        after = journal_lines(storage.journal_path)
        # The records before the cut are untouched, byte for byte.
        for line in after:
            seq = record_of(line)["seq"]
            if seq in kept:
                assert line == kept[seq], (offset, seq)
        results_in_journal = [
            (short(r["data"]["job"]), r["data"]["result"]["outcome"])
            for r in map(record_of, after)
            if r["kind"] == "job-finished"
        ]
        assert results_in_journal == [
            ("alpha", "pass"),
            ("beta", "fail"),
            # Without its result, gamma is the job that was running.
            ("gamma", "pass" if intact else "crash"),
            # The job that hung had no result: it runs again, and passes.
            ("hang", "pass"),
        ], offset


# -- Ctrl-C ------------------------------------------------------------------

INTERRUPTED_UNITS = """\
id: before
_summary: Before
plugin: shell
command: echo before

id: long
_summary: A long job
plugin: shell
command:
 if [ -e "{mark}" ]; then echo second attempt; exit 0; fi
 touch "{mark}"
 sleep 30

id: after
_summary: After
plugin: shell
command: echo after

unit: test plan
id: interrupted
_name: Interrupted
include:
 before
 long
 after
"""


def test_ctrl_c_exits_130_and_the_job_runs_again_on_resume(tmp_path, toml_provider):
    mark = tmp_path / "long-started"
    provider = toml_provider(INTERRUPTED_UNITS.format(mark=mark))
    run = Proc.start(
        tmp_path,
        "run",
        plainbox("-P", str(provider), "run", f"{NS}::interrupted", "--non-interactive"),
    )
    try:
        wait_for(mark.exists, what="the long job")
        run.process.send_signal(signal.SIGINT)
        assert run.wait(timeout=20) == 130, run.stderr
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.wait()
    storage = only_session()
    assert storage is not None
    assert "interrupted" in run.stderr
    assert f"Resume with: plainbox session resume {storage.id}" in run.stdout

    # The job was stopped, not crashed: no result, nothing left running.
    shown = json.loads(
        run_cli("session", "show", storage.id, "--format", "json").stdout
    )
    assert shown["status"] == "incomplete"
    assert shown["running_job"] is None
    assert [short(r["id"]) for r in shown["results"]] == ["before"]
    kinds = [
        (r.kind, r.data.get("job")) for r in read_journal(storage.journal_path).records
    ]
    assert ("job-abandoned", full("long")) in kinds

    resumed = run_cli("session", "resume", storage.id, "--non-interactive")
    assert resumed.returncode == 0, resumed.stderr
    report_path = tmp_path / "report.json"
    exported = run_cli(
        "session", "export", storage.id, "--report", f"json:{report_path}"
    )
    assert exported.returncode == 0, exported.stderr
    report = {short(r["id"]): r for r in json.loads(report_path.read_text())["results"]}
    assert {job: r["outcome"] for job, r in report.items()} == {
        "before": "pass",
        "long": "pass",
        "after": "pass",
    }
    # A real second run of the command, not a settled result.
    assert report["long"]["return_code"] == 0
    assert report["long"]["stdout"] == "second attempt\n"
    starts = [
        r.data["job"]
        for r in read_journal(storage.journal_path).records
        if r.kind == "job-started"
    ]
    assert starts.count(full("long")) == 2
