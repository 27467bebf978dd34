"""SessionManager: creating, journaling, reloading and exporting sessions.

One test (at least) per method, property and signal of the manager, of its
helpers (WellKnownDirsHelper, SessionDeviceContext), an end-to-end round
trip through the disk, and the Python example of docs/sessions.rst.
"""

from __future__ import annotations

import io
import json
import os
import re
import textwrap
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plainbox import paths
from plainbox.errors import CorruptSessionError
from plainbox.errors import ExporterError
from plainbox.errors import SessionError
from plainbox.errors import SessionLockedError
from plainbox.exporters.jsonreport import JsonExporter
from plainbox.session.context import LOCAL_DEVICE
from plainbox.session.context import SessionDeviceContext
from plainbox.session.manager import FLAG_READ_ONLY
from plainbox.session.manager import SessionManager
from plainbox.session.manager import Signal
from plainbox.session.manager import WellKnownDirsHelper
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.state import FLAG_INCOMPLETE
from plainbox.session.state import SessionState
from plainbox.session.storage import SessionStorage
from plainbox.session.storage import SessionStorageRepository
from plainbox.session.view import SessionView
from plainbox.units.catalog import Catalog
from plainbox.units.catalog import load_catalog
from plainbox.units.model import JobDefinition
from plainbox.units.model import TestPlan
from plainbox.units.model import Unit
from plainbox.units.provider import Provider


UNITS = """\
id: alpha
plugin: shell
_summary: Alpha
command: true

id: beta
plugin: shell
_summary: Beta
command: false

id: gamma
plugin: resource
_summary: Gamma
command: echo "name: gamma"

unit: test plan
id: first
_name: First plan
include: alpha

unit: test plan
id: second
_name: Second plan
include: beta

unit: exporter
id: my-json
_summary: JSON through an exporter unit
entry_point: json
file_extension: json
"""

NS = "com.example"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "sessions.rst"
DOCS_EXAMPLE_MARKER = ".. tested-example:"


# -- fixtures and helpers ------------------------------------------------------


@pytest.fixture
def catalog(toml_provider: Callable[..., Path]) -> Catalog:
    loaded = load_catalog([toml_provider(UNITS)])
    assert not loaded.problems, loaded.problems  # the fixture itself must be sound
    return loaded


@pytest.fixture
def units(catalog: Catalog) -> list[Unit]:
    return catalog.units


@pytest.fixture
def alpha(catalog: Catalog) -> JobDefinition:
    return catalog.resolve(f"{NS}::alpha", JobDefinition)


@pytest.fixture
def beta(catalog: Catalog) -> JobDefinition:
    return catalog.resolve(f"{NS}::beta", JobDefinition)


@pytest.fixture
def gamma(catalog: Catalog) -> JobDefinition:
    return catalog.resolve(f"{NS}::gamma", JobDefinition)


@pytest.fixture
def plans(catalog: Catalog) -> tuple[TestPlan, TestPlan]:
    return (
        catalog.resolve(f"{NS}::first", TestPlan),
        catalog.resolve(f"{NS}::second", TestPlan),
    )


@pytest.fixture
def repo(tmp_path: Path) -> SessionStorageRepository:
    return SessionStorageRepository(tmp_path / "repo")


@pytest.fixture
def manager(
    units: list[Unit], repo: SessionStorageRepository
) -> Iterator[SessionManager]:
    """A live one-device session knowing ``UNITS``; closed after the test."""
    created = SessionManager.create_with_unit_list(units, repo)
    yield created
    created.close()


def passed(job: JobDefinition, **extra: Any) -> JobResult:
    return JobResult(job_id=job.id, outcome=Outcome.PASS, **extra)


def failed(job: JobDefinition, **extra: Any) -> JobResult:
    return JobResult(job_id=job.id, outcome=Outcome.FAIL, return_code=1, **extra)


def reopen(manager: SessionManager, units: list[Unit], **kwargs: Any) -> SessionManager:
    """Close ``manager`` and load its session again from a fresh storage object,
    as another process would."""
    manager.close()
    return SessionManager.load_session(
        units, SessionStorage(manager.storage.path), **kwargs
    )


def journal_kinds(storage: SessionStorage) -> list[str]:
    return [record.kind for record in storage.read_journal().records]


# -- create ------------------------------------------------------------------


def test_create_defaults_to_the_sessions_dir_of_the_state_dir() -> None:
    manager = SessionManager.create()
    try:
        state_dir = Path(os.environ["PLAINBOX_STATE_DIR"])
        assert manager.storage.path.parent == state_dir / "sessions"
        assert manager.storage.path.is_dir()
        # A new session belongs to the process that made it.
        assert manager.storage.locked
        assert manager.device_context_list == []
    finally:
        manager.close()


@pytest.mark.parametrize("prefix", ["pbox-", "nightly.", ""])
def test_create_puts_the_prefix_in_front_of_the_id(
    repo: SessionStorageRepository, prefix: str
) -> None:
    with SessionManager.create(repo, prefix=prefix) as manager:
        assert re.fullmatch(
            re.escape(prefix) + r"\d{8}-\d{6}-[0-9a-f]{6}", manager.storage.id
        )
        assert manager.storage.path.parent == repo.root


def test_create_populates_the_well_known_directories(
    repo: SessionStorageRepository,
) -> None:
    with SessionManager.create(repo) as manager:
        for directory in WellKnownDirsHelper(manager.storage).all_directories:
            assert directory.is_dir(), directory


def test_create_makes_distinct_sessions_without_legacy_mode(
    repo: SessionStorageRepository,
) -> None:
    with SessionManager.create(repo) as one, SessionManager.create(repo) as two:
        assert one.storage.id != two.storage.id
    assert len(repo.get_storage_list()) == 2


def test_create_in_legacy_mode_keeps_only_one_session(
    repo: SessionStorageRepository,
) -> None:
    with SessionManager.create(repo, legacy_mode=True) as first:
        first.add_local_device_context()
        first.state.set_title("the first session")
    with SessionManager.create(repo, legacy_mode=True) as second:
        assert second.storage.path == first.storage.path
        # The earlier session is gone: the journal starts afresh.
        assert journal_kinds(second.storage) == []
    assert [s.id for s in repo.get_storage_list()] == [second.storage.id]


def test_create_in_legacy_mode_does_not_delete_a_session_in_use(
    repo: SessionStorageRepository,
) -> None:
    with SessionManager.create(repo, legacy_mode=True) as live:
        live.add_local_device_context()
        live.state.set_title("still running")
        with pytest.raises(SessionLockedError):
            SessionManager.create(repo, legacy_mode=True)
        # The live session's journal survived and still takes records.
        live.state.set_title("still running, still recording")
        assert journal_kinds(live.storage) == [
            "session-started",
            "metadata",
            "metadata",
        ]


def test_state_of_a_manager_without_device_context_is_an_error(
    repo: SessionStorageRepository,
) -> None:
    with SessionManager.create(repo) as manager, pytest.raises(SessionError):
        _ = manager.state


# -- create_with_state / create_with_unit_list -----------------------------


def test_create_with_state_wraps_the_state_and_journals_earlier_records(
    units: list[Unit], alpha: JobDefinition, repo: SessionStorageRepository
) -> None:
    state = SessionState(units)
    state.metadata.title = "prepared"
    # A record made before the session exists must not be lost.
    state.update_job_result(alpha, passed(alpha))
    manager = SessionManager.create_with_state(state, repo)
    assert manager.state is state
    assert manager.default_device_context is not None
    assert manager.default_device_context.state is state
    assert sorted(journal_kinds(manager.storage)) == ["job-finished", "session-started"]
    reloaded = reopen(manager, units)
    try:
        assert reloaded.state.metadata.title == "prepared"
        assert reloaded.state.result_of(alpha.id) == passed(alpha)
    finally:
        reloaded.close()


def test_create_with_state_honours_legacy_mode(
    repo: SessionStorageRepository,
) -> None:
    with SessionManager.create_with_state(
        SessionState(), repo, legacy_mode=True
    ) as manager:
        assert manager.storage.id == "legacy-session"


def test_create_with_unit_list_knows_the_units(
    manager: SessionManager, units: list[Unit], repo: SessionStorageRepository
) -> None:
    assert manager.state.unit_list == units
    assert set(manager.state.job_state_map) == {
        f"{NS}::alpha",
        f"{NS}::beta",
        f"{NS}::gamma",
    }
    assert manager.storage.path.parent == repo.root
    assert manager.state.metadata.created is not None
    assert FLAG_INCOMPLETE in manager.state.metadata.flags


def test_create_with_unit_list_without_units_is_an_empty_session(
    repo: SessionStorageRepository,
) -> None:
    with SessionManager.create_with_unit_list(repo=repo) as manager:
        assert manager.state.unit_list == []
        assert journal_kinds(manager.storage) == ["session-started"]


# -- load_session --------------------------------------------------------------


def test_load_session_replays_results_and_metadata(
    manager: SessionManager,
    units: list[Unit],
    alpha: JobDefinition,
    beta: JobDefinition,
) -> None:
    manager.state.set_title("replayed")
    manager.state.update_job_result(beta, failed(beta))
    manager.state.update_job_result(alpha, passed(alpha, duration=1.5))
    manager.state.update_job_result(beta, passed(beta))
    reloaded = reopen(manager, units)
    try:
        state = reloaded.state
        assert state.metadata.title == "replayed"
        assert state.metadata.created == manager.state.metadata.created
        assert state.execution_order == [beta.id, alpha.id]
        assert state.job_state_map[beta.id].results == [failed(beta), passed(beta)]
        assert state.result_of(alpha.id) == passed(alpha, duration=1.5)
        assert reloaded.storage == manager.storage
        assert reloaded.storage.locked
    finally:
        reloaded.close()


def test_load_session_restores_device_contexts(
    manager: SessionManager, units: list[Unit], alpha: JobDefinition
) -> None:
    dut = SessionDeviceContext(SessionState(units), device="dut", kind="ssh")
    manager.add_device_context(dut)
    dut.state.update_job_result(alpha, failed(alpha))
    reloaded = reopen(manager, units)
    try:
        contexts = reloaded.device_context_list
        assert [(c.device, c.kind) for c in contexts] == [
            (LOCAL_DEVICE, "local"),
            ("dut", "ssh"),
        ]
        assert contexts[1].state.result_of(alpha.id) == failed(alpha)
        assert reloaded.state.result_of(alpha.id) is None  # not the local device's
    finally:
        reloaded.close()


def test_load_session_gives_replayed_devices_the_units(
    manager: SessionManager, units: list[Unit], alpha: JobDefinition
) -> None:
    dut = SessionDeviceContext(SessionState(units), device="dut", kind="ssh")
    manager.add_device_context(dut)
    dut.state.update_job_result(alpha, passed(alpha))
    reloaded = reopen(manager, units, flags={FLAG_READ_ONLY})
    # Without its job definition a device's result would drop out of reports.
    entries = SessionView.of(reloaded).entries
    assert [(e.device, e.job.id) for e in entries] == [("dut", alpha.id)]


def test_replayed_devices_keep_journaling(
    manager: SessionManager, units: list[Unit], alpha: JobDefinition
) -> None:
    manager.add_device_context(
        SessionDeviceContext(SessionState(units), device="dut", kind="ssh")
    )
    reloaded = reopen(manager, units)
    reloaded.device_context_list[1].state.update_job_result(alpha, passed(alpha))
    again = reopen(reloaded, units)
    try:
        assert again.device_context_list[1].state.result_of(alpha.id) == passed(alpha)
    finally:
        again.close()


def test_load_session_early_cb_sees_the_state_before_the_replay(
    manager: SessionManager, units: list[Unit], alpha: JobDefinition
) -> None:
    manager.state.update_job_result(alpha, passed(alpha))
    seen: list[tuple[SessionState, JobResult | None]] = []

    def early(state: SessionState) -> None:
        seen.append((state, state.result_of(alpha.id)))

    reloaded = reopen(manager, units, early_cb=early)
    try:
        assert len(seen) == 1
        state, result_then = seen[0]
        assert result_then is None  # called before the journal was replayed
        assert reloaded.state is state
        assert state.result_of(alpha.id) == passed(alpha)
    finally:
        reloaded.close()


def test_load_session_early_cb_may_replace_the_state(
    manager: SessionManager, units: list[Unit], alpha: JobDefinition
) -> None:
    manager.state.update_job_result(alpha, passed(alpha))
    replacement = SessionState(units)
    reloaded = reopen(manager, units, early_cb=lambda state: replacement)
    try:
        assert reloaded.state is replacement
        assert replacement.result_of(alpha.id) == passed(alpha)
    finally:
        reloaded.close()


def test_read_only_load_takes_no_lock_and_refuses_to_record(
    manager: SessionManager, units: list[Unit], alpha: JobDefinition
) -> None:
    manager.state.update_job_result(alpha, passed(alpha))
    manager.checkpoint()
    before = manager.storage.journal_path.read_bytes()
    # The live manager keeps its lock: a read-only load must still work.
    viewer = SessionManager.load_session(
        units, SessionStorage(manager.storage.path), flags={FLAG_READ_ONLY}
    )
    assert viewer.read_only
    assert not viewer.storage.locked
    assert viewer.state.result_of(alpha.id) == passed(alpha)
    with pytest.raises(SessionError, match="read-only"):
        viewer.state.set_title("not allowed")
    assert manager.storage.journal_path.read_bytes() == before


@pytest.mark.parametrize(
    "same_object", [True, False], ids=["same-object", "new-object"]
)
def test_a_second_live_load_of_a_locked_session_is_refused(
    manager: SessionManager,
    units: list[Unit],
    alpha: JobDefinition,
    same_object: bool,
) -> None:
    storage = manager.storage if same_object else SessionStorage(manager.storage.path)
    with pytest.raises(SessionLockedError) as caught:
        SessionManager.load_session(units, storage)
    assert caught.value.pid == os.getpid()
    # The first manager keeps its lock and its journal.
    assert manager.storage.locked
    manager.state.update_job_result(alpha, passed(alpha))
    assert journal_kinds(manager.storage)[-1] == "job-finished"


def test_closing_a_read_only_manager_keeps_the_writers_lock(
    manager: SessionManager, units: list[Unit]
) -> None:
    viewer = SessionManager.load_session(units, manager.storage, flags={FLAG_READ_ONLY})
    viewer.close()
    assert manager.storage.locked
    with pytest.raises(SessionLockedError):
        SessionStorage(manager.storage.path).lock()


def test_a_torn_last_record_is_dropped_with_a_load_warning(
    manager: SessionManager, units: list[Unit], alpha: JobDefinition
) -> None:
    manager.state.update_job_result(alpha, passed(alpha))
    manager.close()
    journal = manager.storage.journal_path
    with journal.open("ab") as stream:
        stream.write(b'{"seq":3,"kind":"job-fin')  # power lost mid-write
    reloaded = SessionManager.load_session(units, SessionStorage(manager.storage.path))
    try:
        assert len(reloaded.load_warnings) == 1
        assert "dropped" in reloaded.load_warnings[0]
        assert reloaded.state.result_of(alpha.id) == passed(alpha)
        # The torn tail is cut off, so the next record lands on a clean line.
        reloaded.state.set_title("after the tear")
        contents = reloaded.storage.read_journal()
        assert contents.warnings == []
        assert [r.kind for r in contents.records][-1] == "metadata"
    finally:
        reloaded.close()


def test_damage_before_the_last_record_is_corruption_and_releases_the_lock(
    manager: SessionManager, units: list[Unit], alpha: JobDefinition
) -> None:
    manager.state.update_job_result(alpha, passed(alpha))
    manager.close()
    journal = manager.storage.journal_path
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"garbage\n" + b"".join(lines[1:]))
    storage = SessionStorage(manager.storage.path)
    with pytest.raises(CorruptSessionError):
        SessionManager.load_session(units, storage)
    assert not storage.locked
    assert storage.lock_holder() is None


# -- checkpoint / destroy ----------------------------------------------------------


def test_checkpoint_updates_the_header(
    manager: SessionManager, alpha: JobDefinition, beta: JobDefinition
) -> None:
    manager.state.set_title("progress")
    manager.state.update_job_result(alpha, passed(alpha))
    manager.state.update_job_result(beta, failed(beta))
    manager.checkpoint()
    header = manager.storage.read_header()
    assert header["id"] == manager.storage.id
    assert header["title"] == "progress"
    assert header["progress"]["done"] == 2
    assert header["outcomes"] == {"fail": 1, "pass": 1}
    assert header["flags"] == [FLAG_INCOMPLETE]


def test_checkpoint_fsyncs_the_journal(
    manager: SessionManager, alpha: JobDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager.state.update_job_result(alpha, passed(alpha))
    synced: list[Path] = []

    def recording(real: Callable[[int], None]) -> Callable[[int], None]:
        def sync(fd: int) -> None:
            # Durability cannot be observed without pulling the plug, so
            # record which files were synced (and still sync them for real).
            synced.append(Path(f"/proc/self/fd/{fd}").readlink())
            real(fd)

        return sync

    # The journal's space is preallocated: its records need only fdatasync.
    monkeypatch.setattr(os, "fsync", recording(os.fsync))
    monkeypatch.setattr(os, "fdatasync", recording(os.fdatasync))
    manager.checkpoint()
    session_dir = manager.storage.path.resolve()
    assert session_dir / "journal.jsonl" in synced
    # The header is replaced by a rename: durable once the directory is synced.
    assert session_dir in synced


def test_destroy_leaves_nothing_behind(
    units: list[Unit], repo: SessionStorageRepository, alpha: JobDefinition
) -> None:
    manager = SessionManager.create_with_unit_list(units, repo)
    manager.state.update_job_result(alpha, passed(alpha))
    manager.destroy()
    assert not manager.storage.path.exists()
    assert list(repo.root.iterdir()) == []
    assert not manager.storage.locked
    with pytest.raises(SessionError):
        manager.state.update_job_result(alpha, failed(alpha))


# -- device contexts -----------------------------------------------------------


def test_add_device_context_lists_it_and_fires_the_signal(
    manager: SessionManager, units: list[Unit]
) -> None:
    added: list[SessionDeviceContext] = []
    manager.on_device_context_added.connect(added.append)
    dut = SessionDeviceContext(SessionState(units), device="dut", kind="ssh")
    manager.add_device_context(dut)
    assert added == [dut]
    assert manager.device_context_list[-1] is dut
    assert journal_kinds(manager.storage)[-1] == "device-added"


@pytest.mark.parametrize("duplicate", ["same context", "same device"])
def test_add_device_context_rejects_a_duplicate(
    manager: SessionManager, duplicate: str
) -> None:
    dut = SessionDeviceContext(device="dut", kind="ssh")
    manager.add_device_context(dut)
    added: list[SessionDeviceContext] = []
    manager.on_device_context_added.connect(added.append)
    again = dut if duplicate == "same context" else SessionDeviceContext(device="dut")
    with pytest.raises(ValueError, match="dut"):
        manager.add_device_context(again)
    assert added == []
    assert [c.device for c in manager.device_context_list] == [LOCAL_DEVICE, "dut"]


def test_add_local_device_context_starts_the_session(
    repo: SessionStorageRepository,
) -> None:
    added: list[SessionDeviceContext] = []
    with SessionManager.create(repo) as manager:
        manager.on_device_context_added.connect(added.append)
        context = manager.add_local_device_context()
        assert added == [context]
        assert (context.device, context.kind) == (LOCAL_DEVICE, "local")
        assert manager.default_device_context is context
        assert context.state.metadata.created is not None
        assert journal_kinds(manager.storage) == ["session-started"]
        assert manager.storage.read_header()["devices"] == [LOCAL_DEVICE]


def test_remove_device_context_fires_the_signal_and_is_journaled(
    manager: SessionManager, units: list[Unit]
) -> None:
    removed: list[SessionDeviceContext] = []
    manager.on_device_context_removed.connect(removed.append)
    dut = SessionDeviceContext(SessionState(units), device="dut", kind="ssh")
    manager.add_device_context(dut)
    manager.remove_device_context(dut)
    assert removed == [dut]
    assert dut not in manager.device_context_list
    reloaded = reopen(manager, units)
    try:
        assert [c.device for c in reloaded.device_context_list] == [LOCAL_DEVICE]
    finally:
        reloaded.close()


def test_remove_device_context_rejects_a_stranger(manager: SessionManager) -> None:
    with pytest.raises(ValueError, match="stranger"):
        manager.remove_device_context(SessionDeviceContext(device="stranger"))


def test_default_device_context_is_the_first_one(
    repo: SessionStorageRepository,
) -> None:
    with SessionManager.create(repo) as manager:
        before = manager.default_device_context
        local = manager.add_local_device_context()
        manager.add_device_context(SessionDeviceContext(device="dut"))
        after = manager.default_device_context
        assert before is None
        assert after is local
        assert manager.state is local.state


def test_device_context_list_is_a_copy(manager: SessionManager) -> None:
    listed = manager.device_context_list
    listed.append(SessionDeviceContext(device="intruder"))
    listed.clear()
    assert [c.device for c in manager.device_context_list] == [LOCAL_DEVICE]


def test_state_is_the_default_device_contexts_state(manager: SessionManager) -> None:
    context = manager.default_device_context
    assert context is not None
    assert manager.state is context.state


def test_storage_is_the_sessions_directory(
    manager: SessionManager, repo: SessionStorageRepository
) -> None:
    assert isinstance(manager.storage, SessionStorage)
    assert repo.get(manager.storage.id) == manager.storage
    assert manager.storage.journal_path.is_file()


# -- test plans ------------------------------------------------------------------


def test_setting_test_plans_fires_the_signal_with_old_and_new(
    manager: SessionManager, plans: tuple[TestPlan, TestPlan]
) -> None:
    changes: list[tuple[tuple[TestPlan, ...], tuple[TestPlan, ...]]] = []
    manager.on_test_plans_changed.connect(lambda old, new: changes.append((old, new)))
    first, second = plans
    manager.test_plans = (first,)
    manager.test_plans = (first, second)
    assert manager.test_plans == (first, second)
    assert changes == [((), (first,)), ((first,), (first, second))]


def test_test_plans_reach_every_device_context(
    manager: SessionManager, plans: tuple[TestPlan, TestPlan]
) -> None:
    manager.test_plans = plans
    # A device that joins later gets the plans too.
    late = SessionDeviceContext(device="late")
    manager.add_device_context(late)
    assert [c.test_plans for c in manager.device_context_list] == [plans, plans]


def test_duplicate_test_plans_are_rejected(
    manager: SessionManager, plans: tuple[TestPlan, TestPlan]
) -> None:
    manager.test_plans = plans[:1]
    changes: list[object] = []
    manager.on_test_plans_changed.connect(lambda old, new: changes.append(new))
    with pytest.raises(ValueError, match="twice"):
        manager.test_plans = (plans[1], plans[1])
    assert manager.test_plans == plans[:1]
    assert changes == []


def test_test_plans_record_the_plan_in_the_metadata(
    manager: SessionManager, units: list[Unit], plans: tuple[TestPlan, TestPlan]
) -> None:
    manager.test_plans = plans
    assert manager.state.metadata.test_plan == f"{NS}::first"
    reloaded = reopen(manager, units)
    try:
        assert reloaded.state.metadata.test_plan == f"{NS}::first"
        assert reloaded.storage.read_header()["test_plan"] == f"{NS}::first"
    finally:
        reloaded.close()


# -- exporters -------------------------------------------------------------------


def test_exporter_map_has_json_and_exporter_units(manager: SessionManager) -> None:
    exporters = manager.exporter_map
    assert exporters["json"] is JsonExporter
    assert exporters[f"{NS}::my-json"] is JsonExporter


def test_create_exporter_makes_a_working_exporter(
    manager: SessionManager, alpha: JobDefinition
) -> None:
    manager.state.update_job_result(alpha, passed(alpha))
    exporter = manager.create_exporter("json")
    assert isinstance(exporter, JsonExporter)
    stream = io.BytesIO()
    exporter.export(SessionView.of(manager), stream)
    report = json.loads(stream.getvalue())
    assert report["session"]["id"] == manager.storage.id
    assert [(r["id"], r["outcome"]) for r in report["results"]] == [(alpha.id, "pass")]


def test_create_exporter_with_an_unknown_id_is_a_lookup_error(
    manager: SessionManager,
) -> None:
    with pytest.raises(LookupError, match="no-such-format"):
        manager.create_exporter("no-such-format")


def test_create_exporter_rejects_unknown_options_in_strict_mode(
    manager: SessionManager,
) -> None:
    with pytest.raises(ExporterError, match="with-colour"):
        manager.create_exporter("json", ["with-colour"])


def test_create_exporter_ignores_unknown_options_otherwise(
    manager: SessionManager,
) -> None:
    exporter = manager.create_exporter("json", ["with-colour=yes"], strict=False)
    assert isinstance(exporter, JsonExporter)
    assert exporter.options == {}


# -- get_throwaway_manager ---------------------------------------------------------


def _state_sessions() -> set[str]:
    root = paths.sessions_dir()
    return {p.name for p in root.iterdir()} if root.exists() else set()


def test_throwaway_manager_leaves_nothing_on_disk(
    toml_provider: Callable[..., Path],
) -> None:
    catalog = load_catalog([toml_provider(UNITS)])
    before = _state_sessions()
    with SessionManager.get_throwaway_manager(catalog.providers) as manager:
        session_dir = manager.storage.path
        temporary_root = session_dir.parent.parent
        assert session_dir.is_dir()
        assert manager.state.job_state_map.keys() >= {f"{NS}::alpha"}
        assert f"{NS}::my-json" in manager.exporter_map
    assert not session_dir.exists()
    assert not temporary_root.exists()
    assert _state_sessions() == before


def test_throwaway_manager_is_removed_when_the_block_raises() -> None:
    seen: list[Path] = []

    def use_and_fail() -> None:
        with SessionManager.get_throwaway_manager([]) as manager:
            seen.append(manager.storage.path)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        use_and_fail()
    assert len(seen) == 1
    assert not seen[0].exists()
    assert not seen[0].parent.parent.exists()


def test_throwaway_manager_defaults_to_every_known_provider(
    toml_provider: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAINBOX_PROVIDERPATH", str(toml_provider(UNITS)))
    with SessionManager.get_throwaway_manager() as manager:
        context = manager.default_device_context
        assert context is not None
        providers: list[Provider] = context.provider_list
        assert {p.name for p in providers} == {"plainbox-builtin", "example"}
        assert context.get_unit(f"{NS}::alpha", "job").id == f"{NS}::alpha"
    assert _state_sessions() == set()


# -- signals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["on_device_context_added", "on_device_context_removed", "on_test_plans_changed"],
)
def test_signals_call_listeners_until_disconnected(
    manager: SessionManager, name: str
) -> None:
    signal: Signal = getattr(manager, name)
    calls: list[tuple[object, ...]] = []

    def listener(*args: object) -> None:
        calls.append(args)

    assert signal.connect(listener) is listener  # usable as a decorator
    signal("x", "y")
    signal.disconnect(listener)
    signal("z")
    assert calls == [("x", "y")]
    assert name in repr(signal)


def test_disconnecting_a_listener_that_was_never_connected_is_an_error() -> None:
    with pytest.raises(ValueError, match="not in list"):
        Signal("nothing").disconnect(print)


def test_signal_listeners_are_called_in_connection_order() -> None:
    signal = Signal("ordered")
    order: list[str] = []
    signal.connect(lambda: order.append("first"))
    signal.connect(lambda: order.append("second"))
    signal()
    assert order == ["first", "second"]


# -- WellKnownDirsHelper ---------------------------------------------------------


def test_well_known_dirs_helper_populates_missing_directories(
    manager: SessionManager,
) -> None:
    helper = WellKnownDirsHelper(manager.storage)
    helper.io_log_pathname.rmdir()
    helper.populate()
    helper.populate()  # and again: populating is idempotent
    assert all(directory.is_dir() for directory in helper.all_directories)


def test_well_known_dirs_helper_names_the_directories(
    manager: SessionManager,
) -> None:
    storage = manager.storage
    helper = WellKnownDirsHelper(storage)
    assert helper.storage is storage
    assert helper.io_log_pathname == storage.path / "io-logs"
    assert helper.all_directories == [
        storage.path,
        storage.path / "io-logs",
        storage.path / "attachments",
        storage.path / "share",
    ]


# -- SessionDeviceContext ----------------------------------------------------------


def test_device_context_add_unit_rejects_a_duplicate(
    units: list[Unit], alpha: JobDefinition
) -> None:
    context = SessionDeviceContext(SessionState(units))
    with pytest.raises(ValueError, match="alpha"):
        context.add_unit(alpha)
    assert context.unit_list.count(alpha) == 1


def test_device_context_get_unit_by_id_and_type(
    units: list[Unit], alpha: JobDefinition, plans: tuple[TestPlan, TestPlan]
) -> None:
    context = SessionDeviceContext(SessionState(units))
    assert context.get_unit(alpha.id) is alpha
    assert context.get_unit(alpha.id, "job") is alpha
    assert context.get_unit(plans[0].id, "test plan") is plans[0]
    with pytest.raises(KeyError):
        context.get_unit(alpha.id, "test plan")
    with pytest.raises(KeyError):
        context.get_unit(f"{NS}::missing")


def test_device_context_provider_list_loads_units_and_is_a_copy(
    catalog: Catalog,
) -> None:
    context = SessionDeviceContext(providers=catalog.providers)
    assert context.provider_list == catalog.providers
    assert {u.id for u in context.unit_list} == {u.id for u in catalog.units}
    context.provider_list.clear()
    assert context.provider_list == catalog.providers


def test_device_context_add_provider_without_units(catalog: Catalog) -> None:
    context = SessionDeviceContext()
    context.add_provider(catalog.providers[0], add_units=False)
    assert context.provider_list == catalog.providers
    assert context.unit_list == []


def test_device_context_set_test_plan_list(plans: tuple[TestPlan, TestPlan]) -> None:
    context = SessionDeviceContext()
    initially = context.test_plans
    context.set_test_plan_list(list(plans))
    assert initially == ()
    assert context.test_plans == plans  # a tuple, whatever sequence was given


def test_device_context_describes_its_device() -> None:
    context = SessionDeviceContext(device="dut", kind="ssh")
    assert context.as_dict() == {"device": "dut", "kind": "ssh"}
    assert "dut" in repr(context)
    assert context.exporter_units == []


# -- end to end ----------------------------------------------------------------------


def test_results_and_metadata_survive_a_round_trip_through_the_disk(
    units: list[Unit],
    repo: SessionStorageRepository,
    alpha: JobDefinition,
    beta: JobDefinition,
    gamma: JobDefinition,
    plans: tuple[TestPlan, TestPlan],
) -> None:
    manager = SessionManager.create_with_unit_list(units, repo)
    manager.test_plans = plans[:1]
    state = manager.state
    state.set_title("round trip")
    state.set_app_blob(b"\x00app state\xff")
    state.update_job_result(
        gamma, passed(gamma, io_log="io-logs/1.jsonl"), resources=[{"name": "gamma"}]
    )
    state.update_job_result(beta, failed(beta, comments="no luck", started=1.0))
    state.update_job_result(alpha, passed(alpha, duration=0.25, extra={"k": [1, 2]}))
    state.update_job_result(beta, passed(beta))
    manager.checkpoint()
    manager.close()

    reloaded = SessionManager.load_session(units, repo.get(manager.storage.id))
    try:
        again = reloaded.state
        assert again.metadata == state.metadata
        assert again.execution_order == state.execution_order
        assert again.resource_map == {gamma.id: [{"name": "gamma"}]}
        assert {
            job_id: (job_state.results, job_state.checksum)
            for job_id, job_state in again.job_state_map.items()
        } == {
            job_id: (job_state.results, job_state.checksum)
            for job_id, job_state in state.job_state_map.items()
        }
        assert reloaded.load_warnings == []
    finally:
        reloaded.close()


# -- the documentation's examples ------------------------------------------------------


def docs_examples() -> dict[str, str]:
    """Every ``code-block:: python`` of docs/sessions.rst, by the name its
    ``.. tested-example: NAME`` comment gives it.

    A Python block without that comment fails here, so the page cannot grow
    an example that no test runs.
    """
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    examples: dict[str, str] = {}
    for number, line in enumerate(lines):
        if line.strip() != ".. code-block:: python":
            continue
        before = [text for text in lines[:number] if text.strip()]
        marker = before[-1] if before else ""
        assert marker.startswith(DOCS_EXAMPLE_MARKER), (
            f"{DOCS}:{number + 1}: a Python example without a tested-example comment"
        )
        body: list[str] = []
        for text in lines[number + 1 :]:
            if text and not text.startswith(" "):
                break  # the first unindented line ends the block
            body.append(text)
        code = textwrap.dedent("\n".join(body)).strip()
        assert code, f"{DOCS}:{number + 1}: an empty example"
        examples[marker.removeprefix(DOCS_EXAMPLE_MARKER).strip()] = code
    return examples


def test_the_docs_have_the_examples_these_tests_check() -> None:
    assert set(docs_examples()) == {
        "session-manager-api",
        "device-contexts",
        "throwaway-manager",
    }


@pytest.mark.parametrize("name", sorted(docs_examples()))
def test_the_documented_python_examples_run(
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bundled = paths.bundled_providers_dir()
    assert bundled is not None
    monkeypatch.setenv("PLAINBOX_PROVIDERPATH", str(bundled))
    monkeypatch.chdir(tmp_path)
    code = compile(docs_examples()[name], f"{DOCS}:{name}", "exec")
    exec(code, {"__name__": f"docs_{name.replace('-', '_')}"})
    sessions = SessionStorageRepository().get_storage_list()
    if name != "session-manager-api":
        # The other examples promise to leave nothing behind.
        assert sessions == []
        if name == "throwaway-manager":
            assert capsys.readouterr().out == "json json\n"
        return
    assert len(sessions) == 1
    assert sessions[0].lock_holder() is None  # the example released it
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["session"]["id"] == sessions[0].id
    assert report["session"]["title"] == "Recorded from Python"
    assert {r["id"]: r["outcome"] for r in report["results"]} == {
        "io.plainbox.tutorial::hello": "pass"
    }


def test_session_started_is_the_first_record_and_keeps_the_first_device_name(
    tmp_path,
):
    state = SessionState()
    state.set_title("recorded before the session existed")
    repo = SessionStorageRepository(tmp_path / "sessions")
    manager = SessionManager.create(repo)
    manager.add_device_context(SessionDeviceContext(state, device="dut1"))
    storage = manager.storage
    manager.close()

    records = storage.read_journal().records
    assert [r.kind for r in records[:2]] == ["session-started", "metadata"]
    loaded = SessionManager.load_session([], storage, flags={"read-only"})
    assert loaded.default_device_context is not None
    assert loaded.default_device_context.device == "dut1"
    assert loaded.state.metadata.title == "recorded before the session existed"
