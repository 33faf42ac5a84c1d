"""Two gateway replicas on one Redis and one platform database: both hear a new
registration (the leader's change feed publishes it on the bus), only the leader
pushes it - one item per (enterprise, agency), one ``push create`` in the access log."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlite_district import District, code

from conftest import RedisServer, ServerThread
from gateway.app import AppOptions, create_app
from gateway.config import load_config


@pytest.mark.slow
def test_two_replicas_push_a_new_registration_once(
        tmp_path: Any, serve: Callable[..., ServerThread],
        private_redis: RedisServer) -> None:
    district = District(tmp_path)
    district.register(code(30), "北京旧科技有限公司")  # the registry's change time to start from
    config = load_config(district.config())
    apps = [create_app(config, AppOptions(graphiql=False, portal=False,
                                          freeze_heap_after_start=False,
                                          redis_url=private_redis.url)) for _ in range(2)]
    for app in apps:
        serve(app)
    states: list[Any] = [app.state for app in apps]
    deadline = time.monotonic() + 20
    while sum(state.changes.leads() for state in states) != 1:
        assert time.monotonic() < deadline, "no single leader"
        time.sleep(0.05)
    heard: list[list[str]] = [[], []]
    for state, seen in zip(states, heard, strict=True):
        state.events.add_listener(lambda event, seen=seen: seen.append(event.credit_code))
    leader = next(state for state in states if state.changes.leads())
    while not leader.changes.feed.ready:  # the first poll is silent: after it
        assert time.monotonic() < deadline, "the leader never polled"
        time.sleep(0.05)
    new = code(31)
    district.register(new, "北京新涂料有限公司", industry="化学原料和化学制品制造业",
                      scope="涂料制造；化工产品销售")
    database = tmp_path / "platform.db"

    def items() -> list[tuple[str, str, str]]:
        with sqlite3.connect(database) as db:
            return db.execute("SELECT credit_code, agency, status FROM "
                              "pushed_registrations").fetchall()

    while not items():
        assert time.monotonic() < deadline + 10, "the registration was never pushed"
        time.sleep(0.05)
    time.sleep(1.5)  # a second push, if any, would be here by now
    assert items() == [(new, "EPB", "PUSHED")]
    assert heard[0].count(new) == heard[1].count(new) == 1  # both replicas heard it
    deadline = time.monotonic() + 5
    while True:
        with sqlite3.connect(database) as db:
            created = db.execute("SELECT principal, agency, credit_codes FROM access_log "
                                 "WHERE operation = 'push create'").fetchall()
        if created or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert created == [("gateway", "EPB", f'["{new}"]')]
