"""Openness enforced where records enter the graph.

``AccessPolicy`` answers "may this clearance see this object at this effective
openness from this owner?", memoized (Casbin costs ~0.3 ms a call; a memo hit
costs a dict lookup). ``AccessView`` is one request's use of it: which records
exist for the caller (a record it may not see is absent - from lists, counts,
filters and links) and which fields of a visible record are hidden (null, and
reported once per path in the response's extensions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from strawberry.utils.str_converters import to_camel_case

from connectors.records import Record as SourceRecord
from connectors.standard import Openness

__all__ = [
    "GRAPH_TYPES",
    "AccessPolicy",
    "AccessView",
    "Clearance",
    "FieldClasses",
    "stricter",
]

# Record type of the standard -> GraphQL type name (the object of policy lines).
GRAPH_TYPES = {
    "enterprise": "Enterprise",
    "person": "Person",
    "licence": "Licence",
    "penalty": "Penalty",
    "anomaly": "Anomaly",
    "serious_violation": "SeriousViolation",
    "judgment_default": "JudgmentDefault",
    "inspection": "Inspection",
}


@dataclass(frozen=True, slots=True)
class Clearance:
    """What a caller is cleared for: role, own agency and declared purpose ("" = none)."""

    role: str
    agency: str = ""
    purpose: str = ""


def stricter(a: Openness, b: Openness) -> Openness:
    return a if a.rank <= b.rank else b


@dataclass(frozen=True, slots=True)
class FieldClasses:
    """Class of every field: GraphQL type -> python field name -> openness."""

    classes: Mapping[str, Mapping[str, Openness]]

    def fields(self, graph_type: str) -> Mapping[str, Openness]:
        return self.classes.get(graph_type, {})

    def above_open(self) -> dict[str, frozenset[str]]:
        """GraphQL field names classed above OPEN, per type (hidden from the public schema)."""
        return {
            graph_type: frozenset(
                to_camel_case(name) for name, level in fields.items() if level is not Openness.OPEN
            )
            for graph_type, fields in self.classes.items()
        }


Enforce = Callable[[str, str, str, str, str, str], bool]


class AccessPolicy:
    """Memoized decisions over a Casbin enforce function and the field classes.

    Immutable once built: a policy change builds a new ``AccessPolicy`` (and so a
    new, empty memo).
    """

    def __init__(self, enforce: Enforce, classes: FieldClasses) -> None:
        self._enforce = enforce
        self.classes = classes
        self._memo: dict[tuple[Clearance, str, Openness, str], bool] = {}

    def allowed(self, clearance: Clearance, obj: str, openness: Openness, owner: str) -> bool:
        key = (clearance, obj, openness, owner)
        decision = self._memo.get(key)
        if decision is None:
            decision = bool(self._enforce(clearance.role, clearance.agency, clearance.purpose,
                                          obj, openness.value, owner))
            self._memo[key] = decision
        return decision

    def view(self, clearance: Clearance) -> AccessView:
        return AccessView(self, clearance)


_Shape = tuple[str, Openness, str]  # record type, record openness, owner agency


class AccessView:
    """One request's access. ``policy=None`` means authorization is off (benchmarks)."""

    def __init__(self, policy: AccessPolicy | None, clearance: Clearance) -> None:
        self.policy = policy
        self.clearance = clearance
        self._sees: dict[_Shape, bool] = {}
        self._hidden: dict[_Shape, frozenset[str]] = {}
        self.redactions: Counter[str] = Counter()
        self.selections: dict[str, frozenset[str]] = {}  # response path -> selected names

    @classmethod
    def unrestricted(cls) -> AccessView:
        return cls(None, Clearance("admin"))

    def sees(self, record: SourceRecord) -> bool:
        """May the caller know this record exists?"""
        if self.policy is None:
            return True
        shape = (record.record_type, record.openness, record.agency)
        found = self._sees.get(shape)
        if found is None:
            graph_type = GRAPH_TYPES[record.record_type]
            found = self._sees[shape] = self.policy.allowed(
                self.clearance, graph_type, record.openness, record.agency
            )
        return found

    def hidden(self, record: SourceRecord) -> frozenset[str]:
        """Python names of the fields of a visible record the caller may not see."""
        if self.policy is None:
            return frozenset()
        shape = (record.record_type, record.openness, record.agency)
        found = self._hidden.get(shape)
        if found is None:
            found = self._hidden[shape] = self._compute_hidden(shape)
        return found

    def field_visible(self, record: SourceRecord, field: str) -> bool:
        return self.sees(record) and field not in self.hidden(record)

    def note(self, path: str, fields: frozenset[str]) -> None:
        """Count one redaction of each of ``fields`` (GraphQL names) under ``path``."""
        for name in fields:
            self.redactions[f"{path}.{name}"] += 1

    def _compute_hidden(self, shape: _Shape) -> frozenset[str]:
        assert self.policy is not None
        record_type, openness, owner = shape
        graph_type = GRAPH_TYPES[record_type]
        hidden = []
        for name, level in self.policy.classes.fields(graph_type).items():
            effective = stricter(openness, level)
            obj = f"{graph_type}.{to_camel_case(name)}"
            if not self.policy.allowed(self.clearance, obj, effective, owner):
                hidden.append(name)
        return frozenset(hidden)
