"""The root ``Subscription`` type (推送): ``warningChanges`` and ``registrations``.

Served over the websocket protocol ``graphql-transport-ws`` (``gateway.ws_endpoint``).
A change heard from the gateway's events (``schema.subscription_port``) names only
the enterprise; what the subscriber is told is computed again through its own view
for each change (``schema.seen_changes``), with a fresh context:

- ``warningChanges``: the enterprise's warning *as the subscriber sees it* - on the
  basis policies/derivation.yaml gives its role - is compared with the level it had
  for the subscriber before (at the start: the level ``enterprises(filter:
  {warningLevel})`` lists; then the last one told). A subscriber that may not see
  the enterprise, may not read its warning, or whose level did not change, is told
  nothing. Reasons and evidence are those ``enterprise { warning }`` would show it.
- ``registrations``: a new enterprise whose business scope or industry (as the
  subscriber may read them) needs a licence of the subscriber's agency
  (policies/licensing.yaml), with the values the subscriber may read.

Each delivery is an access-log entry, like a query answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator

import strawberry

from connectors.records import Record as SourceRecord
from schema.access import Basis
from schema.context import RequestContext
from schema.errors import BadUserInput, FilterNotAllowed, Forbidden, GraphError
from schema.redaction import note_redactions
from schema.risk import enterprise_subject
from schema.risk_graph import shown_filter, warning_graph
from schema.risk_types import WarningReason
from schema.rules.model import WarningLevel
from schema.seen_changes import (
    SeenRegistration,
    SeenWarning,
    seen_registration,
    seen_warning,
    starting_levels,
)
from schema.subscription_port import RegistrationNotice, SubscriptionPort, WarningNotice

__all__ = ["PUBLIC_WITHOUT", "Registration", "RegistrationFilter", "Subscription",
           "WarningChange", "WarningChangeFilter"]

Info = strawberry.Info[RequestContext, None]

# never in the public schema: registrations go to an agency's departments
PUBLIC_WITHOUT = {"Subscription": frozenset({"registrations"})}


class SubscriptionsUnavailable(GraphError):
    code = "SUBSCRIPTIONS_UNAVAILABLE"


@strawberry.input(description="Which warning changes to hear (all given must hold).")
class WarningChangeFilter:
    district_code: str | None = strawberry.field(default=None, description=(
        "Division code or its prefix, e.g. 110102 (西城区) or 1101."))
    industry: str | None = strawberry.field(default=None, description="Industry, exactly.")
    agency: str | None = strawberry.field(default=None, description=(
        "Agency code: only warnings that name this agency, after the change or when last "
        "told to you."))
    min_level: WarningLevel | None = strawberry.field(default=None, description=(
        "Only changes whose level before or after is at least this one: with RED, you "
        "hear an enterprise turning red and stopping being red."))


@strawberry.input(description="Which new registrations to hear (all given must hold).")
class RegistrationFilter:
    district_code: str | None = strawberry.field(default=None, description=(
        "Division code or its prefix, e.g. 110102 (西城区)."))
    industry: str | None = strawberry.field(default=None, description="Industry, exactly.")


@strawberry.type(description=(
    "An enterprise's warning changed as you see it (预警推送): the level you could read "
    "before and the one you can read now, with the reasons you may read."))
class WarningChange:
    credit_code: str = strawberry.field(description="The enterprise's credit code.")
    name: str | None = strawberry.field(description="Its registered name (null if hidden).")
    from_level: WarningLevel = strawberry.field(name="from", description=(
        "The level before: the last one told to you, or at the start of the "
        "subscription the level the registry-wide listing showed you."))
    to: WarningLevel = strawberry.field(description="The level now.")
    reasons: list[WarningReason] = strawberry.field(description=(
        "Every rule that applies now, with the evidence you may see (as "
        "enterprise { warning { reasons } } shows it)."))
    derived_from: Basis = strawberry.field(description=(
        "What the levels are computed from for you (policies/derivation.yaml)."))
    at: dt.datetime = strawberry.field(description="When the change was detected (UTC).")


@strawberry.type(description=(
    "A new enterprise whose business scope needs a licence of your agency "
    "(先照后证 · 双告知), with the values you may read (hidden ones null)."))
class Registration:
    credit_code: str = strawberry.field(description="The enterprise's credit code.")
    name: str | None = strawberry.field(description="Registered name (名称).")
    district_code: str | None = strawberry.field(description="Division code (行政区划代码).")
    industry: str | None = strawberry.field(description="Industry (行业).")
    business_scope: str | None = strawberry.field(description="Business scope (经营范围).")
    established_on: dt.date | None = strawberry.field(description="Date of establishment.")
    licences: list[str] = strawberry.field(description=(
        "The licences of your agency it needs (policies/licensing.yaml)."))
    at: dt.datetime = strawberry.field(description="When the registration was detected (UTC).")


def _port(info: Info) -> SubscriptionPort:
    port = info.context.subscriptions
    if port is None:
        raise SubscriptionsUnavailable(
            "Subscriptions are served over a websocket on /graphql (protocol "
            "graphql-transport-ws); this connection cannot hear the gateway's events.")
    return port


def _within(record: SourceRecord, district_code: str | None, industry: str | None) -> bool:
    """Does the caller's copy meet the filter? (A hidden value is null: no match.)"""
    if district_code:
        district = record.values.get("district_code")
        if not isinstance(district, str) or not district.startswith(district_code):
            return False
    return not industry or record.values.get("industry") == industry


def _might(notice: WarningNotice, condition: WarningChangeFilter) -> bool:
    """Could the change meet the filter? On the raw values: when they do not match, the
    caller's copy (the same values, or null) cannot either."""
    district, industry = condition.district_code, condition.industry
    if district and not (notice.district_code or "").startswith(district):
        return False
    return not industry or notice.industry == industry


def _for_event(info: Info, context: RequestContext) -> Info:
    """The subscription field's info with this change's context: graph objects built
    with it report what they return to that context's view."""
    return strawberry.Info(_raw_info=info._raw_info._replace(context=context),
                           _field=info._field)


def _check_agency(context: RequestContext, agency: str | None) -> None:
    if agency and agency not in context.agencies:
        known = ", ".join(sorted(context.agencies))
        raise BadUserInput(f"filter.agency: unknown agency {agency!r}; known: {known}.",
                           argument="filter.agency")


def _told(info: Info, context: RequestContext, seen: SeenWarning, before: WarningLevel,
          at: dt.datetime) -> WarningChange:
    here = _for_event(info, context)
    view = context.view
    view.report("Subscription.warningChanges", [seen.copy])
    hidden = view.hidden(seen.copy)
    if hidden:
        note_redactions(here, hidden)
    shown = shown_filter(view, seen.found,
                         lambda: enterprise_subject(view, seen.raw, Basis.VISIBLE))
    warning = warning_graph(here, seen.result, seen.found, shown, context.today)
    name = seen.copy.values.get("name")
    return WarningChange(credit_code=seen.copy.credit_code or "",
                         name=name if isinstance(name, str) else None, from_level=before,
                         to=seen.level, reasons=warning.reasons, derived_from=seen.found.basis,
                         at=at)


def _text(record: SourceRecord, column: str) -> str | None:
    value = record.values.get(column)
    return value if isinstance(value, str) else None


def _registration(info: Info, context: RequestContext, seen: SeenRegistration,
                  at: dt.datetime) -> Registration:
    copy = seen.copy
    context.view.report("Subscription.registrations", [copy])
    hidden = context.view.hidden(copy)
    if hidden:
        note_redactions(_for_event(info, context), hidden)
    established = copy.values.get("established_on")
    return Registration(
        credit_code=copy.credit_code or "", name=_text(copy, "name"),
        district_code=_text(copy, "district_code"), industry=_text(copy, "industry"),
        business_scope=_text(copy, "business_scope"),
        established_on=established if isinstance(established, dt.date) else None,
        licences=[rule.licence for rule in seen.licences], at=at)


@strawberry.type(description=(
    "Pushes (推送) over a websocket on /graphql (protocol graphql-transport-ws; the API "
    "key in connection_init's payload or the upgrade request's headers)."))
class Subscription:
    @strawberry.subscription(description=(
        "Every change of an enterprise's warning that you can see: computed from your "
        "view of the records (or every agency's, where policies/derivation.yaml says so), "
        "compared with the level you had before; enterprises you may not see never appear."))
    async def warning_changes(self, info: Info, filter: WarningChangeFilter | None = None,
                              ) -> AsyncGenerator[WarningChange, None]:
        port = _port(info)
        condition = filter or WarningChangeFilter()
        _check_agency(info.context, condition.agency)
        path = info.path.as_list()
        async with port.notices() as notices:  # heard from now: no change falls between
            known = dict(await starting_levels(port.context_for(None), path,
                                               condition.district_code, condition.industry))
            agencies: dict[str, tuple[str, ...]] = {}
            async for notice in notices:
                if not isinstance(notice, WarningNotice) or not _might(notice, condition):
                    continue
                context = port.context_for(notice)
                seen = await seen_warning(context, path, notice.credit_code)
                if seen is None or not seen.complete or not _within(
                        seen.copy, condition.district_code, condition.industry):
                    continue
                code = notice.credit_code
                before = known.get(code, WarningLevel.NONE)
                if before is seen.level:
                    continue
                known[code] = seen.level
                named, agencies[code] = agencies.get(code, ()), seen.result.agencies
                if condition.agency and condition.agency not in (*named, *seen.result.agencies):
                    continue
                floor = condition.min_level
                if floor is not None and max(before.rank, seen.level.rank) < floor.rank:
                    continue
                change = _told(info, context, seen, before, notice.at)
                port.delivered("warningChanges", context)
                yield change

    @strawberry.subscription(description=(
        "New enterprises whose business scope needs a licence of your agency "
        "(policies/licensing.yaml; 先照后证 · 双告知), as you may see them. For callers "
        "of an agency."))
    async def registrations(self, info: Info, filter: RegistrationFilter | None = None,
                            ) -> AsyncGenerator[Registration, None]:
        port = _port(info)
        view = info.context.view
        if not view.clearance.agency:
            raise Forbidden("registrations tells an agency's departments of new enterprises "
                            "needing its licence; your key is not bound to an agency.")
        condition = filter or RegistrationFilter()
        registry = info.context.sources.registry.code
        for name, field in (("districtCode", "district_code"), ("industry", "industry")):
            if getattr(condition, field) and not view.may_ever_read("Enterprise", field,
                                                                    registry):
                raise FilterNotAllowed(f"filter.{name} reads Enterprise.{name}, which your "
                                       "clearance may not read; leave it out.")
        path = info.path.as_list()
        async with port.notices() as notices:
            async for notice in notices:
                if not isinstance(notice, RegistrationNotice):
                    continue
                context = port.context_for(notice)
                seen = await seen_registration(context, path, notice.credit_code,
                                               port.licensing())
                if seen is None or not _within(seen.copy, condition.district_code,
                                               condition.industry):
                    continue
                registration = _registration(info, context, seen, notice.at)
                port.delivered("registrations", context)
                yield registration
