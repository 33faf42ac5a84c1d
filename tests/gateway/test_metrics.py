"""Metrics (issue 13, point 11): ``GET /metrics`` after real queries against real
agencies (SQLite, CSV, HTTP on loopback), the breaker gauge, the caches' counters,
redactions by role, and who may read them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from conftest import ACME, ADMIN, BETA, ServerThread
from connectors.breaker import BreakerState
from connectors.observe import OK
from gateway.app import AppOptions, create_app
from gateway.config import ConfigError, load_config
from gateway.metrics import GatewayMetrics, OperationLabels

DEPARTMENT = {"Authorization": "Bearer test-reg-key"}
REMOTE = {"X-Forwarded-For": "203.0.113.7"}  # uvicorn trusts it from 127.0.0.1 (a proxy)
COURT_QUERY = """query Court($c: String!) { enterprise(creditCode: $c) {
    name judgmentDefaults(period: ALL) { recordId } } }"""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: ServerThread, headers: dict[str, str] | None = None) -> Samples:
    answer = httpx.get(f"{server.url}/metrics", headers=headers or {}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def post(server: ServerThread, query: str, variables: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer = httpx.post(f"{server.url}/graphql", json={"query": query,
                                                       "variables": variables or {}},
                        headers=headers or {}, timeout=30)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def configure(user_agencies: dict[str, Any], court: str = "", extra: str = "") -> Path:
    """The user agencies' configuration with more COURT settings and top-level keys."""
    config: Path = user_agencies["config"]
    text = config.read_text(encoding="utf-8")
    if court:
        text = text.replace("    stale_if_error_s: 300\n", f"    stale_if_error_s: 300\n{court}")
    config.write_text(text + extra, encoding="utf-8")
    return config


def start(serve: Callable[..., ServerThread], config: Path, **options: Any) -> ServerThread:
    return serve(create_app(load_config(config),
                            AppOptions(freeze_heap_after_start=False, **options)))


def test_counters_move_with_real_queries(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    server = start(serve, configure(user_agencies))
    one = """query One { enterprise(creditCode: "%s") { name penalties { recordId }
        judgmentDefaults(period: ALL) { recordId } } }""" % ACME
    first, again = post(server, one), post(server, one)  # the second from the answer cache
    assert first == again and first["data"]["enterprise"]["judgmentDefaults"]
    post(server, 'query Two { enterprise(creditCode: "%s") { name penalties { recordId } } }'
         % ACME)  # other text, same records: from the record cache
    redacting = post(server, """{ enterprise(creditCode: "%s") {
        judgmentDefaults(period: ALL) { recordId obligation court } } }""" % ACME,
                     headers=DEPARTMENT)
    withheld = sum(r["count"] for r in redacting["extensions"]["redacted"])
    assert withheld > 0

    samples = scrape(server)
    assert value(samples, "gateway_requests_total", operation="One", outcome="ok") == 2
    assert value(samples, "gateway_requests_total", operation="Two", outcome="ok") == 1
    assert value(samples, "gateway_requests_total", operation="query", outcome="ok") == 1
    assert value(samples, "gateway_request_duration_seconds_count") == 4
    assert value(samples, "gateway_answer_cache_requests_total", result="hit") == 1
    assert value(samples, "gateway_answer_cache_requests_total", result="miss") == 3
    assert value(samples, "gateway_record_cache_requests_total", result="miss") > 0
    assert value(samples, "gateway_record_cache_requests_total", result="hit") > 0
    for agency in ("REG", "EPB", "COURT"):  # SQLite, CSV and HTTP agencies
        assert value(samples, "gateway_agency_calls_total", agency=agency, outcome="ok") > 0
        assert value(samples, "gateway_agency_call_duration_seconds_count", agency=agency) > 0
        assert value(samples, "gateway_breaker_state", agency=agency) == 0
    # one key asked of the court per call (ACME)
    assert value(samples, "gateway_agency_batch_size_sum", agency="COURT") == value(
        samples, "gateway_agency_batch_size_count", agency="COURT")
    assert value(samples, "gateway_redactions_total", role="department") == withheld
    assert value(samples, "gateway_redactions_total", role="public") == 0
    assert value(samples, "gateway_access_log_pending") >= 0
    assert ("gateway_access_log_pending", ()) in samples


def test_failures_timeouts_the_open_breaker_and_stale_copies_are_counted(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    config = configure(user_agencies, court="    breaker_failures: 2\n    breaker_open_s: 60\n")
    config.write_text(config.read_text(encoding="utf-8").replace(
        "    timeout_s: 1\n    cache_ttl_s: 0.5\n", "    timeout_s: 0.3\n    cache_ttl_s: 0.05\n"),
        encoding="utf-8")
    server = start(serve, config, response_cache=False)
    control = user_agencies["court"].state.control
    assert post(server, COURT_QUERY, {"c": ACME})["data"]["enterprise"]["judgmentDefaults"]
    time.sleep(0.1)  # ACME's court records are now older than cache_ttl_s (stale, kept)
    control.latency_s = 0.5  # over the court's timeout_s
    slow = post(server, COURT_QUERY, {"c": BETA})  # no copy of BETA's: an error
    assert slow["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    control.latency_s, control.mode = 0.0, "error_500"
    stale = post(server, COURT_QUERY, {"c": ACME})  # the court fails: the stale copy
    assert stale["data"]["enterprise"]["judgmentDefaults"]
    post(server, COURT_QUERY, {"c": BETA})  # not called: the breaker is open

    samples = scrape(server)
    calls = {outcome: value(samples, "gateway_agency_calls_total", agency="COURT",
                            outcome=outcome)
             for outcome in (OK, "timeout", "error", "breaker_open")}
    assert calls == {OK: 1, "timeout": 1, "error": 1, "breaker_open": 1}
    assert value(samples, "gateway_agency_stale_served_total", agency="COURT") == 1
    assert value(samples, "gateway_breaker_state", agency="COURT") == 2  # open
    assert value(samples, "gateway_breaker_state", agency="REG") == 0
    # failed calls and the open breaker's refusal: only calls made have a latency
    assert value(samples, "gateway_agency_call_duration_seconds_count", agency="COURT") == 3
    requests = {outcome: value(samples, "gateway_requests_total", operation="Court",
                               outcome=outcome) for outcome in ("ok", "partial")}
    assert requests == {"ok": 2, "partial": 2}  # the stale copy answered in full


def test_metrics_are_for_this_machine_admins_and_auditors_by_default(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    server = start(serve, configure(user_agencies))
    assert scrape(server) is not None  # a client on this machine
    refused = httpx.get(f"{server.url}/metrics", headers=REMOTE, timeout=10)
    assert refused.status_code == 403 and "x-request-id" in refused.headers
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "admin, auditor" in error["message"] and "public: true" in error["message"]
    assert "COURT" not in refused.text
    department = httpx.get(f"{server.url}/metrics", headers={**REMOTE, **DEPARTMENT},
                           timeout=10)
    assert department.status_code == 403
    wrong = httpx.get(f"{server.url}/metrics",
                      headers={**REMOTE, "Authorization": "Bearer wrong"}, timeout=10)
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert scrape(server, {**REMOTE, **ADMIN}) is not None


def test_public_true_opens_the_metrics_and_enabled_false_removes_them(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    config = configure(user_agencies, extra="metrics:\n  public: true\n")
    open_server = start(serve, config)
    post(open_server, "{ sources { code } }")
    samples = scrape(open_server, REMOTE)
    assert value(samples, "gateway_requests_total", operation="query", outcome="ok") == 1

    config.write_text(config.read_text(encoding="utf-8").replace(
        "metrics:\n  public: true\n", "metrics:\n  enabled: false\n"), encoding="utf-8")
    closed = start(serve, config)
    assert httpx.get(f"{closed.url}/metrics", timeout=10).status_code == 404

    config.write_text(config.read_text(encoding="utf-8").replace(
        "metrics:\n  enabled: false\n", "metrics:\n  loopback: false\n  roles: [admin]\n"),
        encoding="utf-8")
    strict = start(serve, config)
    assert httpx.get(f"{strict.url}/metrics", timeout=10).status_code == 403
    assert scrape(strict, ADMIN) is not None


def test_the_metrics_configuration_is_checked(user_agencies: dict[str, Any]) -> None:
    config = configure(user_agencies, extra="""metrics:
  public: "yes"
  roles: [admin, boss]
  token: x
""")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert raised.value.problems == [
        "agencies.yaml: metrics: unknown field 'token' (known: enabled, public, loopback, "
        "roles)",
        "agencies.yaml: metrics: public: must be true or false, got 'yes'",
        "agencies.yaml: metrics: roles: unknown role 'boss' (roles: public, department, "
        "approval, auditor, admin, enterprise, supervisor)",
    ]


def test_two_gateways_in_one_process_keep_their_own_counts() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.request("One", "ok", 0.01)
    first.call("REG", "enterprise", 3).end(OK)
    second.request("One", "ok", 0.02)
    second.request("One", "ok", 0.02)
    body, _ = first.render("", [("REG", BreakerState.OPEN)], None)
    text = body.decode()
    assert 'gateway_requests_total{operation="One",outcome="ok"} 1.0' in text
    assert 'gateway_breaker_state{agency="REG"} 2.0' in text
    assert 'gateway_agency_batch_size_sum{agency="REG"} 3.0' in text
    other = second.render("", [], None)[0].decode()
    assert 'gateway_requests_total{operation="One",outcome="ok"} 2.0' in other
    assert "REG" not in other
    assert REGISTRY.get_sample_value("gateway_requests_total",
                                     {"operation": "One", "outcome": "ok"}) is None


def test_caller_chosen_operation_names_are_bounded() -> None:
    labels = OperationLabels(limit=2)
    assert [labels.label(n) for n in ("A", "B", "C", "A", "query", "-")] == [
        "A", "B", "other", "A", "query", "-"]
    assert labels.label("x" * 65) == "invalid"
    metrics = GatewayMetrics(operation_limit=1)
    for name in ("Mine", "Yours", "Theirs"):
        metrics.request(name, "ok", 0.001)
    text = metrics.render("", [], None)[0].decode()
    assert 'operation="Mine"' in text and 'operation="other",outcome="ok"} 2.0' in text
    assert "Yours" not in text


def test_record_cache_lookups_are_counted_exactly_at_each_scrape() -> None:
    """Lookups are added up between scrapes (no counter lock per lookup) and each is
    counted once, whatever the number of scrapes."""
    metrics = GatewayMetrics()

    def scraped() -> tuple[float, float]:
        body, _ = metrics.render("", [], None)
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(body.decode())
                   for s in family.samples}
        return (value(samples, "gateway_record_cache_requests_total", result="hit"),
                value(samples, "gateway_record_cache_requests_total", result="miss"))

    assert scraped() == (0, 0)
    metrics.cache_lookup(3, 1)
    metrics.cache_lookup(2, 0)
    assert scraped() == (5, 1)
    assert scraped() == (5, 1)
    metrics.cache_lookup(0, 4)
    assert scraped() == (5, 5)
