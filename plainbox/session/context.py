"""A device taking part in a session: its state, providers and units."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plainbox.session.state import SessionState
from plainbox.units.model import ExporterUnit
from plainbox.units.model import TestPlan
from plainbox.units.model import Unit
from plainbox.units.provider import Provider
from plainbox.units.provider import load_provider_units


__all__ = ["LOCAL_DEVICE", "SessionDeviceContext"]

#: The name of the device running plainbox itself.
LOCAL_DEVICE = "local"


class SessionDeviceContext:
    """One device's view of a session.

    ``device`` names the device (``"local"`` for this machine); ``kind``
    says how it is reached (``"local"``, ``"ssh"``, ...).
    """

    def __init__(
        self,
        state: SessionState | None = None,
        *,
        device: str = LOCAL_DEVICE,
        kind: str = "local",
        providers: Sequence[Provider] = (),
    ) -> None:
        self.state = state if state is not None else SessionState()
        self.device = device
        self.kind = kind
        self._providers: list[Provider] = []
        self._test_plans: tuple[TestPlan, ...] = ()
        for provider in providers:
            self.add_provider(provider)

    def __repr__(self) -> str:
        return f"<SessionDeviceContext {self.device} ({self.kind})>"

    @property
    def provider_list(self) -> list[Provider]:
        """Providers whose units this context knows."""
        return list(self._providers)

    @property
    def unit_list(self) -> list[Unit]:
        """Every unit this context knows."""
        return self.state.unit_list

    def add_provider(self, provider: Provider, add_units: bool = True) -> None:
        """Know a provider and, unless ``add_units`` is false, its units."""
        self._providers.append(provider)
        if add_units:
            for unit in load_provider_units(provider).units:
                self.add_unit(unit)

    def add_unit(self, unit: Unit) -> None:
        """Know one more unit.

        :raises ValueError: a unit with the same id and checksum is known.
        """
        if any(
            u.id == unit.id and u.checksum == unit.checksum and u.checksum
            for u in self.state.unit_list
        ):
            raise ValueError(f"unit {unit.id} is already known")
        self.state.add_unit(unit)

    def get_unit(self, unit_id: str, kind_name: str | None = None) -> Unit:
        """The unit with this id (and unit type, when given).

        :raises KeyError: no such unit.
        """
        for unit in self.state.unit_list:
            if unit.id == unit_id and (
                kind_name is None or unit.unit_type == kind_name
            ):
                return unit
        raise KeyError(unit_id)

    @property
    def test_plans(self) -> tuple[TestPlan, ...]:
        return self._test_plans

    def set_test_plan_list(self, plans: Sequence[TestPlan]) -> None:
        """Make these test plans (and so their overrides) effective here."""
        self._test_plans = tuple(plans)

    @property
    def exporter_units(self) -> list[ExporterUnit]:
        """Exporter units among this context's units."""
        return [u for u in self.state.unit_list if isinstance(u, ExporterUnit)]

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "kind": self.kind}
