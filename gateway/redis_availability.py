"""Whether Redis may be used now: the shared down-and-back logic of the gateway's
Redis users (the record cache, the rate limiter).

After a failure, Redis is tried again at most every ``retry_after_s`` by one call (the
others use their in-process fallback meanwhile); an answer to a call started after the
failure brings it back. Each user says in ``what`` what it falls back to, for the log.
"""

from __future__ import annotations

import logging
import time

__all__ = ["RedisAvailability"]


class RedisAvailability:
    def __init__(self, retry_after_s: float, *, logger: logging.Logger, down: str,
                 back: str) -> None:
        self.retry_after = retry_after_s
        self.available = True
        self._down_since = 0.0  # monotonic time Redis was last found unavailable
        self._next_try = 0.0  # monotonic time of the next try while it is unavailable
        self._log = logger
        self._down = down  # e.g. "Redis record cache unavailable (%s: %s); using ..."
        self._back = back

    def should_try(self, now: float) -> bool:
        if self.available:
            return True
        if now < self._next_try:
            return False
        self._next_try = now + self.retry_after  # this call tries; the others wait
        return True

    def failed(self, error: BaseException) -> None:
        now = time.monotonic()
        self._next_try = now + self.retry_after
        if self.available:
            self.available = False
            self._down_since = now
            self._log.warning(self._down, type(error).__name__, error, self.retry_after)

    def answered(self, started: float) -> None:
        # a call started before the failure proves nothing about Redis now
        if not self.available and started >= self._down_since:
            self.available = True
            self._log.info(self._back)
