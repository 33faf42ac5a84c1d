"""Concurrent requests share source calls (``schema.coalesce``): against the real HTTP
court of the user configuration, counting the calls it receives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from conftest import ACME, ACTIONS, BETA, GAMMA
from connectors.base import Connector
from connectors.errors import SourceError
from connectors.registry import build_connector
from gateway.config import load_config
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.runtime import open_runtime
from schema.access import Clearance
from schema.build import build_schema
from schema.coalesce import SourceCoalescer
from schema.loaders import Loaders


@pytest.fixture
async def court(user_agencies: dict[str, Any]) -> AsyncIterator[Connector]:
    config = load_config(user_agencies["config"])
    (spec,) = [spec for spec in config.agencies if spec.code == "COURT"]
    async with httpx.AsyncClient() as client:
        yield build_connector(spec, report=lambda problem: None, http_client=client)


def court_queries(user_agencies: dict[str, Any]) -> int:
    return sum(user_agencies["court"].state.stats.queries.values())


async def test_requests_of_one_moment_share_one_call(
    user_agencies: dict[str, Any], court: Connector
) -> None:
    coalescer = SourceCoalescer()
    alone = await court.fetch("judgment_default", "credit_code", [ACME, BETA, GAMMA])
    before = court_queries(user_agencies)
    answers = await asyncio.gather(
        coalescer.fetch(court, "judgment_default", "credit_code", [ACME, BETA]),
        coalescer.fetch(court, "judgment_default", "credit_code", [GAMMA, ACME]),
        coalescer.fetch(court, "judgment_default", "credit_code", [BETA]),
    )
    assert court_queries(user_agencies) - before == 1
    by_key = dict(zip([ACME, BETA, GAMMA], alone, strict=True))
    assert list(answers) == [[by_key[ACME], by_key[BETA]], [by_key[GAMMA], by_key[ACME]],
                             [by_key[BETA]]]
    assert [r.record_id for r in by_key[ACME]] == ["COURT-1"]  # type: ignore[union-attr]


async def test_a_key_in_flight_is_not_asked_again(
    user_agencies: dict[str, Any], court: Connector
) -> None:
    user_agencies["court"].state.control.latency_s = 0.2  # the first call is slow
    coalescer = SourceCoalescer()
    before = court_queries(user_agencies)
    first = asyncio.ensure_future(coalescer.fetch(court, "judgment_default", "credit_code", [ACME]))
    await asyncio.sleep(0.05)  # the first call is in flight now
    second = await coalescer.fetch(court, "judgment_default", "credit_code", [ACME])
    assert second == await first
    assert court_queries(user_agencies) - before == 1
    # once it has answered, the next request calls again (caching is the cache's job)
    user_agencies["court"].state.control.latency_s = 0.0
    await coalescer.fetch(court, "judgment_default", "credit_code", [ACME])
    assert court_queries(user_agencies) - before == 2


async def test_a_failed_call_fails_every_waiter_and_leaves_nothing_behind(
    user_agencies: dict[str, Any], court: Connector
) -> None:
    user_agencies["court"].state.control.mode = "error_500"
    coalescer = SourceCoalescer()
    answers = await asyncio.gather(
        coalescer.fetch(court, "judgment_default", "credit_code", [ACME]),
        coalescer.fetch(court, "judgment_default", "credit_code", [BETA, ACME]),
    )
    assert all(isinstance(result, SourceError) and result.agency == "COURT"
               for results in answers for result in results)
    user_agencies["court"].state.control.mode = "ok"
    (records,) = await coalescer.fetch(court, "judgment_default", "credit_code", [ACME])
    assert not isinstance(records, SourceError)


async def test_a_cancelled_request_does_not_cancel_the_others(
    user_agencies: dict[str, Any], court: Connector
) -> None:
    user_agencies["court"].state.control.latency_s = 0.2
    coalescer = SourceCoalescer()
    leaving = asyncio.ensure_future(coalescer.fetch(court, "judgment_default", "credit_code",
                                                    [ACME]))
    staying = asyncio.ensure_future(coalescer.fetch(court, "judgment_default", "credit_code",
                                                    [ACME]))
    await asyncio.sleep(0.05)
    leaving.cancel()
    (records,) = await staying
    assert [r.record_id for r in records] == ["COURT-1"]  # type: ignore[union-attr]
    assert leaving.cancelled()


async def test_a_submitted_fetch_is_a_future_shared_across_calls_and_cancellable_alone(
    user_agencies: dict[str, Any], court: Connector
) -> None:
    user_agencies["court"].state.control.latency_s = 0.2
    coalescer = SourceCoalescer()
    before = court_queries(user_agencies)
    tasks_before = len(asyncio.all_tasks())
    leaving = coalescer.submit(court, "judgment_default", "credit_code", [ACME])
    staying = coalescer.submit(court, "judgment_default", "credit_code", [BETA, ACME])
    assert not isinstance(leaving, asyncio.Task) and not isinstance(staying, asyncio.Task)
    await asyncio.sleep(0.05)  # the call is in flight: the only task is the shared one
    assert len(asyncio.all_tasks()) - tasks_before == 1
    leaving.cancel()
    beta, acme = await staying
    assert [r.record_id for r in acme] == ["COURT-1"]  # type: ignore[union-attr]
    assert not isinstance(beta, SourceError)
    assert court_queries(user_agencies) - before == 1


async def test_an_uncached_prefetch_primes_the_request_loaders_from_the_shared_call(
    user_agencies: dict[str, Any], court: Connector
) -> None:
    loaders = Loaders(cache=None, coalescer=SourceCoalescer())
    before = court_queries(user_agencies)
    soon = loaders.fetch_soon(court, "judgment_default", "credit_code", [ACME, BETA])
    assert soon is not None
    acme, _ = await soon
    # answered from the prefetch, without awaiting and without another call
    now = loaders.fetch_now(court, "judgment_default", "credit_code", [ACME])
    assert now == [acme]
    assert await loaders.load(court, "judgment_default", "credit_code", ACME) == acme
    assert court_queries(user_agencies) - before == 1
    # keys this request already has go through ``fetch``, which reuses them
    assert loaders.fetch_soon(court, "judgment_default", "credit_code", [ACME, GAMMA]) is None
    # no coalescer: nothing to share, ``fetch`` it is
    assert Loaders().fetch_soon(court, "judgment_default", "credit_code", [ACME]) is None


async def test_uncached_loads_of_two_requests_share_one_call_without_a_task_of_their_own(
    user_agencies: dict[str, Any], court: Connector
) -> None:
    coalescer = SourceCoalescer()
    first, second = Loaders(coalescer=coalescer), Loaders(coalescer=coalescer)
    before = court_queries(user_agencies)
    tasks_before = len(asyncio.all_tasks())
    loads = [first.load(court, "judgment_default", "credit_code", ACME),
             first.load(court, "judgment_default", "credit_code", BETA),
             second.load(court, "judgment_default", "credit_code", ACME)]
    for _ in range(3):  # the loaders' two turns of gathering keys, then the shared call
        await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) - tasks_before == 1
    acme, _, again = await asyncio.gather(*loads)
    assert [r.record_id for r in acme] == ["COURT-1"] and again == acme
    assert court_queries(user_agencies) - before == 1
    # an agency that fails: each load raises its error, and is asked again next time
    user_agencies["court"].state.control.mode = "error_500"
    failing = Loaders(coalescer=coalescer)
    with pytest.raises(SourceError):
        await failing.load(court, "judgment_default", "credit_code", GAMMA)
    user_agencies["court"].state.control.mode = "ok"
    records = await Loaders(coalescer=coalescer).load(court, "judgment_default", "credit_code",
                                                      GAMMA)
    assert records and all(record.credit_code == GAMMA for record in records)


async def test_concurrent_queries_of_different_callers_share_calls_but_not_views(
    user_agencies: dict[str, Any],
) -> None:
    """Ten concurrent queries: the court is asked once per record type and key column;
    each caller still gets its own view (the department of REG sees no more than
    admin, the public schema path is not involved here)."""
    config = load_config(user_agencies["config"])
    runtime = open_runtime(config, policies=PolicyStore(DEFAULT_POLICY_DIR))
    schema = build_schema(actions=ACTIONS)
    query = """query($c: String!) { enterprise(creditCode: $c) {
      judgmentDefaults(period: ALL) { recordId } penalties(period: ALL) { recordId } } }"""
    await runtime.index.snapshot()
    before = court_queries(user_agencies)
    clearances = [Clearance("admin"), Clearance("department", "REG", "INSPECTION")] * 5
    results = await asyncio.gather(*(
        schema.execute(query, variable_values={"c": ACME},
                       context_value=runtime.new_context(clearance))
        for clearance in clearances
    ))
    await runtime.aclose()
    assert all(result.errors is None for result in results)
    assert court_queries(user_agencies) - before <= 2  # by credit code; by person at most
    admin = results[0].data
    assert admin is not None
    assert all(result.data == admin for result in results[::2])


async def test_asking_the_same_keys_again_in_one_request_shares_the_first_answer(
    user_agencies: dict[str, Any], court: Connector
) -> None:
    """An enterprise's early ask and its prefetch join the shared call once: the same
    future, no second waiter; what it answered is at hand afterwards, without a done
    callback per call."""
    loaders = Loaders(cache=None, coalescer=SourceCoalescer())
    before = court_queries(user_agencies)
    early = loaders.fetch_soon(court, "judgment_default", "credit_code", [ACME, BETA])
    assert early is not None
    assert loaders.fetch_soon(court, "judgment_default", "credit_code", [ACME, BETA]) is early
    # other keys, another order or a part: not the same call's answer
    assert loaders.fetch_soon(court, "judgment_default", "credit_code", [BETA, ACME]) is None
    assert loaders.fetch_soon(court, "judgment_default", "credit_code", [ACME]) is None
    assert loaders.fetch_now(court, "judgment_default", "credit_code", [ACME]) is None
    assert not early.done() and not early._callbacks
    acme, beta = await early
    assert loaders.fetch_now(court, "judgment_default", "credit_code", [BETA, ACME]) == [beta,
                                                                                       acme]
    assert court_queries(user_agencies) - before == 1


async def test_a_failed_shared_call_is_asked_again_not_kept(
    user_agencies: dict[str, Any], court: Connector
) -> None:
    loaders = Loaders(cache=None, coalescer=SourceCoalescer())
    early = loaders.fetch_soon(court, "judgment_default", "credit_code", [ACME])
    assert early is not None
    early.cancel()
    await asyncio.sleep(0)
    # the cancelled answer is dropped: the key is asked again, and answered
    again = loaders.fetch_soon(court, "judgment_default", "credit_code", [ACME])
    assert again is not None and again is not early
    [acme] = await again
    assert [r.record_id for r in acme] == ["COURT-1"]  # type: ignore[union-attr]
