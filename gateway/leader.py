"""One leader per cluster, and the loop it runs (the change feed's scheduler).

The leader holds a Redis key (``rg:leader``): taken with ``SET key token NX PX ttl``,
renewed every third of ``ttl`` only while it still holds the token (a compare-and-
set script), deleted when the process stops. A leader that cannot renew (Redis down,
the process stalled) stops leading when its lease runs out - before another replica
can take the key, whose lock has expired by then - and another replica takes over
within about ``ttl`` of a leader stopping without deleting the key (killed).
Without Redis the single process leads.

``lead`` runs a step every ``every_s`` while this replica leads, and calls
``on_elected`` each time it becomes leader (the change feed forgets what it read: it
cannot know what the previous leader told).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["LEADER_KEY", "LeaderLock", "lead"]

log = logging.getLogger(__name__)

LEADER_KEY = "rg:leader"
_ERRORS = (RedisError, OSError)
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLock:
    """Whether this replica leads the cluster; ``run()`` keeps trying to (a lifespan
    task), ``aclose()`` gives the lead up at once."""

    def __init__(self, redis_url: str | None, *, ttl_s: float = 5.0, key: str = LEADER_KEY,
                 timeout_s: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        self.key = key
        self.token = uuid.uuid4().hex
        self._ttl_s = ttl_s
        self._clock = clock
        self._redis: Redis | None = None
        if redis_url is not None:
            self._redis = Redis.from_url(redis_url, socket_timeout=timeout_s,
                                         socket_connect_timeout=timeout_s)
        # until when the lease held is safe to act on (monotonic); never without Redis
        self._until = float("inf") if self._redis is None else 0.0
        self._down = False
        self._released = False  # given up for good (shutdown): no second release

    @property
    def is_leader(self) -> bool:
        return self._clock() < self._until

    async def attempt(self) -> bool:
        """Take or renew the lead once; whether this replica leads afterwards."""
        if self._redis is None:
            return True
        if self._released:
            return False
        started = self._clock()
        ttl_ms = int(self._ttl_s * 1000)
        try:
            if self.is_leader:
                held = bool(await self._redis.eval(
                    _RENEW, 1, self.key, self.token, ttl_ms))
            else:
                held = bool(await self._redis.set(self.key, self.token, nx=True, px=ttl_ms))
                if not held:  # a leader that restarted within its own lease keeps it
                    held = await self._redis.get(self.key) == self.token.encode()
        except _ERRORS as error:
            if not self._down:
                log.warning("leader lock: Redis unreachable (%s: %s); %s", type(error).__name__,
                            error, "leading until the lease ends" if self.is_leader
                            else "not leading")
                self._down = True
            return self.is_leader
        if self._down:
            log.info("leader lock: Redis is back")
            self._down = False
        was = self.is_leader
        # the lease counts from before the call: the key may have been set any time after
        self._until = started + self._ttl_s * 0.9 if held else 0.0
        if held and not was:
            log.info("this replica now leads the cluster (%s)", self.key)
        elif was and not held:
            log.warning("this replica no longer leads the cluster (%s)", self.key)
        return held

    async def run(self) -> None:
        """Take or renew the lead every third of the lease, until cancelled."""
        while True:
            await self.attempt()
            await asyncio.sleep(self._ttl_s / 3)

    async def release(self) -> None:
        """Give the lead up: another replica takes it at its next try. The key is
        deleted only while it still holds this replica's token, so a lease that ran
        out locally (a stalled loop) but not yet in Redis is released too."""
        if self._redis is None or self._released:
            return  # a single process without Redis leads to its end
        self._until = 0.0
        self._released = True
        with contextlib.suppress(*_ERRORS):
            await self._redis.eval(_RELEASE, 1, self.key, self.token)

    async def aclose(self) -> None:
        """Give the lead up (``release``) and close the connection."""
        if self._redis is None:
            return
        await self.release()
        await self._redis.aclose()


async def lead(lock: LeaderLock, step: Callable[[], Awaitable[None]], every_s: float, *,
               on_elected: Callable[[], None] = lambda: None) -> None:
    """Run ``step`` every ``every_s`` while ``lock`` leads, until cancelled; a failing
    step is logged and tried again next time."""
    leading = False
    while True:
        if lock.is_leader:
            if not leading:
                on_elected()
                leading = True
            try:
                await step()
            except Exception:
                log.exception("the leader's periodic step failed; trying again in %g s",
                              every_s)
        else:
            leading = False
        await asyncio.sleep(every_s)
