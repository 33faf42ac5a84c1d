"""Take the README's GraphiQL screenshot: the demo's first example tab and its answer.

    python tests/docs/screenshot_graphiql.py [--out gateway/static/docs/graphiql.png]
    python tests/docs/screenshot_graphiql.py --statistics   # gateway/static/docs/statistics.png

Starts ``gateway serve`` on the bundled demo (a free port on 127.0.0.1, demo data in
``--demo-dir``), opens GraphiQL in Debian's Chromium (``apt-get install chromium``;
driven by the ``playwright`` package, no browser download) with every request to
another host refused - so the picture also proves the page works offline - runs the
first tab and saves the page once the answer is in. Not a test: run it by hand when
the page or the demo changes. Chinese text needs a CJK font on the machine
(``apt-get install fonts-wqy-microhei``), or it shows as empty boxes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Page, Route, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(process: subprocess.Popen[bytes], url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise SystemExit("gateway serve exited before it was ready")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the demo was not ready within {timeout_s:.0f} s")
        time.sleep(0.3)


def _only_this_machine(route: Route) -> None:
    host = urlsplit(route.request.url).hostname
    if host in ("127.0.0.1", None):  # None: data: URLs
        route.continue_()
    else:
        print(f"refused: {route.request.url}", file=sys.stderr)
        route.abort()


@contextlib.contextmanager
def demo_gateway(demo_dir: Path) -> Iterator[str]:
    """``gateway serve`` on the bundled demo (data in ``demo_dir``) at a free port of
    127.0.0.1, until the block ends: its URL, once it is ready."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port),
         "--demo-dir", str(demo_dir), "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait_ready(process, url)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


@contextlib.contextmanager
def offline_page(url: str, height: int = 800) -> Iterator[Page]:
    """``url`` opened in Debian's Chromium (1280 px wide), every request to another
    host refused."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": height})
            page.route("**/*", _only_this_machine)
            page.goto(url, wait_until="networkidle")
            yield page
        finally:
            browser.close()


def save(page: Page, out: Path) -> None:
    page.wait_for_timeout(300)  # let the editor and the fonts finish painting
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out))


def take(url: str, out: Path) -> None:
    """Open GraphiQL at ``url``, run the first tab and save the page to ``out``."""
    with offline_page(f"{url}/graphql") as page:
        page.locator(".graphiql-execute-button").click()
        answer = page.locator(".graphiql-response")
        answer.get_by_text('"creditCode"').wait_for(timeout=60_000)
        save(page, out)


STATISTICS = """# The public's figures (公示统计)
query PublicStatistics {
  statistics(groupBy: [DISTRICT, WARNING_LEVEL]) {
    unit total suppressedCells threshold
    cells { keys count suppressed }
  }
}"""


def take_statistics(url: str, out: Path) -> None:
    """GraphiQL with a public ``statistics`` question (no key) and its protected answer."""
    with offline_page(f"{url}/graphql") as page:
        page.locator(".graphiql-tab-add").click()  # a tab of its own: no operation name
        page.wait_for_timeout(300)
        # the editors in page order: query, variables, headers, response
        page.evaluate("""([query]) => {
            const editors = [...document.querySelectorAll('.CodeMirror')]
                .map((node) => node.CodeMirror);
            editors[0].setValue(query);
            editors[2].setValue('{}');
        }""", [STATISTICS])
        page.locator(".graphiql-execute-button").click()
        answer = page.locator(".graphiql-response")
        try:
            answer.get_by_text('"suppressed"').first.wait_for(timeout=60_000)
        except Exception:
            page.screenshot(path=str(out.with_suffix(".failed.png")))
            raise
        save(page, out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--statistics", action="store_true",
                        help="the public statistics picture instead of the first tab")
    parser.add_argument("--demo-dir", type=Path, default=ROOT / ".demo-data")
    args = parser.parse_args()
    name = "statistics.png" if args.statistics else "graphiql.png"
    args.out = args.out or ROOT / "gateway/static/docs" / name
    with demo_gateway(args.demo_dir) as url:
        (take_statistics if args.statistics else take)(url, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
