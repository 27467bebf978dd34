"""Providers: finding them, reading their declarations, loading their unit files.

A provider is declared in one of three ways:

* a source tree with ``manage.py``: its ``setup(...)`` keywords are read with
  :mod:`ast`, never executed (a non-literal value is skipped with a warning);
* an installed ``.provider`` INI file (section ``[PlainBox Provider]``);
* plainbox's own ``provider.toml`` (table ``[provider]``).
"""

from __future__ import annotations

import ast
import os
import re
import sys
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from plainbox.units.loader import load_record
from plainbox.units.model import Unit
from plainbox.units.problems import Origin
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity
from plainbox.units.pxu import decode_unit_text
from plainbox.units.pxu import parse_pxu


if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


__all__ = [
    "Provider",
    "ProviderUnits",
    "discover_providers",
    "load_provider_units",
    "read_provider",
]

_IQN = re.compile(
    r"^(?:[0-9]{4}\.)?[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+:[a-z][a-z0-9-]*$"
)
_SHORT_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
_DECLARATIONS = ("provider.toml", "manage.py")
_UNIT_SUFFIXES = (".pxu", ".txt", ".txt.in", ".yaml", ".yml")
_LEGACY_JOB_SUFFIXES = (".pxu", ".txt", ".in", ".yaml", ".yml")
_INI_SECTION = "PlainBox Provider"
SKIPPED_FILE_MESSAGE = "no units loaded from this file: fix the errors reported for it"
_GETTEXT_MARKERS = frozenset({"N_", "_", "gettext"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Provider:
    """A provider's identity and the directories its parts live in."""

    name: str
    namespace: str
    version: str | None
    description: str = ""
    gettext_domain: str | None = None
    definition: Path
    kind: str  # "toml", "manage.py", ".provider" or "builtin"
    base_dir: Path | None = None
    units_dir: Path | None = None
    jobs_dir: Path | None = None
    data_dir: Path | None = None
    bin_dir: Path | None = None
    locale_dir: Path | None = None

    def unit_files(self) -> list[Path]:
        """Every unit file of the provider, in a stable order."""
        found: list[Path] = []
        for directory, suffixes in (
            (self.units_dir, _UNIT_SUFFIXES),
            (self.jobs_dir, _LEGACY_JOB_SUFFIXES),
        ):
            if directory is not None and directory.is_dir():
                found.extend(
                    path
                    for path in sorted(_walk_files(directory))
                    if path.name.endswith(suffixes)
                )
        return found

    def as_dict(self) -> dict[str, object]:
        """Plain data for listings."""
        return {
            "id": f"{self.namespace}:{self.name}"
            if ":" not in self.name
            else self.name,
            "name": self.name,
            "namespace": self.namespace,
            "version": self.version,
            "description": self.description,
            "kind": self.kind,
            "origin": str(self.definition),
            "base_dir": str(self.base_dir) if self.base_dir else None,
        }


@dataclass(slots=True)
class ProviderUnits:
    """What loading a provider's unit files produced."""

    provider: Provider
    units: list[Unit] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Units of files with syntax errors: validated, but never listed or run.
    quarantined: list[Unit] = field(default_factory=list)


def _walk_files(directory: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        for name in files:
            if not name.startswith("."):
                yield Path(root, name)


def _problem(
    path: Path, message: str, line: int = 0, severity: Severity = Severity.ERROR
) -> Problem:
    return Problem(severity, Origin(str(path), line), message)


def _namespace_for(name: str, namespace: str | None) -> str | None:
    if namespace:
        return namespace
    if _IQN.match(name):
        return name.partition(":")[0]
    return None


def _finish(
    values: dict[str, str],
    *,
    definition: Path,
    kind: str,
    base_dir: Path | None,
    problems: list[Problem],
    explicit_dirs: dict[str, Path] | None = None,
) -> Provider | None:
    name = values.get("name", "").strip()
    if not name:
        problems.append(_problem(definition, "provider has no name"))
        return None
    if not (_IQN.match(name) or _SHORT_NAME.match(name)):
        problems.append(
            _problem(
                definition,
                f"provider name {name!r} is neither 'YYYY.domain.tld:name' nor short "
                "lower-case words joined by '-'",
                severity=Severity.WARNING,
            )
        )
    namespace = _namespace_for(name, values.get("namespace"))
    if namespace is None:
        problems.append(
            _problem(
                definition,
                f"provider {name!r} has no namespace and its name is not of the form "
                "'domain.tld:name'; using the name as namespace",
                severity=Severity.WARNING,
            )
        )
        namespace = name
    dirs = dict(explicit_dirs or {})
    if base_dir is not None:
        for key, sub in (
            ("units_dir", "units"),
            ("jobs_dir", "jobs"),
            ("data_dir", "data"),
            ("bin_dir", "bin"),
            ("locale_dir", "build/mo"),
        ):
            if key not in dirs and (base_dir / sub).is_dir():
                dirs[key] = base_dir / sub
    return Provider(
        name=name,
        namespace=namespace,
        version=values.get("version"),
        description=values.get("description", ""),
        gettext_domain=values.get("gettext_domain"),
        definition=definition,
        kind=kind,
        base_dir=base_dir,
        **dirs,
    )


def _literal(node: ast.expr) -> str | None:
    """The string a setup() keyword stands for, when it is a literal.

    ``N_("text")`` and ``_("text")`` (gettext markers) count as literals.
    """
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _GETTEXT_MARKERS
        and len(node.args) == 1
        and not node.keywords
    ):
        node = node.args[0]
    if isinstance(node, ast.Constant) and isinstance(
        node.value, (str, int, float, bool)
    ):
        return str(node.value)
    return None


def read_manage_py(path: Path, problems: list[Problem]) -> Provider | None:
    """Read a source provider's ``setup(...)`` keywords without running it."""
    try:
        source = path.read_bytes()
        tree = ast.parse(source, filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", 0) or 0
        problems.append(_problem(path, f"cannot read provider: {exc}", line))
        return None
    values: dict[str, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "setup":
            continue
        for keyword in node.keywords:
            if keyword.arg is None:
                continue
            value = _literal(keyword.value)
            if value is None:
                if keyword.arg in {
                    "name",
                    "namespace",
                    "version",
                    "description",
                    "gettext_domain",
                }:
                    problems.append(
                        _problem(
                            path,
                            f"setup() keyword {keyword.arg!r} is not a literal; ignored",
                            keyword.value.lineno,
                            Severity.WARNING,
                        )
                    )
                continue
            values[keyword.arg] = value
        break
    else:
        problems.append(_problem(path, "manage.py does not call setup(...)"))
        return None
    if "name" not in values:
        # setup(name=some_variable): still load the units, under a stand-in name.
        values["name"] = path.parent.name
        problems.append(
            _problem(
                path,
                f"provider name unknown; using the directory name {values['name']!r}",
                severity=Severity.WARNING,
            )
        )
    return _finish(
        values,
        definition=path,
        kind="manage.py",
        base_dir=path.parent,
        problems=problems,
    )


def read_provider_toml(path: Path, problems: list[Problem]) -> Provider | None:
    """Read plainbox's declarative ``provider.toml``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        match = re.search(r"line (\d+)", str(exc))
        problems.append(
            _problem(
                path,
                f"cannot read provider: {exc}",
                int(match.group(1)) if match else 0,
            )
        )
        return None
    table = data.get("provider")
    if not isinstance(table, dict):
        problems.append(_problem(path, "missing [provider] table"))
        return None
    values = {
        key: str(value)
        for key, value in table.items()
        if isinstance(value, (str, int, float))
    }
    base = path.parent
    dirs = {
        key: (base / values[key]).resolve()
        for key in ("units_dir", "jobs_dir", "data_dir", "bin_dir", "locale_dir")
        if key in values
    }
    return _finish(
        values,
        definition=path,
        kind="toml",
        base_dir=base,
        problems=problems,
        explicit_dirs=dirs,
    )


def read_provider_file(path: Path, problems: list[Problem]) -> Provider | None:
    """Read an installed provider's ``.provider`` INI file."""
    import configparser  # here: most runs find TOML providers only

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        line = getattr(exc, "lineno", 0) or 0
        problems.append(
            _problem(path, f"cannot read provider: {str(exc).splitlines()[0]}", line)
        )
        return None
    if not parser.has_section(_INI_SECTION):
        problems.append(_problem(path, f"missing [{_INI_SECTION}] section"))
        return None
    values = dict(parser.items(_INI_SECTION))
    relocatable = values.get("relocatable", "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }
    location = (
        path.parent
        if relocatable
        else Path(values["location"])
        if values.get("location")
        else None
    )
    dirs: dict[str, Path] = {}
    if not relocatable:
        dirs = {
            key: Path(values[key])
            for key in ("units_dir", "jobs_dir", "data_dir", "bin_dir", "locale_dir")
            if values.get(key)
        }
    if location is not None and not location.is_dir():
        problems.append(
            _problem(
                path,
                f"provider location {str(location)!r} is not a directory",
                severity=Severity.WARNING,
            )
        )
    return _finish(
        values,
        definition=path,
        kind=".provider",
        base_dir=location,
        problems=problems,
        explicit_dirs=dirs,
    )


def read_provider(path: Path, problems: list[Problem]) -> Provider | None:
    """Read a provider from its declaration file or its directory."""
    # Jobs run in their own directories: every provider path must be absolute.
    path = path.absolute()
    if path.is_dir():
        for name in _DECLARATIONS:
            if (path / name).is_file():
                path = path / name
                break
        else:
            problems.append(
                _problem(path, "not a provider: no provider.toml or manage.py")
            )
            return None
    if path.name == "provider.toml":
        return read_provider_toml(path, problems)
    if path.name == "manage.py":
        return read_manage_py(path, problems)
    if path.suffix == ".provider":
        return read_provider_file(path, problems)
    problems.append(_problem(path, "not a provider declaration"))
    return None


def _candidates(entry: Path) -> Iterator[Path]:
    """Provider declarations below one search-path entry."""
    if entry.is_file():
        yield entry
        return
    if not entry.is_dir():
        return
    if any((entry / name).is_file() for name in _DECLARATIONS):
        yield entry
        return
    try:
        children = sorted(entry.iterdir())
    except OSError:
        return
    for child in children:
        if (child.suffix == ".provider" and child.is_file()) or (
            child.is_dir() and any((child / name).is_file() for name in _DECLARATIONS)
        ):
            yield child


def _declaration_of(candidate: Path) -> Path:
    if candidate.is_dir():
        for name in _DECLARATIONS:
            if (candidate / name).is_file():
                return candidate / name
    return candidate


def discover_providers(
    search_path: Iterable[Path], problems: list[Problem]
) -> list[Provider]:
    """Every provider found on the search path, each declaration once.

    Each entry may be a provider directory, a directory of ``.provider``
    files, or a directory of provider directories.
    """
    providers: list[Provider] = []
    seen: set[Path] = set()
    for entry in search_path:
        for candidate in _candidates(Path(entry)):
            key = _declaration_of(candidate).resolve()
            if key in seen:
                continue
            seen.add(key)
            provider = read_provider(candidate, problems)
            if provider is not None:
                providers.append(provider)
    return providers


def load_unit_file(
    path: Path,
    provider: Provider,
    units: list[Unit],
    problems: list[Problem],
    quarantined: list[Unit] | None = None,
) -> None:
    """Parse one unit file and load its records into ``units``."""
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(_problem(path, f"cannot read: {exc.strerror or exc}"))
        return
    text, decode_problems = decode_unit_text(data, name)
    problems.extend(decode_problems)
    if path.suffix in {".yaml", ".yml"}:
        # Imported here: PyYAML costs start-up time most providers never need.
        from plainbox.units.yamlunits import parse_yaml_units

        parse = parse_yaml_units
    else:
        parse = parse_pxu
    records, parse_problems = parse(text, name)
    problems.extend(parse_problems)
    if any(p.severity is Severity.ERROR for p in (*decode_problems, *parse_problems)):
        # As Checkbox does: a file that does not parse contributes no units,
        # since a syntax slip can change what the records after it mean.
        # Every error in it is still reported, not just the first.
        problems.append(_problem(path, SKIPPED_FILE_MESSAGE))
        target = quarantined
    else:
        target = units
    if target is None:
        return
    for record in records:
        unit, problem = load_record(
            record, namespace=provider.namespace, provider=provider.name
        )
        if unit is not None:
            target.append(unit)
        elif problem is not None:
            problems.append(problem)


def load_provider_units(provider: Provider) -> ProviderUnits:
    """Load every unit file of a provider; problems are collected, never raised."""
    result = ProviderUnits(provider)
    for path in provider.unit_files():
        load_unit_file(
            path, provider, result.units, result.problems, result.quarantined
        )
    return result
