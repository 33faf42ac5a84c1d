"""``/graphql``: the gate every GraphQL request passes (``AuthGate``) and the
strawberry view behind it (``GraphQLEndpoint``).

The gate bounds the body, notes the operation (logs, metrics), authenticates the
caller, fails closed when the access log cannot be written, applies the rate limit,
and hands the request to the schema for the caller's role - from the answer cache
when the request is one the view would answer the same way, otherwise after asking a
one-enterprise query's remote agencies (``schema.early_asks``). Each GraphQL request
is appended to the access log with what it returned and how it ended.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from strawberry import Schema
from strawberry.schema import BaseSchema

from gateway.access_capture import EMPTY, Summary, entry_for, request_facts, summary_of
from gateway.answer_json import encode_answer
from gateway.callers import Authenticator, AuthError, Caller
from gateway.graphiql_page import GraphiQLPage
from gateway.graphql_payload import Payload, operation_of, read_payload
from gateway.graphql_view import PARSED_BODY, GraphQLView, reads_as_json, refusal
from gateway.logs import request_id
from gateway.loopback_keys import LoopbackOnlyKeys
from gateway.metrics import GatewayMetrics
from gateway.observation import CALLER, OPERATION, REQUEST_ID, SUMMARY, is_graphql_request
from gateway.platform_store.writer import AccessLogWriter
from gateway.policy_sync import DatabasePolicies
from gateway.rate_limits import RateLimiter, caller_key
from gateway.response_cache import ResponseCache
from gateway.runtime import Runtime
from schema.build import GatewaySchema
from schema.context import RequestContext
from schema.early_asks import ask_before_execution

__all__ = ["AuthGate", "GraphQLEndpoint"]

_CALLER = CALLER  # who called (the access log, gateway.observation)
_CONTEXT = "gateway.context"
_SUMMARY = SUMMARY  # what the answer returned (the access log, metrics)


class GraphQLEndpoint(GraphQLView):
    def __init__(self, schema: Schema, page: GraphiQLPage | None) -> None:
        super().__init__(schema, graphql_ide="graphiql" if page is not None else None)
        self._page = page

    async def render_graphql_ide(self, request: Request) -> Response:
        # called only when a page was given (graphql_ide set)
        assert self._page is not None
        return await self._page.response(request)

    def encode_json(self, data: object) -> bytes:
        return encode_answer(data)  # UTF-8 as it is, orjson (gateway.answer_json)

    async def get_context(self, request: Any, response: Any) -> RequestContext:
        return self.context_for(request.scope)

    def context_for(self, scope: Scope) -> RequestContext:
        """The request's context, made once: by the gate (``ask_early``) or, for a
        request it did not prepare, when strawberry asks for it."""
        made = scope.get(_CONTEXT)
        if isinstance(made, RequestContext):
            return made
        state = scope["app"].state
        runtime: Runtime = state.runtime
        caller: Caller = scope[_CALLER]
        context = runtime.new_context(caller.clearance)
        policies: DatabasePolicies | None = state.policy_sync
        if policies is not None and caller.role == "admin":
            context.policy_admin = policies.admin(caller.principal or "")
        client = scope.get("client")
        address, rid = (client[0] if client else ""), scope.get(REQUEST_ID) or ""
        if runtime.inspections is not None:
            context.inspections = runtime.inspections.for_caller(caller, address, rid)
        if runtime.workflows is not None:
            context.workflows = runtime.workflows.for_caller(caller, address, rid)
        if runtime.pushes is not None:
            context.pushes = runtime.pushes.for_caller(caller, address, rid)
        scope[_CONTEXT] = context  # for the view, and the answer cache after the answer
        return context

    async def ask_early(self, scope: Scope, payload: Payload) -> None:
        """For a one-enterprise query this view will execute, ask its remote agencies
        now (``schema.early_asks``), before strawberry reads the request again and sets
        up its execution: the calls' round trip is most of the answer's latency.

        Only for a query text this schema has accepted before, with variables (if any)
        as a JSON object - what strawberry's view executes with the same body; the
        answers wait in the request's context (``context_for``), which the view then
        uses."""
        schema = self.schema
        if payload.query is None or not isinstance(schema, GatewaySchema):
            return
        document = schema.validated.accepted(payload.query)
        variables = payload.variables
        if document is None or not (variables is None or isinstance(variables, dict)):
            return
        await ask_before_execution(self.context_for(scope), document, payload.operation_name,
                                   variables)


_refuse = refusal  # the gateway's refusals and the view's have one shape


def _answerable_from_cache(method: str | None, headers: Headers) -> bool:
    """Whether the answer cache may answer (and keep the answer to) this request.

    Only a POST whose body the GraphQL view reads as JSON. For such a request the
    view's answer depends on nothing but the body bytes, the caller's clearance, the
    policy and the day — the cache key — so a kept answer is the one the view would
    give, and the view's checks of the body (JSON, an object, ``query`` a string,
    ``variables`` an object, no batch) were passed by the request that made it. Every
    other request (GET, another or no content type) goes to the view, which refuses
    or answers it exactly as without the cache. (The ``Accept`` header would matter
    only with HTTP streaming protocols — SSE, multipart subscriptions — which the
    views do not enable.)
    """
    return method == "POST" and reads_as_json(headers.get("content-type", ""))


def _summarize(scope: Scope) -> Summary:
    """What the request's context returned, kept in the scope for the access log."""
    context = scope.get(_CONTEXT)
    summary = summary_of(context) if isinstance(context, RequestContext) else EMPTY
    scope[_SUMMARY] = summary
    return summary


class AuthGate:
    """Bounds the request body, authenticates the caller, then hands the request to
    the schema for the caller's role — from the answer cache when the request is one
    the view would answer the same way (``_answerable_from_cache``)."""

    def __init__(self, full: GraphQLEndpoint, public: GraphQLEndpoint, max_body_bytes: int,
                 answers: ResponseCache | None, loopback_keys: LoopbackOnlyKeys) -> None:
        self._full = full
        self._public = public
        self._max_body = max_body_bytes
        self._answers = answers
        self._loopback_keys = loopback_keys

    def use_views(self, full: GraphQLEndpoint, public: GraphQLEndpoint) -> None:
        """Serve every role with these from the next request on (the restriction
        catalogue changed: the ``RestrictionAction`` enum of both schemas)."""
        self._full, self._public = full, public

    def use_public(self, public: GraphQLEndpoint) -> None:
        """Serve the public role with ``public`` from the next request on (a field's
        class changed: the public schema gains or loses it)."""
        self._public = public

    def schema_for(self, role: str) -> BaseSchema:
        """The schema ``role`` is served with now (also on the websocket:
        ``gateway.ws_endpoint``)."""
        return (self._public if role == "public" else self._full).schema

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytearray()
        more = scope.get("method") == "POST"
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self._max_body:
                await _refuse(413, "REQUEST_TOO_LARGE",
                              f"The request body is larger than {self._max_body} bytes; "
                              "send a smaller query or fewer variables.")(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self._dispatch(scope, replay, send, bytes(body))

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        """Answer the request and, for a GraphQL request, note its operation (for logs
        and metrics) and append it to the access log with what it returned and how it
        ended (whatever path it took)."""
        log: AccessLogWriter | None = scope["app"].state.access_log
        headers = Headers(scope=scope)
        if not is_graphql_request(scope):
            await self._answer(scope, receive, send, body, headers, None, None)
            return
        payload = read_payload(body, scope.get("query_string", b""))
        scope[OPERATION] = operation_of(payload)
        if log is None:
            await self._answer(scope, receive, send, body, headers, None, payload)
            return
        started = time.perf_counter()
        client = scope.get("client")
        # the id gateway.observation gave the request (and echoes in X-Request-Id)
        rid = scope.get(REQUEST_ID) or request_id(headers.get("x-request-id"))
        facts = request_facts(client[0] if client else "", rid, payload)
        status = 0
        chunks: list[bytes] = []

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self._answer(scope, receive, watch, body, headers, log, payload)
        summary: Summary = scope.get(_SUMMARY) or EMPTY
        log.record(entry_for(facts, scope.get(_CALLER), status, b"".join(chunks), summary,
                             (time.perf_counter() - started) * 1000))

    async def _answer(self, scope: Scope, receive: Receive, send: Send, body: bytes,
                      headers: Headers, log: AccessLogWriter | None,
                      payload: Payload | None) -> None:
        """Authenticate, check, then answer: from the answer cache or the role's view
        (which first asks agencies early, given the GraphQL request's ``payload``)."""
        runtime: Runtime = scope["app"].state.runtime
        authenticator: Authenticator = runtime.authenticator
        try:
            self._loopback_keys.check(headers, scope.get("client"))
            caller = authenticator.caller(headers)
        except AuthError as error:
            if error.caller is not None:
                scope[_CALLER] = error.caller  # who was refused, for the access log
            challenge = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
            await _refuse(error.status, error.code, error.message, challenge)(
                scope, receive, send)
            return
        scope[_CALLER] = caller
        if log is not None and caller.role != "public" and not log.healthy():
            # fail closed (X-Road): who cannot be traced is not served
            await _refuse(503, "AUDIT_UNAVAILABLE",
                          "The access log cannot be written, so only public data is served "
                          "until it can; retry later.", {"Retry-After": "5"})(
                scope, receive, send)
            return
        policies: DatabasePolicies | None = scope["app"].state.policy_sync
        if policies is not None and not await policies.ready():
            # a newer policy version is known here but not loaded yet: never answer
            # under the old one (gateway.policy_sync)
            await _refuse(503, "POLICY_UPDATING",
                          "The access policy is being updated; retry in a moment.",
                          {"Retry-After": "1"})(scope, receive, send)
            return
        over_limit = await self._rate_limited(scope, caller)
        if over_limit is not None:
            await over_limit(scope, receive, send)
            return
        app = self._public if caller.role == "public" else self._full
        json_post = _answerable_from_cache(scope.get("method"), headers)
        if json_post and payload is not None and payload.body is not None:
            scope[PARSED_BODY] = payload.body  # the view answers from it (gateway.graphql_view)
        answers = self._answers
        if answers is None or not json_post:
            if payload is not None:
                await app.ask_early(scope, payload)
            await app(scope, receive, send)
            _summarize(scope)
            return
        key = answers.key(caller.clearance, runtime.policy_version(), runtime.today(), body,
                          runtime.overlay_version())
        kept = answers.get(key)
        metrics: GatewayMetrics = scope["app"].state.metrics
        metrics.answer_cache(hit=kept is not None)
        if kept is not None:
            scope[_SUMMARY] = kept.summary
            await send({"type": "http.response.start", "status": 200,
                        "headers": list(kept.headers)})
            await send({"type": "http.response.body", "body": kept.body})
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        if payload is not None:
            await app.ask_early(scope, payload)
        await app(scope, receive, keep)
        summary = _summarize(scope)
        context = scope.get(_CONTEXT)
        answer = b"".join(chunks)
        if (start.get("status") == 200 and isinstance(context, RequestContext)
                and context.reusable
                and not context.failures.failures and not context.loaders.stale
                and b'"errors":' not in answer):
            answers.put(key, start.get("headers", []), answer, runtime.answer_lifetime(context),
                        summary)

    async def _rate_limited(self, scope: Scope, caller: Caller) -> Response | None:
        """The 429 ``RATE_LIMITED`` refusal when ``caller`` is over its role's rate limit
        (``gateway.rate_limits``), else None: the one place a request is refused so."""
        limiter: RateLimiter | None = scope["app"].state.rate_limiter
        if limiter is None:
            return None
        verdict = await limiter.hit(caller_key(caller.principal, scope.get("client")),
                                    caller.role)
        if verdict.allowed:
            return None
        return _refuse(429, "RATE_LIMITED", verdict.message,
                       {"Retry-After": str(verdict.retry_after)})
