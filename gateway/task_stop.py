"""Stopping background tasks for good at shutdown.

``task.cancel()`` asks once. A library on the task's way may swallow that one
``CancelledError`` (a cancellation that arrives just as an inner operation ends is
easily lost); the task then carries on - a leader's polling loop sleeps and polls
again - and ``await task`` never returns: a replica once hung in its shutdown so.
``stop_tasks`` asks again until every task has ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

__all__ = ["stop_tasks"]

log = logging.getLogger(__name__)


async def stop_tasks(tasks: Iterable[asyncio.Task[object]], *, again_s: float = 0.5) -> None:
    """Cancel ``tasks`` and wait until each has ended, cancelling again every
    ``again_s`` any that is still running. A task that ended with an exception is
    logged, not raised: shutdown goes on."""
    pending = set(tasks)
    for task in pending:
        task.cancel()  # nothing for a task that has ended
    while pending:
        done, pending = await asyncio.wait(pending, timeout=again_s)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("task %s ended with %r", task.get_name(), task.exception())
        for task in pending:
            log.warning("task %s did not stop when cancelled; cancelling it again",
                        task.get_name())
            task.cancel()
