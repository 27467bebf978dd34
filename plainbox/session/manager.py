"""SessionManager: the one place that couples session state with storage.

Device contexts hold each device's :class:`SessionState`; the manager
journals every record those states make, keeps the header up to date, and
rebuilds everything from the journal on :meth:`SessionManager.load_session`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from plainbox.errors import CorruptSessionError
from plainbox.errors import SessionError
from plainbox.errors import SessionLockedError
from plainbox.session.context import SessionDeviceContext
from plainbox.session.journal import Journal
from plainbox.session.state import FLAG_INCOMPLETE
from plainbox.session.state import SessionState
from plainbox.session.storage import SessionStorage
from plainbox.session.storage import SessionStorageRepository
from plainbox.session.storage import temporary_repository
from plainbox.units.model import TestPlan
from plainbox.units.model import Unit


__all__ = [
    "FLAG_READ_ONLY",
    "SessionManager",
    "Signal",
    "WellKnownDirsHelper",
]

_log = logging.getLogger(__name__)

#: :meth:`SessionManager.load_session` flag: load without locking, for
#: reading and exporting; recording anything then raises SessionError.
FLAG_READ_ONLY = "read-only"

_LEGACY_ID = "legacy-session"

# Journal record kinds that plugins hear about, and their hooks.
_EVENTS = {
    "session-started": "plainbox_session_started",
    "job-started": "plainbox_job_started",
    "job-finished": "plainbox_job_finished",
    "session-finished": "plainbox_session_finished",
}


class Signal:
    """A list of listeners called, in order, when the signal fires."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[..., object]] = []

    def connect(self, listener: Callable[..., object]) -> Callable[..., object]:
        """Call ``listener`` on every fire; returns it (usable as a decorator)."""
        self._listeners.append(listener)
        return listener

    def disconnect(self, listener: Callable[..., object]) -> None:
        self._listeners.remove(listener)

    def __call__(self, *args: Any) -> None:
        for listener in list(self._listeners):
            listener(*args)

    def __repr__(self) -> str:
        return f"<Signal {self.name} ({len(self._listeners)} listeners)>"


def _start_session(context: SessionDeviceContext) -> None:
    """Make ``session-started`` the first of the first context's records.

    The session's own metadata lives in its first context's state; the
    record goes before anything the state recorded while it had no session.
    """
    meta = context.state.metadata
    started = {
        "created": time.time(),
        "title": meta.title,
        "test_plan": meta.test_plan,
        "app_id": meta.app_id,
        "options": meta.options,
        "first_device": context.device,
    }
    flags = set(meta.flags)
    context.state.apply("session-started", started)
    meta.flags |= flags
    context.state.unsaved.insert(0, ("session-started", started))


class WellKnownDirsHelper:
    """The directories every session storage has."""

    def __init__(self, storage: SessionStorage) -> None:
        self.storage = storage

    @property
    def all_directories(self) -> list[Path]:
        """Every well-known directory of the session."""
        return [
            self.storage.path,
            self.storage.io_log_dir,
            self.storage.attachments_dir,
            self.storage.share_dir,
        ]

    @property
    def io_log_pathname(self) -> Path:
        """Where the per-job io-logs are."""
        return self.storage.io_log_dir

    def populate(self) -> None:
        """Create the well-known directories that do not exist yet."""
        self.storage.populate()


class SessionManager:
    """A session: its device contexts, its storage and its journal."""

    def __init__(
        self,
        device_context_list: Sequence[SessionDeviceContext],
        storage: SessionStorage,
        test_plans: Sequence[TestPlan] = (),
        *,
        journal: Journal | None = None,
    ) -> None:
        self.storage = storage
        self._journal = journal
        self._contexts: list[SessionDeviceContext] = []
        self._test_plans: tuple[TestPlan, ...] = tuple(test_plans)
        self._last_header = 0.0
        #: What :meth:`load_session` tolerated, such as a torn last record.
        self.load_warnings: list[str] = []
        #: Fired with the context after :meth:`add_device_context`.
        self.on_device_context_added = Signal("on_device_context_added")
        #: Fired with the context after :meth:`remove_device_context`.
        self.on_device_context_removed = Signal("on_device_context_removed")
        #: Fired with the old and the new tuple when :attr:`test_plans` is set.
        self.on_test_plans_changed = Signal("on_test_plans_changed")
        #: Fired with a message when a plugin's event hook raised.
        self.on_plugin_failure = Signal("on_plugin_failure")
        self._has_listeners: bool | None = None
        for context in device_context_list:
            self._attach(context, journal_it=False)

    def __repr__(self) -> str:
        return f"<SessionManager {self.storage.id}>"

    # -- creation ---------------------------------------------------------------

    @classmethod
    def create(
        cls,
        repo: SessionStorageRepository | None = None,
        legacy_mode: bool = False,
        prefix: str = "pbox-",
    ) -> SessionManager:
        """A new session on disk, with no device context yet.

        ``legacy_mode`` keeps one session per repository, as old single-session
        tools expected: any earlier legacy session is removed first.
        """
        return cls._create(repo, legacy_mode, prefix, None)

    @classmethod
    def create_with_state(
        cls,
        state: SessionState,
        repo: SessionStorageRepository | None = None,
        legacy_mode: bool = False,
    ) -> SessionManager:
        """A new session on disk whose one device context holds ``state``.

        The session directory appears with its first records already in the
        journal, so a process killed at any moment never leaves a session
        that does not know what it was started for.
        """
        return cls._create(repo, legacy_mode, "pbox-", SessionDeviceContext(state))

    @classmethod
    def _create(
        cls,
        repo: SessionStorageRepository | None,
        legacy_mode: bool,
        prefix: str,
        context: SessionDeviceContext | None,
    ) -> SessionManager:
        repo = repo if repo is not None else SessionStorageRepository()
        initial: list[tuple[str, dict[str, Any]]] = []
        header: dict[str, Any] = {"created": time.time(), "flags": []}
        if context is not None:
            _start_session(context)
            initial, context.state.unsaved = context.state.unsaved, []
            meta = context.state.metadata
            header = {
                "created": meta.created,
                "title": meta.title,
                "test_plan": meta.test_plan,
                "flags": sorted(meta.flags),
                "options": meta.options,
            }
        if legacy_mode:
            with contextlib.suppress(LookupError):
                previous = repo.get(_LEGACY_ID)
                # Only a session nobody is using may go: locking first turns
                # "delete a live session under its writer" into
                # SessionLockedError.
                previous.lock()
                previous.remove()
            storage = repo.create_storage(
                prefix="", header=header, fixed_id=_LEGACY_ID, initial_records=initial
            )
        else:
            storage = repo.create_storage(
                prefix=prefix, header=header, initial_records=initial
            )
        journal = storage.open_journal()
        manager = cls([], storage, journal=journal)
        WellKnownDirsHelper(storage).populate()
        if context is not None:
            manager._attach(context, journal_it=False)
            manager.write_header()
            manager.on_device_context_added(context)
            if manager._listening():
                manager._fire("session-started", {}, context)
        return manager

    @classmethod
    def create_with_unit_list(
        cls,
        unit_list: Iterable[Unit] | None = None,
        repo: SessionStorageRepository | None = None,
        legacy_mode: bool = False,
    ) -> SessionManager:
        """A new session on disk knowing ``unit_list``."""
        return cls.create_with_state(SessionState(unit_list or ()), repo, legacy_mode)

    @classmethod
    def load_session(
        cls,
        unit_list: Iterable[Unit],
        storage: SessionStorage,
        early_cb: Callable[[SessionState], SessionState | None] | None = None,
        flags: Iterable[str] | None = None,
    ) -> SessionManager:
        """Reopen a session by replaying its journal against ``unit_list``.

        :param early_cb: sees the fresh state before replay; it may return a
            replacement state.
        :param flags: ``{"read-only"}`` loads without the lock and without
            the right to record.
        :raises SessionLockedError: another process has the session open.
        :raises CorruptSessionError: the journal is damaged before its last
            record (a damaged last record is dropped: see ``load_warnings``).
        """
        read_only = FLAG_READ_ONLY in set(flags or ())
        if not read_only:
            if storage.locked:
                # storage.lock() is idempotent for the object holding the
                # lock, so without this a second live manager would share
                # the journal with the first (and a failed load would release
                # the first one's lock below).
                raise SessionLockedError(
                    f"session {storage.id} is already open in this process",
                    os.getpid(),
                )
            storage.lock()
        try:
            contents = storage.read_journal()
            # Listed once: replayed device contexts get the units too.
            units = list(unit_list)
            state = SessionState(units)
            if early_cb is not None:
                state = early_cb(state) or state
            manager = cls([SessionDeviceContext(state)], storage)
            manager.load_warnings = list(contents.warnings)
            for warning in contents.warnings:
                _log.warning("%s", warning)
            for record in contents.records:
                try:
                    manager._replay(record.kind, record.data, units)
                except ValueError as exc:
                    raise CorruptSessionError(
                        f"{storage.journal_path}:{record.seq}: {exc}"
                    ) from exc
            if not read_only:
                manager._journal = storage.open_journal(contents)
                if contents.warnings:
                    manager.write_header()
        except BaseException:
            if not read_only:
                storage.unlock()
            raise
        return manager

    @classmethod
    @contextlib.contextmanager
    def get_throwaway_manager(
        cls, provider_list: Sequence[Any] | None = None
    ) -> Iterator[SessionManager]:
        """A manager for a temporary session, removed (with its files) on exit.

        :param provider_list: providers whose units the session knows;
            default: every provider found on the search path.
        """
        if provider_list is None:
            from plainbox import paths
            from plainbox.units.catalog import load_catalog

            provider_list = load_catalog(
                paths.provider_search_path(), builtin_dir=paths.BUILTIN_PROVIDER_DIR
            ).providers
        with temporary_repository() as repo:
            manager = cls.create(repo, prefix="throwaway-")
            try:
                context = SessionDeviceContext(SessionState(), providers=provider_list)
                manager.add_device_context(context)
                yield manager
            finally:
                manager.destroy()

    # -- device contexts -----------------------------------------------------

    @property
    def device_context_list(self) -> list[SessionDeviceContext]:
        """The device contexts, the default (local) one first; do not modify."""
        return list(self._contexts)

    @property
    def default_device_context(self) -> SessionDeviceContext | None:
        """The first device context, which runs every job in one-device sessions."""
        return self._contexts[0] if self._contexts else None

    @property
    def state(self) -> SessionState:
        """The default device context's state.

        :raises SessionError: the manager has no device context.
        """
        context = self.default_device_context
        if context is None:
            raise SessionError(f"session {self.storage.id} has no device context")
        return context.state

    def add_device_context(self, context: SessionDeviceContext) -> None:
        """Add a device context; fires :attr:`on_device_context_added`.

        :raises ValueError: the context, or one for the same device, is
            already in the session.
        """
        self._attach(context, journal_it=True)
        self.on_device_context_added(context)

    def add_local_device_context(self) -> SessionDeviceContext:
        """Add (and return) a context for the machine running plainbox."""
        context = SessionDeviceContext(SessionState())
        self.add_device_context(context)
        return context

    def remove_device_context(self, context: SessionDeviceContext) -> None:
        """Remove a device context; fires :attr:`on_device_context_removed`.

        :raises ValueError: the context is not in the session.
        """
        if context not in self._contexts:
            raise ValueError(f"device context {context.device!r} is not in the session")
        self._contexts.remove(context)
        context.state.attach(None)
        if self._journal is not None:
            self._journal.append("device-removed", {"device": context.device})
        self.on_device_context_removed(context)

    def _attach(self, context: SessionDeviceContext, *, journal_it: bool) -> None:
        if any(c is context or c.device == context.device for c in self._contexts):
            raise ValueError(f"device {context.device!r} is already in the session")
        first = not self._contexts
        self._contexts.append(context)
        if self._test_plans:
            # A device joining later must see the session's test plans (and
            # so their overrides) like the devices that were there before.
            context.set_test_plan_list(self._test_plans)
        if journal_it and self._journal is not None and not first:
            self._journal.append(
                "device-added", {"device": context.device, "kind": context.kind}
            )
        if first and journal_it and context.state.metadata.created is None:
            _start_session(context)
        context.state.attach(self._sink_for(context, first))
        if first and journal_it:
            self.write_header()

    def _sink_for(
        self, context: SessionDeviceContext, default: bool
    ) -> Callable[[str, dict[str, Any]], None]:
        def sink(kind: str, data: dict[str, Any]) -> None:
            if self._journal is None:
                raise SessionError(f"session {self.storage.id} was opened read-only")
            self._journal.append(
                kind, data if default else {**data, "device": context.device}
            )
            if kind in _EVENTS and self._listening():
                self._fire(kind, data, context)

        return sink

    def _listening(self) -> bool:
        if self._has_listeners is None:
            from plainbox.plugins import has_listeners

            self._has_listeners = any(has_listeners(h) for h in _EVENTS.values())
        return self._has_listeners

    def _fire(
        self, kind: str, data: dict[str, Any], context: SessionDeviceContext
    ) -> None:
        """Tell plugins about a journaled event; their failures are only reported."""
        from plainbox.plugins import notify

        state = context.state
        hook = _EVENTS[kind]
        session_id = self.storage.id
        if kind == "session-started":
            failures = notify(
                hook,
                session_id=session_id,
                title=state.metadata.title,
                test_plan=state.metadata.test_plan,
                path=self.storage.path,
            )
        elif kind == "session-finished":
            counts = {str(o): n for o, n in sorted(state.outcome_counts().items())}
            failures = notify(hook, session_id=session_id, outcomes=counts)
        else:
            job_state = state.job_state_map.get(str(data["job"]))
            if job_state is None or job_state.job is None:
                return
            failures = notify(
                hook,
                session_id=session_id,
                job=job_state.job,
                result=job_state.result,
                device=context.device,
            )
        for failure in failures:
            message = f"plugin {failure.name} failed: {failure.reason}"
            _log.warning("%s", message)
            self.on_plugin_failure(message)

    def _replay(
        self, kind: str, data: dict[str, Any], unit_list: Sequence[Unit] = ()
    ) -> None:
        if kind == "device-added":
            # Attached like a live context: without a sink its new records
            # would never reach the journal, and without the units its
            # results would have no job definition (and drop out of reports).
            self._attach(
                SessionDeviceContext(
                    SessionState(unit_list),
                    device=str(data["device"]),
                    kind=str(data.get("kind", "local")),
                ),
                journal_it=False,
            )
            return
        if kind == "device-removed":
            self._contexts = [c for c in self._contexts if c.device != data["device"]]
            return
        if kind == "session-started" and self._contexts:
            # The first context is made before replay; give it its real name.
            self._contexts[0].device = str(data.get("first_device") or "local")
        device = data.get("device")
        if device is None:
            self.state.apply(kind, data)
            return
        for context in self._contexts:
            if context.device == device:
                context.state.apply(
                    kind, {k: v for k, v in data.items() if k != "device"}
                )
                return
        raise ValueError(f"record for unknown device {device!r}")

    # -- test plans ------------------------------------------------------------

    @property
    def test_plans(self) -> tuple[TestPlan, ...]:
        """The test plans the session runs; setting fires :attr:`on_test_plans_changed`."""
        return self._test_plans

    @test_plans.setter
    def test_plans(self, plans: Sequence[TestPlan]) -> None:
        plans = tuple(plans)
        if len({plan.id for plan in plans}) != len(plans):
            raise ValueError("a test plan appears twice")
        old, self._test_plans = self._test_plans, plans
        for context in self._contexts:
            context.set_test_plan_list(plans)
        if self._contexts and self.state.metadata.test_plan != (
            plans[0].id if plans else None
        ):
            self.state.record("metadata", {"test_plan": plans[0].id if plans else None})
        self.on_test_plans_changed(old, plans)

    # -- persistence ------------------------------------------------------------

    @property
    def read_only(self) -> bool:
        return self._journal is None

    def sync(self) -> None:
        """Make every record so far durable (one fsync)."""
        if self._journal is not None:
            self._journal.sync()

    def checkpoint(self) -> None:
        """Make everything durable and refresh the header.

        The journal is written as things happen; a checkpoint only forces it
        to disk and updates the header that ``session list`` reads.
        """
        self.sync()
        self.write_header()

    def write_header(self, *, durable: bool = True) -> None:
        """Rewrite the header from the current state."""
        if self._journal is None:
            return
        self.storage.write_header(self.header(), durable=durable)
        self._last_header = time.monotonic()

    def refresh_header(self, interval: float = 1.0) -> None:
        """Rewrite the header if it is older than ``interval`` seconds.

        Keeps ``session list`` progress fresh during a run without a
        durable rename per job (the journal, not the header, is the truth).
        """
        if time.monotonic() - self._last_header >= interval:
            self.write_header(durable=False)

    def header(self) -> dict[str, Any]:
        """What ``session.json`` says: enough to list sessions without replay."""
        context = self.default_device_context
        if context is None:
            return {"id": self.storage.id, "created": time.time(), "flags": []}
        state = context.state
        meta = state.metadata
        done = sum(1 for c in self._contexts for _ in c.state.results_in_order())
        total = sum(len(c.state.run_list) for c in self._contexts)
        return {
            "id": self.storage.id,
            "title": meta.title,
            "test_plan": meta.test_plan,
            "app_id": meta.app_id,
            "created": meta.created,
            "finished": meta.finished,
            "flags": sorted(meta.flags),
            "running_job": meta.running_job,
            "devices": [c.device for c in self._contexts],
            "progress": {"done": done, "total": max(total, done)},
            "outcomes": {
                str(outcome): count
                for outcome, count in sorted(state.outcome_counts().items())
            },
            "updated": time.time(),
            "options": meta.options,
        }

    def close(self) -> None:
        """Sync, refresh the header and release the session."""
        if self._journal is not None:
            self.checkpoint()
            self._journal.close()
            self._journal = None
            # Only a writer holds the lock; a read-only manager may share its
            # storage object with a live one and must not release its lock.
            self.storage.unlock()

    def destroy(self) -> None:
        """Remove every file of the session."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self.storage.remove()

    def __enter__(self) -> SessionManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def incomplete(self) -> bool:
        return FLAG_INCOMPLETE in self.state.metadata.flags

    # -- exporters ---------------------------------------------------------------

    @property
    def exporter_map(self) -> dict[str, Any]:
        """Exporter id → exporter (class or unit), legacy short ids included."""
        from plainbox.exporters.registry import exporter_map

        units = []
        if self.default_device_context is not None:
            units = self.default_device_context.exporter_units
        return exporter_map(units)

    def create_exporter(
        self, exporter_id: str, option_list: Sequence[str] = (), strict: bool = True
    ) -> Any:
        """An exporter configured with ``option_list``.

        An exporter unit's own ``options`` come first; those its exporter
        does not understand are dropped (see
        ``plainbox.exporters.registry.create_exporter``).

        :raises LookupError: no exporter has that id.
        :raises ExporterError: an unknown option in strict mode.
        """
        from plainbox.exporters.registry import create_exporter

        units = []
        if self.default_device_context is not None:
            units = self.default_device_context.exporter_units
        return create_exporter(
            self.exporter_map, exporter_id, option_list, strict, units=units
        )
