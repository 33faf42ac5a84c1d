"""The loaders' synchronous fast path: records answered without awaiting when they are
primed, loaded, or fresh in the in-process cache - and never otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from conftest import ACME, BETA
from connectors.base import Connector
from connectors.registry import build_connector
from gateway.cache import MemoryRecordCache
from gateway.config import load_config
from schema.loaders import Loaders


@pytest.fixture
async def court(user_agencies: dict[str, Any]) -> AsyncIterator[Connector]:
    config = load_config(user_agencies["config"])
    (spec,) = [spec for spec in config.agencies if spec.code == "COURT"]
    async with httpx.AsyncClient() as client:
        yield build_connector(spec, report=lambda problem: None, http_client=client)


async def test_fresh_cached_records_are_answered_without_awaiting(court: Connector) -> None:
    cache = MemoryRecordCache()
    first = Loaders(cache)
    assert first.fetch_now(court, "judgment_default", "credit_code", [ACME]) is None
    fetched = await first.fetch(court, "judgment_default", "credit_code", [ACME, BETA])
    calls = sum(court.calls.values())
    second = Loaders(cache)  # the next request
    now = second.fetch_now(court, "judgment_default", "credit_code", [ACME, BETA])
    assert now == fetched
    assert sum(court.calls.values()) == calls
    assert "COURT" in second.ages  # the cached data's age is reported as usual
    # the court's records live 0.5 s: past that, the fast path declines
    await asyncio.sleep(0.6)
    assert Loaders(cache).fetch_now(court, "judgment_default", "credit_code", [ACME]) is None


async def test_loads_in_flight_or_failed_are_left_to_the_awaiting_path(
    user_agencies: dict[str, Any], court: Connector
) -> None:
    loaders = Loaders(MemoryRecordCache())
    pending = loaders.load(court, "judgment_default", "credit_code", ACME)
    assert loaders.fetch_now(court, "judgment_default", "credit_code", [ACME]) is None
    await pending
    assert loaders.fetch_now(court, "judgment_default", "credit_code", [ACME]) == [await pending]
    user_agencies["court"].state.control.mode = "error_500"
    failing = loaders.load(court, "judgment_default", "credit_code", BETA)
    with pytest.raises(Exception, match="COURT"):
        await failing
    assert loaders.fetch_now(court, "judgment_default", "credit_code", [BETA]) is None


async def test_a_cache_that_can_only_be_awaited_declines(court: Connector) -> None:
    class AwaitOnly(MemoryRecordCache):
        def peek_fresh(self, *args: Any) -> None:
            return None

    cache = AwaitOnly()
    await Loaders(cache).fetch(court, "judgment_default", "credit_code", [ACME])
    assert Loaders(cache).fetch_now(court, "judgment_default", "credit_code", [ACME]) is None


async def test_peek_fresh_answers_every_key_or_none() -> None:
    from connectors.records import Record
    from connectors.standard import Openness

    now = [100.0]
    cache = MemoryRecordCache(clock=lambda: now[0])

    def record(key: str) -> Record:
        return Record("judgment_default", "COURT", f"JD-{key}", key, Openness.OPEN,
                      None, {})

    await cache.put_many("COURT", "judgment_default", "credit_code",
                         {ACME: [record(ACME)], BETA: []}, ttl_s=10)
    now[0] = 103.0
    await cache.put_many("COURT", "judgment_default", "credit_code", {"C": [record("C")]},
                         ttl_s=10)
    now[0] = 105.0
    found = cache.peek_fresh("COURT", "judgment_default", "credit_code", [BETA, "C", ACME], 6)
    assert found == ([[], [record("C")], [record(ACME)]], 5.0)  # the oldest entry's age
    assert cache.peek_fresh("COURT", "judgment_default", "credit_code", [], 6) == ([], 0.0)
    # a key older than asked, never cached, of another slot, or expired: no answer
    assert cache.peek_fresh("COURT", "judgment_default", "credit_code", ["C", ACME], 4) is None
    assert cache.peek_fresh("COURT", "judgment_default", "credit_code", [ACME, "D"], 6) is None
    assert cache.peek_fresh("COURT", "judgment_default", "person_id", [ACME], 6) is None
    now[0] = 110.0
    assert cache.peek_fresh("COURT", "judgment_default", "credit_code", ["C"], 60) == (
        [[record("C")]], 7.0)
    assert cache.peek_fresh("COURT", "judgment_default", "credit_code", [ACME], 60) is None
