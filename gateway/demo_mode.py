"""``gateway serve`` with no configuration: the bundled demo district.

Data is generated once into a folder (SQLite, CSV and JSON files) and reused; the
configuration is rewritten on each start so the HTTP agencies' URLs match the
port. The two HTTP agencies are real HTTP services mounted on the same server
under ``/demo-agencies/<code>``; the gateway calls them over loopback like any
other agency.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.routing import BaseRoute, Mount

from gateway.demo.agency_service import create_agency_app, load_rows
from gateway.demo.generate import generate_district
from gateway.demo.writer import stamp_matches, write_config, write_demo

__all__ = ["DEMO_ENTERPRISES", "DEMO_SEED", "DemoSetup", "prepare_demo"]

DEMO_SEED = 20261123
DEMO_ENTERPRISES = 2000
HTTP_AGENCIES = ("court", "fire")


@dataclass(frozen=True, slots=True)
class DemoSetup:
    data_dir: Path
    config_path: Path
    routes: tuple[BaseRoute, ...]


def prepare_demo(data_dir: Path, *, host: str, port: int) -> DemoSetup:
    """Generate the demo once, write its configuration for ``host:port``, mount its
    HTTP agencies."""
    loopback = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost") else host
    base_url = f"http://{loopback}:{port}/demo-agencies"
    if not stamp_matches(data_dir, seed=DEMO_SEED, enterprises=DEMO_ENTERPRISES):
        district = generate_district(seed=DEMO_SEED, enterprises=DEMO_ENTERPRISES)
        write_demo(district, data_dir, http_base_url=base_url)
    config_path = write_config(data_dir, http_base_url=base_url)
    routes = tuple(
        Mount(f"/demo-agencies/{name}", app=create_agency_app(load_rows(data_dir / f"{name}.json")))
        for name in HTTP_AGENCIES
    )
    return DemoSetup(data_dir.resolve(), config_path, routes)
