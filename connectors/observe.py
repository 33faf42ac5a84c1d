"""What reading agencies tells the gateway's metrics and traces.

Connectors and loaders report to a ``SourceObserver`` they are given; they import
no metrics or tracing library. ``NO_OBSERVER`` (the default) drops every report;
``fan_out`` gives several observers the same reports. An observer for, say, a log of
slow calls::

    class SlowCalls:
        def call(self, agency, record_type, batch_size):
            return _Timer(agency)                # its end(outcome) logs slow ones

        def cache_lookup(self, hits, misses): ...
        def stale_served(self, agency): ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

__all__ = [
    "BREAKER_OPEN",
    "CANCELLED",
    "ERROR",
    "NO_OBSERVER",
    "OK",
    "TIMEOUT",
    "CallWatch",
    "SourceObserver",
    "fan_out",
]

# How an agency call ended (the ``outcome`` given to ``CallWatch.end``).
OK: Final = "ok"
ERROR: Final = "error"  # the agency failed or answered something unusable
TIMEOUT: Final = "timeout"  # no answer within the agency's timeout_s
BREAKER_OPEN: Final = "breaker_open"  # not called: its circuit breaker is open
CANCELLED: Final = "cancelled"  # the request that needed it went away meanwhile


class CallWatch(Protocol):
    """One agency call under way; ``end`` is called once, when it is over."""

    def end(self, outcome: str) -> None: ...


class SourceObserver(Protocol):
    """Receives what happens while agencies are read (one per running gateway)."""

    def call(self, agency: str, record_type: str, batch_size: int) -> CallWatch:
        """An agency call starts: ``batch_size`` keys of ``record_type`` (0 for a scan
        or a health check, whose ``record_type`` is ``"health"``)."""
        ...

    def cache_lookup(self, hits: int, misses: int) -> None:
        """Keys looked up in the record cache: ``hits`` fresh there, ``misses`` not."""
        ...

    def stale_served(self, agency: str) -> None:
        """``agency`` failed and a stale cached copy was served instead of an error."""
        ...


class _Ignored:
    __slots__ = ()

    def end(self, outcome: str) -> None:
        return None


_IGNORED = _Ignored()


class _Quiet:
    """Drops every report."""

    __slots__ = ()

    def call(self, agency: str, record_type: str, batch_size: int) -> CallWatch:
        return _IGNORED

    def cache_lookup(self, hits: int, misses: int) -> None:
        return None

    def stale_served(self, agency: str) -> None:
        return None


NO_OBSERVER: SourceObserver = _Quiet()


class _Watches:
    __slots__ = ("_watches",)

    def __init__(self, watches: Sequence[CallWatch]) -> None:
        self._watches = watches

    def end(self, outcome: str) -> None:
        for watch in self._watches:
            watch.end(outcome)


class _FanOut:
    __slots__ = ("_observers",)

    def __init__(self, observers: Sequence[SourceObserver]) -> None:
        self._observers = tuple(observers)

    def call(self, agency: str, record_type: str, batch_size: int) -> CallWatch:
        return _Watches([o.call(agency, record_type, batch_size) for o in self._observers])

    def cache_lookup(self, hits: int, misses: int) -> None:
        for observer in self._observers:
            observer.cache_lookup(hits, misses)

    def stale_served(self, agency: str) -> None:
        for observer in self._observers:
            observer.stale_served(agency)


def fan_out(*observers: SourceObserver | None) -> SourceObserver:
    """One observer reporting to each of ``observers`` (``None``s left out)."""
    present = [o for o in observers if o is not None and o is not NO_OBSERVER]
    if not present:
        return NO_OBSERVER
    if len(present) == 1:
        return present[0]
    return _FanOut(present)
