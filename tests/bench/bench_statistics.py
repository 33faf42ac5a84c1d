"""Statistics (决策分析) over a 100,000-enterprise district (target: <= 2 s warm).

- ``statistics(groupBy: [DISTRICT, WARNING_LEVEL])``: enterprises, with every
  enterprise's warning through the caller's view;
- ``statistics(groupBy: [AGENCY, RECORD_TYPE])``: every regulatory record counted;
- the public's ``statistics(groupBy: [DISTRICT, MONTH])``: records, protected;
- ``statisticsTrend(groupBy: [WARNING_LEVEL], months: 24)``: 24 days of warnings, for
  one district (a dashboard) and for the whole registry.

The HTTP agencies run in their own process; cold = first query of a fresh gateway
(registry indexed and the heap frozen, as at the start of ``gateway serve``; each
query's first run, so the first one also reads every risk record), warm = later runs.

    python tests/bench/run.py statistics
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import time
from pathlib import Path
from typing import Any

from harness import Timing, district, http_agencies, save

QUERIES = {
    "district_x_warning": ("department", """{ statistics(groupBy: [DISTRICT, WARNING_LEVEL])
      { unit total cells { keys count } } }"""),
    "agency_x_record_type": ("department", """{ statistics(groupBy: [AGENCY, RECORD_TYPE])
      { unit total cells { keys count } } }"""),
    "public_district_x_month": ("public", """{ statistics(groupBy: [DISTRICT, MONTH])
      { unit total suppressedCells cells { keys count suppressed } } }"""),
    "trend_24_months_one_district": ("department", """{ statisticsTrend(
      groupBy: [WARNING_LEVEL], filter: {districtCode: "110102"}, months: 24) {
      asOf total cells { keys count } } }"""),
    "trend_24_months_whole_registry": ("department", """{ statisticsTrend(
      groupBy: [WARNING_LEVEL], months: 24) { asOf total cells { keys count } } }"""),
}
# a whole-registry trend takes tens of seconds: one warm run of it
RUNS = {"trend_24_months_whole_registry": 1}


def _summary(answer: dict[str, Any]) -> dict[str, Any]:
    if "statisticsTrend" in answer:
        points = answer["statisticsTrend"]
        return {"months": len(points), "first_total": points[0]["total"],
                "last_total": points[-1]["total"]}
    figures = answer["statistics"]
    found = {"unit": figures["unit"], "total": figures["total"],
             "cells": len(figures["cells"])}
    if "suppressedCells" in figures:
        found["suppressed_cells"] = figures["suppressedCells"]
    return found


async def _measure(folder: Path, agencies_url: str, runs: int) -> dict[str, Any]:
    from gateway.config import load_config
    from gateway.demo.writer import write_config
    from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
    from gateway.runtime import open_runtime
    from schema.access import Clearance
    from schema.build import build_schema

    config = load_config(write_config(folder, http_base_url=agencies_url))
    # a whole-registry read asks each HTTP agency for 100,000 keys at once (bench_risk)
    config = dataclasses.replace(config, agencies=tuple(
        dataclasses.replace(agency, timeout_s=30.0) for agency in config.agencies))
    policies = PolicyStore(DEFAULT_POLICY_DIR)
    runtime = open_runtime(config, policies=policies)
    full = build_schema(actions=runtime.rules.actions)
    public_schema = build_schema(actions=runtime.rules.actions,
                                 without=policies.current().classes.above_open())
    await runtime.index.snapshot()
    gc.collect()
    gc.freeze()
    callers = {"department": (Clearance("department", "SAMR", "STATISTICS"), full),
               "public": (Clearance("public"), public_schema)}
    results: dict[str, Any] = {}
    load = [round(figure, 2) for figure in os.getloadavg()]  # the machine is shared
    for name, (who, query) in QUERIES.items():
        clearance, schema = callers[who]
        samples, cpu = [], []
        answer: Any = None
        for _ in range(RUNS.get(name, runs) + 1):
            started, started_cpu = time.perf_counter(), time.process_time()
            result = await schema.execute(query, context_value=runtime.new_context(clearance))
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            assert result.errors is None, result.errors
            answer = result.data
        # CPU time too: the machine is shared, wall time rises with its load
        results[name] = {"caller": who, "cold_ms": round(samples[0], 1),
                         "warm_p50_ms": round(Timing(samples[1:]).p50, 1),
                         "warm_cpu_p50_ms": round(Timing(cpu[1:]).p50, 1),
                         **_summary(answer)}
    await runtime.aclose()
    gc.unfreeze()
    return {"scenario": "100,000-enterprise district, HTTP agencies in their own process",
            "runs": runs, "target_warm_ms": 2000, "load_average_before": load, **results}


def main(runs: int = 3, work: Path = Path("bench-results/data")) -> dict[str, Any]:
    folder = district(100_000, work / "district-100000")
    with http_agencies(folder) as url:
        result = asyncio.run(_measure(folder, url, runs))
    save("statistics", result)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
