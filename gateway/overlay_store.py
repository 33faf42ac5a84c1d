"""The platform's record overlay (``schema.overlay``) kept in the platform database,
and how every replica follows it.

The tables (migration 3, ``gateway.platform_store.tables``): ``platform_records``
(records the platform adds for an agency: inspection results), ``objections`` (异议)
and ``credit_repairs`` (信用修复), and ``overlay_version``, one row whose number goes
up in the same transaction as every change. ``OverlayStore`` holds the overlay in
force in this process and follows the database like the access policy does
(``gateway.policy_sync``): a change is put in force in the process that made it
before the mutation answers, published on Redis (``<namespace>:overlay``) so the
other replicas load it at once, and every replica also polls the version (``poll_s``,
1 s by default), so with Redis away a change arrives at most that late. Each new
overlay is handed to the ``on_change`` listeners (the app clears its answer cache:
an answer made before the change must not be served after it).

The whole overlay is loaded at each change: the platform's own facts are few (one
row per objection, repair or recorded inspection) next to the agencies' records.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from connectors.records import Record, Value
from connectors.standard import RECORD_TYPES, ColumnKind, Openness, RiskLevel
from gateway.platform_store.store import PlatformStore, describe_error
from gateway.platform_store.tables import (
    credit_repairs,
    objections,
    overlay_version,
    platform_records,
)
from gateway.policy_channel import PolicyChannel
from schema.overlay import Amendment, Overlay, RecordKey

__all__ = ["OverlayStore", "RecordRefused", "load_overlay", "record_from_row"]

log = logging.getLogger("gateway.overlay")

T = TypeVar("T")
OnChange = Callable[[Overlay], None]
_CHANNEL_ID = "overlay"  # the store id of notifications (the database is the truth)
# record types the platform may add (not the registry's subjects)
_ADDABLE = frozenset(RECORD_TYPES) - {"enterprise", "person"}


class RecordRefused(ValueError):
    """``add_record`` refused a record (the message says why); nothing was written."""


def _encode(values: Iterable[tuple[str, Value]]) -> str:
    return json.dumps({name: value.isoformat() if isinstance(value, dt.date) else value
                       for name, value in values}, sort_keys=True, ensure_ascii=False)


def record_from_row(row: Any) -> Record:
    """A ``platform_records`` row as the record the graph sees (every column of its
    type present, dates parsed)."""
    spec = RECORD_TYPES[row.record_type]
    stored = json.loads(row.record_values)
    values: dict[str, Value] = {}
    for name, kind in spec.columns:
        raw = stored.get(name)
        values[name] = (dt.date.fromisoformat(raw) if kind is ColumnKind.DATE and raw
                        else raw)
    return Record(row.record_type, row.agency, row.record_id, row.credit_code,
                  Openness(row.openness),
                  None if row.risk_level is None else RiskLevel(row.risk_level), values)


def _check(record: Record) -> None:
    if record.record_type not in _ADDABLE:
        raise RecordRefused(f"record type {record.record_type!r} cannot be added by the "
                            f"platform (one of: {', '.join(sorted(_ADDABLE))})")
    known = RECORD_TYPES[record.record_type].column_names
    unknown = sorted(set(record.values) - set(known))
    if unknown:
        raise RecordRefused(f"{record.record_type} has no column {', '.join(unknown)} "
                            f"(columns: {', '.join(known)})")
    if not record.record_id or not (record.credit_code or record.person_id):
        raise RecordRefused("a record needs an id and a credit code (or a person id)")


async def load_overlay(store: PlatformStore) -> Overlay:
    """The overlay as the database holds it now. The version is read first, so the
    rows read after it are at least that version's."""
    async with store.engine.connect() as conn:
        version = int((await conn.execute(sa.select(overlay_version.c.version)
                                          .where(overlay_version.c.id == 1))).scalar_one())
        added = [record_from_row(row) for row in await conn.execute(
            sa.select(platform_records).order_by(platform_records.c.id))]
        amendments: dict[RecordKey, Amendment] = {}
        for row in await conn.execute(sa.select(objections).order_by(objections.c.id)):
            key = (row.agency, row.record_type, row.record_id)
            was = amendments.get(key, Amendment())
            withdrawn = was.withdrawn_on
            if row.status == "UPHELD" and withdrawn is None:
                withdrawn = row.resolved_on  # the first upheld objection withdraws it
            amendments[key] = Amendment(
                withdrawn_on=withdrawn, repaired_on=was.repaired_on, objection=row.status,
                disputed_on=row.filed_on if row.status == "FILED" else None)
        for row in await conn.execute(sa.select(credit_repairs)
                                      .where(credit_repairs.c.status == "APPROVED")
                                      .order_by(credit_repairs.c.id)):
            key = (row.agency, row.record_type, row.record_id)
            was = amendments.get(key, Amendment())
            if was.repaired_on is None:
                amendments[key] = Amendment(was.withdrawn_on, row.repaired_on, was.objection,
                                            was.disputed_on)
    return Overlay(version, amendments, added)


async def bump_version(conn: AsyncConnection) -> int:
    """The overlay's next version, in the change's transaction."""
    await conn.execute(overlay_version.update().where(overlay_version.c.id == 1)
                       .values(version=overlay_version.c.version + 1))
    return int((await conn.execute(sa.select(overlay_version.c.version)
                                   .where(overlay_version.c.id == 1))).scalar_one())


class OverlayStore:
    """The overlay in force here (``current``) and how it follows the database."""

    def __init__(self, store: PlatformStore, *, poll_s: float = 1.0,
                 channel: PolicyChannel | None = None) -> None:
        self._store = store
        self._poll_s = poll_s
        self._channel = channel
        self._overlay = Overlay.empty()
        self._listeners: list[OnChange] = []
        self._kick = asyncio.Event()
        self._loading = asyncio.Lock()
        self._loaded = False  # the first load is put in force even at version 0
        self._first = asyncio.Event()  # set by the first load

    @property
    def store(self) -> PlatformStore:
        return self._store

    def current(self) -> Overlay:
        return self._overlay

    def on_change(self, listener: OnChange) -> None:
        """Call ``listener(new)`` right after a newer overlay is put in force."""
        self._listeners.append(listener)

    async def ready(self, wait_s: float) -> bool:
        """Wait (at most ``wait_s``) for the first load; False when it has not happened."""
        try:
            await asyncio.wait_for(self._first.wait(), wait_s)
        except TimeoutError:
            return False
        return True

    def notified(self, store_id: str, version: int) -> None:
        if store_id == _CHANNEL_ID and version > self._overlay.version:
            self._kick.set()

    async def follow(self, before: Callable[[], Awaitable[None]] | None = None) -> None:
        """Load, then keep up with the database until cancelled (``before``: the
        platform's migrations). A failed load is logged and tried again at the next
        poll; meanwhile the overlay in force stays."""
        if before is not None:
            await before()
        listening = (None if self._channel is None else asyncio.create_task(
            self._channel.listen(self.notified, self._kick.set)))
        try:
            while True:
                try:
                    await self.refresh()
                except Exception as exc:  # the database is away: logged, polled again
                    log.error("record overlay not loaded from the platform database (%s); "
                              "retrying in %g s", describe_error(exc), self._poll_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), self._poll_s)
                self._kick.clear()
        finally:
            if listening is not None:
                listening.cancel()

    async def refresh(self) -> None:
        """Load the database's overlay when its version is newer than the one here."""
        async with self._loading:
            async with self._store.engine.connect() as conn:
                latest = int((await conn.execute(
                    sa.select(overlay_version.c.version)
                    .where(overlay_version.c.id == 1))).scalar_one())
            if latest > self._overlay.version or not self._loaded:
                self._apply(await load_overlay(self._store))

    async def change(self, write: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``write`` in a transaction that also raises the overlay's version, put
        the new overlay in force here, then tell the replicas."""
        async with self._store.transaction("overlay") as conn:
            result = await write(conn)
            version = await bump_version(conn)
        async with self._loading:
            self._apply(await load_overlay(self._store))
        if self._channel is not None:
            await self._channel.publish(_CHANNEL_ID, version)
        return result

    async def add_record(self, record: Record, *, principal: str | None, reason: str) -> None:
        """Add ``record`` for its owner agency (e.g. an inspection result recorded
        through the graph); it appears in the graph like the agency's own records (its
        openness label applies) until the agency's source returns a record with the same
        type and id. ``RecordRefused`` for a record that cannot be added (a subject
        type, an unknown column, no id or subject, the same record added before)."""
        _check(record)
        values = _encode((name, record.values.get(name))
                         for name in RECORD_TYPES[record.record_type].column_names)

        async def write(conn: AsyncConnection) -> None:
            exists = (await conn.execute(sa.select(platform_records.c.id).where(
                platform_records.c.agency == record.agency,
                platform_records.c.record_type == record.record_type,
                platform_records.c.record_id == record.record_id))).first()
            if exists is not None:
                raise RecordRefused(f"{record.agency} {record.record_type} "
                                    f"{record.record_id} was added before")
            await conn.execute(platform_records.insert().values(
                agency=record.agency, record_type=record.record_type,
                record_id=record.record_id, credit_code=record.credit_code,
                openness=record.openness.value,
                risk_level=None if record.risk_level is None else record.risk_level.value,
                record_values=values, added_at=dt.datetime.now(dt.UTC),
                principal=principal or "", reason=reason))

        await self.change(write)

    def _apply(self, overlay: Overlay) -> None:
        if overlay.version <= self._overlay.version and self._loaded:
            return
        self._loaded = True
        self._first.set()
        self._overlay = overlay
        for listener in self._listeners:
            listener(overlay)
        log.info("record overlay version %d in force", overlay.version)
