"""How the graph reads the access log: a port the gateway implements over its
platform database (``RequestContext.audit``). Nothing here knows a database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["AuditPort", "Flag", "LogFilter", "LoggedAccess"]


class LoggedAccess(Protocol):
    """What the graph reads of one access-log entry."""

    @property
    def at(self) -> dt.datetime: ...
    @property
    def principal(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def agency(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def credit_codes(self) -> Sequence[str]: ...
    @property
    def fields(self) -> Mapping[str, Sequence[str]]: ...
    @property
    def outcome(self) -> str: ...
    @property
    def refusal_code(self) -> str: ...


@dataclass(frozen=True, slots=True)
class LogFilter:
    credit_code: str | None = None
    person_id: str | None = None
    principal: str | None = None
    agency: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Flag:
    kind: str
    at: dt.datetime
    principal: str
    role: str
    agency: str
    detail: str
    entry_id: int | None


class AuditPort(Protocol):
    """The access log as the graph reads it."""

    async def page(self, where: LogFilter, after_id: int | None,
                   first: int) -> tuple[list[tuple[int, LoggedAccess]], int]:
        """Entries meeting ``where`` after ``after_id`` in chain order, and how many meet it."""
        ...

    async def alerts(self, since: dt.date, until: dt.date) -> list[Flag]: ...

    def today(self) -> dt.date:
        """Today in the time zone the alerts' days are counted in (policies/audit.yaml)."""
        ...

    async def viewers(self, credit_code: str) -> list[tuple[str, str, dt.date, int]]:
        """(agency, purpose, day, requests) of non-public reads touching the enterprise."""
        ...
