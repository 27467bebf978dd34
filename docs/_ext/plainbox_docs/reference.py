"""The reference tables of the documentation, rendered as reStructuredText.

Plain functions, with no Sphinx in sight, so that the tests can check what
they produce; the Sphinx extension (this package) parses their lines in
place of its directives.

* :func:`unit_fields_rst`, :func:`field_kinds_rst`, :func:`job_plugins_rst`,
  :func:`job_flags_rst` and :func:`resource_limits_rst` render the tables of
  :mod:`plainbox.units.fields` and the bounds of :mod:`plainbox.resources`:
  the same tables the loader, the validator and the interpreter use, so the
  reference cannot drift from them. A kind, plugin or bound without an
  explanation here is an error, not a silent gap.
* :func:`cli_rst` renders every command of an ``argparse`` parser, found by
  walking its subparsers to any depth, one section each with a stable id
  (:func:`cli_label`: ``cli-run``, ``cli-session-resume``).

Every piece of text taken from the code goes through :func:`rst_escape`.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from collections.abc import Sequence

from plainbox.units.fields import FLAGS
from plainbox.units.fields import PLUGINS
from plainbox.units.fields import UNIT_FIELDS
from plainbox.units.fields import FieldSpec
from plainbox.units.fields import Kind
from plainbox.units.fields import fields_of


__all__ = [
    "KIND_HELP",
    "LIMIT_HELP",
    "PLUGIN_HELP",
    "cli_label",
    "cli_rst",
    "example_lines",
    "field_kinds_rst",
    "job_flags_rst",
    "job_plugins_rst",
    "resource_limits_rst",
    "rst_escape",
    "unit_fields_rst",
    "usage_line",
    "walk_commands",
]

#: Where the field kinds are explained (a label in ``units.rst``).
KINDS_LABEL = "unit-field-values"

#: How a value of each kind of field is written.
KIND_HELP: dict[Kind, str] = {
    Kind.TEXT: "Free text, usually on several lines (continuation lines).",
    Kind.LINE: "One line of text.",
    Kind.ID: (
        "A partial id: no '::', the provider's namespace is put in front. "
        "Letters, digits and _ . / : + - only."
    ),
    Kind.REF: (
        "The id of one unit: partial (completed with this unit's namespace) "
        "or full (namespace::id)."
    ),
    Kind.ID_LIST: (
        "Unit ids, partial or full, separated by white space or commas; "
        "one per line is fine."
    ),
    Kind.WORDS: "Words separated by white space or commas.",
    Kind.CHOICE: "Exactly one of the listed values.",
    Kind.DURATION: (
        "A number of seconds (12.5), or hours, minutes and seconds such as "
        "1h 2m 3s or 90s; more than 0."
    ),
    Kind.PROGRAM: "A resource program: one expression per line, all must hold.",
    Kind.IMPORTS: "Lines of the form: from NAMESPACE import PARTIAL_ID [as ALIAS].",
    Kind.PATTERNS: (
        "Test-plan selection lines: an id or a regular expression, optionally "
        "followed by field=value overrides."
    ),
    Kind.OVERRIDES: "Lines of the form: apply VALUE to PATTERN.",
    Kind.JSON: "JSON text, usually on several lines.",
}

#: Pages explaining some kinds in depth.
KIND_PAGES: dict[Kind, str] = {
    Kind.PROGRAM: "resources",
    Kind.IMPORTS: "resources",
    Kind.PATTERNS: "testplans",
    Kind.OVERRIDES: "testplans",
}

#: What each job plugin does, and who decides the outcome.
PLUGIN_HELP: dict[str, str] = {
    "shell": (
        "Runs the command. Exit status 0 is pass, any other status is fail, "
        "and death by a signal is crash."
    ),
    "resource": (
        "Runs the command and reads what it prints as records (key: value "
        "lines, a blank line between records) for requires expressions and "
        "templates. The exit status decides the outcome, as for shell."
    ),
    "attachment": (
        "Runs the command and keeps what it prints as an attachment of the "
        "reports. The exit status decides the outcome."
    ),
    "manual": (
        "Runs nothing: the operator follows purpose and steps and gives the "
        "outcome. Skipped in a run without an operator."
    ),
    "user-interact": (
        "The operator reads the instructions and starts the command; its exit "
        "status decides. Skipped in a run without an operator."
    ),
    "user-verify": (
        "Deprecated (use user-interact-verify). Runs the command, then the "
        "operator gives the outcome. Skipped in a run without an operator."
    ),
    "user-interact-verify": (
        "The operator starts the command, sees its output and gives the "
        "outcome. Skipped in a run without an operator."
    ),
}


# -- reStructuredText helpers --------------------------------------------------


def rst_escape(text: str) -> str:
    """Text that reStructuredText shows exactly as written, on one line.

    White space is collapsed and every character that is neither a letter,
    a digit nor a space is backslash-escaped: no inline markup, no list or
    directive at the start of a line, and no smart quotes or dashes (``--``
    in an option name stays two hyphens).
    """
    collapsed = " ".join(text.split())
    return "".join(
        char if char.isalnum() or char == " " else "\\" + char for char in collapsed
    )


def literal(text: str) -> str:
    """Inline literal markup for a short code-like value."""
    if not text or "``" in text or text != text.strip() or "\n" in text:
        raise ValueError(f"cannot show {text!r} as an inline literal")
    return f"``{text}``"


def _list_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Sequence[str]]],
    widths: Sequence[int],
    css_class: str,
) -> list[str]:
    """A ``list-table``; each cell is a list of paragraphs (already rst)."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        f"   :widths: {' '.join(str(width) for width in widths)}",
        f"   :class: {css_class}",
        "",
    ]
    for row in [[[title] for title in header], *rows]:
        for index, cell in enumerate(row):
            prefix = "   * - " if index == 0 else "     - "
            paragraphs = list(cell) or ["\\ "]
            lines.append(prefix + paragraphs[0])
            for paragraph in paragraphs[1:]:
                lines += ["", "       " + paragraph]
    lines.append("")
    return lines


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


# -- unit fields -----------------------------------------------------------------


def _kind_cell(spec: FieldSpec) -> list[str]:
    if spec.kind is Kind.CHOICE and spec.choices:
        choices = ", ".join(literal(choice) for choice in spec.choices)
        return [f"one of {choices}"]
    return [f":ref:`{spec.kind.value} <{KINDS_LABEL}>`"]


def _meaning_cell(spec: FieldSpec, in_template: bool) -> list[str]:
    paragraphs = [rst_escape(_sentence(spec.doc))]
    if spec.translatable:
        paragraphs.append(
            f"Translatable: write it {literal('_' + spec.name)} to mark it for "
            "translators."
        )
    if spec.short:
        paragraphs.append("One line of at most 80 characters.")
    if spec.deprecated:
        paragraphs.append(f"**Deprecated:** {rst_escape(_sentence(spec.deprecated))}")
    if spec.template_variant and in_template:
        paragraphs.append(
            "*In a template:* should use a template parameter, so that every "
            "instance gets its own value."
        )
    if spec.template_invariant and in_template:
        paragraphs.append(
            "*In a template:* should not use a template parameter: it is the "
            "same for every instance."
        )
    return paragraphs


def _template_units() -> tuple[str, ...]:
    """The unit types a template can make (its ``template-unit`` choices)."""
    return fields_of("template")["template-unit"].choices


def unit_fields_rst(unit_type: str) -> list[str]:
    """A table of every field of a unit type, as the validator knows them.

    :raises KeyError: ``unit_type`` is not a unit type of
        :data:`plainbox.units.fields.UNIT_FIELDS`.
    """
    if unit_type not in UNIT_FIELDS:
        known = ", ".join(UNIT_FIELDS)
        raise KeyError(f"unknown unit type {unit_type!r} (known: {known})")
    # Template rules matter for templates and the unit types they make.
    templated = unit_type == "template" or unit_type in _template_units()
    rows = []
    # fields_of() is the validator's view: one entry per name, the last rule.
    for spec in fields_of(unit_type).values():
        rows.append(
            [
                [literal(spec.name)],
                ["yes" if spec.required else "no"],
                _kind_cell(spec),
                _meaning_cell(spec, templated),
            ]
        )
    return _list_table(
        ["Field", "Required", "Value", "Meaning"],
        rows,
        [20, 10, 22, 48],
        "plainbox-unit-fields",
    )


def field_kinds_rst() -> list[str]:
    """A table explaining every kind of field value.

    :raises ValueError: a kind has no explanation in :data:`KIND_HELP`.
    """
    missing = [kind.value for kind in Kind if kind not in KIND_HELP]
    if missing:
        raise ValueError(f"no explanation of field kinds: {', '.join(missing)}")
    rows = []
    for kind in Kind:
        meaning = [rst_escape(KIND_HELP[kind])]
        page = KIND_PAGES.get(kind)
        if page is not None:
            meaning.append(f"See :doc:`{page}`.")
        rows.append([[literal(kind.value)], meaning])
    return _list_table(["Value", "How it is written"], rows, [20, 80], "plainbox-kinds")


def job_plugins_rst() -> list[str]:
    """A table of the job plugins (:data:`plainbox.units.fields.PLUGINS`).

    :raises ValueError: a plugin has no explanation in :data:`PLUGIN_HELP`.
    """
    missing = [plugin for plugin in PLUGINS if plugin not in PLUGIN_HELP]
    if missing:
        raise ValueError(f"no explanation of job plugins: {', '.join(missing)}")
    rows = [
        [[literal(plugin)], [rst_escape(PLUGIN_HELP[plugin])]] for plugin in PLUGINS
    ]
    return _list_table(["Plugin", "What happens"], rows, [25, 75], "plainbox-plugins")


def job_flags_rst() -> list[str]:
    """A table of the job flags (:data:`plainbox.units.fields.FLAGS`)."""
    rows = [
        [[literal(flag)], [rst_escape(_sentence(effect))]]
        for flag, effect in FLAGS.items()
    ]
    return _list_table(["Flag", "Effect"], rows, [25, 75], "plainbox-flags")


# -- resource programs -------------------------------------------------------------

#: What each bound of :mod:`plainbox.resources` limits, and what exceeding it does.
LIMIT_HELP: dict[str, str] = {
    "MAX_PROGRAM_CHARS": "Characters in one program (a whole requires or "
    "template-filter field). Longer is an error.",
    "MAX_EXPRESSION_CHARS": "Characters in one expression (one line). Longer is "
    "an error.",
    "MAX_DEPTH": "Levels of nesting in one expression. Deeper is an error.",
    "MAX_INT_BITS": "Bits of an integer, written or computed. A larger literal is "
    "an error; a larger result makes the combination false (** is refused "
    "before it computes anything that large).",
    "MAX_INT_DIGITS": "Characters of the text given to int() or float(). Longer "
    "makes the combination false.",
    "MAX_VALUE_SIZE": "Size of a string, list or tuple an expression builds (with "
    "* or +). Larger makes the combination false.",
    "MAX_COMBINATIONS": "Record combinations tried for one expression. More make "
    "the expression false.",
    "MAX_STEPS": "Interpreter steps for one expression (work on large values "
    "counts too). More make the expression false.",
}


def resource_limits_rst() -> list[str]:
    """A table of the bounds of the resource-program interpreter.

    :raises ValueError: a bound has no explanation in :data:`LIMIT_HELP`.
    """
    from plainbox import resources

    names = [name for name in resources.__all__ if name.startswith("MAX_")]
    missing = [name for name in names if name not in LIMIT_HELP]
    if missing:
        raise ValueError(f"no explanation of resource limits: {', '.join(missing)}")
    rows = [
        [
            [literal(name)],
            [literal(f"{getattr(resources, name):,}")],
            [rst_escape(LIMIT_HELP[name])],
        ]
        for name in names
    ]
    return _list_table(
        ["Bound", "Value", "What it limits"], rows, [26, 14, 60], "plainbox-limits"
    )


# -- the command line -------------------------------------------------------------

#: Width of the usage lines in the reference (literal blocks do not wrap).
USAGE_WIDTH = 79
_UNDERLINES = "-~^\"'"
_NARGS_NOTES = {
    argparse.OPTIONAL: "Optional.",
    argparse.ZERO_OR_MORE: "Optional; any number may be given.",
    argparse.ONE_OR_MORE: "One or more.",
}
_HIDDEN_ACTIONS = (argparse._HelpAction, argparse._SubParsersAction)


def walk_commands(
    parser: argparse.ArgumentParser,
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """Every command, depth first: (words after the program name, parser, help).

    The root parser comes first, with the path ``()``; a command reachable
    under several names (aliases) is listed once, under its first name.
    """

    def walk(
        path: tuple[str, ...], current: argparse.ArgumentParser, help_text: str
    ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
        yield path, current, help_text
        for name, sub, sub_help in _subcommands(current):
            yield from walk((*path, name), sub, sub_help)

    yield from walk((), parser, parser.description or "")


def _subcommands(
    parser: argparse.ArgumentParser,
) -> list[tuple[str, argparse.ArgumentParser, str]]:
    found: list[tuple[str, argparse.ArgumentParser, str]] = []
    seen: set[int] = set()
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        for name, sub in action.choices.items():
            if id(sub) in seen:
                continue  # an alias of a command already listed
            seen.add(id(sub))
            help_text = helps.get(name, "")
            if help_text != argparse.SUPPRESS:
                found.append((name, sub, help_text))
    return found


def cli_label(path: Sequence[str], program: str = "plainbox") -> str:
    """The stable section id of a command: ``cli-run``, ``cli-session-resume``."""
    words = list(path) or [program]
    slug = "-".join(
        re.sub(r"[^a-z0-9]+", "-", word.lower()).strip("-") for word in words
    )
    return f"cli-{slug}"


def _formatter(parser: argparse.ArgumentParser) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)


def usage_line(parser: argparse.ArgumentParser) -> str:
    """The usage of a command, wrapped at :data:`USAGE_WIDTH` columns."""
    formatter = _formatter(parser)
    formatter.add_usage(
        parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix=""
    )
    return formatter.format_help().strip("\n")


def _invocations(parser: argparse.ArgumentParser, action: argparse.Action) -> list[str]:
    if not action.option_strings:
        return [str(action.metavar or action.dest)]
    if action.nargs == 0:
        return list(action.option_strings)
    formatter = _formatter(parser)
    value = formatter._format_args(action, action.dest.upper())
    return [f"{option} {value}" for option in action.option_strings]


def _help_text(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help:
        return ""
    return _formatter(parser)._expand_help(action)


def _shows_default(action: argparse.Action) -> bool:
    if isinstance(action, (argparse._StoreConstAction, argparse._VersionAction)):
        return False  # store_true, store_false, store_const and --version
    return action.default not in (None, argparse.SUPPRESS, [], ())


def _argument_rst(
    parser: argparse.ArgumentParser, action: argparse.Action
) -> list[str]:
    term = ", ".join(literal(text) for text in _invocations(parser, action))
    paragraphs = []
    help_text = _help_text(parser, action)
    if help_text:
        paragraphs.append(rst_escape(help_text))
    facts = []
    if not action.option_strings and isinstance(action.nargs, str):
        note = _NARGS_NOTES.get(action.nargs)
        if note is not None:
            facts.append(note)
    if action.option_strings and action.required:
        facts.append("Required.")
    if action.choices is not None:
        choices = ", ".join(literal(str(choice)) for choice in action.choices)
        facts.append(f"One of {choices}.")
    if _shows_default(action):
        facts.append(f"Default: {literal(str(action.default))}.")
    if facts:
        paragraphs.append(" ".join(facts))
    lines = [term]
    for index, paragraph in enumerate(paragraphs or ["\\ "]):
        if index:
            lines.append("")
        lines.append("   " + paragraph)
    return [*lines, ""]


def _paragraphs(parser: argparse.ArgumentParser, text: str) -> list[str]:
    """A description as rst paragraphs, or a literal block when it is raw."""
    formatter_class = parser.formatter_class
    raw = isinstance(formatter_class, type) and issubclass(
        formatter_class, argparse.RawDescriptionHelpFormatter
    )
    if raw:
        body = [f"   {line}".rstrip() for line in text.strip("\n").splitlines()]
        return [".. code-block:: text", "", *body, ""]
    lines: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        if paragraph.strip():
            lines += [rst_escape(paragraph), ""]
    return lines


def example_lines(epilog: str, program: str) -> tuple[str, list[str]]:
    """The examples of an epilog: a title and one command per line.

    ``Example: CMD`` and ``Examples: CMD; CMD`` (each command starting with
    ``program``) give one command per line; other text is kept as it is.
    """
    lines: list[str] = []
    for line in epilog.strip("\n").splitlines():
        match = re.match(r"\s*Examples?:\s*(.*)$", line)
        if match is None:
            lines.append(line.rstrip())
            continue
        pieces = re.split(rf";\s+(?={re.escape(program)}\b)", match.group(1))
        lines += [piece.strip() for piece in pieces if piece.strip()]
    commands = [line for line in lines if line.strip()]
    return ("Example" if len(commands) == 1 else "Examples"), lines


def _command_rst(
    path: tuple[str, ...],
    parser: argparse.ArgumentParser,
    help_text: str,
    program: str,
) -> list[str]:
    title = " ".join([program, *path])
    underline = _UNDERLINES[min(max(len(path) - 1, 0), len(_UNDERLINES) - 1)]
    lines = [f".. _{cli_label(path, program)}:", "", title, underline * len(title), ""]
    description = parser.description or help_text
    if description:
        lines += _paragraphs(parser, description)
    usage = usage_line(parser).splitlines()
    lines += [".. code-block:: text", "", *(f"   {line}" for line in usage), ""]
    visible = [
        action
        for action in parser._actions
        if not isinstance(action, _HIDDEN_ACTIONS) and action.help != argparse.SUPPRESS
    ]
    for heading, wanted in (("Arguments", False), ("Options", True)):
        chosen = [action for action in visible if bool(action.option_strings) is wanted]
        if chosen:
            lines += [f".. rubric:: {heading}", ""]
            for action in chosen:
                lines += _argument_rst(parser, action)
    subcommands = _subcommands(parser)
    if subcommands:
        lines += [".. rubric:: Commands", ""]
        for name, _, sub_help in subcommands:
            label = cli_label((*path, name), program)
            summary = rst_escape(sub_help) or "\\ "
            lines += [f":ref:`{name} <{label}>`", f"   {summary}", ""]
    if parser.epilog:
        heading, examples = example_lines(parser.epilog, program)
        body = [f"   {line}".rstrip() for line in examples]
        lines += [f".. rubric:: {heading}", "", ".. code-block:: text", "", *body, ""]
    return lines


def cli_rst(parser: argparse.ArgumentParser) -> list[str]:
    """The reference of every command of ``parser``, one section each."""
    program = parser.prog
    lines: list[str] = []
    for path, command, help_text in walk_commands(parser):
        lines += _command_rst(path, command, help_text, program)
    return lines
