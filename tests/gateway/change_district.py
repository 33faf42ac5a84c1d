"""A district of agencies in SQLite files whose rows change with their ``updated_at``,
a gateway over them with the change feed on, and subscribers: what the subscription
tests (``test_subscriptions.py``, ``test_ws_endpoint.py``) share."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ws_client import Subscriber

from conftest import ServerThread, h
from connectors.credit_code import with_check_char
from gateway.app import AppOptions, create_app
from gateway.config import load_config


class Served(Protocol):
    """A running gateway: an in-process server or a ``gateway serve`` process."""

    url: str


WARNINGS = """subscription($f: WarningChangeFilter) { warningChanges(filter: $f) {
  creditCode name from to at derivedFrom
  reasons { rule level agencies { code } evidence { recordId agency { code } openness }
            withheld { count } } } }"""
REGISTRATIONS = """subscription { registrations {
  creditCode name industry businessScope licences at } }"""

KEYS = {  # principal -> (key, role, agency, purposes)
    "admin": ("sub-admin-key", "admin", None, []),
    "samr": ("sub-samr-key", "department", "SAMR", ["INSPECTION"]),
    "epb": ("sub-epb-key", "department", "EPB", ["INSPECTION"]),
    "fda": ("sub-fda-key", "department", "FDA", ["INSPECTION"]),
}
# how each subscriber connects: its connection_init payload
PAYLOADS: dict[str, dict[str, str]] = {
    "public": {},
    "admin": {"Authorization": "Bearer sub-admin-key"},
    "samr": {"Authorization": "Bearer sub-samr-key", "X-Purpose": "INSPECTION"},
    "epb": {"Authorization": "Bearer sub-epb-key"},  # no purpose: no CONDITIONAL of others
    "fda": {"Authorization": "Bearer sub-fda-key", "X-Purpose": "INSPECTION"},
}
_SERIAL = itertools.count(1)


def code(n: int) -> str:
    return with_check_char(f"91110102MA{n:07d}")


def now_stamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class District:
    """The agencies' SQLite files: the registry (REG), SAMR, EPB and FDA."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.registry = folder / "registry.db"
        self.agencies = {name: folder / f"{name.lower()}.db" for name in ("SAMR", "EPB", "FDA")}
        enterprise_columns = ("record_id", "credit_code", "openness", "risk_level", "name",
                              "entity_type", "legal_rep_id", "legal_rep_name",
                              "registered_capital", "established_on", "status", "address",
                              "district_code", "industry", "registering_agency",
                              "business_scope", "updated_at")
        with sqlite3.connect(self.registry) as db:
            db.execute(f"CREATE TABLE enterprise ({', '.join(enterprise_columns)})")
            db.execute("CREATE TABLE person (record_id, person_id, name, id_number, openness, "
                       "risk_level, updated_at)")
        for path in self.agencies.values():
            with sqlite3.connect(path) as db:
                db.execute("CREATE TABLE penalty (record_id, credit_code, openness, risk_level, "
                           "person_id, decision_no, violation_type, penalty_type, content, "
                           "amount, decided_on, published_on, repaired_on, updated_at)")
                db.execute("CREATE TABLE licence (record_id, credit_code, openness, risk_level, "
                           "licence_no, licence_name, content, valid_from, valid_to, status, "
                           "updated_at)")
        for agency in self.agencies:  # each table has a change time to start from
            self.penalty(agency, code(500), risk="LOW")  # not in the registry: no warning

    def register(self, credit_code: str, name: str, *, openness: str = "OPEN",
                 district: str = "110102", industry: str = "软件和信息技术服务业",
                 scope: str = "软件开发") -> None:
        with sqlite3.connect(self.registry) as db:
            db.execute(
                "INSERT INTO enterprise VALUES (?, ?, ?, NULL, ?, '有限责任公司', NULL, NULL, "
                "'100', '2026-01-05', 'ACTIVE', '北京市西城区', ?, ?, '西城区市场监管局', ?, ?)",
                (f"E-{credit_code}", credit_code, openness, name, district, industry, scope,
                 now_stamp()))

    def penalty(self, agency: str, credit_code: str, *, openness: str = "OPEN",
                risk: str | None = "HIGH") -> str:
        """A new current penalty of ``agency`` (its risk level decides the warning)."""
        record_id = f"{agency}-P{next(_SERIAL)}"
        today = dt.date.today().isoformat()
        with sqlite3.connect(self.agencies[agency]) as db:
            db.execute("INSERT INTO penalty VALUES (?, ?, ?, ?, NULL, ?, '违规', 'FINE', '罚款', "
                       "'50000', ?, ?, NULL, ?)",
                       (record_id, credit_code, openness, risk, f"罚〔2026〕{record_id}号",
                        today, today, now_stamp()))
        return record_id

    def set_risk(self, agency: str, record_id: str, risk: str | None) -> None:
        with sqlite3.connect(self.agencies[agency]) as db:
            db.execute("UPDATE penalty SET risk_level = ?, updated_at = ? WHERE record_id = ?",
                       (risk, now_stamp(), record_id))

    def config(self, folder: Path, audit_fail_after_s: float = 5.0) -> Path:
        """A gateway configuration over these files, its platform database in ``folder``."""
        folder.mkdir(exist_ok=True)
        principals = "".join(
            f"""  - id: {name}
    key_sha256: "{h(key)}"
    role: {role}
{f"    agency: {agency}{chr(10)}" if agency else ""}    purposes: [{", ".join(purposes)}]
""" for name, (key, role, agency, purposes) in KEYS.items())
        agencies = "".join(f"""  - code: {name}
    name: {name} agency
    kind: sql
    url: sqlite+aiosqlite:///{path}
    provides: [penalty, licence]
""" for name, path in self.agencies.items())
        path = folder / "gateway.yaml"
        path.write_text(f"""agencies:
  - code: REG
    name: 登记机关
    kind: sql
    url: sqlite+aiosqlite:///{self.registry}
    provides: [enterprise, person]
{agencies}principals:
{principals}changes:
  poll_s: 0.2
platform:
  audit_fail_after_s: {audit_fail_after_s}
""", encoding="utf-8")
        return path



def start(district: District, serve: Callable[..., ServerThread], name: str = "a",
          redis_url: str | None = None) -> ServerThread:
    config = load_config(district.config(district.folder / name))
    return serve(create_app(config, AppOptions(graphiql=False, redis_url=redis_url,
                                               freeze_heap_after_start=False)))


async def subscribed(server: Served, who: str, query: str = WARNINGS,
                     variables: dict[str, Any] | None = None) -> Subscriber:
    subscriber = await Subscriber.open(server.url, PAYLOADS[who])
    await subscriber.ack()
    await subscriber.subscribe(query, variables)
    return subscriber


async def live(district: District, subscribers: list[Subscriber], within: float = 20.0,
               ) -> None:
    """Wait until the change feed polls and every subscription listens: flip a warm-up
    enterprise's level (a SAMR record, OPEN, so everyone sees it) until each subscriber
    has heard a flip, then let the last flip settle and drain what it brought."""
    warm = code(999)
    district.register(warm, "预热企业")
    record = district.penalty("SAMR", warm, risk=None)
    heard = [False] * len(subscribers)
    deadline = time.monotonic() + within
    risk: str | None = None
    while not all(heard):
        assert time.monotonic() < deadline, "the subscriptions never heard a change"
        risk = None if risk else "LOW"
        district.set_risk("SAMR", record, risk)
        for index, subscriber in enumerate(subscribers):
            while True:
                try:
                    await subscriber.next(0.6)
                    heard[index] = True
                except TimeoutError:
                    break


async def heard_until(subscriber: Subscriber, sentinel: str,
                      within: float = 10.0) -> list[dict[str, Any]]:
    """Every change heard up to and including the one about ``sentinel``."""
    heard = []
    while True:
        payload = await subscriber.next(within)
        assert "errors" not in payload, payload
        change = payload["data"]["warningChanges"]
        heard.append(change)
        if change["creditCode"] == sentinel:
            return heard


def log_rows(district: District, name: str) -> list[dict[str, Any]]:
    with sqlite3.connect(district.folder / name / "platform.db") as db:
        db.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in db.execute("SELECT * FROM access_log ORDER BY id")]
        except sqlite3.OperationalError:  # not migrated yet
            return []


async def logged(district: District, which: Callable[[dict[str, Any]], bool],
                 ) -> list[dict[str, Any]]:
    """The access log's rows ``which`` selects, once there is one (the writer appends
    every 0.25 s)."""
    deadline = time.monotonic() + 10
    while True:
        rows = [row for row in log_rows(district, "a") if which(row)]
        if rows or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.1)
