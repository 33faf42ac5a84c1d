"""The source record cache: raw records per agency, record type and key.

Records are cached *before* authorization, so the cache may be shared by every
caller: what each caller sees is decided after, per request. Entries live for the
agency's ``cache_ttl_s``. ``MemoryRecordCache`` is the in-process default.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

from connectors.records import Record

__all__ = ["CacheKey", "MemoryRecordCache"]

CacheKey = tuple[str, str, str, str]  # agency, record type, key column, key


class MemoryRecordCache:
    """A bounded in-process cache (least recently stored entries go first)."""

    def __init__(self, max_entries: int = 500_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[CacheKey, tuple[float, float, list[Record]]] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    async def get_many(
        self, agency: str, record_type: str, key_column: str, keys: Sequence[str]
    ) -> dict[str, tuple[list[Record], float]]:
        """Fresh entries among ``keys``: key -> (records, age in seconds)."""
        now = self._clock()
        found: dict[str, tuple[list[Record], float]] = {}
        entries = self._entries
        for key in keys:
            entry = entries.get((agency, record_type, key_column, key))
            if entry is not None:
                stored, expires, records = entry
                if now < expires:
                    found[key] = (records, now - stored)
        return found

    async def put_many(
        self, agency: str, record_type: str, key_column: str,
        items: Mapping[str, list[Record]], ttl_s: float,
    ) -> None:
        if ttl_s <= 0 or not items:
            return
        now = self._clock()
        entries = self._entries
        for key, records in items.items():
            cache_key = (agency, record_type, key_column, key)
            entries.pop(cache_key, None)
            entries[cache_key] = (now, now + ttl_s, records)
        while len(entries) > self._max:
            entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
