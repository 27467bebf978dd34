"""``plainbox agent`` and ``plainbox control``: run sessions on other devices."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from plainbox.cli.common import catalog_from_args
from plainbox.cli.run_command import RunSpec
from plainbox.cli.run_command import parse_report_spec
from plainbox.cli.run_command import resolve_reports
from plainbox.cli.run_command import write_reports
from plainbox.cli.terminal import write_line
from plainbox.errors import UsageError
from plainbox.remote.controller import Controller
from plainbox.remote.controller import ControlOptions
from plainbox.remote.transport import DEFAULT_AGENT_COMMAND
from plainbox.remote.transport import TransportOptions
from plainbox.remote.transport import parse_destination
from plainbox.session.context import SessionDeviceContext
from plainbox.session.manager import SessionManager
from plainbox.session.state import SessionState
from plainbox.session.view import SessionView
from plainbox.units.model import TestPlan


__all__ = ["agent_command", "control_command"]

#: The name of the controller's own context in a controller session.
CONTROLLER_CONTEXT = "controller"


def agent_command(args: argparse.Namespace) -> int:
    """Serve one controller connection on stdin/stdout."""
    from plainbox.remote.agent import serve_stdio

    if not args.stdio:
        raise UsageError("plainbox agent needs --stdio (it never listens on a port)")
    return serve_stdio(sys.stdin.buffer, sys.stdout.buffer)


def control_command(args: argparse.Namespace) -> int:
    """Run a test plan on each device at once; one report of them all."""
    if args.reconnect_timeout <= 0:
        raise UsageError("--reconnect-timeout must be positive")
    reports = [parse_report_spec(spec) for spec in args.report]
    transport_options = TransportOptions(
        agent_command=args.agent_command or DEFAULT_AGENT_COMMAND,
        ssh_options=list(args.ssh_option),
    )
    transports = [
        parse_destination(dest, transport_options) for dest in args.destinations
    ]
    names = Counter(t.device for t in transports)
    clashing = sorted(name for name, count in names.items() if count > 1)
    if clashing or CONTROLLER_CONTEXT in names:
        raise UsageError(
            f"device names must be unique and not {CONTROLLER_CONTEXT!r}: "
            f"{', '.join(clashing) or CONTROLLER_CONTEXT}"
        )
    catalog = catalog_from_args(args)
    reports = resolve_reports(reports, catalog.exporters)
    plan = catalog.resolve(args.test_plan, TestPlan)
    interactive = not args.non_interactive and sys.stdin.isatty()
    spec = RunSpec(
        targets=[plan.id],
        providers=[str(Path(p).absolute()) for p in args.provider],
        title=args.title,
        non_interactive=not interactive,
        reports=[(fmt, str(path.absolute())) for fmt, path in reports],
    )
    state = SessionState()
    state.metadata.title = args.title or plan.name
    state.metadata.test_plan = plan.id
    state.metadata.app_id = "plainbox-control"
    state.metadata.options = {**spec.to_options(), "devices": list(args.destinations)}
    manager = SessionManager.create()
    # The controller's own context holds the session's metadata; devices
    # are the other contexts, so every result carries its device's name.
    manager.add_device_context(
        SessionDeviceContext(state, device=CONTROLLER_CONTEXT, kind="controller")
    )
    with manager:
        write_line(f"Session: {manager.storage.id}")
        write_line(
            f"Running {plan.id} on {len(transports)} device(s): "
            f"{', '.join(t.device for t in transports)}"
        )
        controller = Controller(
            manager,
            catalog,
            plan,
            transports,
            ControlOptions(
                non_interactive=not interactive,
                title=args.title,
                reuse=not args.new_session,
                reconnect_timeout=args.reconnect_timeout,
                backoff_max=args.backoff_max,
            ),
        )
        devices = controller.run()
        failed = False
        write_line()
        for device in devices:
            counts = Counter(
                result.outcome.value
                for _, result in device.context.state.results_in_order()
            )
            summary = (
                ", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "no results"
            )
            status = device.status + (f" ({device.message})" if device.message else "")
            write_line(f"{device.name}: {status}; {summary}")
            failed = (
                failed or device.status != "finished" or device.context.state.failed
            )
        targets = reports or [("json", manager.storage.path / "report.json")]
        reported = write_reports(
            targets,
            SessionView.of(manager),
            private_dir=manager.storage.path,
            exporter_units=catalog.exporters,
        )
    return 1 if failed or not reported else 0
