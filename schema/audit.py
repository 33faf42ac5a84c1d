"""The access log in the graph: auditors' queries, and who viewed an enterprise.

``accessLog`` and ``accessAlerts`` answer only auditors declaring the purpose AUDIT
(the public schema does not contain them); ``whoViewed`` tells anyone who may see an
enterprise which agencies looked at it, why and on which day - never which staff.
The log itself is read through ``AuditPort`` (``RequestContext.audit``), which the
gateway implements over its platform database; this module knows no database.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

import strawberry

from schema.audit_port import AuditPort, LogFilter, LoggedAccess
from schema.context import RequestContext
from schema.errors import AuditUnavailable, BadUserInput, Forbidden, require_credit_code
from schema.gather import gather_records

__all__ = ["AuditQuery"]

_ALERT_DAYS = 7  # accessAlerts without since: the seven days up to until

Info = strawberry.Info[RequestContext, None]
MAX_LOG_PAGE = 500


@strawberry.input(description="Which access-log entries to list; all given conditions apply.")
class AccessLogFilter:
    credit_code: str | None = strawberry.field(default=None, description="Enterprise touched.")
    person_id: str | None = strawberry.field(default=None, description="Person touched.")
    principal: str | None = strawberry.field(default=None, description="Principal id.")
    agency: str | None = strawberry.field(default=None, description="Caller's agency.")
    purpose: str | None = strawberry.field(default=None, description="Declared purpose.")
    outcome: str | None = strawberry.field(default=None, description=(
        "ok, partial, refused, 401, 403 or 429."))
    from_: dt.datetime | None = strawberry.field(default=None, name="from",
                                                 description="At or after (ISO time).")
    to: dt.datetime | None = strawberry.field(default=None, description="Before (ISO time).")


@strawberry.type(description="One request in the access log (访问留痕).")
class AccessLogEntry:
    id: int = strawberry.field(description="Position in the hash chain.")
    at: dt.datetime = strawberry.field(description="When the request arrived (UTC).")
    principal: str = strawberry.field(description='Principal id ("" for the public).')
    role: str = strawberry.field(description="The caller's role.")
    agency: str = strawberry.field(description="The caller's own agency.")
    purpose: str = strawberry.field(description="The declared purpose.")
    operation: str = strawberry.field(description="The GraphQL operation name.")
    credit_codes: list[str] = strawberry.field(description="Enterprises whose data it returned.")
    fields: list[str] = strawberry.field(description=(
        "Type.field paths returned, with the openness labels returned there "
        "(Enterprise.penalties: CONDITIONAL, OPEN)."))
    outcome: str = strawberry.field(description=(
        "ok, partial, refused (with the error code), 401, 403 or 429."))


@strawberry.type(description="A page of access-log entries.")
class AccessLogConnection:
    total_count: int = strawberry.field(description="Entries meeting the filter.")
    entries: list[AccessLogEntry] = strawberry.field(description="This page, in chain order.")
    end_cursor: str | None = strawberry.field(description="Pass as 'after' for the next page.")
    has_next_page: bool = strawberry.field(description="More entries follow.")


@strawberry.type(description="An over-reach flag (越权查询) for auditors.")
class AccessAlert:
    kind: str = strawberry.field(description="REFUSED, HIDDEN, VOLUME or OFF_HOURS.")
    at: dt.datetime = strawberry.field(description="When.")
    principal: str = strawberry.field(description="Who.")
    role: str = strawberry.field(description="Their role.")
    agency: str = strawberry.field(description="Their agency.")
    detail: str = strawberry.field(description="What was flagged.")
    entry_id: int | None = strawberry.field(description="The entry flagged, if one.")


@strawberry.type(description="Who looked at an enterprise: an agency, why and when (公示).")
class Viewing:
    agency: str = strawberry.field(description="The agency that looked.")
    purpose: str = strawberry.field(description="The purpose it declared.")
    day: dt.date = strawberry.field(description="The day (UTC).")
    requests: int = strawberry.field(description="How many requests that day.")


def _cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"log:{entry_id}".encode()).decode()


def _after(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith("log:"):
            return int(text[4:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise BadUserInput("'after' is not a cursor of accessLog; pass an endCursor it returned.",
                       argument="after")


def _port(info: Info, *, auditors_only: bool) -> AuditPort:
    context = info.context
    context.reusable = False  # the log grows with every request
    clearance = context.view.clearance
    if auditors_only and (clearance.role != "auditor" or clearance.purpose != "AUDIT"):
        raise Forbidden("The access log is released only to auditors declaring the purpose "
                        "AUDIT (X-Purpose: AUDIT).")
    port = context.audit
    if port is None:
        raise AuditUnavailable("This gateway keeps no access log to read.")
    return port


def _fields(entry: LoggedAccess) -> list[str]:
    return [f"{path}: {', '.join(labels)}" for path, labels in sorted(entry.fields.items())]


@strawberry.type
class AuditQuery:
    @strawberry.field(description=(
        "The access log (auditors with purpose AUDIT only): every request, who, why, what it "
        "touched, and its outcome, in chain order."))
    async def access_log(self, info: Info, filter: AccessLogFilter | None = None,
                         first: int = 50, after: str | None = None) -> AccessLogConnection:
        port = _port(info, auditors_only=True)
        if not 1 <= first <= MAX_LOG_PAGE:
            raise BadUserInput(f"'first' must be between 1 and {MAX_LOG_PAGE}, got {first}.",
                               argument="first")
        given = filter or AccessLogFilter()
        code = require_credit_code(given.credit_code) if given.credit_code else None
        where = LogFilter(code, given.person_id, given.principal, given.agency, given.purpose,
                          given.outcome, given.from_, given.to)
        rows, total = await port.page(where, _after(after), first + 1)
        page = rows[:first]
        entries = [AccessLogEntry(
            id=entry_id, at=e.at, principal=e.principal, role=e.role, agency=e.agency,
            purpose=e.purpose, operation=e.operation, credit_codes=list(e.credit_codes),
            fields=_fields(e),
            outcome=e.outcome + (f" {e.refusal_code}" if e.refusal_code else ""))
            for entry_id, e in page]
        return AccessLogConnection(
            total_count=total, entries=entries,
            end_cursor=_cursor(page[-1][0]) if page else None,
            has_next_page=len(rows) > first)

    @strawberry.field(description=(
        "Over-reach flags (越权) between two days, inclusive (by default the seven days up "
        "to today, days counted in the time zone of policies/audit.yaml; auditors with "
        "purpose AUDIT "
        "only): refused requests, requests for values not open to the caller, unusual "
        "volume, reads outside office hours "
        "(policies/audit.yaml)."))
    async def access_alerts(self, info: Info, since: dt.date | None = None,
                            until: dt.date | None = None) -> list[AccessAlert]:
        port = _port(info, auditors_only=True)
        # by default the last seven days up to today - in the alerts' time zone, not the
        # machine's (after 16:00 UTC it is already tomorrow in Shanghai)
        until = until if until is not None else port.today()
        since = since if since is not None else until - dt.timedelta(days=_ALERT_DAYS - 1)
        if until < since or (until - since).days > 366:
            raise BadUserInput("Give 'since' on or before 'until', at most a year apart.",
                               argument="until")
        return [AccessAlert(kind=f.kind, at=f.at, principal=f.principal, role=f.role,
                            agency=f.agency, detail=f.detail, entry_id=f.entry_id)
                for f in await port.alerts(since, until)]

    @strawberry.field(description=(
        "Who looked at this enterprise (公示: an enterprise's own record of who viewed it): "
        "agency, purpose and day of every non-public read, never which staff. Null when "
        "you may not see the enterprise, exactly as enterprise(creditCode:)."))
    async def who_viewed(self, info: Info, credit_code: str) -> list[Viewing] | None:
        code = require_credit_code(credit_code)
        found = await gather_records(info.context, info.path.as_list(), "enterprise",
                                     "credit_code", code)
        if not found:
            return None
        port = _port(info, auditors_only=False)
        return [Viewing(agency=agency, purpose=purpose, day=day, requests=count)
                for agency, purpose, day, count in await port.viewers(code)]
