"""``extensions.code`` on the errors graphql-core reports before any resolver runs, as
Apollo Server and GraphQL Hive do:

    GRAPHQL_PARSE_FAILED       the query text is not GraphQL (a syntax error)
    GRAPHQL_VALIDATION_FAILED  the query does not fit the schema: an unknown field or
                               argument, an argument of the wrong type, an undeclared
                               variable, an enum value that does not exist
                               (``restrictionCheck(action: NO_SUCH_ACTION)``) ...
    BAD_USER_INPUT             a variable's value does not fit its type, or a required
                               variable is missing (``Variable '$d' has invalid value``;
                               ``$action: "NO_SUCH_ACTION"``), as Apollo Server 4 does

An error that already has a code keeps it: the query limits' (``QUERY_TOO_LARGE`` while
parsing, ``QUERY_TOO_DEEP`` and ``TOO_MANY_ALIASES`` in validation) whichever order the
extensions run in. Variable errors are recognised as graphql-core words them: no data,
no path, after validation passed, a message starting ``Variable '$`` (or graphql-core's
``Too many errors processing variables`` after the first 50).

Where: ``on_validate`` notes which errors validation produced; ``on_operation`` gives
the result's errors their codes. A parse error raised through ``ParserCache``'s hook
(it parses inside ``on_parse``) is coded as it passes ``on_operation``. Validation
errors may be ``ValidationCache``'s cached objects, so they are copied, never changed;
a parse error is new on every request (``ParserCache`` caches documents, not
failures) and is coded in place, so that it stays a ``GraphQLSyntaxError``.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

from schema.errors import BadUserInput

__all__ = ["GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "RequestErrorCodes"]

GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
# how graphql-core starts its variable value errors, and the one it adds when it stops
_VARIABLE_ERRORS = ("Variable '$", "Too many errors processing variables")


def _has_code(error: GraphQLError) -> bool:
    return bool((error.extensions or {}).get("code"))


def _code_parse_error(error: GraphQLSyntaxError) -> None:
    if not _has_code(error):
        error.extensions = {**(error.extensions or {}), "code": GRAPHQL_PARSE_FAILED}


def _coded(error: GraphQLError, code: str) -> GraphQLError:
    """``error`` with ``code``, a copy (it may be a cached object); as it is when it
    has a code already."""
    if _has_code(error):
        return error
    return GraphQLError(
        error.message, nodes=error.nodes, source=error.source, positions=error.positions,
        path=error.path, original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": code})


class RequestErrorCodes(SchemaExtension):
    """Parse errors get ``GRAPHQL_PARSE_FAILED``, validation errors
    ``GRAPHQL_VALIDATION_FAILED``, variable errors ``BAD_USER_INPUT`` (see the module)."""

    def __init__(self) -> None:
        super().__init__()
        self._validated = False
        self._invalid: frozenset[int] = frozenset()  # ids of this request's validation errors

    def on_validate(self) -> Iterator[None]:
        yield
        errors = self.execution_context.pre_execution_errors or ()
        self._validated = not errors
        self._invalid = frozenset(map(id, errors))

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLSyntaxError as raised:  # ParserCache parses inside its on_parse hook
            _code_parse_error(raised)
            raise
        result = self.execution_context.result
        if result is None or not result.errors or result.data is not None:
            return
        coded = []
        for error in result.errors:
            if isinstance(error, GraphQLSyntaxError):
                _code_parse_error(error)
            elif id(error) in self._invalid:
                error = _coded(error, GRAPHQL_VALIDATION_FAILED)
            elif (self._validated and error.path is None
                  and error.message.startswith(_VARIABLE_ERRORS)):
                error = _coded(error, BadUserInput.code)
            coded.append(error)
        result.errors = self.execution_context.pre_execution_errors = coded
