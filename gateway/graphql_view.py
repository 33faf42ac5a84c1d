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

A POST whose JSON body the gate has already parsed (``PARSED_BODY`` in the scope) is
answered without strawberry's request handling - its request adapter, a second parse
of the body, a placeholder response, the response object - when the body is what
strawberry would execute as it is (``query`` a string, ``variables`` and
``extensions`` objects or absent, ``operationName`` a string or absent) and the view
streams nothing (no SSE or multipart transport, no ``@defer``/``@stream``): the
schema executes with the same arguments strawberry's ``execute_single`` passes, the
result is processed by the view's ``process_result`` and encoded by its
``encode_json``, refusals are the same, and the answer carries the same status and
headers. Every other request goes through strawberry's view. What it skips was about
7% of the CPU of an uncached enterprise query at 64 connections.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.types import QueryParams
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from gateway.graphql_payload import lone_surrogates
from schema.context import RequestContext

__all__ = ["PARSED_BODY", "GraphQLView", "reads_as_json", "refusal"]

PARSED_BODY = "gateway.parsed_body"  # scope key: a POST's JSON body as the gate parsed it
_POST_OPERATIONS = OperationType.from_http("POST")  # what strawberry lets a POST run
_JSON_TYPE = (b"content-type", b"application/json")

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


def _refused(error: HTTPException) -> JSONResponse:
    return refusal(error.status_code, _CODES.get(error.status_code, "BAD_REQUEST"),
                   error.reason)


def _decoded(data: str | bytes, what: str) -> Any:
    try:
        document = json.loads(data)
    except json.JSONDecodeError as error:
        raise HTTPException(400, f"{what} is not valid JSON: {error.msg} (line "
                                 f"{error.lineno}, column {error.colno}).") from None
    except UnicodeDecodeError:
        raise HTTPException(400, f"{what} is not valid JSON: it is not UTF-8 text.") from None
    except RecursionError:
        raise HTTPException(400, f"{what} is not accepted: its JSON is nested too deeply."
                            ) from None
    if lone_surrogates(document, data):
        raise HTTPException(400, f"{what} is not valid Unicode text: a string holds a lone "
                                 "UTF-16 surrogate (an escape \\ud800-\\udfff without its "
                                 "pair).")
    return document


class GraphQLView(GraphQL[RequestContext, None]):
    """strawberry's ASGI view with the request checks above; subclass it as
    ``strawberry.asgi.GraphQL``, with ``context_for``."""

    _streams: bool | None = None  # whether an answer may stream (set on first use)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        body = scope.get(PARSED_BODY)
        if body is not None and self._executes_as_sent(body):
            await self._answer_parsed(scope, receive, send, body)
            return
        try:
            response: Response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as error:
            response = _refused(error)
        await response(scope, receive, send)

    def context_for(self, scope: Scope) -> RequestContext:
        """The request's context for a request answered without strawberry's view (what
        ``get_context`` returns for the others)."""
        raise NotImplementedError

    def _executes_as_sent(self, body: Mapping[str, Any]) -> bool:
        """Whether strawberry's view would execute this parsed POST body as it is, with
        an answer that is one JSON document (see the module docstring)."""
        if self._streams is None:  # once per view: its transports and the schema's config
            self._streams = bool(self._stream_transport_map) or bool(
                self.schema.config.enable_experimental_incremental_execution)
        return (not self._streams and isinstance(body.get("query"), str)
                and isinstance(body.get("variables"), dict | None)
                and isinstance(body.get("extensions"), dict | None)
                and isinstance(body.get("operationName"), str | None))

    async def _answer_parsed(self, scope: Scope, receive: Receive, send: Send,
                             body: Mapping[str, Any]) -> None:
        """What strawberry's ``run`` answers to this POST (``_executes_as_sent``): its
        ``execute_single`` and ``create_response`` without their request objects."""
        try:
            result = await self.schema.execute(
                body["query"], root_value=None, variable_values=body.get("variables"),
                context_value=self.context_for(scope), operation_name=body.get("operationName"),
                allowed_operation_types=_POST_OPERATIONS,
                operation_extensions=body.get("extensions"))
        except CannotGetOperationTypeError as error:
            response = _refused(HTTPException(400, error.as_http_error_reason()))
        except InvalidOperationTypeError as error:
            response = _refused(HTTPException(400, error.as_http_error_reason("POST")))
        except MissingQueryError:
            response = _refused(HTTPException(400, "No GraphQL query found in the request"))
        else:
            assert isinstance(result, ExecutionResult)  # nothing streams (_executes_as_sent)
            answer = await self.process_result(None, result)  # type: ignore[arg-type]
            if result.errors:
                self._handle_errors(result.errors, answer)
            encoded = self.encode_json(answer)
            content = encoded if isinstance(encoded, bytes) else encoded.encode()
            # starlette's Response(content, 200, media_type="application/json"), as sent
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-length", str(len(content)).encode()), _JSON_TYPE]})
            await send({"type": "http.response.body", "body": content})
            return
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
