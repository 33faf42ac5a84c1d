"""The record columns the warning and grade rules read - and no other.

A whole-registry warning or grade filter reads every risk record with only these
columns (``schema.registry_risk``): parsing the others for 170,000 records cost more
than the rules. A rule that reads another column of a record must name it here; the
differential test (``tests/schema/test_registry_risk.py``) compares filters computed
from such records with the warnings and grades computed from whole ones.
"""

from __future__ import annotations

from connectors.standard import RECORD_TYPES
from schema.rules.model import RuleSet

__all__ = ["RULE_COLUMNS", "riskless_counted"]

RULE_COLUMNS = frozenset({
    # each type's own date (schema.gather.PRIMARY_DATE), when a record ends, and when
    # a penalty's publicity period starts (schema.rules.lifecycle, .warnings, .grades)
    "decided_on", "listed_on", "inspected_on", "removed_on", "repaired_on", "published_on",
    # which publicity period a penalty has (schema.rules.lifecycle)
    "penalty_type", "amount",
    # whom a record is about besides an enterprise (a legal representative's warning)
    "person_id",
})


def riskless_counted(rules: RuleSet) -> frozenset[str]:
    """Record types whose records *without* a risk level some rule may count: those a
    grade condition names without asking for a risk level (a condition naming no type:
    every type). Warnings count only records with a risk level, so the records of the
    other types without one need not be read for a registry-wide filter (most
    inspections have none)."""
    found: set[str] = set()
    for rule in rules.grades.rules:
        for condition in rule.when:
            if condition.risk_at_least is None:
                if condition.record is None:
                    return frozenset(RECORD_TYPES)
                found.add(condition.record)
    return frozenset(found)
