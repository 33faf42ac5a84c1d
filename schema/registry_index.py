"""An in-memory index of the registry (enterprise records), for listing and search.

Per-enterprise lookups go to the registry's connector through the loaders; the
index serves what a batch lookup cannot: listing, name search and "which
enterprises does this person represent". It is rebuilt from a scan when older
than the registry's ``cache_ttl_s``. If a rebuild fails the previous index is
kept and the failure is reported, so listing degrades to slightly stale data
instead of failing.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from connectors.base import Connector
from connectors.errors import SourceError
from connectors.records import Record

__all__ = ["RegistryIndex", "RegistrySnapshot"]


@dataclass(frozen=True, slots=True)
class RegistrySnapshot:
    """The registry at one moment: enterprises sorted by credit code."""

    enterprises: tuple[Record, ...]
    built_at: float
    codes: tuple[str, ...] = field(init=False)
    by_person: dict[str, tuple[Record, ...]] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", tuple(r.credit_code or "" for r in self.enterprises))
        by_person: defaultdict[str, list[Record]] = defaultdict(list)
        for record in self.enterprises:
            person = record.values.get("legal_rep_id")
            if isinstance(person, str):
                by_person[person].append(record)
        object.__setattr__(self, "by_person", {k: tuple(v) for k, v in by_person.items()})

    def after(self, credit_code: str | None) -> int:
        """Position of the first enterprise whose code sorts after ``credit_code``."""
        return 0 if credit_code is None else bisect.bisect_right(self.codes, credit_code)


class RegistryIndex:
    """Keeps a fresh-enough ``RegistrySnapshot`` of the registry connector."""

    def __init__(self, registry: Connector, *, clock: Callable[[], float] = time.monotonic):
        self._registry = registry
        self._clock = clock
        self._snapshot: RegistrySnapshot | None = None
        self._lock = asyncio.Lock()
        self.last_error: SourceError | None = None

    async def snapshot(self, ages: dict[str, float] | None = None) -> RegistrySnapshot:
        """The current snapshot, rebuilt first when stale. With ``ages`` (a request's
        ``Loaders.ages``), the snapshot's age is noted there for the registry agency,
        like the age of any cached data the request used.

        Raises ``SourceError`` only when there has never been a snapshot.
        """
        found = await self._fresh()
        if ages is not None:
            code = self._registry.code
            ages[code] = max(ages.get(code, 0.0), self._clock() - found.built_at)
        return found

    async def _fresh(self) -> RegistrySnapshot:
        current = self._snapshot
        if current is not None and not self._stale(current):
            return current
        async with self._lock:
            current = self._snapshot
            if current is not None and not self._stale(current):
                return current
            try:
                records = await self._registry.scan("enterprise")
            except SourceError as error:
                self.last_error = error
                if current is None:
                    raise
                return current
            unique = {r.credit_code: r for r in records if r.credit_code}
            ordered = tuple(unique[code] for code in sorted(unique))
            self._snapshot = RegistrySnapshot(ordered, self._clock())
            self.last_error = None
            return self._snapshot

    def record(self, credit_code: str) -> Record | None:
        """The registry record the current snapshot holds for ``credit_code``, without
        waiting for a rebuild (None when there is no snapshot or no such enterprise).
        A hint for fetching early, never an answer."""
        snapshot = self._snapshot
        if snapshot is None:
            return None
        at = bisect.bisect_left(snapshot.codes, credit_code)
        if at == len(snapshot.codes) or snapshot.codes[at] != credit_code:
            return None
        return snapshot.enterprises[at]

    def _stale(self, snapshot: RegistrySnapshot) -> bool:
        return self._clock() - snapshot.built_at > self._registry.spec.cache_ttl_s
