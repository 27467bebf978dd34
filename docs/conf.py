"""Sphinx configuration for the plainbox documentation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


_DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(_DOCS.parent))
# plainbox_docs: directives rendering the unit fields and the command line
# from the tables and the parser plainbox itself uses.
sys.path.insert(0, str(_DOCS / "_ext"))

project = "plainbox"
author = "plainbox developers"
copyright = "2026, plainbox developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx", "plainbox_docs"]
intersphinx_mapping: dict[str, tuple[str, None]] = {}
exclude_patterns = ["_build"]
html_theme = "alabaster"
autodoc_typehints = "description"
nitpicky = False
# The build runs offline, so intersphinx has no inventory for the standard
# library: its classes (in type hints) cannot be linked. Every other
# reference must resolve (tox builds with -n).
nitpick_ignore_regex = [
    ("py:class", r"(pathlib|collections\.abc|typing|re|ast|subprocess)\.\w+"),
    ("py:class", r"Path|Callable|Iterable|Iterator|Sequence|Mapping|Any|EntryPoint"),
    ("py:mod", r"ast"),
    ("py:func", r"ast\.\w+"),
    # Type variables (``U`` in ``of_kind(kind: type[U]) -> list[U]``) are
    # typing constructs, not documented objects.
    ("py:class", r"plainbox\.[\w.]+\.[A-Z]"),
    # pluggy, the one third-party library in public signatures, is offline too.
    ("py:class", r"pluggy\.[\w.]+"),
]


def _resolve_bare_name(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a bare name, like ``SessionError`` in a ``:raises:`` field, as
    Sphinx resolves ``.SessionError``: to the one documented object whose
    dotted name ends with it. Docstrings name exceptions the way the module
    imports them, not by their full path.
    """
    if node.get("refdomain") != "py" or node.get("refspecific"):
        return None
    node["refspecific"] = True
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env,
        node["refdoc"],
        app.builder,
        node["reftype"],
        node["reftarget"],
        node,
        contnode,
    )


def setup(app: Any) -> None:
    app.connect("missing-reference", _resolve_bare_name)
