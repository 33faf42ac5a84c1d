"""One subscriber's ``SubscriptionPort`` (``schema.subscription_port``) over the
gateway's event bus (``gateway.events``).

Events are turned into notices that name only the enterprise (and, for warnings, its
raw district and industry, to skip at once changes no filter on them can match): the
event's own values were computed on every agency's records and are never passed on.

Reading after the change. The record cache may still hold an enterprise's records
from before its change for an agency's ``cache_ttl_s``; a subscriber computing its
level from them would see no change. So each event gets its own record cache and
coalescer (``FreshRecords``), shared by every subscriber of this process computing
what to tell of that event: the agencies are read once per event and process, after
the change, however many subscribe.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from gateway.cache import MemoryRecordCache
from gateway.events import Event, EventBus, Registered, WarningChanged
from gateway.runtime import Runtime
from schema.access import Clearance
from schema.coalesce import SourceCoalescer
from schema.context import RequestContext
from schema.licensing import LicensingRules
from schema.loaders import Loaders
from schema.subscription_port import Notice, RegistrationNotice, WarningNotice

__all__ = ["EventPort", "FreshRecords", "notice_of"]


def notice_of(event: Event) -> Notice:
    """What a subscription hears of ``event``: which enterprise, and when."""
    if isinstance(event, WarningChanged):
        return WarningNotice(event.credit_code, event.district_code, event.industry, event.at)
    assert isinstance(event, Registered)
    return RegistrationNotice(event.credit_code, event.at)


class FreshRecords:
    """A record cache and a coalescer per notice, for the last ``keep`` notices: the
    subscribers of one process share what they read about one change."""

    def __init__(self, keep: int = 64) -> None:
        self._keep = keep
        self._entries: OrderedDict[Notice, tuple[MemoryRecordCache, SourceCoalescer]] = (
            OrderedDict())

    def for_notice(self, notice: Notice) -> tuple[MemoryRecordCache, SourceCoalescer]:
        entry = self._entries.get(notice)
        if entry is None:
            entry = self._entries[notice] = (MemoryRecordCache(max_entries=100_000),
                                             SourceCoalescer())
            if len(self._entries) > self._keep:
                self._entries.popitem(last=False)
        return entry


async def _notices(events: AsyncIterator[Event]) -> AsyncGenerator[Notice, None]:
    async for event in events:
        yield notice_of(event)


class EventPort:
    """The events, fresh contexts, licensing rules and access log of one subscriber
    (``clearance``); ``delivered`` notes a delivery (``gateway.ws_endpoint``)."""

    def __init__(self, bus: EventBus, runtime: Runtime, clearance: Clearance,
                 licensing: Callable[[], LicensingRules], fresh: FreshRecords,
                 delivered: Callable[[str, RequestContext], None]) -> None:
        self._bus = bus
        self._runtime = runtime
        self._clearance = clearance
        self._licensing = licensing
        self._fresh = fresh
        self._delivered = delivered

    @contextlib.asynccontextmanager
    async def notices(self) -> AsyncIterator[AsyncIterator[Notice]]:
        subscription = self._bus.subscribe()  # listening from here on
        stream = _notices(subscription)
        try:
            yield stream
        finally:
            subscription.close()
            await stream.aclose()

    def context_for(self, notice: Notice | None) -> RequestContext:
        runtime = self._runtime
        context = runtime.new_context(self._clearance)
        if notice is not None:
            cache, coalescer = self._fresh.for_notice(notice)
            context.loaders = Loaders(cache, coalescer, runtime.observer)
        return context

    def licensing(self) -> LicensingRules:
        return self._licensing()

    def delivered(self, field: str, context: RequestContext) -> None:
        self._delivered(field, context)
