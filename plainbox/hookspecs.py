"""Every plainbox hook, declared in one place.

Plugins implement these with :data:`plainbox.plugins.hookimpl`; all hook
names start with ``plainbox_``.  Event hooks (``plainbox_session_*``,
``plainbox_job_*``) are called after the event is journaled; an exception
raised by one plugin is reported as a warning naming the plugin and never
stops the session or the other plugins. A plugin is a module (or object) registered from the
built-in tuple in :mod:`plainbox.plugins` or through the ``plainbox``
entry-point group.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pluggy


if TYPE_CHECKING:
    from plainbox.remote.transport import TransportType
    from plainbox.session.restart import RestartStrategy
    from plainbox.session.results import JobResult
    from plainbox.units.model import JobDefinition


__all__ = ["hookspec"]

hookspec = pluggy.HookspecMarker("plainbox")


@hookspec
def plainbox_provider_dirs() -> Iterable[Path]:  # type: ignore[empty-body]
    """Directories to search for providers, in addition to the search path.

    Lets a Python package ship providers: return the directory holding its
    provider (or a directory of providers).

    :return: directories, each searched like a ``PLAINBOX_PROVIDERPATH`` entry.
    """


@hookspec
def plainbox_exporters() -> Iterable[type[Any]]:  # type: ignore[empty-body]
    """Exporter classes this plugin contributes.

    :return: classes with ``id``, ``file_extension``, ``options`` and ``export``.
    """


@hookspec
def plainbox_restart_strategies() -> Iterable[RestartStrategy]:  # type: ignore[empty-body]
    """Ways to resume a session automatically after a reboot.

    These come before the built-in ``systemd`` and ``xdg-autostart``
    strategies, both when plainbox picks the first available one and when a
    launcher names one, so a plugin strategy may replace a built-in by
    taking its name.

    :return: objects following :class:`plainbox.session.restart.RestartStrategy`.
    """


@hookspec
def plainbox_transports() -> Iterable[TransportType]:  # type: ignore[empty-body]
    """Ways to reach a device's agent, besides ``local`` and ``ssh``.

    ``plainbox control SCHEME:ADDRESS`` uses the transport whose ``scheme``
    is SCHEME; its ``create(ADDRESS, options)`` returns a
    :class:`plainbox.remote.transport.Transport` that starts a process
    speaking the agent protocol on its stdin and stdout.

    :return: :class:`plainbox.remote.transport.TransportType` objects.
    """


@hookspec
def plainbox_session_started(
    session_id: str, title: str, test_plan: str | None, path: Path
) -> None:
    """A new session was created on disk.

    :param session_id: the session's id (``plainbox session show ID``).
    :param test_plan: the full id of its test plan; None for hand-picked jobs.
    :param path: the session's directory.
    """


@hookspec
def plainbox_job_started(session_id: str, job: JobDefinition, device: str) -> None:
    """A job is about to run (its start is already journaled).

    Not called for jobs that cannot run (skipped for a dependency, a resource
    or the lack of an operator): those only finish.

    :param device: the name of the device context running it (``"local"``).
    """


@hookspec
def plainbox_job_finished(
    session_id: str, job: JobDefinition, result: JobResult, device: str
) -> None:
    """A job has a result (already journaled): it ran, or could not run.

    :param result: the result; its output is in the io-log ``result.io_log``
        names, relative to the session directory.
    """


@hookspec
def plainbox_session_finished(session_id: str, outcomes: dict[str, int]) -> None:
    """Every job of the session has a result.

    :param outcomes: how many jobs ended with each outcome (``{"pass": 12}``).
    """
