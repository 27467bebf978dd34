"""Sphinx configuration for the plainbox documentation."""

from __future__ import annotations

import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

project = "plainbox"
author = "plainbox developers"
copyright = "2026, plainbox developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
intersphinx_mapping: dict[str, tuple[str, None]] = {}
exclude_patterns = ["_build"]
html_theme = "alabaster"
autodoc_typehints = "description"
nitpicky = False
