"""``plainbox run``: plans, hand-picked jobs, progress output, reports, exit status."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from plainbox.cli.main import ExitCode
from plainbox.cli.main import main


UNITS = """\
id: passes
_summary: A job that passes
plugin: shell
command: echo ok

id: fails
_summary: A job that fails
plugin: shell
command: for n in 1 2 3 4 5 6 7; do echo "err $n" >&2; done; exit 3

id: after-fail
_summary: Depends on the failing job
plugin: shell
depends: fails
command: true

id: widgets
_summary: List widgets
plugin: resource
command: printf 'name: alpha\\n\\nname: beta\\n'

unit: template
template-resource: widgets
template-id: widget-check
id: widget-check-{name}
_summary: Check widget {name}
plugin: shell
command: echo checking {name}

unit: setup job
id: broken-setup
_summary: A setup job that fails
plugin: shell
command: echo cannot prepare >&2; exit 1

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

unit: test plan
id: needs-setup
_name: A plan whose setup fails
setup_include: broken-setup
include: passes
"""


@pytest.fixture
def provider(toml_provider):
    return toml_provider(UNITS)


def run_main(
    capsys: pytest.CaptureFixture[str], provider: Path, *argv: str
) -> tuple[int, str, str]:
    code = main(["-P", str(provider), "run", "--non-interactive", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_with_report(
    capsys: pytest.CaptureFixture[str], provider: Path, tmp_path: Path, *argv: str
) -> tuple[int, dict[str, Any], str, str]:
    path = tmp_path / "report.json"
    code, out, err = run_main(capsys, provider, *argv, "--report", f"json:{path}")
    return code, json.loads(path.read_text()), out, err


def ids(report: dict[str, Any]) -> list[str]:
    return [row["id"].partition("::")[2] for row in report["results"]]


def usage_error(capsys: pytest.CaptureFixture[str], provider: Path, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["-P", str(provider), "run", "--non-interactive", *argv])
    assert exit_info.value.code == ExitCode.USAGE_ERROR
    return capsys.readouterr().err


def test_progress_counter_outcomes_and_failure_details(capsys, provider):
    code, out, _ = run_main(capsys, provider, "plan")
    assert code == ExitCode.FAILED
    lines = out.splitlines()
    assert lines[0].startswith("Session: pbox-")
    assert lines[1] == "Running com.example::plan: The plan"
    job_lines = [line for line in lines if line.startswith("[")]
    assert [line.split()[:2] for line in job_lines] == [
        ["[1/3]", "pass"],
        ["[2/3]", "fail"],
        ["[3/3]", "skipped-dependency"],
    ]
    assert "A job that fails (com.example::fails)" in job_lines[1]
    # The last five lines of a failing job's stderr follow its line.
    failing = lines.index(job_lines[1])
    assert lines[failing + 1 : failing + 6] == [
        f"        | err {n}" for n in range(3, 8)
    ]


def test_output_off_a_terminal_is_plain(capsys, provider):
    _, out, _ = run_main(capsys, provider, "plan")
    assert "\x1b" not in out
    assert "\r" not in out


def test_summary_table_after_the_run(capsys, provider):
    _, out, _ = run_main(capsys, provider, "plan")
    summary = out[out.index("  outcome") :]
    assert summary.splitlines()[:9] == [
        "  outcome             jobs",
        "  pass                   1",
        "  fail                   1",
        "  skipped-dependency     1",
        "  total                  3",
        "",
        "Failed or crashed jobs:",
        "  com.example::fails (fail)",
        "",
    ]


def test_exit_0_when_nothing_failed(capsys, provider):
    code, out, _ = run_main(capsys, provider, "green")
    assert code == ExitCode.OK
    assert "report.json" in out  # the default report, in the session directory


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (["passes"], ["passes"]),
        (["^passes$"], ["passes"]),
        (["com.example::passes"], ["passes"]),
        (["pass.*", "com.example::fails"], ["passes", "fails"]),
        (["fails|passes"], ["passes", "fails"]),  # one pattern: definition order
        (["after-fail"], ["fails", "after-fail"]),  # dependencies join
        (["widget-check"], ["widgets", "widget-check-alpha", "widget-check-beta"]),
    ],
)
def test_hand_picked_patterns(capsys, provider, tmp_path, patterns, expected):
    _, report, out, _ = run_with_report(capsys, provider, tmp_path, *patterns)
    assert ids(report) == expected
    assert report["session"]["test_plan"] is None
    assert report["session"]["title"] == "Hand-picked jobs"
    assert _after_session_line(out).startswith("Running hand-picked jobs\n")


def test_patterns_are_anchored_to_the_whole_id(capsys, provider, tmp_path):
    _, report, _, _ = run_with_report(capsys, provider, tmp_path, "pass", "fails")
    assert ids(report) == ["fails"]


def test_one_word_naming_a_plan_runs_the_plan(capsys, provider, tmp_path):
    _, report, _, _ = run_with_report(capsys, provider, tmp_path, "plan")
    assert report["session"]["test_plan"] == "com.example::plan"
    assert ids(report) == ["passes", "fails", "after-fail"]


def test_pattern_matching_nothing_is_warned_about(capsys, provider, tmp_path):
    code, report, _, err = run_with_report(
        capsys, provider, tmp_path, "passes", "no-such-job"
    )
    assert code == ExitCode.OK
    assert ids(report) == ["passes"]
    assert "warning: no job or template matches 'no-such-job'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no-such-plan"], "no test plan, job or template matches 'no-such-plan'"),
        (["passes", "("], "command line: invalid pattern '('"),
        ([], "nothing to run"),
        (["plan", "--job-timeout", "0"], "--job-timeout must be a positive"),
        (["plan", "--report", "pdf:out.pdf"], "unknown report format 'pdf'"),
    ],
)
def test_usage_errors(capsys, provider, argv, message):
    assert message in usage_error(capsys, provider, *argv)


def test_title_goes_into_the_report(capsys, provider, tmp_path):
    _, report, out, _ = run_with_report(
        capsys, provider, tmp_path, "plan", "--title", "Nightly run"
    )
    assert report["session"]["title"] == "Nightly run"
    assert _after_session_line(out).startswith(
        "Running com.example::plan: Nightly run\n"
    )


def test_text_report_and_several_reports(capsys, provider, tmp_path):
    text, data = tmp_path / "out" / "report.txt", tmp_path / "out" / "report.json"
    code, out, _ = run_main(
        capsys, provider, "plan", "--report", f"text:{text}", "--report", f"json:{data}"
    )
    assert code == ExitCode.FAILED
    lines = text.read_text().splitlines()
    assert re.fullmatch(r"Session: pbox-\S+", lines[2])
    del lines[2]
    assert lines[:6] == [
        "The plan",
        "Test plan: com.example::plan",
        "",
        "pass               com.example::passes  A job that passes",
        "fail               com.example::fails  A job that fails",
        "skipped-dependency com.example::after-fail  Depends on the failing job",
    ]
    assert "  total                  3" in lines
    assert json.loads(data.read_text())["summary"]["total"] == 3
    assert f"Report (text): {text}" in out
    assert f"Report (json): {data}" in out


def test_setup_failure_exits_1_with_message_and_still_writes_the_report(
    capsys, provider, tmp_path
):
    code, report, out, err = run_with_report(capsys, provider, tmp_path, "needs-setup")
    assert code == ExitCode.FAILED
    assert "plainbox: error: setup job failed: com.example::broken-setup" in err
    assert ids(report) == ["broken-setup"]
    assert report["results"][0]["stderr"] == "cannot prepare\n"
    assert "[setup] fail" in out
    assert "  total                  1" in out


def _after_session_line(out: str) -> str:
    """The output after the first line, which names the session."""
    first, _, rest = out.partition("\n")
    assert re.fullmatch(r"Session: pbox-\d{8}-\d{6}-[0-9a-f]{6}", first)
    return rest


CACHABLE = """\
id: probe
plugin: resource
flags: cachable
command: echo "count: $(cat "$PLAINBOX_PROVIDER_DATA/count" 2>/dev/null || echo 0)"; echo ran >> "$PLAINBOX_PROVIDER_DATA/runs"

id: user
plugin: shell
requires: probe.count == '0'
command: true

unit: test plan
id: plan
_name: Cachable
include: user
"""


def test_cachable_resource_records_are_reused_by_the_next_session(
    capsys, toml_provider, tmp_path
):
    provider = toml_provider(CACHABLE)
    (provider / "data").mkdir(exist_ok=True)
    for name in ("one.json", "two.json"):
        code = main(
            [
                "-P",
                str(provider),
                "run",
                "plan",
                "--non-interactive",
                "--report",
                f"json:{tmp_path / name}",
            ]
        )
        assert code == ExitCode.OK
    capsys.readouterr()
    # The resource job ran once; the second session took its records from
    # the cache (and says so), so its requirement still held.
    assert (provider / "data" / "runs").read_text() == "ran\n"
    second = json.loads((tmp_path / "two.json").read_text())
    probe = next(r for r in second["results"] if r["id"] == "com.example::probe")
    assert "resource cache" in probe["comments"]
