"""Telling every replica that the access policy changed: Redis pub/sub (the casbin
watcher pattern).

After a change commits, the process that made it publishes ``<store id>:<version>``
on ``<namespace>:policy``; every replica listens (``listen``, a lifespan task) and
loads the new version from the platform database. The store id (made when the
policy was seeded) keeps gateways of other databases on the same Redis apart.

Redis is an accelerator here, never a dependency: a publish that fails is logged
and dropped, a listener that loses Redis retries every ``retry_after_s`` — meanwhile
each replica still polls the version in the database (``gateway.policy_sync``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from gateway.redis_availability import RedisAvailability

__all__ = ["PolicyChannel", "parse_message"]

log = logging.getLogger(__name__)

_ERRORS = (RedisError, OSError)


def parse_message(data: bytes | str) -> tuple[str, int] | None:
    """(store id, version) of a notification; None for anything else."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    store_id, _, version = text.partition(":")
    if not store_id or not version.isdigit():
        return None
    return store_id, int(version)


class PolicyChannel:
    """Publishes and listens to policy versions on ``{namespace}:{topic}`` (``topic``
    ``overlay``: the platform's record overlay, ``gateway.overlay_store``)."""

    def __init__(self, url: str, *, namespace: str = "rg", timeout_s: float = 0.5,
                 retry_after_s: float = 1.0, topic: str = "policy") -> None:
        self.channel = f"{namespace}:{topic}"
        self._topic = topic
        self._publisher = Redis.from_url(url, socket_timeout=timeout_s,
                                         socket_connect_timeout=timeout_s)
        # no socket timeout: the listener waits for messages as long as there are none
        self._listener = Redis.from_url(url, socket_connect_timeout=timeout_s)
        self._retry_after_s = retry_after_s
        self._published = RedisAvailability(
            retry_after_s, logger=log, back=f"Redis is back; {topic} changes are published again",
            down=f"{topic} changes not published on Redis (%s: %s); replicas will see them by "
                 "polling the database; retrying in %g s")

    async def publish(self, store_id: str, version: int) -> bool:
        """Tell the replicas; False (logged) when Redis cannot be reached."""
        started = asyncio.get_running_loop().time()
        try:
            await self._publisher.publish(self.channel, f"{store_id}:{version}")
        except _ERRORS as error:
            self._published.failed(error)
            return False
        self._published.answered(started)
        return True

    async def listen(self, on_version: Callable[[str, int], None],
                     on_connected: Callable[[], None]) -> None:
        """Call ``on_version(store id, version)`` for every notification until
        cancelled; ``on_connected`` after each (re)subscription (changes published
        while this listener was away were missed: the caller looks for them)."""
        down = False
        while True:
            pubsub = self._listener.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                if down:
                    log.info("Redis is back; %s changes are heard at once again", self._topic)
                    down = False
                on_connected()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    parsed = parse_message(message["data"])
                    if parsed is not None:
                        on_version(*parsed)
            except _ERRORS as error:
                if not down:
                    log.warning("not listening for %s changes on Redis (%s: %s); "
                                "polling the database meanwhile, retrying every %g s",
                                self._topic, type(error).__name__, error,
                                self._retry_after_s)
                    down = True
            finally:
                await _quietly_close(pubsub)
            await asyncio.sleep(self._retry_after_s)

    async def aclose(self) -> None:
        await self._publisher.aclose()
        await self._listener.aclose()


async def _quietly_close(pubsub: PubSub) -> None:
    with contextlib.suppress(*_ERRORS):
        await pubsub.aclose()  # type: ignore[no-untyped-call]
