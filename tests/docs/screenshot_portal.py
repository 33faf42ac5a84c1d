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
from pathlib import Path

import httpx

# the same demo, browser and offline rules as the GraphiQL screenshot (this folder is
# on the path when the script is run)
from screenshot_graphiql import ROOT, demo_gateway, offline_page, save

from gateway.demo.examples import demo_examples


def take(url: str, code: str, out: Path) -> None:
    """Search the portal at ``url`` for the name of enterprise ``code``, open its file
    and save the page's first screen (1280 x 1100) to ``out``."""
    answer = httpx.post(f"{url}/graphql", timeout=30, json={
        "query": "query($c: String!) { enterprise(creditCode: $c) { name } }",
        "variables": {"c": code}}).json()
    name: str = answer["data"]["enterprise"]["name"]
    with offline_page(f"{url}/portal", height=1100) as page:
        # the name without its city and its legal form, as someone would type it
        page.locator("#q").fill(name.removeprefix("北京").split("有限")[0][:6])
        page.keyboard.press("Enter")
        page.get_by_role("link", name=name).click(timeout=60_000)
        page.locator("#sec-penalties").wait_for(timeout=60_000)
        page.evaluate("window.scrollTo(0, 0)")
        save(page, out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "gateway/static/docs/portal.png")
    parser.add_argument("--demo-dir", type=Path, default=ROOT / ".demo-data")
    args = parser.parse_args()
    with demo_gateway(args.demo_dir) as url:
        code = demo_examples(args.demo_dir).credit_code
        if code is None:
            raise SystemExit(f"{args.demo_dir} names no showcase enterprise")
        take(url, code, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
