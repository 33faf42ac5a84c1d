"""The platform's record overlay: what the platform itself says about agencies' records.

Data stays at the agencies, but some facts are the platform's own: an inspection
result recorded through the graph (a record the platform adds for an agency), an
objection under review or upheld (异议: the record is flagged, or withdrawn from the
day it was upheld), an approved credit repair (信用修复: ``repaired_on`` is the day it
was approved). The overlay is those facts as one immutable snapshot, applied where
records enter the graph (``schema.gather``, ``schema.listing``) - after the shared
record cache (raw source records stay raw there, so nothing needs invalidating) and
before the caller's view, so every list, filter, warning, grade and restriction
check sees the amended records, and a record the caller may not see stays hidden.

What an amendment writes into a record's values (the rules in
``schema.rules.lifecycle`` read them; ``schema.records.build_record`` shows them):

- ``withdrawn_on``: an upheld objection's resolution day - the record stops counting
  and moves to history from that day; ``asOf`` before it gives the old answer;
- ``repaired_on``: an approved repair's day, likewise;
- ``objection``: the status of the record's latest objection (FILED, UPHELD, REJECTED);
- ``disputed``: the day an objection still under review was filed (``disputed: true``
  in the graph; whether it still counts is ``lifecycle.disputed_records_count``).

*Until the source agrees*: an amendment is applied only while the source's own
record does not already say it. A repair is not applied when the source's record
has its own ``repaired_on``; a withdrawal not when it has a ``removed_on`` or
``repaired_on`` (or when the source no longer returns the record at all); a record
the platform added is dropped as soon as the owner agency's source returns a record
with the same type and id. So the source's own values win once it has caught up,
and the overlay entries are then inert (their history stays in the platform
database).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connectors.records import Record, Value

if TYPE_CHECKING:
    from schema.registry_risk import RiskRecords

__all__ = ["Amendment", "Overlay", "RecordKey"]

RecordKey = tuple[str, str, str]  # owner agency, record type, record id


@dataclass(frozen=True, slots=True)
class Amendment:
    """What the platform says about one agency record."""

    withdrawn_on: dt.date | None = None  # an upheld objection's day
    repaired_on: dt.date | None = None  # an approved repair's day
    objection: str | None = None  # the latest objection's status
    disputed_on: dt.date | None = None  # the day an objection under review was filed

    def amend(self, record: Record) -> Record:
        """``record`` with what the source does not say yet (see the module's rule)."""
        values: dict[str, Value] = dict(record.values)
        if self.repaired_on is not None and values.get("repaired_on") is None:
            values["repaired_on"] = self.repaired_on
        if (self.withdrawn_on is not None and values.get("removed_on") is None
                and record.values.get("repaired_on") is None):
            values["withdrawn_on"] = self.withdrawn_on
        if self.objection is not None:
            values["objection"] = self.objection
        if self.disputed_on is not None:
            values["disputed"] = self.disputed_on
        return dataclasses.replace(record, values=values)


class Overlay:
    """One version of the overlay. Immutable once built (a change builds a new one);
    the only state it keeps is a memo of the registry's amended risk records."""

    def __init__(self, version: int = 0,
                 amendments: Mapping[RecordKey, Amendment] | None = None,
                 added: Iterable[Record] = ()) -> None:
        self.version = version
        self._amendments = dict(amendments or {})
        self._added: dict[tuple[str, str, str], list[Record]] = {}
        for record in added:
            for column, key in (("credit_code", record.credit_code),
                                ("person_id", record.person_id)):
                if key:
                    self._added.setdefault((record.record_type, column, key), []).append(record)
        self._types = frozenset(
            [t for _, t, _ in self._amendments] + [t for t, _, _ in self._added])
        self._risk_memo: tuple[RiskRecords, RiskRecords] | None = None

    @classmethod
    def empty(cls) -> Overlay:
        return cls()

    def touches(self, record_type: str) -> bool:
        """Does any amendment or added record concern ``record_type``?"""
        return record_type in self._types

    def apply(self, agency: str, record_type: str, records: Sequence[Record]) -> list[Record]:
        """``agency``'s records of ``record_type`` (one source's answer) amended."""
        if record_type not in self._types:
            return list(records)
        found = self._amendments
        return [r if (a := found.get((agency, record_type, r.record_id))) is None
                else a.amend(r) for r in records]

    def over(self, record_type: str, key_column: str, key: str,
             records: Sequence[Record]) -> list[Record]:
        """Every agency's records of ``record_type`` about ``key`` (a ``key_column``
        value): amended, with the records the platform added that no source returns."""
        if record_type not in self._types:
            return list(records)
        found = self._amendments
        amended = [r if (a := found.get((r.agency, record_type, r.record_id))) is None
                   else a.amend(r) for r in records]
        added = self._added.get((record_type, key_column, key))
        if added:
            present = {(r.agency, r.record_id) for r in records}
            amended += [self._amended(r) for r in added
                        if (r.agency, r.record_id) not in present]
        return amended

    def over_many(self, record_type: str, key_column: str, keys: Sequence[str],
                  buckets: list[list[Record]]) -> list[list[Record]]:
        """``over`` for many keys (one bucket per key), unchanged when nothing of
        ``record_type`` is amended or added (the usual case: no copying)."""
        if record_type not in self._types:
            return buckets
        return [self.over(record_type, key_column, key, bucket)
                for key, bucket in zip(keys, buckets, strict=True)]

    def amend_risk(self, risk: RiskRecords) -> RiskRecords:
        """The registry's risk records (``schema.registry_risk``) amended: only the
        subjects an amendment or an added record concerns are copied; the version
        gains the overlay's, so levels computed from them are kept apart."""
        if not self._types:
            return risk
        memo = self._risk_memo
        if memo is not None and memo[0] is risk:
            return memo[1]
        from schema.registry_risk import RiskRecords

        by_code = dict(risk.by_code)
        by_person = dict(risk.by_person)
        amended_ids = {(agency, record_id) for agency, _, record_id in self._amendments}
        for index, into in ((risk.by_code, by_code), (risk.by_person, by_person)):
            column = "credit_code" if index is risk.by_code else "person_id"
            keys = {key for key, records in index.items()
                    if any((r.agency, r.record_id) in amended_ids for r in records)}
            keys |= {key for _, c, key in self._added if c == column}
            for key in keys:
                into[key] = self._over_mixed(column, key, into.get(key, []))
        amended = RiskRecords(by_code, by_person, risk.failed,
                              (*risk.version, -float(self.version)))
        self._risk_memo = (risk, amended)
        return amended

    # -- internals -------------------------------------------------------------------

    def _amended(self, record: Record) -> Record:
        found = self._amendments.get((record.agency, record.record_type, record.record_id))
        return record if found is None else found.amend(record)

    def _over_mixed(self, column: str, key: str, records: Sequence[Record]) -> list[Record]:
        """``over`` for a list holding several record types (the registry's risk
        records of one subject)."""
        types = {r.record_type for r in records} | {t for t, c, k in self._added
                                                    if c == column and k == key}
        result: list[Record] = []
        for record_type in sorted(types):
            result += self.over(record_type, column, key,
                                [r for r in records if r.record_type == record_type])
        return result
