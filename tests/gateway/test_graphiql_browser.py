"""GraphiQL in a real browser with no internet: Chromium, every request to another
host refused, renders the page, runs the first example tab and shows the answer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import Demo, ServerThread
from gateway.app import AppOptions, create_app
from gateway.demo.examples import demo_examples

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="no /usr/bin/chromium (apt-get install chromium)")


def test_graphiql_renders_and_answers_with_only_this_machine_reachable(
        demo: Demo, serve: Callable[..., ServerThread]) -> None:
    from playwright.sync_api import ConsoleMessage, Route, sync_playwright

    options = AppOptions(graphiql_examples=demo_examples(demo.data_dir), rate_limits=False)
    gateway = serve(create_app(demo.config, options))
    refused: list[str] = []
    problems: list[str] = []

    def only_this_machine(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", None):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    def note_error(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.route("**/*", only_this_machine)
            page.on("console", note_error)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{gateway.url}/graphql", wait_until="networkidle")
            tabs = page.locator(".graphiql-tab")
            assert tabs.count() == 4
            headers = page.locator(".graphiql-editor-tool").inner_text()
            assert "demo-department-key" in headers and "X-Purpose" in headers
            page.locator(".graphiql-execute-button").click()
            answer = page.locator(".graphiql-response")
            answer.get_by_text(f'"{demo.showcase}"').wait_for(timeout=30_000)
            assert '"penalties"' in answer.inner_text()
            assert '"errors"' not in answer.inner_text()
        finally:
            browser.close()
    assert refused == []
    assert problems == []  # no script error, no Content-Security-Policy violation
