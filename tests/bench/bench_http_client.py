"""httpx's default transport against aiohttp's (``httpx-aiohttp``), same httpx API, and
the gateway's agency calls (``connectors.http_service``) with either transport.

The client asks the demo court (its own process, pinned to CPU 1) for one
enterprise's judgment defaults, at 1, 16 and 64 concurrent requests, with the agency
instant and at 20 ms; the client runs in this process (pin it to CPU 0 with
``taskset -c 0`` for stable figures; ``run.py`` does not). Reported: requests/s, p50
and p99 latency and the client's CPU seconds per 1,000 requests - on a 2-core machine
the client's CPU per call is what bounds the gateway's throughput. ``connector``
cases call ``HttpConnector.fetch`` (the query, the answer's JSON and its records):
sent as an httpx request to the transport, straight to aiohttp's session when the
transport is aiohttp's, or on the gateway's own keep-alive connections
(``connectors.http_pool``: what the gateway does for ``http://`` agencies since
2026-12-03).

    python tests/bench/run.py http_client
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from harness import district, http_agencies, save
from httpx_aiohttp import AiohttpTransport, HttpxAiohttpClient

from connectors.http_pool import HttpPool
from connectors.http_service import HttpConnector
from connectors.spec import AgencySpec

CODE = "91110102U7JM5YDH5H"


def _settings() -> dict[str, Any]:
    return {"limits": httpx.Limits(max_connections=200, max_keepalive_connections=50),
            "timeout": httpx.Timeout(30.0), "follow_redirects": False, "trust_env": False}


CLIENTS: dict[str, Callable[[], httpx.AsyncClient]] = {
    "httpx": lambda: httpx.AsyncClient(**_settings()),
    "httpx-aiohttp": lambda: HttpxAiohttpClient(**_settings()),
}


class _HttpxTransport(httpx.AsyncBaseTransport):
    """aiohttp's transport seen as any other httpx transport (the connector then sends
    an httpx request to it, as it did before sending straight to aiohttp's session)."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport(limits=_settings()["limits"], trust_env=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


CONNECTORS: dict[str, Callable[[], httpx.AsyncBaseTransport]] = {
    "connector, httpx request to aiohttp's transport": _HttpxTransport,
    "connector, straight to aiohttp's session": lambda: AiohttpTransport(
        limits=_settings()["limits"], trust_env=False),
}


POOL = "connector, the gateway's own connections (connectors.http_pool)"


async def _run(url: str, make: Callable[[], httpx.AsyncClient], concurrency: int,
               requests: int, transport: httpx.AsyncBaseTransport | None = None,
               pool: HttpPool | None = None) -> dict[str, float]:
    async with make() as client:
        spec = AgencySpec(code="COURT", name="人民法院", kind="http",
                          location=f"{url}/court", provides=("judgment_default",))
        connector = HttpConnector(spec, report=lambda problem: None, client=client,
                                  transport=transport, pool=pool)

        async def one() -> Any:
            if transport is not None or pool is not None:
                return await connector.fetch("judgment_default", "credit_code", [CODE])
            response = await client.post(f"{url}/court/judgment_default/query",
                                         json={"credit_codes": [CODE]})
            return response.json()

        expected = await one()
        for _ in range(50):  # warm-up: connections open
            assert await one() == expected
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []

        async def timed() -> None:
            async with gate:
                started = time.perf_counter()
                await one()
                latencies.append(time.perf_counter() - started)

        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(timed() for _ in range(requests)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if transport is not None:
        await transport.aclose()
    if pool is not None:
        await pool.aclose()
    latencies.sort()
    return {"requests_per_s": round(requests / elapsed),
            "p50_ms": round(1000 * statistics.median(latencies), 2),
            "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
            "client_cpu_s_per_1000": round(cpu / requests * 1000, 3)}


def main(rounds: int = 2, work: Path = Path("bench-results/data")) -> dict[str, Any]:
    folder = district(2000, work / "district-2000")
    cases: dict[str, list[dict[str, float]]] = {}
    for latency_ms in (0.0, 20.0):
        with http_agencies(folder, latency_ms=latency_ms, cpus="1") as url:
            for _ in range(rounds):  # interleaved, so drift hits both alike
                variants = [(name, make, None) for name, make in CLIENTS.items()] + [
                    (name, CLIENTS["httpx-aiohttp"], transport)
                    for name, transport in CONNECTORS.items()]
                for name, make, transport in variants:
                    for concurrency in (1, 16, 64):
                        requests = 300 if concurrency == 1 else 2000
                        key = f"{name} | agency {latency_ms:g} ms | concurrency {concurrency}"
                        figures = asyncio.run(_run(url, make, concurrency, requests,
                                                   transport() if transport else None))
                        cases.setdefault(key, []).append(figures)
                for concurrency in (1, 16, 64):
                    requests = 300 if concurrency == 1 else 2000
                    key = f"{POOL} | agency {latency_ms:g} ms | concurrency {concurrency}"
                    pool = HttpPool(connect_timeout_s=30, read_timeout_s=30)
                    figures = asyncio.run(_run(url, CLIENTS["httpx-aiohttp"], concurrency,
                                               requests, pool=pool))
                    cases.setdefault(key, []).append(figures)
    best = {key: max(runs, key=lambda f: f["requests_per_s"]) for key, runs in cases.items()}
    result = {"cases": best, "rounds": rounds,
              "kept": "httpx-aiohttp (gateway.runtime.default_http_client); agency "
                      "queries to http:// agencies on connectors.http_pool"}
    save("http_client", result)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
