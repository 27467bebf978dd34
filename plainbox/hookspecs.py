"""Every plainbox hook, declared in one place.

Plugins implement these with :data:`plainbox.hookimpl`; all hook names start
with ``plainbox_``. A plugin is a module (or object) registered from the
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
    from plainbox.session.restart import RestartStrategy


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
