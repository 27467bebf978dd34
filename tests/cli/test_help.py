"""``--help`` quality: every command documented, with a runnable example.

The parser is walked through argparse's sub-parser actions, so a command
added later is checked without touching this file.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

import pytest

from plainbox.cli.main import build_parser


def _subcommands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    """``(command path, parser, help)`` of every command and sub-action."""
    found = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, sub in action.choices.items():
            found.append(((*path, name), sub, helps.get(name)))
            found.extend(_subcommands(sub, (*path, name)))
    return found


COMMANDS = _subcommands(build_parser())
COMMAND_IDS = [" ".join(path) for path, _, _ in COMMANDS]
PARSERS = [("plainbox", build_parser())] + [
    ("plainbox " + " ".join(path), parser) for path, parser, _ in COMMANDS
]


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        action
        for action in parser._actions
        if not isinstance(
            action,
            (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction),
        )
    ]


def _examples(epilog: str) -> list[list[str]]:
    """The plainbox command lines of an ``Example(s): a; b && c`` epilog."""
    text = epilog.partition(":")[2]
    lines = []
    for part in text.replace("&&", ";").split(";"):
        words = shlex.split(part)
        if "plainbox" in words:
            lines.append(words[words.index("plainbox") + 1 :])
    return lines


def test_the_walk_finds_every_command():
    # A broken walk would make every parametrized test below vacuous.
    assert {
        "validate",
        "run",
        "session list",
        "startprovider",
        "provider",
        "provider test",
    } <= set(COMMAND_IDS)


@pytest.mark.parametrize(("path", "parser", "help_text"), COMMANDS, ids=COMMAND_IDS)
def test_command_has_help_description_and_example(path, parser, help_text):
    assert (help_text or "").strip(), f"{path}: no help"
    assert (parser.description or "").strip(), f"{path}: no description"
    epilog = parser.epilog or ""
    assert epilog.startswith(("Example: ", "Examples: ")), f"{path}: {epilog!r}"


@pytest.mark.parametrize(("path", "parser", "help_text"), COMMANDS, ids=COMMAND_IDS)
def test_command_examples_are_real_command_lines(path, parser, help_text):
    examples = _examples(parser.epilog or "")
    assert examples, f"{path}: the epilog shows no plainbox command line"
    assert any(words[: len(path)] == list(path) for words in examples), (
        f"{path}: no example runs this command: {examples}"
    )
    for words in examples:
        # Parsing is all that is done: an example must be valid syntax.
        args = build_parser().parse_args(words)
        assert args.handler


@pytest.mark.parametrize(("prog", "parser"), PARSERS, ids=[p for p, _ in PARSERS])
def test_every_argument_has_help(prog, parser):
    for action in _options(parser):
        name = "/".join(action.option_strings) or action.dest
        assert (action.help or "").strip(), f"{prog}: {name} has no help"
        assert action.help is not argparse.SUPPRESS, f"{prog}: {name} is hidden"


def test_top_level_help_has_description_and_example():
    parser = build_parser()
    assert parser.description
    assert (parser.epilog or "").startswith(("Example: ", "Examples: "))


@pytest.mark.parametrize("path", [path for path, _, _ in COMMANDS], ids=COMMAND_IDS)
def test_help_exits_0(path):
    done = subprocess.run(
        [sys.executable, "-m", "plainbox", *path, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: plainbox {' '.join(path)}")
    assert done.stderr == ""


def test_building_the_parser_imports_no_command_module():
    # Command modules load only when their command runs: 'plainbox --help'
    # and shell completion stay fast however big the commands grow.
    handlers = sorted(
        {
            parser.get_default("handler").partition(":")[0]
            for _, parser, _ in COMMANDS
            if parser.get_default("handler")
        }
    )
    assert "plainbox.cli.provider_commands" in handlers
    script = (
        "import sys\n"
        "from plainbox.cli.main import build_parser\n"
        "build_parser().parse_args(['provider', 'test'])\n"
        f"print([m for m in {handlers!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]"
