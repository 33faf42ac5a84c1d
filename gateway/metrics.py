"""The gateway's Prometheus metrics (``GET /metrics``), one registry per app.

==========================================  ===========================================
``gateway_requests_total{operation,outcome}``  GraphQL requests (``/graphql``) by operation
                                            name and outcome (``ok``, ``partial``, an
                                            error code such as ``RATE_LIMITED``, ``HTTP_404``)
``gateway_request_duration_seconds``        their latency (histogram)
``gateway_agency_calls_total{agency,outcome}``  calls to agencies: ``ok``, ``error``,
                                            ``timeout``, ``breaker_open``, ``cancelled``
``gateway_agency_call_duration_seconds{agency}``  their latency, retries included
``gateway_agency_batch_size{agency}``       keys per call (histogram)
``gateway_agency_stale_served_total{agency}``  stale cached copies served after a failure
``gateway_breaker_state{agency}``           0 closed, 1 half-open, 2 open (at scrape time)
``gateway_record_cache_requests_total{result}``  record-cache key lookups: hit, miss
``gateway_answer_cache_requests_total{result}``  answer-cache lookups: hit, miss
``gateway_redactions_total{role}``          values withheld from callers, by their role
``gateway_access_log_pending``              access-log entries not yet written
==========================================  ===========================================

No default registry: two apps in one process keep their own counts. Labelled
children are made once and kept, so a request costs a dict lookup per metric, not a
label resolution. The operation name is chosen by the caller, so only GraphQL names
count (others are ``invalid``) and only the first ``operation_limit`` distinct ones
get their own label; later ones share ``other``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

from connectors.breaker import BreakerState
from connectors.observe import BREAKER_OPEN, CallWatch

__all__ = ["GatewayMetrics", "OperationLabels"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_BREAKER = {BreakerState.CLOSED: 0.0, BreakerState.HALF_OPEN: 1.0, BreakerState.OPEN: 2.0}
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, float("inf"))


class OperationLabels:
    """Bounded ``operation`` label values for caller-chosen operation names."""

    def __init__(self, limit: int = 100) -> None:
        self._limit = limit
        self._known: set[str] = set()

    def label(self, name: str) -> str:
        if name in self._known or name in ("-", "query", "mutation", "subscription"):
            return name
        if not _NAME.fullmatch(name):
            return "invalid"
        if len(self._known) >= self._limit:
            return "other"
        self._known.add(name)
        return name


class _Agency:
    """One agency's labelled children."""

    __slots__ = ("batch", "calls", "duration", "metrics", "stale")

    def __init__(self, metrics: GatewayMetrics, code: str) -> None:
        self.metrics = metrics
        self.calls: dict[str, Counter] = {}
        self.duration = metrics.agency_seconds.labels(code)
        self.batch = metrics.agency_batch.labels(code)
        self.stale = metrics.agency_stale.labels(code)

    def count(self, code: str, outcome: str) -> None:
        child = self.calls.get(outcome)
        if child is None:
            child = self.calls[outcome] = self.metrics.agency_calls.labels(code, outcome)
        child.inc()


class _Watch:
    __slots__ = ("_agency", "_batch", "_code", "_started")

    def __init__(self, agency: _Agency, code: str, batch_size: int) -> None:
        self._agency = agency
        self._code = code
        self._batch = batch_size
        self._started = time.perf_counter()

    def end(self, outcome: str) -> None:
        agency = self._agency
        agency.count(self._code, outcome)
        if outcome != BREAKER_OPEN:  # not called: its latency would only drag the curve
            agency.duration.observe(time.perf_counter() - self._started)
            if self._batch:
                agency.batch.observe(self._batch)


class GatewayMetrics:
    """Every metric of one gateway, in its own ``registry``; also the ``SourceObserver``
    the connectors and loaders report to."""

    def __init__(self, operation_limit: int = 100) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter("gateway_requests_total", "GraphQL requests by operation "
                                "and outcome", ("operation", "outcome"), registry=registry)
        self.request_seconds = Histogram("gateway_request_duration_seconds",
                                         "GraphQL request latency", registry=registry)
        self.agency_calls = Counter("gateway_agency_calls_total", "Calls to agencies by "
                                    "outcome", ("agency", "outcome"), registry=registry)
        self.agency_seconds = Histogram("gateway_agency_call_duration_seconds",
                                        "Agency call latency, retries included", ("agency",),
                                        registry=registry)
        self.agency_batch = Histogram("gateway_agency_batch_size", "Keys per agency call",
                                      ("agency",), buckets=_BATCH_BUCKETS, registry=registry)
        self.agency_stale = Counter("gateway_agency_stale_served_total", "Stale cached "
                                    "copies served because the agency failed", ("agency",),
                                    registry=registry)
        self.breaker = Gauge("gateway_breaker_state", "Circuit breaker per agency: 0 closed, "
                             "1 half-open, 2 open", ("agency",), registry=registry)
        record_cache = Counter("gateway_record_cache_requests_total", "Record-cache key "
                               "lookups", ("result",), registry=registry)
        self._record_hit = record_cache.labels("hit")
        self._record_miss = record_cache.labels("miss")
        # record-cache lookups (23 per enterprise query) are counted here and added to
        # the counters when scraped: each ``inc`` takes the counter's lock (2-3% of a
        # warm request's CPU for this one metric)
        self._lookups = [0, 0]  # hits, misses; the event loop's thread only
        answer_cache = Counter("gateway_answer_cache_requests_total", "Answer-cache lookups",
                               ("result",), registry=registry)
        self._answer_hit = answer_cache.labels("hit")
        self._answer_miss = answer_cache.labels("miss")
        self.redactions = Counter("gateway_redactions_total", "Values withheld from callers, "
                                  "by role", ("role",), registry=registry)
        self.access_log_pending = Gauge("gateway_access_log_pending", "Access-log entries "
                                        "not yet written", registry=registry)
        self.operations = OperationLabels(operation_limit)
        self._requests: dict[tuple[str, str], Counter] = {}
        self._agencies: dict[str, _Agency] = {}
        self._roles: dict[str, Counter] = {}

    # -- requests ------------------------------------------------------------------

    def request(self, operation: str, outcome: str, seconds: float) -> None:
        """A GraphQL request ended (``operation``: the name as the caller gave it)."""
        key = (self.operations.label(operation), outcome)
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self.requests.labels(*key)
        child.inc()
        self.request_seconds.observe(seconds)

    def answer_cache(self, hit: bool) -> None:
        (self._answer_hit if hit else self._answer_miss).inc()

    def redacted(self, role: str, count: int) -> None:
        """``count`` values were withheld from a caller of ``role`` in one answer."""
        if count <= 0:
            return
        child = self._roles.get(role)
        if child is None:
            child = self._roles[role] = self.redactions.labels(role)
        child.inc(count)

    # -- SourceObserver --------------------------------------------------------------

    def call(self, agency: str, record_type: str, batch_size: int) -> CallWatch:
        return _Watch(self._agency(agency), agency, batch_size)

    def cache_lookup(self, hits: int, misses: int) -> None:
        lookups = self._lookups
        lookups[0] += hits
        lookups[1] += misses

    def stale_served(self, agency: str) -> None:
        self._agency(agency).stale.inc()

    def _agency(self, code: str) -> _Agency:
        found = self._agencies.get(code)
        if found is None:
            found = self._agencies[code] = _Agency(self, code)
        return found

    # -- scrape ----------------------------------------------------------------------

    def render(self, accept: str, breakers: Iterable[tuple[str, BreakerState]],
               pending: int | None) -> tuple[bytes, str]:
        """(body, content type) of a scrape; the gauges read the state now: each
        agency's breaker and the access log's pending entries (None: no access log)."""
        for code, state in breakers:
            self.breaker.labels(code).set(_BREAKER[state])
        hits, misses = self._lookups
        self._lookups[:] = [0, 0]
        if hits:
            self._record_hit.inc(hits)
        if misses:
            self._record_miss.inc(misses)
        if pending is not None:
            self.access_log_pending.set(pending)
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
