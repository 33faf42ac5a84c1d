"""Pushed registrations (双告知) in the platform database: table
``pushed_registrations``, and the ``schema.pushes.PushPort`` each caller's request gets.

One item per (enterprise, agency): the unique key makes pushing idempotent, so the
same ``Registered`` event pushed twice - by a leader that retried, or by two replicas
that both believed they led for a moment - leaves one item. Claiming is one guarded
``UPDATE`` (only an unclaimed item changes), so two departments claiming at once get
one claim and one PUSH_ALREADY_CLAIMED; escalation likewise changes only items still
PUSHED past their deadline.

    pushes = Pushes(store, log=writer)                 # once per gateway
    created = await create_items(store, code, {"FDA": ("食品经营许可",)}, ...)
    port = pushes.for_caller(caller, client, request_id)   # per request
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.callers import Caller
from gateway.platform_store.entry import AccessEntry, text_hash
from gateway.platform_store.store import PlatformStore
from gateway.platform_store.tables import pushed_registrations as items_table
from gateway.platform_store.writer import AccessLogWriter
from schema.pushes import CLAIMED, ESCALATED, PUSHED, PushRefused, PushRow

__all__ = ["CallerPushes", "Pushes", "claim_item", "create_items", "escalate_due",
           "list_items", "load_item", "step_entry"]

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _row(found: Any) -> PushRow:
    return PushRow(
        id=int(found.id), credit_code=found.credit_code, agency=found.agency,
        licences=tuple(json.loads(found.licences)), status=found.status,
        registered_on=found.registered_on, pushed_at=found.pushed_at, due_at=found.due_at,
        claimed_at=found.claimed_at, claimed_by=found.claimed_by,
        escalated_at=found.escalated_at)


def _insert_ignoring_duplicates(backend: str) -> Any:
    """INSERT ... ON CONFLICT (credit_code, agency) DO NOTHING, in the store's dialect."""
    dialect: Any = postgresql if backend == "postgresql" else sqlite
    return dialect.insert(items_table).on_conflict_do_nothing(
        index_elements=["credit_code", "agency"])


async def create_items(store: PlatformStore, credit_code: str,
                       licences: Mapping[str, tuple[str, ...]], *,
                       registered_on: dt.date | None, at: dt.datetime,
                       due: dt.datetime) -> list[PushRow]:
    """Push ``credit_code`` to every agency of ``licences`` (agency -> the names of its
    licences needed); returns the items created now (an item that existed is kept as
    it is and not returned)."""
    created: list[PushRow] = []
    async with store.transaction() as conn:
        for agency in sorted(licences):
            statement = _insert_ignoring_duplicates(store.backend).values(
                credit_code=credit_code, agency=agency,
                licences=json.dumps(list(licences[agency]), ensure_ascii=False),
                status=PUSHED, registered_on=registered_on, pushed_at=at, due_at=due)
            result = await conn.execute(statement.returning(*items_table.c))
            found = result.first()
            if found is not None:
                created.append(_row(found))
    return created


async def list_items(store: PlatformStore, agency: str | None, status: str | None,
                     escalated_only: bool, limit: int) -> list[PushRow]:
    query = sa.select(items_table).order_by(items_table.c.due_at, items_table.c.id)
    if agency is not None:
        query = query.where(items_table.c.agency == agency)
    if status is not None:
        query = query.where(items_table.c.status == status)
    if escalated_only:
        query = query.where(items_table.c.escalated_at.is_not(None))
    async with store.engine.connect() as conn:
        return [_row(found) for found in await conn.execute(query.limit(limit))]


async def load_item(store: PlatformStore, item_id: int) -> PushRow | None:
    async with store.engine.connect() as conn:
        found = (await conn.execute(
            sa.select(items_table).where(items_table.c.id == item_id))).first()
    return None if found is None else _row(found)


async def claim_item(store: PlatformStore, item_id: int, principal: str,
                     at: dt.datetime) -> PushRow:
    """Claim the item for ``principal``; ``PushRefused`` when it is claimed already
    (or gone)."""
    async with store.transaction() as conn:
        result = await conn.execute(
            items_table.update()
            .where(items_table.c.id == item_id, items_table.c.status != CLAIMED)
            .values(status=CLAIMED, claimed_at=at, claimed_by=principal)
            .returning(*items_table.c))
        found = result.first()
        if found is not None:
            return _row(found)
        before = await _current(conn, item_id)
    if before is None:
        raise PushRefused("PUSH_NOT_FOUND", f"No pushed registration {item_id}.")
    raise PushRefused("PUSH_ALREADY_CLAIMED",
                      f"Pushed registration {item_id} was claimed by {before.claimed_by} at "
                      f"{before.claimed_at:%Y-%m-%d %H:%M} UTC; nothing changed.")


async def _current(conn: AsyncConnection, item_id: int) -> PushRow | None:
    found = (await conn.execute(
        sa.select(items_table).where(items_table.c.id == item_id))).first()
    return None if found is None else _row(found)


async def escalate_due(store: PlatformStore, now: dt.datetime) -> list[PushRow]:
    """Escalate every item still PUSHED whose deadline has passed; returns them."""
    async with store.transaction() as conn:
        result = await conn.execute(
            items_table.update()
            .where(items_table.c.status == PUSHED, items_table.c.due_at <= now)
            .values(status=ESCALATED, escalated_at=now)
            .returning(*items_table.c))
        return sorted((_row(found) for found in result), key=lambda row: row.id)


def step_entry(operation: str, row: PushRow, *, at: dt.datetime, principal: str,
               role: str, agency: str, purpose: str = "", client: str = "",
               request_id: str = "", refusal_code: str = "") -> AccessEntry:
    """The access-log entry of one step on an item (``push create``, ``push claim``,
    ``push escalate``): who, the enterprise, and what was decided."""
    decision = {"itemId": str(row.id), "agency": row.agency, "status": row.status,
                "dueAt": row.due_at.isoformat(), "licences": "；".join(row.licences)}
    return AccessEntry(
        at=at, principal=principal, role=role, agency=agency, purpose=purpose,
        client=client, request_id=request_id, operation=operation,
        query_hash=text_hash(json.dumps(decision, sort_keys=True, ensure_ascii=False)),
        variables_hash="", credit_codes=(row.credit_code,), decisions=(decision,),
        outcome="refused" if refusal_code else "ok", refusal_code=refusal_code)


class Pushes:
    """What the gateway keeps of pushed items; ``for_caller`` makes a request's port."""

    def __init__(self, store: PlatformStore, *, log: AccessLogWriter | None,
                 clock: Clock = _utc_now) -> None:
        self.store = store
        self.log = log
        self.clock = clock

    def for_caller(self, caller: Caller, client: str, request_id: str) -> CallerPushes:
        return CallerPushes(self, caller, client, request_id)


class CallerPushes:
    """``schema.pushes.PushPort`` for one caller's request."""

    def __init__(self, service: Pushes, caller: Caller, client: str,
                 request_id: str) -> None:
        self._service = service
        self._caller = caller
        self._client = client
        self._request_id = request_id

    async def items(self, agency: str | None, status: str | None, escalated_only: bool,
                    limit: int) -> list[PushRow]:
        return await list_items(self._service.store, agency, status, escalated_only, limit)

    async def item(self, item_id: int) -> PushRow | None:
        return await load_item(self._service.store, item_id)

    async def claim(self, item_id: int) -> PushRow:
        return await claim_item(self._service.store, item_id, self._caller.principal or "",
                                self._service.clock())

    def note(self, operation: str, row: PushRow, refusal_code: str = "") -> None:
        log = self._service.log
        if log is None:
            return
        clearance = self._caller.clearance
        log.record(step_entry(
            operation, row, at=self._service.clock(), principal=self._caller.principal or "",
            role=clearance.role, agency=clearance.agency, purpose=clearance.purpose,
            client=self._client, request_id=self._request_id, refusal_code=refusal_code))
