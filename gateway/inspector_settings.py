"""The inspector roster (执法检查人员名录) of the double-random inspections, validated.

The roster is the ``inspectors:`` key of the configuration, rows imported into the
platform database with ``gateway inspectors import FILE.csv``, or both::

    inspectors:
      - id: SAMR-001
        name: 王磊
        agency: SAMR                       # the agency whose plans may draw them
        unit: 北京市西城区市场监督管理局     # their office: never sent to an enterprise
                                           # that office registered (回避)
        avoid: [91110102MA0000001N]        # credit codes they must never visit (回避)

``unit`` is compared with the registry's ``registering_agency`` of each enterprise
(the same text), and ``avoid`` holds credit codes. One checker serves both the
configuration and the CSV import, so a roster entry means the same wherever it is
kept; every problem names the entry (``inspectors[3] (SAMR-004): unit: required``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.credit_code import credit_code_problem

__all__ = ["RosterEntry", "check_entry", "duplicate_ids", "parse_inspectors"]

_FIELDS = ("id", "name", "agency", "unit", "avoid")
_MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One inspector as the roster keeps it."""

    id: str
    name: str
    agency: str
    unit: str
    avoid: tuple[str, ...] = ()


def check_entry(raw: Any, where: str, agencies: Collection[str],
                problems: list[str]) -> RosterEntry | None:
    """One roster entry (a mapping of ``_FIELDS``; ``avoid`` a list of credit codes)
    checked against the configured ``agencies``; problems are appended, located by
    ``where`` and the entry's id. None when it has any."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping with {', '.join(_FIELDS)}")
        return None
    before = len(problems)
    ident = raw.get("id")
    shown = ident if isinstance(ident, str) and ident.strip() else "?"
    where = f"{where} ({shown})"
    for key in raw:
        if key not in _FIELDS:
            problems.append(f"{where}: unknown field {key!r} (known: {', '.join(_FIELDS)})")
    texts: dict[str, str] = {}
    for key in ("id", "name", "agency", "unit"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: {key}: required, a non-empty text")
        elif len(value.strip()) > _MAX_TEXT:
            problems.append(f"{where}: {key}: at most {_MAX_TEXT} characters")
        else:
            texts[key] = value.strip()
    agency = texts.get("agency")
    if agency is not None and agency not in agencies:
        problems.append(f"{where}: agency: {agency!r} is not an agency of this configuration "
                        f"(agencies: {', '.join(sorted(agencies))})")
    avoid = raw.get("avoid") or []
    if not isinstance(avoid, list | tuple):
        problems.append(f"{where}: avoid: must be a list of credit codes")
        avoid = []
    codes: list[str] = []
    for code in avoid:
        text = code.strip().upper() if isinstance(code, str) else ""
        problem = credit_code_problem(text) if text else "not a text"
        if problem is not None:
            problems.append(f"{where}: avoid: {code!r} is not a valid credit code "
                            f"(统一社会信用代码): {problem}")
        else:
            codes.append(text)
    if len(problems) > before:
        return None
    return RosterEntry(texts["id"], texts["name"], texts["agency"], texts["unit"],
                       tuple(sorted(set(codes))))


def duplicate_ids(entries: Sequence[RosterEntry]) -> list[str]:
    """Ids held by more than one entry, sorted."""
    ids = [e.id for e in entries]
    return sorted({i for i in ids if ids.count(i) > 1})


def parse_inspectors(raw: Any, where: str, agencies: Collection[str],
                     problems: list[str]) -> tuple[RosterEntry, ...]:
    """Validate the ``inspectors:`` list; problems are appended, located by ``where``
    (e.g. ``gateway.yaml: inspectors``)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{where}: must be a list of inspectors "
                        f"({{id, name, agency, unit, avoid}})")
        return ()
    entries = [entry for index, item in enumerate(raw)
               if (entry := check_entry(item, f"{where}[{index}]", agencies, problems))
               is not None]
    for duplicate in duplicate_ids(entries):
        problems.append(f"{where}: inspector id {duplicate} is used more than once")
    return tuple(entries)
