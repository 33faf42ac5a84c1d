"""The leader's push-and-claim work (双告知): pushing new registrations to the agencies
whose licence they need, and escalating items nobody claimed in time.

Every replica hears every ``Registered`` event (``gateway.events``); only the one that
leads the cluster (``gateway.leader``) acts on it, so an item is created once - and
should two replicas both believe they lead for a moment, the table's unique key
(enterprise, agency) still keeps one item (``gateway.push_store.create_items``). The
leader also runs ``escalate`` periodically: an item still PUSHED past its deadline
(``push.claim_within_days`` of policies/licensing.yaml) becomes ESCALATED, visible to
the agency's ``supervisor``. Each item created and escalated is an access-log entry
(operations ``push create`` and ``push escalate``, principal and role ``gateway``).

    jobs = PushJobs(store, licensing, agencies, log=writer, leads=leader.leads)
    remove = bus.add_listener(jobs.heard)
    task = asyncio.create_task(jobs.run(every_s=60))
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Collection

from gateway.events import Event, Registered
from gateway.platform_store.store import PlatformStore, describe_error
from gateway.platform_store.writer import AccessLogWriter
from gateway.push_store import create_items, escalate_due, step_entry
from schema.licensing import LicensingRules
from schema.pushes import PushRow

__all__ = ["LEADER", "PushJobs"]

logger = logging.getLogger(__name__)

LEADER = "gateway"  # principal and role of the leader's own access-log entries
_ATTEMPTS = 5
_FIRST_RETRY_S = 0.5


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PushJobs:
    """Pushes registrations and escalates overdue items, on the leader only."""

    def __init__(self, store: PlatformStore, licensing: Callable[[], LicensingRules],
                 agencies: Collection[str], *, log: AccessLogWriter | None,
                 leads: Callable[[], bool],
                 clock: Callable[[], dt.datetime] = _utc_now,
                 retry_s: float = _FIRST_RETRY_S) -> None:
        self._store = store
        self._licensing = licensing
        self._agencies = frozenset(agencies)
        self._log = log
        self._leads = leads
        self._clock = clock
        self._retry_s = retry_s
        self._pending: set[asyncio.Task[list[PushRow]]] = set()
        unknown = sorted(licensing().agencies - self._agencies)
        if unknown:
            logger.warning("policies/licensing.yaml: licences: agency %s is not an agency of "
                        "this configuration: its registrations are not pushed",
                        ", ".join(unknown))

    def heard(self, event: Event) -> None:
        """An event listener (``EventBus.add_listener``): a ``Registered`` event heard by
        the leader is pushed in a task of its own (listeners must not block)."""
        if not isinstance(event, Registered) or not self._leads():
            return
        task = asyncio.get_running_loop().create_task(self._push_retrying(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def push(self, event: Registered) -> list[PushRow]:
        """Create the items of ``event``: one per agency of this configuration whose
        licence the business scope or industry needs. Returns those created now."""
        rules = self._licensing()
        needed: dict[str, list[str]] = {}
        for rule in rules.licences_needed(event.business_scope, event.industry):
            if rule.agency in self._agencies:
                needed.setdefault(rule.agency, []).append(rule.licence)
        if not needed:
            return []
        now = self._clock()
        created = await create_items(
            self._store, event.credit_code, {a: tuple(n) for a, n in needed.items()},
            registered_on=event.registered_on, at=now,
            due=now + dt.timedelta(days=rules.claim_within_days))
        for row in created:
            self._note("push create", row, now)
        return created

    async def _push_retrying(self, event: Registered) -> list[PushRow]:
        delay = self._retry_s
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return await self.push(event)
            except Exception as error:  # the database is away: retried, then logged
                if attempt == _ATTEMPTS:
                    logger.error("registration %s not pushed after %d attempts: %s",
                              event.credit_code, attempt, describe_error(error))
                    return []
                await asyncio.sleep(delay)
                delay *= 2
        return []

    async def escalate(self) -> list[PushRow]:
        """Escalate the items past their deadline (on the leader; [] elsewhere)."""
        if not self._leads():
            return []
        now = self._clock()
        rows = await escalate_due(self._store, now)
        for row in rows:
            self._note("push escalate", row, now)
        return rows

    async def run(self, every_s: float = 60.0) -> None:
        """Escalate every ``every_s`` seconds until cancelled (errors logged, retried)."""
        while True:
            try:
                escalated = await self.escalate()
                if escalated:
                    logger.info("%d pushed registrations escalated to supervisors",
                             len(escalated))
            except Exception as error:
                logger.warning("pushed registrations not escalated now (%s); retrying in %g s",
                            describe_error(error), every_s)
            await asyncio.sleep(every_s)

    async def drain(self) -> None:
        """Wait for the pushes under way (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*tuple(self._pending), return_exceptions=True)

    def _note(self, operation: str, row: PushRow, at: dt.datetime) -> None:
        if self._log is not None:
            self._log.record(step_entry(operation, row, at=at, principal=LEADER, role=LEADER,
                                        agency=row.agency, client="leader"))
