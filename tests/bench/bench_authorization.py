"""Authorization on / off: a page of 1,000 enterprises with every record list, and
the same page with every warning and credit grade too (computed from each caller's
view: copies of the records with hidden values null).

Sources are instant (SQLite, CSV, and HTTP agencies with no added latency in their
own process). The gateway runs in this process; each run is a fresh request
context (new loaders), the registry index warm. Target: on / off <= 1.25.

    python tests/bench/run.py authorization
"""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path
from typing import Any

from harness import Timing, district, http_agencies, save

PAGE = """{ enterprises(first: 1000) { totalCount edges { node {
  creditCode name status industry legalRepName
  licences { recordId agency { code } openness riskLevel licenceNo status validTo }
  penalties { recordId agency { code } openness riskLevel decisionNo penaltyType amount decidedOn }
  anomalies { recordId agency { code } openness riskLevel reason listedOn removedOn }
  seriousViolations { recordId agency { code } openness riskLevel reason listedOn }
  judgmentDefaults { recordId agency { code } openness riskLevel caseNo performance }
  inspections { recordId agency { code } openness riskLevel inspectedOn result }
} } } }"""
PAGE_RISK = PAGE.replace("creditCode name status industry legalRepName", """creditCode name
  status industry legalRepName warning { level reasons { rule evidence { recordId } } }
  creditGrade { grade basis }""")


async def _measure(folder: Path, agencies_url: str, runs: int, page: str,
                   scenario: str) -> dict[str, Any]:
    from gateway.config import load_config
    from gateway.demo.writer import write_config
    from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
    from gateway.rules_files import load_rules
    from gateway.runtime import open_runtime
    from schema.access import Clearance
    from schema.build import build_schema

    config = load_config(write_config(folder, http_base_url=agencies_url))
    policies = PolicyStore(DEFAULT_POLICY_DIR)
    actions = load_rules(DEFAULT_POLICY_DIR).actions
    full = build_schema(actions=actions)
    public_schema = build_schema(actions=actions,
                                 without=policies.current().classes.above_open())
    cases: dict[str, tuple[Any, Any, Clearance]] = {
        "off": (open_runtime(config, policies=None), full, Clearance("admin")),
        "admin": (open_runtime(config, policies=policies), full, Clearance("admin")),
        "department": (open_runtime(config, policies=policies), full,
                       Clearance("department", "TAX", "INSPECTION")),
        "public": (open_runtime(config, policies=policies), public_schema, Clearance("public")),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    records: dict[str, int] = {}
    for runtime, _, _ in cases.values():
        await runtime.index.snapshot()
    for round_number in range(runs + 2):  # interleaved, two warm-up rounds
        for name, (runtime, schema, clearance) in cases.items():
            gc.collect()
            started = time.perf_counter()
            result = await schema.execute(page, context_value=runtime.new_context(clearance))
            elapsed = (time.perf_counter() - started) * 1000
            assert result.errors is None, result.errors
            if round_number >= 2:
                samples[name].append(elapsed)
            edges = result.data["enterprises"]["edges"]
            records[name] = sum(len(v) for e in edges for v in e["node"].values()
                                if isinstance(v, list))
    for runtime, _, _ in cases.values():
        await runtime.aclose()
    timings = {name: Timing(values) for name, values in samples.items()}
    off = timings["off"].p50
    return {
        "scenario": scenario,
        "runs": runs,
        "p50_ms": {name: round(t.p50, 1) for name, t in timings.items()},
        "p90_ms": {name: round(t.p90, 1) for name, t in timings.items()},
        "records_returned": records,
        "ratio_on_off": {name: round(t.p50 / off, 3) for name, t in timings.items()
                         if name != "off"},
        "target_ratio": 1.25,
    }


def main(runs: int = 15, work: Path = Path("bench-results/data")) -> dict[str, Any]:
    folder = district(2000, work / "district-2000")
    with http_agencies(folder) as url:
        lists = asyncio.run(_measure(
            folder, url, runs, PAGE,
            "page of 1,000 enterprises, all record lists, sources instant"))
        risk = asyncio.run(_measure(
            folder, url, runs, PAGE_RISK,
            "page of 1,000 enterprises, all record lists, warnings and grades, sources instant"))
    result = {"lists": lists, "lists_warnings_grades": risk}
    save("authorization", result)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
