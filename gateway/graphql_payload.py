"""What a GraphQL request asks, read once per request: the query text, the operation
name and the variables, from a POST's JSON body or a GET's query string.

The gate reads it for the access log (hashes of the query and variables) and for
logs, metrics and traces (the operation's name, ``operation_of``). Nothing here
checks the request: the GraphQL view does, and refuses what is malformed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

__all__ = ["Payload", "operation_of", "read_payload"]

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,127}")
# the first operation of a document: skipped whitespace, commas and comments, then
# "{" (an anonymous query) or a keyword and perhaps a name. Possessive quantifiers: a
# text of "#" characters cannot make the match backtrack.
_IGNORED = r"(?:[\s,\ufeff]++|#[^\n\r]*+)*+"
_FIRST = re.compile(_IGNORED + r"(?:(\{)|(query|mutation|subscription)\b" + _IGNORED
                    + r"([_A-Za-z][_0-9A-Za-z]{0,127})?)")


@dataclass(frozen=True, slots=True)
class Payload:
    """A GraphQL request's parts as sent (``None``: not sent, or not a text)."""

    query: str | None = None
    operation_name: str | None = None
    variables: object = None  # whatever JSON the caller sent; never logged
    # a POST body's JSON object as parsed, for the view to answer from without reading
    # the body again (gateway.graphql_view); None for a GET
    body: Mapping[str, Any] | None = field(default=None, compare=False)


EMPTY = Payload()


def read_payload(body: bytes, query_string: bytes = b"") -> Payload:
    """The parts of a POST's JSON ``body``, or of a GET's ``query_string`` when the
    body is empty; an empty ``Payload`` when neither holds a JSON object or a query."""
    if body:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deeply
            return EMPTY
        if not isinstance(document, dict):
            return EMPTY
        variables = document.get("variables")
    elif query_string:
        params = parse_qs(query_string.decode("utf-8", "replace"))
        document = {name: values[0] for name, values in params.items()}
        variables = document.get("variables")
        if isinstance(variables, str):
            try:
                variables = json.loads(variables)
            except (ValueError, RecursionError):
                variables = None
    else:
        return EMPTY
    query, name = document.get("query"), document.get("operationName")
    return Payload(query if isinstance(query, str) else None,
                   name if isinstance(name, str) else None, variables,
                   document if body else None)


def operation_of(payload: Payload) -> str:
    """The operation's name for logs and metrics: ``operationName`` when it is a
    GraphQL name, else the name of the document's first operation, else its type
    (``query`` for ``{ … }``), else ``-``."""
    name = payload.operation_name
    if name and _NAME.fullmatch(name):
        return name
    if payload.query is None:
        return "-"
    first = _FIRST.match(payload.query)
    if first is None:
        return "-"
    if first.group(1):
        return "query"
    return first.group(3) or first.group(2)
