"""The public portal (公示查询) in a real browser: Debian's Chromium driven by Playwright,
every request to another host refused, as test_graphiql_browser.py launches it.

The agencies are planted here so the test knows what must and must not show: one
enterprise with fully open records from two agencies (a red warning the public may
see), a CONDITIONAL penalty of one of those agencies, a CONDITIONAL penalty of a third
agency that has nothing else on it, and a CONDITIONAL enterprise whose name matches the
same search. An admin reads all of them through the same gateway; the page, which asks
the public GraphQL without a key, shows none of the conditional ones - not the records,
not the third agency's name, not the hidden enterprise in the list or its count.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import ServerThread, h, write_csv, write_sqlite
from connectors.credit_code import with_check_char
from gateway.app import AppOptions, create_app
from gateway.config import load_config

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="no /usr/bin/chromium (apt-get install chromium)")

OPEN_CO = with_check_char("91110102MA00PT001")
HIDDEN_CO = with_check_char("91110102MA00PT002")
OPEN_NAME = "北京甲餐饮有限公司"
HIDDEN_NAME = "北京甲餐饮管理有限公司"  # CONDITIONAL: matches the same search
YEAR = dt.date.today().year  # records of this year: the current record cycle
TODAY = dt.date.today().isoformat()
SHOWN = (f"西市监罚〔{YEAR}〕1号", f"西环罚〔{YEAR}〕7号")  # OPEN penalties of REG and EPB
PLANTED = f"西环罚〔{YEAR}〕8号"  # CONDITIONAL penalty of EPB, which has OPEN ones too
TAX_ONLY = f"西税罚〔{YEAR}〕9号"  # CONDITIONAL penalty of TAX, its only record
ADMIN = {"Authorization": "Bearer portal-admin-key"}
REG_DEPARTMENT = {"Authorization": "Bearer portal-reg-key", "X-Purpose": "INSPECTION"}


def _enterprise(code: str, name: str, openness: str) -> dict[str, Any]:
    return {"record_id": f"E-{code[-3:]}", "credit_code": code, "openness": openness,
            "risk_level": None, "name": name, "entity_type": "有限责任公司",
            "legal_rep_id": "P1", "legal_rep_name": "张三", "registered_capital": "300",
            "established_on": "2018-05-02", "status": "ACTIVE",
            "address": "北京市西城区金融大街1号", "district_code": "110102",
            "industry": "餐饮业", "registering_agency": "北京市西城区市场监督管理局"}


def _penalty(record_id: str, openness: str, risk: str, number: str,
             violation: str) -> dict[str, Any]:
    return {"record_id": record_id, "credit_code": OPEN_CO, "openness": openness,
            "risk_level": risk, "decision_no": number, "violation_type": violation,
            "penalty_type": "FINE", "content": "罚款", "amount": "5000",
            "decided_on": TODAY, "published_on": TODAY, "repaired_on": ""}


def _agencies(folder: Path) -> Path:
    """The planted agencies' files and their configuration."""
    write_sqlite(folder / "registry.db", {
        "enterprise": [_enterprise(OPEN_CO, OPEN_NAME, "完全开放"),
                       _enterprise(HIDDEN_CO, HIDDEN_NAME, "有条件开放")],
        "person": [{"record_id": "PR-1", "person_id": "P1", "name": "张三", "id_number": "x",
                    "openness": "OPEN", "risk_level": None}],
        "penalty": [{**_penalty("REG-1", "OPEN", "MEDIUM", SHOWN[0], "食品安全"),
                     "person_id": None}],
    })
    write_csv(folder / "epb" / "penalty.csv", [
        _penalty("EPB-7", "完全开放", "低", SHOWN[1], "超标排放"),
        _penalty("EPB-8", "有条件开放", "高", PLANTED, "未批先建")])
    write_csv(folder / "tax" / "penalty.csv", [
        _penalty("TAX-9", "有条件开放", "高", TAX_ONLY, "偷税")])
    config = folder / "agencies.yaml"
    config.write_text(f"""
agencies:
  - {{code: REG, name: 登记机关, kind: sql, url: "sqlite+aiosqlite:///registry.db",
      provides: [enterprise, person, penalty]}}
  - {{code: EPB, name: 生态环境局, kind: csv, path: epb, provides: [penalty]}}
  - {{code: TAX, name: 税务局, kind: csv, path: tax, provides: [penalty]}}
principals:
  - {{id: portal-admin, key_sha256: "{h("portal-admin-key")}", role: admin}}
  - {{id: portal-reg, key_sha256: "{h("portal-reg-key")}", role: department, agency: REG,
      purposes: [INSPECTION]}}
inspectors:
  - {{id: R1, name: 王磊, agency: REG, unit: 北京市东城区市场监督管理局}}
  - {{id: R2, name: 李娜, agency: REG, unit: 北京市朝阳区市场监督管理局}}
  - {{id: R3, name: 张伟, agency: REG, unit: 北京市海淀区市场监督管理局}}
""", encoding="utf-8")
    return config


@pytest.fixture
def portal(tmp_path: Path, serve: Callable[..., ServerThread]) -> ServerThread:
    config = load_config(_agencies(tmp_path))
    gateway = serve(create_app(config, AppOptions(rate_limits=False)))
    # the planted records are there: an admin reads every one of them
    answer = httpx.post(f"{gateway.url}/graphql", headers=ADMIN, timeout=30, json={
        "query": '{ a: enterprise(creditCode: "%s") { penalties { decisionNo } } '
                 'b: enterprise(creditCode: "%s") { name } }' % (OPEN_CO, HIDDEN_CO)}).json()
    numbers = {p["decisionNo"] for p in answer["data"]["a"]["penalties"]}
    assert numbers == {*SHOWN, PLANTED, TAX_ONLY}, answer
    assert answer["data"]["b"] == {"name": HIDDEN_NAME}
    # a department reads the file: the public sees that it did (whoViewed, 公示)
    query = '{ enterprise(creditCode: "%s") { name } }' % OPEN_CO
    httpx.post(f"{gateway.url}/graphql", headers=REG_DEPARTMENT, json={"query": query})
    deadline = time.monotonic() + 10
    while not httpx.post(f"{gateway.url}/graphql", json={
            "query": '{ whoViewed(creditCode: "%s") { agency } }' % OPEN_CO}).json()[
            "data"]["whoViewed"]:
        assert time.monotonic() < deadline, "the department's reading is not in the log"
        time.sleep(0.2)
    return gateway


class Browser:
    """One page in Chromium: other hosts refused, script errors and the headers of every
    GraphQL request kept for the test to check."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.refused: list[str] = []
        self.problems: list[str] = []
        self.graphql_headers: list[dict[str, str]] = []
        page.route("**/*", self._only_this_machine)
        page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.on("request", self._note)

    def _only_this_machine(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", None):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()

    def _note(self, request: Any) -> None:
        if urlsplit(request.url).path == "/graphql":
            self.graphql_headers.append(request.headers)

    def text(self) -> str:
        return str(self.page.locator("body").inner_text())

    def focused(self, attribute: str = "id") -> str:
        return str(self.page.evaluate(
            f"() => document.activeElement && document.activeElement.getAttribute('{attribute}')"
            " || ''"))

    def check(self) -> None:
        assert self.refused == []
        assert self.problems == []  # no script error, no Content-Security-Policy violation
        assert self.graphql_headers, "the page asked nothing"
        for headers in self.graphql_headers:  # the public GraphQL: no key, no purpose
            assert not {"authorization", "x-purpose", "cookie"} & set(headers), headers


@pytest.fixture
def browser() -> Iterator[Callable[..., Browser]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield lambda width=1280, height=800: Browser(
                chromium.new_page(viewport={"width": width, "height": height}))
        finally:
            chromium.close()


def _assert_open_file_only(text: str) -> None:
    for shown in (OPEN_NAME, OPEN_CO, *SHOWN, "登记机关 (REG)", "生态环境局 (EPB)", "红色预警"):
        assert shown in text, shown
    for hidden in (PLANTED, TAX_ONLY, "TAX", "税务局", "偷税", "未批先建", HIDDEN_NAME, HIDDEN_CO):
        assert hidden not in text, hidden


def test_search_by_name_then_open_a_file_shows_no_conditional_record(
        portal: ServerThread, browser: Callable[..., Browser]) -> None:
    tab = browser()
    tab.page.goto(f"{portal.url}/portal", wait_until="networkidle")
    tab.page.get_by_label("企业名称或统一社会信用代码").fill("甲餐饮")
    tab.page.get_by_role("button", name="查询 Search").click()
    results = tab.page.locator("#result-list li")
    results.first.wait_for(timeout=30_000)
    assert results.count() == 1  # the CONDITIONAL enterprise is neither listed nor counted
    status = tab.page.locator("#status").inner_text()
    assert "找到 1 家企业" in status and "1 enterprises found" in status
    assert HIDDEN_NAME not in tab.text() and HIDDEN_CO not in tab.text()
    tab.page.get_by_role("link", name=OPEN_NAME).click()
    tab.page.locator("#file-title").wait_for(timeout=30_000)
    assert tab.page.locator("#file-title").inner_text() == OPEN_NAME
    penalties = tab.page.locator("#sec-penalties")
    assert "行政处罚 Administrative penalties (2)" in penalties.inner_text()
    _assert_open_file_only(tab.text())
    viewers = tab.page.locator("#sec-viewers").inner_text()
    assert "登记机关 (REG) · 监督检查 · inspection" in viewers, viewers  # day · agency · purpose
    # each record names its agency
    records = penalties.locator("li.record")
    assert sorted(records.nth(i).locator("dd").last.inner_text() for i in range(2)) == [
        "生态环境局 (EPB)", "登记机关 (REG)"]
    # history too: the planted record is absent from every period
    with tab.page.expect_response(lambda r: urlsplit(r.url).path == "/graphql"):
        tab.page.get_by_label("包括历史记录").check()
    tab.page.locator("#status").get_by_text("已打开").wait_for(timeout=30_000)
    assert "history=1" in tab.page.url
    _assert_open_file_only(tab.text())
    # back to the results, then straight to a file by credit code
    tab.page.go_back()
    tab.page.go_back()
    results.first.wait_for(timeout=30_000)
    tab.page.get_by_label("企业名称或统一社会信用代码").fill(OPEN_CO.lower())
    tab.page.get_by_role("button", name="查询 Search").click()
    tab.page.locator("#sec-penalties").wait_for(timeout=30_000)
    _assert_open_file_only(tab.text())
    # the hidden enterprise by its code: "no enterprise", as for a code never registered
    tab.page.get_by_label("企业名称或统一社会信用代码").fill(HIDDEN_CO)
    tab.page.keyboard.press("Enter")
    tab.page.locator("#status").get_by_text("未找到该信用代码的企业").wait_for(timeout=30_000)
    assert tab.page.locator("#file").is_hidden()
    tab.check()


def test_the_portal_works_from_the_keyboard_alone(
        portal: ServerThread, browser: Callable[..., Browser]) -> None:
    tab = browser()
    tab.page.goto(f"{portal.url}/portal", wait_until="networkidle")
    keys = tab.page.keyboard
    keys.press("Tab")
    assert tab.focused("class") == "skip"  # the first stop: skip to the content
    keys.press("Enter")
    assert tab.focused() == "main"
    keys.press("Tab")
    assert tab.focused() == "q"
    outline = tab.page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # focus is visible
    keys.type("甲餐饮")
    keys.press("Enter")  # Enter searches
    tab.page.locator("#result-list li").first.wait_for(timeout=30_000)
    assert tab.focused() == "results-title"  # focus moves to the results
    keys.press("Tab")
    assert tab.page.evaluate("() => document.activeElement.textContent") == OPEN_NAME
    assert tab.page.evaluate(
        "() => getComputedStyle(document.activeElement).outlineStyle") == "solid"
    keys.press("Enter")  # opens the file
    tab.page.locator("#sec-penalties").wait_for(timeout=30_000)
    assert tab.focused() == "file-title"  # focus moves to the file's name
    keys.press("Tab")
    assert "返回查询结果" in tab.page.evaluate("() => document.activeElement.textContent")
    _assert_open_file_only(tab.text())
    keys.press("Enter")  # back to the results, focus on them again
    tab.page.locator("#results").wait_for(state="visible", timeout=30_000)
    tab.page.wait_for_function("document.activeElement.id === 'results-title'",
                               timeout=30_000)
    # the skip link keeps the results (and the search in the address)
    tab.page.locator(".skip").focus()
    keys.press("Enter")
    assert tab.focused() == "main" and "q=" in tab.page.url
    assert tab.page.locator("#results").is_visible()
    # an empty search says so and leaves focus in the field, marked invalid
    keys.press("Tab")
    assert tab.focused() == "q"
    tab.page.locator("#q").fill("")
    keys.press("Enter")
    assert tab.page.locator("#q").get_attribute("aria-invalid") == "true"
    assert "请输入企业名称" in tab.page.locator("#status").inner_text()
    tab.check()


def test_the_portal_fits_a_phone_screen(
        portal: ServerThread, browser: Callable[..., Browser]) -> None:
    tab = browser(width=375, height=740)
    tab.page.goto(f"{portal.url}/portal", wait_until="networkidle")
    tab.page.get_by_label("企业名称或统一社会信用代码").fill("甲餐饮")
    tab.page.get_by_role("button", name="查询 Search").click()
    tab.page.get_by_role("link", name=OPEN_NAME).click()
    tab.page.locator("#sec-penalties").wait_for(timeout=30_000)
    _assert_open_file_only(tab.text())
    # nothing wider than the screen: no sideways scrolling
    assert tab.page.evaluate("() => document.documentElement.scrollWidth") <= 375
    for selector in ("#q", "button[type=submit]", "#sec-penalties", "#sec-registration"):
        box = tab.page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, selector
    # the search field and its button are big enough to touch
    button = tab.page.locator("button[type=submit]").bounding_box()
    assert button is not None and button["height"] >= 40
    tab.check()


def _admin(gateway: ServerThread, query: str, **variables: Any) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.post(f"{gateway.url}/graphql", headers=ADMIN, timeout=30,
                                        json={"query": query, "variables": variables}).json()
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


def _plan(gateway: ServerThread, name: str, seed: str, *, publish: bool) -> set[str]:
    """A plan of REG over both planted enterprises (the hidden one may be drawn too: the
    draw weighs every enterprise), drawn, and published when ``publish``."""
    created = _admin(gateway, """mutation($input: InspectionPlanInput!) {
        createInspectionPlan(input: $input) { id } }""", input={
        "name": name, "agency": "REG", "count": 2, "filter": {"districtCode": "110102"},
        "items": ["营业执照", "食品经营许可"]})
    plan = created["createInspectionPlan"]["id"]
    drawn = _admin(gateway, """mutation($plan: ID!, $seed: String!) {
        drawInspection(planId: $plan, seed: $seed) { items { creditCode } } }""",
                   plan=plan, seed=seed)
    if publish:
        _admin(gateway, """mutation($plan: ID!) {
            publishInspectionPlan(planId: $plan) { status } }""", plan=plan)
    return {item["creditCode"] for item in drawn["drawInspection"]["items"]}


def test_published_plans_and_their_draws_show_and_nothing_else(
        portal: ServerThread, browser: Callable[..., Browser]) -> None:
    drawn = _plan(portal, "西城区餐饮业双随机抽查", "西城公证处 第4711号", publish=True)
    assert drawn == {OPEN_CO, HIDDEN_CO}  # the hidden enterprise is drawn
    _plan(portal, "尚未公布的抽查计划", "another seed", publish=False)
    tab = browser()
    tab.page.goto(f"{portal.url}/portal", wait_until="networkidle")
    plans = tab.page.locator("#plans")
    plans.get_by_role("heading", name="西城区餐饮业双随机抽查").wait_for(timeout=30_000)
    text = plans.inner_text()
    assert "尚未公布" not in text and "another seed" not in text  # a draft is not public
    for shown in ("REG", "营业执照；食品经营许可", "抽取结果（"):
        assert shown in text, shown
    # the draw opens from the keyboard; it names the open enterprise drawn, never the
    # hidden one nor any inspector
    summary = plans.locator("summary").first
    summary.focus()
    tab.page.keyboard.press("Enter")
    drawn = plans.locator("ol.drawn")
    drawn.wait_for(state="visible", timeout=10_000)
    text = plans.inner_text()
    assert "西城公证处 第4711号" in text and OPEN_NAME in text
    for hidden in (HIDDEN_NAME, HIDDEN_CO, "王磊", "李娜", "张伟"):
        assert hidden not in text, hidden
    drawn.get_by_role("link", name=OPEN_NAME).click()  # the file of an enterprise drawn
    tab.page.locator("#sec-penalties").wait_for(timeout=30_000)
    _assert_open_file_only(tab.text())
    tab.check()


def test_a_field_classed_above_open_leaves_the_page(
        tmp_path: Path, serve: Callable[..., ServerThread],
        browser: Callable[..., Browser]) -> None:
    """The operator keeps warnings and grades from the public (fields.yaml): the page
    asks for neither - its queries follow the public schema - and still shows the rest."""
    from gateway.policy_files import DEFAULT_POLICY_DIR

    policies = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, policies,
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    fields = (policies / "fields.yaml").read_text(encoding="utf-8")
    for name in ("warning", "creditGrade"):
        line = re.search(rf"^Enterprise:\n(?:  .*\n)*?(  {name}: OPEN)", fields, re.MULTILINE)
        assert line is not None, name
        fields = fields[:line.start(1)] + f"  {name}: CONDITIONAL" + fields[line.end(1):]
    (policies / "fields.yaml").write_text(fields, encoding="utf-8")
    config = load_config(_agencies(tmp_path))
    gateway = serve(create_app(config, AppOptions(rate_limits=False, policy_dir=policies)))
    tab = browser()
    tab.page.goto(f"{gateway.url}/portal#code={OPEN_CO}", wait_until="networkidle")
    tab.page.locator("#sec-penalties").wait_for(timeout=30_000)
    text = tab.text()
    assert all(number in text for number in SHOWN)
    for gone in ("预警", "Warning", "红色预警", "信用等级", "Credit grade"):
        assert gone not in text, gone
    assert tab.page.locator("#sec-warning, #sec-grade").count() == 0
    tab.check()
