"""What the access log keeps of one request: an ``AccessEntry`` from the request, the
caller, what the caller's view reported as returned, and the answer.

Plain functions: the gate calls ``summary_of`` when a request's GraphQL context is
done (what it touched) and ``entry_for`` once the answer is sent. A summary is kept
with an answer in the answer cache, so a cached answer is logged with what it shows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gateway.callers import Caller
from gateway.graphql_payload import Payload
from gateway.platform_store.entry import AccessEntry, text_hash
from schema.context import RequestContext

__all__ = ["RequestFacts", "Summary", "entry_for", "request_facts", "summary_of"]

@dataclass(frozen=True, slots=True)
class Summary:
    """What an answer touched and returned (empty for a refused request)."""

    credit_codes: tuple[str, ...] = ()
    person_ids: tuple[str, ...] = ()
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    redactions: Mapping[str, int] = field(default_factory=dict)
    decisions: tuple[Mapping[str, str], ...] = ()


EMPTY = Summary()


def summary_of(context: RequestContext) -> Summary:
    view = context.view
    return Summary(
        credit_codes=tuple(sorted(view.touched_codes)),
        person_ids=tuple(sorted(view.touched_persons)),
        fields={where: tuple(sorted(labels)) for where, labels in sorted(view.returned.items())},
        redactions=dict(sorted(view.redactions.items())),
        decisions=tuple(context.decisions),
    )


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the request itself says: when, from where, which operation."""

    at: dt.datetime
    client: str
    request_id: str
    operation: str
    query_hash: str
    variables_hash: str


def request_facts(client: str, request_id: str, payload: Payload,
                  at: dt.datetime | None = None) -> RequestFacts:
    """Facts of a GraphQL request (``request_id``: ``gateway.logs.request_id``); a
    request without a query text or variables gets empty hashes for them."""
    variables = None
    if payload.variables is not None:
        variables = json.dumps(payload.variables, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)
    return RequestFacts(at or dt.datetime.now(dt.UTC), client, request_id,
                        (payload.operation_name or "")[:200], text_hash(payload.query),
                        text_hash(variables))


def outcome_of(status: int, answer: bytes) -> tuple[str, str]:
    """(outcome, refusal code) of an answer: ok, partial (data with errors), refused
    with the first error's code, or the HTTP status (401, 403, 429)."""
    if status in (401, 403, 429):
        return str(status), _first_code(answer)
    if status != 200:
        return "refused", _first_code(answer) or f"HTTP_{status}"
    if b'"errors"' not in answer:
        return "ok", ""
    try:
        payload = json.loads(answer)
    except ValueError:
        return "refused", "INVALID_ANSWER"
    if isinstance(payload, dict) and payload.get("data") is not None:
        return "partial", _first_code(answer)
    return "refused", _first_code(answer) or "GRAPHQL_ERROR"


def _first_code(answer: bytes) -> str:
    try:
        payload = json.loads(answer)
        errors: Sequence[object] = payload.get("errors") or ()
        for error in errors:
            if isinstance(error, dict):
                code = (error.get("extensions") or {}).get("code")
                if isinstance(code, str):
                    return code
    except (ValueError, AttributeError):
        pass
    return ""


def entry_for(facts: RequestFacts, caller: Caller | None, status: int, answer: bytes,
              summary: Summary, latency_ms: float) -> AccessEntry:
    """The access-log entry of a request answered with ``status`` and ``answer``;
    ``caller`` None when it could not be authenticated."""
    outcome, code = outcome_of(status, answer)
    clearance = caller.clearance if caller is not None else None
    return AccessEntry(
        at=facts.at,
        principal=(caller.principal or "") if caller is not None else "",
        role=clearance.role if clearance is not None else "",
        agency=clearance.agency if clearance is not None else "",
        purpose=clearance.purpose if clearance is not None else "",
        client=facts.client,
        request_id=facts.request_id,
        operation=facts.operation,
        query_hash=facts.query_hash,
        variables_hash=facts.variables_hash,
        credit_codes=summary.credit_codes,
        person_ids=summary.person_ids,
        fields=summary.fields,
        redactions=summary.redactions,
        decisions=summary.decisions,
        outcome=outcome,
        refusal_code=code,
        latency_ms=latency_ms,
    )
