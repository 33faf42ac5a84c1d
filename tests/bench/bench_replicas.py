"""Replicas behind a load balancer: nginx (``least_conn``, keep-alive to the
gateways) in front of one, then two ``gateway serve`` processes, each pinned to a
core of its own; ``wrk`` at 64 connections through nginx.

    python tests/bench/run.py replicas

Target (issue 14): two replicas give at least 1.8 times the throughput of one. On a
machine with two cores the second replica shares its core with ``wrk``, nginx and the
demo's HTTP agencies, so the figure here is a floor: the JSON keeps every process's
CPU share to show where the cores went.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
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
from harness import district, free_port, http_agencies, save

NGINX_CONF = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  upstream gateways {{
    least_conn;
{servers}
    keepalive 128;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://gateways;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 60s;
    }}
  }}
}}
"""


@contextlib.contextmanager
def nginx(ports: Sequence[int]) -> Iterator[str]:
    """nginx on a free port, balancing over the gateways on ``ports``; its URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as prefix:
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=0;" for p in ports)
        conf = Path(prefix) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=prefix, servers=servers, port=port))
        process = subprocess.Popen(
            ["taskset", "-c", LOAD_CPU, "nginx", "-p", prefix, "-c", str(conf),
             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {process.stderr!r}")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def run_case(folder: Path, agencies: str, codes: list[str], name: str, cache_ttl_s: float,
             replicas: int, seconds: int, agency_pid: int) -> dict[str, Any]:
    config = config_variant(folder, agencies, f"replicas-{name}", cache_ttl_s=cache_ttl_s)
    cores = ["0", "1"][:replicas]
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(gateway(config, "--no-response-cache", cpus=core))
                   for core in cores]
        url = stack.enter_context(nginx([server.port for server in servers]))
        with httpx.Client(timeout=60) as client:
            for code in codes:  # every enterprise once through the balancer (warms caches)
                post(client, url, ONE, {"c": code})
        wrk(url, codes, 2)  # warm-up
        watched = {f"replica{n + 1}": server.process.pid for n, server in enumerate(servers)}
        watched["agencies"] = agency_pid
        return wrk(url, codes, seconds, watch=watched)


def main(work: Path = Path("bench-results/data"), seconds: int = 10) -> dict[str, Any]:
    if shutil.which("nginx") is None or shutil.which("wrk") is None:
        return {"skipped": "needs nginx and wrk (apt install nginx wrk)"}
    folder = district(2000, work / "district-2000")
    codes = showcase_codes(folder, 205)
    result: dict[str, Any] = {
        "setup": ("nginx (1 worker, least_conn, keep-alive) and wrk (64 connections) and the "
                  "demo's HTTP agencies (20 ms) on CPU 1; replica 1 on CPU 0, replica 2 on "
                  "CPU 1; each replica one worker, no answer cache, its own record cache"),
        "agency_latency_ms": AGENCY_LATENCY_MS, "seconds": seconds,
    }
    pids: list[int] = []
    with http_agencies(folder, latency_ms=AGENCY_LATENCY_MS, cpus=LOAD_CPU, pids=pids) as url:
        for name, ttl in (("uncached", 0.0), ("warm record cache", 600.0)):
            one = run_case(folder, url, codes, name.split()[0], ttl, 1, seconds, pids[0])
            two = run_case(folder, url, codes, name.split()[0], ttl, 2, seconds, pids[0])
            ratio = two["requests_per_s"] / max(one["requests_per_s"], 1)
            result[name] = {"one_replica": one, "two_replicas": two,
                            "ratio": round(ratio, 2), "target_ratio": 1.8,
                            "met": ratio >= 1.8}
    save("replicas", result)
    return result
