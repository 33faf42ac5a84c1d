"""One access-log entry: what a request was, who made it, what it touched.

The content of an entry is everything but its chain fields (``id``, ``prev_hash``,
``entry_hash``), which the writer assigns when it appends the entry to the chain.
``content()`` is the canonical form that is hashed: the same entry always gives the
same bytes (sorted keys, no spaces, UTF-8), so ``gateway audit verify`` can recompute
every hash from the stored columns alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OUTCOMES", "AccessEntry", "content_of", "text_hash"]

# ok | partial (data with errors) | refused (a GraphQL error code: see refusal_code)
# | 401 | 403 | 429
OUTCOMES = ("ok", "partial", "refused", "401", "403", "429")


def content_of(document: Mapping[str, Any]) -> bytes:
    """The canonical bytes of an entry's ``document`` (sorted keys, no spaces, UTF-8)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def text_hash(text: str | bytes | None) -> str:
    """SHA-256 (hex) of a query text or a canonical variables document; "" for none."""
    if text is None:
        return ""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One request, as the access log keeps it (table ``access_log``)."""

    at: dt.datetime  # when the request arrived (UTC, timezone-aware)
    principal: str  # principal id; "" for the public
    role: str
    agency: str  # the caller's own agency ("" when none)
    purpose: str  # declared X-Purpose ("" when none)
    client: str  # client address
    request_id: str
    operation: str  # operation name ("" when anonymous)
    query_hash: str  # SHA-256 of the query text
    variables_hash: str  # SHA-256 of the variables, canonical JSON
    credit_codes: Sequence[str] = ()  # enterprises touched (records returned or used)
    person_ids: Sequence[str] = ()  # persons touched
    # response path -> effective openness labels of the records returned there
    fields: Mapping[str, Sequence[str]] = field(default_factory=dict)
    redactions: Mapping[str, int] = field(default_factory=dict)  # hidden path -> count
    # restriction decisions given: [{"creditCode", "action", "decision"}]
    decisions: Sequence[Mapping[str, str]] = ()
    outcome: str = "ok"  # one of OUTCOMES
    refusal_code: str = ""  # the error code when refused (AUDIT_UNAVAILABLE, FORBIDDEN...)
    latency_ms: float = 0.0

    def content(self) -> bytes:
        """The canonical bytes that are hashed (built field by field: ``asdict``'s deep
        copy cost 80-120 us an entry, most of the writer's CPU)."""
        return content_of(self.document())

    def document(self) -> dict[str, Any]:
        """The fields as ``content`` writes them (sorted lists, UTC time as text)."""
        return {
            "at": self.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "principal": self.principal, "role": self.role, "agency": self.agency,
            "purpose": self.purpose, "client": self.client, "request_id": self.request_id,
            "operation": self.operation, "query_hash": self.query_hash,
            "variables_hash": self.variables_hash,
            "credit_codes": sorted(self.credit_codes),
            "person_ids": sorted(self.person_ids),
            "fields": {k: sorted(v) for k, v in sorted(self.fields.items())},
            "redactions": dict(sorted(self.redactions.items())),
            "decisions": [dict(sorted(d.items())) for d in self.decisions],
            "outcome": self.outcome, "refusal_code": self.refusal_code,
            "latency_ms": round(self.latency_ms, 3),
        }

    def content_hash(self) -> str:
        return hashlib.sha256(self.content()).hexdigest()
