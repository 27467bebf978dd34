"""The command line: exit statuses, listings, show, run and its JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plainbox.cli.main import ExitCode
from plainbox.cli.main import main


TUTORIAL = Path(__file__).resolve().parents[2] / "providers" / "tutorial"

UNITS = """\
id: passes
_summary: A job that passes
plugin: shell
command: echo ok

id: fails
_summary: A job that fails
plugin: shell
command: echo bad >&2; exit 3

id: after-fail
_summary: Depends on the failing job
plugin: shell
depends: fails
command: true

unit: test plan
id: plan
_name: The plan
include:
 passes
 fails
 after-fail

unit: test plan
id: green
_name: Only passing jobs
include: passes
"""


@pytest.fixture
def provider(toml_provider):
    return toml_provider(UNITS)


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("validate", "list", "show", "run"):
        assert command in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["list", "nonsense"],
        ["run"],
    ],
)
def test_usage_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == ExitCode.USAGE_ERROR


def test_run_unknown_test_plan_is_a_usage_error(capsys, provider):
    with pytest.raises(SystemExit) as exit_info:
        main(["-P", str(provider), "run", "no-such-plan", "--non-interactive"])
    assert exit_info.value.code == ExitCode.USAGE_ERROR
    assert "no-such-plan" in capsys.readouterr().err


@pytest.mark.parametrize("spec", ["json", "json:", "yaml:out.yaml"])
def test_run_bad_report_spec_is_a_usage_error(capsys, provider, spec):
    with pytest.raises(SystemExit) as exit_info:
        main(["-P", str(provider), "run", "plan", "--report", spec])
    assert exit_info.value.code == ExitCode.USAGE_ERROR


def test_run_writes_json_report_in_execution_order(capsys, provider, tmp_path):
    report = tmp_path / "out" / "report.json"
    code, out, _ = run_main(
        capsys,
        "-P",
        str(provider),
        "run",
        "com.example::plan",
        "--non-interactive",
        "--report",
        f"json:{report}",
    )
    assert code == ExitCode.FAILED
    data = json.loads(report.read_text())
    assert data["schema_version"] == 2
    rows = [(r["id"], r["outcome"], r["return_code"]) for r in data["results"]]
    assert rows == [
        ("com.example::passes", "pass", 0),
        ("com.example::fails", "fail", 3),
        ("com.example::after-fail", "skipped-dependency", None),
    ]
    assert all(isinstance(r["duration"], float) for r in data["results"])
    assert data["results"][1]["stderr"] == "bad\n"
    assert str(report) in out


def test_run_exits_0_when_nothing_failed(capsys, provider):
    code, out, _ = run_main(
        capsys, "-P", str(provider), "run", "green", "--non-interactive"
    )
    assert code == ExitCode.OK
    # Without --report, the report goes to the session directory.
    assert "report.json" in out


def test_list_jobs_json_has_full_ids_and_absolute_origins(capsys, provider):
    code, out, _ = run_main(
        capsys, "-P", str(provider), "list", "jobs", "--format", "json"
    )
    assert code == 0
    rows = {row["id"]: row for row in json.loads(out)}
    row = rows["com.example::passes"]
    assert row["summary"] == "A job that passes"
    path, _, line = row["origin"].rpartition(":")
    assert Path(path).is_absolute()
    assert path == str(provider / "units" / "units.pxu")
    assert line == "1"


@pytest.mark.parametrize(
    ("group", "expected_id", "name_key"),
    [
        ("test-plans", "com.example::plan", "name"),
        ("categories", "com.canonical.plainbox::uncategorised", "name"),
        ("providers", "com.example:example", "name"),
    ],
)
def test_list_groups_json(capsys, provider, group, expected_id, name_key):
    code, out, _ = run_main(
        capsys, "-P", str(provider), "list", group, "--format", "json"
    )
    assert code == 0
    rows = {row["id"]: row for row in json.loads(out)}
    assert expected_id in rows
    assert rows[expected_id][name_key]


def test_show_test_plan_lists_resolved_jobs(capsys, provider):
    code, out, _ = run_main(
        capsys, "-P", str(provider), "show", "com.example::plan", "--format", "json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["selection"]["include"] == [
        "com.example::passes",
        "com.example::fails",
        "com.example::after-fail",
    ]
    assert data["fields"]["name"] == "The plan"


def test_show_text_names_origin(capsys, provider):
    code, out, _ = run_main(capsys, "-P", str(provider), "show", "passes")
    assert code == 0
    assert f"{provider / 'units' / 'units.pxu'}:1" in out
    assert "command: echo ok" in out


def test_terminal_output_is_sanitized(capsys, tmp_path):
    directory = tmp_path / "p"
    (directory / "units").mkdir(parents=True)
    (directory / "provider.toml").write_text(
        '[provider]\nname = "x"\nnamespace = "com.x"\nversion = "1"\n'
    )
    (directory / "units" / "u.pxu").write_text(
        "id: evil\n_summary: a\x1b]0;pwned\x07b\x1b[31mc\nplugin: shell\ncommand: true\n"
    )
    code, out, _ = run_main(capsys, "-P", str(directory), "list", "jobs")
    assert code == 0
    assert "\x1b" not in out
    assert "com.x::evil  abc" in out


def test_console_script_runs_tutorial(tmp_path):
    """The README's main job, as a real subprocess."""
    env = {**os.environ, "PLAINBOX_STATE_DIR": str(tmp_path / "state")}
    env.pop("PLAINBOX_PROVIDERPATH", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "plainbox",
            "run",
            "io.plainbox.tutorial::tutorial",
            "--non-interactive",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Report (json):" in done.stdout
    report = Path(done.stdout.split("Report (json): ")[1].split()[0])
    data = json.loads(report.read_text())
    assert {r["outcome"] for r in data["results"]} >= {
        "pass",
        "skip",
        "skipped-resource",
    }
    assert oct(report.parent.stat().st_mode & 0o777) == "0o700"


def test_validate_bundled_providers_are_clean(capsys):
    from plainbox.paths import BUILTIN_PROVIDER_DIR

    code, out, _ = run_main(
        capsys, "validate", str(BUILTIN_PROVIDER_DIR), str(TUTORIAL)
    )
    assert (code, out) == (0, "")


BROKEN = """\
id: broken
plugin: shel
command: true

id: also broken
this line is not a field
"""


@pytest.mark.parametrize("output", ["text", "json"])
def test_validate_reports_located_errors_and_exits_1(capsys, tmp_path, output):
    directory = tmp_path / "bad"
    (directory / "units").mkdir(parents=True)
    (directory / "provider.toml").write_text(
        '[provider]\nname = "bad"\nnamespace = "com.bad"\nversion = "1"\n'
    )
    unit_file = directory / "units" / "bad.pxu"
    unit_file.write_text(BROKEN)
    (directory / "units" / "good.pxu").write_text(
        "id: fine\nplugin: shell\ncommand: true\n"
    )
    code, out, _ = run_main(capsys, "validate", str(directory), "--format", output)
    assert code == 1
    if output == "json":
        problems = json.loads(out)
        assert {(p["line"], p["severity"]) for p in problems} >= {
            (2, "error"),
            (6, "error"),
        }
        assert all(p["path"] == str(unit_file) for p in problems)
    else:
        assert f"{unit_file}:2: error:" in out
        assert f"{unit_file}:6: error:" in out


def test_validate_strict_fails_on_warnings(capsys, tmp_path):
    directory = tmp_path / "warn"
    (directory / "units").mkdir(parents=True)
    (directory / "provider.toml").write_text(
        '[provider]\nname = "warn"\nnamespace = "com.warn"\nversion = "1"\n'
    )
    (directory / "units" / "u.pxu").write_text(
        "id: w\n_summary: s\nplugin: shell\ncommand: true\nunknwon: 1\n"
    )
    assert run_main(capsys, "validate", str(directory))[0] == 0
    code, out, _ = run_main(capsys, "validate", "--strict", str(directory))
    assert code == 1
    assert "unknown field 'unknwon'" in out


def test_list_warns_about_files_skipped_for_syntax_errors(capsys, tmp_path):
    directory = tmp_path / "half"
    (directory / "units").mkdir(parents=True)
    (directory / "provider.toml").write_text(
        '[provider]\nname = "half"\nnamespace = "com.half"\nversion = "1"\n'
    )
    (directory / "units" / "bad.pxu").write_text("id: lost\nnot a field\n")
    (directory / "units" / "good.pxu").write_text(
        "id: kept\nplugin: shell\ncommand: true\n"
    )
    code, out, err = run_main(capsys, "-P", str(directory), "list", "jobs")
    assert code == 0
    assert "com.half::kept" in out
    assert "com.half::lost" not in out
    assert "1 unit file(s) could not be parsed" in err
