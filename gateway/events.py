"""The event bus: what changed in the agencies' data, told to every replica once.

The change feed (``gateway.change_feed``, run by the cluster's leader) publishes two
kinds of event; subscriptions (``warningChanges``, ``registrations``), push-and-claim
and webhooks listen here.

``publish`` hands an event to this process's listeners at once and sends it on the
Redis channel ``rg:events``; every bus of the cluster listens on that channel and
hands what *other* buses of its cluster sent to its own listeners - so each bus's
listeners get every event exactly once, wherever it was published. A cluster is
the replicas serving the same agencies (``cluster``, from the configuration:
``gateway.change_service.cluster_of``): deployments sharing one Redis ignore each
other's events. Without Redis (or while Redis
is down) a bus is local only: a single process loses nothing, and a cluster's
replicas miss what is published meanwhile (logged; the leader goes on).

What an event may carry, and why a listener must not forward it as-is
----------------------------------------------------------------------
Events are computed on ALL records, before any caller's view - like the record
cache. ``WarningChanged`` carries the enterprise's registry values (``credit_code``,
``name``, ``district_code``, ``industry``: the values of its ``enterprise`` record,
whose openness decides who may see them) and the level computed from every agency's
records, with the reasons' texts and the agencies whose records made it
(``reasons``, ``agencies``: they reveal records a subscriber may not see).
``Registered`` carries the new enterprise's registry values, ``business_scope`` and
``registered_on`` (the registry's ``established_on``). A listener serving a caller
(a subscription, a webhook, a pushed item) must decide with that caller's view
(``schema.view.CallerView``) what to tell: recompute the level in the view, drop
the event when the enterprise or the change is not visible to it. Only the fields
of this module ever travel on Redis: no record values beyond those listed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.redis_availability import RedisAvailability
from gateway.task_stop import stop_tasks

__all__ = [
    "CHANNEL",
    "LEVELS",
    "Event",
    "EventBus",
    "Registered",
    "Subscription",
    "WarningChanged",
    "event_from_json",
    "event_to_json",
]

log = logging.getLogger(__name__)

CHANNEL = "rg:events"
# The warning levels an event names, lowest first (``schema.rules.model.WarningLevel``).
LEVELS = ("NONE", "YELLOW", "ORANGE", "RED")
_ERRORS = (RedisError, OSError)
# Events a slow subscriber may have waiting before the oldest are dropped (logged).
_QUEUE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class WarningChanged:
    """An enterprise's warning level (预警) changed, computed on ALL records."""

    credit_code: str
    name: str
    district_code: str | None
    industry: str | None
    from_level: str  # NONE | YELLOW | ORANGE | RED
    to_level: str
    reasons: tuple[str, ...]
    agencies: tuple[str, ...]
    at: dt.datetime  # UTC

    def __post_init__(self) -> None:
        for level in (self.from_level, self.to_level):
            if level not in LEVELS:
                raise ValueError(f"unknown warning level {level!r}; expected one of {LEVELS}")


@dataclass(frozen=True, slots=True)
class Registered:
    """A new enterprise appeared in the registry (新设立登记)."""

    credit_code: str
    name: str
    district_code: str | None
    industry: str | None
    business_scope: str | None
    registered_on: dt.date | None
    at: dt.datetime  # UTC


Event = WarningChanged | Registered
Listener = Callable[[Event], None]


def event_to_json(event: Event) -> str:
    """The event as one JSON object, ``kind`` naming its class."""
    if isinstance(event, WarningChanged):
        body: dict[str, Any] = {
            "kind": "WarningChanged", "credit_code": event.credit_code, "name": event.name,
            "district_code": event.district_code, "industry": event.industry,
            "from_level": event.from_level, "to_level": event.to_level,
            "reasons": list(event.reasons), "agencies": list(event.agencies),
            "at": event.at.isoformat()}
    else:
        body = {
            "kind": "Registered", "credit_code": event.credit_code, "name": event.name,
            "district_code": event.district_code, "industry": event.industry,
            "business_scope": event.business_scope,
            "registered_on": None if event.registered_on is None
            else event.registered_on.isoformat(),
            "at": event.at.isoformat()}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _optional(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string or null")
    return value


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def _texts(body: dict[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a list of strings")
    return tuple(value)


def _utc(text: str) -> dt.datetime:
    at = dt.datetime.fromisoformat(text)
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def event_from_json(text: str | bytes) -> Event:
    """The event ``event_to_json`` wrote; ``ValueError`` for anything else."""
    body = json.loads(text)
    if not isinstance(body, dict):
        raise ValueError("an event is a JSON object")
    kind = body.get("kind")
    code, name = _text(body, "credit_code"), _text(body, "name")
    district, industry = _optional(body, "district_code"), _optional(body, "industry")
    at = _utc(_text(body, "at"))
    if kind == "WarningChanged":
        return WarningChanged(code, name, district, industry,
                              _text(body, "from_level"), _text(body, "to_level"),
                              _texts(body, "reasons"), _texts(body, "agencies"), at)
    if kind == "Registered":
        registered = _optional(body, "registered_on")
        return Registered(code, name, district, industry, _optional(body, "business_scope"),
                          None if registered is None else dt.date.fromisoformat(registered), at)
    raise ValueError(f"unknown event kind {kind!r}")


class Subscription:
    """Events published after it was made, in order, until closed.

    Registered when made (not at the first ``anext``), so nothing published between
    ``subscribe()`` and the first wait is lost. Use as ``async with`` or close it."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event] = asyncio.Queue(_QUEUE_SIZE)
        self._remove = bus.add_listener(self._put)
        self.dropped = 0

    def _put(self, event: Event) -> None:
        if self._queue.full():  # a stalled consumer must not hold the cluster's events
            self._queue.get_nowait()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("an event subscriber is too slow: %d events dropped",
                            self.dropped)
        self._queue.put_nowait(event)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self._queue.get()

    def close(self) -> None:
        self._remove()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Fans events out to this process's listeners and, with ``redis_url``, to every
    other bus listening on ``rg:events``. Start the Redis listener with ``start()``
    (the app's lifespan) and stop it with ``aclose()``."""

    def __init__(self, redis_url: str | None = None, *, cluster: str = "",
                 channel: str = CHANNEL, timeout_s: float = 0.5,
                 retry_after_s: float = 1.0) -> None:
        self.channel = channel
        self.cluster = cluster
        self.origin = uuid.uuid4().hex  # this bus's own messages are not heard twice
        self._listeners: list[Listener] = []
        self._retry_after_s = retry_after_s
        self._task: asyncio.Task[None] | None = None
        self._publisher: Redis | None = None
        self._subscriber: Redis | None = None
        self.connected = asyncio.Event()  # set while subscribed on Redis
        if redis_url is not None:
            self._publisher = Redis.from_url(redis_url, socket_timeout=timeout_s,
                                             socket_connect_timeout=timeout_s)
            self._subscriber = Redis.from_url(redis_url, socket_connect_timeout=timeout_s)
        self._published = RedisAvailability(
            retry_after_s, logger=log, back="Redis is back; events reach the other replicas again",
            down="events not sent on Redis (%s: %s); the other replicas miss them; "
                 "retrying in %g s")

    @property
    def shared(self) -> bool:
        """Whether events travel between processes (a Redis URL was given)."""
        return self._publisher is not None

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event (in the event loop's thread; it
        must not block). Returns the function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def subscribe(self) -> Subscription:
        """An async iterator of every event from now on (see ``Subscription``)."""
        return Subscription(self)

    async def publish(self, event: Event) -> None:
        """Tell this process's listeners, then the other buses through Redis (a Redis
        failure is logged, never raised: the local listeners have the event)."""
        self._deliver(event)
        if self._publisher is None:
            return
        message = json.dumps({"origin": self.origin, "cluster": self.cluster,
                              "event": event_to_json(event)})
        started = asyncio.get_running_loop().time()
        try:
            await self._publisher.publish(self.channel, message)
        except _ERRORS as error:
            self._published.failed(error)
            return
        self._published.answered(started)

    def _deliver(self, event: Event) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:  # one broken listener must not starve the others
                log.exception("an event listener failed")

    def _heard(self, data: bytes | str) -> None:
        try:
            message = json.loads(data)
            if not isinstance(message, dict) or not isinstance(message.get("event"), str):
                raise ValueError("not an event message")
            if message.get("origin") == self.origin or message.get("cluster") != self.cluster:
                return  # delivered locally when published; another deployment's
            event = event_from_json(message["event"])
        except ValueError as error:
            log.warning("ignored a malformed message on %s: %s", self.channel, error)
            return
        self._deliver(event)

    def start(self) -> None:
        """Listen on Redis in a task of the running loop (no-op without Redis)."""
        if self._subscriber is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._listen(), name="event-bus-listener")

    async def _listen(self) -> None:
        assert self._subscriber is not None
        down = False
        while True:
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                if down:
                    log.info("Redis is back; events from the other replicas are heard again")
                    down = False
                self.connected.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._heard(message["data"])
            except _ERRORS as error:
                self.connected.clear()
                if not down:
                    log.warning("not hearing events of the other replicas (%s: %s); "
                                "retrying every %g s", type(error).__name__, error,
                                self._retry_after_s)
                    down = True
            finally:
                with contextlib.suppress(*_ERRORS):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(self._retry_after_s)

    async def aclose(self) -> None:
        if self._task is not None:
            await stop_tasks([self._task])
            self._task = None
        self._listeners.clear()
        for client in (self._publisher, self._subscriber):
            if client is not None:
                await client.aclose()

