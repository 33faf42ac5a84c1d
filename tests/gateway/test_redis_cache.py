"""RedisRecordCache against real Redis: the shared server on 127.0.0.1:6379 and, for
outages, a private redis-server killed and restarted mid-test."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from conftest import REDIS_URL, RedisServer
from connectors.records import Record
from connectors.standard import Openness, RiskLevel
from gateway.cache import MemoryRecordCache
from gateway.redis_cache import CHUNK, RedisRecordCache, decode_entry, encode_entry

SHARED_URL = REDIS_URL  # the machine's (GATEWAY_TEST_REDIS_URL)
LOGGER = "gateway.redis_cache"
CODE = "91310000MA1FL0000X"

ENTERPRISE = Record(
    "enterprise", "SAMR", "SAMR-E1", CODE, Openness.OPEN, RiskLevel.LOW,
    {"name": "上海某某科技有限公司", "registered_capital": 1234567.89,
     "established_on": dt.date(2015, 3, 1), "status": "ACTIVE", "address": None,
     "industry": "2024-01-01"},  # text that looks like a date stays text
)
PENALTY = Record(
    "penalty", "EPB", "EPB-1", CODE, Openness.CONDITIONAL, None,
    {"person_id": None, "amount": 0.1, "decided_on": dt.date(2023, 12, 31),
     "published_on": None, "penalty_type": "FINE", "content": '["d", "x"] \u2028 "q"'},
)
PERSON = Record("person", "PSB", "PSB-7", None, Openness.NOT_OPEN, RiskLevel.HIGH,
                {"person_id": "P7", "name": "张三", "id_number": None, "when": 1e300})
ITEMS = {CODE: [ENTERPRISE, PENALTY], "P7": [PERSON], "EMPTY": []}


def shared_redis() -> redis.Redis:
    return redis.Redis.from_url(SHARED_URL, socket_timeout=2)


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A namespace of its own on the shared Redis (skipped, or failed when the services
    are required, if it is not reachable); its keys are deleted after."""
    client = shared_redis()
    name = f"test:redis-cache:{uuid.uuid4().hex}"
    yield name
    keys = list(client.scan_iter(match=f"{name}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
async def caches(namespace: str) -> AsyncIterator[Callable[[], RedisRecordCache]]:
    """Caches on the shared Redis (each its own client, like separate processes)."""
    made: list[RedisRecordCache] = []

    def make() -> RedisRecordCache:
        made.append(RedisRecordCache.from_url(SHARED_URL, fallback=MemoryRecordCache(),
                                              namespace=namespace))
        return made[-1]

    yield make
    for cache in made:
        await cache.aclose()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def test_entries_round_trip_exactly() -> None:
    stored, records = decode_entry(encode_entry([ENTERPRISE, PENALTY, PERSON], 1700000000.25))
    assert stored == 1700000000.25
    assert records == [ENTERPRISE, PENALTY, PERSON]
    assert type(records[0].values["established_on"]) is dt.date
    assert type(records[0].values["industry"]) is str
    assert type(records[0].values["registered_capital"]) is float
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 10, tzinfo=dt.UTC)
    odd = Record("inspection", "X", "X-1", None, Openness.OPEN, None, {"at": when})
    assert decode_entry(encode_entry([odd], 0.0).decode())[1] == [odd]
    assert decode_entry(encode_entry([], 5.0)) == (5.0, [])


async def test_round_trip_through_redis(caches: Callable[[], RedisRecordCache]) -> None:
    cache = caches()
    await cache.put_many("SAMR", "enterprise", "credit_code", ITEMS, 60)
    found = await cache.get_many("SAMR", "enterprise", "credit_code",
                                 [CODE, "P7", "EMPTY", "MISSING", CODE])
    assert set(found) == {CODE, "P7", "EMPTY"}
    for key, (records, age) in found.items():
        assert records == ITEMS[key]
        assert 0 <= age < 5
    assert type(found[CODE][0][1].values["decided_on"]) is dt.date
    assert found[CODE][0][0].risk_level is RiskLevel.LOW
    # other tables are separate
    assert await cache.get_many("SAMR", "licence", "credit_code", [CODE]) == {}
    assert await cache.get_many("EPB", "enterprise", "credit_code", [CODE]) == {}
    assert await cache.get_many("SAMR", "enterprise", "credit_code", []) == {}
    assert cache.available


async def test_entries_expire_with_their_ttl(
    caches: Callable[[], RedisRecordCache], namespace: str
) -> None:
    cache = caches()
    await cache.put_many("SAMR", "enterprise", "credit_code", {CODE: [ENTERPRISE]}, 1)
    await cache.put_many("SAMR", "enterprise", "credit_code", {"NOT": [ENTERPRISE]}, 0)
    found = await cache.get_many("SAMR", "enterprise", "credit_code", [CODE, "NOT"])
    assert list(found) == [CODE]
    with shared_redis() as direct:
        ttl_ms = direct.pttl(f"{namespace}:SAMR:enterprise:credit_code:{CODE}")
    assert 0 < ttl_ms <= 1000
    await asyncio.sleep(1.2)
    assert await cache.get_many("SAMR", "enterprise", "credit_code", [CODE]) == {}


async def test_two_processes_share_entries(
    caches: Callable[[], RedisRecordCache], namespace: str
) -> None:
    one = caches()
    client = Redis.from_url(SHARED_URL, decode_responses=True)  # str replies work too
    two = RedisRecordCache(client, fallback=MemoryRecordCache(), namespace=namespace)
    await one.put_many("SAMR", "enterprise", "credit_code", ITEMS, 60)
    found = await two.get_many("SAMR", "enterprise", "credit_code", list(ITEMS))
    assert {key: records for key, (records, _) in found.items()} == ITEMS
    await two.put_many("EPB", "penalty", "person_id", {"P7": [PENALTY]}, 60)
    assert (await one.get_many("EPB", "penalty", "person_id", ["P7"]))["P7"][0] == [PENALTY]
    await two.aclose()  # an injected client is left open for its owner
    assert await client.ping()
    await client.aclose()


async def test_many_keys_cost_one_mget_and_one_pipeline(
    private_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Redis.from_url(private_redis.url)
    pipelines: list[Any] = []
    pipeline = client.pipeline

    def counting_pipeline(*args: Any, **kwargs: Any) -> Any:
        pipelines.append(kwargs)
        return pipeline(*args, **kwargs)

    monkeypatch.setattr(client, "pipeline", counting_pipeline)
    cache = RedisRecordCache(client, fallback=MemoryRecordCache())
    stats = private_redis.sync_client()
    keys = [f"K{i}" for i in range(CHUNK + 1)]
    stats.config_resetstat()
    await cache.put_many("SAMR", "enterprise", "credit_code",
                         {key: [ENTERPRISE] for key in keys[:2000]}, 60)
    assert pipelines == [{"transaction": False}]
    assert stats.info("commandstats")["cmdstat_set"]["calls"] == 2000
    assert "cmdstat_multi" not in stats.info("commandstats")

    stats.config_resetstat()
    found = await cache.get_many("SAMR", "enterprise", "credit_code", keys[:2500])
    assert len(found) == 2000
    assert stats.info("commandstats")["cmdstat_mget"]["calls"] == 1

    stats.config_resetstat()
    found = await cache.get_many("SAMR", "enterprise", "credit_code", keys)
    assert len(found) == 2000
    assert stats.info("commandstats")["cmdstat_mget"]["calls"] == 2  # chunks of CHUNK keys
    await client.aclose()
    stats.close()


async def test_redis_killed_mid_run_falls_back_then_comes_back(
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    cache = RedisRecordCache.from_url(private_redis.url, fallback=MemoryRecordCache(),
                                      retry_after_s=0.2)
    table = ("SAMR", "enterprise", "credit_code")
    await cache.put_many(*table, {"A": [ENTERPRISE]}, 60)
    assert list(await cache.get_many(*table, ["A"])) == ["A"]

    private_redis.kill()
    assert await cache.get_many(*table, ["A"]) == {}  # the fallback never had A
    assert not cache.available
    await cache.put_many(*table, {"B": [PENALTY]}, 60)  # into the fallback only
    for _ in range(5):  # several failed retries, and calls between them
        for _ in range(5):
            found = await cache.get_many(*table, ["A", "B"])
            assert {key: records for key, (records, _) in found.items()} == {"B": [PENALTY]}
            await cache.put_many(*table, {"B": [PENALTY]}, 60)
        await asyncio.sleep(0.25)
        assert not cache.available
    assert len(warnings_of(caplog)) == 1
    assert "unavailable" in warnings_of(caplog)[0].getMessage()

    private_redis.start()  # same port, empty
    await asyncio.sleep(0.25)  # the retry interval
    found = await cache.get_many(*table, ["A", "B"])
    assert cache.available
    assert list(found) == ["B"]  # kept in the fallback while Redis was down
    assert any(r.name == LOGGER and "Redis is back" in r.getMessage() for r in caplog.records)
    await cache.put_many(*table, {"C": [PERSON]}, 60)
    with private_redis.sync_client() as direct:
        assert direct.exists("rg:records:SAMR:enterprise:credit_code:C") == 1
        assert direct.exists("rg:records:SAMR:enterprise:credit_code:B") == 0
    assert (await cache.get_many(*table, ["C"]))["C"][0] == [PERSON]
    assert len(warnings_of(caplog)) == 1
    await cache.aclose()


async def test_unreachable_redis_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    cache = RedisRecordCache.from_url("redis://127.0.0.1:1", fallback=MemoryRecordCache())
    table = ("SAMR", "enterprise", "credit_code")
    started = time.monotonic()
    assert await cache.get_many(*table, [CODE]) == {}
    await cache.put_many(*table, {CODE: [ENTERPRISE]}, 60)
    found = await cache.get_many(*table, [CODE, "OTHER"])
    assert list(found) == [CODE] and found[CODE][0] == [ENTERPRISE]
    assert time.monotonic() - started < 2
    assert not cache.available
    assert len(warnings_of(caplog)) == 1
    await cache.aclose()


async def test_down_redis_is_tried_at_most_once_per_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = RedisRecordCache.from_url("redis://127.0.0.1:1", fallback=MemoryRecordCache(),
                                      retry_after_s=0.3)
    calls: list[int] = []
    mget = cache.client.mget

    async def counting_mget(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await mget(*args, **kwargs)

    monkeypatch.setattr(cache.client, "mget", counting_mget)
    for _ in range(10):
        assert await cache.get_many("SAMR", "enterprise", "credit_code", [CODE]) == {}
    assert len(calls) == 1
    await asyncio.sleep(0.35)
    for _ in range(10):
        assert await cache.get_many("SAMR", "enterprise", "credit_code", [CODE]) == {}
    assert len(calls) == 2
    await cache.aclose()


async def test_a_silent_redis_times_out_into_the_fallback() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        cache = RedisRecordCache.from_url(f"redis://127.0.0.1:{port}",
                                          fallback=MemoryRecordCache(), socket_timeout=0.3)
        started = time.monotonic()
        assert await cache.get_many("SAMR", "enterprise", "credit_code", [CODE]) == {}
        assert time.monotonic() - started < 2
        assert not cache.available
        await cache.aclose()
