"""Source calls shared by concurrent requests.

Each request batches its own loads (``schema.loaders``). Under load many requests ask
the same agency for the same record type at the same moment: ``SourceCoalescer``
joins the keys they ask for within one turn of the event loop into one connector
call, and a key already being fetched is not asked again, its callers wait for the
call in flight. What is shared are raw records, before authorization (like the record
cache), so requests of different callers may share a call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from connectors.base import Connector, KeyResult
from connectors.errors import SourceError

__all__ = ["SourceCoalescer"]

_Slot = tuple[str, str, str]  # agency, record type, key column


class _Call:
    """The keys of one coming connector call and, once made, what it returned."""

    __slots__ = ("done", "keys")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.keys: dict[str, None] = {}
        self.done: asyncio.Future[dict[str, KeyResult]] = loop.create_future()


class _Waiter:
    """Completes one caller's future once every call holding one of its keys is done."""

    __slots__ = ("answer", "calls", "keys", "pending")

    def __init__(self, answer: asyncio.Future[list[KeyResult]], keys: list[str],
                 calls: list[_Call]) -> None:
        self.answer, self.keys, self.calls, self.pending = answer, keys, calls, len(calls)
        for call in calls:
            call.done.add_done_callback(self._one_done)
        if not calls:
            answer.set_result([])

    def _one_done(self, done: asyncio.Future[dict[str, KeyResult]]) -> None:
        self.pending -= 1
        error = None if done.cancelled() else done.exception()  # (seen: no warning later)
        answer = self.answer
        if answer.done():  # the caller gave up, or an earlier call failed
            return
        if done.cancelled():
            answer.cancel()
        elif error is not None:
            answer.set_exception(error)
        elif self.pending == 0:
            if len(self.calls) == 1:
                found = done.result()
                answer.set_result([found[key] for key in self.keys])
            else:
                merged: dict[str, KeyResult] = {}
                for call in self.calls:
                    merged.update(call.done.result())
                answer.set_result([merged[key] for key in self.keys])


class SourceCoalescer:
    """One per running gateway (``Runtime``); never shared across event loops."""

    def __init__(self) -> None:
        self._gathering: dict[_Slot, _Call] = {}
        self._in_flight: dict[tuple[_Slot, str], _Call] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def fetch(
        self, connector: Connector, record_type: str, key_column: str, keys: Sequence[str]
    ) -> list[KeyResult]:
        """What ``connector.fetch`` would return for ``keys``, from a call shared with
        the other requests of this moment (a ``SourceError`` per key when it failed)."""
        return await self.submit(connector, record_type, key_column, keys)

    def submit(
        self, connector: Connector, record_type: str, key_column: str, keys: Sequence[str]
    ) -> asyncio.Future[list[KeyResult]]:
        """``fetch`` as a future of the caller's own: no coroutine or task per caller
        (at 64 connections each request asks a dozen agency/type pairs). Cancelling it
        leaves the shared call to its other callers."""
        slot = (connector.code, record_type, key_column)
        waiting: dict[int, _Call] = {}
        gathering: _Call | None = None
        for key in keys:
            call = self._in_flight.get((slot, key))
            if call is None:
                if gathering is None:
                    gathering = self._gathering.get(slot)
                    if gathering is None:
                        gathering = self._start(connector, slot)
                gathering.keys[key] = None
                call = gathering
                self._in_flight[(slot, key)] = call
            waiting[id(call)] = call
        answer: asyncio.Future[list[KeyResult]] = asyncio.get_running_loop().create_future()
        _Waiter(answer, list(keys), list(waiting.values()))
        return answer

    def _start(self, connector: Connector, slot: _Slot) -> _Call:
        loop = asyncio.get_running_loop()
        call = self._gathering[slot] = _Call(loop)
        loop.call_soon(self._launch, connector, slot, call)
        return call

    def _launch(self, connector: Connector, slot: _Slot, call: _Call) -> None:
        del self._gathering[slot]  # later keys go into the next call
        task = asyncio.get_running_loop().create_task(self._run(connector, slot, call))
        self._tasks.add(task)  # keep a reference until it ends
        task.add_done_callback(self._tasks.discard)

    async def _run(self, connector: Connector, slot: _Slot, call: _Call) -> None:
        keys = list(call.keys)
        answers: dict[str, KeyResult]
        try:
            results = await connector.fetch(slot[1], slot[2], keys)
            answers = dict(zip(keys, results, strict=True))
        except SourceError as error:
            answers = dict.fromkeys(keys, error)
        except BaseException as error:  # a bug or a cancellation: every waiter sees it
            for key in keys:
                if self._in_flight.get((slot, key)) is call:
                    del self._in_flight[(slot, key)]
            if isinstance(error, asyncio.CancelledError):
                call.done.cancel()
            else:
                call.done.set_exception(error)
            raise
        for key in keys:
            if self._in_flight.get((slot, key)) is call:
                del self._in_flight[(slot, key)]
        call.done.set_result(answers)
