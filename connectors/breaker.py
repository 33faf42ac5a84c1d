"""A circuit breaker per agency: stop calling a source that keeps failing.

CLOSED: calls go through; ``failures`` consecutive failures open it.
OPEN: calls fail at once (no waiting on a dead agency) for ``open_s`` seconds.
HALF_OPEN: then one call probes the source; success closes the breaker, failure
opens it again for another ``open_s``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

__all__ = ["Breaker", "BreakerState"]


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class Breaker:
    def __init__(self, *, failures: int = 5, open_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold = max(1, failures)
        self._open_s = open_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._probing or self._clock() - self._opened_at >= self._open_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def retry_in(self) -> float:
        """Seconds until the next probe is allowed (0 when calls may go through)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._open_s - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """May a call go to the source now? In HALF_OPEN, only one probe at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._probing = False
