"""strawberry's extension hooks, sorted out once per extension class instead of once
per request.

For each request strawberry builds four context managers (operation, parsing,
validation, execution), and each asks every extension whether it overrides that hook,
inspects the hook (generator? async generator? coroutine function?) and wraps it in a
new ``contextlib`` context manager (``functools.update_wrapper`` included): with the
gateway's nine extensions, 36 inspections and a dozen wrappers per request, about 12%
of the CPU of a trivial query (``{ __typename }``) through the whole app under
cProfile. ``ExtensionHooks`` keeps, per extension class and hook, the context-manager
factory strawberry would make (``contextlib.contextmanager`` of the same function, or
the same call-then-yield wrapper of a plain callable), so a request only binds it to
its extension instances. Entering and leaving use strawberry's own code (an exit stack,
in the extensions' order), so the hooks run exactly as before. After execution only
the extensions whose class overrides ``get_results`` are asked for results (strawberry
asks all nine, each through a coroutine of its own).
"""

from __future__ import annotations

import contextlib
import inspect
from asyncio import iscoroutinefunction
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

__all__ = ["ExtensionHooks", "HookedExtensionsRunner"]

# a context-manager factory taking the extension, and whether it is asynchronous
_Factory = tuple[Callable[[SchemaExtension], Any], bool]


class ExtensionHooks:
    """Per (extension class, hook name): the factory of the hook's context manager, or
    None when the class does not override the hook. One per schema."""

    def __init__(self) -> None:
        self._factories: dict[tuple[type[SchemaExtension], str], _Factory | None] = {}
        self._reports: dict[type[SchemaExtension], bool] = {}

    def factory(self, extension_class: type[SchemaExtension], hook_name: str
                ) -> _Factory | None:
        key = (extension_class, hook_name)
        if key in self._factories:
            return self._factories[key]
        made = self._factories[key] = _factory(extension_class, hook_name)
        return made

    def reports(self, extension_class: type[SchemaExtension]) -> bool:
        """Whether the class overrides ``get_results``."""
        found = self._reports.get(extension_class)
        if found is None:
            found = self._reports[extension_class] = (
                extension_class.get_results is not SchemaExtension.get_results)
        return found


def _factory(extension_class: type[SchemaExtension], hook_name: str) -> _Factory | None:
    """What strawberry's ``ExtensionContextManagerBase.get_hook`` makes of the hook,
    unbound (the same checks, in the same order)."""
    hook: Any = getattr(extension_class, hook_name)
    if hook is getattr(SchemaExtension, hook_name):
        return None
    if inspect.isgeneratorfunction(hook):
        return contextlib.contextmanager(hook), False
    if inspect.isasyncgenfunction(hook):
        return contextlib.asynccontextmanager(hook), True
    if not callable(hook):
        raise ValueError(f"Hook {hook_name} on {extension_class} must be callable, "
                         f"received {hook!r}")
    if iscoroutinefunction(hook):
        @contextlib.asynccontextmanager
        async def awaited(extension: SchemaExtension) -> AsyncIterator[None]:
            await hook(extension)
            yield

        return awaited, True

    @contextlib.contextmanager
    def called(extension: SchemaExtension) -> Iterator[None]:
        hook(extension)
        yield

    return called, False


class _Hooked(ExtensionContextManagerBase):
    """One phase's hooks, bound from ``ExtensionHooks`` (no inspection per request)."""

    __slots__ = ()

    def __init__(self, extensions: list[SchemaExtension], hooks: ExtensionHooks) -> None:
        self.hooks = []
        for extension in extensions:
            found = hooks.factory(type(extension), self.HOOK_NAME)
            if found is not None:
                factory, is_async = found
                self.hooks.append(WrappedHook(extension=extension,
                                              hook=partial(factory, extension),
                                              is_async=is_async))


class _Operation(_Hooked, OperationContextManager):
    __slots__ = ()


class _Validation(_Hooked, ValidationContextManager):
    __slots__ = ()


class _Parsing(_Hooked, ParsingContextManager):
    __slots__ = ()


class _Executing(_Hooked, ExecutingContextManager):
    __slots__ = ()


class HookedExtensionsRunner(SchemaExtensionsRunner):
    """strawberry's runner whose phases take their hooks from ``hooks``."""

    def __init__(self, execution_context: ExecutionContext,
                 extensions: list[SchemaExtension] | None, hooks: ExtensionHooks) -> None:
        super().__init__(execution_context, extensions)
        self._hooks = hooks

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions, self._hooks)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions, self._hooks)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions, self._hooks)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions, self._hooks)

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        """strawberry's, asking only the extensions whose class overrides
        ``get_results`` (the base's answers ``{}``), and awaiting only an awaitable
        answer: not a coroutine per extension per request."""
        data: dict[str, Any] = {}
        for extension in self.extensions:
            if self._hooks.reports(type(extension)):
                found = extension.get_results()
                data.update(await found if inspect.isawaitable(found) else found)
        data.update(ctx.extensions_results)
        return data
