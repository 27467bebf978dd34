"""``--report FORMAT:PATH`` where FORMAT is an exporter unit's id.

Exporter units come from providers, so FORMAT is split from PATH at the
first colon outside a ``::`` and checked once the providers are loaded;
a unit's ``options`` reach the exporter it names.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from plainbox.cli.main import ExitCode
from plainbox.cli.run_command import parse_report_spec
from plainbox.errors import UsageError
from tests.conftest import cli


# A noreturn job primes an automatic resume: keep it to XDG autostart.
pytestmark = pytest.mark.usefixtures("xdg_autostart_only")


TUTORIAL = Path(__file__).resolve().parents[2] / "providers" / "tutorial"
TUTORIAL_JSON = "io.plainbox.tutorial::tutorial-json"
NS = "com.example"

UNITS = """\
id: passes
_summary: A job that passes
plugin: shell
command: echo 0123456789abcdefghij

id: reboot
_summary: Reboots, that is kills the plainbox running it
plugin: shell
flags: noreturn
command:
 case "$(tr '\\0' ' ' < /proc/$PPID/cmdline)" in
 *' -m plainbox '*) kill -9 $PPID;;
 esac
 echo 'plainbox is not my parent' >&2; exit 1

unit: test plan
id: plan
_name: The plan
include: passes

unit: test plan
id: rebooting
_name: Rebooting plan
include:
 passes
 reboot

unit: exporter
id: by-device
_summary: JUnit, one testsuite per device, short output
entry_point: junit
file_extension: xml
options:
 group-by=device
 max-output=4
 with-sys-info

unit: exporter
id: bad-option
_summary: JUnit with an option value it refuses
entry_point: junit
file_extension: xml
options: group-by=planet

unit: exporter
id: no-such-entry-point
_summary: Names exporter code nobody provides
entry_point: pdf
file_extension: pdf
"""


@pytest.fixture
def provider(toml_provider):
    return toml_provider(UNITS)


def session_of(out: str) -> str:
    match = re.match(r"Session: (\S+)\n", out)
    assert match, out
    return match.group(1)


def run_tutorial_hello(
    capsys: pytest.CaptureFixture[str], *reports: str
) -> tuple[int, str, str]:
    argv = ["-P", str(TUTORIAL), "run", "hello", "--non-interactive"]
    for report in reports:
        argv += ["--report", report]
    return cli(capsys, *argv)


def results(path: Path) -> list[tuple[str, str]]:
    data = json.loads(path.read_text())
    return [(row["id"], row["outcome"]) for row in data["results"]]


# -- splitting FORMAT:PATH -------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fmt", "path"),
    [
        ("json:out.json", "json", "out.json"),
        ("json:a:b.json", "json", "a:b.json"),
        (f"{TUTORIAL_JSON}:out.json", TUTORIAL_JSON, "out.json"),
        (f"{TUTORIAL_JSON}:a:b::c.json", TUTORIAL_JSON, "a:b::c.json"),
        ("tutorial-json:/tmp/x.json", "tutorial-json", "/tmp/x.json"),
        ("json:::x", "json", "::x"),
    ],
)
def test_format_ends_at_the_first_colon_outside_a_pair(spec, fmt, path):
    assert parse_report_spec(spec) == (fmt, Path(path))


@pytest.mark.parametrize(
    "spec", ["json", "json:", ":out.json", TUTORIAL_JSON, f"{TUTORIAL_JSON}:"]
)
def test_a_spec_without_format_or_path_is_refused(spec):
    with pytest.raises(UsageError, match="--report expects FORMAT:PATH"):
        parse_report_spec(spec)


def test_a_path_with_colons_is_written_as_given(capsys, tmp_path):
    target = tmp_path / "a:b.json"
    code, out, err = run_tutorial_hello(capsys, f"json:{target}")
    assert code == ExitCode.OK, err
    assert results(target) == [("io.plainbox.tutorial::hello", "pass")]
    assert f"Report (json): {target}" in out


# -- exporter units in run, session export and merge ------------------------------


@pytest.mark.parametrize("fmt", [TUTORIAL_JSON, "tutorial-json"])
def test_run_writes_a_report_through_the_tutorial_exporter_unit(capsys, tmp_path, fmt):
    target = tmp_path / "out:1.json"
    code, out, err = run_tutorial_hello(capsys, f"{fmt}:{target}")
    assert code == ExitCode.OK, err
    assert results(target) == [("io.plainbox.tutorial::hello", "pass")]
    # A partial id is journaled (and shown) as the unit's full id.
    assert f"Report ({TUTORIAL_JSON}): {target}" in out


def test_session_export_and_merge_take_exporter_unit_ids(capsys, tmp_path):
    code, out, err = run_tutorial_hello(capsys, f"json:{tmp_path / 'run.json'}")
    assert code == ExitCode.OK, err
    session_id = session_of(out)

    exported = tmp_path / "exported.json"
    code, out, err = cli(
        capsys,
        "session",
        "export",
        session_id,
        "--report",
        f"{TUTORIAL_JSON}:{exported}",
    )
    assert code == ExitCode.OK, err
    assert results(exported) == [("io.plainbox.tutorial::hello", "pass")]

    merged = tmp_path / "merged.json"
    code, _, err = cli(
        capsys, "merge", session_id, "--report", f"tutorial-json:{merged}"
    )
    assert code == ExitCode.OK, err
    assert results(merged) == [("io.plainbox.tutorial::hello", "pass")]


def test_export_loads_the_providers_given_with_P(capsys, provider, tmp_path):
    # The session knows nothing of the tutorial; -P on export brings its units.
    code, out, err = cli(
        capsys, "-P", str(provider), "run", "plan", "--non-interactive"
    )
    assert code == ExitCode.OK, err
    session_id = session_of(out)
    exported = tmp_path / "exported.json"
    argv = ["session", "export", session_id, "--report", f"{TUTORIAL_JSON}:{exported}"]

    code, _, err = cli(capsys, *argv)
    assert code == ExitCode.USAGE_ERROR
    assert f"unknown report format {TUTORIAL_JSON!r}" in err

    code, _, err = cli(capsys, "-P", str(TUTORIAL), *argv)
    assert code == ExitCode.OK, err
    assert results(exported) == [(f"{NS}::passes", "pass")]


# -- unknown formats --------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "plan", "--non-interactive"],
        ["run", "plan", "--non-interactive", "--rerun-failed", "SESSION"],
        ["session", "export", "SESSION"],
        ["session", "resume", "SESSION", "--non-interactive"],
        ["merge", "SESSION"],
    ],
)
@pytest.mark.parametrize("fmt", ["com.example::nope", "nope"])
def test_an_unknown_format_is_a_usage_error_naming_the_known_ones(
    capsys, provider, tmp_path, argv, fmt
):
    code, out, err = cli(
        capsys, "-P", str(provider), "run", "plan", "--non-interactive"
    )
    assert code == ExitCode.OK, err
    session_id = session_of(out)
    if "--rerun-failed" in argv:
        argv = ["run", "--non-interactive", "--rerun-failed", session_id]
    argv = [session_id if word == "SESSION" else word for word in argv]

    code, out, err = cli(
        capsys, "-P", str(provider), *argv, "--report", f"{fmt}:{tmp_path / 'x'}"
    )

    assert code == ExitCode.USAGE_ERROR
    known = re.search(
        rf"plainbox: error: unknown report format '{fmt}' \(known: (.*)\)", err
    )
    assert known, err
    names = known.group(1).split(", ")
    assert {"json", "junit", "html", f"{NS}::by-device"} <= set(names)
    assert f"{NS}::no-such-entry-point" not in names
    assert not (tmp_path / "x").exists()
    assert "Running" not in out


def test_an_unknown_format_stops_run_before_a_session_is_made(capsys, provider):
    code, out, err = cli(
        capsys, "-P", str(provider), "run", "plan", "--report", "nope:x.json"
    )
    assert code == ExitCode.USAGE_ERROR
    assert "unknown report format 'nope'" in err
    assert out == ""
    code, out, _ = cli(capsys, "session", "list", "--format", "json")
    assert json.loads(out) == []


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        (
            "no-such-entry-point",
            f"report format '{NS}::no-such-entry-point': its entry_point 'pdf' "
            "names no exporter",
        ),
        (
            "bad-option",
            f"report format '{NS}::bad-option': exporter 'junit': group-by must be",
        ),
    ],
)
def test_a_unit_that_cannot_make_its_report_is_a_usage_error(
    capsys, provider, fmt, message
):
    code, out, err = cli(
        capsys, "-P", str(provider), "run", "plan", "--report", f"{fmt}:x.xml"
    )
    assert code == ExitCode.USAGE_ERROR
    assert message in err
    assert out == ""


def test_an_ambiguous_partial_id_names_the_candidates(capsys, make_provider):
    exporter = "unit: exporter\nid: twin\nentry_point: json\nfile_extension: json\n"
    units = {"units/u.pxu": "id: ok\nplugin: shell\ncommand: true\n\n" + exporter}
    first = make_provider(units, namespace="com.example.one", name="one")
    second = make_provider(units, namespace="com.example.two", name="two")
    code, _, err = cli(
        capsys, "-P", str(first), "-P", str(second), "run", "ok", "--report", "twin:x"
    )
    assert code == ExitCode.USAGE_ERROR
    assert (
        "report format 'twin' is ambiguous; use one of: "
        "com.example.one::twin, com.example.two::twin"
    ) in err


# -- a unit's options ---------------------------------------------------------------


def _junit(path: Path) -> etree._Element:
    return etree.parse(str(path)).getroot()


def _system_out(path: Path) -> str:
    return str(_junit(path).xpath("string(.//system-out)"))


def test_a_units_options_reach_its_exporter_and_unknown_ones_are_warned_about(
    capsys, provider, tmp_path
):
    by_device, plain = tmp_path / "by-device.xml", tmp_path / "plain.xml"

    code, _, err = cli(
        capsys,
        "-P",
        str(provider),
        "run",
        "plan",
        "--non-interactive",
        "--report",
        f"by-device:{by_device}",
        "--report",
        f"junit:{plain}",
    )

    assert code == ExitCode.OK, err
    assert (
        f"plainbox: warning: exporter unit {NS}::by-device: exporter 'junit' has "
        "no option 'with-sys-info'; it is ignored"
    ) in err
    assert err.count("with-sys-info") == 1
    # group-by=device: the suite is the device; the plain junit groups by category.
    assert [s.get("name") for s in _junit(by_device).iter("testsuite")] == ["local"]
    assert [s.get("name") for s in _junit(plain).iter("testsuite")] != ["local"]
    # max-output=4: the 21 characters of output are cut.
    out_by_device = _system_out(by_device)
    out_plain = _system_out(plain)
    assert "0123456789abcdefghij" in out_plain
    assert "0123456789abcdefghij" not in out_by_device
    assert "characters omitted (max-output=4)" in out_by_device


# -- resume ----------------------------------------------------------------------------


def rebooted_with_report(provider: Path, report: str) -> str:
    """A session whose ``noreturn`` job killed plainbox, started with ``report``."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "plainbox",
            "-P",
            str(provider),
            "run",
            "rebooting",
            "--non-interactive",
            "--report",
            report,
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stderr
    return session_of(done.stdout)


def test_resume_writes_the_unit_report_the_session_was_started_with(
    capsys, provider, tmp_path
):
    target = tmp_path / "by:device.xml"
    session_id = rebooted_with_report(provider, f"by-device:{target}")
    assert not target.exists()

    code, out, err = cli(capsys, "session", "resume", session_id, "--non-interactive")

    assert code == ExitCode.OK, err
    assert f"Report ({NS}::by-device): {target}" in out
    suites = _junit(target).iter("testsuite")
    assert [s.get("name") for s in suites] == ["local"]


def test_resume_warns_when_the_unit_it_was_started_with_is_gone(
    capsys, provider, tmp_path
):
    target = tmp_path / "by-device.xml"
    session_id = rebooted_with_report(provider, f"by-device:{target}")
    pxu = provider / "units" / "units.pxu"
    pxu.write_text(pxu.read_text().partition("unit: exporter")[0])

    code, _, err = cli(capsys, "session", "resume", session_id, "--non-interactive")

    assert code == ExitCode.FAILED
    assert (
        f"plainbox: warning: the session was started with --report "
        f"{NS}::by-device:{target}, which cannot be written now: unknown report "
        f"format '{NS}::by-device'"
    ) in err
    assert f"the {NS}::by-device exporter failed" in err
    assert not target.exists()
    # The jobs ran all the same; another report can be written from the session.
    other = tmp_path / "other.json"
    code, _, err = cli(
        capsys, "session", "export", session_id, "--report", f"json:{other}"
    )
    assert code == ExitCode.OK, err
    assert [outcome for _, outcome in results(other)] == ["pass", "pass"]


# -- control -----------------------------------------------------------------------


def test_control_writes_a_report_through_an_exporter_unit(
    capsys, provider, tmp_path, monkeypatch
):
    # The local agent finds the plan on its own provider path.
    monkeypatch.setenv("PLAINBOX_PROVIDERPATH", str(provider))
    monkeypatch.setenv("PLAINBOX_AGENT_LINGER", "1")
    target = tmp_path / "control:report.xml"

    code, out, err = cli(
        capsys,
        "control",
        "local:dut",
        "plan",
        "--non-interactive",
        "--report",
        f"by-device:{target}",
    )

    assert code == ExitCode.OK, out + err
    assert f"Report ({NS}::by-device): {target}" in out
    assert [s.get("name") for s in _junit(target).iter("testsuite")] == ["dut"]


def test_control_refuses_an_unknown_format_before_connecting(capsys, provider):
    code, out, err = cli(
        capsys,
        "-P",
        str(provider),
        "control",
        "local:dut",
        "plan",
        "--report",
        "nope:x",
    )
    assert code == ExitCode.USAGE_ERROR
    assert "plainbox: error: unknown report format 'nope' (known: " in err
    assert out == ""
