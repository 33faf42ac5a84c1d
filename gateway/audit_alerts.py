"""Over-reach detection (越权查询发现): flags in the access log for auditors.

``load_alert_rules`` reads ``policies/audit.yaml`` (problems located by file and
field, like the other rules files); ``find_alerts`` is a pure function of logged
entries and the rules. Four kinds: ``REFUSED`` (a request refused for what it asked),
``HIDDEN`` (a principal asking for values its clearance does not cover),
``VOLUME`` (a principal touching far more enterprises in a day than it usually
does) and ``OFF_HOURS`` (a non-public request outside office hours).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from gateway.platform_store.entry import AccessEntry

__all__ = ["Alert", "AlertRules", "AlertRulesError", "find_alerts", "load_alert_rules",
           "parse_alert_rules"]


class AlertRulesError(Exception):
    """audit.yaml is missing or invalid; the message names the file and field."""


@dataclass(frozen=True, slots=True)
class AlertRules:
    refused_outcomes: frozenset[str]
    refused_codes: frozenset[str]
    hidden_asked: bool
    volume_factor: float
    volume_minimum: int
    baseline_days: int
    timezone: dt.tzinfo
    office_start: dt.time
    office_end: dt.time
    weekdays: frozenset[int]


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # REFUSED | VOLUME | OFF_HOURS
    at: dt.datetime
    principal: str
    role: str
    agency: str
    detail: str
    entry_id: int | None  # the entry flagged (None for a day's volume)


def _time(text: Any, where: str, problems: list[str]) -> dt.time:
    try:
        return dt.time.fromisoformat(str(text))
    except ValueError:
        problems.append(f"{where}: must be a time like 08:00, got {text!r}")
        return dt.time(0)


def load_alert_rules(path: Path) -> AlertRules:
    """The rules of the file ``path`` (the policies folder's audit.yaml)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise AlertRulesError(f"{path}: missing or unreadable") from None
    return parse_alert_rules(text, str(path))


def parse_alert_rules(text: str | None, path: str) -> AlertRules:
    """The rules in ``text`` (audit.yaml's, None when there is none), messages naming
    it ``path`` (the file, or ``audit.yaml (platform database)``)."""
    if text is None:
        raise AlertRulesError(f"{path}: missing")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        raise AlertRulesError(f"{path}: is not valid YAML") from None
    if not isinstance(document, dict):
        raise AlertRulesError(f"{path}: must be a mapping")
    problems: list[str] = []
    refused = document.get("refused") or {}
    volume = document.get("volume") or {}
    hours = document.get("office_hours") or {}
    if not all(isinstance(part, dict) for part in (refused, volume, hours)):
        raise AlertRulesError(f"{path}: refused, volume and office_hours must be mappings")

    def number(section: Mapping[str, Any], name: str, where: str, default: float) -> float:
        value = section.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            problems.append(f"{path}: {where}.{name}: must be a number >= 0, got {value!r}")
            return default
        return float(value)

    try:
        zone: dt.tzinfo = ZoneInfo(str(hours.get("timezone", "Asia/Shanghai")))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{path}: office_hours.timezone: unknown time zone "
                        f"{hours.get('timezone')!r}")
        zone = dt.UTC
    weekdays = hours.get("weekdays", [1, 2, 3, 4, 5])
    if not isinstance(weekdays, list) or not all(
            isinstance(d, int) and 1 <= d <= 7 for d in weekdays):
        problems.append(f"{path}: office_hours.weekdays: must be ISO weekdays 1-7")
        weekdays = [1, 2, 3, 4, 5]
    rules = AlertRules(
        refused_outcomes=frozenset(str(o) for o in refused.get("outcomes", ["401", "403"])),
        refused_codes=frozenset(str(c) for c in refused.get("codes", [])),
        hidden_asked=bool(refused.get("hidden_asked", True)),
        volume_factor=number(volume, "factor", "volume", 3.0),
        volume_minimum=int(number(volume, "minimum", "volume", 200)),
        baseline_days=int(number(volume, "baseline_days", "volume", 30)),
        timezone=zone,
        office_start=_time(hours.get("start", "08:00"), f"{path}: office_hours.start", problems),
        office_end=_time(hours.get("end", "19:00"), f"{path}: office_hours.end", problems),
        weekdays=frozenset(weekdays),
    )
    if problems:
        raise AlertRulesError("invalid audit rules:\n  " + "\n  ".join(problems))
    return rules


def _refused(entry_id: int, entry: AccessEntry, rules: AlertRules) -> Alert | None:
    if entry.outcome in rules.refused_outcomes or entry.refusal_code in rules.refused_codes:
        detail = f"refused: {entry.outcome}" + (f" {entry.refusal_code}"
                                                 if entry.refusal_code else "")
        return Alert("REFUSED", entry.at, entry.principal, entry.role, entry.agency, detail,
                     entry_id)
    return None


def _hidden(entry_id: int, entry: AccessEntry, rules: AlertRules) -> Alert | None:
    """A principal asking for values its clearance does not cover (queries for data
    that is not open to it): its answer had fields redacted."""
    if not rules.hidden_asked or entry.role in ("", "public") or not entry.redactions:
        return None
    paths = ", ".join(sorted(entry.redactions)[:5])
    return Alert("HIDDEN", entry.at, entry.principal, entry.role, entry.agency,
                 f"asked for values not open to it: {paths}", entry_id)


def _off_hours(entry_id: int, entry: AccessEntry, rules: AlertRules) -> Alert | None:
    if entry.role in ("", "public"):
        return None
    local = entry.at.astimezone(rules.timezone)
    inside = (local.isoweekday() in rules.weekdays
              and rules.office_start <= local.time() < rules.office_end)
    if inside:
        return None
    return Alert("OFF_HOURS", entry.at, entry.principal, entry.role, entry.agency,
                 f"read at {local:%Y-%m-%d %H:%M} local time, outside office hours",
                 entry_id)


def _volumes(entries: Iterable[tuple[int, AccessEntry]], rules: AlertRules,
             days: tuple[dt.date, dt.date]) -> list[Alert]:
    """Per principal and local day: distinct enterprises touched, compared with the
    median of its previous ``baseline_days`` active days."""
    touched: dict[tuple[str, dt.date], set[str]] = defaultdict(set)
    who: dict[str, AccessEntry] = {}
    for _, entry in entries:
        if not entry.principal:
            continue
        day = entry.at.astimezone(rules.timezone).date()
        touched[(entry.principal, day)].update(entry.credit_codes)
        who.setdefault(entry.principal, entry)
    by_principal: dict[str, list[tuple[dt.date, int]]] = defaultdict(list)
    for (principal, day), codes in touched.items():
        by_principal[principal].append((day, len(codes)))
    alerts = []
    for principal, volumes in by_principal.items():
        volumes.sort()
        for index, (day, count) in enumerate(volumes):
            if not days[0] <= day <= days[1]:
                continue
            window = [c for d, c in volumes[:index]
                      if (day - d).days <= rules.baseline_days]
            usual = statistics.median(window) if window else 0.0
            if count >= rules.volume_minimum and count > rules.volume_factor * usual:
                entry = who[principal]
                at = dt.datetime.combine(day, dt.time(0), rules.timezone)
                alerts.append(Alert(
                    "VOLUME", at, principal, entry.role, entry.agency,
                    f"{count} enterprises on {day}; usually {usual:g} a day "
                    f"(median of {len(window)} earlier days)", None))
    return alerts


def find_alerts(entries: Sequence[tuple[int, AccessEntry]], rules: AlertRules,
                days: tuple[dt.date, dt.date]) -> list[Alert]:
    """Alerts for the entries (id, entry) of the local days ``days`` (inclusive); the
    entries should reach ``baseline_days`` further back for the volume baseline."""
    alerts: list[Alert] = []
    for entry_id, entry in entries:
        day = entry.at.astimezone(rules.timezone).date()
        if not days[0] <= day <= days[1]:
            continue
        for check in (_refused, _hidden, _off_hours):
            found = check(entry_id, entry, rules)
            if found is not None:
                alerts.append(found)
    alerts += _volumes(entries, rules, days)
    alerts.sort(key=lambda a: (a.at, a.kind, a.principal))
    return alerts
