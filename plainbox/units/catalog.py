"""All units of all providers in one place, indexed by id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TypeVar

from plainbox.errors import UnknownUnitError
from plainbox.units.model import Category
from plainbox.units.model import ExporterUnit
from plainbox.units.model import JobDefinition
from plainbox.units.model import ManifestEntry
from plainbox.units.model import TemplateUnit
from plainbox.units.model import TestPlan
from plainbox.units.model import Unit
from plainbox.units.problems import Problem
from plainbox.units.provider import Provider
from plainbox.units.provider import discover_providers
from plainbox.units.provider import load_provider_units
from plainbox.units.provider import read_provider


__all__ = ["Catalog", "load_catalog"]

U = TypeVar("U", bound=Unit)


@dataclass(slots=True)
class Catalog:
    """Providers, their units and every problem met while loading them."""

    providers: list[Provider] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Units of files with syntax errors: validated, never listed or run.
    quarantined: list[Unit] = field(default_factory=list)
    _by_id: dict[str, list[Unit]] = field(default_factory=dict)

    def add(self, provider: Provider) -> None:
        """Load a provider's units into the catalog."""
        loaded = load_provider_units(provider)
        self.providers.append(provider)
        self.units.extend(loaded.units)
        self.problems.extend(loaded.problems)
        self.quarantined.extend(loaded.quarantined)
        self._by_id.clear()

    def _index(self) -> dict[str, list[Unit]]:
        if not self._by_id:
            index: dict[str, list[Unit]] = defaultdict(list)
            for unit in self.units:
                index[unit.id].append(unit)
            self._by_id = dict(index)
        return self._by_id

    def all(self, unit_id: str) -> list[Unit]:
        """Every unit with this full id (more than one is a conflict)."""
        return self._index().get(unit_id, [])

    def find(self, unit_id: str, kind: type[U]) -> U | None:
        """The first unit of a kind with this full id."""
        for unit in self.all(unit_id):
            if isinstance(unit, kind):
                return unit
        return None

    def of_kind(self, kind: type[U]) -> list[U]:
        """Every unit of a kind (subclasses included), in load order."""
        return [unit for unit in self.units if isinstance(unit, kind)]

    @property
    def jobs(self) -> list[JobDefinition]:
        return self.of_kind(JobDefinition)

    @property
    def templates(self) -> list[TemplateUnit]:
        return self.of_kind(TemplateUnit)

    @property
    def test_plans(self) -> list[TestPlan]:
        return self.of_kind(TestPlan)

    @property
    def categories(self) -> list[Category]:
        return self.of_kind(Category)

    @property
    def exporters(self) -> list[ExporterUnit]:
        return self.of_kind(ExporterUnit)

    @property
    def manifest_entries(self) -> list[ManifestEntry]:
        return self.of_kind(ManifestEntry)

    def resolve(self, text: str, kind: type[U] = Unit) -> U:  # type: ignore[assignment]
        """Find a unit by full id, or by partial id when that is unambiguous.

        :raises UnknownUnitError: no unit, or several, match.
        """
        if "::" in text:
            found = self.find(text, kind)
            if found is None:
                raise UnknownUnitError(f"no {_kind_name(kind)} with id {text!r}")
            return found
        matches = [
            unit
            for unit in self.units
            if isinstance(unit, kind) and unit.partial_id == text
        ]
        distinct = {unit.id for unit in matches}
        if len(distinct) == 1:
            return matches[0]
        if not matches:
            raise UnknownUnitError(f"no {_kind_name(kind)} with id {text!r}")
        raise UnknownUnitError(
            f"{text!r} is ambiguous; use one of: {', '.join(sorted(distinct))}"
        )


def _kind_name(kind: type[Unit]) -> str:
    return "unit" if kind is Unit else kind.unit_type


def load_catalog(
    search_path: Iterable[Path],
    *,
    builtin_dir: Path | None = None,
    explicit: Iterable[Path] = (),
) -> Catalog:
    """Discover providers and load all their units.

    :param search_path: entries searched as ``PLAINBOX_PROVIDERPATH`` entries.
    :param builtin_dir: the built-in provider, loaded first when given.
    :param explicit: provider directories or declarations named by the user;
        an entry that is not a provider is reported as a problem.
    """
    catalog = Catalog()
    providers: list[Provider] = []
    if builtin_dir is not None:
        builtin = read_provider(builtin_dir, catalog.problems)
        if builtin is not None:
            providers.append(builtin)
    for path in explicit:
        provider = read_provider(path, catalog.problems)
        if provider is not None:
            providers.append(provider)
    providers.extend(discover_providers(search_path, catalog.problems))
    # The same declaration may be reached several ways; load it once.
    unique = {
        provider.definition.resolve(): provider for provider in reversed(providers)
    }
    providers = [p for p in providers if unique.get(p.definition.resolve()) is p]
    for provider in providers:
        catalog.add(provider)
    return catalog
