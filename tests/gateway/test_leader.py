"""One leader per cluster (gateway.leader) and events between processes
(gateway.events), on a real Redis: a private redis-server per test, real processes."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import BETA, GAMMA, RedisServer, ServerThread
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from gateway.events import Event, EventBus, Registered, WarningChanged, event_from_json
from gateway.leader import LeaderLock

ROOT = Path(__file__).resolve().parents[2]
AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
CHANGED = WarningChanged("91110102MA00000019", "北京甲餐饮有限公司", "110102", "餐饮业",
                         "YELLOW", "RED", ("CROSS_AGENCY",), ("COURT", "SAMR"), AT)

LEADER = textwrap.dedent("""
    import asyncio, sys
    from gateway.leader import LeaderLock

    async def main() -> None:
        lock = LeaderLock(sys.argv[1], ttl_s=1.0)
        renewing = asyncio.create_task(lock.run())
        told = None
        while True:
            if lock.is_leader != told:
                told = lock.is_leader
                print("LEADER" if told else "FOLLOWER", flush=True)
            await asyncio.sleep(0.02)

    asyncio.run(main())
""")

LISTENER = textwrap.dedent("""
    import asyncio, datetime as dt, sys
    from gateway.events import EventBus, Registered, event_to_json

    async def main() -> None:
        bus = EventBus(sys.argv[1])
        bus.add_listener(lambda event: print("EVENT " + event_to_json(event), flush=True))
        bus.start()
        await asyncio.wait_for(bus.connected.wait(), 5)
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        await bus.publish(Registered("91110102MA00000027", "北京乙科技有限公司", "110102",
                                     "软件业", "软件开发", dt.date(2026, 11, 30),
                                     dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)))
        print("PUBLISHED", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
""")


class Process:
    """A Python process of the project, its stdout read line by line."""

    def __init__(self, script: str, *args: str) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-c", script, *args], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, expected: str, timeout_s: float) -> float:
        """Seconds until a line starting with ``expected``; AssertionError after
        ``timeout_s``."""
        started = time.monotonic()
        deadline = started + timeout_s
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(0.0, left))
            except queue.Empty:
                raise AssertionError(f"no {expected!r} within {timeout_s} s") from None
            if line.startswith(expected):
                return time.monotonic() - started

    def said(self, wait_s: float) -> list[str]:
        """Every line within ``wait_s``."""
        lines, deadline = [], time.monotonic() + wait_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                lines.append(self.lines.get(timeout=left))
            except queue.Empty:
                break
        return lines

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)


@contextmanager
def _processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in started:
            process.kill()


def test_one_process_leads_and_another_takes_over_when_it_is_killed(
        private_redis: RedisServer) -> None:
    with _processes() as started:
        first = Process(LEADER, private_redis.url)
        started.append(first)
        first.wait_for("LEADER", 10)
        second = Process(LEADER, private_redis.url)
        started.append(second)
        second.wait_for("FOLLOWER", 10)
        assert "LEADER" not in second.said(2.0)  # the lease is renewed: one leader
        first.kill()  # no release: the lock must expire
        took = second.wait_for("LEADER", 5)
        assert took < 2.5  # lease 1 s, tried every third of it


def test_a_leader_that_stops_hands_over_at_once(private_redis: RedisServer) -> None:
    async def run() -> None:
        first = LeaderLock(private_redis.url, ttl_s=3.0)
        second = LeaderLock(private_redis.url, ttl_s=3.0)
        assert await first.attempt() and first.is_leader
        assert not await second.attempt() and not second.is_leader
        assert await first.attempt()  # renewed
        await first.aclose()  # releases the key
        assert await second.attempt() and second.is_leader
        await second.aclose()

    asyncio.run(run())


def test_a_stalled_leader_still_releases_its_key_and_never_takes_it_back(
        private_redis: RedisServer) -> None:
    """Its lease ran out locally (a stalled loop) while the key, renewed late, is still
    its own in Redis: giving up deletes it, and a released lock never leads again."""
    async def run() -> None:
        now = [0.0]
        first = LeaderLock(private_redis.url, ttl_s=30.0, clock=lambda: now[0])
        second = LeaderLock(private_redis.url, ttl_s=30.0)
        assert await first.attempt()
        now[0] = 40.0  # no longer leading by its own clock; the key lives 30 s in Redis
        assert not first.is_leader
        await first.release()
        assert await second.attempt() and second.is_leader  # at once, not after 30 s
        await second.release()
        assert not await first.attempt() and not first.is_leader  # given up for good
        await first.aclose()
        await second.aclose()

    asyncio.run(run())


def test_a_leader_cut_off_from_redis_stops_leading_when_its_lease_ends(
        private_redis: RedisServer) -> None:
    async def run() -> None:
        lock = LeaderLock(private_redis.url, ttl_s=1.0)
        assert await lock.attempt()
        private_redis.kill()
        assert await lock.attempt() and lock.is_leader  # still within its lease
        await asyncio.sleep(1.0)
        assert not await lock.attempt() and not lock.is_leader
        await lock.aclose()

    asyncio.run(run())


def test_without_redis_the_single_process_leads() -> None:
    async def run() -> None:
        lock = LeaderLock(None)
        assert lock.is_leader and await lock.attempt()
        await lock.aclose()

    asyncio.run(run())


def test_events_reach_a_bus_in_another_process_once(private_redis: RedisServer) -> None:
    async def run(other: Process) -> None:
        bus = EventBus(private_redis.url)
        heard = bus.subscribe()
        bus.start()
        await asyncio.wait_for(bus.connected.wait(), 5)
        await bus.publish(CHANGED)
        assert await asyncio.wait_for(anext(heard), 2) == CHANGED  # locally, once
        lines = await asyncio.to_thread(other.said, 1.5)
        events = [event_from_json(line.removeprefix("EVENT ")) for line in lines
                  if line.startswith("EVENT ")]
        assert events == [CHANGED]  # the other process: once
        assert other.popen.stdin is not None
        other.popen.stdin.write("go\n")
        other.popen.stdin.flush()
        registered = await asyncio.wait_for(anext(heard), 2)
        assert isinstance(registered, Registered)
        assert (registered.credit_code, registered.registered_on) == (
            "91110102MA00000027", dt.date(2026, 11, 30))
        try:
            extra = await asyncio.wait_for(anext(heard), 1.0)
        except TimeoutError:
            extra = None
        assert extra is None  # every event once, not once per hop
        lines = await asyncio.to_thread(other.said, 0.5)
        assert sum(line.startswith("EVENT ") for line in lines) == 1  # its own, once
        heard.close()
        await bus.aclose()

    with _processes() as started:
        other = Process(LISTENER, private_redis.url)
        started.append(other)
        other.wait_for("READY", 15)
        asyncio.run(run(other))


def test_without_redis_events_stay_in_the_process() -> None:
    async def run() -> None:
        bus = EventBus(None)
        bus.start()
        assert not bus.shared
        heard = bus.subscribe()
        await bus.publish(CHANGED)
        assert await asyncio.wait_for(anext(heard), 1) == CHANGED
        heard.close()
        await bus.aclose()

    asyncio.run(run())


def test_two_gateways_one_polls_both_hear_and_the_other_takes_over(
        user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
        private_redis: RedisServer) -> None:
    """Two replicas on one Redis: the leader alone polls; a change reaches both buses
    once; when the leader stops, the other polls and its listeners still hear."""
    config: Path = user_agencies["config"]
    config.write_text(config.read_text(encoding="utf-8")
                      + "changes: {poll_s: 0.2, lock_ttl_s: 1}\n", encoding="utf-8")
    court = user_agencies["court"]
    replicas = [serve(create_app(load_config(config), AppOptions(
        redis_url=private_redis.url, response_cache=False, access_log=False)))
        for _ in range(2)]
    heard: list[list[Event]] = [[], []]
    for replica, into in zip(replicas, heard, strict=True):
        _state(replica).events.add_listener(into.append)
    leaders = [r for r in replicas if _state(r).changes.leads()]
    assert len(leaders) == 1
    leader, follower = leaders[0], next(r for r in replicas if r is not leaders[0])
    _wait(lambda: _state(leader).changes.feed.ready, 10, "the leader's first poll")

    # COURT-2: a listing on GAMMA about its former representative P1, who represents
    # BETA: ended, GAMMA's warning (ORANGE) ends and BETA's (RED, with P1's) lowers
    listing = {"record_id": "COURT-2", "credit_code": GAMMA, "openness": "OPEN",
               "risk_level": "HIGH", "person_id": "P1", "court": "北京市西城区人民法院",
               "case_no": "(2025)京0102执2号", "obligation": "支付工资",
               "performance": "部分履行", "listed_on": "2025-07-01", "removed_on": None}
    court.state.write("judgment_default", {**listing, "removed_on": "2026-12-01"})
    for into in heard:
        _wait(lambda into=into: len(into) >= 2, 2, "the change")  # type: ignore[misc]
    time.sleep(0.6)
    for into in heard:  # once on each replica
        assert sorted((e.credit_code, e.to_level) for e in _warnings(into)) == [
            (BETA, "YELLOW"), (GAMMA, "NONE")]
    registry_calls = _state(follower).runtime.sources.registry.calls
    assert not any(kind.startswith("changes:") for kind in registry_calls)  # never polled

    leader.stop()  # gives the lock up, first thing at shutdown
    assert not leader.thread.is_alive(), "the leader's server did not stop within 10 s"
    _wait(lambda: _state(follower).changes.leads(), 3, "the follower to lead")
    _wait(lambda: _state(follower).changes.feed.ready, 10, "the new leader's first poll")
    court.state.write("judgment_default", listing)  # listed again
    index = replicas.index(follower)
    _wait(lambda: len(heard[index]) == 4, 3, "the change told by the new leader")
    assert sorted((e.credit_code, e.to_level) for e in _warnings(heard[index][2:])) == [
        (BETA, "RED"), (GAMMA, "ORANGE")]


def _warnings(events: list[Event]) -> list[WarningChanged]:
    assert all(isinstance(e, WarningChanged) for e in events)
    return [e for e in events if isinstance(e, WarningChanged)]


def _state(server: ServerThread) -> Any:
    app: Any = server.server.config.app
    return app.state


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s} s")
        time.sleep(0.02)


def test_clusters_sharing_a_redis_keep_their_events_and_leaders_apart(
        private_redis: RedisServer) -> None:
    async def run() -> None:
        ours, same, theirs = (EventBus(private_redis.url, cluster=name)
                              for name in ("district-a", "district-a", "district-b"))
        heard = {bus: bus.subscribe() for bus in (same, theirs)}
        for bus in (ours, same, theirs):
            bus.start()
            await asyncio.wait_for(bus.connected.wait(), 5)
        await ours.publish(CHANGED)
        assert await asyncio.wait_for(anext(heard[same]), 2) == CHANGED
        try:
            leaked = await asyncio.wait_for(anext(heard[theirs]), 1.0)
        except TimeoutError:
            leaked = None
        assert leaked is None  # another deployment's event is not its news
        for bus in (ours, same, theirs):
            await bus.aclose()
        a, b = (LeaderLock(private_redis.url, key=f"rg:leader:{name}") for name in "ab")
        assert await a.attempt() and await b.attempt()  # one leader each
        await a.aclose()
        await b.aclose()

    asyncio.run(run())
