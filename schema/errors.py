"""Errors callers see. Each has a stable ``extensions.code`` and a message that says
what to do next. Anything else raised while resolving is masked (see ``schema.build``).

    GraphError                 (a GraphQLError the caller is meant to see)
    ├── InvalidCreditCode      INVALID_CREDIT_CODE
    ├── BadUserInput           BAD_USER_INPUT
    ├── FilterNotAllowed       FILTER_NOT_ALLOWED (a filter on a value the caller may not read)
    ├── Forbidden              FORBIDDEN (restriction decisions, the access log)
    ├── AuditUnavailable       AUDIT_UNAVAILABLE (no access log to read)
    └── SourceUnavailableError SOURCE_UNAVAILABLE (one per failed agency)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError

from connectors.credit_code import credit_code_problem

__all__ = [
    "AuditUnavailable",
    "BadUserInput",
    "FilterNotAllowed",
    "Forbidden",
    "GraphError",
    "InvalidCreditCode",
    "SourceUnavailableError",
    "require_credit_code",
]


class GraphError(GraphQLError):
    """Base of errors shown to callers as they are."""

    code = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        path: Sequence[str | int] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(message, path=path, extensions={"code": self.code, **extensions})


class InvalidCreditCode(GraphError):
    code = "INVALID_CREDIT_CODE"


class BadUserInput(GraphError):
    code = "BAD_USER_INPUT"


class FilterNotAllowed(GraphError):
    code = "FILTER_NOT_ALLOWED"


class Forbidden(GraphError):
    code = "FORBIDDEN"


class AuditUnavailable(GraphError):
    code = "AUDIT_UNAVAILABLE"


class SourceUnavailableError(GraphError):
    code = "SOURCE_UNAVAILABLE"


def require_credit_code(value: str) -> str:
    """``value`` upper-cased when it is a valid credit code; ``InvalidCreditCode`` otherwise."""
    code = value.strip().upper()
    problem = credit_code_problem(code)
    if problem is not None:
        raise InvalidCreditCode(
            f"{value!r} is not a valid unified social credit code (统一社会信用代码): {problem}. "
            "Check the 18 characters against GB 32100-2015.",
            creditCode=value,
        )
    return code
