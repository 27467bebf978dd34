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
        help="write a report: json or text, e.g. json:results.json (repeatable; "
        "default: report.json in the session directory)",
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
    run.set_defaults(handler="plainbox.cli.run_command:run_command")
    return parser


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
