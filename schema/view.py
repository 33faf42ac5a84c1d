"""The caller's view: the one place that decides what a caller sees.

Built once per request from the access policy and the caller's clearance. Every
record enters the graph through it: a record the caller may not see is absent
(from lists, counts, filters, sorts, evidence, warnings, grades and links), and a
record it may see is replaced by the caller's *copy*, in which every value the
caller may not read is null. Everything else - direct reads, lists, counts,
filters, sorts, warnings, grades - is computed by plain functions from these
copies, so a hidden value cannot reach a result by any road. Only the derived
values the policy computes on purpose from more (``Basis.ALL``, derivation.yaml)
read raw records; they show what the caller may not read only as counts.

    raw records (shared cache) --CallerView.seen()--> the caller's copies --> rules

Decisions are memoized per record *shape* (type, openness label, owner agency),
copies per record, so the view costs a dictionary lookup per record when warm.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence

from strawberry.utils.str_converters import to_camel_case

from connectors.records import Record, Value
from connectors.standard import Openness
from schema.access import GRAPH_TYPES, AccessPolicy, Basis, Clearance, stricter

__all__ = ["LIST_FIELDS", "CallerView"]

# The list field of a subject type that carries records of a record type.
LIST_FIELDS: dict[str, dict[str, str]] = {
    "Enterprise": {
        "licence": "licences",
        "penalty": "penalties",
        "anomaly": "anomalies",
        "serious_violation": "serious_violations",
        "judgment_default": "judgment_defaults",
        "inspection": "inspections",
    },
    "Person": {"penalty": "penalties", "judgment_default": "judgment_defaults"},
}

_Shape = tuple[str, Openness, str]  # record type, record openness, owner agency


class CallerView:
    """One request's view. ``policy=None`` means authorization is off (benchmarks)."""

    def __init__(self, policy: AccessPolicy | None, clearance: Clearance) -> None:
        self.policy = policy
        self.clearance = clearance
        self._sees: dict[_Shape, bool] = {}
        self._hidden: dict[_Shape, frozenset[str]] = {}
        self._readable: dict[tuple[str, Openness, str, str], frozenset[str]] = {}
        # id(raw) -> (raw, copy or None); the raw record is kept so its id stays unique
        self._copies: dict[int, tuple[Record, Record | None]] = {}
        self.redactions: Counter[str] = Counter()
        self.selections: dict[str, frozenset[str]] = {}  # response path -> selected names
        # what left the gateway, for the access log: enterprises and persons whose
        # records were returned, and the openness labels returned per Type.field
        self.touched_codes: set[str] = set()
        self.touched_persons: set[str] = set()
        self.returned: dict[str, set[str]] = {}

    @classmethod
    def unrestricted(cls) -> CallerView:
        return cls(None, Clearance("admin"))

    # -- records -----------------------------------------------------------------------

    def sees(self, record: Record) -> bool:
        """May the caller know this record exists?"""
        if self.policy is None:
            return True
        shape = (record.record_type, record.openness, record.agency)
        found = self._sees.get(shape)
        if found is None:
            found = self._sees[shape] = self.policy.allowed(
                self.clearance, GRAPH_TYPES[record.record_type], record.openness, record.agency)
        return found

    def hidden(self, record: Record) -> frozenset[str]:
        """Python names of the fields of a visible record the caller may not read
        (data fields, links, record lists and derived fields alike)."""
        if self.policy is None:
            return frozenset()
        shape = (record.record_type, record.openness, record.agency)
        found = self._hidden.get(shape)
        if found is None:
            found = self._hidden[shape] = self._compute_hidden(shape)
        return found

    def field_visible(self, record: Record, field: str) -> bool:
        return self.sees(record) and field not in self.hidden(record)

    def seen(self, record: Record) -> Record | None:
        """The caller's copy of ``record``: None when it may not see the record, else
        the record with every value it may not read set to null (the record itself
        when nothing is hidden)."""
        if self.policy is None:
            return record
        entry = self._copies.get(id(record))
        if entry is not None and entry[0] is record:
            return entry[1]
        copy = self._copy(record) if self.sees(record) else None
        self._copies[id(record)] = (record, copy)
        if copy is not None and copy is not record:
            self._copies[id(copy)] = (copy, copy)
        return copy

    def seen_all(self, records: Iterable[Record]) -> list[Record]:
        """The caller's copies of the records it may see, in order."""
        if self.policy is None:
            return list(records)
        return [copy for copy in map(self.seen, records) if copy is not None]

    def seen_on(self, records: Iterable[Record], link: str) -> list[Record]:
        """Copies of the records found through a link column (``person_id``): the
        caller must also be able to read the link, or it learns what it links."""
        if self.policy is None:
            return list(records)
        return [copy for copy in map(self.seen, records)
                if copy is not None and link not in self.hidden(copy)]

    def readable_types(self, subject: Record | None, graph_type: str) -> frozenset[str]:
        """Record types whose list field the caller may read on ``subject`` (None: the
        subject is not visible, nothing is readable)."""
        lists = LIST_FIELDS[graph_type]
        if self.policy is None:
            return frozenset(lists)
        if subject is None or not self.sees(subject):
            return frozenset()
        key = (subject.record_type, subject.openness, subject.agency, graph_type)
        found = self._readable.get(key)
        if found is None:
            hidden = self.hidden(subject)
            found = self._readable[key] = frozenset(
                t for t, name in lists.items() if name not in hidden)
        return found

    def may_ever_read(self, graph_type: str, field: str, owner: str) -> bool:
        """Could the caller read ``graph_type.field`` on a record of ``owner`` at any
        openness label? False means a filter or sort on it must be refused."""
        if self.policy is None:
            return True
        level = self.policy.classes.fields(graph_type).get(field, Openness.OPEN)
        obj = f"{graph_type}.{to_camel_case(field)}"
        return any(self.policy.allowed(self.clearance, obj, stricter(label, level), owner)
                   and self.policy.allowed(self.clearance, graph_type, label, owner)
                   for label in Openness)

    def basis(self, derived: str) -> Basis:
        """What a derived value (``Enterprise.warning``, ``RestrictionDecision``) is
        computed from for this caller (derivation.yaml)."""
        if self.policy is None:
            return Basis.ALL
        return self.policy.derivations.basis(derived, self.clearance.role)

    # -- what was returned (the access log) ---------------------------------------------

    def report(self, where: str, records: Iterable[Record]) -> None:
        """Note the records returned at ``where`` (``Enterprise.penalties``): their
        subjects and openness labels."""
        labels = self.returned.get(where)
        if labels is None:
            labels = self.returned[where] = set()
        codes, persons = self.touched_codes, self.touched_persons
        for record in records:
            labels.add(record.openness.value)
            if record.credit_code:
                codes.add(record.credit_code)
            person = record.values.get("person_id")
            if isinstance(person, str) and person:
                persons.add(person)

    # -- the redaction report ------------------------------------------------------------

    def note(self, path: str, fields: frozenset[str]) -> None:
        """Count one redaction of each of ``fields`` (GraphQL names) under ``path``."""
        for name in fields:
            self.redactions[f"{path}.{name}"] += 1

    # -- internals -------------------------------------------------------------------

    def _copy(self, record: Record) -> Record:
        hidden = self.hidden(record)
        if not hidden:
            return record
        values: dict[str, Value] = {
            name: (None if name in hidden else value) for name, value in record.values.items()}
        risk = None if "risk_level" in hidden else record.risk_level
        return dataclasses.replace(record, values=values, risk_level=risk)

    def _compute_hidden(self, shape: _Shape) -> frozenset[str]:
        assert self.policy is not None
        record_type, openness, owner = shape
        return self.policy.hidden_fields(self.clearance, GRAPH_TYPES[record_type], openness,
                                         owner)


def withheld_by_agency(records: Sequence[Record], view: CallerView) -> dict[str, int]:
    """How many of ``records`` the caller may not see, per owner agency."""
    counts: Counter[str] = Counter(r.agency for r in records if view.seen(r) is None)
    return dict(sorted(counts.items()))
