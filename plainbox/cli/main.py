"""``plainbox`` command-line entry point: parse arguments, dispatch, map errors.

Command modules are imported only when their command runs, so that
``plainbox --help`` starts fast. Only this module turns
:class:`~plainbox.errors.PlainboxError` into ``plainbox: error: ...`` and an
exit status; anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from plainbox import __version__


__all__ = ["ExitCode", "build_parser", "console_main", "main"]


class ExitCode(enum.IntEnum):
    """Exit statuses of the ``plainbox`` command."""

    OK = 0
    FAILED = 1  # a job failed or crashed; validation found errors
    USAGE_ERROR = 2
    INTERRUPTED = 130


_LIST_GROUPS = (
    "jobs",
    "templates",
    "test-plans",
    "categories",
    "providers",
    "exporters",
    "manifest-entries",
    "packaging-meta-data",
)


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="output as text (default) or as a JSON list of objects",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (used for the docs too)."""
    parser = argparse.ArgumentParser(
        prog="plainbox",
        description="Run test sessions on machines and devices.",
        epilog="Example: plainbox run io.plainbox.tutorial::tutorial --non-interactive",
    )
    parser.add_argument(
        "--version", action="version", version=f"plainbox {__version__}"
    )
    parser.add_argument(
        "-P",
        "--provider",
        action="append",
        default=[],
        metavar="DIR",
        help="load the provider in DIR too (repeatable); e.g. -P ./my-provider",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    validate = commands.add_parser(
        "validate",
        help="check providers' units and report every problem",
        description="Check providers and report problems as 'path:line: severity: "
        "message'. Exits 1 when there is an error (or a warning with --strict).",
        epilog="Example: plainbox validate providers/tutorial",
    )
    validate.add_argument(
        "providers",
        nargs="*",
        metavar="PROVIDER_DIR",
        help="provider directories (default: every provider found)",
    )
    validate.add_argument("--strict", action="store_true", help="warnings fail too")
    validate.add_argument(
        "--advice", action="store_true", help="also show advice (hidden by default)"
    )
    _add_format(validate)
    validate.set_defaults(handler="plainbox.cli.unit_commands:validate_command")

    _add_provider_commands(commands)

    listing = commands.add_parser(
        "list",
        help="list units or providers",
        description="List units of one kind, or the providers found.",
        epilog="Example: plainbox list test-plans --format json",
    )
    listing.add_argument("group", choices=_LIST_GROUPS, help="what to list")
    _add_format(listing)
    listing.set_defaults(handler="plainbox.cli.unit_commands:list_command")

    show = commands.add_parser(
        "show",
        help="show a unit's fields and origin",
        description="Show a unit: its fields and where it is defined; for a test "
        "plan also the jobs it selects.",
        epilog="Example: plainbox show io.plainbox.tutorial::tutorial",
    )
    show.add_argument(
        "unit_id", metavar="UNIT_ID", help="full or unambiguous partial id"
    )
    _add_format(show)
    show.set_defaults(handler="plainbox.cli.unit_commands:show_command")

    run = commands.add_parser(
        "run",
        help="run a test plan, or jobs picked by pattern",
        description="Run a test plan's jobs in dependency order and write reports. "
        "One argument naming a test plan runs that plan; otherwise the arguments "
        "are regular expressions picking jobs by id (anchored to the whole id; "
        "without '::' a pattern matches in any namespace). "
        "Exits 1 when a job failed or crashed, 2 on a usage error.",
        epilog="Examples: plainbox run tutorial --non-interactive --report "
        "json:out.json; plainbox run 'tutorial/.*' --non-interactive; "
        "plainbox run --launcher my-launcher.ini",
    )
    run.add_argument(
        "targets",
        nargs="*",
        metavar="TEST_PLAN_ID|PATTERN",
        help="a test plan id (full or unambiguous partial), or job id patterns; "
        "default: the launcher's [test plan] unit",
    )
    run.add_argument(
        "--non-interactive",
        action="store_true",
        help="never ask the operator: interactive jobs are skipped",
    )
    run.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="FORMAT:PATH",
        help="write a report; FORMAT is json, html, junit, xlsx, text, submission, "
        "tar, a plugin's format ('plainbox plugins' lists them) or a provider's exporter unit id, e.g. "
        "junit:results.xml (repeatable; default: report.json in the session "
        "directory)",
    )
    run.add_argument(
        "--title",
        metavar="TEXT",
        help="the session title, written in reports (default: the launcher's "
        "session_title, else the test plan's name)",
    )
    run.add_argument(
        "--job-timeout",
        type=float,
        metavar="SECONDS",
        help="fail any job still running after this long (default: no limit)",
    )
    run.add_argument(
        "--launcher",
        metavar="FILE",
        help="read a Checkbox launcher (INI): test plan, [test selection] "
        "exclude, [ui] type, [environment]; command-line options win",
    )
    run.add_argument(
        "--rerun-failed",
        metavar="SESSION_ID",
        help="run again the failed and crashed jobs of an earlier session (and "
        "the jobs skipped because of them), as new attempts in that session; "
        "e.g. --rerun-failed pbox-20261121-101500-3fa2c1",
    )
    run.set_defaults(handler="plainbox.cli.run_command:run_command")
    _add_session_commands(commands)

    merge = commands.add_parser(
        "merge",
        help="write one report of several sessions",
        description="Merge the results of several sessions (several devices, or "
        "a run and its rerun) into one report. Every result is kept; a device "
        "name used by several sessions is told apart by the session id.",
        epilog="Example: plainbox merge pbox-20261121-101500-3fa2c1 "
        "pbox-20261121-113000-77d0e2 --report html:merged.html",
    )
    merge.add_argument(
        "session_ids",
        nargs="+",
        metavar="SESSION_ID",
        help="the sessions to merge ('plainbox session list' shows their ids)",
    )
    _add_report(merge, "none; at least one is needed")
    merge.set_defaults(handler="plainbox.cli.report_commands:merge_command")

    _add_remote_commands(commands)

    plugins = commands.add_parser(
        "plugins",
        help="list plugins, their hooks and the report formats",
        description="List the plugins plainbox loaded (built-in ones and those "
        "of the 'plainbox' entry-point group), the hooks each implements, the "
        "exporters (report formats) they provide, and plugins that failed to "
        "load, with the reason.",
        epilog="Example: plainbox plugins --format json",
    )
    _add_format(plugins)
    plugins.set_defaults(handler="plainbox.cli.report_commands:plugins_command")
    return parser


def _add_provider_commands(commands: Any) -> None:
    handler = "plainbox.cli.provider_commands:"
    start = commands.add_parser(
        "startprovider",
        help="create a new provider from a working skeleton",
        description="Create a provider directory: provider.toml, commented "
        "example jobs (a shell job, a bin/ script reading a data/ file, a "
        "resource job, a job gated by 'requires', a template), the test plan "
        "NAMESPACE::smoke listing them, a README and unit tests of the script. "
        "It validates, tests and runs green as created. Nothing is ever "
        "overwritten: exits 1 when DIR exists and is not empty, 2 when "
        "NAMESPACE:NAME is invalid.",
        epilog="Example: plainbox startprovider com.example:first ./first && "
        "plainbox provider test ./first",
    )
    start.add_argument(
        "provider_id",
        metavar="NAMESPACE:NAME",
        help="the unit namespace, reverse-domain style (dot-separated parts of "
        "a-z, 0-9, '-'), and the provider name (a-z, 0-9, '-'); "
        "e.g. com.example:first",
    )
    start.add_argument(
        "directory",
        nargs="?",
        metavar="DIR",
        help="where to create the provider; must not exist or be empty "
        "(default: ./NAME)",
    )
    start.set_defaults(handler=handler + "startprovider_command")

    provider = commands.add_parser(
        "provider",
        help="tools for provider authors (see 'plainbox provider test')",
        description="Tools for writing providers. 'plainbox startprovider' "
        "creates a new one.",
        epilog="Example: plainbox provider test ./first",
    )
    actions = provider.add_subparsers(dest="action", metavar="ACTION", required=True)
    test = actions.add_parser(
        "test",
        help="check providers before a commit: validation, shellcheck, unit tests",
        description="For each provider: (1) validate as 'plainbox validate "
        "--strict' does: errors and warnings fail; (2) run shellcheck on every "
        "job's and template's command (template parameters replaced by a plain "
        "word; jinja2 commands with {% %} blocks are skipped with a note) "
        "and on bin/ files that are shell scripts (*.sh, or a #! line naming "
        "sh, bash, dash or ksh), reported as 'path:line: level: SCnnnn "
        "message' at the unit file's line; shellcheck errors and warnings "
        "fail, info and style findings only with --strict; a '# shellcheck "
        "disable=SCnnnn' line in a command silences one; without shellcheck "
        "installed this step is skipped with a note; (3) when tests/ exists, "
        "run 'python3 -m unittest discover -s tests' in the provider "
        "directory: failing tests fail. One PASS/FAIL line per provider; exits "
        "1 when any provider failed, 2 on a usage error.",
        epilog="Examples: plainbox provider test; plainbox provider test "
        "./first ./second --strict --timeout 60",
    )
    test.add_argument(
        "providers",
        nargs="*",
        metavar="PROVIDER_DIR",
        help="provider directories (default: the current directory)",
    )
    test.add_argument(
        "--strict",
        action="store_true",
        help="shellcheck info and style findings fail too (errors and warnings "
        "always fail)",
    )
    test.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="time limit of each shellcheck process and of each provider's "
        "unit tests (default 300)",
    )
    test.set_defaults(handler=handler + "provider_test_command")


def _add_remote_commands(commands: Any) -> None:
    handler = "plainbox.cli.remote_commands:"
    agent = commands.add_parser(
        "agent",
        help="serve a controller on stdin/stdout (run by 'plainbox control')",
        description="Speak the agent protocol (docs/remote.rst) on stdin and "
        "stdout. Sessions run in a detached runner process on this device, so "
        "a dropped connection never stops a job. Never listens on a port.",
        epilog="Example: ssh device plainbox agent --stdio",
    )
    agent.add_argument(
        "--stdio",
        action="store_true",
        help="use stdin/stdout (the only mode; required)",
    )
    agent.set_defaults(handler=handler + "agent_command")

    control = commands.add_parser(
        "control",
        help="run a test plan on devices through their agents",
        description="Run a test plan on every DEST at once, as device contexts "
        "of one session here. DEST is [user@]host or ssh://[user@]host[:port] "
        "(the system ssh client: keys, known_hosts and ~/.ssh/config apply), or "
        "local[:NAME] (an agent on this machine with its own state directory). "
        "Lost connections are retried with backoff; the device keeps running. "
        "Exits 1 when a job failed or a device was lost.",
        epilog="Examples: plainbox control local:a local:b tutorial "
        "--non-interactive; plainbox control ssh://ubuntu@dut:2222 "
        "io.plainbox.tutorial::tutorial --report html:dut.html",
    )
    control.add_argument(
        "destinations",
        nargs="+",
        metavar="DEST",
        help="a device: [user@]host, ssh://[user@]host[:port] or local[:NAME]",
    )
    control.add_argument(
        "test_plan", metavar="TEST_PLAN_ID", help="the test plan (full or partial id)"
    )
    control.add_argument(
        "--non-interactive",
        action="store_true",
        help="never ask the operator: interactive jobs are skipped on every device",
    )
    _add_report(control, "report.json in the session directory")
    control.add_argument("--title", metavar="TEXT", help="the session title")
    control.add_argument(
        "--agent-command",
        metavar="COMMAND",
        help="what ssh runs on the device (default: 'plainbox agent --stdio'); "
        "e.g. '/opt/venv/bin/python -m plainbox agent --stdio'",
    )
    control.add_argument(
        "--ssh-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="an ssh -o option (repeatable), e.g. --ssh-option Port=2222",
    )
    control.add_argument(
        "--reconnect-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="give a device up after this long without a connection (default 600)",
    )
    control.add_argument(
        "--backoff-max",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="the longest wait between reconnection attempts (default 10)",
    )
    control.add_argument(
        "--new-session",
        action="store_true",
        help="start new device sessions even if one of this plan is unfinished "
        "(default: take the unfinished one over)",
    )
    control.set_defaults(handler=handler + "control_command")


def _add_report(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="FORMAT:PATH",
        help=f"write a report; FORMAT is json, html, junit, xlsx, text, submission, "
        f"tar, a plugin's format ('plainbox plugins' lists them) or a provider's exporter unit id, e.g. "
        f"html:report.html (repeatable; default: {default})",
    )


def _add_session_commands(commands: Any) -> None:
    session = commands.add_parser(
        "session",
        help="list, inspect, resume, export or remove sessions",
        description="Sessions are kept on disk (PLAINBOX_STATE_DIR, default "
        "~/.local/state/plainbox/sessions); each has an id that 'plainbox run' "
        "prints when it starts.",
        epilog="Example: plainbox session list",
    )
    actions = session.add_subparsers(dest="action", metavar="ACTION", required=True)
    handler = "plainbox.cli.session_commands:"

    listing = actions.add_parser(
        "list",
        help="list sessions, newest first",
        description="List sessions, newest first: id, title, test plan, "
        "creation time, status (running, incomplete, finished, damaged) and "
        "progress. Reads only each session's small header.",
        epilog="Example: plainbox session list --format json",
    )
    _add_format(listing)
    listing.set_defaults(handler=handler + "list_command")

    show = actions.add_parser(
        "show",
        help="show a session's details and results",
        description="Show a session: metadata and the latest result of each job.",
        epilog="Example: plainbox session show pbox-20261121-101500-3fa2c1",
    )
    show.add_argument(
        "session_id", metavar="SESSION_ID", help="the session ('session list' ids)"
    )
    _add_format(show)
    show.set_defaults(handler=handler + "show_command")

    resume = actions.add_parser(
        "resume",
        help="go on with a session that stopped",
        description="Resume a session where it stopped (a crash, a kill, Ctrl-C, "
        "a reboot). The job that was running becomes 'pass' if it has the "
        "noreturn flag (it was expected to reboot), else 'crash'; at a terminal "
        "you may instead run it again, skip, pass or fail it. Jobs whose "
        "definition changed since they ran are named, and you decide.",
        epilog="Examples: plainbox session resume; plainbox session resume "
        "pbox-20261121-101500-3fa2c1 --non-interactive --accept-changed",
    )
    resume.add_argument(
        "session_id",
        nargs="?",
        metavar="SESSION_ID",
        help="default: the newest incomplete session",
    )
    resume.add_argument(
        "--non-interactive",
        action="store_true",
        help="ask nothing: defaults for the interrupted job, interactive jobs skipped",
    )
    resume.add_argument(
        "--accept-changed",
        action="store_true",
        help="go on even if jobs that already ran have changed definitions",
    )
    resume.add_argument(
        "--auto",
        action="store_true",
        help="resume without any question (implies --non-interactive and "
        "--accept-changed); what automatic resume after a reboot runs",
    )
    _add_report(resume, "the reports the session was started with")
    resume.set_defaults(handler=handler + "resume_command")

    export = actions.add_parser(
        "export",
        help="write reports of a session",
        description="Write reports of a session from what it recorded on disk.",
        epilog="Example: plainbox session export pbox-20261121-101500-3fa2c1 "
        "--report json:results.json",
    )
    export.add_argument(
        "session_id", metavar="SESSION_ID", help="the session ('session list' ids)"
    )
    _add_report(export, "none; at least one is needed")
    export.set_defaults(handler=handler + "export_command")

    remove = actions.add_parser(
        "remove",
        help="delete sessions",
        description="Delete sessions and every file they hold. A session in "
        "use by a running plainbox is not removed.",
        epilog="Example: plainbox session remove pbox-20261121-101500-3fa2c1",
    )
    remove.add_argument(
        "session_ids",
        nargs="+",
        metavar="SESSION_ID",
        help="the sessions to delete ('session list' ids)",
    )
    remove.set_defaults(handler=handler + "remove_command")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``plainbox`` with ``argv``; returns the exit status."""
    from plainbox.errors import PlainboxError
    from plainbox.errors import UnknownUnitError
    from plainbox.errors import UsageError

    parser = build_parser()
    args = parser.parse_args(argv)
    module_name, _, function_name = args.handler.partition(":")
    handler = getattr(importlib.import_module(module_name), function_name)
    try:
        return int(handler(args))
    except (UsageError, UnknownUnitError) as exc:
        parser.exit(ExitCode.USAGE_ERROR, f"plainbox: error: {exc}\n")
    except PlainboxError as exc:
        sys.stderr.write(f"plainbox: error: {exc}\n")
        return ExitCode.FAILED
    except KeyboardInterrupt:
        sys.stderr.write("plainbox: interrupted\n")
        return ExitCode.INTERRUPTED


def console_main() -> None:
    """The ``plainbox`` console script."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (plainbox list | head): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = ExitCode.FAILED
    sys.exit(code)
