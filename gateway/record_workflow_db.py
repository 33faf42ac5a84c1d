"""Objections (异议) and credit repairs (信用修复) in the platform database: the rows,
read and written with SQLAlchemy Core (SQLite and PostgreSQL alike).

Every write runs inside ``OverlayStore.change`` (one transaction that also raises
the overlay's version), so a step and the overlay it changes are one commit. A
resolution updates only a row still open (``status`` FILED / REQUESTED in the
``WHERE``): of two owners resolving at once, one wins and the other is told.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from connectors.records import Record
from gateway.platform_store.tables import credit_repairs, objections
from schema.access import Clearance
from schema.record_workflows import ObjectionRow, RepairRow, StepRefused

__all__ = ["Scope", "file_objection", "find_objections", "find_repairs", "request_repair",
           "resolve_objection", "resolve_repair"]


class Scope:
    """Which rows a caller may read: an enterprise those its keys filed about its
    credit code (not a department's on its records: the record may be one it may not
    see), a department those on its agency's records (it sees all of them) and those
    it filed, an admin all, anyone else none."""

    def __init__(self, clearance: Clearance, principal: str) -> None:
        self.clearance = clearance
        self.principal = principal

    def where(self, table: sa.Table, by: sa.Column[Any],
              by_role: sa.Column[Any]) -> sa.ColumnElement[bool]:
        role = self.clearance.role
        if role == "admin":
            return sa.true()
        if role == "enterprise" and self.clearance.credit_code:
            return sa.and_(table.c.credit_code == self.clearance.credit_code,
                           by_role == "enterprise")
        if role == "department":
            return sa.or_(table.c.agency == self.clearance.agency, by == self.principal)
        return sa.false()


def _objection(row: Any) -> ObjectionRow:
    return ObjectionRow(
        id=int(row.id), agency=row.agency, record_type=row.record_type,
        record_id=row.record_id, credit_code=row.credit_code, status=row.status,
        reason=row.reason, filed_by=row.filed_by, filed_at=row.filed_at,
        resolved_at=row.resolved_at, resolved_on=row.resolved_on, note=row.note)


def _repair(row: Any) -> RepairRow:
    return RepairRow(
        id=int(row.id), agency=row.agency, record_type=row.record_type,
        record_id=row.record_id, credit_code=row.credit_code, status=row.status,
        evidence=row.evidence, requested_by=row.requested_by, requested_at=row.requested_at,
        decided_at=row.decided_at, repaired_on=row.repaired_on, note=row.note)


def _same_record(table: sa.Table, record: Record) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.agency == record.agency, table.c.record_type == record.record_type,
                   table.c.record_id == record.record_id)


async def file_objection(conn: AsyncConnection, record: Record, reason: str, *,
                         clearance: Clearance, principal: str, at: dt.datetime,
                         day: dt.date) -> ObjectionRow:
    """A new FILED objection; ``StepRefused`` when one on the record is still open or
    one was upheld (the record is withdrawn already)."""
    found = (await conn.execute(sa.select(objections.c.id, objections.c.status).where(
        _same_record(objections, record), objections.c.status.in_(("FILED", "UPHELD")))
    )).first()
    if found is not None:
        raise StepRefused(
            f"objection {found.id} on this record is {found.status} already"
            + (" (one objection at a time)" if found.status == "FILED" else
               " (the record is withdrawn)"))
    inserted = await conn.execute(objections.insert().values(
        agency=record.agency, record_type=record.record_type, record_id=record.record_id,
        credit_code=record.credit_code, status="FILED", reason=reason, filed_by=principal,
        filed_role=clearance.role, filed_agency=clearance.agency, filed_at=at,
        filed_on=day).returning(*objections.c))
    return _objection(inserted.one())


async def resolve_objection(conn: AsyncConnection, objection_id: int, upheld: bool,
                            note: str, *, principal: str, at: dt.datetime,
                            day: dt.date) -> ObjectionRow:
    changed = await conn.execute(
        objections.update()
        .where(objections.c.id == objection_id, objections.c.status == "FILED")
        .values(status="UPHELD" if upheld else "REJECTED", resolved_by=principal,
                resolved_at=at, resolved_on=day, note=note)
        .returning(*objections.c))
    row = changed.first()
    if row is None:
        raise StepRefused(f"objection {objection_id} is resolved already")
    return _objection(row)


async def find_objections(conn: AsyncConnection, scope: Scope, *,
                          objection_id: int | None = None,
                          status: str | None = None) -> list[ObjectionRow]:
    query = sa.select(objections).where(scope.where(objections, objections.c.filed_by,
                                                    objections.c.filed_role))
    if objection_id is not None:
        query = query.where(objections.c.id == objection_id)
    if status is not None:
        query = query.where(objections.c.status == status)
    return [_objection(row) for row in await conn.execute(query.order_by(objections.c.id))]


async def request_repair(conn: AsyncConnection, record: Record, evidence: str, *,
                         clearance: Clearance, principal: str,
                         at: dt.datetime) -> RepairRow:
    """A new REQUESTED repair; ``StepRefused`` when one on the record is pending or
    was approved."""
    found = (await conn.execute(sa.select(credit_repairs.c.id, credit_repairs.c.status).where(
        _same_record(credit_repairs, record),
        credit_repairs.c.status.in_(("REQUESTED", "APPROVED"))))).first()
    if found is not None:
        raise StepRefused(f"credit repair {found.id} on this record is {found.status} already")
    inserted = await conn.execute(credit_repairs.insert().values(
        agency=record.agency, record_type=record.record_type, record_id=record.record_id,
        credit_code=record.credit_code, status="REQUESTED", evidence=evidence,
        requested_by=principal, requested_role=clearance.role,
        requested_agency=clearance.agency, requested_at=at).returning(*credit_repairs.c))
    return _repair(inserted.one())


async def resolve_repair(conn: AsyncConnection, repair_id: int, approved: bool, note: str,
                         *, principal: str, at: dt.datetime, day: dt.date) -> RepairRow:
    changed = await conn.execute(
        credit_repairs.update()
        .where(credit_repairs.c.id == repair_id, credit_repairs.c.status == "REQUESTED")
        .values(status="APPROVED" if approved else "REJECTED", decided_by=principal,
                decided_at=at, repaired_on=day if approved else None, note=note)
        .returning(*credit_repairs.c))
    row = changed.first()
    if row is None:
        raise StepRefused(f"credit repair {repair_id} is decided already")
    return _repair(row)


async def find_repairs(conn: AsyncConnection, scope: Scope, *, repair_id: int | None = None,
                       status: str | None = None) -> list[RepairRow]:
    query = sa.select(credit_repairs).where(scope.where(
        credit_repairs, credit_repairs.c.requested_by, credit_repairs.c.requested_role))
    if repair_id is not None:
        query = query.where(credit_repairs.c.id == repair_id)
    if status is not None:
        query = query.where(credit_repairs.c.status == status)
    return [_repair(row) for row in await conn.execute(query.order_by(credit_repairs.c.id))]
