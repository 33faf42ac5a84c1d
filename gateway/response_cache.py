"""Whole answers kept for callers who repeat a query (departmental apps polling the
same enterprises, approval systems re-checking).

An answer is kept under everything it depends on: the caller's clearance (role, own
agency, purpose), the access policy's version, the day (warnings and lifecycles
depend on it) and the request body byte for byte (query, variables, operation). So a
caller is only ever answered with what a caller of the same clearance was answered
under the same policy, never across clearances.

Only complete answers are kept: HTTP 200, no ``errors``, no agency served from a
stale copy, nothing that reports the moment it was made (``sources``' availability,
restriction decisions' sources and freshness). An answer lives no longer than the
freshest guarantee of the data in it: the shortest ``cache_ttl_s`` of all agencies,
minus the age of the oldest cached records the answer used, so it is never older
than the record cache would allow.
Bounded in entries and in size per answer (a 1,000-enterprise page is not kept).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schema.access import Clearance

__all__ = ["CachedAnswer", "ResponseCache"]

_Key = tuple[str, str, str, int, str, bytes]


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes
    expires: float


class ResponseCache:
    """An LRU of complete answers; one per running gateway."""

    def __init__(self, *, max_entries: int = 10_000, max_answer_bytes: int = 256 * 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[_Key, CachedAnswer] = OrderedDict()
        self._max_entries = max_entries
        self._max_answer = max_answer_bytes
        self._clock = clock
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(clearance: Clearance, policy_version: int, day: dt.date, body: bytes) -> _Key:
        return (clearance.role, clearance.agency, clearance.purpose, policy_version,
                day.isoformat(), body)

    def get(self, key: _Key) -> CachedAnswer | None:
        answer = self._entries.get(key)
        if answer is None:
            self.misses += 1
            return None
        if answer.expires <= self._clock():
            del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return answer

    def put(self, key: _Key, headers: Sequence[tuple[bytes, bytes]], body: bytes,
            ttl_s: float) -> None:
        """Keep a complete answer for ``ttl_s`` seconds (nothing when it is 0 or less,
        or the answer is larger than the limit)."""
        if ttl_s <= 0 or len(body) > self._max_answer:
            return
        self._entries[key] = CachedAnswer(tuple(headers), body, self._clock() + ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
