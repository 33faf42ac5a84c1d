"""Warning levels and grades of the whole registry, per clearance, reused for a while.

Filtering the registry by warning level or grade needs every enterprise's risk
records (``schema.registry_risk``). The levels computed for one clearance on one day
are kept for ``ttl_s`` (the agencies' cache lifetime) so the next filter is a
dictionary scan. Entries are keyed by clearance, policy, rules, day and the version
of the records they come from (``schema.listing``): they never cross clearances, a
policy or rule change starts afresh, and records read again make new levels. A
computation that missed an agency is not kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from schema.rules.model import Grade, WarningLevel

__all__ = ["RiskIndex", "RiskLevels"]

RiskLevels = dict[str, WarningLevel | Grade]  # credit code -> warning level or grade


@dataclass(frozen=True, slots=True)
class _Entry:
    levels: RiskLevels
    built_at: float


class RiskIndex:
    def __init__(self, ttl_s: float, *, max_entries: int = 64,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._entries: dict[Hashable, _Entry] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    async def levels(
        self,
        key: Hashable,
        build: Callable[[], Awaitable[tuple[RiskLevels, bool]]],
    ) -> RiskLevels:
        """The levels for ``key`` (clearance, policy, day, registry snapshot), built by
        ``build`` - which returns the levels and whether they are complete - when none
        fresh are kept."""
        entry = self._fresh(key)
        if entry is not None:
            return entry.levels
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._fresh(key)
            if entry is not None:
                return entry.levels
            levels, complete = await build()
            if complete and self._ttl > 0:
                if len(self._entries) >= self._max:
                    oldest = min(self._entries, key=lambda k: self._entries[k].built_at)
                    del self._entries[oldest]
                    self._locks.pop(oldest, None)
                self._entries[key] = _Entry(levels, self._clock())
            return levels

    def _fresh(self, key: Hashable) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None or self._clock() - entry.built_at > self._ttl:
            return None
        return entry

