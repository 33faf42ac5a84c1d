"""The public portal (公示查询, /portal) over HTTP: the page and its two files are served
from the gateway itself, under a Content-Security-Policy that lets the page load and
call this gateway alone, with no inline code; the files are cached by digest, the page
revalidated; nothing else is served from the portal's folder; ``--no-portal`` and
``AppOptions(portal=False)`` serve none of it; a broken portal folder stops the start.
The page in a browser: test_portal_browser.py."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from conftest import Demo, ServerThread
from gateway.app import AppOptions, create_app
from gateway.cli import _parser
from gateway.portal import CONTENT_SECURITY_POLICY, Portal, PortalFileError
from gateway.serve_app import build_app

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "static" / "portal"
BROWSER = {"Accept": "text/html,application/xhtml+xml", "Accept-Encoding": "gzip"}
_ABSOLUTE_URL = re.compile(r"(?:https?:)?//[\w-]+\.[\w.-]+")


class _Page(HTMLParser):
    """What a page refers to (src, href), and any inline code or style it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self.landmarks: list[str] = []
        self._tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v is not None]
        self.inline += [f"{tag} {k}" for k, _ in attrs if k == "style" or k.startswith("on")]
        if tag == "style" or (tag == "script" and "src" not in found):
            self.inline.append(tag)
        if tag in ("header", "main", "footer", "form") or found.get("role"):
            self.landmarks.append(found.get("role") or tag)


@pytest.fixture
def gateway(demo: Demo, serve: Callable[..., ServerThread]) -> ServerThread:
    return serve(create_app(demo.config, AppOptions(rate_limits=False)))


def _page(url: str) -> tuple[httpx.Response, _Page]:
    response = httpx.get(f"{url}/portal", headers=BROWSER, timeout=30)
    page = _Page()
    page.feed(response.text)
    return response, page


def test_the_page_is_served_under_a_policy_that_allows_this_gateway_only(
        gateway: ServerThread) -> None:
    response, page = _page(gateway.url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "connect-src"):
        assert directives[name] == "'self'", name  # no other host, no 'unsafe-inline'
    assert directives["frame-ancestors"] == "'none'" and directives["form-action"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert page.inline == []  # the policy would refuse them: no inline script or style


def test_the_page_and_its_files_name_no_other_host(gateway: ServerThread) -> None:
    response, page = _page(gateway.url)
    assert not _ABSOLUTE_URL.findall(response.text)
    assert {u.split("?")[0] for u in page.urls} == {
        "/portal/static/portal.css", "/portal/static/portal.js", "#main", "data:,"}
    for url in page.urls:
        if url.startswith("/portal/static/"):
            text = httpx.get(gateway.url + url).text
            assert not _ABSOLUTE_URL.findall(text), url
            assert "innerHTML" not in text and "eval(" not in text, url


def test_the_page_is_bilingual_and_has_its_landmarks(gateway: ServerThread) -> None:
    response, page = _page(gateway.url)
    assert '<html lang="zh-CN">' in response.text
    assert {"header", "main", "footer", "search", "status"} <= set(page.landmarks)
    assert 'aria-live="polite"' in response.text
    assert '<label for="q">企业名称或统一社会信用代码' in response.text
    assert '<span lang="en">Enterprise name or unified social credit code</span>' in response.text
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in response.text


def test_every_file_is_cached_by_its_digest_and_the_page_revalidated(
        gateway: ServerThread) -> None:
    response, page = _page(gateway.url)
    assert response.headers["cache-control"] == "no-cache"
    etag = response.headers["etag"]
    again = httpx.get(f"{gateway.url}/portal", headers={**BROWSER, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    kinds = {"portal.js": "text/javascript; charset=utf-8",
             "portal.css": "text/css; charset=utf-8"}
    files = [u for u in page.urls if u.startswith("/portal/static/")]
    assert len(files) == 2
    for url in files:
        name = url.split("?")[0].rsplit("/", 1)[1]
        body = (STATIC / name).read_bytes()
        assert re.fullmatch(r"/portal/static/[\w.]+\?v=[0-9a-f]{16}", url), url
        plain = httpx.get(gateway.url + url, headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and plain.content == body
        assert plain.headers["content-type"] == kinds[name]
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "content-encoding" not in plain.headers
        packed = httpx.get(gateway.url + url, headers={"Accept-Encoding": "gzip"})
        assert packed.headers["content-encoding"] == "gzip"
        assert packed.num_bytes_downloaded < len(body) / 2  # compressed on the wire
        assert packed.content == body
        tag, packed_tag = plain.headers["etag"], packed.headers["etag"]
        assert tag != packed_tag  # two representations, two tags
        assert httpx.get(gateway.url + url, headers={"If-None-Match": tag,
                                                     "Accept-Encoding": "identity"}
                         ).status_code == 304
        assert httpx.get(gateway.url + url, headers={"If-None-Match": packed_tag,
                                                     "Accept-Encoding": "gzip"}
                         ).status_code == 304
        assert httpx.get(gateway.url + url, headers={"If-None-Match": tag,
                                                     "Accept-Encoding": "gzip"}
                         ).status_code == 200
        # a file that changed is a new URL: its digest is part of the one the page names
        assert url.endswith(Portal().url(name).split("?v=")[1])


def test_the_files_are_small(gateway: ServerThread) -> None:
    """A few KB on the wire: the page works on a slow connection."""
    for name in ("index.html", "portal.js", "portal.css"):
        assert len(gzip.compress((STATIC / name).read_bytes())) < 10_000, name


def test_nothing_else_is_served_from_the_portal(gateway: ServerThread) -> None:
    for path in ("/portal/static/index.html", "/portal/static/../app.py",
                 "/portal/static/%2e%2e/portal.py", "/portal/static/nothing.js",
                 "/portal/static/sub/portal.js", "/portal/index.html"):
        response = httpx.get(gateway.url + path)
        assert response.status_code == 404, path
        assert "portal.py" not in response.text and "Traceback" not in response.text


def test_no_portal_serves_neither_the_page_nor_its_files(
        demo: Demo, serve: Callable[..., ServerThread]) -> None:
    gateway = serve(create_app(demo.config, AppOptions(portal=False, rate_limits=False)))
    assert httpx.get(f"{gateway.url}/portal", headers=BROWSER).status_code == 404
    assert httpx.get(f"{gateway.url}/portal/static/portal.js").status_code == 404
    assert httpx.get(f"{gateway.url}/healthz").status_code == 200


def test_serve_takes_no_portal(demo: Demo) -> None:
    config = demo.data_dir / "gateway.yaml"

    def paths(*flags: str) -> set[str]:
        args = _parser().parse_args(["serve", "--config", str(config), *flags])
        app = build_app(args, config, None, warn=False)
        return {getattr(route, "path", "") for route in app.routes}

    assert {"/portal", "/portal/static/{name}"} <= paths()
    assert not {p for p in paths("--no-portal") if p.startswith("/portal")}


def test_a_broken_portal_folder_stops_the_start(tmp_path: Path) -> None:
    for name in ("index.html", "portal.js", "portal.css"):
        (tmp_path / name).write_bytes((STATIC / name).read_bytes())
    assert Portal(tmp_path).names == {"portal.js", "portal.css"}
    (tmp_path / "portal.css").unlink()
    with pytest.raises(PortalFileError, match=r"portal\.css is missing"):
        Portal(tmp_path)
    (tmp_path / "portal.css").write_text("body {}", encoding="utf-8")
    (tmp_path / "index.html").write_text('<script src="{{other.js}}"></script>',
                                         encoding="utf-8")
    with pytest.raises(PortalFileError, match=r"refers to \{\{other.js\}\}"):
        Portal(tmp_path)
