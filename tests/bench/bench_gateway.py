"""The gateway as callers meet it: a real uvicorn server (one worker, pinned to CPU 0),
the demo's HTTP agencies in their own process, ``wrk`` and this process's own client
pinned to CPU 1.

    python tests/bench/run.py gateway

Scenarios (targets from the issue):

- ``latency``: one enterprise with every record list and its warning, one request at
  a time, every HTTP agency answering in 20 ms, each request about an enterprise not
  asked before (no record or answer cache helps): gateway p50 / the slowest agency's
  own p50 for the same enterprises (target <= 1.10). Also reported: the p50 over both
  agencies asked at once, as the gateway asks them - their two processes share the
  load CPU here, so asked together each slows the other (``ratio_to_agencies_asked_together``).
  The gateway and the agencies are asked with the same client (``HttpPool``, the
  gateway's own connections to agencies): a heavier client would add its own time to
  the numerator only. Half the fresh enterprises are asked with httpx's client instead
  (``p50_ms_with_httpx_client``, about 1 ms more on this machine).
- ``throughput``: the same query at 64 connections (wrk), requests/s with no record
  cache (target >= 800) and with a warm cache (target >= 2,500).
- ``page``: a page of 1,000 enterprises with every list, warning and grade, sources
  instant, a department caller (authorization on): p50 (target <= 150 ms), over HTTP
  and in-process.
- ``calls``: source calls for pages of 10, 100 and 1,000 (must not grow).
- ``memory``: the gateway's peak RSS after the page load.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml
from harness import (
    ROOT,
    Timing,
    cpu_seconds,
    district,
    free_port,
    http_agencies,
    pinned,
    running_on,
    save,
)

GATEWAY_CPU = "0"
LOAD_CPU = "1"  # wrk and the agencies
AGENCY_LATENCY_MS = 20.0
ALL_AGENCIES = "both agencies"
DEPARTMENT = {"Authorization": "Bearer demo-department-key", "X-Purpose": "INSPECTION"}

LISTS = """
  licences { recordId agency { code } openness riskLevel licenceNo status validTo }
  penalties { recordId agency { code } openness riskLevel decisionNo penaltyType amount decidedOn }
  anomalies { recordId agency { code } openness riskLevel reason listedOn removedOn }
  seriousViolations { recordId agency { code } openness riskLevel reason listedOn }
  judgmentDefaults { recordId agency { code } openness riskLevel caseNo performance }
  inspections { recordId agency { code } openness riskLevel inspectedOn result }"""
ONE = ("query One($c: String!) { enterprise(creditCode: $c) { creditCode name status "
       "legalRepName" + LISTS + " warning { level reasons { rule level agencies { code } } } "
       "} }")
PAGE = ("query Page($n: Int!) { enterprises(first: $n) { totalCount edges { node { creditCode "
        "name status industry legalRepName" + LISTS + " warning { level } creditGrade { grade } "
        "} } } }")


# --- configuration variants -------------------------------------------------------------


def config_variant(folder: Path, agencies_url: str, name: str, *, cache_ttl_s: float,
                   own_urls: dict[str, str] | None = None) -> Path:
    """The demo configuration with every agency's ``cache_ttl_s`` set (0: no cache),
    next to the data so that its relative paths hold; ``own_urls`` gives HTTP agencies
    served by processes of their own their base URL (agency code -> URL).

    The registry (the agency providing ``enterprise``) keeps at least 60 s: its
    ``cache_ttl_s`` is also the lifetime of the registry index (listing, "enterprises
    this person represents"), which a real deployment never rebuilds per request."""
    from gateway.demo.writer import write_config

    document = yaml.safe_load(write_config(folder, http_base_url=agencies_url)
                              .read_text(encoding="utf-8"))
    for agency in document["agencies"]:
        registry = "enterprise" in agency["provides"]
        agency["cache_ttl_s"] = max(cache_ttl_s, 60.0) if registry else cache_ttl_s
        agency["timeout_s"] = 10  # under wrk the agency process shares a core with wrk
        if own_urls and agency["code"] in own_urls:
            agency["base_url"] = f"{own_urls[agency['code']]}/{agency['code'].lower()}"
    path = folder / f"bench-{name}.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


# --- the gateway process ------------------------------------------------------------------


class Gateway:
    """``gateway serve`` in its own process on ``GATEWAY_CPU``."""

    def __init__(self, config: Path, *options: str, cpus: str = GATEWAY_CPU) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            *pinned(cpus), sys.executable, "-m", "gateway.cli", "serve",
            "--config", str(config), "--port", str(self.port), "--no-graphiql",
            # the benchmark floods one key: rate limits (600/min for a department) off
            "--log-level", "warning", "--no-rate-limits", *options]
        self.log = config.with_suffix(".log")
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the gateway did not start: {self.errors()}")
            time.sleep(0.1)

    def status(self, field: str) -> int:
        """A ``/proc/<pid>/status`` figure in kB (VmRSS, VmHWM)."""
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
        return int(match.group(1)) if match else 0

    def errors(self) -> str:
        """The end of the gateway's log."""
        return self.log.read_text(encoding="utf-8", errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        if self.process.poll() is None:
            self.process.kill()


@contextlib.contextmanager
def gateway(config: Path, *options: str, cpus: str = GATEWAY_CPU) -> Iterator[Gateway]:
    server = Gateway(config, *options, cpus=cpus)
    try:
        yield server
    finally:
        server.stop()


def post(client: httpx.Client, url: str, query: str, variables: dict[str, Any]) -> float:
    """One request; its latency in ms. Fails on any error in the answer."""
    started = time.perf_counter()
    response = client.post(f"{url}/graphql", json={"query": query, "variables": variables},
                           headers=DEPARTMENT)
    elapsed = (time.perf_counter() - started) * 1000
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"the gateway answered with errors: {str(body)[:500]}")
    return elapsed


async def pooled_posts(url: str, query: str, blocks: list[list[str]]) -> list[float]:
    """Each credit code of ``blocks`` asked about with ``query``, one at a time, with the
    client the agencies are measured with (``agency_p50``); latencies in ms. Fails on
    any error in an answer."""
    from connectors.http_pool import HttpPool

    client = HttpPool(connect_timeout_s=30, read_timeout_s=30)
    samples: list[float] = []
    try:
        for block in blocks:
            for code in block:
                body = json.dumps({"query": query, "variables": {"c": code}}).encode()
                started = time.perf_counter()
                status, answer = await client.post_json(f"{url}/graphql", body, DEPARTMENT)
                samples.append((time.perf_counter() - started) * 1000)
                if status != 200 or b'"errors"' in answer:
                    raise RuntimeError(f"the gateway answered with errors: {answer[:500]!r}")
    finally:
        await client.aclose()
    return samples


# --- scenarios ----------------------------------------------------------------------------


def showcase_codes(folder: Path, count: int) -> list[str]:
    """Credit codes of enterprises with records from the HTTP agencies (the court and
    the fire service), the showcase first."""
    from gateway.demo.writer import read_stamp

    stamp = read_stamp(folder) or {}
    codes: list[str] = []
    if isinstance(stamp.get("showcase_credit_code"), str):
        codes.append(stamp["showcase_credit_code"])
    for name in ("court", "fire"):
        rows = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        for records in rows.values():
            for row in records:
                code = row.get("credit_code")
                if code and code not in codes:
                    codes.append(code)
    return codes[:count]


def legal_reps(folder: Path, codes: list[str]) -> dict[str, str]:
    """Each enterprise's legal representative (person id), from the registry's file."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(folder / "samr.db")) as db:
        rows = db.execute("SELECT credit_code, legal_rep_id FROM enterprise").fetchall()
    wanted = set(codes)
    return {code: person for code, person in rows if code in wanted and person}


def agency_p50(urls: dict[str, str], codes: list[str], people: dict[str, str],
               ) -> dict[str, float]:
    """Each HTTP agency's own p50, asked directly for the enterprises the gateway is
    asked about (each once, in the same order): for one call, and for the set of calls
    one enterprise query makes of it (its records by credit code, its legal
    representative's by person id), sent at once as the gateway sends them. ``urls``:
    agency code -> the base URL of its process."""

    def calls(code: str) -> dict[str, list[tuple[str, str, str | None]]]:
        person = people.get(code)
        return {"COURT": [("judgment_default", "credit_codes", code),
                          ("judgment_default", "person_ids", person)],
                "FIRE": [("inspection", "credit_codes", code), ("penalty", "credit_codes", code),
                         ("penalty", "person_ids", person)]}

    async def measure() -> dict[str, float]:
        # asked the way the gateway asks them (its own keep-alive connections): a
        # heavier client here would make the agencies look slower than the gateway
        # finds them (aiohttp's: 0.5 ms more per call at 20 ms)
        from connectors.http_pool import HttpPool

        found: dict[str, float] = {}
        client = HttpPool(connect_timeout_s=30, read_timeout_s=30)
        try:
            async def ask(agency: str, record_type: str, kind: str, key: str | None) -> None:
                url = f"{urls[agency]}/{agency.lower()}/{record_type}/query"
                status, _ = await client.post_json(url, json.dumps(
                    {kind: [key] if key else []}).encode())
                if status != 200:
                    raise RuntimeError(f"{url} answered HTTP {status}")

            for agency in ("COURT", "FIRE"):
                single, together = [], []
                for code in codes:
                    asks = calls(code)[agency]
                    started = time.perf_counter()
                    await ask(agency, *asks[0])
                    single.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    await asyncio.gather(*(ask(agency, *a) for a in asks))
                    together.append((time.perf_counter() - started) * 1000)
                name = agency.lower()
                found[f"{name} (one call)"] = statistics.median(single)
                found[f"{name} ({len(calls(codes[0])[agency])} calls at once)"] = (
                    statistics.median(together))
            everything = []
            for code in codes:  # every call of both agencies at once, as the gateway asks
                started = time.perf_counter()
                await asyncio.gather(*(ask(agency, *a) for agency, asks in calls(code).items()
                                       for a in asks))
                everything.append((time.perf_counter() - started) * 1000)
            count = sum(len(asks) for asks in calls(codes[0]).values())
            found[f"{ALL_AGENCIES} ({count} calls at once)"] = statistics.median(everything)
        finally:
            await client.aclose()
        return found

    return asyncio.run(measure())


def latency(folder: Path, codes: list[str], runs: int = 200) -> dict[str, Any]:
    """``uncached``: every request asks about an enterprise not asked before (no record
    or answer cache can answer any part of it: the registry's record, the SQLite, CSV and
    HTTP agencies are all read; the registry index, built at start, stays); the
    agencies' own p50 is measured for the same enterprises. ``warm``: requests rotate
    over five enterprises whose records are cached. The court and the fire service are
    two processes, as two agencies are (in one process the gateway's five calls queued
    behind each other there, which asking one agency at a time does not show)."""
    fresh, warm_up = codes[:runs], codes[runs:runs + 5]
    people = legal_reps(folder, fresh)
    # the client (this process) with the load, off the gateway's CPU (since 2026-12-03)
    with running_on(LOAD_CPU), \
            http_agencies(folder, latency_ms=AGENCY_LATENCY_MS, cpus=LOAD_CPU,
                          names=("court",)) as court, \
            http_agencies(folder, latency_ms=AGENCY_LATENCY_MS, cpus=LOAD_CPU,
                          names=("fire",)) as fire:
        urls = {"COURT": court, "FIRE": fire}
        sources = agency_p50(urls, fresh, people)
        slowest = max(v for k, v in sources.items() if "at once" in k
                      and not k.startswith(ALL_AGENCIES))
        # both agencies' processes share the load CPU here (agencies of their own
        # machines would not): asked together, each slows the other's answers
        together = next(v for k, v in sources.items() if k.startswith(ALL_AGENCIES))
        slowest_single = max(v for k, v in sources.items() if "one call" in k)
        result: dict[str, Any] = {"agency_p50_ms": {k: round(v, 2) for k, v in sources.items()},
                                  "uncached_enterprises": len(fresh)}
        for name, ttl in (("uncached", 0.0), ("warm", 600.0)):
            # the answer cache off (it would answer the warm case's five enterprises)
            with gateway(config_variant(folder, court, name, cache_ttl_s=ttl, own_urls=urls),
                         "--no-response-cache") as server, \
                    httpx.Client(timeout=30) as client:
                for code in warm_up:  # warm-up (and, with a cache, fill it)
                    post(client, server.url, ONE, {"c": code})
                if name == "uncached":
                    # half the fresh enterprises asked with the agencies' client, half
                    # with httpx's, alternating in blocks of ten
                    blocks = [fresh[i:i + 10] for i in range(0, len(fresh), 10)]
                    samples = asyncio.run(pooled_posts(server.url, ONE, blocks[0::2]))
                    heavy = [post(client, server.url, ONE, {"c": code})
                             for block in blocks[1::2] for code in block]
                else:
                    asked = [warm_up[i % 5] for i in range(runs)]
                    samples = asyncio.run(pooled_posts(server.url, ONE, [asked]))
                    heavy = []
            timing = Timing(samples)
            result[name] = {"p50_ms": round(timing.p50, 2), "p90_ms": round(timing.p90, 2),
                            "ratio_to_slowest_agency": round(timing.p50 / slowest, 3),
                            "ratio_to_agencies_asked_together": round(timing.p50 / together, 3),
                            "ratio_to_one_agency_call": round(timing.p50 / slowest_single, 3)}
            if heavy:
                result[name]["p50_ms_with_httpx_client"] = round(Timing(heavy).p50, 2)
    ratio = result["uncached"]["ratio_to_slowest_agency"]
    result.update(target_ratio=1.10, met=ratio <= 1.10)
    return result


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (uvicorn's workers under ``--workers``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer demo-department-key"
wrk.headers["X-Purpose"] = "INSPECTION"
local bodies = {}
local query = %s
local codes = {%s}
for i, code in ipairs(codes) do
  bodies[i] = '{"query":' .. query .. ',"variables":{"c":"' .. code .. '"}}'
end
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n %% #bodies) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.errors.status, summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), summary.duration))
end
"""


def wrk(url: str, codes: list[str], seconds: int, connections: int = 64,
        watch: dict[str, int] | None = None) -> dict[str, Any]:
    """``wrk`` on ``LOAD_CPU``: requests/s, latency p50/p99, failures."""
    script = WRK_SCRIPT % (json.dumps(json.dumps(ONE)),
                           ",".join(json.dumps(code) for code in codes))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    watched = watch or {}
    used = {name: cpu_seconds(pid) for name, pid in watched.items()}
    try:
        output = subprocess.run(
            [*pinned(LOAD_CPU), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
             "--timeout", "10s", "-s", file.name, f"{url}/graphql"],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout
    finally:
        os.unlink(file.name)
    line = next(line for line in output.splitlines() if line.startswith("RESULT"))
    requests, bad_status, socket_errors, p50_us, p99_us, duration_us = map(int, line.split()[1:])
    busy = {f"{name}_cpu_percent": round(100 * (cpu_seconds(pid) - used[name])
                                         / (duration_us / 1e6))
            for name, pid in watched.items()}
    return {"requests_per_s": round(requests / (duration_us / 1e6)), "requests": requests,
            "non_2xx": bad_status, "socket_errors": socket_errors,
            "p50_ms": round(p50_us / 1000, 1), "p99_ms": round(p99_us / 1000, 1), **busy}


def throughput(folder: Path, codes: list[str], seconds: int = 10) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (apt install wrk)"}
    result: dict[str, Any] = {"connections": 64, "seconds": seconds,
                              "agency_latency_ms": AGENCY_LATENCY_MS}
    pids: list[int] = []
    with http_agencies(folder, latency_ms=AGENCY_LATENCY_MS, cpus=LOAD_CPU, pids=pids) as url:
        cases: list[tuple[str, float, int, tuple[str, ...]]] = [
            ("uncached", 0.0, 800, ()),
            ("warm", 600.0, 2500, ()),  # record cache and answer cache, as deployed
            ("warm, record cache only", 600.0, 2500, ("--no-response-cache",)),
            # two worker processes on both cores (shared with wrk and the agencies: on a
            # two-core machine this cannot show the scaling of two free cores)
            ("uncached, --workers 2", 0.0, 1600, ("--workers", "2")),
        ]
        for name, ttl, target, options in cases:
            config = config_variant(folder, url, name.split(",")[0], cache_ttl_s=ttl)
            cpus = "0,1" if "--workers" in options else GATEWAY_CPU
            with gateway(config, *options, cpus=cpus) as server:
                with httpx.Client(timeout=60) as client:
                    for code in codes:  # every enterprise once (fills the cache if any)
                        post(client, server.url, ONE, {"c": code})
                wrk(server.url, codes, 2)  # warm-up
                watched = {"gateway": server.process.pid, "agencies": pids[0]}
                for n, worker in enumerate(children(server.process.pid)):
                    watched[f"worker{n + 1}"] = worker
                figures = wrk(server.url, codes, seconds, watch=watched)
                with httpx.Client(timeout=30) as client:  # still answering, no errors
                    post(client, server.url, ONE, {"c": codes[0]})
            result[name] = {**figures, "target_rps": target,
                            "met": figures["requests_per_s"] >= target
                            and figures["non_2xx"] == 0}
    return result


def page(folder: Path, runs: int = 15) -> dict[str, Any]:
    with running_on(LOAD_CPU), \
            http_agencies(folder, latency_ms=0, cpus=LOAD_CPU) as url, \
            gateway(config_variant(folder, url, "page", cache_ttl_s=600.0),
                    "--no-response-cache") as server, \
            httpx.Client(timeout=120) as client:
        idle_kb = server.status("VmRSS")
        cold = post(client, server.url, PAGE, {"n": 1000})
        post(client, server.url, PAGE, {"n": 1000})
        samples = [post(client, server.url, PAGE, {"n": 1000}) for _ in range(runs)]
        peak_kb = server.status("VmHWM")
    timing = Timing(samples)
    in_process = asyncio.run(_page_in_process(folder, runs))
    return {
        "caller": "department (SAMR, purpose INSPECTION)",
        "http": {"cold_ms": round(cold, 1), "p50_ms": round(timing.p50, 1),
                 "p90_ms": round(timing.p90, 1)},
        "in_process": in_process,
        "target_p50_ms": 150, "met": timing.p50 <= 150,
        "memory": {"idle_rss_mb": round(idle_kb / 1024, 1),
                   "peak_rss_mb": round(peak_kb / 1024, 1)},
    }


async def _runtime(folder: Path, url: str) -> Any:
    from gateway.config import load_config
    from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
    from gateway.runtime import open_runtime

    config = load_config(config_variant(folder, url, "inproc", cache_ttl_s=600.0))
    runtime = open_runtime(config, policies=PolicyStore(DEFAULT_POLICY_DIR))
    await runtime.index.snapshot()
    return runtime


async def _page_in_process(folder: Path, runs: int) -> dict[str, float]:
    from schema.access import Clearance
    from schema.build import build_schema

    with http_agencies(folder, latency_ms=0, cpus=LOAD_CPU) as url:
        runtime = await _runtime(folder, url)
        schema = build_schema(actions=runtime.rules.actions)
        clearance = Clearance("department", "SAMR", "INSPECTION")
        samples = []
        for run in range(runs + 2):
            started = time.perf_counter()
            result = await schema.execute(PAGE, variable_values={"n": 1000},
                                          context_value=runtime.new_context(clearance))
            if result.errors:
                raise RuntimeError(str(result.errors[:3]))
            if run >= 2:
                samples.append((time.perf_counter() - started) * 1000)
        await runtime.aclose()
    timing = Timing(samples)
    return {"p50_ms": round(timing.p50, 1), "p90_ms": round(timing.p90, 1)}


async def _calls(folder: Path, sizes: tuple[int, ...]) -> dict[str, int]:
    from gateway.policy_files import DEFAULT_POLICY_DIR
    from gateway.rules_files import load_rules
    from schema.access import Clearance
    from schema.build import build_schema

    schema = build_schema(actions=load_rules(DEFAULT_POLICY_DIR).actions)
    found: dict[str, int] = {}
    with http_agencies(folder, latency_ms=0, cpus=LOAD_CPU) as url:
        for size in sizes:
            runtime = await _runtime(folder, url)  # a fresh gateway: an empty record cache
            before = sum(sum(c.calls.values()) for c in runtime.sources.all())
            result = await schema.execute(
                PAGE, variable_values={"n": size},
                context_value=runtime.new_context(Clearance("department", "SAMR",
                                                            "INSPECTION")))
            if result.errors:
                raise RuntimeError(str(result.errors[:3]))
            found[str(size)] = sum(sum(c.calls.values()) for c in runtime.sources.all()) - before
            await runtime.aclose()
    return found


def calls(folder: Path) -> dict[str, Any]:
    per_page = asyncio.run(_calls(folder, (10, 100, 1000)))
    return {"source_calls_per_page": per_page, "constant": len(set(per_page.values())) == 1}


def main(work: Path = Path("bench-results/data")) -> dict[str, Any]:
    folder = district(2000, work / "district-2000")
    codes = showcase_codes(folder, 205)
    result = {
        "setup": (f"gateway: one uvicorn worker on CPU {GATEWAY_CPU} (asyncio's event loop, "
                  "gateway serve's default since 2026-12-03); wrk and the demo's "
                  f"HTTP agencies (court, fire) on CPU {LOAD_CPU}; SQLite and CSV agencies "
                  "read by the gateway; 2,000-enterprise demo district"),
        "latency": latency(folder, codes),
        "throughput": throughput(folder, codes),
        "page": page(folder),
        "calls": calls(folder),
    }
    save("gateway", result)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
