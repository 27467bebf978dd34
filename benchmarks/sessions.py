"""Time session journaling, resume and listing against the issue's targets.

Three sections, each printed with its target and PASS/FAIL:

1. Per-job journaling cost. Sessions of 100 and 2,000 shell jobs running
   ``true`` go through the real run loop (``run_test_plan`` into a
   ``SessionManager`` on a real state directory). Separately, the journal's
   bookkeeping alone: what the run loop records per job (``job-started``,
   one fsync, ``job-finished``, a header refresh when due) with no process
   spawned, so the journal's own cost is not hidden by process-spawn noise.
   Target: the per-job cost at 2,000 jobs is at most 1.3 times that at 100.
   For comparison only, a *simulation of a design*: the whole session state
   rewritten after each job (gzip-compressed JSON, atomic replace with
   fsync), the design of Checkbox's checkpoints, but not Checkbox's code.
   Its cost grows with the session, so it is run once per size.
2. Resume of a 10,000-job session. A session with 10,000 passed results is
   written through the ``SessionManager`` API (the real journal format, no
   processes run), then ``SessionManager.load_session(units, storage)`` is
   timed in a fresh process, apart from loading the provider catalog, next to
   ``plainbox session show ID --format json`` and ``plainbox session resume``
   of a 9,999-of-10,000 session up to the start of its next job.
   Target: ``load_session`` (read + replay) under 1 s.
3. ``plainbox session list`` with 100 sessions in the state directory, text
   and JSON, next to ``python -c pass`` and ``plainbox --help``.
   Target: under 0.3 s.

Every run is a fresh Python process; times inside it are taken with
``time.perf_counter`` around the calls, command lines are timed from outside
(interpreter start-up included). Sections 2 and 3 also give the CPU time
(user + system) of the same spans: on a busy machine wall time grows, CPU
time much less. The providers, state and config directories are in a
temporary directory: nothing of the user's is read or written.

Usage::

    python benchmarks/sessions.py                  # the issue's sizes, 5 runs
    python benchmarks/sessions.py --repeat 3 --quiet
    python benchmarks/sessions.py --section 3      # only `session list`
    python benchmarks/sessions.py --quick          # tiny sizes: checks it works
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any


if TYPE_CHECKING:  # mypy sees benchmarks/ as a namespace package
    from benchmarks import run_jobs
    from benchmarks import timing
    from plainbox.session.manager import SessionManager
    from plainbox.units.catalog import Catalog
    from plainbox.units.model import JobDefinition
    from plainbox.units.model import TestPlan
else:  # benchmarks/ is not a package: import the job provider writer beside us
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run_jobs
    import timing


TARGET_FLAT = 1.3  # per-job cost at the large size / at the small size
TARGET_RESUME = 1.0  # seconds, load_session of a 10,000-job session
TARGET_LIST = 0.3  # seconds, `plainbox session list` with 100 sessions


@dataclass(frozen=True)
class Sizes:
    """How big each section's sessions are."""

    small: int  # section 1
    large: int
    resume: int  # section 2
    sessions: int  # section 3: how many sessions
    session_jobs: int  # section 3: jobs in each


FULL = Sizes(small=100, large=2000, resume=10_000, sessions=100, session_jobs=100)
QUICK = Sizes(small=10, large=40, resume=200, sessions=5, session_jobs=10)

# A child process: the benchmark module imported by path, one mode run, its
# JSON printed. ``t0`` is taken first so the module import is accounted for.
_CHILD = """\
import time
t0, c0 = time.perf_counter(), time.process_time()
import json, sys
sys.path.insert(0, sys.argv[1])
import sessions
print(json.dumps(sessions.child(sys.argv[2], sys.argv[3:], t0, c0)))
"""


# --------------------------------------------------------------------------
# Building sessions (shared by the children)


def _load(plan_id: str) -> tuple[Catalog, TestPlan]:
    """The providers on ``PLAINBOX_PROVIDERPATH`` and the benchmark's plan."""
    from plainbox import paths
    from plainbox.units.catalog import load_catalog
    from plainbox.units.model import TestPlan

    catalog = load_catalog(
        paths.provider_search_path(), builtin_dir=paths.BUILTIN_PROVIDER_DIR
    )
    return catalog, catalog.resolve(plan_id, TestPlan)


def plan_jobs(catalog: Catalog) -> list[JobDefinition]:
    """The benchmark provider's jobs, in the order the run loop runs them.

    ``write_provider`` makes each dependency the job just before, so the
    order of the ids is the run order (the smoke test checks it).
    """
    jobs = [job for job in catalog.jobs if job.namespace == run_jobs.NAMESPACE]
    return sorted(jobs, key=lambda job: job.id)


def _new_manager(catalog: Catalog, plan: TestPlan) -> SessionManager:
    """A new session on disk, started the way ``plainbox run PLAN`` starts one."""
    from plainbox.cli.run_command import RunSpec
    from plainbox.session.manager import SessionManager
    from plainbox.session.state import SessionState

    state = SessionState(catalog.units)
    state.metadata.title = plan.name
    state.metadata.test_plan = plan.id
    state.metadata.app_id = "plainbox"
    # What `session resume` reads back to reload the same plan.
    state.metadata.options = RunSpec(
        targets=[plan.id], non_interactive=True
    ).to_options()
    return SessionManager.create_with_state(state)


def _record_phases(manager: SessionManager, jobs: Sequence[JobDefinition]) -> None:
    """The phase records the run loop makes for a plan with no setup or bootstrap."""
    for name, ids in (("setup", []), ("bootstrap", []), ("main", [j.id for j in jobs])):
        manager.state.record("phase", {"name": name, "jobs": ids, "mandatory": []})
        manager.write_header(durable=False)


def _record_job(
    manager: SessionManager, job: JobDefinition, *, sync: bool, refresh: bool
) -> None:
    """What the run loop records for one job of ``true``, without running it.

    The order of the calls is the controller's: the start, one fsync (which
    also covers the previous job's result), the result, a header refresh
    when one is due.
    """
    from plainbox.session.results import JobResult
    from plainbox.session.results import Outcome

    state = manager.state
    started = time.time()
    state.record(
        "job-started", {"job": job.id, "checksum": job.checksum, "started": started}
    )
    if sync:
        manager.sync()
    result = JobResult(
        job_id=job.id,
        outcome=Outcome.PASS,
        return_code=0,
        duration=0.0011,  # what `true` takes; a realistic number in the record
        started=started,
        finished=started + 0.0015,
    )
    state.set_job(job)
    state.update_job_result(job, result)
    if refresh:
        manager.refresh_header()


def build_sessions(plan_id: str, specs: Sequence[str]) -> list[str]:
    """Write sessions of the plan without running anything; their ids.

    Each spec is ``"N:finished"`` (N results, then the end of the session)
    or ``"N:incomplete"`` (N results, the rest of the plan not started).
    Nothing is fsynced per job, unlike a live run: only the speed of
    building differs, not what is on disk.
    """
    catalog, plan = _load(plan_id)
    jobs = plan_jobs(catalog)
    ids = []
    for spec in specs:
        count, _, kind = spec.partition(":")
        manager = _new_manager(catalog, plan)
        _record_phases(manager, jobs)
        for job in jobs[: int(count)]:
            _record_job(manager, job, sync=False, refresh=False)
        if kind == "finished":
            manager.state.record("session-finished", {"finished": time.time()})
        manager.close()
        ids.append(manager.storage.id)
    return ids


# --------------------------------------------------------------------------
# What the children do


def _slice_means(values: Sequence[float]) -> tuple[float, float]:
    """Mean of the first and of the last 10 % of ``values`` (at least 2 each)."""
    count = max(2, len(values) // 10)
    return statistics.fmean(values[:count]), statistics.fmean(values[-count:])


class Laps:
    """Wall and CPU time between marks: where a child's time went."""

    def __init__(self, wall: float | None = None, cpu: float | None = None) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._wall = time.perf_counter() if wall is None else wall
        self._cpu = time.process_time() if cpu is None else cpu

    def lap(self, name: str) -> None:
        """Charge the time since the last mark to ``name``."""
        wall, cpu = time.perf_counter(), time.process_time()
        self.wall[name] = wall - self._wall
        self.cpu[name] = cpu - self._cpu
        self._wall, self._cpu = wall, cpu


def child_run(plan_id: str, laps: Laps | None = None) -> dict[str, Any]:
    """Run the plan through the real run loop into a new session on disk."""
    from plainbox.execution.controller import RunOptions
    from plainbox.execution.controller import run_test_plan

    laps = laps or Laps()
    catalog, plan = _load(plan_id)
    laps.lap("load catalog")
    manager = _new_manager(catalog, plan)
    with manager:
        results = run_test_plan(
            catalog,
            plan,
            RunOptions(session_share=manager.storage.share_dir, session=manager),
        )
    laps.lap("run_test_plan")
    outcomes: dict[str, int] = {}
    for _, result in results:
        outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
    return {
        "starts": [result.started for _, result in results],
        "durations": [result.duration for _, result in results],
        "outcomes": outcomes,
        "journal_bytes": manager.storage.journal_path.stat().st_size,
        "session": manager.storage.id,
    }


def child_bookkeeping(plan_id: str, laps: Laps | None = None) -> dict[str, Any]:
    """The run loop's records for every job of the plan, timed job by job."""
    catalog, plan = _load(plan_id)
    jobs = plan_jobs(catalog)
    manager = _new_manager(catalog, plan)
    with manager:
        _record_phases(manager, jobs)
        times = []
        for job in jobs:
            begin = time.perf_counter()
            _record_job(manager, job, sync=True, refresh=True)
            times.append(time.perf_counter() - begin)
        manager.state.record("session-finished", {"finished": time.time()})
    return {
        "times": times,
        "journal_bytes": manager.storage.journal_path.stat().st_size,
        "session": manager.storage.id,
    }


def child_whole_state(
    plan_id: str, directory: str, laps: Laps | None = None
) -> dict[str, Any]:
    """A simulation of a design, not Checkbox: rewrite the whole state per job.

    After each job the session's entire state (every job's id and checksum,
    every result so far, the metadata) is serialised to JSON, gzip-compressed
    and written to a new file that atomically replaces the old one, with the
    file and its directory fsynced: one durable write per job whose size
    grows with the session.
    """
    from plainbox.session.results import JobResult
    from plainbox.session.results import Outcome
    from plainbox.session.storage import write_atomically

    catalog, plan = _load(plan_id)
    jobs = plan_jobs(catalog)
    path = Path(directory) / "session.json.gz"
    results: dict[str, list[dict[str, Any]]] = {}
    state: dict[str, Any] = {
        "version": 1,
        "metadata": {"title": plan.name, "flags": ["incomplete"], "running": None},
        "jobs": {job.id: job.checksum for job in jobs},
        "desired_job_list": [job.id for job in jobs],
        "results": results,
    }
    times = []
    for job in jobs:
        begin = time.perf_counter()
        started = time.time()
        result = JobResult(
            job_id=job.id,
            outcome=Outcome.PASS,
            return_code=0,
            duration=0.0011,
            started=started,
            finished=started + 0.0015,
        )
        results[job.id] = [result.to_record()]
        data = gzip.compress(json.dumps(state).encode("utf-8"))
        write_atomically(path, data)
        times.append(time.perf_counter() - begin)
    return {"times": times, "file_bytes": path.stat().st_size}


def child_load(
    plan_id: str, session_id: str, laps: Laps | None = None
) -> dict[str, Any]:
    """Reopen a session as ``session resume`` does, step by step."""
    from plainbox.execution.controller import session_jobs
    from plainbox.session.journal import JournalContents
    from plainbox.session.manager import SessionManager
    from plainbox.session.storage import SessionStorage
    from plainbox.session.storage import SessionStorageRepository

    laps = laps or Laps()
    catalog, plan = _load(plan_id)
    laps.lap("load catalog")
    storage = SessionStorageRepository().get(session_id)
    contents = storage.read_journal()
    laps.lap("read journal")
    manager = SessionManager.load_session(catalog.units, storage)
    laps.lap("load_session")
    manager.close()
    laps.lap("close")

    class PreRead(SessionStorage):
        """The same session, its journal already read: load_session replays only."""

        def read_journal(self) -> JournalContents:
            return contents

    manager = SessionManager.load_session(catalog.units, PreRead(storage.path))
    laps.lap("replay")
    session_jobs(catalog, plan, manager.state)
    laps.lap("session_jobs")
    manager.close()
    return {
        "units": len(catalog.units),
        "records": len(contents.records),
        "journal_bytes": storage.journal_path.stat().st_size,
        "results": len(manager.state.execution_order),
    }


def child_load_bare(session_id: str, laps: Laps | None = None) -> dict[str, Any]:
    """Replay with no units, read-only: what ``session show`` does."""
    from plainbox.session.manager import FLAG_READ_ONLY
    from plainbox.session.manager import SessionManager
    from plainbox.session.storage import SessionStorageRepository

    laps = laps or Laps()
    storage = SessionStorageRepository().get(session_id)
    manager = SessionManager.load_session([], storage, flags={FLAG_READ_ONLY})
    laps.lap("load_session, no units")
    return {"results": len(manager.state.execution_order)}


class _NextJob(Exception):
    """Raised where the resumed run would start its next job."""


def child_resume(
    plan_id: str, session_id: str, laps: Laps | None = None
) -> dict[str, Any]:
    """``session resume`` through the API, stopped as the next job starts."""
    from plainbox.execution.controller import RunOptions
    from plainbox.execution.controller import run_test_plan
    from plainbox.execution.controller import session_jobs
    from plainbox.session.manager import SessionManager
    from plainbox.session.storage import SessionStorageRepository

    laps = laps or Laps()
    catalog, plan = _load(plan_id)
    laps.lap("load catalog")
    storage = SessionStorageRepository().get(session_id)
    manager = SessionManager.load_session(catalog.units, storage)
    laps.lap("load_session")
    session_jobs(catalog, plan, manager.state)
    laps.lap("session_jobs")
    next_job: list[str] = []

    def stop(job: JobDefinition) -> None:
        next_job.append(job.id)
        raise _NextJob

    options = RunOptions(
        session_share=storage.share_dir, session=manager, on_start=stop
    )
    with contextlib.suppress(_NextJob):
        run_test_plan(catalog, plan, options)
    laps.lap("run_test_plan to next job")
    # Not closed: that would write a header for a run that did not happen;
    # the parent throws this copy of the session away.
    storage.unlock()
    return {"next_job": next_job[0] if next_job else None}


def child(
    mode: str, argv: Sequence[str], t0: float, c0: float | None = None
) -> dict[str, Any]:
    """Entry point of a child process, which started running Python at ``t0``.

    ``c0`` is the CPU time then. The result has ``phases`` (wall seconds)
    and ``cpu`` (CPU seconds) per step, ``module`` being the import of this
    script and ``import`` that of plainbox's session modules.
    """
    laps = Laps(t0, c0)
    laps.lap("module")
    import plainbox.session.manager  # noqa: F401  (timed: the import phase)

    laps.lap("import")
    handlers: dict[str, Callable[..., dict[str, Any]]] = {
        "run": child_run,
        "bookkeeping": child_bookkeeping,
        "whole-state": child_whole_state,
        "load": child_load,
        "load-bare": child_load_bare,
        "resume": child_resume,
    }
    if mode == "build":
        return {"sessions": build_sessions(argv[0], argv[1:])}
    data = handlers[mode](*argv, laps=laps)
    data["phases"], data["cpu"] = laps.wall, laps.cpu
    return data


# --------------------------------------------------------------------------
# Running children and commands


@dataclass
class Workspace:
    """One section's provider, state and config directories, and environment."""

    bench: run_jobs.BenchProvider

    @property
    def env(self) -> dict[str, str]:
        return self.bench.env

    @property
    def sessions(self) -> Path:
        return self.bench.root / "state" / "sessions"


def workspace(work: Path, jobs: int) -> Workspace:
    """A provider of ``jobs`` shell jobs, with its own state and config dirs."""
    bench = run_jobs.write_provider(work, jobs)
    bench.env["PLAINBOX_CONFIG_DIR"] = str(work / "config")
    bench.env["PLAINBOX_CACHE_DIR"] = str(work / "cache")
    return Workspace(bench)


def run_child(space: Workspace, mode: str, *argv: str) -> dict[str, Any]:
    """What one child, in a fresh Python, printed."""
    here = str(Path(__file__).resolve().parent)
    command = [sys.executable, "-c", _CHILD, here, mode, *argv]
    data: dict[str, Any] = json.loads(
        timing.run_timed(command, space.env, space.bench.root).stdout
    )
    return data


def plainbox(*arguments: str) -> list[str]:
    """``python -m plainbox ARGS`` with this Python."""
    return [sys.executable, "-m", "plainbox", *arguments]


# --------------------------------------------------------------------------
# Rows of figures


@dataclass
class Timing:
    """One timed thing over the runs."""

    name: str
    values: list[float] = field(default_factory=list)  # wall seconds
    cpu: list[float] = field(default_factory=list)  # CPU seconds, same spans
    note: str = ""

    def add(self, wall: float, cpu: float | None) -> None:
        self.values.append(wall)
        if cpu is not None:
            self.cpu.append(cpu)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def best(self) -> float:
        return min(self.values) if self.values else float("nan")

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "median": self.median,
            "min": self.best,
            "cpu": statistics.median(self.cpu) if self.cpu else None,
            "runs": len(self.values),
            "values": self.values,
            "note": self.note,
        }


@dataclass
class PerJob:
    """Per-job figures of one way of journaling at one size, over the runs."""

    name: str
    jobs: int
    per_job: list[float] = field(default_factory=list)  # ms, mean over the run
    first: list[float] = field(default_factory=list)  # ms, first 10 %
    last: list[float] = field(default_factory=list)  # ms, last 10 %
    command: list[float] = field(default_factory=list)  # ms, the command alone
    totals: list[float] = field(default_factory=list)  # s
    bytes_per_job: float = 0.0
    note: str = ""

    def summary(self) -> dict[str, Any]:
        def median(values: list[float]) -> float | None:
            return statistics.median(values) if values else None

        return {
            "name": self.name,
            "jobs": self.jobs,
            "per_job_ms": median(self.per_job),
            "first_10pct_ms": median(self.first),
            "last_10pct_ms": median(self.last),
            "command_ms": median(self.command),
            "total_s": median(self.totals),
            "runs": len(self.per_job),
            "bytes_per_job": self.bytes_per_job,
            "note": self.note,
        }


def _verdict(label: str, value: float, limit: float, unit: str) -> dict[str, Any]:
    return {
        "label": label,
        "value": value,
        "limit": limit,
        "unit": unit,
        "passed": value <= limit if unit == "x" else value < limit,
    }


# --------------------------------------------------------------------------
# Section 1: per-job cost


RUN_LOOP = "run loop: run_test_plan + SessionManager, jobs run `true`"
RUN_OVERHEAD = "  the same, minus each command's own time"
BOOKKEEPING = "journal bookkeeping alone (no process spawned)"
WHOLE_STATE = "simulated design: whole state as gzip JSON per job"


def _run_loop_figures(row: PerJob, overhead: PerJob, data: Mapping[str, Any]) -> None:
    starts = [float(value) for value in data["starts"]]
    durations = [1000 * float(value) for value in data["durations"]]
    intervals = [1000 * (b - a) for a, b in itertools.pairwise(starts)]
    first, last = _slice_means(intervals)
    first_command, last_command = _slice_means(durations)
    row.per_job.append(statistics.fmean(intervals))
    row.first.append(first)
    row.last.append(last)
    row.command.append(statistics.fmean(durations))
    row.totals.append(float(data["phases"]["run_test_plan"]))
    row.bytes_per_job = data["journal_bytes"] / len(starts)
    overhead.per_job.append(row.per_job[-1] - row.command[-1])
    overhead.first.append(first - first_command)
    overhead.last.append(last - last_command)


def _loop_figures(row: PerJob, data: Mapping[str, Any], size_key: str) -> None:
    times = [1000 * float(value) for value in data["times"]]
    first, last = _slice_means(times)
    row.per_job.append(statistics.fmean(times))
    row.first.append(first)
    row.last.append(last)
    row.totals.append(sum(times) / 1000)
    row.bytes_per_job = data[size_key] / len(times)


def section_flat(
    work: Path, sizes: Sizes, repeat: int, whole_state: bool, say: Callable[[str], None]
) -> dict[str, Any]:
    """Per-job cost at the small and the large size, the runs interleaved."""
    spaces = {n: workspace(work / f"flat-{n}", n) for n in (sizes.small, sizes.large)}
    rows: dict[tuple[str, int], PerJob] = {}
    for n in spaces:
        for name in (RUN_LOOP, RUN_OVERHEAD, BOOKKEEPING):
            rows[name, n] = PerJob(name, n)
        if whole_state:
            rows[WHOLE_STATE, n] = PerJob(WHOLE_STATE, n, note="not Checkbox's code")
    for n, space in spaces.items():  # bytecode compiled, files cached; not kept
        say(f"flat: warm-up at {n} jobs")
        run_child(space, "run", space.bench.plan_id)
        run_child(space, "bookkeeping", space.bench.plan_id)
    for index in range(repeat):
        for n, space in spaces.items():
            say(f"flat: run {index + 1} of {repeat} at {n:,} jobs")
            plan = space.bench.plan_id
            data = run_child(space, "run", plan)
            if data["outcomes"] != {"pass": n}:
                raise RuntimeError(f"the run loop did not pass {n} jobs: {data}")
            _run_loop_figures(rows[RUN_LOOP, n], rows[RUN_OVERHEAD, n], data)
            data = run_child(space, "bookkeeping", plan)
            _loop_figures(rows[BOOKKEEPING, n], data, "journal_bytes")
            if whole_state and index == 0:  # grows with the session: one run shows it
                scratch = space.bench.root / "whole-state"
                scratch.mkdir(exist_ok=True)
                data = run_child(space, "whole-state", plan, str(scratch))
                _loop_figures(rows[WHOLE_STATE, n], data, "file_bytes")
            shutil.rmtree(space.sessions, ignore_errors=True)  # keep the disk small
    summaries = [row.summary() for row in rows.values()]
    by_name = {(s["name"], s["jobs"]): s for s in summaries}
    for summary in summaries:
        small = by_name[summary["name"], sizes.small]["per_job_ms"]
        summary["ratio"] = summary["per_job_ms"] / small if small else None
    label = f"per-job cost at {sizes.large:,} jobs <= {TARGET_FLAT}x that at {sizes.small:,}"
    targets = [
        _verdict(
            f"{label}: run loop, beside the command",
            by_name[RUN_OVERHEAD, sizes.large]["ratio"],
            TARGET_FLAT,
            "x",
        ),
        _verdict(
            f"{label}: journal bookkeeping alone",
            by_name[BOOKKEEPING, sizes.large]["ratio"],
            TARGET_FLAT,
            "x",
        ),
    ]
    return {
        "rows": sorted(summaries, key=lambda s: s["jobs"]),
        "targets": targets,
    }


# --------------------------------------------------------------------------
# Section 2: resume


def _first_new_start(journal: Path, after: int) -> float | None:
    """When the first ``job-started`` record past record ``after`` says it started."""
    with journal.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            if number <= after or b'"kind":"job-started"' not in line:
                continue
            record = json.loads(line)
            return float(record["data"]["started"])
    return None


RESUME_STEPS = {
    "import": "import plainbox (after interpreter start-up)",
    "catalog": "load catalog",
    "read": "read + verify the journal alone",
    "load_session": "SessionManager.load_session(units, storage)",
    "replay": "  replay alone (load_session, journal already read)",
    "session_jobs": "session_jobs(catalog, plan, state)",
    "bare": "load_session([], storage, read-only), as `session show`",
    "api": "API resume: imports to the next job's start",
    "api_plan": "  of which run_test_plan up to the next job",
    "show": "python -m plainbox session show ID --format json",
    "cli_next": "python -m plainbox session resume ID: launch to next job",
    "cli_all": "python -m plainbox session resume ID: whole command",
}


def section_resume(
    work: Path, sizes: Sizes, repeat: int, say: Callable[[str], None]
) -> dict[str, Any]:
    """Reopening a session of ``sizes.resume`` results, several ways."""
    n = sizes.resume
    space = workspace(work / "resume", n)
    plan = space.bench.plan_id
    say(f"resume: writing sessions of {n:,} and {n - 1:,} results")
    built = run_child(space, "build", plan, f"{n}:finished", f"{n - 1}:incomplete")
    finished, incomplete = built["sessions"]
    pristine = work / "resume-pristine"
    shutil.copytree(space.sessions / incomplete, pristine / incomplete)
    with (pristine / incomplete / "journal.jsonl").open("rb") as stream:
        records_before = sum(1 for _ in stream)

    def fresh_copy() -> Path:
        target = space.sessions / incomplete
        shutil.rmtree(target)
        shutil.copytree(pristine / incomplete, target)
        return Path(target)

    rows = {key: Timing(label) for key, label in RESUME_STEPS.items()}
    show = plainbox("session", "show", finished, "--format", "json")
    resume = plainbox("session", "resume", incomplete, "--non-interactive")
    facts: dict[str, Any] = {}
    for index in range(repeat + 1):
        keep = index > 0  # the first round is a warm-up, not recorded
        say(f"resume: run {index} of {repeat}" if keep else "resume: warm-up")
        load = run_child(space, "load", plan, finished)
        bare = run_child(space, "load-bare", finished)
        shown = timing.run_timed(show, space.env, space.bench.root)
        fresh_copy()
        api = run_child(space, "resume", plan, incomplete)
        target = fresh_copy()
        resumed = timing.run_timed(resume, space.env, space.bench.root)
        next_start = _first_new_start(target / "journal.jsonl", records_before)
        header = json.loads((target / "session.json").read_text(encoding="utf-8"))
        if len(json.loads(shown.stdout)["results"]) != n or load["results"] != n:
            raise RuntimeError("the finished session did not replay every result")
        if api["next_job"] is None or next_start is None:
            raise RuntimeError("the resumed session did not go on with a job")
        if "incomplete" in header["flags"] or header["progress"]["done"] != n:
            raise RuntimeError(f"`session resume` did not finish the session: {header}")
        if not keep:
            facts = {
                "units": load["units"],
                "records": load["records"],
                "journal_bytes": load["journal_bytes"],
                "next_job": api["next_job"],
            }
            continue
        wall, cpu = load["phases"], load["cpu"]
        spans: dict[str, tuple[float, float | None]] = {
            key: (wall[step], cpu[step])
            for key, step in (
                ("import", "import"),
                ("catalog", "load catalog"),
                ("read", "read journal"),
                ("load_session", "load_session"),
                ("replay", "replay"),
                ("session_jobs", "session_jobs"),
            )
        }
        step = "load_session, no units"
        spans["bare"] = (bare["phases"][step], bare["cpu"][step])
        spans["api"] = (
            sum(v for k, v in api["phases"].items() if k != "module"),
            sum(v for k, v in api["cpu"].items() if k != "module"),
        )
        step = "run_test_plan to next job"
        spans["api_plan"] = (api["phases"][step], api["cpu"][step])
        spans["show"] = (shown.wall, shown.cpu)
        spans["cli_next"] = (next_start - resumed.launched, None)
        spans["cli_all"] = (resumed.wall, resumed.cpu)
        for key, (seconds, cpu_seconds) in spans.items():
            rows[key].add(seconds, cpu_seconds)
    rows["catalog"].note = f"{facts['units']:,} units"
    megabytes = facts["journal_bytes"] / 1e6
    rows["read"].note = f"{facts['records']:,} records, {megabytes:.1f} MB"
    rows["load_session"].note = "target"
    rows["api"].note = "interpreter start-up not included"
    rows["cli_all"].note = f"runs the last job, writes a report of {n:,} results"
    load_session = rows["load_session"].median
    return {
        "jobs": n,
        "facts": facts,
        "rows": [row.summary() for row in rows.values()],
        "targets": [
            _verdict(
                f"resume (load_session) of {n:,} results < {TARGET_RESUME:g} s",
                load_session,
                TARGET_RESUME,
                "s",
            )
        ],
    }


# --------------------------------------------------------------------------
# Section 3: session list


def section_list(
    work: Path, sizes: Sizes, repeat: int, say: Callable[[str], None]
) -> dict[str, Any]:
    """``session list`` over ``sizes.sessions`` sessions, with start-up for scale."""
    space = workspace(work / "list", sizes.session_jobs)
    plan = space.bench.plan_id
    n, jobs = sizes.sessions, sizes.session_jobs
    # Three in four finished; the rest stopped part of the way through.
    specs = [
        f"{(i * 7) % jobs}:incomplete" if i % 4 == 3 else f"{jobs}:finished"
        for i in range(n)
    ]
    say(f"list: writing {n} sessions of {jobs} jobs")
    run_child(space, "build", plan, *specs)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -m plainbox --help": plainbox("--help"),
        "python -m plainbox session list": plainbox("session", "list"),
        "python -m plainbox session list --format json": plainbox(
            "session", "list", "--format", "json"
        ),
    }
    rows = {name: Timing(name) for name in commands}
    for index in range(repeat + 1):
        keep = index > 0
        say(f"list: run {index} of {repeat}" if keep else "list: warm-up")
        for name, command in commands.items():
            done = timing.run_timed(command, space.env, space.bench.root)
            if "--format" in command and len(json.loads(done.stdout)) != n:
                raise RuntimeError(f"`session list` did not list {n} sessions")
            if keep:
                rows[name].add(done.wall, done.cpu)
    rows["python -m plainbox session list"].note = f"{n} sessions"
    rows["python -m plainbox session list --format json"].note = f"{n} sessions"
    targets = [
        _verdict(
            f"session list, {n} sessions, {how} < {TARGET_LIST:g} s",
            rows[name].median,
            TARGET_LIST,
            "s",
        )
        for how, name in (
            ("text", "python -m plainbox session list"),
            ("json", "python -m plainbox session list --format json"),
        )
    ]
    return {
        "sessions": n,
        "rows": [row.summary() for row in rows.values()],
        "targets": targets,
    }


# --------------------------------------------------------------------------
# Putting it together


def _filesystem(path: Path) -> str:
    """The type of the filesystem holding ``path`` (from /proc/mounts)."""
    best, kind = "", "unknown"
    try:
        lines = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return kind
    resolved = str(path.resolve())
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = parts[1]
        inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, kind = mount, parts[2]
    return kind


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Every section; the report as plain data."""
    say = _progress(args.quiet)
    sizes = QUICK if args.quick else FULL
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": _load_average(),
        "filesystem": _filesystem(work),
        "work": str(work),
        "repeat": args.repeat,
        "quick": args.quick,
    }
    if 1 in args.section:
        whole_state = not args.no_whole_state
        report["flat"] = section_flat(work, sizes, args.repeat, whole_state, say)
    if 2 in args.section:
        report["resume"] = section_resume(work, sizes, args.repeat, say)
    if 3 in args.section:
        report["list"] = section_list(work, sizes, args.repeat, say)
    report["load_average_end"] = _load_average()
    return report


def _load_average() -> float:
    """The 1-minute load average: other work on the machine skews wall times."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else float("nan")


def _progress(quiet: bool) -> Callable[[str], None]:
    def say(text: str) -> None:
        if not quiet:
            print(f"... {text}", file=sys.stderr, flush=True)

    return say


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _verdict_line(target: Mapping[str, Any]) -> str:
    unit = target["unit"]
    value = f"{target['value']:.2f}x" if unit == "x" else f"{target['value']:.3f} s"
    return f"  {target['label']}: {value}  {'PASS' if target['passed'] else 'FAIL'}"


def format_table(report: Mapping[str, Any]) -> str:
    """The report as plain-text tables, one per section, each with its targets."""
    lines = [
        f"Python {report['python']}, {report['cpus']} CPUs, load average "
        f"{report['load_average']} at start and {report['load_average_end']} at "
        f"the end; work directory on {report['filesystem']}; median of "
        f"{report['repeat']} runs, each a fresh process"
        + ("; QUICK sizes, not the issue's" if report["quick"] else "")
    ]
    if "flat" in report:
        lines += ["", *_flat_table(report["flat"])]
    if "resume" in report:
        resume = report["resume"]
        lines += [
            "",
            f"2. Resume of a {resume['jobs']:,}-job session (fresh processes; "
            "cpu: user + system seconds over the same span)",
            *_timings(resume["rows"]),
            *(_verdict_line(t) for t in resume["targets"]),
        ]
    if "list" in report:
        listing = report["list"]
        lines += [
            "",
            f"3. session list with {listing['sessions']} sessions",
            *_timings(listing["rows"]),
            *(_verdict_line(t) for t in listing["targets"]),
        ]
    return "\n".join(lines)


def _flat_table(section: Mapping[str, Any]) -> list[str]:
    table: list[tuple[str, ...]] = [
        (
            "jobs",
            "how",
            "ms/job",
            "first 10%",
            "last 10%",
            "vs small",
            "B/job",
            "total",
            "runs",
        )
    ]
    for row in section["rows"]:
        ratio = row["ratio"]
        table.append(
            (
                f"{row['jobs']:,}",
                row["name"] + (f" ({row['note']})" if row["note"] else ""),
                _ms(row["per_job_ms"]),
                _ms(row["first_10pct_ms"]),
                _ms(row["last_10pct_ms"]),
                "-" if ratio is None else f"{ratio:.2f}x",
                f"{row['bytes_per_job']:,.0f}" if row["bytes_per_job"] else "",
                f"{row['total_s']:.3f} s" if row["total_s"] is not None else "",
                str(row["runs"]),
            )
        )
    return [
        "1. Per-job journaling cost (ms per job: mean over the whole run; "
        "first/last 10 % of its jobs)",
        *timing.align(table, {1}),
        "B/job: bytes on disk per job (the journal; for the simulation, the "
        "last state file)",
        *(_verdict_line(t) for t in section["targets"]),
    ]


def _timings(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    table: list[tuple[str, ...]] = [("step", "median", "min", "cpu", "runs", "")]
    for row in rows:
        table.append(
            (
                row["name"],
                f"{row['median']:.3f} s",
                f"{row['min']:.3f} s",
                "-" if row["cpu"] is None else f"{row['cpu']:.3f} s",
                str(row["runs"]),
                row["note"],
            )
        )
    return timing.align(table, {0, 5})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, to check the script works"
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="runs of each (5; 1 with --quick)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--section",
        type=int,
        action="append",
        choices=(1, 2, 3),
        help="run only this section (repeatable; default: all three)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--no-whole-state",
        action="store_true",
        help="leave out the simulated whole-state checkpoint design",
    )
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 5
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.section = sorted(set(args.section or (1, 2, 3)))
    with tempfile.TemporaryDirectory(prefix="plainbox-bench-sessions-") as work:
        report = run(args, Path(work))
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
