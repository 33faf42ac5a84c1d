"""A load asked ahead (``Loaders.fetch_soon``) is never asked again: not while its
shared call is in flight (the call is joined), and not between the call's end and
the moment its answer is kept in the request's loaders (then the answer is used)."""

from __future__ import annotations

import asyncio
import dataclasses

from conftest import Demo
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.runtime import open_runtime
from schema.coalesce import SourceCoalescer
from schema.loaders import Loaders


async def test_a_key_asked_ahead_is_not_asked_again_after_its_call_ended(demo: Demo) -> None:
    agencies = tuple(dataclasses.replace(a, cache_ttl_s=0) for a in demo.config.agencies)
    runtime = open_runtime(dataclasses.replace(demo.config, agencies=agencies),
                           policies=PolicyStore(DEFAULT_POLICY_DIR))
    try:
        court = runtime.sources.get("COURT")
        assert court is not None
        coalescer = SourceCoalescer()
        code = demo.showcase
        for later in ("fetch", "load"):
            loaders = Loaders(coalescer=coalescer)
            before = sum(court.calls.values())
            ahead = loaders.fetch_soon(court, "judgment_default", "credit_code", [code])
            assert ahead is not None
            await asyncio.sleep(0)  # the shared call starts ...
            (call,) = coalescer._tasks
            await call  # ... and ends: no longer joinable, and its answer is not kept in
            # the loaders yet (that is the answer's own callback, after this one)
            if later == "fetch":
                found = (await loaders.fetch(court, "judgment_default", "credit_code",
                                             [code]))[0]
            else:
                found = await loaders.load(court, "judgment_default", "credit_code", code)
            assert found == (await ahead)[0]
            assert found and sum(court.calls.values()) == before + 1
    finally:
        await runtime.aclose()
