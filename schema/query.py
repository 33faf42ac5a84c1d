"""The root ``Query`` type."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
from collections.abc import Mapping

import strawberry

from schema.actions import action_enum, enum_name
from schema.audit import AuditQuery
from schema.connection import EnterpriseConnection, EnterpriseFilter
from schema.context import RequestContext
from schema.credit_repair import CreditRepairQuery
from schema.errors import require_credit_code
from schema.gather import gather_records
from schema.inspections import InspectionQuery
from schema.objections import ObjectionQuery
from schema.page import load_enterprise
from schema.pushes import PushQuery
from schema.restrictions import check_restrictions
from schema.risk_types import RestrictionDecision
from schema.rules.model import ActionRules
from schema.search import search_enterprises
from schema.statistics import StatisticsQuery
from schema.subjects import Enterprise, Person, person_from

__all__ = ["Query", "Source", "query_type"]

Info = strawberry.Info[RequestContext, None]
QUERY_DESCRIPTION = "Entry points of the enterprise regulatory graph."


@strawberry.type(description="An agency source the gateway reads (数据来源).")
class Source:
    code: str = strawberry.field(description="Agency code.")
    name: str = strawberry.field(description="Agency name.")
    kind: str = strawberry.field(description="Source kind: sql, csv or http.")
    record_types: list[str] = strawberry.field(
        description="Record types this agency provides (collection standard names)."
    )
    available: bool = strawberry.field(
        description="True when the source answered a health check just now."
    )


@strawberry.type(description=QUERY_DESCRIPTION)
class Query(AuditQuery, InspectionQuery, StatisticsQuery, ObjectionQuery, CreditRepairQuery,
            PushQuery):
    """The entry points that do not depend on the catalogue; ``query_type`` adds the
    restriction checks, whose ``action`` is the catalogue's enum."""

    @strawberry.field(
        description=(
            "One enterprise by unified social credit code, or null when the registry has "
            "none. An invalid code is an error with extensions.code INVALID_CREDIT_CODE."
        )
    )
    async def enterprise(self, info: Info, credit_code: str) -> Enterprise | None:
        return await load_enterprise(info, require_credit_code(credit_code))

    @strawberry.field(
        description=(
            "Enterprises of the registry that meet the filter, a page at a time, ordered by "
            "credit code. 'first' is 1-1000 (default 20); 'after' is a cursor from a "
            "previous page."
        )
    )
    async def enterprises(
        self,
        info: Info,
        filter: EnterpriseFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> EnterpriseConnection:
        return await search_enterprises(info, filter, first, after)

    @strawberry.field(description="One responsible person by person id, or null if unknown.")
    async def person(self, info: Info, person_id: str) -> Person | None:
        records = await gather_records(info.context, info.path.as_list(), "person",
                                       "person_id", person_id)
        return person_from(info, records[0]) if records else None

    @strawberry.field(description="Every agency source, with whether it answers now.")
    async def sources(self, info: Info) -> list[Source]:
        info.context.reusable = False  # availability is "now"
        connectors = info.context.sources.all()
        health = await asyncio.gather(*(c.health() for c in connectors), return_exceptions=True)
        return [
            Source(
                code=c.code,
                name=c.spec.name,
                kind=c.kind,
                record_types=list(c.spec.provides),
                available=ok is True,
            )
            for c, ok in zip(connectors, health, strict=True)
        ]


def query_type(actions: Mapping[str, ActionRules]) -> type[Query]:
    """The root ``Query`` type for the restriction catalogue ``actions``: ``Query`` and
    ``restrictionCheck`` / ``restrictionChecks`` with ``action: RestrictionAction!``
    (``schema.actions``). Called once per schema build."""
    action_type = action_enum(actions)
    listed = ", ".join(enum_name(code) for code in actions)

    async def check_one(
        info: Info, credit_code: str, action: enum.Enum, as_of: dt.date | None = None
    ) -> RestrictionDecision:
        return (await check_restrictions(info, [credit_code], action.value, as_of))[0]

    async def check_many(
        info: Info, credit_codes: list[str], action: enum.Enum, as_of: dt.date | None = None
    ) -> list[RestrictionDecision]:
        return await check_restrictions(info, credit_codes, action.value, as_of)

    for resolver in (check_one, check_many):
        resolver.__annotations__["action"] = action_type  # the enum built just now

    @strawberry.type(name="Query", description=QUERY_DESCRIPTION)
    class CatalogueQuery(Query):
        restriction_check: RestrictionDecision = strawberry.field(
            resolver=check_one, description=(
                "May this enterprise be granted the action (一处违法，处处受限)? ALLOWED, "
                "RESTRICTED, PROHIBITED, or INDETERMINATE when an agency the decision "
                "needs could not be read. asOf reproduces the decision of a past day. "
                f"Actions (the restriction catalogue): {listed}."))
        restriction_checks: list[RestrictionDecision] = strawberry.field(
            resolver=check_many, description=(
                "restrictionCheck for up to 10,000 enterprises at once, in the order "
                "given; one call per agency and record type for all of them."))

    return CatalogueQuery
