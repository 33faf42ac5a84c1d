"""Restriction decisions (联合惩戒): the catalogue's rules for an action, applied to a
grade and a warning level; never ALLOWED when a needed agency is missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schema.rules.grades import GradeResult
from schema.rules.model import ActionRules, Decision
from schema.rules.warnings import WarningResult

__all__ = ["DecisionReason", "DecisionResult", "decide"]


@dataclass(frozen=True, slots=True)
class DecisionReason:
    rule: str
    measure: str
    agencies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DecisionResult:
    decision: Decision
    reasons: tuple[DecisionReason, ...]


def decide(action: ActionRules, grade: GradeResult, warning: WarningResult,
           missing: Sequence[str]) -> DecisionResult:
    """The strictest matching rule's decision. With agencies missing, a decision the
    available data already makes PROHIBITED stays so (more records cannot lower it);
    anything else is INDETERMINATE."""
    decision = Decision.ALLOWED
    reasons = []
    for rule in action.rules:
        if rule.grade is not None and rule.grade is grade.grade:
            agencies = grade.agencies
        elif rule.warning is not None and rule.warning is warning.level:
            agencies = warning.agencies
        else:
            continue
        reasons.append(DecisionReason(rule.name, rule.measure, agencies))
        if rule.decision.rank > decision.rank:
            decision = rule.decision
    if missing:
        reasons.append(DecisionReason(
            "SOURCES_MISSING",
            "Agencies whose records this decision needs could not be read: "
            f"{', '.join(missing)}. Decide again when they are back.",
            tuple(missing),
        ))
        if decision is not Decision.PROHIBITED:
            decision = Decision.INDETERMINATE
    return DecisionResult(decision, tuple(reasons))
