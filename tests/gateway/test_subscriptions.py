"""Subscriptions (推送) on a running gateway: a real uvicorn server, a real websocket
client (graphql-transport-ws), agencies in real SQLite files whose rows are changed
with their ``updated_at``, the change feed polling them.

Must show (issue 16): a change reaches a subscriber within 2 s, on another replica
too (two gateways on one Redis); a subscriber never hears of a record it may not see
(canaries, many cases); a bad key is closed with the protocol's code and nothing else.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ws_client import Subscriber

from conftest import ServerThread, h
from connectors.credit_code import with_check_char
from gateway.app import AppOptions, create_app
from gateway.config import load_config

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

    def config(self, folder: Path) -> Path:
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
""", encoding="utf-8")
        return path


@pytest.fixture
def district(tmp_path: Path) -> District:
    found = District(tmp_path)
    found.register(code(1), "北京甲科技有限公司")
    found.register(code(2), "北京乙科技有限公司", district="110105")
    return found


def start(district: District, serve: Callable[..., ServerThread], name: str = "a",
          redis_url: str | None = None) -> ServerThread:
    config = load_config(district.config(district.folder / name))
    return serve(create_app(config, AppOptions(graphiql=False, redis_url=redis_url,
                                               freeze_heap_after_start=False)))


async def subscribed(server: ServerThread, who: str, query: str = WARNINGS,
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


@pytest.mark.slow
async def test_a_change_reaches_a_subscriber_within_2_seconds(
        district: District, serve: Callable[..., ServerThread]) -> None:
    server = start(district, serve)
    subscriber = await subscribed(server, "public")
    try:
        await live(district, [subscriber])
        changed = time.monotonic()
        record = district.penalty("SAMR", code(1), risk="HIGH")
        payload = await subscriber.next(2.0)
        assert time.monotonic() - changed < 2.0
        change = payload["data"]["warningChanges"]
        assert change["creditCode"] == code(1)
        assert change["name"] == "北京甲科技有限公司"
        assert (change["from"], change["to"]) == ("NONE", "ORANGE")
        assert change["derivedFrom"] == "VISIBLE"
        evidence = [e["recordId"] for r in change["reasons"] for e in r["evidence"]]
        assert evidence == [record]
        # the level going down is a change too
        changed = time.monotonic()
        district.set_risk("SAMR", record, "LOW")
        change = (await subscriber.next(2.0))["data"]["warningChanges"]
        assert time.monotonic() - changed < 2.0
        assert (change["from"], change["to"]) == ("ORANGE", "YELLOW")
    finally:
        await subscriber.aclose()
