"""The rules as values: what the policy files say, checked and typed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.standard import IdentityHashedEnum, RiskLevel
from schema.rules.inspections import DrawWeights
from schema.rules.statistics import StatisticsRules

__all__ = [
    "ActionRules",
    "Decision",
    "Grade",
    "GradeCondition",
    "GradeRule",
    "GradeRules",
    "Lifecycle",
    "RestrictionRule",
    "RuleSet",
    "WarningLevel",
    "WarningRules",
]


class WarningLevel(IdentityHashedEnum):
    """Warning levels (预警), ordered: NONE < YELLOW 黄 < ORANGE 橙 < RED 红."""

    NONE = "NONE"
    YELLOW = "YELLOW"
    ORANGE = "ORANGE"
    RED = "RED"

    @property
    def rank(self) -> int:
        return _WARNING_RANK[self]


_WARNING_RANK = {level: rank for rank, level in enumerate(WarningLevel)}


class Grade(IdentityHashedEnum):
    """Credit grades: A 守信, B 警示, C 失信, D 严重失信 (worse as the letter rises)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class Decision(IdentityHashedEnum):
    """A restriction decision, ordered by strictness; INDETERMINATE when data is missing."""

    ALLOWED = "ALLOWED"
    RESTRICTED = "RESTRICTED"
    PROHIBITED = "PROHIBITED"
    INDETERMINATE = "INDETERMINATE"

    @property
    def rank(self) -> int:
        return {"ALLOWED": 0, "RESTRICTED": 1, "PROHIBITED": 2, "INDETERMINATE": 1}[self.value]


RISK_RANK = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Which records count at a date (warnings.yaml, ``lifecycle``)."""

    listings_in_force_count: bool = True
    not_published: frozenset[str] = frozenset({"WARNING"})
    short_types: frozenset[str] = frozenset({"CRITICISM"})
    short_months: int = 3
    small_fine_max_yuan: float = 3000.0
    default_months: int = 36
    # does a record under objection (异议, not yet resolved) still count?
    disputed_records_count: bool = True


@dataclass(frozen=True, slots=True)
class WarningRules:
    lifecycle: Lifecycle
    yellow_levels: frozenset[RiskLevel]
    orange_levels: frozenset[RiskLevel]
    orange_min_records: int
    orange_window_days: int
    red_min_agencies: int
    person_propagation: bool


@dataclass(frozen=True, slots=True)
class GradeCondition:
    """One way to meet a grade: a record of ``record`` type (None: any) that ..."""

    record: str | None
    in_force: bool = False
    counted: bool = False
    risk_at_least: RiskLevel | None = None
    listed_days_at_least: int | None = None

    def describe(self) -> str:
        parts = [self.record or "any record"]
        if self.in_force:
            parts.append("in force")
        if self.counted:
            parts.append("counted")
        if self.risk_at_least is not None:
            parts.append(f"risk {self.risk_at_least.value} or higher")
        if self.listed_days_at_least is not None:
            parts.append(f"listed for {self.listed_days_at_least}+ days")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class GradeRule:
    grade: Grade
    name: str
    meaning: str
    when: tuple[GradeCondition, ...]


@dataclass(frozen=True, slots=True)
class GradeRules:
    """Grade rules tried in order (D, C, B); ``fallback`` (A) when none matches."""

    rules: tuple[GradeRule, ...]
    fallback: GradeRule


@dataclass(frozen=True, slots=True)
class RestrictionRule:
    """Applies when the grade is ``grade`` or the warning level is ``warning``."""

    decision: Decision
    measure: str
    grade: Grade | None = None
    warning: WarningLevel | None = None

    @property
    def name(self) -> str:
        return f"GRADE_{self.grade.value}" if self.grade else f"WARNING_{self.warning_value}"

    @property
    def warning_value(self) -> str:
        return self.warning.value if self.warning else ""


@dataclass(frozen=True, slots=True)
class ActionRules:
    code: str
    name: str
    rules: tuple[RestrictionRule, ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    warnings: WarningRules
    grades: GradeRules
    actions: Mapping[str, ActionRules]
    inspections: DrawWeights  # the double-random draw's risk weights (inspections.yaml)
    # who may ask for statistics and how small figures are protected (statistics.yaml)
    statistics: StatisticsRules = field(default_factory=StatisticsRules)
