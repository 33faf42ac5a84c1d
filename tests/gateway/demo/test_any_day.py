"""The demo generated on any day answers the same way: every warning level, credit grade
and restriction decision is there, and the default (current-year) lists are not empty.

Each case generates a small district dated that day, serves its HTTP agencies and the
real gateway over it on 127.0.0.1 with the gateway's today pinned to the same day,
and asks the graph: the rules are the runtime's, not reimplemented here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ServerThread
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from gateway.demo.agency_service import create_sources_app, load_rows
from gateway.demo.generate import MIN_ENTERPRISES, generate_district
from gateway.demo.writer import write_config, write_demo
from gateway.runtime import Runtime, open_runtime

TRICKY_DAYS = (
    dt.date(2027, 1, 1), dt.date(2027, 1, 2), dt.date(2027, 2, 28), dt.date(2028, 2, 29),
    dt.date(2026, 12, 31), dt.date(2027, 6, 15), dt.date.today(),
)
ADMIN = {"Authorization": "Bearer demo-admin-key"}
APPROVAL = {"Authorization": "Bearer demo-approval-key", "X-Purpose": "LICENCE_APPROVAL"}
# "the newest records within the last few weeks"
RECENT = dt.timedelta(days=21)


def pinned_runtime(day: dt.date) -> Callable[..., Runtime]:
    def factory(*args: Any, **kwargs: Any) -> Runtime:
        runtime = open_runtime(*args, **kwargs)
        runtime.today = lambda: day
        return runtime
    return factory


def serve_demo(folder: Path, day: dt.date, serve: Callable[..., ServerThread], *,
               agencies_up: bool = True, enterprises: int = 40) -> str:
    """Generate and write a district dated ``day`` into ``folder``; serve it; its URL."""
    district = generate_district(enterprises=enterprises, as_of=day)
    write_demo(district, folder, http_base_url="http://127.0.0.1:1")
    url = "http://127.0.0.1:1"  # refused: the HTTP agencies cannot be read
    if agencies_up:
        sources = create_sources_app({name: load_rows(folder / f"{name}.json")
                                      for name in ("court", "fire")})
        url = serve(sources).url
    config = load_config(write_config(folder, http_base_url=url))
    options = AppOptions(graphiql=False, access_log=False, rate_limits=False,
                         response_cache=False, runtime_factory=pinned_runtime(day))
    return serve(create_app(config, options)).url


def ask(url: str, query: str, headers: dict[str, str] | None = None,
        variables: dict[str, Any] | None = None) -> Any:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}},
                          headers=headers or {}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


PAGE = """{ enterprises(first: 100) { totalCount edges { node { creditCode
    warning { level } creditGrade { grade }
    penalties { decidedOn } inspections { inspectedOn } anomalies { listedOn }
    judgmentDefaults { listedOn } seriousViolations { listedOn } } } } }"""
CHECKS = """query($c: [String!]!) { restrictionChecks(creditCodes: $c,
    action: LICENCE_APPLICATION) { creditCode decision } }"""


@pytest.fixture
def demo_on(tmp_path: Path, serve: Callable[..., ServerThread]) -> Callable[[dt.date], str]:
    def start(day: dt.date) -> str:
        return serve_demo(tmp_path / day.isoformat(), day, serve)
    return start


@pytest.mark.parametrize("day", TRICKY_DAYS, ids=str)
def test_every_level_grade_and_decision_on_any_day(
    day: dt.date, demo_on: Callable[[dt.date], str]
) -> None:
    url = demo_on(day)
    for headers in (ADMIN, {}):  # the public's view holds them too (OPEN records)
        nodes = [edge["node"] for edge in ask(url, PAGE, headers)["enterprises"]["edges"]]
        assert len(nodes) == (40 if headers else 35)  # five enterprises are not OPEN
        assert {node["warning"]["level"] for node in nodes} == {"NONE", "YELLOW", "ORANGE", "RED"}
        assert {node["creditGrade"]["grade"] for node in nodes} == {"A", "B", "C", "D"}
    codes = [node["creditCode"] for node in nodes]
    decisions = ask(url, CHECKS, APPROVAL, {"c": codes})["restrictionChecks"]
    assert {d["decision"] for d in decisions} == {"ALLOWED", "RESTRICTED", "PROHIBITED"}


@pytest.mark.parametrize("day", TRICKY_DAYS, ids=str)
def test_default_lists_hold_records_of_the_day_itself(
    day: dt.date, demo_on: Callable[[dt.date], str]
) -> None:
    """The lists' default period is the current calendar year: on 1 January too it
    holds records (dated that day), and the newest records are recent."""
    url = demo_on(day)
    nodes = [edge["node"] for edge in ask(url, PAGE, ADMIN)["enterprises"]["edges"]]
    dated = [dt.date.fromisoformat(record[column]) for node in nodes
             for field, column in (("penalties", "decidedOn"), ("inspections", "inspectedOn"))
             for record in node[field] if record[column]]
    assert dated and all(when.year == day.year for when in dated)
    assert day in dated
    assert max(dated) == day and sum(when >= day - RECENT for when in dated) >= 5


def test_the_smallest_district_still_holds_every_outcome(
    tmp_path: Path, serve: Callable[..., ServerThread]
) -> None:
    day = dt.date(2027, 1, 1)
    url = serve_demo(tmp_path, day, serve, enterprises=MIN_ENTERPRISES)
    nodes = [edge["node"] for edge in ask(url, PAGE, ADMIN)["enterprises"]["edges"]]
    assert {node["warning"]["level"] for node in nodes} == {"NONE", "YELLOW", "ORANGE", "RED"}
    assert {node["creditGrade"]["grade"] for node in nodes} == {"A", "B", "C", "D"}
    decisions = ask(url, CHECKS, APPROVAL, {"c": [n["creditCode"] for n in nodes]})
    assert {d["decision"] for d in decisions["restrictionChecks"]} == {
        "ALLOWED", "RESTRICTED", "PROHIBITED"}


def test_an_agency_that_cannot_be_read_makes_decisions_indeterminate(
    tmp_path: Path, serve: Callable[..., ServerThread]
) -> None:
    """INDETERMINATE is the one outcome the data cannot give: it needs an agency the
    gateway cannot read - here the demo's HTTP agencies, not served."""
    url = serve_demo(tmp_path, dt.date.today(), serve, agencies_up=False)
    codes = [edge["node"]["creditCode"] for edge in ask(
        url, "{ enterprises(first: 100) { edges { node { creditCode } } } }", ADMIN,
    )["enterprises"]["edges"]]
    response = httpx.post(f"{url}/graphql", headers=APPROVAL, timeout=60,
                          json={"query": CHECKS, "variables": {"c": codes}})
    decisions = response.json()["data"]["restrictionChecks"]
    assert "INDETERMINATE" in {d["decision"] for d in decisions}
