"""The record columns the warning and grade rules read - and no other.

A whole-registry warning or grade filter reads every risk record with only these
columns (``schema.registry_risk``): parsing the others for 170,000 records cost more
than the rules. A rule that reads another column of a record must name it here; the
differential test (``tests/schema/test_registry_risk.py``) compares filters computed
from such records with the warnings and grades computed from whole ones.
"""

from __future__ import annotations

__all__ = ["RULE_COLUMNS"]

RULE_COLUMNS = frozenset({
    # each type's own date (schema.gather.PRIMARY_DATE), when a record ends, and when
    # a penalty's publicity period starts (schema.rules.lifecycle, .warnings, .grades)
    "decided_on", "listed_on", "inspected_on", "removed_on", "repaired_on", "published_on",
    # which publicity period a penalty has (schema.rules.lifecycle)
    "penalty_type", "amount",
    # whom a record is about besides an enterprise (a legal representative's warning)
    "person_id",
})
