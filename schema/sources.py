"""The agencies of one running gateway: their connectors and who provides what."""

from __future__ import annotations

from collections.abc import Iterable

from connectors.base import Connector
from connectors.spec import AgencySpec

__all__ = ["Sources"]


class Sources:
    """Connectors by agency code, in configuration order."""

    def __init__(self, connectors: Iterable[Connector]) -> None:
        self._by_code = {connector.code: connector for connector in connectors}
        self._providers: dict[str, tuple[Connector, ...]] = {}
        for connector in self._by_code.values():
            for record_type in connector.spec.provides:
                found = self._providers.get(record_type, ())
                self._providers[record_type] = (*found, connector)
        registries = self._providers.get("enterprise", ())
        if len(registries) != 1:
            raise ValueError("exactly one agency must provide enterprise")
        self.registry = registries[0]

    def all(self) -> tuple[Connector, ...]:
        return tuple(self._by_code.values())

    def get(self, code: str) -> Connector | None:
        return self._by_code.get(code)

    def spec(self, code: str) -> AgencySpec:
        return self._by_code[code].spec

    def providers(self, record_type: str) -> tuple[Connector, ...]:
        """Agencies that provide ``record_type``, in configuration order."""
        return self._providers.get(record_type, ())

    def order(self, code: str) -> int:
        return list(self._by_code).index(code)

    async def aclose(self) -> None:
        for connector in self._by_code.values():
            await connector.aclose()
