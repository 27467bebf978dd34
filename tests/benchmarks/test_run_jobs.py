"""The job-overhead benchmark runs end to end on a small plan; no timing asserts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from types import ModuleType

import pytest

from plainbox.paths import BUILTIN_PROVIDER_DIR
from plainbox.units.catalog import load_catalog
from plainbox.units.model import TestPlan
from plainbox.units.problems import Severity


JOBS = 20


@pytest.fixture(scope="module")
def bench(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("run_jobs")


def test_generated_provider_is_valid_and_plan_selects_every_job(bench, tmp_path):
    generated = bench.write_provider(tmp_path, JOBS)
    catalog = load_catalog([tmp_path / "providers"], builtin_dir=BUILTIN_PROVIDER_DIR)
    errors = [p for p in catalog.problems if p.severity is Severity.ERROR]
    assert errors == []
    jobs = [job for job in catalog.jobs if job.namespace == bench.NAMESPACE]
    assert len(jobs) == JOBS
    assert {job.command for job in jobs} == {"true"}
    assert any(job.depends for job in jobs)
    assert catalog.resolve(generated.plan_id, TestPlan).id == bench.PLAN_ID
    assert generated.env["PLAINBOX_PROVIDERPATH"] == str(tmp_path / "providers")
    assert generated.env["PLAINBOX_STATE_DIR"] == str(tmp_path / "state")


def test_cli_run_reports_every_job_passing(bench, tmp_path):
    generated = bench.write_provider(tmp_path, JOBS)
    run, data = bench.time_cli(generated, tmp_path / "report.json")
    results = data["results"]
    assert len(results) == JOBS
    assert [r["outcome"] for r in results] == ["pass"] * JOBS
    assert run.outcomes == {"pass": JOBS}
    assert run.wall > 0
    assert run.slices is not None  # the report says when each job started
    # Sessions went to the temporary state directory, not the user's.
    assert any((tmp_path / "state").iterdir())


def test_loop_and_api_runs(bench, tmp_path):
    generated = bench.write_provider(tmp_path, JOBS)
    assert bench.time_loop(generated).wall > 0
    api = bench.time_api(generated)
    assert api.outcomes == {"pass": JOBS}
    assert {"1 import", "2 load", "3 run_test_plan"} <= set(api.phases)


def test_main_prints_a_json_report(bench, capsys):
    assert bench.main(["--jobs", str(JOBS), "--repeat", "1", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    (size,) = report["sizes"]
    assert size["jobs"] == JOBS
    names = [row["name"] for row in size["rows"]]
    assert names == [bench.LOOP, bench.CLI, bench.API]
    for row in size["rows"][1:]:
        assert row["outcomes"] == {"pass": JOBS}
    assert report["target"]["passed"] is None  # 1,000 jobs were not measured
    table = bench.format_table(report)
    assert "target: plainbox <= 1.5x plain loop at 1,000 jobs: not measured" in table


def test_slices_compare_the_start_and_the_end_of_a_session(bench):
    starts = [float(i) / 1000 for i in range(40)]  # 1 ms apart...
    starts[-5:] = [starts[-6] + 0.002 * k for k in range(1, 6)]  # ...then 2 ms
    finishes = [start + 0.0005 for start in starts]
    cut = bench.slices(starts, finishes)
    assert cut.count == 4
    assert cut.first_interval == pytest.approx(1.0)
    assert cut.last_interval == pytest.approx(2.0)
    assert cut.first_command == pytest.approx(0.5)
    assert bench.slices(starts[:4], finishes[:4]) is None


def test_job_times_skip_results_without_times(bench):
    assert bench.job_times([{"outcome": "pass"}]) is None
    assert bench.job_times([{"started_at": 10, "finished_at": 10.5}]) == (
        [10.0],
        [10.5],
    )
    assert bench.job_times([{"started": 10, "duration": 0.25}]) == ([10.0], [10.25])
    assert bench.job_times([{"started": 10}]) == ([10.0], [None])
    iso = {
        "started_at": "1970-01-01T00:00:10.000000Z",
        "finished_at": "1970-01-01T00:00:10.250000Z",
    }
    assert bench.job_times([iso]) == ([10.0], [10.25])
    assert bench.job_times([{"started_at": None, "started": 3}]) == ([3.0], [None])


def test_the_no_sync_row_runs_plainbox_with_fsync_a_no_op(bench, tmp_path):
    generated = bench.write_provider(tmp_path, JOBS)
    unsynced = bench.without_sync(generated)
    probe = "import os; print(os.fsync(0), os.fdatasync(0))"
    shown = subprocess.run(
        [sys.executable, "-c", probe],
        env=unsynced.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.split() == ["None", "None"]
    run, _ = bench.time_cli(unsynced, tmp_path / "report.json")
    assert run.outcomes == {"pass": JOBS}


def test_main_adds_the_runner_and_no_sync_rows_when_asked(bench, capsys):
    argv = ["--jobs", str(JOBS), "--repeat", "1", "--json", "--quiet"]
    assert bench.main([*argv, "--runner", "--no-sync"]) == 0
    (size,) = json.loads(capsys.readouterr().out)["sizes"]
    names = [row["name"] for row in size["rows"]]
    assert names == [bench.LOOP, bench.CLI, bench.API, bench.RUNNER, bench.NO_SYNC]
    assert size["rows"][-1]["outcomes"] == {"pass": JOBS}
