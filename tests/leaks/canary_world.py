"""The canary district served by real sources (SQLite, CSV, HTTP on 127.0.0.1), and a
loop to query it from as any clearance, under any policy folder."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import strawberry
from canary_district import plant_canaries

from conftest import ACTIONS, ServerThread
from gateway.config import load_config
from gateway.demo.agency_service import create_sources_app, load_rows
from gateway.demo.generate import generate_district
from gateway.demo.writer import write_config, write_demo
from gateway.policy_files import PolicyStore
from gateway.runtime import Runtime, open_runtime
from schema.access import Clearance
from schema.build import build_schema

__all__ = ["World", "canary_world"]


class World:
    """Queries over the canary district; one runtime per policy folder asked for."""

    def __init__(self, folder: Path, server_url: str, facts: dict[str, Any],
                 codes: list[str], names: list[str], policy: PolicyStore) -> None:
        self.loop = asyncio.new_event_loop()
        self.config = load_config(write_config(folder, http_base_url=server_url))
        self.policy = policy
        self.facts = facts
        self.codes = codes
        self.names = names
        self._runtimes: dict[Path, Runtime] = {}
        self._schemas: dict[Path, tuple[strawberry.Schema, strawberry.Schema]] = {}
        self.runtime = self.runtime_for(policy)

    def runtime_for(self, policy: PolicyStore) -> Runtime:
        runtime = self._runtimes.get(policy.folder)
        if runtime is None:
            runtime = self._runtimes[policy.folder] = self.loop.run_until_complete(
                self._open(policy))
            above_open = policy.current().classes.above_open()
            self._schemas[policy.folder] = (
                build_schema(actions=ACTIONS),
                build_schema(actions=ACTIONS, without=above_open))
        return runtime

    async def _open(self, policy: PolicyStore) -> Runtime:
        runtime = open_runtime(self.config, policies=policy)
        await runtime.index.snapshot()
        return runtime

    def schema_for(self, clearance: Clearance,
                   policy: PolicyStore | None = None) -> strawberry.Schema:
        """The schema the gateway serves this clearance: the public one for the public."""
        self.runtime_for(policy or self.policy)
        full, public = self._schemas[(policy or self.policy).folder]
        return public if clearance.role == "public" else full

    def execute(self, clearance: Clearance, query: str, variables: dict[str, Any],
                policy: PolicyStore | None = None) -> str:
        """The whole response (data, errors, extensions) as JSON text."""
        runtime = self.runtime_for(policy or self.policy)
        schema = self.schema_for(clearance, policy)
        result = self.loop.run_until_complete(
            schema.execute(query, variables, context_value=runtime.new_context(clearance))
        )
        payload = {"data": result.data, "errors": [e.formatted for e in result.errors or ()],
                   "extensions": result.extensions}
        return json.dumps(payload, ensure_ascii=False, default=str)

    def close(self) -> None:
        for runtime in self._runtimes.values():
            self.loop.run_until_complete(runtime.aclose())
        self.loop.close()


@contextmanager
def canary_world(folder: Path, policy: PolicyStore, enterprises: int = 300) -> Iterator[World]:
    """A district of ``enterprises`` with canaries planted, written to ``folder``, its
    HTTP agencies served on 127.0.0.1; closed afterwards."""
    district, facts = plant_canaries(generate_district(enterprises=enterprises),
                                     policy.current().classes)
    write_demo(district, folder, http_base_url="http://127.0.0.1:1/unused")
    rows = {name: load_rows(folder / f"{name}.json") for name in ("court", "fire")}
    server = ServerThread(create_sources_app(rows)).start()
    registry = district.rows["SAMR"]["enterprise"]
    world = World(folder, server.url, facts, [r["credit_code"] for r in registry],
                  [r["name"] for r in registry], policy)
    try:
        yield world
    finally:
        world.close()
        server.stop()
