"""httpx's default transport against aiohttp's (``httpx-aiohttp``), same httpx API.

The client asks the demo court (its own process, pinned to CPU 1) for one
enterprise's judgment defaults, at 1, 16 and 64 concurrent requests, with the agency
instant and at 20 ms; the client runs in this process (pin it to CPU 0 with
``taskset -c 0`` for stable figures; ``run.py`` does not). Reported: requests/s, p50
and p99 latency and the client's CPU seconds per 1,000 requests - on a 2-core machine
the client's CPU per call is what bounds the gateway's throughput.

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
from httpx_aiohttp import HttpxAiohttpClient

CODE = "91110102U7JM5YDH5H"


def _settings() -> dict[str, Any]:
    return {"limits": httpx.Limits(max_connections=200, max_keepalive_connections=50),
            "timeout": httpx.Timeout(30.0), "follow_redirects": False, "trust_env": False}


CLIENTS: dict[str, Callable[[], httpx.AsyncClient]] = {
    "httpx": lambda: httpx.AsyncClient(**_settings()),
    "httpx-aiohttp": lambda: HttpxAiohttpClient(**_settings()),
}


async def _run(url: str, make: Callable[[], httpx.AsyncClient], concurrency: int,
               requests: int) -> dict[str, float]:
    async with make() as client:
        async def one() -> Any:
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
                for name, make in CLIENTS.items():
                    for concurrency in (1, 16, 64):
                        requests = 300 if concurrency == 1 else 2000
                        key = f"{name} | agency {latency_ms:g} ms | concurrency {concurrency}"
                        figures = asyncio.run(_run(url, make, concurrency, requests))
                        cases.setdefault(key, []).append(figures)
    best = {key: max(runs, key=lambda f: f["requests_per_s"]) for key, runs in cases.items()}
    result = {"cases": best, "rounds": rounds,
              "kept": "httpx-aiohttp (gateway.runtime.default_http_client)"}
    save("http_client", result)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
