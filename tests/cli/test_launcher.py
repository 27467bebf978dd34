"""Launcher files: parsing, warnings, errors, and how ``plainbox run`` uses them."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from plainbox.cli.launcher import Launcher
from plainbox.cli.launcher import anchored_pattern
from plainbox.cli.launcher import load_launcher
from plainbox.cli.launcher import with_exclusions
from plainbox.cli.main import ExitCode
from plainbox.cli.main import main
from plainbox.errors import UsageError
from plainbox.units.catalog import load_catalog
from plainbox.units.model import TestPlan
from plainbox.units.testplan import resolve_test_plan


ENV_KEY = "PLAINBOX_TEST_Launcher_Var"

UNITS = f"""\
id: passes
_summary: A job that passes
plugin: shell
command: echo ok

id: slow-thing
_summary: A slow job
plugin: shell
command: true

id: show-env
_summary: Print a launcher variable
plugin: shell
command: echo "${ENV_KEY}"

id: manual-check
_summary: Look at the machine
plugin: manual

unit: test plan
id: plan
_name: The plan
include:
 passes
 slow-thing
 show-env
 manual-check

unit: test plan
id: other
_name: Another plan
include: passes
"""

FULL = """\
#!/usr/bin/env checkbox-cli
[launcher]
launcher_version = 1
app_id = com.example:lab
stock_reports = text, submission_json
session_title = Lab run

[test plan]
unit = com.example::plan
forced = yes

[test selection]
forced = true
exclude =
  com.example::unwanted
  .*slow.*
match = pass.* show-env

[ui]
type = silent

[environment]
MyVar = Hello World
lower = x

[manifest]
com.example::has_widget = true
com.example::widget_count = 2
"""


@pytest.fixture
def provider(tmp_path: Path) -> Path:
    directory = tmp_path / "provider"
    (directory / "units").mkdir(parents=True)
    (directory / "provider.toml").write_text(
        '[provider]\nname = "example"\nnamespace = "com.example"\nversion = "1.0"\n'
    )
    (directory / "units" / "units.pxu").write_text(UNITS)
    return directory


@pytest.fixture
def write_launcher(tmp_path: Path):
    def write(text: str, name: str = "launcher.ini") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


def run_launcher(
    capsys: pytest.CaptureFixture[str],
    provider: Path,
    launcher: Path,
    tmp_path: Path,
    *argv: str,
) -> tuple[int, dict[str, Any], str, str]:
    report = tmp_path / "report.json"
    code = main(
        [
            "-P",
            str(provider),
            "run",
            "--launcher",
            str(launcher),
            "--report",
            f"json:{report}",
            *argv,
        ]
    )
    out, err = capsys.readouterr()
    return code, json.loads(report.read_text()), out, err


def ids(report: dict[str, Any]) -> list[str]:
    return [row["id"].partition("::")[2] for row in report["results"]]


def test_every_key_is_read(write_launcher):
    path = write_launcher(FULL)
    launcher = load_launcher(path)
    assert launcher.path == path
    assert launcher.launcher_version == 1
    assert launcher.app_id == "com.example:lab"
    assert launcher.stock_reports == ("text", "submission_json")
    assert launcher.session_title == "Lab run"
    assert launcher.test_plan == "com.example::plan"
    assert launcher.test_plan_forced is True
    assert launcher.selection_forced is True
    assert [(q.text, q.origin.line) for q in launcher.exclude] == [
        ("com.example::unwanted", 15),
        (".*slow.*", 16),
    ]
    assert [q.text for q in launcher.match] == ["pass.*", "show-env"]
    assert launcher.ui_type == "silent"
    assert launcher.silent is True
    assert launcher.manifest == {
        "com.example::has_widget": "true",
        "com.example::widget_count": "2",
    }
    assert launcher.warnings == ()


def test_environment_keys_keep_their_case(write_launcher):
    launcher = load_launcher(write_launcher(FULL))
    assert launcher.environment == {"MyVar": "Hello World", "lower": "x"}


def test_defaults_of_an_empty_launcher(write_launcher):
    launcher = load_launcher(write_launcher("[launcher]\n"))
    assert launcher == Launcher(path=launcher.path)
    assert launcher.silent is False


@pytest.mark.parametrize(
    ("text", "line", "warning"),
    [
        (
            "[launcher]\napp_id = x\ncolour = yes\n",
            3,
            "unknown key 'colour' in [launcher]",
        ),
        ("[ui]\ntyp = silent\n", 2, "unknown key 'typ' in [ui] (did you mean 'type'?)"),
        ("[launcher]\n\n[stuff]\na = b\n", 3, "unknown section [stuff]"),
        ("[ui]\noutput = hide\n", 2, "[ui] output is not supported by plainbox"),
        (
            "[report:file]\nexporter = json\n",
            1,
            "section [report:file] is not supported",
        ),
        ("[DEFAULT]\nx = y\n", 1, "unknown section [DEFAULT]"),
        (
            "[launcher]\nstock_reports = text, bogus\n",
            2,
            "unknown stock report 'bogus'",
        ),
        ("[launcher]\nlauncher_version = 2\n", 2, "launcher_version 2 is not known"),
    ],
)
def test_warnings_name_file_and_line(write_launcher, text, line, warning):
    path = write_launcher(text)
    (found,) = load_launcher(path).warnings
    assert found.startswith(f"{path}:{line}: {warning}")


def test_warnings_reach_stderr(capsys, provider, write_launcher, tmp_path):
    path = write_launcher("[test plan]\nunit = other\n[ui]\nsize = big\n")
    _, _, _, err = run_launcher(capsys, provider, path, tmp_path)
    assert f"plainbox: warning: {path}:4: unknown key 'size' in [ui]" in err


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("app_id = x\n", 1, "expected a [section] header"),
        ("[ui]\ntype = silent\nthis is not a key\n", 3, "cannot parse"),
        ("[ui]\n[launcher]\n[ui]\n", 3, "section [ui] is written twice"),
        ("[ui]\ntype = silent\ntype = interactive\n", 3, "key 'type' is written twice"),
        ("[ui]\ntype = loud\n", 2, "[ui] type must be interactive or silent"),
        ("[test plan]\nforced = maybe\n", 2, "[test plan] forced must be yes or no"),
        (
            "[launcher]\nlauncher_version = two\n",
            2,
            "launcher_version must be a number",
        ),
        ("[test selection]\nexclude = ok\n  bad(\n", 3, "invalid pattern 'bad('"),
    ],
)
def test_malformed_launcher_is_a_usage_error(write_launcher, text, line, message):
    path = write_launcher(text)
    with pytest.raises(UsageError) as error:
        load_launcher(path)
    assert str(error.value).startswith(f"{path}:{line}: {message}")


def test_unreadable_launcher_is_a_usage_error(tmp_path, write_launcher):
    with pytest.raises(UsageError, match="cannot read the launcher"):
        load_launcher(tmp_path / "missing.ini")
    binary = tmp_path / "binary.ini"
    binary.write_bytes(b"[ui]\ntype = \xff\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_launcher(binary)


def test_malformed_launcher_exits_2(capsys, provider, write_launcher):
    path = write_launcher("no header\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["-P", str(provider), "run", "--launcher", str(path)])
    assert exit_info.value.code == ExitCode.USAGE_ERROR
    assert f"{path}:1:" in capsys.readouterr().err


def test_launcher_test_plan_runs_silently(capsys, provider, write_launcher, tmp_path):
    path = write_launcher("[test plan]\nunit = plan\n[ui]\ntype = silent\n")
    code, report, out, _ = run_launcher(capsys, provider, path, tmp_path)
    assert code == ExitCode.OK
    assert report["session"]["test_plan"] == "com.example::plan"
    assert ids(report) == ["passes", "slow-thing", "show-env", "manual-check"]
    assert report["results"][3]["outcome"] == "skip"
    assert _after_session_line(out).startswith("Running com.example::plan: The plan\n")


def test_environment_reaches_jobs(
    capsys, provider, write_launcher, tmp_path, monkeypatch
):
    monkeypatch.delenv(ENV_KEY, raising=False)
    path = write_launcher(f"[environment]\n{ENV_KEY} = from the launcher\n")
    _, report, _, _ = run_launcher(capsys, provider, path, tmp_path, "plan")
    (row,) = [row for row in report["results"] if row["id"].endswith("::show-env")]
    assert row["stdout"] == "from the launcher\n"


def test_test_selection_exclude_removes_jobs(
    capsys, provider, write_launcher, tmp_path
):
    path = write_launcher(
        "[test plan]\nunit = plan\n[test selection]\nexclude = .*slow.* "
        "com.example::show-env\n"
    )
    _, report, _, _ = run_launcher(capsys, provider, path, tmp_path)
    assert ids(report) == ["passes", "manual-check"]


def test_command_line_wins_over_the_launcher(
    capsys, provider, write_launcher, tmp_path
):
    path = write_launcher(
        "[launcher]\nsession_title = From the launcher\n[test plan]\nunit = plan\n"
    )
    _, report, _, _ = run_launcher(
        capsys, provider, path, tmp_path, "other", "--title", "From the command line"
    )
    assert report["session"]["test_plan"] == "com.example::other"
    assert report["session"]["title"] == "From the command line"
    _, report, _, _ = run_launcher(capsys, provider, path, tmp_path)
    assert report["session"]["title"] == "From the launcher"


def test_unknown_launcher_test_plan_exits_2(capsys, provider, write_launcher):
    path = write_launcher("[test plan]\nunit = com.example::nope\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["-P", str(provider), "run", "--launcher", str(path)])
    assert exit_info.value.code == ExitCode.USAGE_ERROR
    assert "com.example::nope" in capsys.readouterr().err


def test_test_selection_match_keeps_only_matching_jobs(
    capsys, provider, write_launcher, tmp_path
):
    path = write_launcher(
        "[test plan]\nunit = plan\n[test selection]\nmatch = pass.* show-env\n"
    )
    _, report, _, err = run_launcher(capsys, provider, path, tmp_path)
    assert ids(report) == ["passes", "show-env"]
    assert "match" not in err


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("com.example::job", "com.example::job"),
        ("^com.example::job$", "com.example::job"),
        ("wireless/.*", ".*::(?:wireless/.*)"),
        ("a|b", ".*::(?:a|b)"),
        ("^job$", ".*::(?:job)"),
    ],
)
def test_anchored_pattern(pattern, expected):
    assert anchored_pattern(pattern) == expected


def test_with_exclusions_adds_to_the_plan_excludes(provider, write_launcher):
    catalog = load_catalog([], explicit=[provider])
    plan = catalog.resolve("plan", TestPlan)
    launcher = load_launcher(
        write_launcher("[test selection]\nexclude = slow-.* passes\n")
    )
    changed = with_exclusions(plan, launcher.exclude)
    resolved = resolve_test_plan(changed, {tp.id: tp for tp in catalog.test_plans})
    selected = resolved.select("include", catalog.jobs)
    assert [job.partial_id for job in selected] == ["show-env", "manual-check"]
    assert changed.id == plan.id
    assert with_exclusions(plan, ()) is plan


def _after_session_line(out: str) -> str:
    """The output after the first line, which names the session."""
    first, _, rest = out.partition("\n")
    assert re.fullmatch(r"Session: pbox-\d{8}-\d{6}-[0-9a-f]{6}", first)
    return rest


@pytest.mark.parametrize(
    ("value", "expected"),
    [("XDG", "xdg-autostart"), ("Snappy", "systemd"), ("systemd", "systemd")],
)
def test_restart_strategy_names_map_to_plainbox_strategies(
    write_launcher, value, expected
):
    launcher = load_launcher(write_launcher(f"[restart]\nstrategy = {value}\n"))
    assert launcher.restart_strategy == expected
    assert launcher.warnings == ()
