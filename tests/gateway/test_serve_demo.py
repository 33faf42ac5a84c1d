"""The README's first command: ``gateway serve`` on the bundled demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from conftest import free_port

SHOWCASE = "91110102U7JM5YDH5H"  # the README's first query uses it
QUERY = """query($c: String!) { enterprise(creditCode: $c) {
  name
  licences(period: ALL) { agency { code } } penalties(period: ALL) { agency { code } }
  anomalies(period: ALL) { agency { code } } seriousViolations(period: ALL) { agency { code } }
  judgmentDefaults(period: ALL) { agency { code } } inspections(period: ALL) { agency { code } }
  } sources { code kind available } }"""


def test_serve_demo_answers_from_six_agencies_of_three_kinds_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port),
         "--demo-dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo did not become ready in 60 s"
            time.sleep(0.2)
        page = httpx.get(f"{base}/graphql", headers={"accept": "text/html"}, timeout=5)
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        body = httpx.post(f"{base}/graphql", json={"query": QUERY, "variables": {"c": SHOWCASE}},
                          headers={"Authorization": "Bearer demo-admin-key"}, timeout=10).json()
        assert "errors" not in body, body
        enterprise = body["data"]["enterprise"]
        assert enterprise["name"]
        agencies = {
            record["agency"]["code"]
            for field, records in enterprise.items() if isinstance(records, list)
            for record in records
        }
        assert agencies == {"SAMR", "TAX", "EPB", "FDA", "COURT", "FIRE"}
        kinds = {s["code"]: s["kind"] for s in body["data"]["sources"]}
        assert {kinds[a] for a in agencies} == {"sql", "csv", "http"}
        assert all(s["available"] for s in body["data"]["sources"])
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "Application shutdown complete" in output
    assert "Traceback" not in output
