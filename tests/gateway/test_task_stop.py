"""Background tasks stop at shutdown even when a cancellation is swallowed on their way
(gateway.task_stop): a replica once hung in its lifespan's end, its leader loop
sleeping on after the one cancellation was lost inside a poll."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway.leader import LeaderLock, lead
from gateway.task_stop import stop_tasks


async def _swallows_once(started: asyncio.Event, polls: list[int]) -> None:
    """A loop whose step loses the first cancellation, as a library may."""
    swallowed = False
    while True:
        started.set()
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed = True  # lost here: the loop goes on
        polls.append(1)


async def test_a_task_that_swallowed_its_cancellation_is_cancelled_again_until_it_ends(
        caplog: pytest.LogCaptureFixture) -> None:
    started, polls = asyncio.Event(), []  # type: ignore[var-annotated]
    task = asyncio.create_task(_swallows_once(started, polls), name="poller")
    await started.wait()
    with caplog.at_level(logging.WARNING, logger="gateway.task_stop"):
        await asyncio.wait_for(stop_tasks([task], again_s=0.05), 5)
    assert task.cancelled()
    assert polls  # it did go on after the first cancellation
    assert "task poller did not stop when cancelled" in caplog.text


async def test_the_leaders_loop_stops_though_its_step_swallowed_the_cancellation() -> None:
    """``lead`` as the change feed runs it, its step losing the cancellation once
    (the shutdown hang: cancel once, then await the task for ever)."""
    lock = LeaderLock(None, ttl_s=1.0)
    await lock.attempt()  # without Redis the process leads
    assert lock.is_leader
    stepping = asyncio.Event()
    swallowed = False

    async def step() -> None:
        nonlocal swallowed
        stepping.set()
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed = True

    task = asyncio.create_task(lead(lock, step, 0.01))
    await stepping.wait()
    await asyncio.wait_for(stop_tasks([task], again_s=0.05), 5)
    assert task.done()
    assert swallowed


async def test_tasks_that_ended_on_their_own_or_failed_do_not_stop_the_shutdown(
        caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise RuntimeError("broken")

    async def waits() -> None:
        await asyncio.sleep(60)

    failed = asyncio.create_task(fails(), name="failing")
    finished = asyncio.create_task(asyncio.sleep(0), name="finished")
    waiting = asyncio.create_task(waits(), name="waiting")
    await asyncio.sleep(0.01)
    with caplog.at_level(logging.WARNING, logger="gateway.task_stop"):
        await asyncio.wait_for(stop_tasks([failed, finished, waiting]), 5)
    assert waiting.cancelled() and finished.done() and failed.done()
    assert "did not stop" not in caplog.text
    assert "task failing ended with RuntimeError('broken')" in caplog.text
