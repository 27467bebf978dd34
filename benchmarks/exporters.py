"""Time every exporter on one realistic 10,000-job session, with peak memory.

One session is written to disk through the ``SessionManager`` API, the way
the run loop writes it (``session-started``, phases, ``job-started`` and
``job-finished`` records, one io-log per attempt), without running any
process, so it is the same every time for the same ``--jobs`` and ``--seed``:
fixed times, a mix of outcomes and plugins, about 90 % of the jobs with a few
lines of output, some stderr, some 100 KB outputs, resource jobs with
records, attachment jobs (a few binary), reruns, operator comments and
several categories. Its provider is written next to it, so ``--keep`` leaves
something ``plainbox session export`` can open too.

Then, for each exporter the registry (``exporter_map()``) knows, and
"not available" for the others, ``--repeat`` fresh Python processes each:

1. load the provider catalog (not in the targets: every command pays it);
2. **load**: ``SessionManager.load_session(units, storage, {"read-only"})``
   and ``SessionView.of``, with ``session_jobs`` (what ``plainbox session
   export`` runs between the two) timed on its own;
3. **export**: ``create_exporter(exporter_map(), id).export(view, file)``,
   wall and CPU time;
4. peak RSS of the process (``VmHWM``, and ``ru_maxrss``: see
   :func:`memory_mb`), and, in the first process only, the export run a
   second time under ``tracemalloc`` for the peak of the Python allocations
   the export itself makes (tracing slows Python down several times, so it
   never overlaps a timed run).

Targets (the issue's Done-when), on the median export time: JSON and JUnit
under 1 s, HTML under 3 s, XLSX under 10 s; and peak RSS under 300 MB for
every exporter. An exporter that misses a time target is profiled with
cProfile in one more process; one over the memory target is run once more
under tracemalloc to list the lines holding the most memory near its peak.

Usage::

    python benchmarks/exporters.py                 # 10,000 jobs, 3 runs each
    python benchmarks/exporters.py --repeat 5 --keep /tmp/bench-export
    python benchmarks/exporters.py --quick         # tiny session: checks it works
    python benchmarks/exporters.py --profile all   # profile every exporter
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any


if TYPE_CHECKING:  # mypy sees benchmarks/ as a namespace package
    from benchmarks import timing
    from plainbox.exporters.base import Exporter
    from plainbox.session.manager import SessionManager
    from plainbox.units.model import JobDefinition
else:  # benchmarks/ is not a package: import the shared helpers beside us
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import timing


DEFAULT_JOBS = 10_000
QUICK_JOBS = 60
#: Export time targets in seconds; exporters without one only have the memory target.
TARGETS: Mapping[str, float] = {"json": 1.0, "junit": 1.0, "html": 3.0, "xlsx": 10.0}
TARGET_RSS_MB = 300.0
#: Exports slower than this (wall seconds) are not run again under tracemalloc.
TRACE_LIMIT_S = 20.0
#: What is measured, in this order.
EXPORTER_IDS = ("json", "junit", "html", "xlsx", "text", "submission", "tar")
# The certification provider's namespace: the submission exporter fills its
# packages, distribution, kernel... blocks from jobs with these ids, as it
# does for a real certification session.
NAMESPACE = "com.canonical.certification"
PROVIDER_NAME = "plainbox-provider-bench-exporters"
PLAN_PARTIAL_ID = "bench-exporters"
PLAN_ID = f"{NAMESPACE}::{PLAN_PARTIAL_ID}"
SESSION_START = 1_800_000_000.0  # 2027-01-15, fixed so exports are reproducible
MANIFEST = "bench.json"  # in the work directory: what was built, for reuse

# A child process: this script imported by path, one mode run, its JSON
# printed. ``t0`` is taken before anything else so imports are accounted for.
_CHILD = """\
import time
t0, c0 = time.perf_counter(), time.process_time()
import json, sys
sys.path.insert(0, sys.argv[1])
import exporters
print(json.dumps(exporters.child(json.loads(sys.argv[2]), t0, c0)))
"""


# --------------------------------------------------------------------------
# What the session holds (a pure function of the job count and the seed)


@dataclass
class Attempt:
    """One attempt at a job: its outcome and what it printed."""

    outcome: str
    return_code: int | None = 0
    duration: float = 0.5
    stdout: bytes = b""
    stderr: bytes = b""
    comments: str = ""
    skip_reason: dict[str, Any] | None = None
    ran: bool = True  # False: skipped before it started (no job-started, no times)


@dataclass
class JobSpec:
    """One job of the benchmark session: its unit fields and its attempts."""

    partial_id: str
    plugin: str
    category: str
    fields: dict[str, str]
    attempts: list[Attempt] = field(default_factory=list)
    kind: str = "ordinary"  # ordinary, long, attachment, resource

    @property
    def id(self) -> str:
        return f"{NAMESPACE}::{self.partial_id}"


# Test areas; each is a category of the provider.
AREAS = (
    "audio",
    "bluetooth",
    "camera",
    "cpu",
    "disk",
    "ethernet",
    "firmware",
    "graphics",
    "input",
    "keys",
    "led",
    "memory",
    "miscellanea",
    "monitor",
    "networking",
    "power-management",
    "suspend",
    "usb",
    "wireless",
    "info",
)
_THINGS = (
    "detect",
    "read-performance",
    "write-performance",
    "smart",
    "hotplug",
    "playback",
    "capture",
    "stress",
    "firmware-version",
    "link-speed",
    "scan",
    "pairing",
    "resolution",
    "brightness",
    "battery-info",
    "wake-on-lan",
    "idle-state",
    "thermal",
)
_DEVICES = ("sda", "nvme0n1", "wlan0", "enp3s0", "hci0", "card0", "video0", "hw:0,0")
_TOOLS = ("check_disk", "net_speed", "gfx_probe", "bt_scan", "sleep_test", "fwts")
_UNICODE = ("température", "✓ ok", "Größe", "設定", "naïve")


def _pxu_field(name: str, value: str) -> str:
    """One PXU field; a multi-line value on continuation lines, "." for blanks."""
    if "\n" not in value:
        return f"{name}: {value}"
    lines = [f" {line}" if line else " ." for line in value.split("\n")]
    return f"{name}:\n" + "\n".join(lines)


class _Planner:
    """Draws every job of the session from one seeded random generator."""

    def __init__(self, jobs: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.jobs = jobs
        self.failed: list[str] = []  # ids of failed jobs, for depends

    # -- output -----------------------------------------------------------

    def _line(self, area: str) -> str:
        rng = self.rng
        device = rng.choice(_DEVICES)
        form = rng.randrange(8)
        if form == 0:
            return f"Testing {device} ... ok"
        if form == 1:
            return f"INFO: {area} check {rng.randint(1, 9)} of 9 passed"
        if form == 2:
            return f"{device}: {rng.uniform(10, 3000):.1f} MB/s"
        if form == 3:
            return f"\x1b[32mPASS\x1b[0m: {area} {rng.choice(_THINGS)}"
        if form == 4:
            return f"{rng.choice(_UNICODE)}: {rng.randint(0, 100)}"
        if form == 5:
            return f"[{rng.uniform(0, 500):12.6f}] {device}: link is up"
        if form == 6:
            return f"  {rng.choice(_THINGS)}={rng.randint(0, 65535):#06x}"
        return f"Found {rng.randint(1, 12)} devices matching {area!r}"

    def _lines(self, area: str, count: int) -> bytes:
        return "".join(self._line(area) + "\n" for _ in range(count)).encode()

    def _long(self, area: str, size: int) -> bytes:
        """About ``size`` bytes of dmesg-like lines."""
        rng = self.rng
        parts: list[str] = []
        total = 0
        clock = 0.0
        while total < size:
            clock += rng.uniform(0.0001, 0.05)
            line = (
                f"[{clock:12.6f}] {rng.choice(_DEVICES)}: {area} "
                f"{rng.choice(_THINGS)} {rng.randint(0, 1 << 32):08x} "
                f"status={rng.choice(('ok', 'ok', 'ok', 'retry', 'timeout'))}\n"
            )
            parts.append(line)
            total += len(line)
        return "".join(parts).encode()

    def _traceback(self, job: str) -> bytes:
        rng = self.rng
        frames = "".join(
            f'  File "/usr/lib/checkbox-provider/bin/{rng.choice(_TOOLS)}.py", '
            f"line {rng.randint(10, 900)}, in {rng.choice(_THINGS).replace('-', '_')}\n"
            f"    result = probe(device, retries={rng.randint(1, 5)})\n"
            for _ in range(rng.randint(2, 6))
        )
        return (
            "Traceback (most recent call last):\n"
            f"{frames}AssertionError: {job}: expected {rng.randint(1, 9)}, "
            f"got {rng.randint(10, 99)}\n"
        ).encode()

    # -- jobs -------------------------------------------------------------

    def _duration(self, low: float, high: float) -> float:
        return round(min(high, low + self.rng.expovariate(1 / (high / 6))), 4)

    def _ordinary(self, index: int) -> JobSpec:
        rng = self.rng
        area = rng.choice(AREAS)
        thing = rng.choice(_THINGS)
        partial = f"{area}/{thing}-{index:05d}"
        roll = rng.random()
        plugin = (
            "manual"
            if roll < 0.04
            else "user-interact-verify"
            if roll < 0.08
            else "user-interact"
            if roll < 0.10
            else "shell"
        )
        fields: dict[str, str] = {
            "_summary": f"{area.title()}: {thing.replace('-', ' ')} #{index}",
            "estimated_duration": str(rng.choice((1, 2, 5, 10, 30, 60))),
        }
        if plugin == "manual":
            fields["_purpose"] = f"Check that the {area} {thing} works as expected."
            fields["_steps"] = "1. Plug in the device.\n2. Follow the prompts."
            fields["_verification"] = f"Did the {area} {thing} work?"
        else:
            tool = rng.choice(_TOOLS)
            fields["_description"] = (
                f"Runs {tool} against every {area} device found.\n\n"
                f"Fails when {thing.replace('-', ' ')} is out of range."
            )
            fields["command"] = (
                f"{tool} --area {area} --check {thing}"
                if rng.random() < 0.7
                else f"set -e\nfor dev in $(list_devices {area}); do\n"
                f"  {tool} --device $dev --check {thing}\ndone"
            )
            if plugin == "user-interact-verify":
                fields["_purpose"] = f"Check the {area} {thing} with your own eyes."
                fields["_verification"] = "Did it look right?"
        if rng.random() < 0.05:
            fields["certification-status"] = "blocker"
        spec = JobSpec(partial, plugin, area, fields)
        spec.attempts = self._attempts(spec, area)
        return spec

    def _attempts(self, spec: JobSpec, area: str) -> list[Attempt]:
        rng = self.rng
        roll = rng.random()
        if spec.plugin == "manual":
            if roll < 0.2:
                return [self._not_run("skip", "needs an operator; run non-interactive")]
            outcome = "pass" if roll < 0.9 else "fail"
            note = rng.choice(("works", "no sound from the left speaker", "ok"))
            return [
                Attempt(
                    outcome,
                    None,
                    self._duration(5, 120),
                    comments=f"Operator: {note}",
                )
            ]
        if spec.plugin in {"user-interact-verify", "user-interact"} and roll < 0.1:
            return [self._not_run("skip", "needs an operator; run non-interactive")]
        if spec.plugin == "shell":
            if roll < 0.03 and self.failed:
                dep = rng.choice(self.failed[-50:])
                spec.fields["depends"] = dep.split("::", 1)[1]
                return [
                    self._not_run(
                        "skipped-dependency",
                        f"required job did not pass: {dep}",
                        related_dependencies=[dep],
                    )
                ]
            if roll < 0.065:
                kind = rng.choice(("WIRELESS", "BLUETOOTH", "CAPTURE"))
                spec.fields["requires"] = f"device.category == '{kind}'"
                expression = f"{NAMESPACE}::device.category == '{kind}'"
                return [
                    self._not_run(
                        "skipped-resource",
                        f"resource requirement not met: {expression}",
                        related_resources=[expression],
                    )
                ]
            if roll < 0.08:
                return [self._not_run("not-supported", "not supported on this device")]
            if roll < 0.085:
                return [self._not_run("not-implemented", "the test is not written")]
        attempt = self._ran(spec, area)
        if attempt.outcome == "pass" and rng.random() < 0.01:
            # A rerun after a failure: two attempts, two io-logs.
            first = self._ran(spec, area, outcome="fail")
            return [first, attempt]
        if attempt.outcome == "fail":
            self.failed.append(spec.id)
        return [attempt]

    def _not_run(self, outcome: str, comments: str, **reason: Any) -> Attempt:
        # The controller's shape: no return code, no times, a reason only
        # when there are related jobs or resources to name.
        return Attempt(
            outcome, None, 0.0, comments=comments, skip_reason=reason or None, ran=False
        )

    def _ran(self, spec: JobSpec, area: str, outcome: str | None = None) -> Attempt:
        rng = self.rng
        if outcome is None:
            roll = rng.random()
            if spec.plugin == "user-interact-verify" and roll < 0.1:
                outcome = "undecided"
            elif roll < 0.07:
                outcome = "fail"
            elif roll < 0.075:
                outcome = "crash"
            else:
                outcome = "pass"
        stdout = self._lines(area, rng.randint(2, 10))
        stderr = b""
        comments = ""
        code: int | None = 0
        if outcome == "fail":
            code = rng.choice((1, 1, 2, 124))
            stderr = self._traceback(spec.id)
        elif outcome == "crash":
            code = -9
            comments = "killed by signal 9"
            stderr = b"Segmentation fault (core dumped)\n"
        elif rng.random() < 0.08:
            stderr = f"WARNING: {area}: no data from {rng.choice(_DEVICES)}\n".encode()
        if spec.plugin == "user-interact-verify" and outcome in {"pass", "fail"}:
            comments = rng.choice(("", "Operator: looked right", "Operator: flicker"))
        return Attempt(
            outcome, code, self._duration(0.02, 30), stdout, stderr, comments
        )

    def _long_output(self, index: int) -> JobSpec:
        area = self.rng.choice(AREAS)
        spec = JobSpec(
            f"{area}/log-{index:05d}",
            "shell",
            area,
            {
                "_summary": f"Collect {area} kernel messages #{index}",
                "command": f"dmesg --level=info | grep -i {area}",
            },
            kind="long",
        )
        failed = self.rng.random() < 0.1
        spec.attempts = [
            Attempt(
                "fail" if failed else "pass",
                1 if failed else 0,
                self._duration(1, 60),
                self._long(area, self.rng.randint(90_000, 110_000)),
                self._traceback(spec.id) if failed else b"",
            )
        ]
        return spec

    def _attachment(
        self, index: int, name: str | None = None, *, binary: bool | None = None
    ) -> JobSpec:
        rng = self.rng
        partial = name or f"info/attachment-{index:05d}"
        if binary is None:
            binary = name is None and rng.random() < 0.05
        if name == "kernel_cmdline_attachment":
            data = (
                b"BOOT_IMAGE=/vmlinuz-6.8.0-31-generic root=UUID=0b6f ro quiet splash\n"
            )
        elif name == "info/buildstamp":
            data = b"ubuntu-24.04-desktop-amd64 20240424\n"
        elif binary:
            # Attachments may be any bytes (EDID blobs, images): base64 in the io-log.
            data = rng.randbytes(rng.randint(2_000, 8_000))
        else:
            data = self._long("info", rng.randint(1_000, 20_000))
        spec = JobSpec(
            partial,
            "attachment",
            "info",
            {
                "_summary": f"Attach {partial}",
                "command": f"cat /sys/firmware/bench/{index}",
            },
            kind="attachment",
        )
        spec.attempts = [Attempt("pass", 0, self._duration(0.01, 2), data)]
        return spec

    def _resource(self, name: str, records: list[dict[str, str]]) -> JobSpec:
        text = "\n".join(
            "".join(f"{key}: {value}\n" for key, value in record.items())
            for record in records
        )
        spec = JobSpec(
            name,
            "resource",
            "info",
            {"_summary": f"Collect {name} records", "command": f"{name}_resource"},
            kind="resource",
        )
        spec.attempts = [Attempt("pass", 0, self._duration(0.05, 3), text.encode())]
        return spec

    def resources(self) -> list[JobSpec]:
        """The resource jobs: the ones the submission exporter reads, and more."""
        rng = self.rng
        scale = self.jobs / DEFAULT_JOBS

        def many(full: int) -> int:
            return max(3, round(full * scale))

        tables: dict[str, list[dict[str, str]]] = {
            "package": [
                {"name": f"lib{rng.choice(_THINGS)}{n}", "version": f"1.{n}.0-1ubuntu1"}
                for n in range(many(2000))
            ],
            "snap": [
                {
                    "name": f"snap-{n}",
                    "confinement": "strict",
                    "devmode": "False",
                    "revision": str(rng.randint(10, 9000)),
                    "status": "active",
                    "type": rng.choice(("app", "base", "snapd")),
                    "version": f"{n}.0",
                }
                for n in range(many(30))
            ],
            "lsb": [
                {
                    "codename": "noble",
                    "description": "Ubuntu 24.04 LTS",
                    "distributor_id": "Ubuntu",
                    "release": "24.04",
                }
            ],
            "uname": [{"release": "6.8.0-31-generic", "machine": "x86_64"}],
            "dpkg": [{"architecture": "amd64"}],
            "meminfo": [{"total": "16663715840", "swap": "4294963200"}],
            "device": [
                {
                    "category": rng.choice(
                        ("DISK", "AUDIO", "VIDEO", "NETWORK", "USB")
                    ),
                    "path": f"/devices/pci0000:00/0000:00:{n:02x}.0",
                    "vendor": rng.choice(("Intel Corp.", "Realtek", "AMD", "NVIDIA")),
                    "product": f"Controller {n}",
                    "driver": rng.choice(("ahci", "snd_hda_intel", "i915", "r8169")),
                }
                for n in range(many(150))
            ],
            "executable": [
                {"name": f"tool-{n}", "location": f"/usr/bin/tool-{n}"}
                for n in range(many(300))
            ],
            "module": [
                {"name": f"mod_{n}", "size": str(rng.randint(4096, 900000))}
                for n in range(many(120))
            ],
            "cpuinfo": [{"type": "GenuineIntel", "count": "8", "platform": "x86_64"}],
            "dmi": [{"product": "Bench 1000", "vendor": "Example"}],
            "environment": [{"XDG_SESSION_TYPE": "wayland", "LANG": "C.UTF-8"}],
        }
        return [self._resource(name, records) for name, records in tables.items()]

    def plan(self) -> list[JobSpec]:
        """Every job of the session in run order (resources first, as in Checkbox)."""
        specs = self.resources()[: max(3, self.jobs // 10)]
        specs.append(self._attachment(0, "kernel_cmdline_attachment"))
        specs.append(self._attachment(0, "info/buildstamp"))
        # One of each rare kind even in a tiny session, so --quick covers them.
        specs.append(self._long_output(1))
        specs.append(self._attachment(2, binary=True))
        index = 2
        while len(specs) < self.jobs:
            index += 1
            roll = self.rng.random()
            if roll < 0.01:
                specs.append(self._long_output(index))
            elif roll < 0.03:
                specs.append(self._attachment(index))
            else:
                specs.append(self._ordinary(index))
        return specs[: self.jobs]


def plan_session(jobs: int, seed: int) -> list[JobSpec]:
    """The jobs of the benchmark session, in run order; the same for the same input."""
    if jobs < 5:
        raise ValueError("the session needs at least 5 jobs")
    return _Planner(jobs, seed).plan()


# --------------------------------------------------------------------------
# Writing the provider and the session


def write_provider(work: Path, specs: Sequence[JobSpec]) -> Path:
    """Write the provider of ``specs`` under ``work/providers``; its directory."""
    provider = work / "providers" / "bench-exporters"
    units = provider / "units"
    units.mkdir(parents=True, exist_ok=True)
    (provider / "provider.toml").write_text(
        "[provider]\n"
        f'name = "{PROVIDER_NAME}"\n'
        f'namespace = "{NAMESPACE}"\n'
        'version = "1.0.0"\n'
        'description = "The session of benchmarks/exporters.py"\n',
        encoding="utf-8",
    )
    chunks = [
        f"unit: category\nid: {area}\n_name: {area.replace('-', ' ').title()} tests\n"
        for area in AREAS
    ]
    for spec in specs:
        fields = {"id": spec.partial_id, "plugin": spec.plugin}
        fields["category_id"] = spec.category
        fields.update(spec.fields)
        chunks.append("\n".join(_pxu_field(k, v) for k, v in fields.items()) + "\n")
    chunks.append(
        "unit: test plan\n"
        f"id: {PLAN_PARTIAL_ID}\n"
        f"_name: Exporter benchmark ({len(specs):,} jobs)\n"
        "include:\n" + "".join(f" {spec.partial_id}\n" for spec in specs)
    )
    (units / "jobs.pxu").write_text("\n".join(chunks), encoding="utf-8")
    return provider


@dataclass(frozen=True)
class Workspace:
    """Where the benchmark keeps its provider, state, config and outputs."""

    root: Path

    @property
    def env(self) -> dict[str, str]:
        """This process's environment with plainbox's directories inside ``root``."""
        env = dict(os.environ)
        env["PLAINBOX_PROVIDERPATH"] = str(self.root / "providers")
        env["PLAINBOX_STATE_DIR"] = str(self.root / "state")
        env["PLAINBOX_CONFIG_DIR"] = str(self.root / "config")
        env["PLAINBOX_CACHE_DIR"] = str(self.root / "cache")
        env.pop("PYTHONPROFILEIMPORTTIME", None)
        return env

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """``env`` as this process's environment for a while."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _io_lines(attempt: Attempt) -> list[Any]:
    """The io-log lines of an attempt: stdout then stderr, in time order."""
    from plainbox.execution.iolog import OutputLine

    chunks: list[tuple[str, bytes]] = []
    for stream, data in (("stdout", attempt.stdout), ("stderr", attempt.stderr)):
        for line in data.splitlines(keepends=True):
            # The runner splits a line longer than its 64 KiB chunk.
            chunks.extend(
                (stream, line[start : start + 65536])
                for start in range(0, len(line), 65536)
            )
    step = attempt.duration / max(1, len(chunks))
    return [
        OutputLine(stream, data, round(number * step, 3))
        for number, (stream, data) in enumerate(chunks)
    ]


def _record(
    manager: SessionManager, job: JobDefinition, spec: JobSpec, clock: float
) -> float:
    """Journal every attempt of ``job`` as the run loop would; the new clock."""
    from plainbox.execution.controller import parse_resource_output
    from plainbox.execution.iolog import write_io_log
    from plainbox.session.results import JobResult
    from plainbox.session.results import Outcome

    state = manager.state
    for attempt in spec.attempts:
        started = finished = None
        io_log = None
        if attempt.ran:
            started, finished = clock, clock + attempt.duration
            state.record(
                "job-started",
                {"job": job.id, "checksum": job.checksum, "started": clock},
            )
            if attempt.stdout or attempt.stderr:
                # Named as the run loop names io-logs: the attempt number and
                # a slug of the id; a job that printed nothing has none.
                slug = re.sub(r"[^A-Za-z0-9._-]", "_", job.id)[:150]
                io_log = f"io-logs/{state.attempts:04d}-{slug}.log"
                write_io_log(manager.storage.path / io_log, _io_lines(attempt))
            clock = finished + 0.01
        result = JobResult(
            job_id=job.id,
            outcome=Outcome(attempt.outcome),
            return_code=attempt.return_code,
            duration=attempt.duration,
            comments=attempt.comments,
            skip_reason=attempt.skip_reason,
            started=started,
            finished=finished,
            io_log=io_log,
        )
        resources = None
        if spec.kind == "resource":
            resources = parse_resource_output(attempt.stdout.decode())
        state.update_job_result(job, result, resources)
    return clock


def build_session(space: Workspace, jobs: int, seed: int) -> dict[str, Any]:
    """Write the provider and the session; facts about them (and the session id)."""
    from plainbox.cli.run_command import RunSpec
    from plainbox.session.context import SessionDeviceContext
    from plainbox.session.manager import SessionManager
    from plainbox.session.state import SessionState
    from plainbox.session.storage import SessionStorageRepository
    from plainbox.units.catalog import load_catalog
    from plainbox.units.model import JobDefinition
    from plainbox.units.model import TestPlan
    from plainbox.units.problems import Severity

    specs = plan_session(jobs, seed)
    write_provider(space.root, specs)
    # The build child already runs in this environment; the tests call this
    # in their own process, whose state directory must not be the user's.
    with _environment(space.env):
        from plainbox import paths

        catalog = load_catalog(
            paths.provider_search_path(), builtin_dir=paths.BUILTIN_PROVIDER_DIR
        )
        errors = [p for p in catalog.problems if p.severity is Severity.ERROR]
        if errors:
            raise RuntimeError(f"the generated provider has errors: {errors[:3]}")
        plan = catalog.resolve(PLAN_ID, TestPlan)
        definitions = {job.id: job for job in catalog.jobs}
        state = SessionState(catalog.units)
        # Recorded before the state has a session, so the manager neither
        # stamps the clock's time on it nor needs a second start record.
        state.record(
            "session-started",
            {
                "created": SESSION_START,
                "title": f"Exporter benchmark: {jobs:,} jobs (seed {seed})",
                "test_plan": plan.id,
                "app_id": "plainbox",
                "options": RunSpec(
                    targets=[plan.id], non_interactive=True
                ).to_options(),
                "first_device": "local",
            },
        )
        manager = SessionManager.create(SessionStorageRepository())
        manager.add_device_context(SessionDeviceContext(state))
        ids = [spec.id for spec in specs]
        for name, phase in (("setup", []), ("bootstrap", []), ("main", ids)):
            state.record("phase", {"name": name, "jobs": phase, "mandatory": []})
        clock = SESSION_START + 5.0  # loading and planning before the first job
        for spec in specs:
            job = definitions[spec.id]
            assert isinstance(job, JobDefinition)
            clock = _record(manager, job, spec, clock)
        state.record("session-finished", {"finished": clock + 0.5})
        manager.close()
        storage = manager.storage
    io_logs = list(storage.io_log_dir.iterdir())
    outcomes: dict[str, int] = {}
    for spec in specs:
        outcome = spec.attempts[-1].outcome
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {
        "jobs": jobs,
        "seed": seed,
        "session": storage.id,
        "session_dir": str(storage.path),
        "attempts": sum(len(spec.attempts) for spec in specs),
        "outcomes": dict(sorted(outcomes.items())),
        "kinds": _count(spec.kind for spec in specs),
        "plugins": _count(spec.plugin for spec in specs),
        "with_stdout": sum(1 for spec in specs if spec.attempts[-1].stdout),
        "with_stderr": sum(1 for spec in specs if spec.attempts[-1].stderr),
        "resource_records": sum(
            len([r for r in spec.attempts[-1].stdout.split(b"\n\n") if r.strip()])
            for spec in specs
            if spec.kind == "resource"
        ),
        "output_bytes": sum(
            len(a.stdout) + len(a.stderr) for spec in specs for a in spec.attempts
        ),
        "io_logs": len(io_logs),
        "io_log_bytes": sum(path.stat().st_size for path in io_logs),
        "journal_bytes": storage.journal_path.stat().st_size,
        "categories": len(AREAS),
    }


def _count(values: Iterator[str] | Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def prepare(space: Workspace, jobs: int, seed: int) -> dict[str, Any]:
    """The session of ``jobs`` and ``seed`` in ``space``: reused if built before.

    Built in a child process, so this one never holds plainbox or the
    session: on Linux a child's ``ru_maxrss`` starts at its parent's peak.
    """
    manifest = space.root / MANIFEST
    if manifest.is_file():
        facts: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
        if facts.get("jobs") == jobs and facts.get("seed") == seed:
            return facts
        raise ValueError(
            f"{space.root} holds a session of {facts.get('jobs')} jobs, "
            f"seed {facts.get('seed')}; use another directory"
        )
    if space.root.exists() and any(space.root.iterdir()):
        raise ValueError(f"{space.root} is not empty")
    space.root.mkdir(parents=True, exist_ok=True)
    _, facts = run_child(space, {"mode": "build", "jobs": jobs, "seed": seed})
    manifest.write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    return facts


# --------------------------------------------------------------------------
# What a child process does


def memory_mb() -> dict[str, float]:
    """This process's peak and current resident set size, in MB.

    ``peak``: ``VmHWM`` from ``/proc/self/status`` where there is one (Linux),
    else ``ru_maxrss``. Both are kept: ``ru_maxrss`` is what the issue names,
    but Linux carries the parent's peak over into a child at ``exec`` (a
    300 MB parent makes every child report at least 300 MB), while
    ``VmHWM`` belongs to the process image alone.
    """
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6
    status: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in {"VmHWM", "VmRSS"}:
                status[name] = int(value.split()[0]) * 1024 / 1e6
    return {
        "peak": status.get("VmHWM", maxrss),
        "current": status.get("VmRSS", float("nan")),
        "ru_maxrss": maxrss,
    }


def find_exporter(exporter_id: str) -> tuple[Any, str]:
    """The registry's factory for ``exporter_id`` (a class or a lazy stand-in).

    ``(None, "not available")`` when no built-in exporter or plugin has it.
    """
    from plainbox.exporters.registry import exporter_map

    factory = exporter_map().get(exporter_id)
    return factory, "registry" if factory is not None else "not available"


def _make_exporter(exporter_id: str) -> Exporter:
    from plainbox.exporters.registry import create_exporter
    from plainbox.exporters.registry import exporter_map

    # A lazy stand-in imports its module here: counted as import, not export.
    return create_exporter(exporter_map(), exporter_id)


def child(task: Mapping[str, Any], t0: float, c0: float = 0.0) -> dict[str, Any]:
    """Entry point of a child process, started at ``t0`` (``perf_counter``).

    ``c0`` is the CPU time (``process_time``) then.

    ``task["mode"]``: ``build`` (``jobs``, ``seed``: write the session, in
    the working directory), ``probe`` (``exporters``: which ones exist) or
    ``export`` (see :func:`child_export`).
    """
    mode = task["mode"]
    if mode == "build":
        return build_session(Workspace(Path.cwd()), task["jobs"], task["seed"])
    if mode == "probe":
        found = {}
        for exporter_id in task["exporters"]:
            cls, source = find_exporter(exporter_id)
            found[exporter_id] = {
                "available": cls is not None,
                "source": source,
                "extension": cls.file_extension if cls is not None else "",
            }
        return found
    return child_export(task, t0, c0)


def child_export(task: Mapping[str, Any], t0: float, c0: float = 0.0) -> dict[str, Any]:
    """Load the session and export it once, timing each step.

    ``task``: ``session`` (its id), ``exporter`` (an id, or None to only
    load), ``output`` (a path), ``trace`` (export again under tracemalloc),
    ``profile`` (top N entries of a cProfile of the export; 0: no profile).
    """
    # Wall time is what a user waits for; CPU time is kept too because it
    # moves much less when other work shares the machine.
    phases: dict[str, float] = {}
    cpu: dict[str, float] = {}
    mark, cpu_mark = t0, c0

    def lap(name: str) -> None:
        nonlocal mark, cpu_mark
        now, cpu_now = time.perf_counter(), time.process_time()
        phases[name], cpu[name] = now - mark, cpu_now - cpu_mark
        mark, cpu_mark = now, cpu_now

    from plainbox import paths
    from plainbox.execution.controller import session_jobs
    from plainbox.session.manager import FLAG_READ_ONLY
    from plainbox.session.manager import SessionManager
    from plainbox.session.storage import SessionStorageRepository
    from plainbox.session.view import SessionView
    from plainbox.units.catalog import load_catalog
    from plainbox.units.model import TestPlan

    exporter_id = task.get("exporter")
    exporter = _make_exporter(exporter_id) if exporter_id else None
    lap("import")
    catalog = load_catalog(
        paths.provider_search_path(), builtin_dir=paths.BUILTIN_PROVIDER_DIR
    )
    plan = catalog.resolve(PLAN_ID, TestPlan)
    lap("catalog")
    storage = SessionStorageRepository().get(task["session"])
    manager = SessionManager.load_session(
        catalog.units, storage, flags={FLAG_READ_ONLY}
    )
    lap("load_session")
    session_jobs(catalog, plan, manager.state)
    lap("session_jobs")
    view = SessionView.of(manager)
    lap("view")
    data: dict[str, Any] = {"results": len(view.entries), "after_load": memory_mb()}
    if exporter is None:
        data["phases"], data["cpu"] = phases, cpu
        return data
    output = Path(task["output"])
    top = int(task.get("profile") or 0)
    if top:
        data["profile"] = _profiled_export(exporter, view, output, top)
        return data
    top = int(task.get("memory") or 0)
    if top:
        data["memory_profile"] = _memory_profiled_export(exporter, view, output, top)
        return data
    lap("between")
    with open(output, "wb") as stream:
        exporter.export(view, stream)
    lap("export")
    data["after_export"] = memory_mb()
    data["output_bytes"] = output.stat().st_size
    # Tracing makes the export several times slower; past this it costs
    # more than the timed runs together, so slow exporters are not traced.
    if task.get("trace") and phases["export"] <= TRACE_LIMIT_S:
        data["trace_peak_mb"] = _traced_export(exporter, view, output)
    data["phases"], data["cpu"] = phases, cpu
    return data


def _traced_export(exporter: Exporter, view: Any, output: Path) -> float:
    """Peak MB of Python allocations made by one more export of ``view``."""
    import tracemalloc

    scratch = output.with_name(output.name + ".traced")
    tracemalloc.start()
    try:
        with open(scratch, "wb") as stream:
            exporter.export(view, stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        scratch.unlink(missing_ok=True)
    return peak / 1e6


def _profiled_export(exporter: Exporter, view: Any, output: Path, top: int) -> str:
    """cProfile of one export: time per source file, then the top functions."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    with open(output, "wb") as stream:
        profiler.enable()
        exporter.export(view, stream)
        profiler.disable()
    stats = pstats.Stats(profiler)
    per_file: dict[str, float] = {}
    total = 0.0
    # stats.stats: (file, line, function) -> (calls, primitive, tottime, cumtime, callers)
    for (filename, _, _), values in stats.stats.items():  # type: ignore[attr-defined]
        per_file[filename] = per_file.get(filename, 0.0) + values[2]
        total += values[2]
    lines = [f"own time by source file (total {total:.3f} s under the profiler):"]
    for filename, seconds in sorted(per_file.items(), key=lambda kv: -kv[1])[:12]:
        # cProfile files C functions (json's scanner, lzma, str.join) under "~".
        name = "(built-in C functions)" if filename == "~" else filename
        lines.append(f"  {seconds:8.3f} s  {100 * seconds / total:5.1f} %  {name}")
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    # Full paths of the standard library and site-packages make the table
    # hard to read; their last two parts say enough.
    text = re.sub(r"/\S*/((?:site-packages|python3\.\d+)/)", r"\1", out.getvalue())
    return "\n".join(lines) + "\n" + text


def _memory_profiled_export(
    exporter: Exporter, view: Any, output: Path, top: int
) -> str:
    """Where the memory of one export is when it is near its peak.

    tracemalloc cannot take a snapshot at the peak itself, so a thread polls
    the traced total and takes one at each new high (10 % above the last);
    a long C call (``str.join``, ``encode``) holds the GIL, so the snapshot
    shows what was held just before the peak, which is what to cut.
    """
    import threading
    import tracemalloc

    state: dict[str, Any] = {"high": 0, "snapshot": None}
    done = threading.Event()

    def watch() -> None:
        # 5 ms: about the interpreter's switch interval, so a short export
        # is still seen several times.
        while not done.wait(0.005):
            current, _ = tracemalloc.get_traced_memory()
            if current > state["high"] * 1.1 + 1e6:
                state["snapshot"] = None  # the old one must not be traced twice
                state["snapshot"] = tracemalloc.take_snapshot()
                state["high"] = current

    tracemalloc.start(30)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with open(output, "wb") as stream:
            exporter.export(view, stream)
    finally:
        done.set()
        watcher.join()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    snapshot = state["snapshot"]
    head = f"Python allocations peaked at {peak / 1e6:.1f} MB"
    if snapshot is None:  # over before the watcher saw it grow
        return f"{head}; no snapshot\n"
    return f"{head}; {allocation_sites(snapshot, top)}"


def allocation_sites(snapshot: Any, top: int) -> str:
    """The ``top`` lines holding the most memory in a tracemalloc snapshot.

    Each block is charged to the line that allocated it and to the innermost
    plainbox line on its stack (the code to change).
    """
    import threading
    import tracemalloc

    # The snapshots' own lists are allocated under tracing: leave them out.
    snapshot = snapshot.filter_traces(
        [
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, threading.__file__),
        ]
    )
    sites: dict[tuple[str, str], list[int]] = {}
    held = 0
    for trace in snapshot.traces:
        frames = list(trace.traceback)  # oldest first
        inner = frames[-1]
        ours = next(
            (f for f in reversed(frames) if "/plainbox/" in f.filename),
            None,
        )
        key = (
            f"{_short(inner.filename)}:{inner.lineno}",
            f"{_short(ours.filename)}:{ours.lineno}" if ours else "-",
        )
        entry = sites.setdefault(key, [0, 0])
        entry[0] += trace.size
        entry[1] += 1
        held += trace.size
    lines = [
        f"held at the snapshot: {held / 1e6:.1f} MB",
        f"{'MB':>8}  {'blocks':>8}  allocated at  [<- the plainbox line calling it]",
    ]
    for (where, ours_at), (size, count) in sorted(
        sites.items(), key=lambda item: -item[1][0]
    )[:top]:
        caller = "" if ours_at == where else f"  <-  {ours_at}"
        lines.append(f"{size / 1e6:8.1f}  {count:8,}  {where}{caller}")
    return "\n".join(lines) + "\n"


def _short(filename: str) -> str:
    """A source path from ``plainbox/`` or the library's directory on."""
    for marker in ("/plainbox/", "/site-packages/", "/python3."):
        at = filename.rfind(marker)
        if at >= 0:
            return filename[at + 1 :]
    return filename


# --------------------------------------------------------------------------
# Running the children


def run_child(
    space: Workspace, task: Mapping[str, Any]
) -> tuple[float, dict[str, Any]]:
    """One child process for ``task``: its wall time from outside and its report."""
    here = str(Path(__file__).resolve().parent)
    command = [sys.executable, "-c", _CHILD, here, json.dumps(dict(task))]
    done = timing.run_timed(
        command, space.env, space.root, what=f"child {task.get('exporter')}"
    )
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return done.wall, data


@dataclass
class Row:
    """One exporter over all its runs."""

    id: str
    source: str
    available: bool
    extension: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    trace_peak_mb: float | None = None
    profile: str | None = None
    memory_profile: str | None = None

    def median(self, *phases: str, clock: str = "phases") -> float:
        """Median over the runs of the time the ``phases`` took together.

        ``clock``: ``phases`` for wall time, ``cpu`` for CPU time.
        """
        return statistics.median(
            sum(float(run[clock][phase]) for phase in phases) for run in self.runs
        )

    def summary(self) -> dict[str, Any]:
        """Medians over the runs, the worst peak RSS, and the verdict."""
        base: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "available": self.available,
            "extension": self.extension,
            "target_s": TARGETS.get(self.id),
        }
        if not self.available or not self.runs:
            return base
        export = self.median("export")
        peak = max(run["after_export"]["peak"] for run in self.runs)
        reasons = []
        target = TARGETS.get(self.id)
        if target is not None and export >= target:
            reasons.append(f"export {export:.2f} s >= {target:g} s")
        if peak >= TARGET_RSS_MB:
            reasons.append(f"peak RSS {peak:.0f} MB >= {TARGET_RSS_MB:g} MB")
        return {
            **base,
            "runs": len(self.runs),
            # What the issue calls loading; session_jobs (which the command
            # line runs between the two) is reported on its own.
            "load_s": self.median("load_session", "view"),
            "session_jobs_s": self.median("session_jobs"),
            "phases_s": {name: self.median(name) for name in self.runs[0]["phases"]},
            "cpu_s": {
                name: self.median(name, clock="cpu") for name in self.runs[0]["cpu"]
            },
            "export_s": export,
            "export_cpu_s": self.median("export", clock="cpu"),
            "exports_s": [run["phases"]["export"] for run in self.runs],
            "process_s": statistics.median(self.walls),
            "peak_rss_mb": peak,
            "ru_maxrss_mb": max(run["after_export"]["ru_maxrss"] for run in self.runs),
            "rss_after_load_mb": max(run["after_load"]["peak"] for run in self.runs),
            "trace_peak_mb": self.trace_peak_mb,
            "output_bytes": self.runs[-1]["output_bytes"],
            "passed": not reasons,
            "reasons": reasons,
            "profile": self.profile,
            "memory_profile": self.memory_profile,
        }


def _progress(quiet: bool) -> Callable[[str], None]:
    def say(text: str) -> None:
        if not quiet:
            print(f"... {text}", file=sys.stderr, flush=True)

    return say


def measure(
    space: Workspace,
    facts: Mapping[str, Any],
    *,
    repeat: int,
    exporters: Sequence[str] = EXPORTER_IDS,
    warm_up: bool = True,
    trace: bool = True,
    profile: str = "failing",
    top: int = 25,
    say: Callable[[str], None] = lambda text: None,
) -> list[Row]:
    """Time each exporter ``repeat`` times, interleaved, each run a fresh process."""
    _, found = run_child(space, {"mode": "probe", "exporters": list(exporters)})
    rows = [
        Row(
            exporter_id,
            found[exporter_id]["source"],
            found[exporter_id]["available"],
            found[exporter_id]["extension"],
        )
        for exporter_id in exporters
    ]
    space.outputs.mkdir(parents=True, exist_ok=True)
    session = facts["session"]

    def task(row: Row, **extra: Any) -> dict[str, Any]:
        output = space.outputs / f"{row.id}.{row.extension or 'out'}"
        return {
            "mode": "export",
            "exporter": row.id,
            "session": session,
            "output": str(output),
            **extra,
        }

    available = [row for row in rows if row.available]
    if warm_up:  # bytecode compiled, session files in the page cache; not recorded
        say("warm-up: loading the session once")
        run_child(space, {"mode": "export", "exporter": None, "session": session})
    for index in range(repeat):
        for row in available:
            say(f"run {index + 1} of {repeat}: {row.id}")
            first = index == 0 and trace
            wall, data = run_child(space, task(row, trace=first))
            row.walls.append(wall)
            row.runs.append(data)
            if first:
                row.trace_peak_mb = data.get("trace_peak_mb")
    for row in available:
        summary = row.summary()
        slow = any(reason.startswith("export") for reason in summary["reasons"])
        big = any(reason.startswith("peak RSS") for reason in summary["reasons"])
        if profile == "all" or (profile == "failing" and slow):
            say(f"profiling the time of {row.id}")
            _, data = run_child(space, task(row, profile=top))
            row.profile = data["profile"]
        if profile == "all" or (profile == "failing" and big):
            say(f"profiling the memory of {row.id}")
            _, data = run_child(space, task(row, memory=top))
            row.memory_profile = data["memory_profile"]
    return rows


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Build (or reuse) the session and measure every exporter; the report."""
    say = _progress(args.quiet)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    space = Workspace(work)
    say(f"building a {args.jobs:,}-job session (seed {args.seed}) in {work}")
    reused = (work / MANIFEST).is_file()
    start = time.perf_counter()
    facts = prepare(space, args.jobs, args.seed)
    built = time.perf_counter() - start
    rows = measure(
        space,
        facts,
        repeat=args.repeat,
        exporters=args.exporters,
        warm_up=not args.quick,
        trace=not args.no_tracemalloc,
        profile=args.profile,
        top=args.profile_top,
        say=say,
    )
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_average": round(load, 2),
        "repeat": args.repeat,
        "quick": args.quick,
        "traced": not args.no_tracemalloc,
        "build_s": built,
        "reused": reused,
        "work": str(work),
        "session": facts,
        "target_rss_mb": TARGET_RSS_MB,
        "targets_s": dict(TARGETS),
        "rows": [row.summary() for row in rows],
    }


# --------------------------------------------------------------------------
# The report


def _size(count: int) -> str:
    for unit, scale in (("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def format_table(report: Mapping[str, Any]) -> str:
    """The report as aligned plain-text columns, with notes and profiles."""
    facts = report["session"]
    outcomes = ", ".join(f"{n:,} {o}" for o, n in facts["outcomes"].items())
    kinds = facts["kinds"]
    lines = [
        f"{'QUICK size, not the target size: ' if report['quick'] else ''}"
        f"Exporting a {facts['jobs']:,}-job session (seed {facts['seed']}): "
        f"{facts['attempts']:,} attempts; {outcomes}",
        f"  {facts['with_stdout']:,} jobs with stdout, {facts['with_stderr']:,} with "
        f"stderr, {kinds.get('long', 0)} of ~100 KB, {kinds.get('attachment', 0)} "
        f"attachments, {kinds.get('resource', 0)} resource jobs "
        f"({facts['resource_records']:,} records), {facts['categories']} categories; "
        f"output {_size(facts['output_bytes'])}, io-logs {_size(facts['io_log_bytes'])}"
        f" in {facts['io_logs']:,} files, journal {_size(facts['journal_bytes'])}",
        f"{report['implementation']} {report['python']}, {report['cpus']} CPUs "
        f"({report['machine']}), load average {report['load_average']} at start; "
        f"median of {report['repeat']} fresh processes per exporter; "
        + (
            "session reused from --keep"
            if report["reused"]
            else f"session built in {report['build_s']:.1f} s"
        ),
        "load = load_session (read-only) + SessionView.of; session_jobs = what "
        "`plainbox session export` runs between them; export = exporter.export to "
        "a file (wall; cpu = process CPU time); peak RSS = VmHWM of the process "
        "(ru_maxrss without /proc)",
    ]
    table = [
        (
            "exporter",
            "load s",
            "session_jobs s",
            "export s",
            "export cpu s",
            "target",
            "peak RSS MB",
            "output",
            "verdict",
        )
    ]
    notes = []
    for row in report["rows"]:
        target = row["target_s"]
        target_text = f"< {target:g} s" if target is not None else "-"
        if not row["available"]:
            table.append(
                (row["id"], "-", "-", "-", "-", target_text, "-", "-", row["source"])
            )
            continue
        table.append(
            (
                row["id"],
                f"{row['load_s']:.3f}",
                f"{row['session_jobs_s']:.3f}",
                f"{row['export_s']:.3f}",
                f"{row['export_cpu_s']:.3f}",
                target_text,
                f"{row['peak_rss_mb']:.0f}",
                _size(row["output_bytes"]),
                "PASS" if row["passed"] else "FAIL",
            )
        )
        phases = row["phases_s"]
        note = (
            f"  {row['id']}: process {row['process_s']:.2f} s (imports "
            f"{phases['import']:.2f}, catalog {phases['catalog']:.2f}, load_session "
            f"{phases['load_session']:.2f}, view {phases['view']:.2f}); RSS "
            f"after load {row['rss_after_load_mb']:.0f} MB, ru_maxrss "
            f"{row['ru_maxrss_mb']:.0f} MB"
        )
        traced = row["trace_peak_mb"]
        if traced is not None:
            note += f"; Python allocations during export peak at {traced:.0f} MB"
        elif report.get("traced"):
            note += f"; not traced (export over {TRACE_LIMIT_S:g} s)"
        if row["reasons"]:
            note += f"; {'; '.join(row['reasons'])}"
        notes.append(note)
    lines.extend(timing.align(table, {0, 8}))
    lines.append("per exporter (medians; process = wall time of the whole child):")
    lines.extend(notes)
    targets = ", ".join(f"{key} < {value:g} s" for key, value in TARGETS.items())
    lines.append(
        f"targets: export {targets}; peak RSS < {report['target_rss_mb']:g} MB "
        "for every exporter"
    )
    for row in report["rows"]:
        if row.get("profile"):
            lines.append(f"\n=== cProfile of the {row['id']} export ===")
            lines.append(row["profile"].rstrip())
        if row.get("memory_profile"):
            lines.append(f"\n=== Memory of the {row['id']} export (tracemalloc) ===")
            lines.append(row["memory_profile"].rstrip())
    return "\n".join(lines)


def _exporter_list(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no exporter named")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help=f"jobs in the session (default {DEFAULT_JOBS:,}; {QUICK_JOBS} with --quick)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument(
        "--repeat", type=int, default=None, help="runs per exporter (3; 1 with --quick)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny session, one run each, no warm-up: checks the script works",
    )
    parser.add_argument(
        "--exporters",
        type=_exporter_list,
        default=list(EXPORTER_IDS),
        metavar="ID[,ID...]",
        help=f"exporters to measure (default {','.join(EXPORTER_IDS)})",
    )
    parser.add_argument(
        "--profile",
        choices=("failing", "all", "none"),
        default="failing",
        help="profile the exporters that miss a target (default: cProfile for "
        "time, tracemalloc for memory), all of them, or none",
    )
    parser.add_argument(
        "--profile-top", type=int, default=25, help="profile entries to print (25)"
    )
    parser.add_argument(
        "--no-tracemalloc",
        action="store_true",
        help="skip the extra export under tracemalloc",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--keep",
        metavar="DIR",
        type=Path,
        help="work in DIR and keep the provider, session and outputs; "
        "a DIR from an earlier run with the same --jobs and --seed is reused",
    )
    args = parser.parse_args(argv)
    if args.jobs is None:
        args.jobs = QUICK_JOBS if args.quick else DEFAULT_JOBS
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.jobs < 5:
        parser.error("--jobs must be at least 5")
    if args.keep is not None:
        try:
            report = run(args, args.keep.resolve())
        except ValueError as exc:
            parser.error(str(exc))
    else:
        with tempfile.TemporaryDirectory(prefix="plainbox-bench-export-") as work:
            report = run(args, Path(work))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
        if args.keep is not None:
            facts = report["session"]
            print(
                f"\nkept in {report['work']}: outputs/ holds each report; to export "
                "again:\n  PLAINBOX_PROVIDERPATH={0}/providers "
                "PLAINBOX_STATE_DIR={0}/state plainbox session export {1} "
                "--report html:/tmp/report.html".format(
                    report["work"], facts["session"]
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
