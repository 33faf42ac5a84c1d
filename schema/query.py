"""The root ``Query`` type."""

from __future__ import annotations

import asyncio
import datetime as dt

import strawberry

from schema.audit import AuditQuery
from schema.connection import EnterpriseConnection, EnterpriseFilter
from schema.context import RequestContext
from schema.errors import require_credit_code
from schema.gather import gather_records
from schema.page import load_enterprise
from schema.restrictions import check_restrictions
from schema.risk_types import RestrictionDecision
from schema.search import search_enterprises
from schema.subjects import Enterprise, Person, person_from

__all__ = ["Query", "Source"]

Info = strawberry.Info[RequestContext, None]


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


@strawberry.type(description="Entry points of the enterprise regulatory graph.")
class Query(AuditQuery):
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

    @strawberry.field(description=(
        "May this enterprise be granted the action (一处违法，处处受限)? ALLOWED, "
        "RESTRICTED, PROHIBITED, or INDETERMINATE when an agency the decision needs "
        "could not be read. asOf reproduces the decision of a past day. Actions: "
        "LICENCE_APPLICATION, GOVERNMENT_PROCUREMENT, PUBLIC_BIDDING, LAND_TRANSACTION, "
        "FISCAL_SUBSIDY, HONOUR, CERTIFICATION (the catalogue may add more)."))
    async def restriction_check(
        self, info: Info, credit_code: str, action: str, as_of: dt.date | None = None
    ) -> RestrictionDecision:
        return (await check_restrictions(info, [credit_code], action, as_of))[0]

    @strawberry.field(description=(
        "restrictionCheck for up to 10,000 enterprises at once, in the order given; one "
        "call per agency and record type for all of them."))
    async def restriction_checks(
        self, info: Info, credit_codes: list[str], action: str, as_of: dt.date | None = None
    ) -> list[RestrictionDecision]:
        return await check_restrictions(info, credit_codes, action, as_of)

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
