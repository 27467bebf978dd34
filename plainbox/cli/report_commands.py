"""``plainbox merge`` and ``plainbox plugins``: reports across sessions, and plugins."""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path
from typing import Any

from plainbox.cli.common import print_json
from plainbox.cli.run_command import parse_report_spec
from plainbox.cli.run_command import resolve_reports
from plainbox.cli.run_command import write_reports
from plainbox.cli.terminal import sanitize
from plainbox.cli.terminal import write_line
from plainbox.errors import UsageError
from plainbox.session.view import SessionView
from plainbox.session.view import merge_views


__all__ = ["merge_command", "plugins_command"]


def merge_command(args: argparse.Namespace) -> int:
    """Write one report of several sessions (devices, or a run and its rerun)."""
    from plainbox.cli.session_commands import open_session
    from plainbox.cli.session_commands import report_exporter_units

    if not args.report:
        raise UsageError("give at least one --report FORMAT:PATH")
    if len(set(args.session_ids)) != len(args.session_ids):
        raise UsageError("a session is named twice")
    reports = [parse_report_spec(spec) for spec in args.report]
    views = []
    catalogs = []
    for session_id in args.session_ids:
        manager, _, prepared = open_session(args, session_id, read_only=True)
        views.append(SessionView.of(manager))
        catalogs.append(prepared.catalog)
    units = report_exporter_units(args, reports, catalogs)
    reports = resolve_reports(reports, units)
    merged = merge_views(views)
    write_line(
        f"Merged {len(views)} sessions: {len(merged.entries)} results from "
        f"{len(merged.devices)} device(s)"
    )
    return 0 if write_reports(reports, merged, exporter_units=units) else 1


def _origin(plugin: object) -> str:
    try:
        source = inspect.getsourcefile(
            plugin if inspect.ismodule(plugin) else type(plugin)
        )
    except TypeError:
        source = None
    return str(Path(source)) if source else repr(plugin)


def plugins_command(args: argparse.Namespace) -> int:
    """List loaded plugins, their hooks and exporters, and plugins that failed."""
    from plainbox.exporters.registry import exporter_classes
    from plainbox.plugins import get_plugin_manager
    from plainbox.plugins import plugin_failures

    manager = get_plugin_manager()
    plugins: list[dict[str, Any]] = []
    for name, plugin in manager.list_name_plugin():
        hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or ())
        plugins.append({"name": name, "origin": _origin(plugin), "hooks": hooks})
    exporters = [
        {"id": cls.id, "extension": cls.file_extension, "summary": cls.summary}
        for cls in sorted(exporter_classes().values(), key=lambda c: c.id)
    ]
    failures = [{"name": f.name, "reason": f.reason} for f in plugin_failures()]
    if args.format == "json":
        print_json({"plugins": plugins, "exporters": exporters, "failed": failures})
        return 0
    write_line("Plugins:")
    for plugin in plugins:
        write_line(f"  {sanitize(plugin['name'])}  ({sanitize(plugin['origin'])})")
        for hook in plugin["hooks"]:
            write_line(f"    {hook}")
    write_line("Exporters (--report FORMAT:PATH):")
    for exporter in exporters:
        write_line(
            f"  {sanitize(exporter['id']):<12} .{sanitize(exporter['extension']):<8} "
            f"{sanitize(exporter['summary'])}"
        )
    if failures:
        write_line("Failed to load:")
        for failure in failures:
            write_line(f"  {sanitize(failure['name'])}: {sanitize(failure['reason'])}")
    return 0
