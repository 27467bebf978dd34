"""The session benchmark runs end to end at tiny sizes; no timing asserts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from plainbox.session.journal import read_journal


JOBS = 12


@pytest.fixture(scope="module")
def bench(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("sessions")


@pytest.fixture
def space(bench, tmp_path, monkeypatch):
    """A provider of JOBS jobs, its directories in the environment of this process."""
    made = bench.workspace(tmp_path, JOBS)
    for name in ("PLAINBOX_PROVIDERPATH", "PLAINBOX_STATE_DIR", "PLAINBOX_CONFIG_DIR"):
        monkeypatch.setenv(name, made.env[name])
    return made


def _shape(path: Path) -> list[tuple[Any, ...]]:
    """Each record's kind and field names; phases with their jobs; no values."""
    shape: list[tuple[Any, ...]] = []
    for record in read_journal(path).records:
        data = record.data
        if record.kind == "phase":
            shape.append((record.kind, data["name"], tuple(data["jobs"])))
        elif record.kind == "job-finished":
            shape.append((record.kind, sorted(data), sorted(data["result"])))
        else:
            shape.append((record.kind, sorted(data)))
    return shape


def test_written_sessions_look_like_real_runs(bench, space):
    """The sessions the benchmark writes without running jobs, record by record."""
    real = bench.child_run(space.bench.plan_id)
    assert real["outcomes"] == {"pass": JOBS}
    (written,) = bench.build_sessions(space.bench.plan_id, [f"{JOBS}:finished"])
    bookkeeping = bench.child_bookkeeping(space.bench.plan_id)

    expected = _shape(space.sessions / real["session"] / "journal.jsonl")
    assert _shape(space.sessions / written / "journal.jsonl") == expected
    assert _shape(space.sessions / bookkeeping["session"] / "journal.jsonl") == expected
    assert len(bookkeeping["times"]) == JOBS
    header = json.loads((space.sessions / written / "session.json").read_text())
    assert header["progress"] == {"done": JOBS, "total": JOBS}
    assert header["options"]["targets"] == [space.bench.plan_id]


def test_incomplete_session_resumes_at_the_next_job(bench, space):
    (session,) = bench.build_sessions(space.bench.plan_id, [f"{JOBS - 3}:incomplete"])
    resumed = bench.child_resume(space.bench.plan_id, session)
    assert resumed["next_job"] == f"{bench.run_jobs.NAMESPACE}::job-{JOBS - 2:05d}"
    loaded = bench.child_load(space.bench.plan_id, session)
    assert loaded["results"] == JOBS - 3


def test_whole_state_simulation_writes_one_file(bench, space, tmp_path):
    data = bench.child_whole_state(space.bench.plan_id, str(tmp_path))
    assert len(data["times"]) == JOBS
    assert (tmp_path / "session.json.gz").stat().st_size == data["file_bytes"]


def test_quick_run_prints_three_sections_with_targets(bench, capsys):
    assert bench.main(["--quick", "--quiet", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    sizes = bench.QUICK

    rows = report["flat"]["rows"]
    assert [row["jobs"] for row in rows] == [sizes.small] * 4 + [sizes.large] * 4
    assert [row["name"] for row in rows[:4]] == [
        bench.RUN_LOOP,
        bench.RUN_OVERHEAD,
        bench.BOOKKEEPING,
        bench.WHOLE_STATE,
    ]
    assert all(
        row["per_job_ms"] > 0 for row in rows if row["name"] != bench.RUN_OVERHEAD
    )
    assert [row["name"] for row in report["resume"]["rows"]] == list(
        bench.RESUME_STEPS.values()
    )
    assert report["resume"]["facts"]["records"] > 2 * sizes.resume
    assert len(report["list"]["rows"]) == 4
    assert report["list"]["sessions"] == sizes.sessions

    table = bench.format_table(report)
    assert "QUICK sizes" in table
    for heading in ("1. Per-job journaling cost", "2. Resume of a", "3. session list"):
        assert heading in table
    verdict = r"^  .*: [0-9.]+(?:x| s)  (PASS|FAIL)$"
    verdicts = re.findall(verdict, table, flags=re.MULTILINE)
    assert len(verdicts) == 5  # 2 for the per-job cost, 1 resume, 2 list
