"""Helpers shared by commands: loading providers, printing JSON."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path
from typing import Any

from plainbox import paths
from plainbox.units.catalog import Catalog
from plainbox.units.catalog import load_catalog
from plainbox.units.problems import Origin
from plainbox.units.provider import SKIPPED_FILE_MESSAGE


__all__ = ["absolute_origin", "catalog_from_args", "print_json", "search_path"]


def search_path() -> list[Path]:
    """The configured search path plus directories plugins contribute."""
    from plainbox.plugins import get_plugin_manager

    path = paths.provider_search_path()
    for contributed in get_plugin_manager().hook.plainbox_provider_dirs():
        path.extend(Path(entry) for entry in contributed)
    return path


def catalog_from_args(args: argparse.Namespace, *extra: str) -> Catalog:
    """Load the built-in provider, ``-P`` providers, named ones and the search path."""
    explicit = [Path(entry) for entry in (*args.provider, *extra)]
    catalog = load_catalog(
        search_path(), builtin_dir=paths.BUILTIN_PROVIDER_DIR, explicit=explicit
    )
    # The catalog (and every module) lives until the command exits: take it
    # out of the cyclic collector's sight. Collections during a run then stop
    # scanning thousands of units again and again, and none happens over them
    # at exit (together 20 to 50 ms of a 1,000-job run).
    gc.freeze()
    skipped = sum(1 for p in catalog.problems if p.message == SKIPPED_FILE_MESSAGE)
    if skipped and args.command != "validate":
        sys.stderr.write(
            f"plainbox: warning: {skipped} unit file(s) could not be parsed and "
            "were skipped; 'plainbox validate' shows why\n"
        )
    return catalog


def absolute_origin(origin: Origin) -> str:
    """``path:line`` with an absolute path."""
    return str(Origin(str(Path(origin.path).absolute()), origin.line))


def print_json(data: Any) -> None:
    """Print data as indented JSON on stdout."""
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
