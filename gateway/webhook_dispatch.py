"""What each webhook is told: the same subscription a websocket subscriber runs, run
by the gateway for the webhook's principal, its results POSTed (``gateway.webhooks``).

A webhook is a subscriber that cannot hold a websocket. So for each of its events the
dispatcher runs the very subscription (``warningChanges`` / ``registrations`` of
``schema.subscriptions``) with the webhook's principal's clearance and filter, and
POSTs what it yields: the enterprise through that principal's view, the level it
could read before and now, the reasons it may read - never an event about a record
it may not see, because the webhook never sees the events themselves, only what the
subscription computed through its view.

Every replica runs the subscriptions (each keeps the levels its principal last saw
current, so a new leader starts right), and only the leader sends: a replica that does
not lead drops what it computed. Each delivery is an access-log entry (operation
``webhook warningChanges`` / ``webhook registrations``, the principal, the
enterprise and the fields returned), as a websocket delivery is.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult

from gateway.access_capture import RequestFacts, entry_for, summary_of
from gateway.callers import Caller
from gateway.config import PrincipalSpec
from gateway.event_port import EventPort, FreshRecords
from gateway.events import EventBus
from gateway.platform_store.writer import AccessLogWriter
from gateway.runtime import Runtime
from gateway.task_stop import stop_tasks
from gateway.webhook_settings import WebhookSpec
from gateway.webhooks import Delivery, WebhookSender
from schema.access import Clearance
from schema.context import RequestContext
from schema.licensing import LicensingRules
from schema.subscription_port import Notice

__all__ = ["QUERIES", "WebhookDispatcher", "body_of"]

log = logging.getLogger(__name__)

QUERIES = {
    "warningChanges": """subscription WebhookWarningChanges($filter: WarningChangeFilter) {
  warningChanges(filter: $filter) {
    creditCode name from to derivedFrom at
    reasons { rule level agencies { code name } } } }""",
    "registrations": """subscription WebhookRegistrations($filter: RegistrationFilter) {
  registrations(filter: $filter) {
    creditCode name districtCode industry businessScope establishedOn licences at } }""",
}
_RESTART_S = 5.0
# refusals a restart cannot change (the principal's clearance, the filter): not retried
_FINAL = frozenset({"FORBIDDEN", "FILTER_NOT_ALLOWED", "BAD_USER_INPUT",
                    "GRAPHQL_VALIDATION_FAILED", "SUBSCRIPTIONS_UNAVAILABLE"})
_QUEUE = 10_000


def body_of(webhook_id: str, event: str, data: Mapping[str, Any]) -> bytes:
    """The POSTed JSON: which webhook, which event, and the subscription's result."""
    return json.dumps({"webhook": webhook_id, "event": event, "data": data},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _ListeningPort(EventPort):
    """The subscription's port, noting when it listens (``WebhookDispatcher.ready``)."""

    def __init__(self, listening: asyncio.Event, *args: Any) -> None:
        super().__init__(*args)
        self._listening = listening

    @contextlib.asynccontextmanager
    async def notices(self) -> AsyncIterator[AsyncIterator[Notice]]:
        async with super().notices() as stream:
            self._listening.set()
            try:
                yield stream
            finally:
                self._listening.clear()


class WebhookDispatcher:
    """Runs every webhook's subscriptions and, on the leader, sends what they yield."""

    def __init__(self, specs: Sequence[WebhookSpec], principals: Mapping[str, PrincipalSpec],
                 *, runtime: Runtime, bus: EventBus, schema_for: Callable[[str], BaseSchema],
                 licensing: Callable[[], LicensingRules], sender: WebhookSender,
                 leads: Callable[[], bool], log: AccessLogWriter | None,
                 fresh: FreshRecords | None = None) -> None:
        self._specs = tuple(specs)
        self._principals = principals
        self._runtime = runtime
        self._bus = bus
        self._schema_for = schema_for
        self._licensing = licensing
        self._sender = sender
        self._leads = leads
        self._log = log
        self._fresh = fresh or FreshRecords()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening: list[asyncio.Event] = []
        self._queues: dict[str, asyncio.Queue[Delivery]] = {}

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for spec in self._specs:
            queue = self._queues[spec.id] = asyncio.Queue(_QUEUE)
            self._tasks.append(loop.create_task(self._send(spec, queue),
                                                name=f"webhook-{spec.id}"))
            for event in spec.events:
                listening = asyncio.Event()
                self._listening.append(listening)
                self._tasks.append(loop.create_task(self._follow(spec, event, listening),
                                                    name=f"webhook-{spec.id}-{event}"))

    def listening(self) -> bool:
        """Whether every subscription listens now."""
        return all(event.is_set() for event in self._listening)

    async def ready(self, wait_s: float = 30.0) -> bool:
        """Whether every subscription listens (within ``wait_s``)."""
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self._listening)),
                                   wait_s)
        except TimeoutError:
            return False
        return True

    async def drain(self) -> None:
        """Wait until every queued delivery was sent or dead-lettered (tests)."""
        for queue in self._queues.values():
            await queue.join()

    async def aclose(self) -> None:
        await stop_tasks(self._tasks)
        self._tasks = []

    def _caller(self, spec: WebhookSpec) -> Caller:
        principal = self._principals[spec.principal]
        return Caller(principal.id, Clearance(principal.role, principal.agency or "",
                                              spec.purpose, principal.credit_code or ""))

    async def _follow(self, spec: WebhookSpec, event: str, listening: asyncio.Event) -> None:
        """Run the subscription of ``event`` for ``spec``: started again after a failure,
        never after a refusal (fix the configuration and restart)."""
        while True:
            try:
                if not await self._subscribe(spec, event, listening):
                    listening.set()  # refused for good: nothing to wait for
                    return
            except Exception:
                log.exception("webhook %s: the %s subscription failed; started again in "
                              "%g s", spec.id, event, _RESTART_S)
            await asyncio.sleep(_RESTART_S)

    async def _subscribe(self, spec: WebhookSpec, event: str,
                         listening: asyncio.Event) -> bool:
        """Follow the subscription until it ends: True to start it again, False when it
        was refused (logged)."""
        caller = self._caller(spec)
        context = self._runtime.new_context(caller.clearance)

        def delivered(field: str, used: RequestContext) -> None:
            if self._log is not None and self._leads():
                facts = RequestFacts(dt.datetime.now(dt.UTC), f"webhook:{spec.id}", "",
                                     f"webhook {field}", "", "")
                self._log.record(entry_for(facts, caller, 200, b"", summary_of(used), 0.0))

        context.subscriptions = _ListeningPort(
            listening, self._bus, self._runtime, caller.clearance, self._licensing,
            self._fresh, delivered)
        schema = self._schema_for(caller.role)
        results = await schema.subscribe(QUERIES[event], variable_values={
            "filter": spec.filter_for(event)}, context_value=context)
        if isinstance(results, ExecutionResult):
            log.error("webhook %s: the %s subscription was refused: %s", spec.id, event,
                      "; ".join(e.message for e in results.errors or ()))
            return False
        async for result in results:
            if result.errors:
                codes = {(e.extensions or {}).get("code") for e in result.errors}
                log.error("webhook %s: %s: %s", spec.id, event,
                          "; ".join(e.message for e in result.errors))
                if codes & _FINAL:
                    log.error("webhook %s: its %s subscription is refused for its principal "
                              "%s: nothing will be sent; fix the configuration", spec.id,
                              event, spec.principal)
                    return False
                continue
            if not self._leads() or not result.data:
                continue
            data = result.data[event]
            delivery = Delivery(spec.id, event, body_of(spec.id, event, data),
                                data.get("creditCode"))
            queue = self._queues[spec.id]
            if queue.full():
                dropped = queue.get_nowait()
                queue.task_done()
                log.error("webhook %s: too many deliveries waiting; dropped one of %s",
                          spec.id, dropped.credit_code)
            queue.put_nowait(delivery)
        return True

    async def _send(self, spec: WebhookSpec, queue: asyncio.Queue[Delivery]) -> None:
        """Deliver in order, one at a time (a failing receiver holds up only its own)."""
        while True:
            delivery = await queue.get()
            try:
                await self._sender.deliver(spec, delivery)
            except Exception:
                log.exception("webhook %s: delivery failed", spec.id)
            finally:
                queue.task_done()
