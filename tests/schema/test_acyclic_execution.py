"""The execution context's resolver helpers hold it weakly (schema.acyclic_execution):
an executed query is freed by reference counting, and the helpers still do their
work - tracked awaitables are settled, while the executor runs and after it is gone."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import strawberry

from schema.acyclic_execution import AcyclicExecutionContext, acyclic_helpers


def test_an_executed_query_is_freed_without_the_collector() -> None:
    made: list[weakref.ref[Any]] = []
    settled: list[str] = []

    class Recording(AcyclicExecutionContext):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(weakref.ref(self))

    async def side_effect() -> None:
        await asyncio.sleep(0)
        settled.append("tracked")
        raise ValueError("observed, not raised into the answer")

    @strawberry.type
    class Query:
        @strawberry.field
        async def greeting(self, info: strawberry.Info) -> str:
            helpers = info._raw_info.async_helpers
            helpers.track([side_effect()])
            parts = await helpers.gather([asyncio.sleep(0, "你好"), asyncio.sleep(0, "!")])
            return "".join(parts)

    schema = strawberry.Schema(query=Query, execution_context_class=Recording)

    async def run() -> Any:
        result = await schema.execute("{ greeting }")
        await asyncio.sleep(0.01)
        return result

    gc.disable()
    try:
        result = asyncio.run(run())
        assert result.errors is None and result.data == {"greeting": "你好!"}
        assert settled == ["tracked"]
        assert len(made) == 1 and made[0]() is None  # freed, with the collector off
    finally:
        gc.enable()


def test_awaitables_tracked_after_the_executor_is_gone_are_still_settled() -> None:
    class Stand:
        def track_async_work(self, values: Any) -> None:
            raise AssertionError("not called once gone")

    settled: list[int] = []

    async def work(number: int) -> None:
        settled.append(number)

    async def run() -> None:
        executor = Stand()
        helpers = acyclic_helpers(executor)  # type: ignore[arg-type]
        del executor
        helpers.track([work(1), "not awaitable", work(2)])
        await asyncio.sleep(0.01)

    asyncio.run(run())
    assert settled == [1, 2]
