"""Extension hooks sorted out once per class (``schema.extension_hooks``) run exactly
as strawberry's own runner runs them: every kind of hook, in the same order, around
the same phases, for answers, refused queries and failing resolvers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

from schema.extension_hooks import ExtensionHooks, HookedExtensionsRunner

events: list[str] = []


class Generators(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        events.append("generator operation in")
        yield
        events.append("generator operation out")

    def on_execute(self) -> Iterator[None]:
        events.append("generator execute in")
        try:
            yield
        finally:
            events.append("generator execute out")


class AsyncGenerators(SchemaExtension):
    async def on_parse(self) -> AsyncIterator[None]:
        events.append("async generator parse in")
        yield
        events.append("async generator parse out")

    async def on_validate(self) -> AsyncIterator[None]:
        events.append("async generator validate in")
        yield
        events.append("async generator validate out")


class Callables(SchemaExtension):
    def on_validate(self) -> None:  # type: ignore[override]
        events.append("callable validate")

    async def on_execute(self) -> None:  # type: ignore[override]
        events.append("coroutine execute")

    def get_results(self) -> dict[str, Any]:
        return {"seen": len(events)}


class Silent(SchemaExtension):
    """Overrides nothing: no hook at all."""


class AsyncReport(SchemaExtension):
    async def get_results(self) -> dict[str, Any]:
        return {"asynchronous": True, "seen": -1}  # "seen" overrides Callables' (order)


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        events.append("resolver")
        return "hi"

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("broken on purpose")


class Hooked(strawberry.Schema):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hooks = ExtensionHooks()

    def create_extensions_runner(self, execution_context: ExecutionContext,
                                 extensions: list[SchemaExtension]) -> SchemaExtensionsRunner:
        return HookedExtensionsRunner(execution_context, extensions, self.hooks)


EXTENSIONS = [Generators, AsyncGenerators, Callables, Silent, AsyncReport]


@pytest.mark.parametrize("query", ["{ hello }", "{ broken }", "{ nope }", "{ hello",
                                   "mutation { hello }"])
async def test_hooks_run_as_strawberrys_runner_runs_them(query: str) -> None:
    runs = []
    for schema_class in (strawberry.Schema, Hooked):
        schema = schema_class(query=Query, extensions=EXTENSIONS)
        for _ in range(2):  # the second time from the classes' sorted-out hooks
            events.clear()
            result = await schema.execute(query)
            runs.append((list(events), result.data,
                         [error.message for error in result.errors or []], result.extensions))
    assert runs[0] == runs[1] == runs[2] == runs[3]
    assert runs[0][3] == {"seen": -1, "asynchronous": True}
    if query == "{ hello }":
        assert runs[0][0] == [
            "generator operation in", "async generator parse in", "async generator parse out",
            "async generator validate in", "callable validate", "async generator validate out",
            "generator execute in", "coroutine execute", "resolver", "generator execute out",
            "generator operation out"]


def test_each_class_and_hook_is_sorted_out_once() -> None:
    hooks = ExtensionHooks()
    first = hooks.factory(Generators, "on_operation")
    assert first is not None and first[1] is False
    assert hooks.factory(Generators, "on_operation") is first
    assert hooks.factory(Silent, "on_operation") is None
    parse = hooks.factory(AsyncGenerators, "on_parse")
    assert parse is not None and parse[1] is True
    execute = hooks.factory(Callables, "on_execute")
    assert execute is not None and execute[1] is True
    assert [hooks.reports(c) for c in EXTENSIONS] == [False, False, True, False, True]


def test_a_hook_that_is_not_callable_is_refused_as_strawberry_refuses_it() -> None:
    class Broken(SchemaExtension):
        on_execute = 3  # type: ignore[assignment]

    with pytest.raises(ValueError, match="must be callable"):
        ExtensionHooks().factory(Broken, "on_execute")
