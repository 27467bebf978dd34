"""plainbox: run test sessions on machines and devices.

The public API is re-exported here lazily, so importing :mod:`plainbox` (and
starting the command line) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any


__version__ = "0.1.0"

_EXPORTS = {
    "hookimpl": "plainbox.plugins",
    "Catalog": "plainbox.units.catalog",
    "load_catalog": "plainbox.units.catalog",
    "Problem": "plainbox.units.problems",
    "Severity": "plainbox.units.problems",
    "Origin": "plainbox.units.problems",
    "JobDefinition": "plainbox.units.model",
    "TemplateUnit": "plainbox.units.model",
    "TestPlan": "plainbox.units.model",
    "Category": "plainbox.units.model",
    "Provider": "plainbox.units.provider",
    "Outcome": "plainbox.session.results",
    "JobResult": "plainbox.session.results",
    "PlainboxError": "plainbox.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'plainbox' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
