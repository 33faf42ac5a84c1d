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

__all__ = ["Payload", "lone_surrogates", "operation_of", "read_payload"]

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,127}")
# the first operation of a document: skipped whitespace, commas and comments, then
# "{" (an anonymous query) or a keyword and perhaps a name. Possessive quantifiers: a
# text of "#" characters cannot make the match backtrack.
_IGNORED = r"(?:[\s,\ufeff]++|#[^\n\r]*+)*+"
_FIRST = re.compile(_IGNORED + r"(?:(\{)|(query|mutation|subscription)\b" + _IGNORED
                    + r"([_A-Za-z][_0-9A-Za-z]{0,127})?)")

# where a UTF-16 surrogate can enter a JSON text: a \uD800-\uDFFF escape, or its
# UTF-8 form, which ``json.loads`` of bytes lets through ("surrogatepass")
_SURROGATE = re.compile(r"\\[uU][dD][89a-fA-F]|\xed[\xa0-\xbf]".encode("latin-1"))
_SURROGATE_TEXT = re.compile(r"\\[uU][dD][89a-fA-F]|[\ud800-\udfff]")


def lone_surrogates(document: object, text: bytes | str | None = None) -> bool:
    """Whether ``document`` (parsed JSON) holds a string with a lone surrogate
    (``"\\ud800"``): valid JSON, but not Unicode text - it cannot be encoded as UTF-8,
    hashed for the access log or repeated in an answer. Pairs (an emoji written as two
    escapes) are text. Given the JSON ``text`` it was parsed from, a text without a
    surrogate escape is passed at the cost of two substring searches (a quarter of the
    regular expression's time on a 1 KB body)."""
    if isinstance(text, bytes) and (
            (b"\\u" not in text and b"\xed" not in text) or _SURROGATE.search(text) is None):
        return False
    if isinstance(text, str) and _SURROGATE_TEXT.search(text) is None:
        return False
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
    body is empty; an empty ``Payload`` when neither holds a JSON object or a query, or
    when what it holds is not Unicode text (``lone_surrogates``: the view refuses it)."""
    if body:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deeply
            return EMPTY
        if not isinstance(document, dict) or lone_surrogates(document, body):
            return EMPTY
        variables = document.get("variables")
    elif query_string:
        params = parse_qs(query_string.decode("utf-8", "replace"))
        document = {name: values[0] for name, values in params.items()}
        variables = document.get("variables")
        if isinstance(variables, str):
            text = variables
            try:
                variables = json.loads(text)
            except (ValueError, RecursionError):
                variables = None
            if lone_surrogates(variables, text):
                return EMPTY
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
