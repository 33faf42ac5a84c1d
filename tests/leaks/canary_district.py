"""A demo district with canaries planted in everything a caller might not see.

Every text value of a NOT_OPEN or CONDITIONAL record becomes a unique canary
``CNRY-<agency>-<NO|CO>-<n>``; its dates become 1899-12-31 and its numbers 13.37.
Every value of a field classed above OPEN (policies/fields.yaml) becomes
``CNRY-<agency>-<FN|FC>-<n>``. Person ids, which link tables, become
``CNRY-PID-<n>`` everywhere. A response that contains a canary the caller's
clearance does not cover is a leak. ``facts["canaries"]`` says where each canary
was planted - (agency, record type, column, the record's openness label) - so a
test can ask the policy whether a clearance may read it.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from typing import Any

from connectors.standard import ColumnKind, Openness, spec_for
from gateway.demo.generate import District
from schema.access import GRAPH_TYPES, FieldClasses

__all__ = ["SENTINEL_DATE", "SENTINEL_NUMBER", "plant_canaries"]

SENTINEL_DATE = "1899-12-31"
SENTINEL_NUMBER = "13.37"
_LEVEL_TAG = {"NOT_OPEN": "NO", "CONDITIONAL": "CO"}
_KEYS = {"credit_code", "openness", "risk_level", "person_id", "legal_rep_id"}


def _label(value: str) -> str:
    return {"完全开放": "OPEN", "有条件开放": "CONDITIONAL"}.get(value, value)


def plant_canaries(district: District, classes: FieldClasses) -> tuple[District, dict[str, Any]]:
    """The district with canaries, and facts the tests need (hidden codes, person ids)."""
    counter: Iterator[int] = itertools.count()
    person_ids: dict[str, str] = {}

    def person(original: str) -> str:
        if original not in person_ids:
            person_ids[original] = f"CNRY-PID-{len(person_ids)}"
        return person_ids[original]

    hidden_codes: set[str] = set()
    where: dict[str, tuple[str, str, str, str]] = {}

    def canary(agency: str, tag: str, record_type: str, column: str, level: str) -> str:
        planted = f"CNRY-{agency}-{tag}-{next(counter)}"
        where[planted] = (agency, record_type, column, level)
        return planted
    rows: dict[str, dict[str, list[dict[str, str]]]] = {}
    for agency, types in district.rows.items():
        rows[agency] = {}
        for record_type, records in types.items():
            spec = spec_for(record_type)
            kinds = dict(spec.columns)
            field_classes = classes.fields(GRAPH_TYPES[record_type])
            planted = []
            for row in records:
                row = dict(row)
                level = _label(row.get("openness", ""))
                for column in ("person_id", "legal_rep_id"):
                    if row.get(column):
                        row[column] = person(row[column])
                if level != "OPEN":
                    tag = _LEVEL_TAG.get(level, "NO")
                    if record_type == "enterprise":
                        hidden_codes.add(row["credit_code"])
                    row["record_id"] = canary(agency, tag, record_type, "record_id", level)
                    for column, kind in kinds.items():
                        if column in _KEYS or not row.get(column):
                            continue
                        if kind is ColumnKind.TEXT:
                            row[column] = canary(agency, tag, record_type, column, level)
                        elif kind is ColumnKind.DATE:
                            row[column] = SENTINEL_DATE
                        elif kind is ColumnKind.NUMBER:
                            row[column] = SENTINEL_NUMBER
                for column, field_class in field_classes.items():
                    if field_class is Openness.OPEN or column in _KEYS or not row.get(column):
                        continue
                    if kinds.get(column) is ColumnKind.TEXT:
                        tag = "FN" if field_class is Openness.NOT_OPEN else "FC"
                        row[column] = canary(agency, tag, record_type, column, level)
                planted.append(row)
            rows[agency][record_type] = planted
    facts = {"hidden_codes": hidden_codes, "person_ids": sorted(person_ids.values()),
             "canaries": where}
    return dataclasses.replace(district, rows=rows), facts
