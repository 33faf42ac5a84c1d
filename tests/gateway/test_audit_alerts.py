"""Over-reach detection: refused requests, unusual volume, reads outside office hours."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from gateway.audit_alerts import AlertRulesError, find_alerts, load_alert_rules
from gateway.platform_store.entry import AccessEntry
from gateway.policy_files import DEFAULT_POLICY_DIR

RULES = load_alert_rules(DEFAULT_POLICY_DIR / "audit.yaml")
CST = dt.timezone(dt.timedelta(hours=8))


def entry(at: dt.datetime, *, principal: str = "tax-app", role: str = "department",
          outcome: str = "ok", code: str = "", codes: tuple[str, ...] = ()) -> AccessEntry:
    return AccessEntry(at=at, principal=principal, role=role, agency="TAX", purpose="INSPECTION",
                       client="127.0.0.1", request_id="r", operation="", query_hash="",
                       variables_hash="", credit_codes=codes, outcome=outcome,
                       refusal_code=code)


MONDAY_10 = dt.datetime(2026, 11, 30, 10, 0, tzinfo=CST)
DAYS = (dt.date(2026, 11, 30), dt.date(2026, 11, 30))


def test_refused_requests_are_flagged() -> None:
    entries = [(1, entry(MONDAY_10, outcome="403", code="PURPOSE_NOT_ALLOWED")),
               (2, entry(MONDAY_10, outcome="refused", code="FILTER_NOT_ALLOWED")),
               (3, entry(MONDAY_10, outcome="refused", code="QUERY_TOO_COSTLY")),
               (4, entry(MONDAY_10))]
    found = find_alerts(entries, RULES, DAYS)
    assert [(a.kind, a.entry_id) for a in found] == [("REFUSED", 1), ("REFUSED", 2)]


def test_reads_outside_office_hours_are_flagged_for_principals_only() -> None:
    night = MONDAY_10.replace(hour=23)
    sunday = MONDAY_10 - dt.timedelta(days=1)
    entries = [(1, entry(night)), (2, entry(sunday)), (3, entry(MONDAY_10)),
               (4, entry(night, principal="", role="public"))]
    found = find_alerts(entries, RULES, (sunday.date(), MONDAY_10.date()))
    assert [(a.kind, a.entry_id) for a in found] == [("OFF_HOURS", 2), ("OFF_HOURS", 1)]


def test_a_day_far_above_the_usual_volume_is_flagged() -> None:
    entries = []
    for back in range(1, 11):  # ten ordinary days of 100 enterprises
        day = MONDAY_10 - dt.timedelta(days=back)
        entries.append((back, entry(day, codes=tuple(f"C{back}-{i}" for i in range(100)))))
    big = tuple(f"X{i}" for i in range(400))
    entries.append((99, entry(MONDAY_10, codes=big)))
    found = [a for a in find_alerts(entries, RULES, DAYS) if a.kind == "VOLUME"]
    assert len(found) == 1 and "400 enterprises" in found[0].detail
    usual = [(99, entry(MONDAY_10, codes=big[:250])), *entries[:-1]]
    assert not [a for a in find_alerts(usual, RULES, DAYS) if a.kind == "VOLUME"]


def test_a_bad_rules_file_names_the_field(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    path = folder / "audit.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("factor: 3.0", "factor: many")
                    .replace("Asia/Shanghai", "Mars/Olympus"), encoding="utf-8")
    with pytest.raises(AlertRulesError) as raised:
        load_alert_rules(path)
    assert "volume.factor" in str(raised.value) and "office_hours.timezone" in str(raised.value)


def test_asking_for_values_not_open_to_the_caller_is_flagged() -> None:
    asked = AccessEntry(at=MONDAY_10, principal="tax-app", role="department", agency="TAX",
                        purpose="", client="127.0.0.1", request_id="r", operation="",
                        query_hash="", variables_hash="",
                        redactions={"enterprise.judgmentDefaults.obligation": 1})
    public = AccessEntry(at=MONDAY_10, principal="", role="public", agency="", purpose="",
                         client="127.0.0.1", request_id="r", operation="", query_hash="",
                         variables_hash="", redactions={"enterprise.legalRepId": 1})
    found = find_alerts([(1, asked), (2, public)], RULES, DAYS)
    assert [(a.kind, a.entry_id) for a in found] == [("HIDDEN", 1)]
    assert "judgmentDefaults.obligation" in found[0].detail


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Asia/Shanghai", "Pacific/Pago_Pago"])
def test_the_default_window_ends_today_in_the_rules_time_zone(zone: str) -> None:
    """``accessAlerts`` without ``until`` ends on the reader's today: the day in the
    rules' time zone (UTC+14 to UTC-11 here), whatever the machine's zone - after 16:00
    UTC the machine's date is yesterday in Shanghai."""
    import dataclasses
    from zoneinfo import ZoneInfo

    from gateway.audit_reader import AuditReader

    rules = dataclasses.replace(RULES, timezone=ZoneInfo(zone))
    reader = AuditReader(engine=None, rules=rules)  # type: ignore[arg-type]
    before = dt.datetime.now(ZoneInfo(zone)).date()
    today = reader.today()
    assert today in (before, dt.datetime.now(ZoneInfo(zone)).date())
