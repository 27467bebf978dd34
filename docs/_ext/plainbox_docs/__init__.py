"""Sphinx extension: plainbox's own tables and parser, rendered in the docs.

Directives (their text comes from :mod:`plainbox_docs.reference`, plain
functions the tests call without Sphinx):

``.. plainbox-unit-fields:: UNIT_TYPE``
    every field of one unit type, from :mod:`plainbox.units.fields`;
``.. plainbox-field-kinds::``
    how each kind of field value is written;
``.. plainbox-job-plugins::`` and ``.. plainbox-job-flags::``
    the job plugins and flags;
``.. plainbox-resource-limits::``
    the bounds of the resource-program interpreter;
``.. plainbox-cli::``
    every command of :func:`plainbox.cli.main.build_parser`, one section
    each (ids ``cli-run``, ``cli-session-resume``, ...); commands added to
    the parser later appear without any change here.

It also registers a ``pxu`` Pygments lexer for unit-file examples.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes  # type: ignore[import-untyped]
from docutils.statemachine import StringList  # type: ignore[import-untyped]
from pygments.lexer import RegexLexer  # type: ignore[import-untyped]
from pygments.lexer import bygroups
from pygments.token import Comment  # type: ignore[import-untyped]
from pygments.token import Name
from pygments.token import Punctuation
from pygments.token import String
from pygments.token import Text
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

from .reference import cli_rst
from .reference import field_kinds_rst
from .reference import job_flags_rst
from .reference import job_plugins_rst
from .reference import resource_limits_rst
from .reference import unit_fields_rst


__all__ = ["PxuLexer", "setup"]


class _GeneratedDirective(SphinxDirective):
    """Parses the reStructuredText lines :meth:`lines` returns in place."""

    has_content = False

    def lines(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[Any]:
        try:
            generated = self.lines()
        except (KeyError, ValueError) as exc:
            raise self.error(f"{self.name}: {exc}") from None
        # Problems in the generated text are reported at the directive.
        source, line = self.get_source_info()
        content = StringList()
        for text in generated:
            content.append(text, source, line)
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, content, node, self.content_offset)
        return list(node.children)


class UnitFieldsDirective(_GeneratedDirective):
    """``.. plainbox-unit-fields:: UNIT_TYPE``"""

    required_arguments = 1
    final_argument_whitespace = True

    def lines(self) -> list[str]:
        from plainbox.units import fields

        self.env.note_dependency(fields.__file__)
        return unit_fields_rst(" ".join(self.arguments[0].split()))


class FieldKindsDirective(_GeneratedDirective):
    """``.. plainbox-field-kinds::``"""

    def lines(self) -> list[str]:
        return field_kinds_rst()


class JobPluginsDirective(_GeneratedDirective):
    """``.. plainbox-job-plugins::``"""

    def lines(self) -> list[str]:
        return job_plugins_rst()


class JobFlagsDirective(_GeneratedDirective):
    """``.. plainbox-job-flags::``"""

    def lines(self) -> list[str]:
        return job_flags_rst()


class ResourceLimitsDirective(_GeneratedDirective):
    """``.. plainbox-resource-limits::``"""

    def lines(self) -> list[str]:
        from plainbox import resources

        self.env.note_dependency(resources.__file__)
        return resource_limits_rst()


class CliDirective(_GeneratedDirective):
    """``.. plainbox-cli::``"""

    def lines(self) -> list[str]:
        from plainbox.cli import main

        self.env.note_dependency(main.__file__)
        return cli_rst(main.build_parser())


class PxuLexer(RegexLexer):  # type: ignore[misc]
    """Unit files: ``key: value`` records, continuation lines, ``#`` comments."""

    name = "PXU"
    aliases = ["pxu"]  # noqa: RUF012 (Pygments reads these class attributes)
    filenames = ["*.pxu"]  # noqa: RUF012
    tokens = {  # noqa: RUF012
        "root": [
            (r"#.*\n", Comment.Single),
            (r"( )(\.)(\n)", bygroups(Text, Punctuation, Text)),
            (r" .*\n", String),
            (
                r"([^\s:#][^:\n]*)(:)(.*\n)",
                bygroups(Name.Attribute, Punctuation, String),
            ),
            (r".*\n", Text),
        ]
    }


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("plainbox-unit-fields", UnitFieldsDirective)
    app.add_directive("plainbox-field-kinds", FieldKindsDirective)
    app.add_directive("plainbox-job-plugins", JobPluginsDirective)
    app.add_directive("plainbox-job-flags", JobFlagsDirective)
    app.add_directive("plainbox-resource-limits", ResourceLimitsDirective)
    app.add_directive("plainbox-cli", CliDirective)
    app.add_lexer("pxu", PxuLexer)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
