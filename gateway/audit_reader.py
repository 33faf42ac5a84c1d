"""The access log as the graph reads it (``schema.audit_port.AuditPort``), over the
platform database: auditors' pages of entries, over-reach alerts, and who viewed an
enterprise."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.audit_alerts import AlertRules, find_alerts
from gateway.platform_store.chain import entry_of_row
from gateway.platform_store.tables import access_log
from schema.audit_port import Flag, LogFilter, LoggedAccess

__all__ = ["AuditReader"]

# roles whose reads an enterprise is told about (whoViewed): staff of agencies
_VIEWING_ROLES = ("department", "approval")


def _contains(column: sa.ColumnElement[str], value: str) -> sa.ColumnElement[bool]:
    """A JSON list column (canonical text) holding ``value``."""
    quoted = json.dumps(value, ensure_ascii=False)
    escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{escaped}%", escape="\\")


def _conditions(where: LogFilter) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = []
    if where.credit_code:
        found.append(_contains(access_log.c.credit_codes, where.credit_code))
    if where.person_id:
        found.append(_contains(access_log.c.person_ids, where.person_id))
    for name in ("principal", "agency", "purpose", "outcome"):
        value = getattr(where, name)
        if value is not None:
            found.append(access_log.c[name] == value)
    if where.since is not None:
        found.append(access_log.c.at >= where.since)
    if where.until is not None:
        found.append(access_log.c.at < where.until)
    return found


class AuditReader:
    """Reads the access log of one platform database."""

    def __init__(self, engine: AsyncEngine, rules: AlertRules) -> None:
        self._engine = engine
        self._rules = rules

    def use(self, rules: AlertRules) -> None:
        """Flag by ``rules`` from the next question on (a new policy version)."""
        self._rules = rules

    async def page(self, where: LogFilter, after_id: int | None,
                   first: int) -> tuple[list[tuple[int, LoggedAccess]], int]:
        conditions = _conditions(where)
        listed = sa.select(access_log).where(*conditions)
        if after_id is not None:
            listed = listed.where(access_log.c.id > after_id)
        listed = listed.order_by(access_log.c.id).limit(first)
        counted = sa.select(sa.func.count()).select_from(access_log).where(*conditions)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(listed)).mappings().all()
            total = (await conn.execute(counted)).scalar_one()
        found: list[tuple[int, LoggedAccess]] = [(int(row["id"]), entry_of_row(row))
                                                 for row in rows]
        return found, int(total)

    async def alerts(self, since: dt.date, until: dt.date) -> list[Flag]:
        zone = self._rules.timezone
        start = dt.datetime.combine(since - dt.timedelta(days=self._rules.baseline_days),
                                    dt.time(0), zone)
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(0), zone)
        query = (sa.select(access_log)
                 .where(access_log.c.at >= start, access_log.c.at < end)
                 .order_by(access_log.c.id))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        entries = [(int(row["id"]), entry_of_row(row)) for row in rows]
        return [Flag(a.kind, a.at, a.principal, a.role, a.agency, a.detail, a.entry_id)
                for a in find_alerts(entries, self._rules, (since, until))]

    def today(self) -> dt.date:
        return dt.datetime.now(self._rules.timezone).date()

    async def viewers(self, credit_code: str) -> list[tuple[str, str, dt.date, int]]:
        query = (sa.select(access_log.c.agency, access_log.c.purpose, access_log.c.at)
                 .where(_contains(access_log.c.credit_codes, credit_code),
                        access_log.c.role.in_(_VIEWING_ROLES),
                        access_log.c.outcome.in_(("ok", "partial"))))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        counts = Counter((agency, purpose, at.date()) for agency, purpose, at in rows)
        return [(agency, purpose, day, count)
                for (agency, purpose, day), count in sorted(counts.items(),
                                                            key=lambda item: item[0][2],
                                                            reverse=True)]
