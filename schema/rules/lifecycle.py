"""Which records count at a date: the record cycle, publicity periods, repair, removal.

A record dated after the date asked does not exist yet; a removal, repair or
withdrawal dated after it has not happened yet - so asking about a past date
reproduces what was in force then. ``withdrawn_on`` (an upheld objection) and
``disputed`` (an objection under review) come from the platform's overlay
(``schema.overlay``).
"""

from __future__ import annotations

import datetime as dt

from connectors.records import Record
from schema.gather import PRIMARY_DATE
from schema.rules.model import Lifecycle

__all__ = ["LISTINGS", "add_months", "counted", "exists_at", "in_current_cycle", "in_force"]

LISTINGS = frozenset({"anomaly", "serious_violation", "judgment_default"})


def _date(record: Record, column: str) -> dt.date | None:
    value = record.values.get(column)
    return value if isinstance(value, dt.date) else None


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - 28 always exists


def exists_at(record: Record, as_of: dt.date) -> bool:
    """The record was made by ``as_of`` (a record without a date is taken to exist)."""
    made = _date(record, PRIMARY_DATE[record.record_type])
    return made is None or made <= as_of


def in_current_cycle(record: Record, as_of: dt.date) -> bool:
    """Dated in the calendar year of ``as_of`` (信息记录周期); undated counts as current."""
    made = _date(record, PRIMARY_DATE[record.record_type])
    return made is None or made.year == as_of.year


def in_force(record: Record, as_of: dt.date) -> bool:
    """Made, not removed, repaired or withdrawn at ``as_of``."""
    if not exists_at(record, as_of):
        return False
    for column in ("removed_on", "repaired_on", "withdrawn_on"):
        ended = _date(record, column)
        if ended is not None and ended <= as_of:
            return False
    return True


def _published(record: Record, as_of: dt.date, rules: Lifecycle) -> bool:
    kind = record.values.get("penalty_type")
    if kind in rules.not_published:
        return False
    amount = record.values.get("amount")
    small_fine = (kind == "FINE" and isinstance(amount, int | float)
                  and amount <= rules.small_fine_max_yuan)
    months = rules.short_months if kind in rules.short_types or small_fine else rules.default_months
    start = _date(record, "published_on") or _date(record, "decided_on")
    return start is None or as_of < add_months(start, months)


def counted(record: Record, as_of: dt.date, rules: Lifecycle) -> bool:
    """Does the record count for warnings and grades at ``as_of``?"""
    if not in_force(record, as_of):
        return False
    if not rules.disputed_records_count:
        disputed = _date(record, "disputed")
        if disputed is not None and disputed <= as_of:
            return False  # under objection (异议) since that day
    if record.record_type in LISTINGS and rules.listings_in_force_count:
        return True
    if not in_current_cycle(record, as_of):
        return False
    if record.record_type == "penalty":
        return _published(record, as_of, rules)
    return True
