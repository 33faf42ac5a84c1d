"""A generated district served end to end, as the README says: ``gateway demo generate``,
``gateway demo serve-agencies``, ``gateway serve --config`` - three real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import free_port
from gateway.cli import main

ROOT = Path(__file__).resolve().parents[3]
QUERY = """query($c: String!) { enterprise(creditCode: $c) {
  judgmentDefaults(period: ALL) { agency { code } } penalties(period: ALL) { agency { code } }
  } sources { code available } }"""


class Command:
    """``gateway ...`` in a process of its own; stopped (and its output kept) at the end."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", *args], cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait_for(self, url: str, status: int = 200, seconds: float = 60) -> httpx.Response:
        deadline = time.monotonic() + seconds
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"exited early:\n{self.stop()}")
            try:
                answer = httpx.get(url, timeout=2)
                if answer.status_code == status:
                    return answer
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{url} did not answer {status}"
            time.sleep(0.2)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        output, _ = self.process.communicate(timeout=20)
        return output


@pytest.fixture
def commands() -> Iterator[list[Command]]:
    started: list[Command] = []
    yield started
    for command in started:
        command.stop()


@pytest.mark.slow
def test_a_generated_district_is_served_with_its_http_agencies(
    tmp_path: Path, commands: list[Command], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "district"
    agencies_port, gateway_port = free_port(), free_port()
    assert main(["demo", "generate", "--out", str(out), "--enterprises", "60",
                 "--http-base-url", f"http://127.0.0.1:{agencies_port}"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    # run exactly what it printed (the port of the gateway added)
    serve_agencies, serve = (line.split()[1:] for line in printed[-2:])
    commands.append(Command(*serve_agencies))
    commands[-1].wait_for(f"http://127.0.0.1:{agencies_port}/health")
    commands.append(Command(*serve, "--port", str(gateway_port)))
    url = f"http://127.0.0.1:{gateway_port}"
    commands[-1].wait_for(f"{url}/readyz")
    showcase = json.loads((out / "demo.json").read_text(encoding="utf-8"))[
        "showcase_credit_code"]
    body = httpx.post(f"{url}/graphql", json={"query": QUERY, "variables": {"c": showcase}},
                      headers={"Authorization": "Bearer demo-admin-key"}, timeout=20).json()
    assert "errors" not in body, body
    assert all(source["available"] for source in body["data"]["sources"]), body
    enterprise = body["data"]["enterprise"]
    assert {r["agency"]["code"] for r in enterprise["judgmentDefaults"]} == {"COURT"}
    assert "FIRE" in {r["agency"]["code"] for r in enterprise["penalties"]}


def test_serve_agencies_on_a_busy_port_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "district"
    assert main(["demo", "generate", "--out", str(out), "--enterprises", "10"]) == 0
    capsys.readouterr()
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        assert main(["demo", "serve-agencies", "--data-dir", str(out), "--port",
                     str(port)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"cannot start: port {port} on 127.0.0.1 is in use (another gateway?); choose "
        f"another with --port"]


def test_serve_agencies_of_a_folder_without_a_district_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "serve-agencies", "--data-dir", str(tmp_path)]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith(f"{tmp_path} is not a generated district: ")
    assert f"'gateway demo generate --out {tmp_path}'" in message
