"""``plainbox startprovider`` and ``plainbox provider test``, through real processes.

Every command runs as ``python -m plainbox`` in a subprocess, with a real
shellcheck where one is needed. The autouse fixture of tests/conftest.py
points PLAINBOX_STATE_DIR and PLAINBOX_PROVIDERPATH at empty temporary
directories, and subprocesses inherit that environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


NAMESPACE = "com.example"
SKELETON_FILES = {
    "README.md",
    "bin/first-hello",
    "data/greeting.txt",
    "provider.toml",
    "tests/test_first.py",
    "units/jobs.pxu",
    "units/test-plans.pxu",
}
# The jobs a skeleton's smoke plan runs everywhere (templates add one job
# per installed shell, bash always among them).
SMOKE_JOBS = {"hello", "hello-script", "bash-version", "shells", "shell-installed-bash"}

needs_shellcheck = pytest.mark.skipif(
    shutil.which("shellcheck") is None, reason="shellcheck is not installed"
)


def plainbox(
    *argv: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plainbox", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )


def start(directory: Path, provider_id: str = f"{NAMESPACE}:first") -> Path:
    done = plainbox("startprovider", provider_id, str(directory))
    assert done.returncode == 0, done.stderr
    return directory


@pytest.fixture
def skeleton(tmp_path: Path) -> Path:
    return start(tmp_path / "first")


def files_under(directory: Path) -> set[str]:
    return {
        path.relative_to(directory).as_posix()
        for path in directory.rglob("*")
        if path.is_file()
    }


def write_provider(base: Path, units: str, name: str = "checked") -> Path:
    (base / "units").mkdir(parents=True)
    (base / "provider.toml").write_text(
        f'[provider]\nname = "{name}"\nnamespace = "{NAMESPACE}"\nversion = "1.0"\n'
    )
    (base / "units" / "jobs.pxu").write_text(textwrap.dedent(units))
    return base


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the only line of ``path`` containing ``text``."""
    hits = [
        number
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if text in line
    ]
    assert len(hits) == 1, hits
    return hits[0]


# --- startprovider -----------------------------------------------------------


def test_startprovider_writes_the_skeleton_and_says_what_next(tmp_path):
    directory = tmp_path / "first"
    done = plainbox("startprovider", f"{NAMESPACE}:first", str(directory))
    assert done.returncode == 0, done.stderr
    assert files_under(directory) == SKELETON_FILES
    for relative in SKELETON_FILES:
        assert str(directory / relative) in done.stdout
        # Every marker of the templates was replaced.
        assert not re.search(r"@[A-Z_]+@", (directory / relative).read_text())
    assert f"plainbox validate --strict {directory}" in done.stdout
    assert f"plainbox provider test {directory}" in done.stdout
    assert (
        f"plainbox -P {directory} run {NAMESPACE}::smoke --non-interactive"
        in done.stdout
    )
    declaration = tomllib.loads((directory / "provider.toml").read_text())
    assert declaration["provider"]["name"] == "first"
    assert declaration["provider"]["namespace"] == NAMESPACE
    assert declaration["provider"]["version"] == "0.1.0"
    assert declaration["provider"]["description"]
    script = directory / "bin" / "first-hello"
    assert os.access(script, os.X_OK)
    assert script.read_text().startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in script.read_text()


def test_startprovider_defaults_to_a_directory_named_after_the_provider(tmp_path):
    done = plainbox("startprovider", f"{NAMESPACE}:first", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert files_under(tmp_path / "first") == SKELETON_FILES


def test_skeleton_validates_strictly_with_zero_problems(skeleton):
    done = plainbox(
        "validate", "--strict", "--advice", "--format", "json", str(skeleton)
    )
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout) == []


def test_skeleton_smoke_plan_runs_and_every_job_passes(skeleton, tmp_path):
    html = tmp_path / "out.html"
    report = tmp_path / "out.json"
    done = plainbox(
        "-P",
        str(skeleton),
        "run",
        f"{NAMESPACE}::smoke",
        "--non-interactive",
        "--report",
        f"html:{html}",
        "--report",
        f"json:{report}",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert html.stat().st_size > 0
    results = json.loads(report.read_text())["results"]
    outcomes = {result["id"]: result["outcome"] for result in results}
    assert {f"{NAMESPACE}::{job}" for job in SMOKE_JOBS} <= outcomes.keys()
    assert set(outcomes.values()) == {"pass"}


def test_smoke_plan_names_its_jobs_so_new_jobs_stay_out(skeleton):
    plans = (skeleton / "units" / "test-plans.pxu").read_text()
    assert "id: smoke" in plans
    assert ".*" not in plans
    (skeleton / "units" / "first-steps.pxu").write_text(
        "id: my-first-job\n_summary: A job the author added\nplugin: shell\n"
        "estimated_duration: 0.1\ncommand: true\n"
    )
    done = plainbox(
        "-P", str(skeleton), "show", f"{NAMESPACE}::smoke", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    included = json.loads(done.stdout)["selection"]["include"]
    assert f"{NAMESPACE}::hello" in included
    assert f"{NAMESPACE}::my-first-job" not in included


def test_skeleton_unit_tests_run_with_plain_unittest(skeleton):
    done = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests"],
        cwd=skeleton,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Ran 3 tests" in done.stderr


@needs_shellcheck
def test_skeleton_passes_provider_test(skeleton):
    done = plainbox("provider", "test", str(skeleton))
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert summary == (
        f"PASS {NAMESPACE}:first ({skeleton}): validation: no problems; "
        "shellcheck: 6 scripts, no findings; unit tests: passed"
    )
    assert "Ran 3 tests" in done.stdout
    # The check leaves nothing behind in the provider's tree.
    assert files_under(skeleton) == SKELETON_FILES


def test_hyphenated_name_gets_a_discoverable_test_module(tmp_path):
    directory = start(tmp_path / "prov", f"{NAMESPACE}:my-prov")
    assert (directory / "bin" / "my-prov-hello").is_file()
    assert (directory / "tests" / "test_my_prov.py").is_file()
    done = plainbox("provider", "test", str(directory))
    assert done.returncode == 0, done.stdout
    assert "Ran 3 tests" in done.stdout


@pytest.mark.parametrize(
    "provider_id",
    [
        "first",
        "com.example",
        "example:first",
        "Com.example:first",
        "com..example:first",
        "com.example.:first",
        "com.ex_ample:first",
        "com.example:First",
        "com.example:-first",
        "com.example:fir.st",
        "com.example:",
    ],
)
def test_startprovider_refuses_a_bad_id_with_usage_error(tmp_path, provider_id):
    done = plainbox("startprovider", provider_id, str(tmp_path / "p"))
    assert done.returncode == 2
    assert done.stderr.startswith("plainbox: error: ")
    assert not (tmp_path / "p").exists()


def test_startprovider_never_writes_into_a_non_empty_directory(tmp_path):
    directory = tmp_path / "taken"
    directory.mkdir()
    (directory / "README.md").write_text("mine\n")
    done = plainbox("startprovider", f"{NAMESPACE}:first", str(directory))
    assert done.returncode == 1
    assert done.stderr.startswith("plainbox: error: ")
    assert "not empty" in done.stderr
    assert files_under(directory) == {"README.md"}
    assert (directory / "README.md").read_text() == "mine\n"


def test_startprovider_refuses_a_file_and_fills_an_empty_directory(tmp_path):
    existing = tmp_path / "a-file"
    existing.write_text("keep\n")
    done = plainbox("startprovider", f"{NAMESPACE}:first", str(existing))
    assert done.returncode == 1
    assert "not a directory" in done.stderr
    assert existing.read_text() == "keep\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert files_under(start(empty)) == SKELETON_FILES


# --- provider test -----------------------------------------------------------


@needs_shellcheck
def test_sc2086_in_an_inline_command_is_reported_at_its_pxu_line(tmp_path):
    # A PXU comment and a magic dot inside the command shift its lines: the
    # finding must still point at the line that holds "ls $target".
    provider = write_provider(
        tmp_path / "p",
        """\
        id: unquoted
        _summary: List a directory with an unquoted variable
        plugin: shell
        estimated_duration: 0.1
        command:
         target=$PLAINBOX_SESSION_SHARE
        # a PXU comment, dropped from the value
         .
         ls $target
        """,
    )
    pxu = provider / "units" / "jobs.pxu"
    expected = (
        f"{pxu}:{line_of(pxu, 'ls $target')}: info: SC2086 "
        "Double quote to prevent globbing and word splitting."
    )
    done = plainbox("provider", "test", str(provider))
    assert expected in done.stdout.splitlines()
    # info findings are shown but fail only with --strict.
    assert done.returncode == 0, done.stdout
    assert "shellcheck: 1 script, 0 failing, 1 other finding(s)" in done.stdout
    strict = plainbox("provider", "test", "--strict", str(provider))
    assert strict.returncode == 1
    assert expected in strict.stdout.splitlines()
    assert strict.stdout.strip().splitlines()[-1].startswith("FAIL ")


@needs_shellcheck
def test_templates_and_bin_scripts_are_checked_and_warnings_fail(tmp_path):
    provider = write_provider(
        tmp_path / "p",
        """\
        id: things
        _summary: List things
        plugin: resource
        estimated_duration: 0.1
        command: printf 'name: one\\n'

        unit: template
        template-resource: things
        template-id: enter
        id: enter-{name}
        _summary: Enter the directory of {name}
        plugin: shell
        estimated_duration: 0.1
        command:
         echo "{name}" | awk '{{ print $1 }}'
         cd /tmp/{name}
         pwd

        unit: template
        template-resource: things
        template-engine: jinja2
        template-id: branchy
        id: branchy-{{ name }}
        _summary: Branch on {{ name }}
        plugin: shell
        estimated_duration: 0.1
        command:
         {% if name %}
         echo {{ name }}
         {% endif %}
        """,
    )
    (provider / "bin").mkdir()
    script = provider / "bin" / "clean-up"
    script.write_text("#!/usr/bin/env bash\nset -eu\nfile=$1\ncat $file\n")
    script.chmod(0o755)
    helper = provider / "bin" / "helper.py"
    helper.write_text("#!/usr/bin/env python3\nprint('$x')\n")
    helper.chmod(0o755)
    pxu = provider / "units" / "jobs.pxu"
    done = plainbox("provider", "test", str(provider))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    # The {name} placeholders do not make findings; the unchecked cd does.
    assert (
        f"{pxu}:{line_of(pxu, 'cd /tmp/{name}')}: warning: SC2164 "
        "Use 'cd ... || exit' or 'cd ... || return' in case cd fails."
    ) in lines
    assert f"{script}:4: info: SC2086 " in done.stdout
    assert (
        f"{pxu}:{line_of(pxu, '{% if name %}') - 1}: note: {NAMESPACE}::branchy: "
        "command uses jinja2 {% %} blocks"
    ) in done.stdout
    # Two commands (resource job, python-format template) and one bin script;
    # the jinja2 one is skipped and helper.py is not a shell script.
    assert "shellcheck: 3 scripts, 1 failing, 1 other finding(s)" in lines[-1], lines[
        -1
    ]
    assert lines[-1].startswith(f"FAIL {NAMESPACE}:checked ")


@needs_shellcheck
def test_hundreds_of_commands_are_batched_and_mapped(tmp_path):
    jobs = "\n".join(
        f"id: job-{index}\n_summary: Job {index}\nplugin: shell\n"
        f"estimated_duration: 0.1\ncommand:\n"
        f" value=$PLAINBOX_SESSION_SHARE/{index}\n ls $value\n"
        for index in range(250)
    )
    provider = write_provider(tmp_path / "p", jobs)
    pxu = provider / "units" / "jobs.pxu"
    expected = {
        f"{pxu}:{number}: info: SC2086 Double quote to prevent globbing and "
        "word splitting."
        for number, line in enumerate(pxu.read_text().splitlines(), 1)
        if line == " ls $value"
    }
    assert len(expected) == 250
    done = plainbox("provider", "test", str(provider))
    assert done.returncode == 0, done.stdout
    assert {line for line in done.stdout.splitlines() if "SC2086" in line} == expected
    assert "shellcheck: 250 scripts, 0 failing, 250 other finding(s)" in done.stdout


def test_missing_shellcheck_is_a_note_not_a_failure(skeleton, tmp_path):
    # A PATH with the tools the skeleton's unit tests need but no shellcheck.
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("bash", "sh"):
        found = shutil.which(name)
        assert found is not None
        (tools / name).symlink_to(found)
    (tools / "python3").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(tools)}
    done = plainbox("provider", "test", str(skeleton), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "shellcheck not found: shell checks skipped (install shellcheck)"
        in done.stdout.splitlines()
    )
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"PASS {NAMESPACE}:first ")
    assert "shellcheck: skipped (not installed)" in summary
    assert "unit tests: passed" in summary


def test_validation_warnings_fail(tmp_path):
    provider = write_provider(
        tmp_path / "p",
        f"""\
        id: long-summary
        _summary: {"A summary that goes on and on " * 4}
        plugin: shell
        estimated_duration: 0.1
        command: true
        """,
    )
    done = plainbox("provider", "test", str(provider))
    assert done.returncode == 1
    pxu = provider / "units" / "jobs.pxu"
    assert f"{pxu}:2: warning: " in done.stdout
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith("FAIL ")
    assert "validation: 1 warning" in summary


def test_failing_unit_tests_fail_and_their_output_is_shown(skeleton):
    (skeleton / "tests" / "test_extra.py").write_text(
        "import unittest\n\n\n"
        "class Extra(unittest.TestCase):\n"
        "    def test_deliberately_broken(self):\n"
        "        self.assertEqual(1, 2)\n"
    )
    done = plainbox("provider", "test", str(skeleton))
    assert done.returncode == 1
    assert "test_deliberately_broken" in done.stdout
    assert "FAILED (failures=1)" in done.stdout
    assert "unit tests: failed (exit status 1)" in done.stdout


def test_unit_tests_are_stopped_at_the_timeout(skeleton):
    (skeleton / "tests" / "test_slow.py").write_text(
        "import time\nimport unittest\n\n\n"
        "class Slow(unittest.TestCase):\n"
        "    def test_sleeps(self):\n"
        "        time.sleep(60)\n"
    )
    done = plainbox("provider", "test", "--timeout", "3", str(skeleton))
    assert done.returncode == 1
    assert "unit tests: timed out after 3 s" in done.stdout


def test_default_is_the_current_directory_and_each_provider_gets_a_summary(
    skeleton, tmp_path
):
    done = plainbox("provider", "test", cwd=skeleton)
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith(f"PASS {NAMESPACE}:first")
    broken = write_provider(
        tmp_path / "broken",
        "id: no-plugin\n_summary: Lacks its plugin\ncommand: true\n",
    )
    both = plainbox("provider", "test", str(skeleton), str(broken))
    assert both.returncode == 1
    summaries = [
        line for line in both.stdout.splitlines() if line.startswith(("PASS", "FAIL"))
    ]
    assert [line.split()[:2] for line in summaries] == [
        ["PASS", f"{NAMESPACE}:first"],
        ["FAIL", f"{NAMESPACE}:checked"],
    ]


def test_a_missing_directory_is_a_usage_error_and_a_non_provider_fails(tmp_path):
    missing = plainbox("provider", "test", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert missing.stderr.startswith("plainbox: error: ")
    empty = tmp_path / "empty"
    empty.mkdir()
    done = plainbox("provider", "test", str(empty))
    assert done.returncode == 1
    assert f"FAIL {empty}: not a provider" in done.stdout
