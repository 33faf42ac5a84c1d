"""Take the README's portal screenshot: the public portal (公示查询) after a search by
name, with the demo's showcase enterprise's file open.

    python tests/docs/screenshot_portal.py [--out gateway/static/docs/portal.png]

Starts ``gateway serve`` on the bundled demo (a free port on 127.0.0.1, demo data in
``--demo-dir``), opens ``/portal`` in Debian's Chromium (``apt-get install chromium``;
driven by the ``playwright`` package, no browser download) with every request to
another host refused - so the picture also proves the page works offline - types part
of the showcase enterprise's name, presses Enter, opens the enterprise from the results
and saves the page once its file is in. Not a test: run it by hand when the page or the
demo changes. Chinese text needs a CJK font on the machine (``apt-get install
fonts-wqy-microhei``), or it shows as empty boxes.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

# the same browser, launch and offline rules as the GraphiQL screenshot (this folder is
# on the path when the script is run)
from screenshot_graphiql import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    _free_port,
    _only_this_machine,
    _wait_ready,
)

from gateway.demo.examples import demo_examples


def take(url: str, code: str, out: Path) -> None:
    """Search the portal at ``url`` for the name of enterprise ``code``, open its file
    and save the page's first screen (1280 x 1100) to ``out``."""
    answer = httpx.post(f"{url}/graphql", timeout=30, json={
        "query": "query($c: String!) { enterprise(creditCode: $c) { name } }",
        "variables": {"c": code}}).json()
    name: str = answer["data"]["enterprise"]["name"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.route("**/*", _only_this_machine)
            page.goto(f"{url}/portal", wait_until="networkidle")
            # the name without its city and its legal form, as someone would type it
            page.locator("#q").fill(name.removeprefix("北京").split("有限")[0][:6])
            page.keyboard.press("Enter")
            page.get_by_role("link", name=name).click(timeout=60_000)
            page.locator("#sec-penalties").wait_for(timeout=60_000)
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(300)  # let the fonts finish painting
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "gateway/static/docs/portal.png")
    parser.add_argument("--demo-dir", type=Path, default=ROOT / ".demo-data")
    args = parser.parse_args()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port),
         "--demo-dir", str(args.demo_dir), "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait_ready(process, url)
        code = demo_examples(args.demo_dir).credit_code
        if code is None:
            raise SystemExit(f"{args.demo_dir} names no showcase enterprise")
        take(url, code, args.out)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
