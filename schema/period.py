"""The record cycle as a list argument: current records, history, or both."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence

import strawberry

from connectors.records import Record
from schema.rules.lifecycle import LISTINGS, exists_at, in_current_cycle, in_force

__all__ = ["RecordPeriod", "in_period", "is_current"]


@strawberry.enum(description=(
    "Which records a list returns. The record cycle is the calendar year (信息记录周期); "
    "older records are history (历史记录). CURRENT: records of this year, listings still "
    "in force and licences still valid (the default). HISTORY: the others. ALL: both."))
class RecordPeriod(enum.Enum):
    CURRENT = "CURRENT"
    HISTORY = "HISTORY"
    ALL = "ALL"


def is_current(record: Record, today: dt.date) -> bool:
    """Is the record part of the current cycle on ``today``?"""
    if record.record_type == "licence":
        valid_to = record.values.get("valid_to")
        return not isinstance(valid_to, dt.date) or valid_to >= today
    if record.record_type in LISTINGS and in_force(record, today):
        return True
    return exists_at(record, today) and in_current_cycle(record, today)


def in_period(records: Sequence[Record], period: RecordPeriod, today: dt.date) -> list[Record]:
    if period is RecordPeriod.ALL:
        return list(records)
    want = period is RecordPeriod.CURRENT
    return [r for r in records if is_current(r, today) is want]
