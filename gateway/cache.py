"""The source record cache: raw records per agency, record type and key.

Records are cached *before* authorization, so the cache may be shared by every
caller: what each caller sees is decided after, per request. Entries live for the
agency's ``cache_ttl_s``. ``MemoryRecordCache`` is the in-process default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from connectors.records import Record

__all__ = ["MemoryRecordCache"]

_Table = dict[str, tuple[float, float, list[Record]]]  # key -> (stored, expires, records)
_EMPTY: list[Record] = []  # shared by every key without records (most of them); never mutated


class MemoryRecordCache:
    """A bounded in-process cache: one table per (agency, record type, key column).

    Past ``max_entries``, expired entries go first, then the oldest stored.
    """

    def __init__(self, max_entries: int = 4_000_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._tables: dict[tuple[str, str, str], _Table] = {}
        self._size = 0
        self._max = max_entries
        self._clock = clock

    async def get_many(
        self, agency: str, record_type: str, key_column: str, keys: Sequence[str]
    ) -> dict[str, tuple[list[Record], float]]:
        """Fresh entries among ``keys``: key -> (records, age in seconds)."""
        table = self._tables.get((agency, record_type, key_column))
        if not table:
            return {}
        now = self._clock()
        found: dict[str, tuple[list[Record], float]] = {}
        get = table.get
        for key in keys:
            entry = get(key)
            if entry is not None and now < entry[1]:
                found[key] = (entry[2], now - entry[0])
        return found

    def peek_fresh(
        self, agency: str, record_type: str, key_column: str, keys: Sequence[str],
        max_age_s: float,
    ) -> tuple[list[list[Record]], float] | None:
        """Every key's records, none older than ``max_age_s``, and the oldest one's age,
        without awaiting (the loaders' fast path: no task per call); None at the first
        key that is missing, expired or older. One pass, no entry copied: a page of
        1,000 asks it for 20,000 keys."""
        if not keys:
            return [], 0.0
        table = self._tables.get((agency, record_type, key_column))
        if not table:
            return None
        now = self._clock()
        found: list[list[Record]] = []
        oldest = 0.0
        get = table.get
        for key in keys:
            entry = get(key)
            if entry is None or now >= entry[1]:
                return None
            age = now - entry[0]
            if age > max_age_s:
                return None
            if age > oldest:
                oldest = age
            found.append(entry[2])
        return found, oldest

    async def put_many(
        self, agency: str, record_type: str, key_column: str,
        items: Mapping[str, list[Record]], ttl_s: float,
    ) -> None:
        if ttl_s <= 0 or not items:
            return
        now = self._clock()
        table = self._tables.setdefault((agency, record_type, key_column), {})
        before = len(table)
        expires = now + ttl_s
        for key, records in items.items():
            table.pop(key, None)  # re-inserted last: dict order is storage order
            table[key] = (now, expires, records or _EMPTY)
        self._size += len(table) - before
        if self._size > self._max:
            self._evict(now)

    def _evict(self, now: float) -> None:
        for table in self._tables.values():
            expired = [key for key, entry in table.items() if entry[1] <= now]
            for key in expired:
                del table[key]
            self._size -= len(expired)
        while self._size > self._max:
            largest = max(self._tables.values(), key=len)
            for key in list(largest)[: max(1, len(largest) // 10)]:
                del largest[key]
                self._size -= 1

    def __len__(self) -> int:
        return self._size
