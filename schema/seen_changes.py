"""What one caller may be told of a change: the enterprise's warning or registration as
the caller's view has it now.

Plain functions of a request context (nothing here knows GraphQL or websockets): the
subscriptions (``schema.subscriptions``) call them for each change, and so may any
other push (webhooks) that must tell a caller only what it could read by asking. They
take the same roads as ``enterprise { warning }``: the registry record through the
caller's view (an enterprise it may not see is ``None``), the warning's records on the
basis policies/derivation.yaml gives the caller's role, the rules of
policies/warnings.yaml - so a level told here is the level a query would show.

    change --> seen_warning(context, code) --> None (not visible) | SeenWarning
                                                -> compared with what the caller had
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connectors.records import Record as SourceRecord
from schema.connection import EnterpriseFilter, encode_cursor
from schema.context import RequestContext
from schema.gather import Path, gather_checked
from schema.licensing import LicenceRule, LicensingRules
from schema.listing import MAX_PAGE, list_enterprises
from schema.risk import SubjectRecords, collect, enterprise_subject, warning_of
from schema.rules.model import WarningLevel
from schema.rules.warnings import WarningResult

__all__ = ["SeenRegistration", "SeenWarning", "seen_registration", "seen_warning",
           "starting_levels"]


@dataclass(frozen=True, slots=True)
class SeenWarning:
    """An enterprise's warning as one caller sees it: its raw registry record (what
    ``enterprise_subject`` starts from), the caller's copy of it (hidden values null),
    the rules' result and the records it came from."""

    raw: SourceRecord
    copy: SourceRecord
    result: WarningResult
    found: SubjectRecords

    @property
    def level(self) -> WarningLevel:
        return self.result.level

    @property
    def complete(self) -> bool:
        """False when an agency could not be read: the level may then be too low, and a
        change to it is not told (it would be an outage, not a change)."""
        return not self.found.missing


async def _visible_registry_record(context: RequestContext, path: Path,
                                   credit_code: str) -> SourceRecord | None:
    raws, _ = await gather_checked(context, path, "enterprise", "credit_code", [credit_code],
                                   visible_only=False)
    visible = [r for r in raws[0] if context.view.sees(r)]
    return visible[0] if visible else None


async def seen_warning(context: RequestContext, path: Path,
                       credit_code: str) -> SeenWarning | None:
    """The enterprise's warning today as ``context``'s caller sees it; None when the
    caller may not see the enterprise or may not read its warning."""
    view = context.view
    raw = await _visible_registry_record(context, path, credit_code)
    if raw is None or "warning" in view.hidden(raw):
        return None
    copy = view.seen(raw)
    assert copy is not None  # seen: the view decided above
    basis = view.basis("Enterprise.warning")
    found = await collect(context, path, enterprise_subject(view, raw, basis), basis)
    person = raw.values.get("legal_rep_id")
    result = warning_of(context.rules, found, person if isinstance(person, str) else None,
                        context.today)
    return SeenWarning(raw, copy, result, found)


@dataclass(frozen=True, slots=True)
class SeenRegistration:
    """A new enterprise as one caller sees it, with the licences of the caller's
    agency its business scope needs."""

    copy: SourceRecord
    licences: tuple[LicenceRule, ...]


async def seen_registration(context: RequestContext, path: Path, credit_code: str,
                            rules: LicensingRules) -> SeenRegistration | None:
    """The new enterprise as ``context``'s caller sees it, when its business scope or
    industry - as the caller may read them - needs a licence of the caller's agency
    (policies/licensing.yaml); else None (not visible, nothing of the caller's agency,
    or a caller without an agency)."""
    agency = context.view.clearance.agency
    if not agency:
        return None
    raw = await _visible_registry_record(context, path, credit_code)
    copy = None if raw is None else context.view.seen(raw)
    if copy is None:
        return None
    scope, industry = copy.values.get("business_scope"), copy.values.get("industry")
    needed = tuple(rule for rule in rules.licences_needed(
        scope if isinstance(scope, str) else None,
        industry if isinstance(industry, str) else None) if rule.agency == agency)
    return SeenRegistration(copy, needed) if needed else None


async def starting_levels(context: RequestContext, path: Path, district_code: str | None,
                          industry: str | None) -> Mapping[str, WarningLevel]:
    """Every warned enterprise the caller sees (meeting the district and industry
    filters) with its warning level today, as ``enterprises(filter: {warningLevel})``
    lists them - what a subscription compares its first changes with; an enterprise
    not here is NONE. Refuses (``FilterNotAllowed``) a caller that may not read
    warnings or the filtered fields, as the listing does."""
    levels: dict[str, WarningLevel] = {}
    for level in (WarningLevel.YELLOW, WarningLevel.ORANGE, WarningLevel.RED):
        condition = EnterpriseFilter(district_code=district_code, industry=industry,
                                     warning_level=level)
        after: str | None = None
        while True:
            page = await list_enterprises(context, path, condition, MAX_PAGE, after)
            for record in page.records:
                levels[record.credit_code or ""] = level
            if page.start + len(page.records) >= page.total or not page.records:
                break
            after = encode_cursor(page.records[-1].credit_code or "")
    return levels

