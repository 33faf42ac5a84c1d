"""Everything one running gateway holds: connectors, the registry index, clients.

Built in the app's lifespan from a validated configuration and closed with it;
nothing here is global, so tests build as many as they like.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from httpx_aiohttp import AiohttpTransport

from connectors.http_pool import HttpPool
from connectors.observe import NO_OBSERVER, SourceObserver
from connectors.problems import ProblemLog
from connectors.registry import build_connector
from gateway.cache import MemoryRecordCache
from gateway.callers import Authenticator
from gateway.config import GatewayConfig
from gateway.inspections import Inspections
from gateway.policy_files import DEFAULT_POLICY_DIR
from gateway.push_store import Pushes
from gateway.record_workflows import RecordWorkflows
from gateway.rules_files import load_rules
from schema.access import AccessPolicy, Clearance
from schema.audit_port import AuditPort
from schema.coalesce import SourceCoalescer
from schema.context import RequestContext
from schema.loaders import Loaders, RecordCache
from schema.overlay import Overlay
from schema.records import Agency
from schema.redaction import SelectionMemo
from schema.registry_index import RegistryIndex
from schema.registry_risk import RegistryRisk
from schema.risk_index import RiskIndex
from schema.rules.model import RuleSet
from schema.sources import Sources
from schema.view import CallerView

__all__ = ["Policies", "Runtime", "default_http_client", "open_runtime"]


class Overlays(Protocol):
    """The platform's record overlay in force (``gateway.overlay_store.OverlayStore``)."""

    def current(self) -> Overlay: ...


class Policies(Protocol):
    """The access policy in force and its version: ``gateway.policy_files.PolicyStore``
    (files) or ``gateway.policy_sync.DatabasePolicies`` (the platform database)."""

    version: int

    def current(self) -> AccessPolicy: ...


_TIMEOUT_S = 30.0  # connect and read, per agency request (each agency's timeout_s applies)
# idle connections dropped after 4 s, before agencies' usual 5 s keep-alive ends
_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50,
                       keepalive_expiry=4.0)


def default_http_client(transport: httpx.AsyncBaseTransport | None = None
                        ) -> httpx.AsyncClient:
    """The client every http connector shares (connection pool sized for fan-out), on
    ``transport`` (by default a new ``default_http_transport()``).

    httpx's API over aiohttp's transport (``httpx-aiohttp``): measured with
    ``tests/bench/bench_http_client.py``, httpx's own transport spends 1.5-1.7 ms of
    CPU per request at 16-64 concurrent requests (about 600 requests/s on one core),
    aiohttp's 0.22 ms (about 4,500 requests/s); see the README's performance section.
    """
    return httpx.AsyncClient(
        transport=transport if transport is not None else default_http_transport(),
        timeout=httpx.Timeout(_TIMEOUT_S),
        follow_redirects=False,
        trust_env=False,
    )


def default_http_transport() -> httpx.AsyncBaseTransport:
    """aiohttp's transport for httpx, with the gateway's connection limits (the
    client closes it)."""
    return AiohttpTransport(limits=_LIMITS, trust_env=False)


@dataclass(slots=True)
class Runtime:
    """The state of one running gateway."""

    config: GatewayConfig
    sources: Sources
    index: RegistryIndex
    agencies: dict[str, Agency]
    problems: ProblemLog
    http_client: httpx.AsyncClient
    owns_client: bool
    policies: Policies | None
    authenticator: Authenticator
    rules: RuleSet
    cache: RecordCache | None = None
    risk_index: RiskIndex | None = None
    registry_risk: RegistryRisk | None = None  # every risk record, for registry-wide filters
    today: Callable[[], dt.date] = dt.date.today
    coalescer: SourceCoalescer | None = None  # source calls shared by concurrent requests
    inspections: Inspections | None = None  # plans, draws, results (the platform database)
    selections: SelectionMemo = field(default_factory=SelectionMemo)  # per query document
    audit: AuditPort | None = None  # the access log as the graph reads it
    observer: SourceObserver = NO_OBSERVER  # told of agency calls and record-cache hits
    overlays: Overlays | None = None  # the platform's own record facts (schema.overlay)
    pushes: Pushes | None = None  # pushed registrations (双告知; gateway.push_store)
    # objections and credit repairs (gateway.record_workflows; the platform database)
    workflows: RecordWorkflows | None = None
    # keep-alive connections for http:// agencies' queries (made with the client)
    http_pool: HttpPool | None = None

    def new_context(self, clearance: Clearance) -> RequestContext:
        """A fresh per-request context: new DataLoaders, the caller's view of the
        policy in force now (one policy for the whole request)."""
        if self.policies is None:
            view = CallerView.unrestricted()
        else:
            view = self.policies.current().view(clearance)
        return RequestContext(
            sources=self.sources, index=self.index, agencies=self.agencies, view=view,
            rules=self.rules, today=self.today(),
            loaders=Loaders(self.cache, self.coalescer, self.observer),
            risk_index=self.risk_index or RiskIndex(0), registry_risk=self.registry_risk,
            selections=self.selections,
            audit=self.audit,
            overlay=Overlay.empty() if self.overlays is None else self.overlays.current(),
        )

    def policy_version(self) -> int:
        """The access policy's version now (a changed policy file is noticed here)."""
        if self.policies is None:
            return 0
        self.policies.current()
        return self.policies.version

    def overlay_version(self) -> int:
        """The record overlay's version in force (0 without one): part of the answer
        cache's key."""
        return 0 if self.overlays is None else self.overlays.current().version

    def answer_lifetime(self, context: RequestContext) -> float:
        """How long a complete answer made with ``context`` may be reused: the shortest
        agency cache lifetime, less the age of the oldest data it used (cached records,
        the registry index)."""
        shortest = min(spec.cache_ttl_s for spec in self.config.agencies)
        return shortest - max(context.loaders.ages.values(), default=0.0)

    async def aclose(self) -> None:
        await self.sources.aclose()
        if self.owns_client:
            await self.http_client.aclose()
        if self.http_pool is not None:
            await self.http_pool.aclose()


def open_runtime(
    config: GatewayConfig,
    *,
    policies: Policies | None,
    rules: RuleSet | None = None,
    http_client: httpx.AsyncClient | None = None,
    cache: RecordCache | None = None,
    coalesce: bool = True,
    observer: SourceObserver = NO_OBSERVER,
) -> Runtime:
    """Build connectors for every agency of ``config`` (no source I/O happens yet).

    ``policies=None`` turns authorization off: only benchmarks measuring its cost do
    that, which is why the argument has no default. ``rules`` default to those of the
    project's policies folder. ``cache`` defaults to an in-process record cache.
    ``coalesce`` joins concurrent requests' calls to the same agency (``schema.coalesce``).
    ``observer`` is told of every agency call and record-cache lookup (metrics, traces).
    """
    problems = ProblemLog()
    # queries go straight to the transport of the client made here (connectors.http_service)
    transport = None if http_client is not None else default_http_transport()
    client = http_client if http_client is not None else default_http_client(transport)
    # an injected client (tests, benchmarks of the clients) is used as it is
    pool = None if http_client is not None else HttpPool(
        connect_timeout_s=_TIMEOUT_S, read_timeout_s=_TIMEOUT_S)
    connectors = [
        build_connector(spec, report=problems.report, http_client=client,
                        http_transport=transport, http_pool=pool, observer=observer)
        for spec in config.agencies
    ]
    sources = Sources(connectors)
    return Runtime(
        config=config,
        sources=sources,
        index=RegistryIndex(sources.registry),
        agencies={spec.code: Agency(code=spec.code, name=spec.name) for spec in config.agencies},
        problems=problems,
        http_client=client,
        owns_client=http_client is None,
        http_pool=pool,
        policies=policies,
        authenticator=Authenticator(config.principals),
        rules=rules if rules is not None else load_rules(DEFAULT_POLICY_DIR),
        cache=cache if cache is not None else MemoryRecordCache(),
        risk_index=RiskIndex(min(spec.cache_ttl_s for spec in config.agencies)),
        registry_risk=RegistryRisk(sources.providers),
        coalescer=SourceCoalescer() if coalesce else None,
        observer=observer,
    )
