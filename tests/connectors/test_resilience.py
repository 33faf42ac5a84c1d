"""Source failures: bounded retries of transient errors, the circuit breaker, and
stale-if-error from the record cache - against real HTTP services on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conftest import ACME, ServerThread
from connectors.breaker import Breaker, BreakerState
from connectors.errors import SourceUnavailable
from connectors.http_service import HttpConnector
from connectors.spec import AgencySpec
from gateway.cache import MemoryRecordCache
from schema.loaders import fetch_cached

ROW = {"record_id": "C-1", "credit_code": ACME, "openness": "OPEN", "risk_level": "HIGH",
       "court": "北京市西城区人民法院", "case_no": "(2026)京0102执1号"}


class Flaky:
    """An agency that answers ``failures`` times with ``status``, then works."""

    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures = failures
        self.status = status
        self.calls = 0

    def app(self) -> Starlette:
        async def query(request: Request) -> Response:
            self.calls += 1
            if self.calls <= self.failures:
                return JSONResponse({"error": "busy"}, status_code=self.status)
            return JSONResponse({"items": [ROW]})

        async def health(request: Request) -> Response:
            return JSONResponse({"status": "ok"})

        return Starlette(routes=[Route("/judgment_default/query", query, methods=["POST"]),
                                 Route("/health", health)])


def connector(url: str, client: httpx.AsyncClient, **settings: Any) -> HttpConnector:
    spec = AgencySpec(code="COURT", name="人民法院", kind="http", location=url,
                      provides=("judgment_default",), **settings)
    return HttpConnector(spec, report=lambda problem: None, client=client)


async def test_transient_errors_are_retried_with_backoff(
    serve: Callable[..., ServerThread],
) -> None:
    flaky = Flaky(failures=2)
    server = serve(flaky.app())
    async with httpx.AsyncClient() as client:
        source = connector(server.url, client, retries=2)
        (records,) = await source.fetch("judgment_default", "credit_code", [ACME])
    assert not isinstance(records, Exception)
    assert [r.record_id for r in records] == ["C-1"]
    assert flaky.calls == 3


async def test_permanent_errors_are_not_retried(serve: Callable[..., ServerThread]) -> None:
    flaky = Flaky(failures=5, status=500)
    server = serve(flaky.app())
    async with httpx.AsyncClient() as client:
        source = connector(server.url, client, retries=3)
        with pytest.raises(SourceUnavailable, match="HTTP 500"):
            await source.fetch("judgment_default", "credit_code", [ACME])
    assert flaky.calls == 1


async def test_the_circuit_opens_fails_fast_and_recovers(
    serve: Callable[..., ServerThread],
) -> None:
    flaky = Flaky(failures=3, status=500)
    server = serve(flaky.app())
    async with httpx.AsyncClient() as client:
        source = connector(server.url, client, breaker_failures=3, breaker_open_s=0.3)
        for _ in range(3):
            with pytest.raises(SourceUnavailable):
                await source.fetch("judgment_default", "credit_code", [ACME])
        assert source.breaker.state.value == "open"
        with pytest.raises(SourceUnavailable, match="circuit open"):
            await source.fetch("judgment_default", "credit_code", [ACME])
        assert flaky.calls == 3  # the open circuit did not call the agency
        await asyncio.sleep(0.35)
        assert source.breaker.state.value == "half-open"
        (records,) = await source.fetch("judgment_default", "credit_code", [ACME])
        assert not isinstance(records, Exception) and len(records) == 1
        assert source.breaker.state is BreakerState.CLOSED


def test_a_failed_probe_opens_the_circuit_again() -> None:
    now = [0.0]
    breaker = Breaker(failures=2, open_s=5, clock=lambda: now[0])
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    now[0] = 6.0
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one probe at a time
    breaker.failure()
    assert breaker.state is BreakerState.OPEN and breaker.retry_in() == 5


async def test_stale_if_error_serves_a_cached_copy_and_says_how_old(
    serve: Callable[..., ServerThread],
) -> None:
    flaky = Flaky(failures=0)
    server = serve(flaky.app())
    now = [1000.0]
    cache = MemoryRecordCache(clock=lambda: now[0])
    async with httpx.AsyncClient() as client:
        source = connector(server.url, client, cache_ttl_s=60, stale_if_error_s=300)
        ages: dict[str, float] = {}
        stale: dict[str, float] = {}
        first = await fetch_cached(source, "judgment_default", "credit_code", [ACME], cache,
                                   ages, stale)
        assert not isinstance(first[0], Exception) and flaky.calls == 1
        now[0] += 30  # fresh: answered from the cache
        await fetch_cached(source, "judgment_default", "credit_code", [ACME], cache, ages, stale)
        assert flaky.calls == 1 and ages["COURT"] == 30
        flaky.failures, flaky.status = 10**6, 500  # the agency breaks
        now[0] += 100  # the copy is 130 s old: past its TTL, within the stale limit
        served = await fetch_cached(source, "judgment_default", "credit_code", [ACME], cache,
                                    ages, stale)
        assert not isinstance(served[0], Exception)
        assert served[0][0].record_id == "C-1"
        assert stale == {"COURT": 130}
        now[0] += 300  # beyond TTL + stale limit: the failure shows
        gone = await fetch_cached(source, "judgment_default", "credit_code", [ACME], cache,
                                  {}, {})
        assert isinstance(gone[0], SourceUnavailable)
