"""Subscriptions (推送) on a running gateway: a real uvicorn server, a real websocket
client (graphql-transport-ws), agencies in real SQLite files whose rows are changed
with their ``updated_at``, the change feed polling them.

Must show (issue 16): a change reaches a subscriber within 2 s, on another replica
too (two gateways on one Redis); a subscriber never hears of a record it may not see
(canaries, many cases); a bad key is closed with the protocol's code and nothing else.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from ws_client import PROTOCOL, Subscriber

from conftest import ServerThread, free_port, h
from connectors.credit_code import with_check_char
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from policies import policy_dir

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


async def subscribed(server: ServerThread | Replica, who: str, query: str = WARNINGS,
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


# --- a subscriber never hears of what it may not see -------------------------------------

SUBSCRIBERS = ("public", "samr", "epb", "admin")


def sees(who: str, openness: str, owner: str) -> bool:
    """The shipped policy.csv, for these subscribers: may ``who`` see a record?"""
    if who == "admin":
        return True
    if openness == "OPEN":
        return True
    if who == "samr":  # a purpose declared: CONDITIONAL of everyone, its own NOT_OPEN
        return openness == "CONDITIONAL" or owner == "SAMR"
    if who == "epb":  # no purpose: only its own beyond OPEN
        return owner == "EPB"
    return False


CASES = [  # (registry openness, record owner, record openness, risk), each its enterprise
    (registry, owner, openness, "HIGH" if index % 2 else "LOW")
    for index, (registry, owner, openness) in enumerate(itertools.product(
        ("OPEN", "NOT_OPEN"), ("SAMR", "EPB"), ("OPEN", "CONDITIONAL", "NOT_OPEN")))]


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


@pytest.mark.slow
async def test_no_subscriber_hears_of_a_record_or_enterprise_it_may_not_see(
        district: District, serve: Callable[..., ServerThread]) -> None:
    codes = [code(100 + index) for index in range(len(CASES))]
    for credit_code, (registry, _, _, _) in zip(codes, CASES, strict=True):
        district.register(credit_code, f"企业{credit_code[-4:]}", openness=registry)
    sentinel = code(199)
    district.register(sentinel, "哨兵企业")
    server = start(district, serve)
    subscribers = {who: await subscribed(server, who) for who in SUBSCRIBERS}
    try:
        await live(district, list(subscribers.values()))
        records = {}
        for credit_code, (_, owner, openness, risk) in zip(codes, CASES, strict=True):
            records[credit_code] = district.penalty(owner, credit_code, openness=openness,
                                                    risk=risk)
        # the admin sees everything: once it heard every case, every case was published
        admin_heard = [(await subscribers["admin"].next(10))["data"]["warningChanges"]
                       for _ in CASES]
        assert {c["creditCode"] for c in admin_heard} == set(codes)
        district.penalty("SAMR", sentinel, risk="LOW")  # after every case, seen by all
        for who, subscriber in subscribers.items():
            heard = await heard_until(subscriber, sentinel)
            if who == "admin":
                heard = admin_heard + heard
            expected = {
                credit_code: "ORANGE" if risk == "HIGH" else "YELLOW"
                for credit_code, (registry, owner, openness, risk) in zip(codes, CASES,
                                                                          strict=True)
                if sees(who, registry, "REG") and sees(who, openness, owner)}
            expected[sentinel] = "YELLOW"
            assert {c["creditCode"]: c["to"] for c in heard} == expected, who
            for change in heard:
                assert change["from"] == "NONE"
                shown = {e["recordId"] for r in change["reasons"] for e in r["evidence"]}
                if change["creditCode"] in records:
                    assert shown == {records[change["creditCode"]]}, (who, change)
                assert all(r["withheld"] == [] for r in change["reasons"])  # VISIBLE basis
    finally:
        for subscriber in subscribers.values():
            await subscriber.aclose()


@pytest.mark.slow
async def test_a_level_the_subscriber_cannot_see_change_is_not_told(
        district: District, serve: Callable[..., ServerThread]) -> None:
    """Same enterprise, a visible ORANGE and then a hidden HIGH record of another agency
    (RED on every agency's records): the public's level stays ORANGE, so it hears
    nothing; EPB's department, which sees its own record, hears ORANGE -> RED."""
    server = start(district, serve)
    public, epb = await subscribed(server, "public"), await subscribed(server, "epb")
    try:
        await live(district, [public, epb])
        district.penalty("SAMR", code(1), risk="HIGH")
        for subscriber in (public, epb):
            change = (await subscriber.next(10))["data"]["warningChanges"]
            assert (change["creditCode"], change["from"], change["to"]) == (
                code(1), "NONE", "ORANGE")
        district.penalty("EPB", code(1), openness="NOT_OPEN", risk="HIGH")
        change = (await epb.next(10))["data"]["warningChanges"]
        assert (change["from"], change["to"]) == ("ORANGE", "RED")
        assert {a["code"] for r in change["reasons"] for a in r["agencies"]} >= {"SAMR", "EPB"}
        district.penalty("SAMR", code(2), risk="LOW")  # the sentinel
        heard = await heard_until(public, code(2))
        assert [c["creditCode"] for c in heard] == [code(2)]
    finally:
        await public.aclose()
        await epb.aclose()


@pytest.mark.slow
async def test_on_the_all_basis_a_hidden_record_moves_the_level_and_is_only_counted(
        district: District, serve: Callable[..., ServerThread], tmp_path: Path) -> None:
    """derivation.yaml giving departments the platform's warning (ALL): SAMR's
    department hears the level an EPB NOT_OPEN record makes, the record only counted as
    withheld; the public (VISIBLE) hears nothing of it."""
    policies = tmp_path / "policies"
    shutil.copytree(policy_dir(), policies)
    derivation = policies / "derivation.yaml"
    derivation.write_text(derivation.read_text(encoding="utf-8").replace(
        "Enterprise.warning:\n  default: VISIBLE\n",
        "Enterprise.warning:\n  default: VISIBLE\n  department: ALL\n"), encoding="utf-8")
    config = load_config(district.config(district.folder / "a"))
    server = serve(create_app(config, AppOptions(graphiql=False, policy_dir=policies,
                                                 freeze_heap_after_start=False)))
    samr, public = await subscribed(server, "samr"), await subscribed(server, "public")
    try:
        await live(district, [samr, public])
        district.penalty("EPB", code(1), openness="NOT_OPEN", risk="HIGH")
        change = (await samr.next(10))["data"]["warningChanges"]
        assert (change["creditCode"], change["from"], change["to"], change["derivedFrom"]) == (
            code(1), "NONE", "ORANGE", "ALL")
        [reason] = change["reasons"]
        assert reason["evidence"] == []
        assert reason["withheld"] == [{"count": 1}]
        district.penalty("SAMR", code(2), risk="LOW")  # the sentinel
        assert [c["creditCode"] for c in await heard_until(public, code(2))] == [code(2)]
    finally:
        await samr.aclose()
        await public.aclose()


@pytest.mark.slow
async def test_filters_by_district_and_minimum_level(
        district: District, serve: Callable[..., ServerThread]) -> None:
    server = start(district, serve)
    red_only = await subscribed(server, "public", variables={"f": {"minLevel": "ORANGE"}})
    xicheng = await subscribed(server, "public", variables={"f": {"districtCode": "110105"}})
    try:
        await live(district, [])
        district.penalty("SAMR", code(1), risk="LOW")  # 110102, YELLOW: neither
        district.penalty("SAMR", code(2), risk="HIGH")  # 110105, ORANGE: both
        for subscriber in (red_only, xicheng):
            change = (await subscriber.next(10))["data"]["warningChanges"]
            assert (change["creditCode"], change["to"]) == (code(2), "ORANGE")
    finally:
        await red_only.aclose()
        await xicheng.aclose()


# --- another replica ---------------------------------------------------------------------

class Replica:
    """``gateway serve`` in its own process (replicas are processes: two apps' threads in
    one interpreter would share what a process does not), on a free loopback port."""

    def __init__(self, config: Path, redis_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = config.parent / "serve.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config),
                 "--port", str(self.port), "--redis-url", redis_url],
                stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, self.log.read_text(errors="replace")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)


@pytest.mark.slow
async def test_a_change_reaches_subscribers_on_both_replicas_within_2_seconds(
        district: District, private_redis: Any) -> None:
    """Two gateways on one Redis: one leads and polls; the other hears its events."""
    replicas = [Replica(district.config(district.folder / name), private_redis.url)
                for name in ("a", "b")]
    subscribers = []
    try:
        subscribers = [await subscribed(replica, "public") for replica in replicas]
        await live(district, subscribers)
        changed = time.monotonic()
        district.penalty("SAMR", code(1), risk="HIGH")
        for subscriber in subscribers:
            change = (await subscriber.next(2.0))["data"]["warningChanges"]
            assert (change["creditCode"], change["to"]) == (code(1), "ORANGE")
        assert time.monotonic() - changed < 2.0
    finally:
        for subscriber in subscribers:
            await subscriber.aclose()
        for replica in replicas:
            replica.stop()


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


@pytest.mark.slow
async def test_a_department_is_told_nothing_while_the_access_log_cannot_be_written(
        district: District, serve: Callable[..., ServerThread]) -> None:
    """Fail closed: a delivery that could not be traced ends a non-public subscription
    with AUDIT_UNAVAILABLE instead; the public is still told."""
    config = load_config(district.config(district.folder / "a", audit_fail_after_s=0.5))
    server = serve(create_app(config, AppOptions(graphiql=False,
                                                 freeze_heap_after_start=False)))
    samr, public = await subscribed(server, "samr"), await subscribed(server, "public")
    await live(district, [samr, public])
    blocker = sqlite3.connect(district.folder / "a" / "platform.db", timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        district.penalty("SAMR", code(1), risk="LOW")  # told, its entry not written
        for subscriber in (samr, public):
            assert (await subscriber.next(10))["data"]["warningChanges"]["to"] == "YELLOW"
        await asyncio.sleep(1.2)  # entries waited longer than audit_fail_after_s
        district.penalty("SAMR", code(1), risk="HIGH")
        refused = await samr.next(10)
        assert refused["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
        assert refused["data"] is None
        assert (await samr.receive(10))["type"] == "complete"
        assert (await public.next(10))["data"]["warningChanges"]["to"] == "ORANGE"
    finally:
        blocker.rollback()
        blocker.close()
        await samr.aclose()
        await public.aclose()


# --- who may connect, and what it may do -------------------------------------------------

@pytest.mark.parametrize(("payload", "headers", "closed"), [
    ({"Authorization": "Bearer not-a-key"}, {}, (4401, "UNAUTHENTICATED")),
    ({"authorization": "Basic c3ViOnB3"}, {}, (4401, "UNAUTHENTICATED")),
    ({}, {"Authorization": "Bearer not-a-key"}, (4401, "UNAUTHENTICATED")),
    ({"Authorization": "Bearer sub-samr-key", "X-Purpose": "AUDIT"}, {},
     (4403, "PURPOSE_NOT_ALLOWED")),
    ({"X-Purpose": "INSPECTION"}, {}, (4403, "PURPOSE_NOT_ALLOWED")),
])
async def test_a_refused_key_is_closed_with_the_protocols_code_and_nothing_else(
        district: District, serve: Callable[..., ServerThread], payload: dict[str, str],
        headers: dict[str, str], closed: tuple[int, str]) -> None:
    server = start(district, serve)
    subscriber = await Subscriber.open(server.url, payload, headers)
    with pytest.raises(ConnectionClosed) as error:
        # no ack, no message: nothing about the key or the gateway before the close
        await asyncio.wait_for(subscriber.socket.recv(), 5)
    assert error.value.rcvd is not None
    assert (error.value.rcvd.code, error.value.rcvd.reason) == closed
    # and the refusal is in the access log, like a 401/403 over HTTP
    refused = await logged(district, lambda row: row["operation"] == "subscribe")
    assert [row["outcome"] for row in refused] == [str(closed[0] - 4000)]


async def test_a_key_in_the_upgrade_headers_is_accepted(
        district: District, serve: Callable[..., ServerThread]) -> None:
    server = start(district, serve)
    subscriber = await Subscriber.open(server.url, {}, {"Authorization": "Bearer sub-fda-key",
                                                        "X-Purpose": "INSPECTION"})
    try:
        await subscriber.ack()
    finally:
        await subscriber.aclose()


async def test_subscribing_before_connection_init_is_closed_4401(
        district: District, serve: Callable[..., ServerThread]) -> None:
    server = start(district, serve)
    url = server.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"id": "1", "type": "subscribe",
                                      "payload": {"query": WARNINGS}}))
        with pytest.raises(ConnectionClosed) as error:
            await asyncio.wait_for(socket.recv(), 5)
        assert error.value.rcvd is not None and error.value.rcvd.code == 4401


async def test_only_subscriptions_are_served_on_the_websocket(
        district: District, serve: Callable[..., ServerThread]) -> None:
    server = start(district, serve)
    subscriber = await Subscriber.open(server.url, PAYLOADS["admin"])
    try:
        await subscriber.ack()
        await subscriber.subscribe('{ enterprise(creditCode: "%s") { name } }' % code(1))
        message = await subscriber.receive(5)
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "SUBSCRIPTIONS_ONLY"
        # registrations are for an agency's departments
        await subscriber.subscribe(REGISTRATIONS, id="2")
        message = await subscriber.receive(5)
        assert message["type"] == "next"
        assert message["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    finally:
        await subscriber.aclose()


async def test_the_public_schema_has_no_registrations(
        district: District, serve: Callable[..., ServerThread]) -> None:
    server = start(district, serve)
    subscriber = await subscribed(server, "public", REGISTRATIONS)
    try:
        message = await subscriber.receive(5)
        assert message["type"] == "error"
        assert "registrations" in message["payload"][0]["message"]
    finally:
        await subscriber.aclose()
    async with httpx.AsyncClient() as client:
        introspect = (await client.post(f"{server.url}/graphql", timeout=10, json={
            "query": "{ __schema { subscriptionType { fields { name } } } }"})).json()
    assert introspect["data"]["__schema"]["subscriptionType"]["fields"] == [
        {"name": "warningChanges"}]


# --- registrations (双告知) ---------------------------------------------------------------

@pytest.mark.slow
async def test_registrations_reach_the_agency_whose_licence_the_scope_needs(
        district: District, serve: Callable[..., ServerThread]) -> None:
    server = start(district, serve)
    fda = await subscribed(server, "fda", REGISTRATIONS)
    samr = await subscribed(server, "samr", REGISTRATIONS)
    watching = await subscribed(server, "public")  # to know when the feed polls
    try:
        await live(district, [watching])
        district.register(code(300), "北京丙餐饮有限公司", scope="餐饮服务；预包装食品销售",
                          industry="餐饮业")
        district.register(code(301), "隐藏餐饮有限公司", scope="餐饮服务", openness="NOT_OPEN")
        district.register(code(302), "北京丁食品有限公司", scope="食品生产", industry="食品制造业")
        heard = (await fda.next(10))["data"]["registrations"]
        assert heard["creditCode"] == code(300)
        assert heard["businessScope"] == "餐饮服务；预包装食品销售"
        assert heard["licences"] == ["食品经营许可 (food business)"]
        heard = (await samr.next(10))["data"]["registrations"]
        assert heard["creditCode"] == code(302)  # not 300 (FDA's), not 301 (hidden)
        assert heard["licences"] == ["食品生产许可 (food production)"]
        district.register(code(303), "北京戊餐饮有限公司", scope="餐饮服务")  # sentinel
        assert (await fda.next(10))["data"]["registrations"]["creditCode"] == code(303)
    finally:
        for subscriber in (fda, samr, watching):
            await subscriber.aclose()


# --- traced ------------------------------------------------------------------------------



@pytest.mark.slow
async def test_each_start_and_each_delivery_is_an_access_log_entry(
        district: District, serve: Callable[..., ServerThread]) -> None:
    server = start(district, serve)
    samr = await subscribed(server, "samr")
    try:
        await live(district, [samr])
        district.penalty("SAMR", code(1), risk="HIGH")
        while (await samr.next(10))["data"]["warningChanges"]["creditCode"] != code(1):
            pass
    finally:
        await samr.aclose()
    delivered = await logged(district, lambda row: row["principal"] == "samr" and code(1) in
                             json.loads(row["credit_codes"]))
    assert [row["operation"] for row in delivered] == ["deliver warningChanges"]
    assert "Subscription.warningChanges" in json.loads(delivered[0]["fields"])
    rows = [row for row in log_rows(district, "a") if row["principal"] == "samr"]
    assert rows[0]["operation"] == "subscribe warningChanges"
    assert (rows[0]["purpose"], rows[0]["outcome"]) == ("INSPECTION", "ok")
    # whoViewed counts the delivery like a viewing (asked by the public: an OPEN enterprise)
    async with httpx.AsyncClient() as client:
        answer = (await client.post(f"{server.url}/graphql", timeout=10, json={
            "query": '{ whoViewed(creditCode: "%s") { agency purpose requests } }' % code(1)},
        )).json()
    assert {"agency": "SAMR", "purpose": "INSPECTION", "requests": 1} in (
        answer["data"]["whoViewed"])


def test_the_readmes_subscription_examples_are_valid_for_the_schema() -> None:
    """The README's subscriptions are not run by tests/test_readme_examples.py (their
    answers come when a source changes): here each is checked against the schema."""
    from graphql import parse, validate

    from conftest import ACTIONS, REPOSITORY
    from schema.build import build_schema
    from schema.mutations import Mutation
    from schema.subscriptions import Subscription

    text = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    blocks = [block for block in re.findall(r"^```graphql\n(.*?)^```", text, re.M | re.S)
              if block.lstrip().startswith("subscription")]
    assert blocks, "the README shows a subscription"
    schema = build_schema(actions=ACTIONS, mutation=Mutation, subscription=Subscription)
    for block in blocks:
        assert validate(schema._schema, parse(block)) == [], block


async def test_a_page_of_another_origin_may_not_open_the_websocket(
        district: District, serve: Callable[..., ServerThread]) -> None:
    """A browser sends its page's origin: another site's page is refused at the
    handshake (403) unless the CORS settings allow that origin; the same origin is not."""
    server = start(district, serve)
    with pytest.raises(InvalidStatus) as refused:
        await Subscriber.open(server.url, {}, {"Origin": "https://elsewhere.example"})
    assert refused.value.response.status_code == 403
    same = await Subscriber.open(server.url, {}, {"Origin": server.url})
    try:
        await same.ack()
    finally:
        await same.aclose()


@pytest.mark.parametrize(("pattern", "origin", "allowed"), [
    ("*", "https://any.example", True),
    ("https://portal.example.gov.cn", "https://portal.example.gov.cn", True),
    ("https://portal.example.gov.cn", "https://portal.example.gov.cn.evil", False),
    ("http://127.0.0.1:*", "http://127.0.0.1:5173", True),
    ("http://127.0.0.1:*", "http://127.0.0.1", True),
    ("http://127.0.0.1:*", "http://127.0.0.10:5173", False),
    ("http://127.0.0.1:*", "https://127.0.0.1:5173", False),
])
def test_websocket_origins_follow_the_cors_settings(pattern: str, origin: str,
                                                   allowed: bool) -> None:
    from gateway.ws_endpoint import _origin_matches

    assert _origin_matches(pattern, origin) is allowed
