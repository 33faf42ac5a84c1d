"""What the change feed last told, kept in Redis, so a new leader tells what changed
while nobody led (``gateway.change_feed``).

The leader keeps every enterprise's warning level (``rg:feed:<cluster>:levels``:
credit code -> level, NONE left out), the registry's credit codes
(``rg:feed:<cluster>:codes``) and when it last polled (``rg:feed:<cluster>:at``, Unix
seconds). A replica that becomes leader reads them
first: its first poll then tells the differences - a level that moved, a credit
code the last leader never saw - instead of telling nothing. A memory older than
``max_age_s`` is not used (the whole cluster was down: what changed meanwhile is
history, not news), nor one of a first poll that could not read every source.

Best effort: Redis failing here is logged and the feed goes on without a memory.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from schema.rules.model import WarningLevel

__all__ = ["FeedMemory", "Recalled"]

log = logging.getLogger(__name__)

_ERRORS = (RedisError, OSError, ValueError)
_CHUNK = 10_000  # entries per command when the whole memory is written


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class Recalled:
    levels: Mapping[str, WarningLevel]  # NONE for a credit code not here
    codes: frozenset[str]


class FeedMemory:
    """The memory of the change feed of one cluster (``gateway.change_service``)."""

    def __init__(self, url: str, *, max_age_s: float, cluster: str = "",
                 timeout_s: float = 2.0, clock: Callable[[], float] = time.time) -> None:
        self._redis = Redis.from_url(url, socket_timeout=timeout_s,
                                     socket_connect_timeout=timeout_s)
        self._max_age_s = max_age_s
        self._clock = clock
        prefix = f"rg:feed:{cluster}" if cluster else "rg:feed"
        self._levels = f"{prefix}:levels"
        self._codes = f"{prefix}:codes"
        self._at = f"{prefix}:at"
        self._down = False

    async def recall(self) -> Recalled | None:
        """What the last leader told, when it polled within ``max_age_s``."""
        try:
            at = await self._redis.get(self._at)
            if at is None or self._clock() - float(at) > self._max_age_s:
                return None
            levels = await self._redis.hgetall(self._levels)
            codes = await self._redis.smembers(self._codes)
            recalled = Recalled(
                {_text(code): WarningLevel(_text(level)) for code, level in levels.items()},
                frozenset(_text(code) for code in codes))
        except _ERRORS as error:
            self._failed(error)
            return None
        self._answered()
        return recalled

    async def replace(self, levels: Mapping[str, WarningLevel], codes: Collection[str]) -> None:
        """The whole memory: every level and credit code as this leader found them."""
        told: dict[FieldT, EncodableT] = {code: level.value for code, level in levels.items()
                                          if level is not WarningLevel.NONE}
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._levels, self._codes)
                items = list(told.items())
                for start in range(0, len(items), _CHUNK):
                    pipe.hset(self._levels, mapping=dict(items[start:start + _CHUNK]))
                ordered = sorted(codes)
                for start in range(0, len(ordered), _CHUNK):
                    pipe.sadd(self._codes, *ordered[start:start + _CHUNK])
                pipe.set(self._at, repr(self._clock()))
                await pipe.execute()
        except _ERRORS as error:
            self._failed(error)
            return
        self._answered()

    async def update(self, levels: Mapping[str, WarningLevel], added: Collection[str],
                     removed: Collection[str]) -> None:
        """The levels and credit codes that changed at this poll, and its time."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                gone = [code for code, level in levels.items() if level is WarningLevel.NONE]
                moved: dict[FieldT, EncodableT] = {
                    code: level.value for code, level in levels.items()
                    if level is not WarningLevel.NONE}
                if gone:
                    pipe.hdel(self._levels, *gone)
                if moved:
                    pipe.hset(self._levels, mapping=moved)
                if added:
                    pipe.sadd(self._codes, *added)
                if removed:
                    pipe.srem(self._codes, *removed)
                pipe.set(self._at, repr(self._clock()))
                await pipe.execute()
        except _ERRORS as error:
            self._failed(error)
            return
        self._answered()

    def _failed(self, error: Exception) -> None:
        if not self._down:
            log.warning("change feed memory unavailable (%s: %s); a new leader will tell "
                        "nothing of what changed while nobody led", type(error).__name__, error)
            self._down = True

    def _answered(self) -> None:
        if self._down:
            log.info("change feed memory is back")
            self._down = False

    async def aclose(self) -> None:
        await self._redis.aclose()
