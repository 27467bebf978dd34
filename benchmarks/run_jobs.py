"""Time how much plainbox adds to running jobs, next to a plain Python loop.

For each size in ``--jobs`` (100 and 1,000 by default) a provider is written
into a temporary directory: ``provider.toml`` and ``units/jobs.pxu`` with N
shell jobs whose command is ``true`` (every tenth depends on the job before
it) and a test plan that includes them all. Then, ``--repeat`` times, each
in a fresh Python process and interleaved so that a drift in machine load
hits all three alike:

loop
    ``subprocess.run(["bash", "-c", "true"])`` N times: what spawning the
    commands costs with no framework at all.
plainbox run
    ``plainbox run PLAN --non-interactive --report json:PATH``, with
    ``PLAINBOX_PROVIDERPATH`` and ``PLAINBOX_STATE_DIR`` pointing into the
    temporary directory so no other provider loads and no session is left
    behind. What a user waits for: start-up, loading, the jobs, the report.
API
    ``load_catalog`` and ``run_test_plan`` called from Python, timed phase by
    phase: separates the run loop from the command line and report writing.
plainbox run without fsync (with ``--no-sync``)
    The same command with ``os.fsync`` and ``os.fdatasync`` replaced by
    no-ops (a ``sitecustomize`` module on ``PYTHONPATH``): what the per-job
    durability barrier of the journal costs. For comparison only; plainbox
    itself has no such mode.
runner (with ``--runner``)
    ``run_command`` N times on a ``true`` job, with the session helpers a run
    uses (``EnvironmentBuilder``, ``JobDirectories``): the runner alone,
    without the controller, the journal or progress output.

Every figure is wall time measured from outside the child process, so
interpreter start-up is included for all three. The per-job cost at the start
and at the end of a session comes from the ``started`` times of the results
(start-to-start intervals over the first and the last 10 % of the jobs): if
plainbox did more work per job as its session grew, the second would be larger.

Usage::

    python benchmarks/run_jobs.py                    # 100 and 1,000 jobs
    python benchmarks/run_jobs.py --jobs 1000 --repeat 5 --json
    python benchmarks/run_jobs.py --jobs 1000 --profile 25   # + cProfile of the API run
    python benchmarks/run_jobs.py --jobs 1000 --runner       # + the runner alone
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any


if TYPE_CHECKING:  # mypy sees benchmarks/ as a namespace package
    from benchmarks import timing
else:  # benchmarks/ is not a package: import the shared helpers beside us
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import timing


TARGET_RATIO = 1.5  # plainbox run / plain loop
TARGET_JOBS = 1000
NAMESPACE = "io.plainbox.bench.runjobs"
PLAN_PARTIAL_ID = "run-jobs"
PLAN_ID = f"{NAMESPACE}::{PLAN_PARTIAL_ID}"
DEPENDS_EVERY = 10  # job i (i % 10 == 0) depends on job i - 1

# The baseline, exactly as a user would write it. Prints nothing: the time is
# taken from outside, as for plainbox.
_LOOP_CHILD = """\
import subprocess, sys
for _ in range(int(sys.argv[1])):
    subprocess.run(["bash", "-c", "true"])
"""

# Drives the Python API; the phases are timed inside, the total outside.
_API_CHILD = """\
import time
t0 = time.perf_counter()
import json, sys
sys.path.insert(0, sys.argv[1])
import run_jobs
print(json.dumps(run_jobs.api_run(sys.argv[2], t0)))
"""

# Drives the runner alone; timed from outside, like the loop.
_RUNNER_CHILD = """\
import sys
sys.path.insert(0, sys.argv[1])
import run_jobs
run_jobs.runner_run(int(sys.argv[2]))
"""


# --------------------------------------------------------------------------
# The provider


@dataclass(frozen=True)
class BenchProvider:
    """A generated provider and the environment that loads only it."""

    root: Path  # the work directory of one size
    provider_dir: Path
    jobs: int
    plan_id: str
    env: dict[str, str]


def job_id(index: int) -> str:
    """The partial id of the job at ``index`` (1-based)."""
    return f"job-{index:05d}"


def write_provider(work: Path, jobs: int) -> BenchProvider:
    """Write a provider of ``jobs`` shell jobs running ``true`` under ``work``.

    ``work/providers/run-jobs`` holds the provider, ``work/state`` is the state
    directory; ``env`` is the process environment with both set.
    """
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    provider_dir = work / "providers" / "run-jobs"
    units = provider_dir / "units"
    units.mkdir(parents=True, exist_ok=True)
    (provider_dir / "provider.toml").write_text(
        "[provider]\n"
        'name = "plainbox-provider-bench-run-jobs"\n'
        f'namespace = "{NAMESPACE}"\n'
        'version = "1.0.0"\n'
        f'description = "{jobs} shell jobs running true, for benchmarks/run_jobs.py"\n',
        encoding="utf-8",
    )
    chunks: list[str] = []
    for index in range(1, jobs + 1):
        lines = [
            f"id: {job_id(index)}",
            f"_summary: Benchmark job {index} of {jobs}",
            "plugin: shell",
            "command: true",
            "estimated_duration: 0.01",
        ]
        if index > 1 and index % DEPENDS_EVERY == 0:
            lines.append(f"depends: {job_id(index - 1)}")
        chunks.append("\n".join(lines) + "\n")
    plan = [
        "unit: test plan",
        f"id: {PLAN_PARTIAL_ID}",
        f"_name: Run {jobs} jobs that do nothing",
        "include:",
        *(f" {job_id(index)}" for index in range(1, jobs + 1)),
    ]
    chunks.append("\n".join(plan) + "\n")
    (units / "jobs.pxu").write_text("\n".join(chunks), encoding="utf-8")
    state = work / "state"
    state.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PLAINBOX_PROVIDERPATH"] = str(work / "providers")
    env["PLAINBOX_STATE_DIR"] = str(state)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return BenchProvider(work, provider_dir, jobs, PLAN_ID, env)


# --------------------------------------------------------------------------
# Per-job times from results


@dataclass(frozen=True)
class Slices:
    """Mean time per job over the first and the last 10 % of a run, in ms.

    ``*_interval`` is start-to-start (everything plainbox does per job plus the
    command); ``*_command`` is start-to-finish of the command alone, when the
    results say when a job finished (or how long it took).
    """

    count: int  # jobs in each slice
    first_interval: float
    last_interval: float
    first_command: float | None = None
    last_command: float | None = None


def _number(record: Mapping[str, Any], *names: str) -> float | None:
    """The first of ``names`` holding a time: epoch seconds or ISO 8601 text."""
    for name in names:
        value = record.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            text = value[:-1] + "+00:00" if value.endswith("Z") else value
            try:
                moment = datetime.datetime.fromisoformat(text)
            except ValueError:
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.timezone.utc)
            return moment.timestamp()
    return None


def job_times(
    results: Sequence[Mapping[str, Any]],
) -> tuple[list[float], list[float | None]] | None:
    """Start and finish times (epoch seconds) of report results, in run order.

    Reads ``started_at``/``started`` and ``finished_at``/``finished`` (epoch
    seconds or ISO 8601); when there is no finish time, ``started + duration``.
    None when a result has no start time.
    """
    starts: list[float] = []
    finishes: list[float | None] = []
    for record in results:
        start = _number(record, "started_at", "started")
        if start is None:
            return None
        finish = _number(record, "finished_at", "finished")
        duration = _number(record, "duration")
        if finish is None and duration is not None:
            finish = start + duration
        starts.append(start)
        finishes.append(finish)
    return starts, finishes


def slices(starts: Sequence[float], finishes: Sequence[float | None]) -> Slices | None:
    """Per-job times over the first and last 10 % of the jobs (at least 2 jobs each)."""
    total = len(starts)
    count = max(2, total // 10)
    if total < 2 * count + 1:
        return None
    intervals = [b - a for a, b in itertools.pairwise(starts)]

    def command(lo: int, hi: int) -> float | None:
        spans = [
            finish - start
            for start, finish in zip(starts[lo:hi], finishes[lo:hi], strict=True)
            if finish is not None
        ]
        return 1000 * statistics.fmean(spans) if len(spans) == hi - lo else None

    return Slices(
        count=count,
        first_interval=1000 * statistics.fmean(intervals[:count]),
        last_interval=1000 * statistics.fmean(intervals[-count:]),
        first_command=command(0, count),
        last_command=command(total - count, total),
    )


# --------------------------------------------------------------------------
# The three measurements (each one run in a fresh process)


@dataclass
class Run:
    """One timed run: wall time from outside, plus what the child reported."""

    wall: float
    outcomes: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    slices: Slices | None = None


def _child(
    command: Sequence[str], env: Mapping[str, str], cwd: Path
) -> tuple[float, float, str]:
    """Run a child to completion: wall time, when it was started (epoch), stdout."""
    done = timing.run_timed(command, env, cwd)
    return done.wall, done.launched, done.stdout


def plainbox_command() -> list[str]:
    """The ``plainbox`` console script next to this Python, else ``-m plainbox``."""
    script = Path(sys.executable).parent / "plainbox"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "plainbox"]


def time_loop(bench: BenchProvider) -> Run:
    """A fresh Python running ``subprocess.run(["bash", "-c", "true"])`` N times."""
    wall, _, _ = _child(
        [sys.executable, "-c", _LOOP_CHILD, str(bench.jobs)], bench.env, bench.root
    )
    return Run(wall)


def outcome_counts(results: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many results have each outcome."""
    counts: dict[str, int] = {}
    for record in results:
        outcome = str(record.get("outcome"))
        counts[outcome] = counts.get(outcome, 0) + 1
    return dict(sorted(counts.items()))


# Loaded by the child of the --no-sync row: every fsync becomes a no-op.
_NO_SYNC_SITECUSTOMIZE = """\
import os
os.fsync = os.fdatasync = lambda fd: None
"""


def without_sync(bench: BenchProvider) -> BenchProvider:
    """``bench`` with an environment in which Python children never fsync."""
    directory = bench.root / "no-sync"
    directory.mkdir(exist_ok=True)
    (directory / "sitecustomize.py").write_text(
        _NO_SYNC_SITECUSTOMIZE, encoding="utf-8"
    )
    env = dict(bench.env)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(directory), env.get("PYTHONPATH")])
    )
    return BenchProvider(bench.root, bench.provider_dir, bench.jobs, bench.plan_id, env)


def time_cli(bench: BenchProvider, report: Path) -> tuple[Run, dict[str, Any]]:
    """``plainbox run PLAN --non-interactive --report json:REPORT``; also the report."""
    report.unlink(missing_ok=True)
    command = [
        *plainbox_command(),
        "run",
        bench.plan_id,
        "--non-interactive",
        "--report",
        f"json:{report}",
    ]
    wall, launched, _ = _child(command, bench.env, bench.root)
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    results = data.get("results", [])
    run = Run(wall, outcome_counts(results))
    times = job_times(results)
    if times is not None:
        run.slices = slices(*times)
        # Launch to the first job's start: start-up, loading, planning; the
        # first start to the last end: the jobs; then the report and exit.
        starts, finishes = times
        end = finishes[-1] if finishes[-1] is not None else starts[-1]
        run.phases["1 before jobs"] = starts[0] - launched
        run.phases["2 jobs"] = end - starts[0]
        run.phases["3 after jobs"] = launched + wall - end
    return run, data


def api_run(plan_id: str, t0: float | None = None) -> dict[str, Any]:
    """Load the providers on the search path and run a plan through the Python API.

    What the API child calls (``PLAINBOX_*`` variables already set); returns
    phase times in seconds (``import`` counted from ``t0`` when given) and
    the outcome, start and finish time of every result. No io-logs are
    written (``RunOptions.io_log_dir`` is left unset), unlike ``plainbox run``.
    """
    start = time.perf_counter() if t0 is None else t0
    from plainbox import paths
    from plainbox.execution.controller import RunOptions
    from plainbox.execution.controller import run_test_plan
    from plainbox.units.catalog import load_catalog
    from plainbox.units.model import TestPlan

    imported = time.perf_counter()
    catalog = load_catalog(
        paths.provider_search_path(), builtin_dir=paths.BUILTIN_PROVIDER_DIR
    )
    plan = catalog.resolve(plan_id, TestPlan)
    loaded = time.perf_counter()
    loaded_epoch = time.time()
    with tempfile.TemporaryDirectory(prefix="share-", dir=paths.state_dir()) as share:
        results = run_test_plan(catalog, plan, RunOptions(session_share=Path(share)))
        ran = time.perf_counter()
        ran_epoch = time.time()
    phases = {
        "1 import": imported - start,
        "2 load": loaded - imported,
        "3 run_test_plan": ran - loaded,
    }
    starts = [r.started for _, r in results if r.started is not None]
    if results and len(starts) == len(results):
        last = results[-1][1]
        end = last.finished or starts[-1] + last.duration
        phases["3a before first job"] = starts[0] - loaded_epoch
        phases["3b jobs"] = end - starts[0]
        phases["3c after last job"] = ran_epoch - end
    return {
        "phases": phases,
        "results": [
            {
                "id": job.id,
                "outcome": result.outcome.value,
                "started": result.started,
                "finished": result.finished,
                "duration": result.duration,
            }
            for job, result in results
        ],
    }


def runner_run(jobs: int) -> None:
    """Run a ``true`` job ``jobs`` times with ``run_command``, as a session would.

    What the runner child calls: one ``EnvironmentBuilder`` and one
    ``JobDirectories`` for all the commands, as ``run_test_plan`` uses them.
    """
    from plainbox.execution.runner import EnvironmentBuilder
    from plainbox.execution.runner import JobDirectories
    from plainbox.execution.runner import run_command
    from plainbox.units.loader import load_record
    from plainbox.units.model import JobDefinition
    from plainbox.units.pxu import parse_pxu

    (record,), _ = parse_pxu("id: true\nplugin: shell\ncommand: true\n", "<bench>")
    job, _ = load_record(record, namespace=NAMESPACE, provider="bench")
    assert isinstance(job, JobDefinition)
    with (
        tempfile.TemporaryDirectory(prefix="share-") as share,
        JobDirectories() as directories,
    ):
        environments = EnvironmentBuilder([], session_share=Path(share))
        for _ in range(jobs):
            done = run_command(job, environments.build(job), directories=directories)
            if done.return_code != 0:
                raise RuntimeError(f"true failed: {done.stderr!r}")


def time_runner(bench: BenchProvider) -> Run:
    """``runner_run`` in a fresh Python: the runner without the run loop."""
    here = str(Path(__file__).resolve().parent)
    wall, _, _ = _child(
        [sys.executable, "-c", _RUNNER_CHILD, here, str(bench.jobs)],
        bench.env,
        bench.root,
    )
    return Run(wall, {"pass": bench.jobs})


def time_api(bench: BenchProvider) -> Run:
    """``api_run`` in a fresh Python; the phases as it timed them."""
    here = str(Path(__file__).resolve().parent)
    wall, _, stdout = _child(
        [sys.executable, "-c", _API_CHILD, here, bench.plan_id], bench.env, bench.root
    )
    data = json.loads(stdout)
    run = Run(wall, outcome_counts(data["results"]), dict(data["phases"]))
    times = job_times(data["results"])
    if times is not None:
        run.slices = slices(*times)
    return run


# --------------------------------------------------------------------------
# Putting it together


def _median(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


@dataclass
class Row:
    """One way of running N jobs, over all repeats."""

    name: str
    jobs: int
    runs: list[Run] = field(default_factory=list)

    @property
    def walls(self) -> list[float]:
        return [run.wall for run in self.runs]

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    def summary(self, loop: float) -> dict[str, Any]:
        """Medians over the runs; ``ratio`` is the median over ``loop``."""
        names = sorted({name for run in self.runs for name in run.phases})
        cuts = [run.slices for run in self.runs]
        return {
            "name": self.name,
            "jobs": self.jobs,
            "times": self.walls,
            "median": self.median,
            "min": min(self.walls),
            "per_job_ms": 1000 * self.median / self.jobs,
            "ratio": self.median / loop,
            "outcomes": self.runs[-1].outcomes if self.runs else {},
            "phases": {
                name: _median([run.phases.get(name) for run in self.runs])
                for name in names
            },
            "first_10pct_ms": _median([c.first_interval if c else None for c in cuts]),
            "last_10pct_ms": _median([c.last_interval if c else None for c in cuts]),
            "first_10pct_command_ms": _median(
                [c.first_command if c else None for c in cuts]
            ),
            "last_10pct_command_ms": _median(
                [c.last_command if c else None for c in cuts]
            ),
            "slices": [asdict(run.slices) if run.slices else None for run in self.runs],
        }


LOOP = "plain loop: subprocess.run(bash -c true)"
CLI = "plainbox run --report json"
API = "plainbox API: run_test_plan"
RUNNER = "plainbox runner: run_command"
NO_SYNC = "plainbox run, fsync a no-op"


def measure(
    bench: BenchProvider,
    repeat: int,
    *,
    warm_up: bool = True,
    say: Callable[[str], None] = lambda text: None,
    runner: bool = False,
    no_sync: bool = False,
) -> list[Row]:
    """Time the loop, ``plainbox run`` and the API ``repeat`` times each, interleaved.

    With ``runner``, the runner alone as well; with ``no_sync``, ``plainbox
    run`` with fsync made a no-op (rows after the first three, in that order).
    """
    report = bench.root / "report.json"
    timers: list[tuple[str, Callable[[], Run]]] = [
        (LOOP, lambda: time_loop(bench)),
        (CLI, lambda: time_cli(bench, report)[0]),
        (API, lambda: time_api(bench)),
    ]
    if runner:
        timers.append((RUNNER, lambda: time_runner(bench)))
    if no_sync:
        unsynced = without_sync(bench)
        timers.append((NO_SYNC, lambda: time_cli(unsynced, report)[0]))
    rows = [Row(name, bench.jobs) for name, _ in timers]
    if warm_up:  # bytecode compiled, files in the page cache; not recorded
        say(f"{bench.jobs} jobs: warm-up")
        for _, timer in timers:
            timer()
    for index in range(repeat):
        say(f"{bench.jobs} jobs: run {index + 1} of {repeat}")
        for row, (_, timer) in zip(rows, timers, strict=True):
            row.runs.append(timer())
    return rows


def profile_api(bench: BenchProvider, top: int) -> str:
    """cProfile of loading and running the plan in this process; the top entries."""
    import cProfile
    import io
    import pstats

    saved = {key: os.environ.get(key) for key in bench.env}
    os.environ.update(bench.env)
    try:
        api_run(bench.plan_id)  # imports and caches out of the picture
        profiler = cProfile.Profile()
        profiler.enable()
        api_run(bench.plan_id)
        profiler.disable()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Measure every size; the report as plain data."""
    say = _progress(args.quiet)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    sizes: list[dict[str, Any]] = []
    benches: dict[int, BenchProvider] = {}
    for position, jobs in enumerate(args.jobs):
        bench = write_provider(work / f"n{jobs}", jobs)
        benches[jobs] = bench
        rows = measure(
            bench,
            args.repeat,
            warm_up=position == 0,
            say=say,
            runner=getattr(args, "runner", False),
            no_sync=getattr(args, "no_sync", False),
        )
        loop = rows[0].median
        sizes.append({"jobs": jobs, "rows": [row.summary(loop) for row in rows]})
    target: dict[str, Any] = {"jobs": TARGET_JOBS, "limit": TARGET_RATIO}
    at_target = [s for s in sizes if s["jobs"] == TARGET_JOBS]
    if at_target:
        ratio = at_target[0]["rows"][1]["ratio"]
        target.update(ratio=ratio, passed=ratio <= TARGET_RATIO)
    else:
        target.update(ratio=None, passed=None)
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": round(load, 2),
        "repeat": args.repeat,
        "plainbox": plainbox_command(),
        "sizes": sizes,
        "target": target,
    }
    if args.profile:
        jobs = max(benches)
        say(f"{jobs} jobs: profiling the API run")
        report["profile"] = profile_api(benches[jobs], args.profile)
    return report


def _progress(quiet: bool) -> Callable[[str], None]:
    def say(text: str) -> None:
        if not quiet:
            print(f"... {text}", file=sys.stderr, flush=True)

    return say


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_table(report: Mapping[str, Any]) -> str:
    """The report as aligned plain-text columns."""
    header = (
        "jobs",
        "how",
        "median",
        "min",
        "ms/job",
        "ratio",
        "first 10%",
        "last 10%",
    )
    table: list[tuple[str, ...]] = [header]
    notes: list[str] = []
    for size in report["sizes"]:
        for row in size["rows"]:
            table.append(
                (
                    f"{size['jobs']:,}",
                    row["name"],
                    f"{row['median']:.3f} s",
                    f"{row['min']:.3f} s",
                    f"{row['per_job_ms']:.2f}",
                    f"{row['ratio']:.2f}x",
                    _ms(row["first_10pct_ms"]),
                    _ms(row["last_10pct_ms"]),
                )
            )
            if row["name"] not in {LOOP, RUNNER}:
                phases = ", ".join(
                    f"{name} {value:.3f} s"
                    for name, value in row["phases"].items()
                    if value is not None
                )
                commands = ""
                if row["first_10pct_command_ms"] is not None:
                    commands = (
                        f"; command alone {_ms(row['first_10pct_command_ms'])} -> "
                        f"{_ms(row['last_10pct_command_ms'])} ms/job"
                    )
                outcomes = ", ".join(f"{n} {o}" for o, n in row["outcomes"].items())
                notes.append(
                    f"  {size['jobs']:>5,} {row['name']}: {phases}{commands}; {outcomes}"
                )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    left = {1}
    lines = [
        f"Python {report['python']}, {report['cpus']} CPUs, load average "
        f"{report['load_average']} at start; median of {report['repeat']} runs, "
        "each a fresh process timed from outside (interpreter start included)",
        "ms/job: median / jobs; first/last 10%: ms between job starts "
        "(from the results) over the first and last 10 % of the jobs",
    ]
    for index, line in enumerate(table):
        cells = [
            cell.ljust(widths[i]) if i in left else cell.rjust(widths[i])
            for i, cell in enumerate(line)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append("phases (median):")
    lines.extend(notes)
    target = report["target"]
    if target["passed"] is None:
        verdict = f"not measured (add {TARGET_JOBS} to --jobs)"
    else:
        verdict = f"{target['ratio']:.2f}x  {'PASS' if target['passed'] else 'FAIL'}"
    lines.append(
        f"target: plainbox <= {TARGET_RATIO}x plain loop at {TARGET_JOBS:,} jobs: "
        f"{verdict}"
    )
    return "\n".join(lines)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("job counts must be positive")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--jobs",
        type=_sizes,
        default=[100, TARGET_JOBS],
        metavar="N[,N...]",
        help="job counts to measure (default: 100,1000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (3)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--runner",
        action="store_true",
        help="also time the runner alone (run_command N times, no run loop)",
    )
    parser.add_argument(
        "--no-sync",
        action="store_true",
        help="also time plainbox run with fsync made a no-op: what durability costs",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="TOP",
        help="also profile the API run at the largest size; print the TOP entries",
    )
    parser.add_argument(
        "--keep", metavar="DIR", type=Path, help="work in DIR and keep it"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    try:
        with timing.work_directory(args.keep, "plainbox-bench-run-") as work:
            report = run(args, work)
    except ValueError as exc:  # --keep names a directory that is not empty
        parser.error(str(exc))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
        if "profile" in report:
            print(report["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
