"""The run loop's phases: setup failures, cycles, generated jobs, timestamps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plainbox.errors import SetupFailedError
from plainbox.execution.controller import RunOptions
from plainbox.execution.controller import run_test_plan
from plainbox.paths import BUILTIN_PROVIDER_DIR
from plainbox.units.catalog import load_catalog
from plainbox.units.model import TestPlan


NS = "com.example"


def run(tmp_path: Path, units: str, **options):
    directory = tmp_path / "provider"
    (directory / "units").mkdir(parents=True, exist_ok=True)
    (directory / "provider.toml").write_text(
        f'[provider]\nname = "example"\nnamespace = "{NS}"\nversion = "1"\n'
    )
    (directory / "units" / "units.pxu").write_text(units)
    catalog = load_catalog([], explicit=[directory], builtin_dir=BUILTIN_PROVIDER_DIR)
    share = tmp_path / "share"
    share.mkdir(exist_ok=True)
    plan = catalog.resolve(f"{NS}::tp", TestPlan)
    return run_test_plan(catalog, plan, RunOptions(session_share=share, **options))


def outcomes(results) -> dict[str, str]:
    return {job.partial_id: result.outcome.value for job, result in results}


SETUP = """\
unit: setup job
id: prepare
plugin: shell
command: {command}

id: test
plugin: shell
command: true

unit: test plan
id: tp
_name: Plan
setup_include: prepare
include: test
"""


def test_failing_setup_job_stops_the_run(tmp_path):
    with pytest.raises(SetupFailedError) as error:
        run(tmp_path, SETUP.format(command="exit 4"))
    assert "prepare" in str(error.value)
    assert outcomes(error.value.results) == {"prepare": "fail"}


def test_passing_setup_job_lets_the_run_go_on(tmp_path):
    assert outcomes(run(tmp_path, SETUP.format(command="true"))) == {
        "prepare": "pass",
        "test": "pass",
    }


CYCLE = """\
id: a
plugin: shell
depends: b
command: true

id: b
plugin: shell
after: a
command: true

id: free
plugin: shell
command: true

id: needs-ghost
plugin: shell
depends: ghost
command: true

unit: test plan
id: tp
_name: Plan
include:
 a
 b
 free
 needs-ghost
"""


def test_cycles_are_reported_on_their_jobs_and_the_rest_runs(tmp_path):
    results = run(tmp_path, CYCLE)
    found = outcomes(results)
    assert found["free"] == "pass"
    assert found["a"] == found["b"] == "fail"
    comments = {job.partial_id: result.comments for job, result in results}
    assert "dependency cycle" in comments["a"]
    assert f"{NS}::a" in comments["a"]
    assert f"{NS}::b" in comments["a"]


def test_depending_on_a_job_that_does_not_exist_names_it(tmp_path):
    results = run(tmp_path, CYCLE)
    _job, result = next(pair for pair in results if pair[0].partial_id == "needs-ghost")
    assert result.outcome.value == "skipped-dependency"
    assert "do not exist" in result.comments
    assert result.skip_reason == {"related_dependencies": [f"{NS}::ghost"]}


SIBLINGS = """\
id: base
plugin: shell
flags: also-after-suspend
_siblings: [{"id": "base-twin", "_summary": "The twin"}]
command: true

unit: test plan
id: tp
_name: Plan
include:
 base
 base-twin
"""


def test_siblings_are_generated_and_selectable(tmp_path):
    results = run(tmp_path, SIBLINGS)
    found = outcomes(results)
    assert found["base"] == "pass"
    assert found["base-twin"] == "pass"
    twin = next(job for job, _ in results if job.partial_id == "base-twin")
    assert twin.summary == "The twin"


def test_results_carry_start_and_finish_times_and_phases_are_announced(tmp_path):
    phases: list[tuple[str, list[str]]] = []
    results = run(
        tmp_path,
        SETUP.format(command="true"),
        on_phase=lambda name, jobs: phases.append((name, [j.partial_id for j in jobs])),
    )
    assert phases == [("setup", ["prepare"]), ("bootstrap", []), ("main", ["test"])]
    for _, result in results:
        assert result.started is not None
        assert result.finished is not None
        assert result.started <= result.finished
    json.dumps([r.started for _, r in results])  # plain floats


IO = """\
id: talk
plugin: shell
command: printf 'out\\n'; printf 'err\\n' >&2; printf '\\377\\n'

id: litter
plugin: shell
command: touch left-behind

id: tidy-litter
plugin: shell
flags: has-leftovers
command: touch expected

unit: test plan
id: tp
_name: Plan
include:
 talk
 litter
 tidy-litter
"""


def test_each_attempt_gets_a_private_io_log_and_live_output(tmp_path):
    from plainbox.execution.iolog import read_io_log

    seen: list[tuple[str, bytes]] = []
    run(
        tmp_path,
        IO,
        io_log_dir=tmp_path / "io-logs",
        on_output=lambda job, line: seen.append((job.partial_id, line.data)),
    )
    # Attempts are numbered; jobs that print nothing leave no io-log.
    logs = sorted((tmp_path / "io-logs").iterdir())
    assert [log.name for log in logs] == [f"0001-{NS}__talk.log"]
    assert all(log.stat().st_mode & 0o777 == 0o600 for log in logs)
    lines = read_io_log(logs[0])
    assert {(line.stream, line.data) for line in lines} == {
        ("stdout", b"out\n"),
        ("stderr", b"err\n"),
        ("stdout", b"\xff\n"),
    }
    assert ("talk", b"\xff\n") in seen


def test_leftover_files_are_noted_unless_expected(tmp_path):
    results = run(tmp_path, IO)
    comments = {job.partial_id: result.comments for job, result in results}
    assert comments["litter"] == "left files in its directory: left-behind"
    assert comments["tidy-litter"] == ""
