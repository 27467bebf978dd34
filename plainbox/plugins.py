"""The plugin manager: built-in plugins first, then the ``plainbox`` entry points."""

from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import pluggy

from plainbox import hookspecs


if TYPE_CHECKING:
    from importlib.metadata import EntryPoint


__all__ = [
    "BUILTIN_PLUGINS",
    "PluginFailure",
    "get_plugin_manager",
    "hookimpl",
    "notify",
    "plugin_entry_points",
    "plugin_failures",
]

hookimpl = pluggy.HookimplMarker("plainbox")

#: Modules registered before any third-party plugin, in this order.
BUILTIN_PLUGINS: tuple[str, ...] = ("plainbox.exporters.builtin",)

ENTRY_POINT_GROUP = "plainbox"


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    reason: str


_manager: pluggy.PluginManager | None = None
_failures: list[PluginFailure] = []


def plugin_failures() -> list[PluginFailure]:
    """Plugins that failed to load in :func:`get_plugin_manager`."""
    return list(_failures)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created on first use.

    A plugin that fails to import is recorded (see :func:`plugin_failures`)
    rather than breaking plainbox.
    """
    global _manager
    if _manager is not None:
        return _manager
    manager = pluggy.PluginManager("plainbox")
    manager.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        manager.register(importlib.import_module(name), name=name)
    for entry_point in plugin_entry_points():
        try:
            manager.register(entry_point.load(), name=entry_point.name)
        except Exception as exc:
            _failures.append(
                PluginFailure(entry_point.name, f"{type(exc).__name__}: {exc}")
            )
    manager.check_pending()
    _manager = manager
    return manager


# The group's section header in an ``entry_points.txt``, as importlib.metadata
# reads it (surrounding blanks ignored).
_GROUP_HEADER = re.compile(
    rb"^[ \t]*\[[ \t]*" + re.escape(ENTRY_POINT_GROUP.encode()) + rb"[ \t]*\]",
    re.MULTILINE,
)


def plugin_entry_points() -> list[EntryPoint]:
    """The installed distributions' entry points in the ``plainbox`` group.

    Importing ``importlib.metadata`` and scanning every distribution
    takes 20 to 30 ms, a noticeable part of a short run's start-up, and
    most installations have no plainbox plugin. So the ``entry_points.txt``
    files on ``sys.path`` are looked at first (a few ms), and only when
    one has a ``[plainbox]`` section does importlib.metadata read them
    properly. Where that look cannot see everything importlib.metadata
    would (a zip file on the path, a finder of its own), it is asked anyway.
    """
    if _may_declare_plugins():
        from importlib.metadata import entry_points

        return list(entry_points(group=ENTRY_POINT_GROUP))
    return []


def _may_declare_plugins() -> bool:
    """False only when no distribution on sys.path can have a plainbox entry point."""
    standard = {"BuiltinImporter", "FrozenImporter", "PathFinder"}
    if any(
        hasattr(finder, "find_distributions")
        and getattr(finder, "__name__", type(finder).__name__) not in standard
        for finder in sys.meta_path
    ):
        return True
    for entry in sys.path:
        directory = entry or "."
        try:
            with os.scandir(directory) as entries:
                files = [
                    f"{e.path}{os.sep}entry_points.txt"
                    for e in entries
                    if e.name.lower().endswith((".dist-info", ".egg-info"))
                ]
        except NotADirectoryError:
            return True  # a zip or egg file: let importlib.metadata look inside
        except OSError:
            continue  # missing or unreadable: importlib.metadata skips it too
        for file in files:
            try:
                with open(file, "rb") as stream:
                    declared = stream.read()
            except OSError:
                continue
            if _GROUP_HEADER.search(declared):
                return True
    return False


def notify(hook_name: str, **kwargs: Any) -> list[PluginFailure]:
    """Call every implementation of an event hook, each in isolation.

    pluggy stops at the first exception; for events that is wrong (one
    broken listener must not stop the session or hide the event from the
    others), so each implementation is called here on its own.

    :return: the plugins that raised, with what they raised.
    """
    hook = getattr(get_plugin_manager().hook, hook_name)
    failures = []
    for impl in hook.get_hookimpls():
        arguments = {name: kwargs[name] for name in impl.argnames}
        try:
            impl.function(**arguments)
        except Exception as exc:  # a plugin's bug, reported, never fatal
            failures.append(
                PluginFailure(
                    impl.plugin_name, f"{hook_name}: {type(exc).__name__}: {exc}"
                )
            )
    return failures


def has_listeners(hook_name: str) -> bool:
    """True when some plugin implements the hook (so events are worth building)."""
    return bool(getattr(get_plugin_manager().hook, hook_name).get_hookimpls())
