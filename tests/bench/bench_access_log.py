"""The access log's cost: the same gateway with the log on and off.

    python tests/bench/run.py access_log

A real ``gateway serve`` (one worker, CPU 0), the demo's HTTP agencies and ``wrk`` on
CPU 1, the log in the platform's SQLite file beside the configuration:

- ``latency``: one enterprise with every list and its warning, one request at a time,
  warm record cache, no answer cache (so every request is worked out and logged):
  p50 with the log ÷ p50 without (target <= 1.05), and the same with agencies
  answering in 20 ms and no record cache.
- ``throughput``: the same query at 64 connections (wrk), requests/s with and without.
- ``chain``: after the load, the whole chain is verified (intact, entry count).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import httpx
from bench_gateway import (
    AGENCY_LATENCY_MS,
    LOAD_CPU,
    ONE,
    config_variant,
    gateway,
    post,
    showcase_codes,
    wrk,
)
from harness import Timing, district, http_agencies, save


def _latency(config: Path, codes: list[str], runs: int) -> dict[str, dict[str, float]]:
    """Interleaved rounds of ``runs`` requests, log on and off, each in its own process."""
    samples: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(3):
        for name, options in (("off", ("--no-audit-log",)), ("on", ())):
            with gateway(config, "--no-response-cache", "--no-rate-limits", *options) as server, \
                    httpx.Client(timeout=30) as client:
                for code in codes[:5]:
                    post(client, server.url, ONE, {"c": code})
                samples[name] += [post(client, server.url, ONE, {"c": codes[i % 5]})
                                  for i in range(runs)]
    timings = {name: Timing(values) for name, values in samples.items()}
    return {name: {"p50_ms": round(t.p50, 3), "p90_ms": round(t.p90, 3)}
            for name, t in timings.items()}


def _verify(config: Path) -> dict[str, Any]:
    from gateway.config import load_config
    from gateway.platform_store.audit import verify
    from gateway.platform_store.store import open_store

    async def run() -> dict[str, Any]:
        store = open_store(load_config(config).platform)
        try:
            verdict = await verify(store)
        finally:
            await store.aclose()
        return {"intact": verdict.intact, "entries": verdict.count}

    return asyncio.run(run())


def main(work: Path = Path("bench-results/data"), runs: int = 150) -> dict[str, Any]:
    folder = district(2000, work / "district-2000")
    codes = showcase_codes(folder, 50)
    result: dict[str, Any] = {"runs_per_case": runs * 3}
    for latency_ms, ttl, name in ((0.0, 600.0, "warm record cache, agencies instant"),
                                  (AGENCY_LATENCY_MS, 0.0, "no record cache, agencies 20 ms")):
        with http_agencies(folder, latency_ms=latency_ms, cpus=LOAD_CPU) as url:
            config = config_variant(folder, url, "access-log", cache_ttl_s=ttl)
            (folder / "platform.db").unlink(missing_ok=True)
            timings = _latency(config, codes, runs)
            on, off = timings["on"]["p50_ms"], timings["off"]["p50_ms"]
            result[f"latency, {name}"] = {**timings, "ratio_on_off": round(on / off, 3),
                                          "added_p50_ms": round(on - off, 3)}
    if shutil.which("wrk") is not None:
        pids: list[int] = []
        with http_agencies(folder, latency_ms=0.0, cpus=LOAD_CPU, pids=pids) as url:
            config = config_variant(folder, url, "access-log", cache_ttl_s=600.0)
            through: dict[str, Any] = {"connections": 64}
            for name, options in (("off", ("--no-audit-log",)), ("on", ())):
                with gateway(config, "--no-response-cache", "--no-rate-limits",
                             *options) as server:
                    with httpx.Client(timeout=60) as client:
                        for code in codes:
                            post(client, server.url, ONE, {"c": code})
                    wrk(server.url, codes, 2)
                    through[name] = wrk(server.url, codes, 10,
                                        watch={"gateway": server.process.pid})
            through["ratio_on_off"] = round(through["on"]["requests_per_s"]
                                            / through["off"]["requests_per_s"], 3)
            result["throughput"] = through
    result["chain"] = _verify(config)
    result.update(target_latency_ratio=1.05,
                  met=result["latency, warm record cache, agencies instant"]["ratio_on_off"]
                  <= 1.05)
    save("access_log", result)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
