"""GraphiQL works without internet: the page loads only the gateway's own files, every
one of them is served, the vendored packages keep their licences, and the example
tabs answer on the demo."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import parse, validate

from conftest import ACTIONS, Demo, ServerThread
from gateway.app import AppOptions, create_app
from gateway.demo.examples import demo_examples
from schema.build import build_schema

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "static" / "graphiql"
BROWSER = {"Accept": "text/html,application/xhtml+xml", "Accept-Encoding": "gzip"}
VENDORED = {  # package -> its file in licenses/
    "react": "react.LICENSE", "react-dom": "react-dom.LICENSE", "graphiql": "graphiql.LICENSE",
    "@graphiql/plugin-explorer": "plugin-explorer.LICENSE",
    "graphiql-explorer": "graphiql-explorer.LICENSE",
}


class _References(HTMLParser):
    """Every URL the page refers to (src, href) and its inline JSON settings."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_settings = False
        self.settings = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v is not None]
        if tag == "script" and "src" not in found:
            self._in_settings = found.get("type") == "application/json"
            self.inline_scripts += not self._in_settings

    def handle_data(self, data: str) -> None:
        if self._in_settings:
            self.settings += data

    def handle_endtag(self, tag: str) -> None:
        self._in_settings = False


def _page(url: str) -> tuple[httpx.Response, _References]:
    response = httpx.get(f"{url}/graphql", headers=BROWSER, timeout=30)
    references = _References()
    references.feed(response.text)
    return response, references


@pytest.fixture
def gateway(demo: Demo, serve: Callable[..., ServerThread]) -> ServerThread:
    options = AppOptions(graphiql_examples=demo_examples(demo.data_dir), rate_limits=False)
    return serve(create_app(demo.config, options))


def test_the_page_loads_nothing_from_another_host(gateway: ServerThread) -> None:
    response, page = _page(gateway.url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert not re.findall(r"(?:https?:)?//[\w.-]+", response.text.replace("</", "")), (
        "an absolute URL in the page")
    assert page.urls, "the page refers to no file"
    for url in page.urls:
        assert url.startswith(("/", "data:")) and not url.startswith("//"), url
    assert page.inline_scripts == 0  # settings are JSON data, the code is start.js
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "http" not in policy


def test_every_file_the_page_refers_to_is_served(gateway: ServerThread) -> None:
    _, page = _page(gateway.url)
    kinds = {".js": "text/javascript", ".css": "text/css"}
    files = [u for u in page.urls if u.startswith("/")]
    assert {u.split("?")[0].rsplit("/", 1)[1] for u in files} == {
        "graphiql.min.css", "plugin-explorer.css", "react.production.min.js",
        "react-dom.production.min.js", "graphiql.min.js", "plugin-explorer.umd.js", "start.js"}
    for url in files:
        response = httpx.get(gateway.url + url, headers={"Accept-Encoding": "gzip"})
        name = url.split("?")[0]
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith(kinds[Path(name).suffix]), url
        assert response.headers["content-encoding"] == "gzip"
        assert "immutable" in response.headers["cache-control"]
        assert response.content == (STATIC / Path(name).name).read_bytes()  # decompressed
        assert len(response.content) > 500, url
    # the biggest one really is GraphiQL's bundle, and it is compressed on the wire
    bundle = next(u for u in files if "graphiql.min.js" in u)
    raw = httpx.get(gateway.url + bundle, headers={"Accept-Encoding": "gzip"}).num_bytes_downloaded
    assert raw < len((STATIC / "graphiql.min.js").read_bytes()) / 3


def test_only_the_vendored_files_are_served(gateway: ServerThread) -> None:
    for path in ("/graphiql/static/../app.py", "/graphiql/static/%2e%2e/app.py",
                 "/graphiql/static/nothing.js", "/graphiql/static/licenses/../../cli.py"):
        assert httpx.get(gateway.url + path).status_code == 404, path


def test_every_vendored_package_has_its_licence_and_checksum() -> None:
    versions = (STATIC / "VERSIONS.md").read_text(encoding="utf-8")
    for package, licence in VENDORED.items():
        text = (STATIC / "licenses" / licence).read_text(encoding="utf-8")
        assert "Permission is hereby granted" in text, licence  # MIT
        assert f"| {package} |" in versions, package
    # each served file's sha256 is the one VERSIONS.md records (same bytes as the tarball)
    for name in ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js",
                 "graphiql.min.css", "plugin-explorer.umd.js", "plugin-explorer.css"):
        digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()
        assert f"`{name}` | `{digest}`" in versions, name


def _settings(url: str) -> dict[str, Any]:
    _, page = _page(url)
    settings: dict[str, Any] = json.loads(page.settings)
    return settings


def test_the_header_editor_shows_a_key_and_a_purpose(gateway: ServerThread) -> None:
    settings = _settings(gateway.url)
    headers = json.loads(settings["headers"])
    assert headers == {"Authorization": "Bearer demo-department-key", "X-Purpose": "INSPECTION"}
    tabs = settings["tabs"]
    assert [json.loads(tab["headers"]).get("X-Purpose") for tab in tabs] == [
        "INSPECTION", None, "LICENCE_APPROVAL", "INSPECTION"]


def test_the_example_tabs_are_valid_and_answer_on_the_demo(gateway: ServerThread,
                                                           demo: Demo) -> None:
    tabs = _settings(gateway.url)["tabs"]
    assert len(tabs) == 4
    assert demo.showcase in tabs[0]["query"] and demo.showcase in tabs[2]["query"]
    assert json.loads(tabs[3]["variables"]) == {"personId": demo.showcase_person}
    schema = build_schema(actions=ACTIONS)._schema
    for tab in tabs:
        assert validate(schema, parse(tab["query"])) == [], tab["query"]
        response = httpx.post(f"{gateway.url}/graphql", headers=json.loads(tab["headers"]),
                              json={"query": tab["query"],
                                    "variables": json.loads(tab["variables"])}, timeout=60)
        answer = response.json()
        assert response.status_code == 200 and "errors" not in answer, answer
        data = answer["data"]
        (value,) = data.values()
        assert value, data
    file, listing, check, person = (httpx.post(
        f"{gateway.url}/graphql", headers=json.loads(t["headers"]),
        json={"query": t["query"], "variables": json.loads(t["variables"])}, timeout=60,
    ).json()["data"] for t in tabs)
    # the department sees records of more than one agency; the list found enterprises
    agencies = {p["agency"]["code"] for p in file["enterprise"]["penalties"]}
    assert len(agencies) >= 2, file
    assert listing["enterprises"]["totalCount"] > 0
    assert check["restrictionCheck"]["decision"] in ("ALLOWED", "RESTRICTED", "PROHIBITED")
    assert person["person"]["enterprises"]


def test_a_deployment_page_names_a_public_enterprise_and_no_person(
        demo: Demo, serve: Callable[..., ServerThread]) -> None:
    gateway = serve(create_app(demo.config, AppOptions(rate_limits=False)))
    tabs = _settings(gateway.url)["tabs"]
    code = re.search(r'creditCode: "(\w+)"', tabs[0]["query"])
    assert code is not None
    answer = httpx.post(f"{gateway.url}/graphql", timeout=30, json={
        "query": '{ enterprise(creditCode: "%s") { creditCode } }' % code[1]}).json()
    assert answer == {"data": {"enterprise": {"creditCode": code[1]}}}  # the public reads it
    assert json.loads(tabs[3]["variables"]) == {"personId": ""}
    assert "YOUR-API-KEY" in tabs[0]["headers"]


def test_no_graphiql_serves_neither_the_page_nor_its_files(
        demo: Demo, serve: Callable[..., ServerThread]) -> None:
    gateway = serve(create_app(demo.config, AppOptions(graphiql=False, rate_limits=False)))
    page = httpx.get(f"{gateway.url}/graphql", headers=BROWSER)
    assert "text/html" not in page.headers.get("content-type", "")
    assert httpx.get(f"{gateway.url}/graphiql/static/start.js").status_code == 404
