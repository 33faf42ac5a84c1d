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
    """The keys of one coming connector call and, once made, what it returned. Its
    waiters are told directly when it ends: a future per call with a done callback per
    waiter cost a loop callback per waiter and request (about 110 loop callbacks make
    one uncached enterprise query at 64 connections)."""

    __slots__ = ("answers", "error", "keys", "waiters")

    def __init__(self) -> None:
        self.keys: dict[str, None] = {}
        self.waiters: list[_Waiter] = []
        self.answers: dict[str, KeyResult] | None = None
        self.error: BaseException | None = None  # a bug or a cancellation

    def finish(self) -> None:
        for waiter in self.waiters:
            waiter.one_done(self)
        self.waiters = []


class _Waiter:
    """Completes one caller's future once every call holding one of its keys is done."""

    __slots__ = ("answer", "calls", "keys", "pending")

    def __init__(self, answer: asyncio.Future[list[KeyResult]], keys: list[str],
                 calls: list[_Call]) -> None:
        self.answer, self.keys, self.calls, self.pending = answer, keys, calls, len(calls)
        for call in calls:
            call.waiters.append(self)
        if not calls:
            answer.set_result([])

    def one_done(self, call: _Call) -> None:
        self.pending -= 1
        answer = self.answer
        if answer.done():  # the caller gave up, or an earlier call failed
            return
        error = call.error
        if isinstance(error, asyncio.CancelledError):
            answer.cancel()
        elif error is not None:
            answer.set_exception(error)
        elif self.pending == 0:
            if len(self.calls) == 1:
                found = call.answers
                assert found is not None
                answer.set_result([found[key] for key in self.keys])
            else:
                merged: dict[str, KeyResult] = {}
                for each in self.calls:
                    assert each.answers is not None
                    merged.update(each.answers)
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
        call = self._gathering[slot] = _Call()
        asyncio.get_running_loop().call_soon(self._launch, connector, slot, call)
        return call

    def _launch(self, connector: Connector, slot: _Slot, call: _Call) -> None:
        del self._gathering[slot]  # later keys go into the next call
        task = asyncio.get_running_loop().create_task(self._run(connector, slot, call))
        self._tasks.add(task)  # keep a reference until it ends
        task.add_done_callback(self._tasks.discard)

    async def _run(self, connector: Connector, slot: _Slot, call: _Call) -> None:
        keys = list(call.keys)
        try:
            results = await connector.fetch(slot[1], slot[2], keys)
            call.answers = dict(zip(keys, results, strict=True))
        except SourceError as error:
            # without its traceback: the traceback's frames hold this call, which would
            # hold the error - a reference cycle keeping the failed call's requests
            # alive until the garbage collector's next pass (gateway.heap); the
            # connector has logged the failure
            call.answers = dict.fromkeys(keys, error.with_traceback(None))
        except BaseException as error:  # a bug or a cancellation: every waiter sees it
            call.error = error
            self._done(slot, call)
            raise
        self._done(slot, call)

    def _done(self, slot: _Slot, call: _Call) -> None:
        """The call's keys may be asked again (by a new call); its waiters are told."""
        for key in call.keys:
            if self._in_flight.get((slot, key)) is call:
                del self._in_flight[(slot, key)]
        call.finish()
