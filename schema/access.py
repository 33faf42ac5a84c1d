"""Access decisions: which clearance may see which object at which openness.

``AccessPolicy`` answers "may this clearance see this object at this effective
openness from this owner?", memoized (Casbin costs ~0.3 ms a call; a memo hit
costs a dict lookup), and says on what each derived value is computed (its
*derivation basis*). ``AccessPolicy.view`` gives one request's ``CallerView``
(``schema.view``): the one place that decides what a caller sees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from strawberry.utils.str_converters import to_camel_case

from connectors.standard import IdentityHashedEnum, Openness

if TYPE_CHECKING:
    from schema.view import CallerView

__all__ = [
    "AUDITORS_ONLY",
    "DERIVED",
    "GRAPH_TYPES",
    "AccessPolicy",
    "Basis",
    "Clearance",
    "Derivations",
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
    """What a caller is cleared for: role, own agency and declared purpose ("" = none);
    ``credit_code``: the enterprise an ``enterprise`` caller is bound to ("" = none)."""

    role: str
    agency: str = ""
    purpose: str = ""
    credit_code: str = ""


def stricter(a: Openness, b: Openness) -> Openness:
    return a if a.rank <= b.rank else b


class Basis(IdentityHashedEnum):
    """What a derived value is computed from (derivation.yaml).

    VISIBLE: the caller's view - the records it may see, and in them only the values
    it may read; the value then reveals nothing else. ALL: every agency's records
    with every value - a deliberate decision of the policy (restriction decisions for
    approval systems, a platform warning for departments); evidence the caller may
    not read is then shown only as "N records from AGENCY not open to you".
    """

    VISIBLE = "VISIBLE"
    ALL = "ALL"


# Root fields only auditors are answered (the access log): not in the public schema.
AUDITORS_ONLY = frozenset({"accessLog", "accessAlerts"})

# The derived values whose basis the policy sets, and their default basis.
DERIVED: Mapping[str, Basis] = {
    "Enterprise.warning": Basis.VISIBLE,
    "Enterprise.creditGrade": Basis.VISIBLE,
    "Person.warning": Basis.VISIBLE,
    "RestrictionDecision": Basis.ALL,
    # the warning levels and grades a double-random draw weighs (schema.inspection_candidates)
    "InspectionDraw": Basis.ALL,
}


@dataclass(frozen=True, slots=True)
class Derivations:
    """Derivation basis per derived value and role (``default`` for unnamed roles)."""

    bases: Mapping[str, Mapping[str, Basis]] = field(default_factory=dict)

    def basis(self, derived: str, role: str) -> Basis:
        given = self.bases.get(derived, {})
        return given.get(role) or given.get("default") or DERIVED[derived]


@dataclass(frozen=True, slots=True)
class FieldClasses:
    """Class of every field: GraphQL type -> python field name -> openness."""

    classes: Mapping[str, Mapping[str, Openness]]

    def fields(self, graph_type: str) -> Mapping[str, Openness]:
        return self.classes.get(graph_type, {})

    def above_open(self) -> dict[str, frozenset[str]]:
        """GraphQL field names the public schema leaves out, per type: every field classed
        above OPEN, and the auditors' root fields (the access log)."""
        left_out = {
            graph_type: frozenset(
                to_camel_case(name) for name, level in fields.items() if level is not Openness.OPEN
            )
            for graph_type, fields in self.classes.items()
        }
        left_out["Query"] = AUDITORS_ONLY
        return left_out


Enforce = Callable[[str, str, str, str, str, str], bool]


class AccessPolicy:
    """Memoized decisions over a Casbin enforce function, the field classes and the
    derivation bases.

    Immutable once built: a policy change builds a new ``AccessPolicy`` (and so a
    new, empty memo).
    """

    def __init__(self, enforce: Enforce, classes: FieldClasses,
                 derivations: Derivations | None = None) -> None:
        self._enforce = enforce
        self.classes = classes
        self.derivations = derivations or Derivations()
        self._memo: dict[tuple[Clearance, str, Openness, str], bool] = {}
        self._hidden: dict[tuple[Clearance, str, Openness, str], frozenset[str]] = {}

    def allowed(self, clearance: Clearance, obj: str, openness: Openness, owner: str) -> bool:
        key = (clearance, obj, openness, owner)
        decision = self._memo.get(key)
        if decision is None:
            decision = bool(self._enforce(clearance.role, clearance.agency, clearance.purpose,
                                          obj, openness.value, owner))
            self._memo[key] = decision
        return decision

    def hidden_fields(self, clearance: Clearance, graph_type: str, openness: Openness,
                      owner: str) -> frozenset[str]:
        """Python names of the fields of a ``graph_type`` record with this openness and
        owner that the caller may not read (memoized: every request of a clearance meets
        the same few shapes; working them out per request was 3% of its CPU)."""
        key = (clearance, graph_type, openness, owner)
        found = self._hidden.get(key)
        if found is None:
            found = self._hidden[key] = frozenset(
                name for name, level in self.classes.fields(graph_type).items()
                if not self.allowed(clearance, f"{graph_type}.{to_camel_case(name)}",
                                    stricter(openness, level), owner))
        return found

    def view(self, clearance: Clearance) -> CallerView:
        from schema.view import CallerView

        return CallerView(self, clearance)
