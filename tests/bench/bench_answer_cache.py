"""The answer cache's memory under many distinct queries (issue 11, finding 6).

    python tests/bench/run.py answer_cache

- ``in_process``: 100,000 distinct queries' answers (1-5 KB of JSON each, the request
  body of a real one-enterprise query as the key, four clearances) put into a
  ``ResponseCache`` with its default bound, in a fresh process each: once measuring
  the process's RSS, once with tracemalloc (which costs memory of its own). Reported
  against the bound: the cache's own count of its bytes, the Python heap's growth
  (tracemalloc) and the RSS growth.
- ``expiry``: the same puts with a 1 s lifetime on a clock advancing 1 ms per put:
  answers nobody asks for again are swept, so the cache holds about a second's worth.
- ``http``: a real gateway (``gateway serve --response-cache-mb 4``, its own process)
  asked distinct queries over HTTP; its RSS growth compared with the same gateway
  started with ``--no-response-cache`` (the record cache grows alike in both).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
QUERIES = 100_000
MIB = 1 << 20


def _rss_kb(field: str = "VmRSS", pid: int | str = "self") -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def _answer(rng: random.Random, n: int) -> bytes:
    """A one-enterprise answer of 1-5 KB, shaped like the gateway's."""
    record = {"recordId": "", "agency": {"code": "SAMR"}, "openness": "OPEN",
              "riskLevel": "LOW", "decisionNo": "西市监罚〔2026〕1号", "penaltyType": "FINE",
              "amount": 5000.0, "decidedOn": "2026-03-01"}
    records = [{**record, "recordId": f"SAMR-{n}-{i}"} for i in range(rng.randint(3, 22))]
    answer = {"data": {"enterprise": {
        "creditCode": f"91110102MA{n:08d}", "name": f"北京第{n}餐饮有限公司", "status": "ACTIVE",
        "legalRepName": "张三", "penalties": records, "warning": {"level": "YELLOW"}}}}
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _fill(mode: str) -> dict[str, Any]:
    """Put ``QUERIES`` distinct answers into a fresh cache; measure (in this process)."""
    import datetime as dt
    import gc
    import tracemalloc

    from bench_gateway import ONE

    from gateway.response_cache import ResponseCache
    from schema.access import Clearance

    now = [0.0]
    expiring = mode == "expiry"
    cache = ResponseCache(clock=(lambda: now[0]) if expiring else time.monotonic)
    clearances = [Clearance("public"), Clearance("department", "SAMR", "INSPECTION"),
                  Clearance("approval", "", "LICENCE_APPROVAL"), Clearance("admin")]
    day = dt.date(2026, 11, 24)
    rng = random.Random(20261124)
    gc.collect()
    if mode == "tracemalloc":
        tracemalloc.start()
    traced_before = tracemalloc.get_traced_memory()[0]
    rss_before = _rss_kb()
    offered = 0
    put_s = 0.0
    most = 0
    for n in range(QUERIES):
        request = json.dumps({"query": ONE, "variables": {"c": f"91110102MA{n:08d}"}},
                             separators=(",", ":")).encode()
        body = _answer(rng, n)
        headers = [(b"content-length", str(len(body)).encode()),
                   (b"content-type", b"application/json")]
        key = cache.key(clearances[n % len(clearances)], 1, day, request)
        offered += len(body) + len(request)
        started = time.perf_counter()
        cache.put(key, headers, body, 1.0 if expiring else 600.0)
        put_s += time.perf_counter() - started
        most = max(most, cache.bytes)
        now[0] += 0.001
    gc.collect()
    result: dict[str, Any] = {
        "queries": QUERIES, "bound_bytes": cache.max_bytes,
        "offered_mb": round(offered / MIB, 1),
        "cache_bytes": cache.bytes, "most_cache_bytes": most, "entries": len(cache),
        "evicted": cache.evicted, "expired": cache.expired,
        "cache_bytes_to_bound": round(cache.bytes / cache.max_bytes, 3),
        "put_us": round(put_s / QUERIES * 1e6, 2),
    }
    if mode == "tracemalloc":
        traced = tracemalloc.get_traced_memory()[0] - traced_before
        result["tracemalloc_growth_mb"] = round(traced / MIB, 1)
        result["tracemalloc_growth_to_bound"] = round(traced / cache.max_bytes, 3)
        result["tracemalloc_growth_to_cache_bytes"] = round(traced / max(cache.bytes, 1), 3)
    else:
        grown = (_rss_kb() - rss_before) * 1024
        result["rss_growth_mb"] = round(grown / MIB, 1)
        result["rss_growth_to_bound"] = round(grown / cache.max_bytes, 3)
        result["peak_rss_mb"] = round(_rss_kb("VmHWM") / 1024, 1)
    return result


def _in_fresh_process(mode: str) -> dict[str, Any]:
    output = subprocess.run([sys.executable, __file__, "--fill", mode], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
                            capture_output=True, text=True, timeout=1800).stdout
    result: dict[str, Any] = json.loads(output)
    return result


def _http(work: Path, requests: int = 4000, bound_mb: int = 4) -> dict[str, Any]:
    """Distinct queries (each enterprise, as two callers) to a gateway with the cache
    bounded at ``bound_mb`` and to one without it; their RSS growth."""
    import httpx
    from bench_gateway import DEPARTMENT, ONE, config_variant, gateway
    from harness import district, http_agencies

    from gateway.response_cache import ENTRY_OVERHEAD

    folder = district(2000, work / "district-2000")
    callers = [DEPARTMENT, {"Authorization": "Bearer demo-admin-key"}]
    listing = """query($after: String) { enterprises(first: 1000, after: $after) {
      pageInfo { hasNextPage endCursor } edges { node { creditCode } } } }"""
    result: dict[str, Any] = {"requests": requests, "bound_mb": bound_mb}
    with http_agencies(folder, latency_ms=0) as url:
        config = config_variant(folder, url, "answer-cache", cache_ttl_s=600.0)
        for name, options in (("cached", ("--response-cache-mb", str(bound_mb))),
                              ("uncached", ("--no-response-cache",))):
            with gateway(config, *options) as server, httpx.Client(timeout=60) as client:
                codes: list[str] = []
                after = None
                while after is not None or not codes:
                    page = client.post(f"{server.url}/graphql", headers=DEPARTMENT, json={
                        "query": listing, "variables": {"after": after}}).json()
                    found = page["data"]["enterprises"]
                    codes += [edge["node"]["creditCode"] for edge in found["edges"]]
                    info = found["pageInfo"]
                    after = info["endCursor"] if info["hasNextPage"] else None
                asks = [(code, caller) for caller in callers for code in codes][:requests]
                answered = counted = 0
                before_kb = server.status("VmRSS")
                for i, (code, caller) in enumerate(asks):
                    if i == 200:  # after warm-up: imports, parser caches, connections
                        before_kb = server.status("VmRSS")
                    request = json.dumps({"query": ONE, "variables": {"c": code}}).encode()
                    response = client.post(f"{server.url}/graphql", content=request,
                                            headers={**caller,
                                                     "content-type": "application/json"})
                    body = response.json()
                    if response.status_code != 200 or body.get("errors"):
                        raise RuntimeError(f"the gateway answered with errors: {body}")
                    answered += len(response.content)
                    # as the cache counts it: answer, request, day, clearance and
                    # headers (~60 bytes), the fixed overhead
                    counted += len(response.content) + len(request) + 60 + ENTRY_OVERHEAD
                grown_kb = server.status("VmRSS") - before_kb
                result[name] = {"answers_mb": round(answered / MIB, 1),
                                "offered_to_the_cache_mb": round(counted / MIB, 1),
                                "rss_growth_mb": round(grown_kb / 1024, 1)}
    extra = (result["cached"]["rss_growth_mb"] - result["uncached"]["rss_growth_mb"])
    result["cache_rss_mb"] = round(extra, 1)
    result["cache_rss_to_bound"] = round(extra / bound_mb, 3)
    return result


def main(work: Path = Path("bench-results/data")) -> dict[str, Any]:
    from harness import save

    rss = _in_fresh_process("rss")
    traced = _in_fresh_process("tracemalloc")
    expiry = _in_fresh_process("expiry")
    http: dict[str, Any]
    try:
        http = _http(work)
    except (RuntimeError, OSError) as error:  # no agencies or gateway process here
        http = {"skipped": str(error)}
    in_process = {**rss, **{k: v for k, v in traced.items() if k.startswith("tracemalloc")}}
    result = {
        "scenario": (f"{QUERIES:,} distinct queries' answers (1-5 KB JSON, a real request "
                     "body as key, 4 clearances) into a ResponseCache with its default "
                     "bound; each measurement in a fresh process"),
        "in_process": in_process,
        "within_bound": {
            "cache_bytes": in_process["cache_bytes"] <= in_process["bound_bytes"],
            "tracemalloc": in_process["tracemalloc_growth_to_bound"] <= 1.0,
            "rss": in_process["rss_growth_to_bound"] <= 1.0,
        },
        "expiry": {k: expiry[k] for k in ("entries", "cache_bytes", "most_cache_bytes",
                                          "expired", "evicted", "put_us")},
        "http": http,
    }
    save("answer_cache", result)
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["--fill"]:
        with contextlib.redirect_stdout(sys.stderr):
            figures = _fill(sys.argv[2])
        print(json.dumps(figures))
    else:
        print(json.dumps(main(), indent=2, ensure_ascii=False))
