"""Subscriptions (推送) on a running gateway: a real uvicorn server, a real websocket
client (graphql-transport-ws), agencies in real SQLite files whose rows are changed
with their ``updated_at``, the change feed polling them (``change_district``).

Must show (issue 16): a change reaches a subscriber within 2 s, on another replica
too (two gateways on one Redis); a subscriber never hears of a record it may not see
(canaries, many cases). Who may connect: ``test_ws_endpoint.py``.
"""

from __future__ import annotations

import asyncio
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
from change_district import (
    PAYLOADS,
    REGISTRATIONS,
    District,
    code,
    heard_until,
    live,
    log_rows,
    logged,
    start,
    subscribed,
)

from conftest import ServerThread, free_port
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from policies import policy_dir


@pytest.fixture
def district(tmp_path: Path) -> District:
    found = District(tmp_path)
    found.register(code(1), "北京甲科技有限公司")
    found.register(code(2), "北京乙科技有限公司", district="110105")
    return found


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
            # what each was told is what it reads by asking: the level it was told, and
            # for a case it was not told, no warning it could see
            told = {c["creditCode"]: c["to"] for c in heard}
            for credit_code in codes:
                asked = await level_asked(server, who, credit_code)
                if credit_code in told:
                    assert asked == told[credit_code], (who, credit_code)
                else:
                    assert asked in (None, "NONE"), (who, credit_code)
    finally:
        for subscriber in subscribers.values():
            await subscriber.aclose()


async def level_asked(server: ServerThread, who: str, credit_code: str) -> str | None:
    """The enterprise's warning level as ``who`` reads it by a query (None: the
    enterprise is not visible to it)."""
    async with httpx.AsyncClient() as client:
        answer = (await client.post(f"{server.url}/graphql", headers=PAYLOADS[who], json={
            "query": '{ enterprise(creditCode: "%s") { warning { level } } }' % credit_code},
            timeout=10)).json()
    enterprise = answer["data"]["enterprise"]
    return None if enterprise is None else str(enterprise["warning"]["level"])


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
        # one of them polled; the other's subscriber heard it through Redis
        leading = ["now leads the cluster" in replica.log.read_text(errors="replace")
                   for replica in replicas]
        assert sorted(leading) == [False, True]
    finally:
        for subscriber in subscribers:
            await subscriber.aclose()
        for replica in replicas:
            replica.stop()


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
