"""Shared pieces of the benchmarks: a demo district on disk, its HTTP agencies in a
separate process (so they do not share the gateway's core), timing helpers."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def district(enterprises: int, folder: Path) -> Path:
    """Generate (once per size) a demo district; return its folder."""
    from gateway.demo.generate import generate_district
    from gateway.demo.writer import stamp_matches, write_demo

    if not stamp_matches(folder, seed=20261123, enterprises=enterprises):
        write_demo(generate_district(enterprises=enterprises), folder,
                   http_base_url="http://127.0.0.1:1/unused")
    return folder


@contextlib.contextmanager
def http_agencies(folder: Path, *, latency_ms: float = 0.0, cpus: str | None = None,
                  pids: list[int] | None = None,
                  names: tuple[str, ...] = ("court", "fire")) -> Iterator[str]:
    """The demo's HTTP agencies ``names`` in their own process (on ``cpus`` when given,
    e.g. ``"1"``, with ``taskset``); yields their base URL (and appends the process id
    to ``pids`` when given)."""
    port = free_port()
    command = [*pinned(cpus), sys.executable, "-m", "gateway.demo.agency_service",
               "--port", str(port), "--latency-ms", str(latency_ms)]
    for name in names:
        command += ["--data", str(folder / f"{name}.json")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if pids is not None:
        pids.append(process.pid)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/{names[0]}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the agency service did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running_on(cpus: str) -> Iterator[None]:
    """This process (the benchmark's own client) on ``cpus`` (e.g. ``"1"``) meanwhile:
    a client free to run on the gateway's CPU takes it from the gateway whenever the
    gateway's answer wakes it (the answer's header and body are two writes), which
    costs a request about 0.5 ms that no caller on another machine pays."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(cpu) for cpu in cpus.split(",")})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def pinned(cpus: str | None) -> list[str]:
    """The command prefix that runs a process on ``cpus`` (nothing when None)."""
    return [] if cpus is None else ["taskset", "-c", cpus]


@dataclass(frozen=True)
class Timing:
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p90(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[int(0.9 * (len(ordered) - 1))]


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import os

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    result = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), **result}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
