"""The ASGI application: ``/graphql`` behind its gate (``gateway.auth_gate``; GraphiQL
on GET), ``/readyz`` and ``/healthz`` (``gateway.health``), ``/metrics``, GraphiQL's
files, the public portal ``/portal`` (``gateway.portal``); what the lifespan opens and
closes (connectors, the platform database and the access log's writer, Redis, the
policy kept in the database) and how a policy or rule change is put in force (both
schemas, the answer cache).

The public role is served by a schema without the fields classed above OPEN, every
other role by the full schema. Both resolve through the caller's view.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route, WebSocketRoute

from connectors.errors import SourceError
from connectors.observe import fan_out
from gateway.audit_alerts import load_alert_rules
from gateway.audit_reader import AuditReader
from gateway.auth_gate import AuthGate, GraphQLEndpoint
from gateway.cache import MemoryRecordCache
from gateway.change_service import ChangeService
from gateway.config import GatewayConfig
from gateway.cors import cors_middleware
from gateway.demo.principals import demo_key_hashes
from gateway.graphiql_assets import GraphiQLAssets
from gateway.graphiql_examples import Examples
from gateway.graphiql_page import GraphiQLPage
from gateway.health import healthz, readyz_endpoint
from gateway.heap import tuned_collector
from gateway.inspections import Inspections
from gateway.loopback_keys import LoopbackOnlyKeys
from gateway.metrics import GatewayMetrics
from gateway.metrics_endpoint import metrics_endpoint
from gateway.observation import ObservedRequests
from gateway.overlay_store import OverlayStore
from gateway.platform_store.store import PlatformStore, open_store
from gateway.platform_store.writer import AccessLogWriter
from gateway.policy_channel import PolicyChannel
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore, load_policy
from gateway.policy_sync import DatabasePolicies
from gateway.portal import Portal
from gateway.push_jobs import PushJobs
from gateway.push_store import Pushes
from gateway.rate_limits import RateLimiter, load_rate_limits, open_rate_limiter
from gateway.record_workflows import RecordWorkflows
from gateway.redis_cache import RedisRecordCache, check_redis_url, redacted_url
from gateway.response_cache import ResponseCache
from gateway.rule_documents import RuleDocuments
from gateway.rules_files import load_rules
from gateway.runtime import Runtime, open_runtime
from gateway.tracing import open_tracing
from gateway.webhook_dispatch import WebhookDispatcher
from gateway.webhooks import WebhookSender
from gateway.ws_endpoint import SubscriptionEndpoint
from schema.access import AccessPolicy
from schema.build import build_schema
from schema.inspection_graph import PUBLIC_WITHOUT
from schema.licensing import load_licensing
from schema.limits import QueryLimits
from schema.mutations import Mutation
from schema.overlay import Overlay
from schema.pushes import PUBLIC_WITHOUT as PUBLIC_PUSHES
from schema.rules.model import ActionRules, RuleSet
from schema.subscriptions import PUBLIC_WITHOUT as PUBLIC_SUBSCRIPTIONS
from schema.subscriptions import Subscription

__all__ = ["AppOptions", "create_app"]

logger = logging.getLogger("gateway")



@dataclass(frozen=True, slots=True)
class AppOptions:
    """How the app is built. ``runtime_factory`` lets tests inject clients."""

    graphiql: bool = True  # the GraphiQL page (GET /graphql in a browser) and its files
    portal: bool = True  # the public portal (公示查询, GET /portal) and its files
    # what GraphiQL's example tabs ask about (default: the registry's first enterprise)
    graphiql_examples: Examples = field(default_factory=Examples)
    policy_dir: Path = DEFAULT_POLICY_DIR
    max_body_bytes: int = 1 << 20  # a GraphQL request larger than this is refused (413)
    limits: QueryLimits = field(default_factory=QueryLimits)  # depth, aliases, tokens, cost
    redis_url: str | None = None  # the shared record cache; in-process when None
    # after start, move what start built (modules, schema, registry index) out of the
    # garbage collector's sight (1,000-page p50 went from a 150/190 ms mix to 150 ms
    # steady) and collect less often while serving (gateway.heap)
    freeze_heap_after_start: bool = True
    response_cache: bool = True  # complete answers per clearance (gateway.response_cache)
    response_cache_bytes: int = 64 * 1024 * 1024  # its bound: least recently used go first
    rate_limits: bool = True  # per caller, by role: policy_dir/rate_limits.yaml (429 over it)
    # how often the leader escalates pushed registrations past their deadline (双告知)
    escalate_every_s: float = 60.0
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


async def _after_migrations(migrating: asyncio.Task[None] | None,
                            job: Callable[[], Awaitable[None]]) -> None:
    """Run ``job`` once the platform database is migrated (its tables exist)."""
    if migrating is not None:
        await asyncio.shield(migrating)
    await job()


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

    def full_view() -> GraphQLEndpoint:
        return GraphQLEndpoint(
            build_schema(limits=limits, actions=actions, mutation=Mutation,
                         subscription=Subscription), page)

    def public_view(without: dict[str, frozenset[str]]) -> GraphQLEndpoint:
        # never public, whatever the field classes: who inspects (双随机 names no one)
        without = {**without, **{t: without.get(t, frozenset()) | PUBLIC_WITHOUT[t]
                                 for t in PUBLIC_WITHOUT}}
        without = {**without, **{t: without.get(t, frozenset()) | PUBLIC_SUBSCRIPTIONS[t]
                                 for t in PUBLIC_SUBSCRIPTIONS}}
        without = {**without, **{t: without.get(t, frozenset()) | PUBLIC_PUSHES[t]
                                 for t in PUBLIC_PUSHES}}
        return GraphQLEndpoint(build_schema(without=without, limits=limits, actions=actions,
                                            subscription=Subscription), page)

    loopback_keys = LoopbackOnlyKeys(() if options.demo_keys_anywhere else demo_key_hashes())
    gate = AuthGate(full_view(), public_view(above_open), options.max_body_bytes, answers,
                    loopback_keys)
    # subscriptions: the websocket side of /graphql (licensing.yaml checked here: no start
    # when invalid)
    licensing = load_licensing(options.policy_dir)
    subscriptions = SubscriptionEndpoint(gate.schema_for, loopback_keys, lambda: licensing,
                                         allowed_origins=config.cors.allow_origins)

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

    def follow_overlay(_: Overlay) -> None:
        """A new record overlay is in force: answers made before it are not reused
        (their keys hold the older version too; this frees their room at once)."""
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
        # the cluster's events and, where changes: turns it on, the leader's change feed
        # (gateway.change_service); subscriptions listen on its bus (app.state.events)
        changes = ChangeService(config.changes, runtime, redis_url)
        events = changes.bus
        app.state.changes = changes
        app.state.events = events
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
        overlays: OverlayStore | None = None
        overlay_channel: PolicyChannel | None = None
        overlay_following: asyncio.Task[None] | None = None
        if store is not None:
            assert migrating is not None
            # the platform's own record facts (inspection results, objections, repairs)
            if redis_url is not None:
                overlay_channel = PolicyChannel(redis_url, topic="overlay")
            overlays = OverlayStore(store, channel=overlay_channel)
            overlays.on_change(follow_overlay)
            runtime.overlays = overlays
            runtime.workflows = RecordWorkflows(overlays, log=writer, today=runtime.today)
            overlay_following = asyncio.create_task(
                overlays.follow(partial(asyncio.shield, migrating)))
        app.state.overlays = overlays
        app.state.platform = store
        app.state.access_log = writer
        if store is not None:  # plans, draws and results are kept in the platform database
            # the draw's weights: the rules in force (policies/inspections.yaml)
            runtime.inspections = Inspections(
                store, config.inspectors, lambda: runtime.rules.inspections, log=writer,
                records=app.state.overlays)
        push_jobs: PushJobs | None = None
        escalating: asyncio.Task[None] | None = None
        if store is not None:  # push and claim (双告知): items in the platform database
            runtime.pushes = Pushes(store, log=writer)
            push_jobs = PushJobs(store, lambda: licensing, runtime.agencies, log=writer,
                                 leads=changes.leads)
            events.add_listener(push_jobs.heard)
            escalating = asyncio.create_task(_after_migrations(
                migrating, partial(push_jobs.run, options.escalate_every_s)))
        app.state.push_jobs = push_jobs
        webhooks: WebhookDispatcher | None = None
        if config.webhooks:  # signed POSTs of the same pushes (gateway.webhook_dispatch)
            webhooks = WebhookDispatcher(
                config.webhooks, {p.id: p for p in config.principals}, runtime=runtime,
                bus=events, schema_for=gate.schema_for, licensing=lambda: licensing,
                sender=WebhookSender(runtime.http_client, store), leads=changes.leads,
                log=writer, fresh=subscriptions.fresh)
            webhooks.start()
        app.state.webhooks = webhooks
        heap = contextlib.ExitStack()  # the collector's serving settings (gateway.heap)
        try:
            try:
                snapshot = await runtime.index.snapshot()
                logger.info("registry indexed: %d enterprises", len(snapshot.enterprises))
            except SourceError as error:
                logger.warning("registry not indexed at start (%s); will retry on use", error)
            if overlays is not None and not await overlays.ready(wait_s=30.0):
                logger.error("the record overlay is not loaded from the platform database "
                             "yet: objections and repairs are not applied until it is")
            if synced is not None and not await synced.ready(wait_s=30.0):
                logger.error("the access policy is not loaded from the platform database "
                             "yet: requests are refused (POLICY_UPDATING) until it is")
            if options.freeze_heap_after_start:
                heap.enter_context(tuned_collector())
            await changes.start()
            app.state.ready = True
            yield
        finally:
            await changes.resign()  # another replica leads (and polls) from its next try
            heap.close()
            if following is not None:
                following.cancel()
            if escalating is not None:
                escalating.cancel()
            if push_jobs is not None:
                await push_jobs.drain()
            if webhooks is not None:
                await webhooks.aclose()
            if overlay_following is not None:
                overlay_following.cancel()
            if overlay_channel is not None:
                await overlay_channel.aclose()
            if migrating is not None:
                migrating.cancel()
            if channel is not None:
                await channel.aclose()
            if writer is not None:
                await writer.aclose()  # every entry written before the process ends
            if store is not None:
                await store.aclose()
            await changes.aclose()
            await runtime.aclose()
            if redis_cache is not None:
                await redis_cache.aclose()
            if tracing is not None:
                await asyncio.to_thread(tracing.shutdown)  # spans still buffered are sent

    routes: list[BaseRoute] = [
        Route("/graphql", gate, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", subscriptions),
        Route("/readyz", readyz_endpoint(config.agencies)),
        Route("/healthz", healthz),
        *([] if assets is None else [assets.route()]),
        *(Portal().routes() if options.portal else []),
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
    app.state.overlays = None  # the record overlay (gateway.overlay_store; the lifespan)
    app.state.metrics = metrics
    app.state.events = None  # the event bus (gateway.events; made in the lifespan)
    app.state.push_jobs = None  # pushing and escalating (gateway.push_jobs; the lifespan)
    app.state.webhooks = None  # webhook subscriptions (gateway.webhook_dispatch; the lifespan)
    return app
