"""The plugin manager: built-in plugins first, then the ``plainbox`` entry points."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import pluggy

from plainbox import hookspecs


__all__ = [
    "BUILTIN_PLUGINS",
    "PluginFailure",
    "get_plugin_manager",
    "hookimpl",
    "notify",
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
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            manager.register(entry_point.load(), name=entry_point.name)
        except Exception as exc:
            _failures.append(
                PluginFailure(entry_point.name, f"{type(exc).__name__}: {exc}")
            )
    manager.check_pending()
    _manager = manager
    return manager


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
