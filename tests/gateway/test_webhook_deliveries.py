"""Webhooks on a running gateway: agencies in real SQLite files changed with their
``updated_at``, the change feed polling them, receivers on 127.0.0.1. A webhook is
told what its principal may see - and never a change caused by a record it may not
see, nor a new enterprise it may not see (canaries)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlite_district import District, code
from webhook_receiver import Receiver, documented_verification

from conftest import ServerThread
from gateway.app import AppOptions, create_app
from gateway.config import load_config

SECRET = "webhook-secret-of-the-tests"
CANARY = "CNRY"


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [json.loads(r.body) for r in receiver.received]
    return found


def told(receiver: Receiver, event: str) -> set[str]:
    return {b["data"]["creditCode"] for b in bodies(receiver) if b["event"] == event}


def wait_for(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.slow
def test_a_webhook_is_told_only_what_its_principal_may_see(
        tmp_path: Path, serve: Callable[..., ServerThread]) -> None:
    district = District(tmp_path)
    hidden = [code(n) for n in (11, 12)]
    shown, warm = code(13), code(999)
    for number, enterprise in enumerate((*hidden, shown, warm)):
        district.register(enterprise, f"北京{number}科技有限公司")
    everything, epb = Receiver(), Receiver()
    urls = [serve(r.app).url + "/hook" for r in (everything, epb)]
    app = create_app(load_config(district.config(f"""webhooks:
  - id: everything
    url: {urls[0]}
    secret: {SECRET}
    principal: admin-system
    events: [warningChanges]
  - id: epb-cases
    url: {urls[1]}
    secret: {SECRET}
    principal: epb-system
    events: [warningChanges, registrations]
""")),
                     AppOptions(graphiql=False, freeze_heap_after_start=False, portal=False))
    serve(app)
    state: Any = app.state
    wait_for(lambda: state.webhooks is not None and state.webhooks.listening(), 20,
             "the webhooks' subscriptions never listened")
    # warm up: flip an OPEN record until both webhooks were told (the feed is polling)
    record = district.penalty("SAMR", warm, risk=None)
    risk: str | None = None
    deadline = time.monotonic() + 20
    while not (warm in told(everything, "warningChanges")
               and warm in told(epb, "warningChanges")):
        assert time.monotonic() < deadline, "the webhooks never heard a change"
        risk = None if risk else "LOW"
        district.set_risk("SAMR", record, risk)
        time.sleep(0.6)
    # what EPB's department may not see: SAMR's CONDITIONAL (no purpose declared) and
    # NOT_OPEN records, and a CONDITIONAL registry record needing EPB's licence
    district.penalty("SAMR", hidden[0], openness="CONDITIONAL", record_id=f"{CANARY}-1")
    district.penalty("SAMR", hidden[1], openness="NOT_OPEN", record_id=f"{CANARY}-2")
    secret_name = f"北京{CANARY}化工有限公司"
    district.register(code(21), secret_name, openness="CONDITIONAL",
                      industry="化学原料和化学制品制造业", scope="涂料制造")
    # ... and what it may see: an OPEN record, a new OPEN enterprise needing its licence
    district.penalty("SAMR", shown, risk="LOW")
    district.register(code(22), "北京开涂料有限公司", industry="化学原料和化学制品制造业",
                      scope="涂料制造")
    wait_for(lambda: {*hidden, shown} <= told(everything, "warningChanges")
             and shown in told(epb, "warningChanges")
             and code(22) in told(epb, "registrations"), 10,
             "the webhooks were not told of every change")
    time.sleep(1.0)  # anything late would arrive now
    assert told(epb, "warningChanges") & {*hidden} == set()
    assert told(epb, "registrations") == {code(22)}
    for received in epb.received:
        assert CANARY.encode() not in received.body
    change = next(b["data"] for b in bodies(epb) if b["data"]["creditCode"] == shown)
    assert (change["from"], change["to"], change["derivedFrom"]) == ("NONE", "YELLOW",
                                                                     "VISIBLE")
    registration = next(b["data"] for b in bodies(epb) if b["event"] == "registrations")
    assert registration["licences"] == ["排污许可 (pollutant discharge)"]
    assert registration["name"] == "北京开涂料有限公司"
    # the admin's webhook was told of the hidden ones (the changes did happen)
    assert {b["data"]["to"] for b in bodies(everything)
            if b["data"]["creditCode"] in hidden} == {"ORANGE"}
    # every request is signed, and the README's check accepts it
    verified = documented_verification()
    assert all(verified(SECRET.encode(), r.headers, r.body)
               for r in (*everything.received, *epb.received))
    # each delivery is in the access log under the webhook's principal
    with sqlite3.connect(tmp_path / "platform.db") as db:
        logged = db.execute("SELECT operation, credit_codes FROM access_log "
                            "WHERE principal = 'epb-system' ORDER BY id").fetchall()
    codes = {c for _, found in logged for c in json.loads(found)}
    assert {op for op, _ in logged} == {"webhook warningChanges", "webhook registrations"}
    assert shown in codes and code(22) in codes
    assert codes & {*hidden, code(21)} == set()


