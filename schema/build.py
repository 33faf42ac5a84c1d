"""Building the strawberry schema with the gateway's extensions."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from schema.context import RequestContext
from schema.direct_fields import install_direct_resolvers
from schema.error_codes import RequestErrorCodes
from schema.errors import GraphError, SourceUnavailableError
from schema.extension_hooks import ExtensionHooks, HookedExtensionsRunner
from schema.leaf_fields import LeafFieldsExecutionContext
from schema.limits import QueryLimits, limit_extensions
from schema.query import query_type
from schema.rules.model import ActionRules
from schema.shared_plans import SharedPlans, sharing
from schema.validation_memo import ValidationMemo, ValidationMemoExtension

__all__ = ["GatewaySchema", "RedactionReport", "SourceFailureErrors", "build_schema"]

logger = logging.getLogger("schema")

MASKED_MESSAGE = "Internal error: the gateway could not answer this field. It has been logged."


class SourceFailureErrors(SchemaExtension):
    """Adds one ``SOURCE_UNAVAILABLE`` error per agency that failed during the request,
    after execution, so the other agencies' data still arrive with it."""

    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        result = self.execution_context.result
        if not isinstance(context, RequestContext) or result is None:
            return
        failures = context.failures.failures
        if not failures:
            return
        errors = list(result.errors or [])
        for code, failed in failures.items():
            name = context.agencies[code].name if code in context.agencies else code
            errors.append(
                SourceUnavailableError(
                    f"Agency {code} ({name}) is unavailable: {failed.error.reason}. "
                    "Its records are missing from this answer; the other agencies' are complete.",
                    path=list(failed.path),
                    agency=code,
                )
            )
        result.errors = errors


class StaleReport(SchemaExtension):
    """``extensions.stale``: agencies that failed and were answered from a cached copy
    (stale-if-error): ``[{"agency": "COURT", "ageSeconds": 360}]``. ``ageSeconds`` is
    the most the copy may be old (``cache_ttl_s + stale_if_error_s``), not its exact
    age: the record cache is shared, and the exact age would tell the caller when
    somebody else last asked the agency about these keys."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if not isinstance(context, RequestContext) or not context.loaders.stale:
            return {}
        stale = []
        for agency in sorted(context.loaders.stale):
            spec = context.sources.spec(agency)
            stale.append({"agency": agency,
                          "ageSeconds": float(spec.cache_ttl_s + spec.stale_if_error_s)})
        return {"stale": stale}


class RedactionReport(SchemaExtension):
    """``extensions.redacted``: each hidden field path once, with how many values were
    hidden (``[{"path": "enterprise.penalties.personId", "count": 2}]``)."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if not isinstance(context, RequestContext) or not context.view.redactions:
            return {}
        return {
            "redacted": [
                {"path": path, "count": count}
                for path, count in sorted(context.view.redactions.items())
            ]
        }


class ErrorMasking(MaskErrors):
    """strawberry's ``MaskErrors`` without its per-request check against a runtime
    protocol (``isinstance`` with a ``runtime_checkable`` protocol walks the protocol's
    attributes: two such checks were about 3% of a trivial query's CPU). A result with
    an ``errors`` attribute is what that protocol admits; masking is strawberry's."""

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


def _should_mask(error: GraphQLError) -> bool:
    """Mask anything not raised on purpose for the caller (no traces, SQL or paths).

    Not masked: our own errors, graphql-core's (they describe the query), and errors
    without a path, which come from coercing the caller's variables before execution
    (``Variable '$d' got invalid value '2026-13-01'; month must be in 1..12``)."""
    original = error.original_error
    if original is None or isinstance(original, GraphError | GraphQLError):
        return False
    return error.path is not None


class GatewaySchema(strawberry.Schema):
    """Logs unexpected errors once with their traceback; expected ones are not logged.

    With ``without``, the schema leaves out those fields (GraphQL type -> field names):
    the public role's schema has no field classed above OPEN, in introspection or in
    queries.
    """

    def __init__(
        self, *args: Any, without: Mapping[str, frozenset[str]] | None = None,
        validated: ValidationMemo | None = None, **kwargs: Any
    ) -> None:
        self._without = without or {}
        # the validation results its requests share (schema.validation_memo); also
        # which query texts it accepted (schema.early_asks)
        self.validated = validated if validated is not None else ValidationMemo()
        self._hooks = ExtensionHooks()  # each extension class's hooks, sorted out once
        super().__init__(*args, **kwargs)

    def create_extensions_runner(self, execution_context: ExecutionContext,
                                 extensions: list[SchemaExtension]) -> SchemaExtensionsRunner:
        return HookedExtensionsRunner(execution_context, extensions, self._hooks)

    def get_fields(self, type_definition: StrawberryObjectDefinition) -> list[StrawberryField]:
        dropped = self._without.get(type_definition.name, frozenset())
        fields = type_definition.fields
        if not dropped:
            return fields
        return [f for f in fields if to_camel_case(f.python_name) not in dropped]

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if _should_mask(error):
                logger.error("unexpected error at %s", error.path, exc_info=error.original_error)
            _drop_tracebacks(error)


def _drop_tracebacks(error: BaseException) -> None:
    """Forget the tracebacks of ``error``, of its original error and of their causes,
    once logged: each traceback holds the frames that raised, whose locals hold the
    request (its context, its loaders), and the error holds the traceback - a
    reference cycle that kept every failed request alive until the garbage collector's
    next pass (``gateway.heap``). The answer needs only the message, path and code."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending += [current.__cause__, current.__context__,
                    getattr(current, "original_error", None)]


def build_schema(
    without: Mapping[str, frozenset[str]] | None = None, limits: QueryLimits | None = None,
    *, actions: Mapping[str, ActionRules], direct_resolvers: bool = True,
    leaf_fields: bool = True, mutation: type | None = None, subscription: type | None = None,
) -> strawberry.Schema:
    """The gateway's schema. Stateless: everything per request lives in the context.

    ``actions`` is the restriction catalogue (``RuleSet.actions``): the values of
    ``RestrictionAction`` (``schema.actions``); ``without`` leaves fields out (see
    ``GatewaySchema``); ``limits`` bound what one request may ask (default
    ``QueryLimits()``, see ``schema.limits``); ``direct_resolvers`` see
    ``schema.direct_fields`` and ``leaf_fields`` ``schema.leaf_fields`` (off only to
    compare); ``mutation`` the mutation type, if
    any (``schema.mutations.Mutation`` in the full schema); ``subscription`` the
    subscription type (``schema.subscriptions.Subscription``), if any. Parse and
    validation errors carry ``extensions.code`` (``schema.error_codes``)."""
    validated = ValidationMemo(maxsize=512)  # one per schema, shared by its requests
    schema = GatewaySchema(
        query=query_type(actions),
        mutation=mutation,
        subscription=subscription,
        without=without,
        validated=validated,
        extensions=[
            lambda: ParserCache(maxsize=512),
            lambda: ValidationMemoExtension(validated),
            *limit_extensions(limits),
            RequestErrorCodes,
            SourceFailureErrors,
            RedactionReport,
            StaleReport,
            lambda: ErrorMasking(should_mask_error=_should_mask, error_message=MASKED_MESSAGE),
        ],
        # the plans of a query's shape, shared by its requests (schema.shared_plans)
        execution_context_class=(sharing(LeafFieldsExecutionContext, SharedPlans(maxsize=512))
                                 if leaf_fields else None),
    )
    if direct_resolvers:
        install_direct_resolvers(schema._schema)
    return schema
