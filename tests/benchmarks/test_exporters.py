"""The exporter benchmark runs end to end on a tiny session; no timing asserts."""

from __future__ import annotations

import contextlib
import io
import json
import re
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from plainbox.paths import BUILTIN_PROVIDER_DIR
from plainbox.session.manager import FLAG_READ_ONLY
from plainbox.session.manager import SessionManager
from plainbox.session.storage import SessionStorageRepository
from plainbox.session.view import SessionView
from plainbox.units.catalog import load_catalog
from plainbox.units.problems import Severity


JOBS = 40
QUICK_ARGS = ["--quick", "--quiet", "--json"]


@pytest.fixture(scope="module")
def bench(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("exporters")


def test_same_seed_same_session_other_seed_another(bench):
    def shape(seed: int) -> list[tuple[str, str, tuple[str, ...], bytes]]:
        return [
            (
                spec.id,
                spec.plugin,
                tuple(a.outcome for a in spec.attempts),
                b"".join(a.stdout + a.stderr for a in spec.attempts),
            )
            for spec in bench.plan_session(JOBS, seed)
        ]

    assert shape(3) == shape(3)
    assert shape(3) != shape(4)
    with pytest.raises(ValueError, match="at least"):
        bench.plan_session(4, 1)


def test_session_has_the_features_exporters_care_about(bench):
    specs = bench.plan_session(2000, 1)
    assert len(specs) == 2000
    assert len({spec.id for spec in specs}) == 2000
    kinds = {spec.kind for spec in specs}
    assert kinds == {"ordinary", "long", "attachment", "resource"}
    plugins = {spec.plugin for spec in specs}
    assert plugins >= {"shell", "manual", "user-interact-verify", "attachment"}
    outcomes = {spec.attempts[-1].outcome for spec in specs}
    assert outcomes >= {"pass", "fail", "crash", "skip", "skipped-dependency"}
    assert any(len(spec.attempts) > 1 for spec in specs)  # reruns
    longest = max(len(a.stdout) for spec in specs for a in spec.attempts)
    assert 90_000 <= longest <= 120_000
    with_stdout = sum(1 for spec in specs if spec.attempts[-1].stdout)
    assert 0.8 < with_stdout / len(specs) < 0.97
    assert any(spec.attempts[-1].stderr for spec in specs)
    binary = [
        spec
        for spec in specs
        if spec.kind == "attachment" and b"\xff" in spec.attempts[-1].stdout
    ]
    assert binary  # some attachment is not UTF-8 (random bytes hold 0xff)
    for spec in specs:
        for attempt in spec.attempts:
            if not attempt.ran:
                assert attempt.return_code is None
                assert not attempt.stdout
                assert attempt.outcome != "pass"


def test_built_session_loads_back_read_only(bench, tmp_path, monkeypatch):
    space = bench.Workspace(tmp_path)
    for name in ("PLAINBOX_PROVIDERPATH", "PLAINBOX_STATE_DIR"):
        monkeypatch.setenv(name, space.env[name])
    facts = bench.build_session(space, JOBS, 2)

    catalog = load_catalog([tmp_path / "providers"], builtin_dir=BUILTIN_PROVIDER_DIR)
    assert [p for p in catalog.problems if p.severity is Severity.ERROR] == []
    storage = SessionStorageRepository(tmp_path / "state" / "sessions").get(
        facts["session"]
    )
    manager = SessionManager.load_session(
        catalog.units, storage, flags={FLAG_READ_ONLY}
    )
    view = SessionView.of(manager)

    assert len(view.entries) == JOBS
    assert view.created == bench.SESSION_START
    assert view.finished is not None
    assert view.finished > bench.SESSION_START
    assert view.test_plan == bench.PLAN_ID
    assert facts["io_logs"] == len(list(storage.io_log_dir.iterdir()))
    package = f"{bench.NAMESPACE}::package"
    assert manager.state.resource_map[package][0]["name"].startswith("lib")
    entries = {entry.job.id: entry for entry in view.entries}
    stdout, _ = entries[package].output()
    assert stdout.startswith("name: lib")
    assert sum(facts["outcomes"].values()) == JOBS
    assert facts["attempts"] >= JOBS


@pytest.fixture(scope="module")
def quick(bench, tmp_path_factory) -> tuple[dict[str, Any], Path]:
    """One ``--quick`` run of every exporter (and an unknown one), kept on disk."""
    work = tmp_path_factory.mktemp("bench-exporters") / "kept"
    wanted = ",".join([*bench.EXPORTER_IDS, "no-such"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = bench.main([*QUICK_ARGS, "--keep", str(work), "--exporters", wanted])
    assert status == 0
    return json.loads(out.getvalue()), work


def test_quick_run_measures_every_exporter(bench, quick):
    report, work = quick
    assert report["quick"] is True
    assert report["session"]["jobs"] == bench.QUICK_JOBS
    rows = {row["id"]: row for row in report["rows"]}
    assert list(rows) == [*bench.EXPORTER_IDS, "no-such"]
    assert rows["no-such"]["available"] is False
    available = [row for row in rows.values() if row["available"]]
    # The registry's exporters are there whatever else is being written.
    assert {"json", "junit", "html", "text"} <= {row["id"] for row in available}
    for row in available:
        assert row["output_bytes"] > 0, row["id"]
        assert row["peak_rss_mb"] >= row["rss_after_load_mb"] > 0
        assert row["export_s"] >= 0
        assert row["passed"] is True  # a tiny session is far under every target
        assert (work / "outputs" / f"{row['id']}.{row['extension']}").is_file()
        if row["id"] in bench.TARGETS:
            assert row["trace_peak_mb"] is not None
    for row in rows.values():
        if not row["available"]:
            assert row["source"].startswith("not available")
    data = json.loads((work / "outputs" / "json.json").read_text(encoding="utf-8"))
    assert len(data["results"]) == bench.QUICK_JOBS

    table = bench.format_table(report)
    assert "QUICK size" in table
    assert re.search(r"^no-such .* not available$", table, flags=re.MULTILINE)
    assert len(re.findall(r" PASS$", table, flags=re.MULTILINE)) == len(available)
    assert "targets: export json < 1 s, junit < 1 s, html < 3 s, xlsx < 10 s" in table


def test_kept_directory_is_reused_for_the_same_size_only(bench, quick, capsys):
    report, work = quick
    argv = [*QUICK_ARGS, "--keep", str(work)]
    assert bench.main([*argv, "--exporters", "text"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["session"]["session"] == report["session"]["session"]
    with pytest.raises(SystemExit):
        bench.main([*argv, "--jobs", "50"])


def test_profile_of_an_export_names_the_hot_spots(bench, quick, tmp_path):
    report, work = quick
    _, data = bench.run_child(
        bench.Workspace(work),
        {
            "mode": "export",
            "exporter": "json",
            "session": report["session"]["session"],
            "output": str(tmp_path / "out.json"),
            "profile": 5,
        },
    )
    profile = data["profile"]
    assert "own time by source file" in profile
    assert "jsonreport.py" in profile
    assert "Ordered by: cumulative time" in profile


def test_memory_profile_of_an_export_names_allocation_sites(bench, quick, tmp_path):
    report, work = quick
    _, data = bench.run_child(
        bench.Workspace(work),
        {
            "mode": "export",
            "exporter": "json",
            "session": report["session"]["session"],
            "output": str(tmp_path / "out.json"),
            "memory": 5,
        },
    )
    profile = data["memory_profile"]
    # A tiny export may be over before the watching thread sees it grow.
    assert profile.startswith("Python allocations peaked at")
    assert "held at the snapshot" in profile or "no snapshot" in profile


def test_allocation_sites_are_charged_to_plainbox_lines(bench):
    from plainbox.execution.iolog import decode_record

    tracemalloc.start(10)
    try:
        records = [
            json.dumps({"t": 0, "s": "stdout", "d": str(n)}) for n in range(2000)
        ]
        held = [decode_record(record) for record in records]
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    text = bench.allocation_sites(snapshot, 5)
    assert len(held) == 2000
    assert text.startswith("held at the snapshot: ")
    assert "plainbox/execution/iolog.py:" in text
    assert len(text.splitlines()) <= 2 + 5


def test_memory_figures_are_positive(bench):
    memory = bench.memory_mb()
    assert memory["peak"] > 0
    assert memory["ru_maxrss"] > 0
    if Path("/proc/self/status").exists():
        assert memory["peak"] >= memory["current"] > 0
