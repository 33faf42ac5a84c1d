"""Normalised records and the rules that turn a source row into one.

A row is checked against the collection standard. Whatever is wrong with it is
reported as a ``RowProblem``; the row is then kept in a fail-closed form (unknown
openness -> NOT_OPEN, unparseable date -> null) or, when it cannot be attached to
a subject at all (no record id, bad credit code, neither a credit code nor - on a
penalty or judgment default about a responsible person - a person id), left out of
the graph - but always reported, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.credit_code import credit_code_problem
from connectors.standard import (
    ENUM_VALUES,
    OPENNESS_ALIASES,
    RISK_ALIASES,
    ColumnKind,
    Openness,
    RecordTypeSpec,
    RiskLevel,
)

__all__ = ["Record", "RowProblem", "Value", "normalise_row"]

Value = str | float | dt.date | None


@dataclass(frozen=True, slots=True)
class Record:
    """One record as the owner agency labelled it, with its columns parsed.

    ``credit_code`` is ``None`` for a person, and for a penalty or judgment default
    about a responsible person only (then ``person_id`` is set).
    """

    record_type: str
    agency: str
    record_id: str
    credit_code: str | None
    openness: Openness
    risk_level: RiskLevel | None
    values: Mapping[str, Value]

    @property
    def person_id(self) -> str | None:
        value = self.values.get("person_id")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that breaks the collection standard: who, what, which record and why."""

    agency: str
    record_type: str
    record_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.agency} {self.record_type} {self.record_id}: {self.reason}"


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


def _parse_date(raw: Any) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    return dt.date.fromisoformat(str(raw).strip())


def _parse_number(raw: Any) -> float:
    if isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
        return float(raw)
    return float(Decimal(str(raw).strip().replace(",", "")))


def _parse_label(
    raw: Any, aliases: Mapping[str, str], known: frozenset[str]
) -> tuple[str | None, bool]:
    """(value, ok): the canonical label, or None; ok is False when raw was unknown."""
    text = _text(raw)
    if text is None:
        return None, True
    canonical = aliases.get(text, text.upper())
    return (canonical, True) if canonical in known else (None, False)


_OPENNESS_NAMES = frozenset(level.value for level in Openness)
_RISK_NAMES = frozenset(level.value for level in RiskLevel)
# canonical name -> member, looked up directly (calling an Enum costs more)
_OPENNESS_BY_NAME = {level.value: level for level in Openness}
_RISK_BY_NAME = {level.value: level for level in RiskLevel}
_TEXT_KINDS = frozenset({ColumnKind.TEXT, ColumnKind.CREDIT_CODE})


def normalise_row(
    agency: str,
    spec: RecordTypeSpec,
    row: Mapping[str, Any],
    report: Callable[[RowProblem], None],
) -> Record | None:
    """Turn a row (standard column names) into a ``Record``, reporting each problem."""
    # Runs once per source row (170,000 for a registry-wide warning filter): plain
    # code, no closure or Enum call per row.
    record_id = _text(row.get("record_id"))
    if record_id is None:
        report(RowProblem(agency, spec.name, "?", "missing record_id; row left out"))
        return None
    name = spec.name

    credit_code: str | None = None
    if spec.key == "credit_code":
        credit_code = _text(row.get("credit_code"))
        if credit_code is not None:
            credit_code = credit_code.upper()
            why = credit_code_problem(credit_code)
            if why is not None:
                report(RowProblem(agency, name, record_id,
                                  f"invalid credit_code {credit_code!r} ({why}); row left out"))
                return None
        elif not spec.person_column:
            report(RowProblem(agency, name, record_id, "missing credit_code; row left out"))
            return None
        elif _text(row.get("person_id")) is None:
            # A record about a responsible person needs no enterprise: it reaches every
            # enterprise the person is responsible for. One about nobody cannot be placed.
            report(RowProblem(agency, name, record_id,
                              "missing credit_code and person_id; row left out"))
            return None

    raw = row.get("openness")
    openness = _OPENNESS_BY_NAME.get(raw) if raw.__class__ is str else None
    if openness is None:
        openness_name, ok = _parse_label(raw, OPENNESS_ALIASES, _OPENNESS_NAMES)
        if openness_name is None:
            shown = _text(raw)
            report(RowProblem(agency, name, record_id,
                              f"unknown openness {shown!r}; treated as NOT_OPEN" if not ok
                              else "missing openness; treated as NOT_OPEN"))
            openness_name = Openness.NOT_OPEN.value
        openness = _OPENNESS_BY_NAME[openness_name]
    raw = row.get("risk_level")
    risk = _RISK_BY_NAME.get(raw) if raw.__class__ is str else None
    if risk is None:
        risk_name, ok = _parse_label(raw, RISK_ALIASES, _RISK_NAMES)
        if not ok:
            report(RowProblem(agency, name, record_id,
                              f"unknown risk_level {_text(raw)!r}; treated as HIGH"))
            risk_name = RiskLevel.HIGH.value
        risk = _RISK_BY_NAME[risk_name] if risk_name else None

    values: dict[str, Value] = {}
    for column, kind in spec.columns:
        raw = row.get(column)
        # _text, inline: this runs for every value of every row
        text = None if raw is None else (raw if raw.__class__ is str else str(raw)).strip() or None
        if text is None or kind in _TEXT_KINDS:
            values[column] = text
            continue
        try:
            if kind is ColumnKind.DATE:
                values[column] = (dt.date.fromisoformat(text) if raw.__class__ is str
                                  else _parse_date(raw))
            elif kind is ColumnKind.NUMBER:
                values[column] = _parse_number(raw)
            else:
                label, ok = _parse_label(raw, {}, ENUM_VALUES[(name, column)])
                if not ok:
                    raise ValueError(raw)
                values[column] = label
        except (ValueError, InvalidOperation):
            report(RowProblem(agency, name, record_id,
                              f"bad {kind.value} in {column}: {text!r}; shown as null"))
            values[column] = None

    return Record(
        record_type=name,
        agency=agency,
        record_id=record_id,
        credit_code=credit_code,
        openness=openness,
        risk_level=risk,
        values=values,
    )
