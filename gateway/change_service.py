"""The event bus and, where ``changes:`` turns it on, the leader's change feed, as one
running gateway holds them (opened and closed by the app's lifespan).

Every replica has a bus (``gateway.events``): subscriptions, pushes and webhooks
listen to it. Every replica also tries to lead (``gateway.leader``; ``leads()`` says
whether it does, for any job one replica of the cluster should do); the leader polls
the sources (``gateway.change_feed``) every ``changes.poll_s`` and publishes what
changed - to its own listeners and, through Redis, to every other replica's.

A cluster is the replicas serving the same agencies (``cluster_of``: the agencies'
codes, kinds, locations and record types): its lock, memory and events are its own,
so deployments sharing one Redis neither wait for each other's leader nor hear each
other's events. Replicas of one deployment must configure the same agencies alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging

from gateway.change_feed import ChangeFeed
from gateway.change_settings import ChangeSettings
from gateway.config import GatewayConfig
from gateway.events import EventBus
from gateway.feed_memory import FeedMemory
from gateway.leader import LEADER_KEY, LeaderLock, lead
from gateway.runtime import Runtime
from gateway.task_stop import stop_tasks
from schema.registry_risk import RiskRecords

__all__ = ["ChangeService", "cluster_of"]

log = logging.getLogger(__name__)


def cluster_of(config: GatewayConfig) -> str:
    """A short id of the deployment ``config`` describes: the same for every replica
    serving the same agencies."""
    agencies = sorted((a.code, a.kind, a.location, sorted(a.provides), dict(a.tables))
                      for a in config.agencies)
    digest = hashlib.sha256(json.dumps(agencies, ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


class ChangeService:
    """``bus`` and the leader ``lock`` always; the feed when ``settings`` turn it on.
    ``start()`` in the lifespan, ``aclose()`` when it ends."""

    def __init__(self, settings: ChangeSettings, runtime: Runtime,
                 redis_url: str | None) -> None:
        self.settings = settings
        self.cluster = cluster = cluster_of(runtime.config)
        self.bus = EventBus(redis_url, cluster=cluster)
        self.feed: ChangeFeed | None = None
        self.memory: FeedMemory | None = None
        self.lock = LeaderLock(redis_url, ttl_s=settings.lock_ttl_s,
                               key=f"{LEADER_KEY}:{cluster}")
        self._redis = redis_url is not None
        self._tasks: list[asyncio.Task[None]] = []
        risk = runtime.registry_risk
        if settings.poll_s is None or risk is None:
            return

        def amend(records: RiskRecords) -> RiskRecords:
            overlays = runtime.overlays  # set later in the lifespan, when there is one
            return records if overlays is None else overlays.current().amend_risk(records)

        if redis_url is not None:  # what the last leader told, for the next one
            self.memory = FeedMemory(redis_url, cluster=cluster,
                                     max_age_s=max(10 * settings.lock_ttl_s, 3 * settings.poll_s))
        self.feed = ChangeFeed(runtime.sources, risk, lambda: runtime.rules,
                               today=lambda: runtime.today(), amend=amend,
                               amended=runtime.overlay_version, memory=self.memory,
                               leading=self.leads,
                               reconcile_s=settings.reconcile_s)

    def leads(self) -> bool:
        """Whether this replica leads the cluster now (always, without Redis)."""
        return self.lock.is_leader

    async def start(self) -> None:
        self.bus.start()
        lock = self.lock
        await lock.attempt()  # the single process (or the first replica) leads at once
        loop = asyncio.get_running_loop()
        if self._redis:
            self._tasks.append(loop.create_task(lock.run(), name="leader-lock"))
        if self.feed is None or self.settings.poll_s is None:
            return
        feed, bus = self.feed, self.bus

        async def step() -> None:
            events = await feed.poll()
            if events and not lock.is_leader:  # lost the lead meanwhile: the next one tells
                log.warning("change feed: %d events not published (no longer leading)",
                            len(events))
                return
            for event in events:
                await bus.publish(event)

        self._tasks.append(loop.create_task(
            lead(lock, step, self.settings.poll_s, on_elected=feed.reset), name="change-feed"))
        log.info("change feed on: polling every %g s while this replica leads",
                 self.settings.poll_s)

    async def resign(self) -> None:
        """Stop polling and give the lead up, first thing at shutdown: another replica
        leads at its next try instead of waiting for whatever else the shutdown does."""
        await stop_tasks(self._tasks)
        self._tasks = []
        await self.lock.release()

    async def aclose(self) -> None:
        await self.resign()
        await self.lock.aclose()
        if self.memory is not None:
            await self.memory.aclose()
        await self.bus.aclose()
