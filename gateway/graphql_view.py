"""The GraphQL view's answers to requests it cannot run, as JSON with a code.

strawberry's ASGI view refuses a request it cannot read with a plain-text body
(``Unable to parse request body as JSON``) or, for a JSON value that is not an
object, with a 500. ``GraphQLView`` answers every such request in the gateway's
error shape, ``{"errors": [{"message": ..., "extensions": {"code": ...}}]}``:

    415 UNSUPPORTED_MEDIA_TYPE  a POST whose content type is not application/json
    400 BAD_REQUEST             the body is not JSON, not a JSON object (a batch array
                                included), or has no query string; variables or
                                extensions not objects; an unknown operationName
    404 NOT_FOUND               GET without a query when GraphiQL is off

Messages name the problem and the position the JSON parser stopped at, never the
input itself. Which POSTs are read as JSON is strawberry's own test
(``reads_as_json``), which the answer cache shares.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.types import QueryParams

from schema.context import RequestContext

__all__ = ["GraphQLView", "reads_as_json", "refusal"]

_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
          415: "UNSUPPORTED_MEDIA_TYPE"}
_SHOWN = 60  # characters of a content type repeated in a message


def refusal(status: int, code: str, message: str,
            headers: dict[str, str] | None = None) -> JSONResponse:
    """A refused request, in the shape of a GraphQL error."""
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]},
                        status_code=status, headers=headers)


@functools.lru_cache(maxsize=64)  # a handful of distinct values in practice
def reads_as_json(content_type: str) -> bool:
    """Whether strawberry's view reads a POST body with this content type as JSON (its
    own test, in ``AsyncBaseHTTPView.parse_http_body``: case-sensitive, parameters
    ignored). ``GraphQLView`` refuses any other type with 415."""
    mime_type, _ = parse_content_type(content_type)
    return "application/json" in mime_type


def _decoded(data: str | bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except json.JSONDecodeError as error:
        raise HTTPException(400, f"{what} is not valid JSON: {error.msg} (line "
                                 f"{error.lineno}, column {error.colno}).") from None
    except UnicodeDecodeError:
        raise HTTPException(400, f"{what} is not valid JSON: it is not UTF-8 text.") from None
    except RecursionError:
        raise HTTPException(400, f"{what} is not accepted: its JSON is nested too deeply."
                            ) from None


class GraphQLView(GraphQL[RequestContext, None]):
    """strawberry's ASGI view with the request checks above; subclass it as
    ``strawberry.asgi.GraphQL``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response: Response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as error:
            response = refusal(error.status_code, _CODES.get(error.status_code, "BAD_REQUEST"),
                               error.reason)
        await response(scope, receive, send)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        content_type = request.content_type or ""
        if request.method == "POST" and not reads_as_json(content_type):
            shown = repr(content_type[:_SHOWN]) if content_type else "none"
            raise HTTPException(415, "Send the GraphQL request as JSON, with the content type "
                                     f"application/json (the request's was {shown}).")
        return await super().parse_http_body(request)

    def parse_json(self, data: str | bytes) -> Any:
        """A POST body (the only JSON strawberry parses with this method here): one
        operation, as a JSON object with the query text."""
        body = _decoded(data, "The request body")
        if isinstance(body, list):
            raise HTTPException(400, "The request body is a JSON array (a batch of "
                                     "operations); batches are not supported: send one "
                                     "operation per request, as a JSON object.")
        if not isinstance(body, dict):
            raise HTTPException(400, 'The request body must be a JSON object: {"query": "...", '
                                     '"variables": {...}}.')
        if not isinstance(body.get("query"), str):
            raise HTTPException(400, 'The request body has no query: give the GraphQL query '
                                     'text as a string in "query".')
        return body

    def parse_query_params(self, params: QueryParams) -> dict[str, Any]:
        parsed: dict[str, Any] = dict(params)
        for name in ("variables", "extensions"):
            if parsed.get(name):
                parsed[name] = _decoded(parsed[name], f"The {name} parameter")
        return parsed
