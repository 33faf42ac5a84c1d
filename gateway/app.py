"""The ASGI application: ``POST /graphql`` (GraphiQL on GET), ``/readyz``, ``/healthz``.

Every GraphQL request is authenticated first (``gateway.callers``); the public
role is served by a schema without the fields classed above OPEN, every other
role by the full schema. Both resolve through the caller's ``AccessView``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send
from strawberry import Schema

from connectors.errors import SourceError
from connectors.observe import fan_out
from gateway.access_capture import EMPTY, Summary, entry_for, request_facts, summary_of
from gateway.answer_json import encode_answer
from gateway.audit_alerts import load_alert_rules
from gateway.audit_reader import AuditReader
from gateway.cache import MemoryRecordCache
from gateway.callers import Authenticator, AuthError, Caller
from gateway.config import GatewayConfig
from gateway.cors import cors_middleware
from gateway.demo.principals import demo_key_hashes
from gateway.graphiql_assets import GraphiQLAssets
from gateway.graphiql_examples import Examples
from gateway.graphiql_page import GraphiQLPage
from gateway.graphql_payload import operation_of, read_payload
from gateway.graphql_view import GraphQLView, reads_as_json, refusal
from gateway.logs import request_id
from gateway.loopback_keys import LoopbackOnlyKeys
from gateway.metrics import GatewayMetrics
from gateway.metrics_endpoint import metrics_endpoint
from gateway.observation import (
    CALLER,
    OPERATION,
    REQUEST_ID,
    SUMMARY,
    ObservedRequests,
    is_graphql_request,
)
from gateway.platform_store.store import PlatformStore, open_store
from gateway.platform_store.writer import AccessLogWriter
from gateway.policy_channel import PolicyChannel
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore, load_policy
from gateway.policy_sync import DatabasePolicies
from gateway.rate_limits import RateLimiter, caller_key, load_rate_limits, open_rate_limiter
from gateway.redis_cache import RedisRecordCache, check_redis_url, redacted_url
from gateway.response_cache import ResponseCache
from gateway.rule_documents import RuleDocuments
from gateway.rules_files import load_rules
from gateway.runtime import Runtime, open_runtime
from gateway.source_files import missing_files
from gateway.tracing import open_tracing
from schema.access import AccessPolicy
from schema.build import build_schema
from schema.context import RequestContext
from schema.limits import QueryLimits
from schema.policy_admin import PolicyMutation
from schema.rules.model import ActionRules, RuleSet

__all__ = ["AppOptions", "create_app"]

logger = logging.getLogger("gateway")

_CALLER = CALLER  # who called (the access log, gateway.observation)
_CONTEXT = "gateway.context"
_SUMMARY = SUMMARY  # what the answer returned (the access log, metrics)


@dataclass(frozen=True, slots=True)
class AppOptions:
    """How the app is built. ``runtime_factory`` lets tests inject clients."""

    graphiql: bool = True  # the GraphiQL page (GET /graphql in a browser) and its files
    # what GraphiQL's example tabs ask about (default: the registry's first enterprise)
    graphiql_examples: Examples = field(default_factory=Examples)
    policy_dir: Path = DEFAULT_POLICY_DIR
    max_body_bytes: int = 1 << 20  # a GraphQL request larger than this is refused (413)
    limits: QueryLimits = field(default_factory=QueryLimits)  # depth, aliases, tokens, cost
    redis_url: str | None = None  # the shared record cache; in-process when None
    # after start, move what start built (modules, schema, registry index) out of the
    # garbage collector's sight: full collections then scan only request garbage
    # (1,000-page p50 went from a 150/190 ms mix to 150 ms steady)
    freeze_heap_after_start: bool = True
    response_cache: bool = True  # complete answers per clearance (gateway.response_cache)
    response_cache_bytes: int = 64 * 1024 * 1024  # its bound: least recently used go first
    rate_limits: bool = True  # per caller, by role: policy_dir/rate_limits.yaml (429 over it)
    # every GraphQL request into the hash-chained access log of config.platform; off only
    # to measure its cost
    access_log: bool = True
    # the demo's published keys (gateway.demo.principals) from any client, not only
    # from this machine: only for a demo behind a trusted network
    demo_keys_anywhere: bool = False
    extra_routes: Sequence[BaseRoute] = ()
    runtime_factory: Callable[..., Runtime] = field(default=open_runtime)
    # an OpenTelemetry SDK TracerProvider to trace through (tests); by default traces go
    # where config.tracing says, if anywhere (gateway.tracing)
    tracer_provider: object | None = None


class _GraphQL(GraphQLView):
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
        runtime: Runtime = request.app.state.runtime
        caller: Caller = request.scope[_CALLER]
        context = runtime.new_context(caller.clearance)
        policies: DatabasePolicies | None = request.app.state.policy_sync
        if policies is not None and caller.role == "admin":
            context.policy_admin = policies.admin(caller.principal or "")
        request.scope[_CONTEXT] = context  # for the answer cache, after the answer
        return context


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


class _AuthGate:
    """Bounds the request body, authenticates the caller, then hands the request to
    the schema for the caller's role — from the answer cache when the request is one
    the view would answer the same way (``_answerable_from_cache``)."""

    def __init__(self, full: _GraphQL, public: _GraphQL, max_body_bytes: int,
                 answers: ResponseCache | None, loopback_keys: LoopbackOnlyKeys) -> None:
        self._full = full
        self._public = public
        self._max_body = max_body_bytes
        self._answers = answers
        self._loopback_keys = loopback_keys

    def use_views(self, full: _GraphQL, public: _GraphQL) -> None:
        """Serve every role with these from the next request on (the restriction
        catalogue changed: the ``RestrictionAction`` enum of both schemas)."""
        self._full, self._public = full, public

    def use_public(self, public: _GraphQL) -> None:
        """Serve the public role with ``public`` from the next request on (a field's
        class changed: the public schema gains or loses it)."""
        self._public = public

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
            await self._answer(scope, receive, send, body, headers, None)
            return
        payload = read_payload(body, scope.get("query_string", b""))
        scope[OPERATION] = operation_of(payload)
        if log is None:
            await self._answer(scope, receive, send, body, headers, None)
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

        await self._answer(scope, receive, watch, body, headers, log)
        summary: Summary = scope.get(_SUMMARY) or EMPTY
        log.record(entry_for(facts, scope.get(_CALLER), status, b"".join(chunks), summary,
                             (time.perf_counter() - started) * 1000))

    async def _answer(self, scope: Scope, receive: Receive, send: Send, body: bytes,
                      headers: Headers, log: AccessLogWriter | None) -> None:
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
        answers = self._answers
        if answers is None or not _answerable_from_cache(scope.get("method"), headers):
            await app(scope, receive, send)
            _summarize(scope)
            return
        key = answers.key(caller.clearance, runtime.policy_version(), runtime.today(), body)
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


async def _migrate(store: PlatformStore) -> None:
    """Apply the platform's migrations, retrying while the database cannot be reached
    (meanwhile the access log cannot be written, and the gateway fails closed)."""
    delay = 1.0
    while True:
        try:
            applied = await store.migrate()
        except Exception as exc:  # any database error: logged, retried
            logger.error("platform database not migrated (%s); retrying in %.0f s",
                         type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            continue
        if applied:
            logger.info("platform database migrated to version %d", max(applied))
        return


def _catalogue(actions: Mapping[str, ActionRules]) -> list[tuple[str, str]]:
    """What the ``RestrictionAction`` enum is made of: the actions' codes and names."""
    return [(code, action.name) for code, action in actions.items()]


def create_app(config: GatewayConfig, options: AppOptions | None = None) -> Starlette:
    """The gateway for ``config``. Connectors open in the lifespan and close with it.

    The access policy is read here, so an invalid policy file stops the start
    (``PolicyError``) before anything listens.
    """
    options = options or AppOptions()
    in_database = config.policies.in_database
    # kept in the database: the folder's policy is checked (it seeds a new database)
    # and stands in until the database's is loaded, before the first request
    policies = None if in_database else PolicyStore(options.policy_dir)
    initial = load_policy(options.policy_dir) if policies is None else policies.current()
    rules = load_rules(options.policy_dir)
    rate_limits = load_rate_limits(options.policy_dir) if options.rate_limits else None
    alert_rules = load_alert_rules(options.policy_dir / "audit.yaml")
    above_open = initial.classes.above_open()
    assets = GraphiQLAssets() if options.graphiql else None
    page = None if assets is None else GraphiQLPage(assets, options.graphiql_examples)
    limits = options.limits
    answers = (ResponseCache(max_bytes=options.response_cache_bytes)
               if options.response_cache else None)
    actions = rules.actions  # the restriction catalogue: the RestrictionAction enum

    def full_view() -> _GraphQL:
        return _GraphQL(build_schema(limits=limits, actions=actions, mutation=PolicyMutation),
                        page)

    def public_view(without: dict[str, frozenset[str]]) -> _GraphQL:
        return _GraphQL(build_schema(without=without, limits=limits, actions=actions), page)

    gate = _AuthGate(full_view(), public_view(above_open),
                     options.max_body_bytes, answers,
                     LoopbackOnlyKeys(() if options.demo_keys_anywhere else demo_key_hashes()))

    def follow_catalogue(new: RuleSet, policy: AccessPolicy) -> None:
        """New rule documents are in force: when the catalogue's actions changed, both
        schemas are built again with the new ``RestrictionAction`` enum."""
        nonlocal actions
        if _catalogue(new.actions) != _catalogue(actions):
            actions = new.actions
            gate.use_views(full_view(), public_view(policy.classes.above_open()))

    def follow_policy(old: AccessPolicy, new: AccessPolicy) -> None:
        """A new policy version is in force: the public schema follows its field
        classes, and no answer made under the old one is reused."""
        now_above_open = new.classes.above_open()
        if now_above_open != old.classes.above_open():
            gate.use_public(public_view(now_above_open))
        if answers is not None:
            answers.clear()

    metrics = GatewayMetrics()  # this app's own registry
    tracing = open_tracing(config.tracing, options.tracer_provider)
    observer = fan_out(metrics, None if tracing is None else tracing.observer)
    make_runtime = partial(options.runtime_factory, policies=policies, rules=rules,
                           observer=observer)
    redis_url = options.redis_url
    if redis_url is not None:
        check_redis_url(redis_url)  # a malformed URL stops the start; an unreachable one not

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store: PlatformStore | None = None
        migrating: asyncio.Task[None] | None = None
        if options.access_log or in_database:
            store = open_store(config.platform)
            migrating = asyncio.create_task(_migrate(store))
        channel = None
        synced: DatabasePolicies | None = None
        if in_database:
            assert store is not None and migrating is not None
            if redis_url is not None:
                channel = PolicyChannel(redis_url)
            synced = DatabasePolicies(store, initial, folder=options.policy_dir,
                                      poll_s=config.policies.poll_s, channel=channel)
        app.state.policy_sync = synced
        redis_cache = None
        current = policies if synced is None else synced
        if redis_url is None:
            runtime = make_runtime(config, policies=current)
        else:
            redis_cache = RedisRecordCache.from_url(redis_url, fallback=MemoryRecordCache())
            runtime = make_runtime(config, cache=redis_cache, policies=current)
            logger.info("source record cache: Redis at %s", redacted_url(redis_url))
        app.state.runtime = runtime
        app.state.rate_limiter = None if rate_limits is None else open_rate_limiter(
            rate_limits, None if redis_cache is None else redis_cache.client)
        app.state.ready = False
        writer: AccessLogWriter | None = None
        following: asyncio.Task[None] | None = None
        reader: AuditReader | None = None
        if options.access_log and store is not None:
            writer = AccessLogWriter(store)
            await writer.start()
            runtime.audit = reader = AuditReader(store.engine, alert_rules)
        if synced is not None:
            limiter: RateLimiter | None = app.state.rate_limiter

            def follow_rules(new: RuleDocuments) -> None:
                """The rule documents of the database's version in force: the warning,
                grade and restriction rules, the catalogue's schemas, the rate limits
                and the audit alert rules (the answer cache is cleared by
                ``follow_policy``, called right after)."""
                assert synced is not None
                runtime.rules = new.rules
                follow_catalogue(new.rules, synced.current())
                if limiter is not None:
                    limiter.use(new.rate_limits)
                if reader is not None:
                    reader.use(new.alerts)

            synced.on_rules(follow_rules)
            synced.on_change(follow_policy)
            assert migrating is not None
            following = asyncio.create_task(synced.follow(partial(asyncio.shield, migrating)))
        app.state.platform = store
        app.state.access_log = writer
        try:
            try:
                snapshot = await runtime.index.snapshot()
                logger.info("registry indexed: %d enterprises", len(snapshot.enterprises))
            except SourceError as error:
                logger.warning("registry not indexed at start (%s); will retry on use", error)
            if synced is not None and not await synced.ready(wait_s=30.0):
                logger.error("the access policy is not loaded from the platform database "
                             "yet: requests are refused (POLICY_UPDATING) until it is")
            if options.freeze_heap_after_start:
                gc.collect()
                gc.freeze()
            app.state.ready = True
            yield
        finally:
            if options.freeze_heap_after_start:
                gc.unfreeze()
            if following is not None:
                following.cancel()
            if migrating is not None:
                migrating.cancel()
            if channel is not None:
                await channel.aclose()
            if writer is not None:
                await writer.aclose()  # every entry written before the process ends
            if store is not None:
                await store.aclose()
            await runtime.aclose()
            if redis_cache is not None:
                await redis_cache.aclose()
            if tracing is not None:
                await asyncio.to_thread(tracing.shutdown)  # spans still buffered are sent

    async def readyz(request: Request) -> Response:
        state = request.app.state
        ready = getattr(state, "ready", False)
        body: dict[str, Any] = {"ready": ready}
        store: PlatformStore | None = getattr(state, "platform", None)
        writer: AccessLogWriter | None = getattr(state, "access_log", None)
        if store is not None and writer is not None:
            problem = writer.problem() or await store.check(timeout_s=2.0)
            body["accessLog"] = {"writable": problem is None, "healthy": writer.healthy(),
                                 "problem": problem, "pending": writer.pending}
            if not writer.healthy():
                body["ready"] = ready = False
                body["reason"] = ("AUDIT_UNAVAILABLE: the access log cannot be written; only "
                                  "public requests are served")
        synced: DatabasePolicies | None = getattr(state, "policy_sync", None)
        if synced is not None:
            body["policy"] = {"store": "database", "version": synced.version,
                              "updating": synced.behind}
            if synced.version == 0:
                body["ready"] = ready = False
                body.setdefault("reason", "POLICY_UPDATING: the access policy is not "
                                          "loaded from the platform database yet")
        missing = missing_files(config.agencies)  # a few stat calls
        if missing:
            body["ready"] = ready = False
            body["sourceFiles"] = {m.agency: m.message(full_path=False) for m in missing}
            shown = "; ".join(m.message(full_path=False) for m in missing)
            body.setdefault("reason", f"SOURCE_FILES_MISSING: {shown}")
        return JSONResponse(body, status_code=200 if ready else 503)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes: list[BaseRoute] = [
        Route("/graphql", gate, methods=["GET", "POST"]),
        Route("/readyz", readyz),
        Route("/healthz", healthz),
        *([] if assets is None else [assets.route()]),
        *([Route("/metrics", metrics_endpoint(config.metrics, metrics))]
          if config.metrics.enabled else []),
        *options.extra_routes,
    ]
    # every answer gets its X-Request-Id and access line (gateway.observation); CORS
    # preflights are answered next, before the gate (no key, no access-log entry)
    observed = Middleware(ObservedRequests, metrics=metrics, tracing=tracing)
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[observed, *cors_middleware(config.cors)])
    app.state.answers = answers  # the answer cache, or None (read by tests and operators)
    app.state.policy_sync = None  # the policy kept in the database (set in the lifespan)
    app.state.metrics = metrics
    return app
