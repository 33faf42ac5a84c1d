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

Bounded in bytes: every entry counts its key, body and headers plus
``ENTRY_OVERHEAD``; past ``max_bytes`` the least recently used answers go. Expired
answers are swept on every ``get`` and ``put`` from a heap ordered by expiry, so an
answer nobody asks for again does not outlive its lifetime by more than one request,
and a request pays only for the entries that expired (``O(expired · log n)``), never
for a scan. A single answer over ``max_answer_bytes`` (a 1,000-enterprise page) is
not kept.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from schema.access import Clearance

__all__ = ["ENTRY_OVERHEAD", "CachedAnswer", "ResponseCache"]

_Key = tuple[str, str, str, str, int, int, str, bytes]

# What an entry costs in CPython besides the characters of its key and the bytes of
# its body and headers: the key tuple and its day string, the bytes objects' and the
# header pairs' own headers, the ``CachedAnswer`` and its ``_Entry``, the LRU dict's
# slot and node, the expiry heap's item, and the emptied entries still in the heap
# (at most half as many as the live ones: the heap is rebuilt past that). Measured with
# tracemalloc (CPython 3.11, 64-bit, two response headers, 100,000 distinct answers
# through a full cache): 650-790 bytes per entry, at most ~830 just before a rebuild.
# Rounded up for the allocator's rounding and other builds.
ENTRY_OVERHEAD = 1000


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes
    expires: float
    size: int  # bytes counted against the bound (see ``ENTRY_OVERHEAD``)
    # what the answer returned, logged again each time it is served (gateway.access_capture)
    summary: Any = None


def _size(key: _Key, headers: Sequence[tuple[bytes, bytes]], body: bytes) -> int:
    role, agency, purpose, credit_code, _, _, day, request = key
    size = (len(role) + len(agency) + len(purpose) + len(credit_code) + len(day)
            + len(request) + len(body))
    for name, value in headers:
        size += len(name) + len(value)
    return size + ENTRY_OVERHEAD


_GONE = CachedAnswer((), b"", 0.0, 0)


class _Entry:
    """An answer kept under its key, referenced by the LRU and by the expiry heap. When
    the answer leaves the cache the entry is emptied, so a heap item left behind holds
    neither the answer nor the key (its request body), only this shell."""

    __slots__ = ("answer", "key")

    def __init__(self, key: _Key, answer: CachedAnswer) -> None:
        self.key: _Key | None = key
        self.answer = answer


class ResponseCache:
    """An LRU of complete answers bounded in bytes; one per running gateway.

    >>> cache = ResponseCache(max_bytes=64 * 1024 * 1024)
    >>> key = cache.key(Clearance("public"), 1, dt.date(2026, 11, 24), b'{"query":"{ a }"}')
    >>> cache.put(key, [(b"content-type", b"application/json")], b'{"data":{}}', 30.0)
    >>> cache.get(key).body, len(cache)
    (b'{"data":{}}', 1)
    """

    def __init__(self, *, max_bytes: int = 64 * 1024 * 1024,
                 max_answer_bytes: int = 256 * 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_bytes <= 0:
            raise ValueError(f"the answer cache's bound must be a positive number of bytes "
                             f"(got {max_bytes}); turn the cache off instead")
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()  # oldest use first
        # (expiry, tie-break, entry): a heap, with emptied entries among them
        self._expiries: list[tuple[float, int, _Entry]] = []
        self._order = itertools.count()
        self._size = 0
        self._max_bytes = max_bytes
        self._max_answer = max_answer_bytes
        self._clock = clock
        self.hits = 0
        self.misses = 0
        self.evicted = 0  # answers dropped for room
        self.expired = 0  # answers swept past their lifetime

    @staticmethod
    def key(clearance: Clearance, policy_version: int, day: dt.date, body: bytes,
            overlay_version: int = 0) -> _Key:
        """``overlay_version``: the platform's record overlay (``gateway.overlay_store``)
        as the request starts - an answer is never older than it, so a key with a newer
        one never finds an answer made before a change."""
        return (clearance.role, clearance.agency, clearance.purpose, clearance.credit_code,
                policy_version, overlay_version, day.isoformat(), body)

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    def clear(self) -> None:
        """Drop every answer (the access policy changed)."""
        self._entries.clear()
        self._expiries.clear()
        self._size = 0

    def get(self, key: _Key) -> CachedAnswer | None:
        self._sweep(self._clock())  # after it, every entry left is within its lifetime
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.answer

    def put(self, key: _Key, headers: Sequence[tuple[bytes, bytes]], body: bytes,
            ttl_s: float, summary: Any = None) -> None:
        """Keep a complete answer for ``ttl_s`` seconds (nothing when it is 0 or less,
        or the answer is larger than ``max_answer_bytes`` or the whole bound); make
        room by dropping the least recently used answers."""
        if ttl_s <= 0 or len(body) > self._max_answer:
            return
        now = self._clock()
        self._sweep(now)
        headers = tuple(headers)
        size = _size(key, headers, body)
        if size > self._max_bytes:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._empty(previous)
        entry = _Entry(key, CachedAnswer(headers, body, now + ttl_s, size, summary))
        self._entries[key] = entry
        self._size += size
        heapq.heappush(self._expiries, (now + ttl_s, next(self._order), entry))
        while self._size > self._max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._empty(dropped)
            self.evicted += 1
        entries = len(self._entries)
        if len(self._expiries) > entries + entries // 2 + 64:
            # emptied entries' items (dropped for room, replaced) past half the live
            # ones: rebuild, O(n) once per n/2 puts at most
            self._expiries = [(e.answer.expires, next(self._order), e)
                              for e in self._entries.values()]
            heapq.heapify(self._expiries)

    def sweep(self) -> int:
        """Drop every expired answer now (``get`` and ``put`` do it as they go); return
        how many went."""
        before = self.expired
        self._sweep(self._clock())
        return self.expired - before

    def _sweep(self, now: float) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            entry = heapq.heappop(expiries)[2]
            if entry.key is not None:  # still kept (not emptied): its time is up
                del self._entries[entry.key]
                self._empty(entry)
                self.expired += 1

    def _empty(self, entry: _Entry) -> None:
        """Count out an entry just taken from the LRU, and let go of what it holds."""
        self._size -= entry.answer.size
        entry.key = None
        entry.answer = _GONE

    def __len__(self) -> int:
        return len(self._entries)

    @property  # last in the class: the name shadows the builtin inside its body
    def bytes(self) -> int:
        """The bytes counted for the answers kept now (never above ``max_bytes``)."""
        return self._size
