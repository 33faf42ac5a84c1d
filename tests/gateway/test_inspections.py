"""Double-random inspections through the gateway (双随机一公开): a plan's lifecycle, a
draw made once and again only with a reason, who may do what, what the public sees,
the access log, a result in the graph changing the grade (``gateway draw verify``:
test_draw_verify.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from inspection_world import (
    AUDITOR,
    CREATE,
    DELTA,
    DRAW,
    EPB,
    EPSILON,
    GRADE,
    PLAN,
    PLANS,
    PUBLIC,
    PUBLISH,
    REG,
    RESULT,
    ask,
    code,
    data,
    inspections_config,
    log_entries,
    plan,
    start,
)

from conftest import ACME, ADMIN, BETA, GAMMA, ServerThread
from gateway.cli import main


@pytest.fixture
def config(user_agencies: dict[str, Any]) -> Path:
    return inspections_config(user_agencies)


@pytest.fixture
def server(config: Path, serve: Callable[..., ServerThread]) -> ServerThread:
    return start(config, serve)


def test_a_plan_is_created_drawn_and_published_and_the_public_sees_it_only_then(
    server: ServerThread,
) -> None:
    made = data(server, CREATE, REG, input={"name": "餐饮抽查", "agency": "REG", "count": 2})
    assert made["createInspectionPlan"] == {"id": "1", "name": "餐饮抽查", "agency": "REG",
                                            "agencies": ["REG"], "count": 2, "status": "DRAFT"}
    drawn = data(server, DRAW, REG, plan="1", seed="公证处 4711")["drawInspection"]
    assert drawn["seed"] == "公证处 4711" and drawn["redraws"] == 0 and drawn["reason"] is None
    # ACME and BETA are on the special list (RED): drawn whatever the seed, with two REG
    # inspectors each, never one of the registering agency's unit (R3) nor one
    # avoiding ACME (R4)
    items = {i["enterprise"]["creditCode"]: i for i in drawn["items"]}
    assert sorted(items) == sorted([ACME, BETA])
    for credit_code, item in items.items():
        sent = {i["id"] for i in item["inspectors"]}
        assert len(sent) == 2 and "R3" not in sent
        assert all(i["agency"] == "REG" for i in item["inspectors"])
        assert credit_code != ACME or "R4" not in sent
    # unpublished: the public (and another agency) sees no plan at all
    for caller in (PUBLIC, EPB):
        assert data(server, PLAN, caller, plan="1")["inspectionPlan"] is None
        assert data(server, PLANS, caller)["inspectionPlans"] == []
    assert data(server, PLANS, REG)["inspectionPlans"] == [{"id": "1", "status": "DRAWN"}]
    assert data(server, PUBLISH, REG, plan="1")["publishInspectionPlan"] == {
        "status": "PUBLISHED"}
    public = data(server, PLAN, PUBLIC, plan="1")["inspectionPlan"]
    assert public["status"] == "PUBLISHED" and public["draw"]["digest"] == drawn["digest"]
    assert {i["enterprise"]["creditCode"]: i["enterprise"]["name"]
            for i in public["draw"]["items"]} == {ACME: "北京甲餐饮有限公司",
                                                  BETA: "北京乙科技有限公司"}
    assert data(server, PLANS, EPB)["inspectionPlans"] == [{"id": "1", "status": "PUBLISHED"}]


def test_the_public_never_sees_inspectors_nor_results(server: ServerThread) -> None:
    plan_id = plan(server)
    data(server, DRAW, REG, plan=plan_id, seed="s")
    data(server, PUBLISH, REG, plan=plan_id)
    for field in ("items { inspectors { id } }", "items { creditCode }"):
        body = ask(server, "query P($p: ID!) { inspectionPlan(id: $p) { draw { %s } } }"
                   % field, PUBLIC, p=plan_id)
        if "inspectors" in field:  # not in the public schema at all
            assert code(body) == "GRAPHQL_VALIDATION_FAILED", body
            assert "inspectors" in body["errors"][0]["message"]
        else:
            assert "errors" not in body
    assert code(ask(server, "query P($p: ID!) { inspectionPlan(id: $p) { results { agency } } }",
                    PUBLIC, p=plan_id)) == "GRAPHQL_VALIDATION_FAILED"
    fields = data(server, '{ __type(name: "InspectionDrawItem") { fields { name } } }', PUBLIC)
    assert {f["name"] for f in fields["__type"]["fields"]} == {"creditCode", "enterprise"}
    # another agency's department sees the published plan, not who inspects
    other = data(server, "query P($p: ID!) { inspectionPlan(id: $p) { results { agency } "
                         "draw { items { inspectors { id } } } } }", EPB, p=plan_id)
    assert other["inspectionPlan"]["results"] is None
    assert all(i["inspectors"] is None for i in other["inspectionPlan"]["draw"]["items"])


def test_a_drawn_enterprise_hidden_from_a_caller_is_absent_from_the_draw_it_is_shown(
    server: ServerThread,
) -> None:
    plan_id = plan(server, count=4)  # every active enterprise, EPSILON (not open) too
    drawn = data(server, DRAW, REG, plan=plan_id, seed="s")["drawInspection"]
    everyone = sorted([ACME, BETA, DELTA, EPSILON])
    assert sorted(i["enterprise"]["creditCode"] for i in drawn["items"]) == everyone
    assert {i["enterprise"]["creditCode"]: i["mandatory"] for i in drawn["items"]} == {
        ACME: True, BETA: True, DELTA: False, EPSILON: False}
    assert (drawn["overCount"], drawn["shortCount"]) == (0, 0)
    many = data(server, DRAW, REG, plan=plan(server, count=9), seed="s")["drawInspection"]
    assert (many["overCount"], many["shortCount"], len(many["items"])) == (0, 5, 4)
    data(server, PUBLISH, REG, plan=plan_id)
    query = "query P($p: ID!) { inspectionPlan(id: $p) { draw { items { creditCode } } } }"
    public = data(server, query, PUBLIC, p=plan_id)["inspectionPlan"]["draw"]["items"]
    assert [i["creditCode"] for i in public] == sorted([ACME, BETA, DELTA])
    mine = data(server, query, REG, p=plan_id)["inspectionPlan"]["draw"]["items"]
    assert [i["creditCode"] for i in mine] == everyone


def test_auditors_read_every_step_in_the_access_log(server: ServerThread,
                                                     user_agencies: dict[str, Any]) -> None:
    plan_id = plan(server)
    data(server, DRAW, REG, plan=plan_id, seed="s")
    log_entries(user_agencies["dir"], "inspection draw")
    query = """{ accessLog(filter: {principal: "test-reg-department"}, first: 50) {
      entries { operation principal agency outcome creditCodes } } }"""
    entries = data(server, query, AUDITOR)["accessLog"]["entries"]
    steps = [e for e in entries if e["operation"].startswith("inspection ")]
    assert [(e["operation"], e["agency"], e["outcome"]) for e in steps] == [
        ("inspection create-plan", "REG", "ok"), ("inspection draw", "REG", "ok")]
    assert code(ask(server, query, REG)) == "FORBIDDEN"


def test_an_unpublished_draw_is_not_announced_by_who_viewed(
    server: ServerThread, user_agencies: dict[str, Any],
) -> None:
    """whoViewed tells anyone which agencies read an enterprise: a draw that read no
    enterprise's file leaves no viewing of the enterprises it drew."""
    plan_id = plan(server)
    data(server, "mutation D($p: ID!) { drawInspection(planId: $p, seed: \"s\") { digest } }",
         REG, p=plan_id)
    log_entries(user_agencies["dir"], "inspection draw")
    time.sleep(0.5)  # the request's own entry is in the same or the next batch
    viewed = "query V($c: String!) { whoViewed(creditCode: $c) { agency purpose } }"
    for credit_code in (ACME, BETA):
        assert data(server, viewed, PUBLIC, c=credit_code)["whoViewed"] == []


def test_a_plan_is_drawn_once_and_again_only_with_a_reason_which_is_logged(
    server: ServerThread, user_agencies: dict[str, Any],
) -> None:
    plan_id = plan(server)
    first = data(server, DRAW, REG, plan=plan_id, seed="one")["drawInspection"]
    again = ask(server, DRAW, REG, plan=plan_id, seed="two")
    assert code(again) == "PLAN_ALREADY_DRAWN" and "reason" in again["errors"][0]["message"]
    redrawn = data(server, DRAW, REG, plan=plan_id, seed="two",
                   reason="公证员未到场")["drawInspection"]
    assert redrawn["redraws"] == 1 and redrawn["reason"] == "公证员未到场"
    assert redrawn["digest"] != first["digest"]
    # the same seed over the same registry gives the same draw, byte for byte
    same = data(server, DRAW, REG, plan=plan_id, seed="one", reason="重现")["drawInspection"]
    assert same["digest"] == first["digest"] and same["items"] == first["items"]
    data(server, PUBLISH, REG, plan=plan_id)
    assert code(ask(server, DRAW, REG, plan=plan_id, seed="x", reason="r")) == "PLAN_PUBLISHED"
    entries = log_entries(user_agencies["dir"], "inspection draw", 5)
    done = [e for e in entries if e["outcome"] == "ok"]
    assert [json.loads(e["decisions"])[0]["digest"] for e in done] == [
        first["digest"], redrawn["digest"], same["digest"]]
    assert json.loads(done[1]["decisions"])[0]["reason"] == "公证员未到场"
    assert {e["principal"] for e in entries} == {"test-reg-department"}
    assert json.loads(done[0]["credit_codes"]) == []  # see the next test
    assert json.loads(done[0]["decisions"])[0]["drawn"] == "2"
    assert [e["refusal_code"] for e in entries if e["outcome"] == "refused"] == [
        "PLAN_ALREADY_DRAWN", "PLAN_PUBLISHED"]
    assert [e["outcome"] for e in log_entries(user_agencies["dir"],
                                              "inspection create-plan")] == ["ok"]
    assert [e["outcome"] for e in log_entries(user_agencies["dir"],
                                              "inspection publish")] == ["ok"]


def test_nobody_outside_the_agency_creates_draws_or_publishes_its_plans(
    server: ServerThread, user_agencies: dict[str, Any],
) -> None:
    refused = ask(server, CREATE, EPB, input={"name": "x", "agency": "REG", "count": 1})
    assert code(refused) == "FORBIDDEN" and "REG" in refused["errors"][0]["message"]
    plan_id = plan(server)
    # an unpublished plan of another agency does not even show
    assert code(ask(server, DRAW, EPB, plan=plan_id, seed="s")) == "PLAN_NOT_FOUND"
    assert code(ask(server, DRAW, AUDITOR, plan=plan_id, seed="s")) == "FORBIDDEN"
    # a cross-agency plan (联合抽查): EPB takes part, REG leads and alone draws it
    joint = plan(server, agencies=["EPB"], count=1)
    assert code(ask(server, DRAW, EPB, plan=joint, seed="s")) == "FORBIDDEN"
    drawn = data(server, DRAW, REG, plan=joint, seed="s")["drawInspection"]
    for item in drawn["items"]:  # one inspector of each agency per visit
        assert sorted(i["agency"] for i in item["inspectors"]) == ["EPB", "REG"]
    # count 1, but both RED enterprises are on the special list: drawn whatever the seed
    assert drawn["overCount"] == 1 and drawn["shortCount"] == 0
    assert [i["mandatory"] for i in drawn["items"]] == [True, True]
    assert code(ask(server, PUBLISH, EPB, plan=joint)) == "FORBIDDEN"
    # the admin may do anything, anywhere
    assert plan(server, ADMIN, agency="EPB", count=1)
    assert code(ask(server, CREATE, REG, input={"name": "x", "agency": "NOPE", "count": 1})
                ) == "FORBIDDEN"
    assert code(ask(server, CREATE, ADMIN, input={"name": "x", "agency": "NOPE", "count": 1})
                ) == "BAD_USER_INPUT"
    refusals = [e["refusal_code"] for e in log_entries(user_agencies["dir"],
                                                       "inspection draw", 4)
                if e["outcome"] == "refused"]
    assert refusals == ["PLAN_NOT_FOUND", "FORBIDDEN", "FORBIDDEN"]


def test_a_result_is_an_inspection_record_in_the_graph_and_changes_the_grade(
    server: ServerThread, user_agencies: dict[str, Any],
) -> None:
    before = data(server, GRADE, ADMIN, code=DELTA)["enterprise"]
    assert before["creditGrade"]["grade"] == "A" and before["warning"]["level"] == "NONE"
    assert before["inspections"] == []
    plan_id = plan(server, count=4)  # every active enterprise
    data(server, DRAW, REG, plan=plan_id, seed="s")
    recorded = data(server, RESULT, REG, plan=plan_id, code=DELTA, risk="LOW")
    assert recorded["recordInspectionResult"] == {
        "agency": "REG", "recordId": f"PLATFORM-{plan_id}-{DELTA}", "resultCode": "02",
        "riskLevel": "LOW", "openness": "OPEN"}
    after = data(server, GRADE, ADMIN, code=DELTA)["enterprise"]
    assert after["creditGrade"]["grade"] == "B" and after["warning"]["level"] == "YELLOW"
    assert after["inspections"] == [{"recordId": f"PLATFORM-{plan_id}-{DELTA}",
                                     "result": "未按规定公示应当公示的信息",
                                     "resultCode": "02", "agency": {"code": "REG"}}]
    # an OPEN result: the public reads it like any agency's open inspection
    public = data(server, "query G($c: String!) { enterprise(creditCode: $c) { inspections "
                          "{ resultCode } } }", PUBLIC, c=DELTA)
    assert public["enterprise"]["inspections"] == [{"resultCode": "02"}]
    assert code(ask(server, RESULT, REG, plan=plan_id, code=DELTA)) == "RESULT_EXISTS"
    assert code(ask(server, RESULT, REG, plan=plan_id, code=GAMMA)) == "NOT_DRAWN_FOR_PLAN"
    assert code(ask(server, RESULT, EPB, plan=plan_id, code=DELTA)) == "PLAN_NOT_FOUND"
    entries = log_entries(user_agencies["dir"], "inspection result", 4)
    assert [(e["outcome"], e["refusal_code"]) for e in entries] == [
        ("ok", ""), ("refused", "RESULT_EXISTS"), ("refused", "NOT_DRAWN_FOR_PLAN"),
        ("refused", "PLAN_NOT_FOUND")]
    assert json.loads(entries[0]["credit_codes"]) == [DELTA]


def test_a_plan_that_cannot_be_drawn_or_is_asked_wrongly_says_why(server: ServerThread) -> None:
    # EPB has one inspector: two per visit cannot be sent
    epb = plan(server, ADMIN, agency="EPB", count=1)
    refused = ask(server, DRAW, ADMIN, plan=epb, seed="s")
    assert code(refused) == "DRAW_FAILED" and "Nothing was drawn" in \
        refused["errors"][0]["message"]
    assert data(server, PLAN, ADMIN, plan=epb)["inspectionPlan"]["status"] == "DRAFT"
    assert code(ask(server, PUBLISH, ADMIN, plan=epb)) == "PLAN_NOT_DRAWN"
    for wrong, argument in (({"count": 0}, "count"), ({"inspectorsPerVisit": 11},
                                                      "inspectorsPerVisit"),
                            ({"filter": {"hasRecordsFrom": "EPB"}}, "filter.hasRecordsFrom"),
                            ({"agencies": ["NOPE"]}, "agencies"), ({"name": " "}, "name")):
        body = ask(server, CREATE, REG, input={"name": "x", "agency": "REG", "count": 1,
                                               **wrong})
        assert code(body) == "BAD_USER_INPUT", body
        assert body["errors"][0]["extensions"]["argument"] == argument
    assert code(ask(server, DRAW, REG, plan="x", seed="s")) == "BAD_USER_INPUT"
    assert code(ask(server, DRAW, REG, plan="999", seed="s")) == "PLAN_NOT_FOUND"
    assert code(ask(server, DRAW, REG, plan=plan(server), seed=" ")) == "BAD_USER_INPUT"


def test_inspectors_imported_while_the_gateway_runs_are_drawn_at_the_next_draw(
    server: ServerThread, config: Path, tmp_path: Path,
) -> None:
    epb = plan(server, ADMIN, agency="EPB", count=1)
    assert code(ask(server, DRAW, ADMIN, plan=epb, seed="s")) == "DRAW_FAILED"  # E1 alone
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,agency,unit,avoid\nE2,郑浩,EPB,生态环境局执法二队,\n",
                      encoding="utf-8")
    assert main(["inspectors", "import", str(roster), "--config", str(config)]) == 0
    drawn = data(server, DRAW, ADMIN, plan=epb, seed="s")["drawInspection"]
    for item in drawn["items"]:
        assert sorted(i["id"] for i in item["inspectors"]) == ["E1", "E2"]
        assert "生态环境局执法二队" in {i["unit"] for i in item["inspectors"]}
