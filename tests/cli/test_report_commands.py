"""``plainbox plugins`` and ``plainbox merge``, and plugins installed as packages.

A throwaway package is "installed" the way pip leaves one on disk: a module
next to a ``*.dist-info`` directory whose ``entry_points.txt`` names it in the
``plainbox`` group; plainbox runs in a subprocess with that directory on
``PYTHONPATH``, so the real entry-point machinery finds it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plainbox.cli.main import ExitCode
from plainbox.cli.main import main


UNITS = """\
id: passes
plugin: shell
_summary: A job that passes
command: echo fine

id: fails
plugin: shell
_summary: A job that fails
command: echo broken >&2; exit 3

unit: test plan
id: plan
_name: The plan
include:
 passes
 fails
"""

CSV_PLUGIN = '''\
"""A third-party exporter: one CSV line per job."""

import pluggy

hookimpl = pluggy.HookimplMarker("plainbox")


class CsvExporter:
    id = "csv"
    file_extension = "csv"
    summary = "CSV: job id and outcome"
    option_help = {}

    def __init__(self, option_list=(), strict=True):
        self.options = {}

    def export(self, session, stream):
        for entry in session.entries:
            stream.write(f"{entry.job.id},{entry.result.outcome.value}\\n".encode())


@hookimpl
def plainbox_exporters():
    return [CsvExporter]


@hookimpl
def plainbox_job_finished(session_id, job, result, device):
    raise RuntimeError("a listener with a bug")
'''


def _install(site: Path, name: str, module_source: str) -> None:
    """Leave a package on disk as an installer would."""
    site.mkdir(exist_ok=True)
    (site / f"{name}.py").write_text(module_source)
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(f"[plainbox]\n{name} = {name}\n")


def _plainbox(site: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    return subprocess.run(
        [sys.executable, "-m", "plainbox", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    _install(site, "plainbox_csv_exporter", CSV_PLUGIN)
    _install(
        site, "plainbox_broken_plugin", "raise ImportError('missing dependency')\n"
    )
    return site


def test_plugins_lists_a_third_party_plugin_and_a_broken_one(site):
    done = _plainbox(site, "plugins", "--format", "json")

    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    names = {plugin["name"]: plugin for plugin in listing["plugins"]}
    assert "plainbox_exporters" in names["plainbox_csv_exporter"]["hooks"]
    assert "plainbox_job_finished" in names["plainbox_csv_exporter"]["hooks"]
    assert {e["id"] for e in listing["exporters"]} >= {"csv", "json", "html", "junit"}
    assert listing["failed"] == [
        {
            "name": "plainbox_broken_plugin",
            "reason": "ImportError: missing dependency",
        }
    ]


def test_a_third_party_exporter_writes_reports_and_a_failing_listener_is_harmless(
    site, toml_provider, tmp_path
):
    provider = toml_provider(UNITS)
    out = tmp_path / "results.csv"

    done = _plainbox(
        site,
        "-P",
        str(provider),
        "run",
        "plan",
        "--non-interactive",
        "--report",
        f"csv:{out}",
    )

    assert done.returncode == ExitCode.FAILED  # a job failed; nothing else did
    assert out.read_text() == "com.example::passes,pass\ncom.example::fails,fail\n"
    # The broken listener is named once per event, and the session is whole.
    assert "plugin plainbox_csv_exporter failed" in done.stderr
    assert "a listener with a bug" in done.stderr
    assert "Traceback" not in done.stderr


def test_plugins_text_lists_exporters(capsys):
    assert main(["plugins"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "plainbox.exporters.builtin" in out
    for fmt in ("json", "html", "junit", "text"):
        assert f"  {fmt} " in out


def _run(capsys, provider: Path, report: Path) -> str:
    code = main(
        [
            "-P",
            str(provider),
            "run",
            "plan",
            "--non-interactive",
            "--report",
            f"json:{report}",
        ]
    )
    assert code == ExitCode.FAILED
    out: str = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("Session: ")
    return first.removeprefix("Session: ")


def test_merge_keeps_every_result_and_tells_the_runs_apart(
    capsys, toml_provider, tmp_path
):
    provider = toml_provider(UNITS)
    first = _run(capsys, provider, tmp_path / "one.json")
    second = _run(capsys, provider, tmp_path / "two.json")
    merged = tmp_path / "merged.json"
    text = tmp_path / "merged.txt"

    code = main(
        [
            "-P",
            str(provider),
            "merge",
            first,
            second,
            "--report",
            f"json:{merged}",
            "--report",
            f"text:{text}",
        ]
    )

    assert code == ExitCode.OK
    report = json.loads(merged.read_text())
    assert report["summary"]["total"] == 4
    assert [r["id"] for r in report["results"]] == [
        "com.example::passes",
        "com.example::fails",
    ] * 2
    lines = text.read_text().splitlines()
    assert any(f"local@{first}" in line for line in lines)
    assert any(f"local@{second}" in line for line in lines)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["merge", "pbox-nope", "--report", "json:x.json"], "no session 'pbox-nope'"),
        (["merge", "pbox-nope"], "give at least one --report"),
    ],
)
def test_merge_usage_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == ExitCode.USAGE_ERROR
    assert message in capsys.readouterr().err


def test_a_failing_exporter_is_named_and_the_others_still_written(
    capsys, toml_provider, tmp_path, monkeypatch
):
    from plainbox.exporters.htmlreport import HtmlExporter

    def explode(self, session, stream):
        raise RuntimeError("template bug")

    monkeypatch.setattr(HtmlExporter, "export", explode)
    provider = toml_provider(UNITS)
    html, data = tmp_path / "r.html", tmp_path / "r.json"

    code = main(
        [
            "-P",
            str(provider),
            "run",
            "plan",
            "--non-interactive",
            "--report",
            f"html:{html}",
            "--report",
            f"json:{data}",
        ]
    )

    _, err = capsys.readouterr()
    assert code == ExitCode.FAILED
    assert "the html exporter failed: RuntimeError: template bug" in err
    assert not html.exists()
    assert not list(tmp_path.glob(".*.partial"))
    assert json.loads(data.read_text())["summary"]["total"] == 2


def test_event_hooks_hear_about_the_session(toml_provider, tmp_path):
    from plainbox.plugins import get_plugin_manager
    from plainbox.plugins import hookimpl

    heard: list[tuple[str, str]] = []

    class Listener:
        @hookimpl
        def plainbox_session_started(self, session_id, title, test_plan, path):
            heard.append(("session-started", test_plan))

        @hookimpl
        def plainbox_job_started(self, session_id, job, device):
            heard.append(("job-started", job.partial_id))

        @hookimpl
        def plainbox_job_finished(self, session_id, job, result, device):
            heard.append(("job-finished", f"{job.partial_id}:{result.outcome.value}"))

        @hookimpl
        def plainbox_session_finished(self, session_id, outcomes):
            heard.append(("session-finished", json.dumps(outcomes, sort_keys=True)))

    manager = get_plugin_manager()
    listener = Listener()
    manager.register(listener)
    try:
        provider = toml_provider(UNITS)
        main(
            [
                "-P",
                str(provider),
                "run",
                "plan",
                "--non-interactive",
                "--report",
                f"json:{tmp_path / 'r.json'}",
            ]
        )
    finally:
        manager.unregister(listener)

    assert heard == [
        ("session-started", "com.example::plan"),
        ("job-started", "passes"),
        ("job-finished", "passes:pass"),
        ("job-started", "fails"),
        ("job-finished", "fails:fail"),
        ("session-finished", '{"fail": 1, "pass": 1}'),
    ]


def test_merge_of_sessions_is_deterministic(capsys, toml_provider, tmp_path):
    provider = toml_provider(UNITS)
    first = _run(capsys, provider, tmp_path / "one.json")
    outputs = []
    for name in ("a.html", "b.html"):
        main(
            ["-P", str(provider), "merge", first, "--report", f"html:{tmp_path / name}"]
        )
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
