"""Objections (异议) and credit repairs (信用修复) over the platform database: the
``schema.record_workflows.WorkflowPort`` one caller's request uses.

Each step is one ``OverlayStore.change`` (the row and the overlay's new version in
one transaction, the new overlay in force here before the mutation answers, the
replicas told), and one access-log entry named for the step - ``objection file``,
``objection resolve``, ``repair request``, ``repair resolve`` - with the enterprise
it concerns and the step's details (id, agency, record, status) as its decision, so
auditors find every step with ``accessLog(filter: {creditCode: ...})`` and
``gateway audit export``. A step done answers once its entry is written (at most
2 s: with the database away it stays queued); a step refused (not the owner,
already resolved) is logged too, with its refusal code.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from connectors.records import Record
from gateway import record_workflow_db as db
from gateway.callers import Caller
from gateway.overlay_store import OverlayStore
from gateway.platform_store.entry import AccessEntry, text_hash
from gateway.platform_store.store import describe_error
from gateway.platform_store.writer import AccessLogWriter
from schema.record_workflows import ObjectionRow, RepairRow, StepRefused, WorkflowUnavailable

__all__ = ["CallerWorkflows", "RecordWorkflows"]

T = TypeVar("T")
_DURABLE_WAIT_S = 2.0  # how long a step waits for its access-log entry to be written


class RecordWorkflows:
    """The gateway's objections and repairs: one per running gateway."""

    def __init__(self, overlays: OverlayStore, *, log: AccessLogWriter | None,
                 today: Callable[[], dt.date],
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.overlays = overlays
        self.log = log
        self.today = today
        self.clock = clock

    def for_caller(self, caller: Caller, client: str, request_id: str) -> CallerWorkflows:
        return CallerWorkflows(self, caller, client, request_id)


class CallerWorkflows:
    """``WorkflowPort`` for one caller's request."""

    def __init__(self, service: RecordWorkflows, caller: Caller, client: str,
                 request_id: str) -> None:
        self._service = service
        self._caller = caller
        self._client = client
        self._request_id = request_id
        self.principal = caller.principal or ""
        self._scope = db.Scope(caller.clearance, self.principal)

    # -- objections ------------------------------------------------------------------

    async def file_objection(self, record: Record, reason: str) -> ObjectionRow:
        at, day = self._service.clock(), self._service.today()
        row = await self._step("objection file", record.credit_code, _about(record),
                               lambda conn: db.file_objection(
                                   conn, record, reason, clearance=self._caller.clearance,
                                   principal=self.principal, at=at, day=day))
        await self._noted("objection file", row.credit_code,
                   {**_about(record), "objection": str(row.id), "status": row.status})
        return row

    async def resolve_objection(self, objection: ObjectionRow, upheld: bool,
                                note: str) -> ObjectionRow:
        at, day = self._service.clock(), self._service.today()
        details = {**_about(objection), "objection": str(objection.id)}
        row = await self._step("objection resolve", objection.credit_code, details,
                               lambda conn: db.resolve_objection(
                                   conn, objection.id, upheld, note, principal=self.principal,
                                   at=at, day=day))
        await self._noted("objection resolve", row.credit_code, {**details, "status": row.status})
        return row

    async def objections(self, *, objection_id: int | None = None,
                         status: str | None = None) -> list[ObjectionRow]:
        return await self._read(lambda conn: db.find_objections(
            conn, self._scope, objection_id=objection_id, status=status))

    # -- credit repairs ----------------------------------------------------------------

    async def request_repair(self, record: Record, evidence: str) -> RepairRow:
        at = self._service.clock()
        row = await self._step("repair request", record.credit_code, _about(record),
                               lambda conn: db.request_repair(
                                   conn, record, evidence, clearance=self._caller.clearance,
                                   principal=self.principal, at=at))
        await self._noted("repair request", row.credit_code,
                   {**_about(record), "repair": str(row.id), "status": row.status})
        return row

    async def resolve_repair(self, repair: RepairRow, approved: bool, note: str) -> RepairRow:
        at, day = self._service.clock(), self._service.today()
        details = {**_about(repair), "repair": str(repair.id)}
        row = await self._step("repair resolve", repair.credit_code, details,
                               lambda conn: db.resolve_repair(
                                   conn, repair.id, approved, note, principal=self.principal,
                                   at=at, day=day))
        await self._noted("repair resolve", row.credit_code, {**details, "status": row.status})
        return row

    async def repairs(self, *, repair_id: int | None = None,
                      status: str | None = None) -> list[RepairRow]:
        return await self._read(lambda conn: db.find_repairs(
            conn, self._scope, repair_id=repair_id, status=status))

    def refused(self, operation: str, code: str, credit_code: str | None,
                details: Mapping[str, str]) -> None:
        """Log a step the graph refused (``FORBIDDEN``, ``RECORD_NOT_FOUND``...)."""
        self._note(operation, credit_code, details, code)

    # -- internals -------------------------------------------------------------------

    async def _step(self, operation: str, credit_code: str | None,
                    details: Mapping[str, str],
                    write: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        try:
            return await self._service.overlays.change(write)
        except StepRefused:
            self._note(operation, credit_code, details, "WORKFLOW_CONFLICT")
            raise
        except (SQLAlchemyError, OSError) as error:
            self._note(operation, credit_code, details, "PLATFORM_STORE_UNAVAILABLE")
            raise WorkflowUnavailable(describe_error(error)) from None

    async def _read(self, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        try:
            async with self._service.overlays.store.engine.connect() as conn:
                return await read(conn)
        except (SQLAlchemyError, OSError) as error:
            raise WorkflowUnavailable(describe_error(error)) from None

    async def _noted(self, operation: str, credit_code: str | None,
                     details: Mapping[str, str]) -> None:
        """Log a step done, and answer once its entry is in the access log: an auditor
        asking right after finds it (waiting at most ``_DURABLE_WAIT_S``: with the
        database away the entry stays queued, and /readyz says so)."""
        self._note(operation, credit_code, details)
        log = self._service.log
        if log is not None:
            with contextlib.suppress(TimeoutError, RuntimeError):
                await asyncio.wait_for(log.flush(), _DURABLE_WAIT_S)

    def _note(self, operation: str, credit_code: str | None, details: Mapping[str, str],
              refusal: str = "") -> None:
        log = self._service.log
        if log is None:
            return
        clearance = self._caller.clearance
        decision = dict(details)
        log.record(AccessEntry(
            at=self._service.clock(), principal=self.principal, role=clearance.role,
            agency=clearance.agency, purpose=clearance.purpose, client=self._client,
            request_id=self._request_id, operation=operation,
            query_hash=text_hash(json.dumps(decision, sort_keys=True, ensure_ascii=False)),
            variables_hash="", credit_codes=(credit_code,) if credit_code else (),
            decisions=(decision,), outcome="refused" if refusal else "ok",
            refusal_code=refusal, latency_ms=0.0))


def _about(item: Record | ObjectionRow | RepairRow) -> dict[str, str]:
    return {"agency": item.agency, "recordType": item.record_type, "recordId": item.record_id}
