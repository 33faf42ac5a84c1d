"""Every example query in the documentation runs against the demo, and its printed
answer is true for a demo generated on any day.

The convention (for whoever edits README.md or the READMEs beside the code,
``conftest.DOCUMENTS``):

* A fenced ```graphql block is an example; it is run. The caller is said by an HTML
  comment on the line(s) before the fence, after at most blank lines::

      <!-- example: key=demo-department-key purpose=INSPECTION -->

  ``key``: a demo key (sent as ``Authorization: Bearer <key>``); ``purpose``: sent as
  ``X-Purpose``. No comment, or a comment without ``key``: the public.
* A ```graphql block whose operation is a ``subscription`` is not run here: its
  answers come over a websocket when a source changes
  (tests/gateway/test_subscriptions.py checks that each one is valid for the schema).
* A fenced ```json block right after the example (only blank lines between) is its
  printed answer. Keep the comment, the example and its answer together, so they
  move as one.
* A fenced ```sh block: every ``curl ... /graphql`` command in it with a ``-d '<JSON
  body>'`` is run with its ``-H`` headers. Its printed answer is the ``# {...}``
  comment lines right after the command, or - for the block's last command - a
  ```json block right after the ```sh block.
* Checking an answer: every key printed must be in the answer, with a matching
  value; an answer with ``errors`` must print them. ``"…"`` (or a bare ``…`` in a
  commented answer) matches any value and, as a list element, any number of further
  elements (the printed elements must then appear in the answer in that order); a
  list without ``"…"`` must match element for element. In a string, ``…`` matches any
  text (``"2026-…"``). Everything else - names, credit codes, levels, grades, record
  ids - must be equal. An example without a printed answer must answer without
  errors.
* The demo's dates follow the day it is generated, so a printed answer holds no
  ISO date (``YYYY-MM-DD``): write ``"…"`` instead; nor does an example's query or
  its variables (a date argument left to its default means today). This test fails
  on one.

The demo is the bundled one (``prepare_demo``), generated for today and for the next
1 January (the gateway's today pinned to the same day), served with the options
``gateway serve`` uses, its agencies on loopback as in ``gateway serve``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import DOCUMENTS, ServerThread
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from gateway.demo_mode import prepare_demo
from gateway.runtime import Runtime, open_runtime

ROOT = Path(__file__).resolve().parents[1]
ANY = "…"
_FENCE = re.compile(r"^```(\w*)\s*$")
_COMMENT = re.compile(r"^<!--\s*example:?(.*?)-->\s*$")
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


@dataclass
class Block:
    lang: str
    text: str
    line: int  # of the opening fence, 1-based
    comment: str | None  # the example comment before it
    next_is_adjacent: bool = False  # the following block comes after blank lines only


@dataclass
class Example:
    where: str
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    printed: Any = None  # the printed answer, parsed; None when none is printed


def _blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    since_last: list[str] = []  # lines between the previous block and this one
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            since_last.append(lines[index])
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index])
            index += 1
        between = [line for line in since_last if line.strip()]
        comment = _COMMENT.match(between[-1].strip()) if between else None
        if blocks and not between:
            blocks[-1].next_is_adjacent = True
        blocks.append(Block(opening.group(1), "\n".join(body), start + 1,
                            comment.group(1).strip() if comment else None))
        since_last = []
        index += 1
    return blocks


def _caller(comment: str | None) -> dict[str, str]:
    words = dict(word.split("=", 1) for word in shlex.split(comment or "") if "=" in word)
    headers = {}
    if "key" in words:
        headers["Authorization"] = f"Bearer {words['key']}"
    if "purpose" in words:
        headers["X-Purpose"] = words["purpose"]
    return headers


def _loose_json(text: str) -> Any:
    """JSON where a bare ``…`` (outside strings) stands for ``"…"``."""
    out, in_string, escaped = [], False, False
    for char in text:
        if in_string:
            escaped = char == "\\" and not escaped
            in_string = not (char == '"' and not escaped)
        elif char == '"':
            in_string = True
        elif char == ANY:
            out.append(f'"{ANY}"')
            continue
        out.append(char)
    return json.loads("".join(out))


def _commands(text: str) -> list[tuple[str, list[str]]]:
    """The curl commands of a shell block (continuation lines joined), each with the
    ``# {...}`` comment lines right after it (its printed answer)."""
    commands: list[tuple[str, list[str]]] = []
    building, answering = False, False
    for line in text.splitlines():
        stripped = line.strip()
        if building:
            command, answer = commands[-1]
            commands[-1] = (command[:-1] + " " + stripped, answer)
        elif stripped.startswith("curl "):
            commands.append((stripped, []))
        elif answering and stripped.startswith("#") and (
                commands[-1][1] or stripped[1:].strip().startswith("{")):
            commands[-1][1].append(stripped[1:].strip())
            continue
        else:
            answering = False
            continue
        building = commands[-1][0].endswith("\\")
        answering = not building
    return commands


def _curl_examples(block: Block, where: str, printed_after: Any) -> Iterator[Example]:
    commands = _commands(block.text)
    for number, (command, answer) in enumerate(commands):
        words = shlex.split(command)
        if not any(word.endswith("/graphql") for word in words) or "-d" not in words:
            continue
        body = json.loads(words[words.index("-d") + 1])
        headers = {}
        for index, word in enumerate(words):
            if word == "-H":
                name, _, value = words[index + 1].partition(":")
                if name.lower() != "content-type":
                    headers[name] = value.strip()
        printed = _loose_json(" ".join(answer)) if answer else None
        if printed is None and number == len(commands) - 1:
            printed = printed_after
        yield Example(f"{where} (curl {number + 1})", body["query"],
                      body.get("variables") or {}, headers, printed)


_SUBSCRIPTION = re.compile(r"(?:\s|#[^\n]*)*subscription\b")


def is_subscription(text: str) -> bool:
    """Is this GraphQL document's (first) operation a subscription?"""
    return _SUBSCRIPTION.match(text) is not None


def collect(path: Path) -> list[Example]:
    """The examples of one Markdown file."""
    blocks = _blocks(path.read_text(encoding="utf-8"))
    examples: list[Example] = []
    for index, block in enumerate(blocks):
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        printed = (_loose_json(following.text) if block.next_is_adjacent and following
                   and following.lang == "json" else None)
        where = f"{path.relative_to(ROOT)}:{block.line}"
        if block.lang == "graphql" and not is_subscription(block.text):
            examples.append(Example(where, block.text, {}, _caller(block.comment), printed))
        elif block.lang == "sh":
            examples.extend(_curl_examples(block, where, printed))
    return examples


EXAMPLES = [example for path in DOCUMENTS for example in collect(path)]


def mismatches(printed: Any, actual: Any, path: str = "$") -> list[str]:
    """Where ``actual`` does not bear out ``printed`` (the rules in the module docstring)."""
    if printed == ANY:
        return []
    if isinstance(printed, dict):
        if not isinstance(actual, dict):
            return [f"{path}: printed an object, got {actual!r}"]
        found = []
        for key, value in printed.items():
            if key not in actual:
                found.append(f"{path}.{key}: printed, not in the answer")
            else:
                found += mismatches(value, actual[key], f"{path}.{key}")
        return found
    if isinstance(printed, list):
        if not isinstance(actual, list):
            return [f"{path}: printed a list, got {actual!r}"]
        items = [item for item in printed if item != ANY]
        if len(items) == len(printed):
            if len(printed) != len(actual):
                return [f"{path}: printed {len(printed)} elements, got {len(actual)}"]
            return [problem for index, (p, a) in enumerate(zip(printed, actual, strict=True))
                    for problem in mismatches(p, a, f"{path}[{index}]")]
        position = 0
        for item in items:
            while position < len(actual) and mismatches(item, actual[position]):
                position += 1
            if position == len(actual):
                return [f"{path}: {json.dumps(item, ensure_ascii=False)} not in the answer "
                        f"(in the printed order)"]
            position += 1
        return []
    if isinstance(printed, str) and ANY in printed and isinstance(actual, str):
        pattern = ".*".join(re.escape(part) for part in printed.split(ANY))
        return [] if re.fullmatch(pattern, actual, re.DOTALL) else [
            f"{path}: printed {printed!r}, got {actual!r}"]
    if printed != actual or type(printed) is not type(actual):
        return [f"{path}: printed {printed!r}, got {actual!r}"]
    return []


def _dates(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [date for item in value.values() for date in _dates(item)]
    if isinstance(value, list):
        return [date for item in value for date in _dates(item)]
    return _ISO_DATE.findall(value) if isinstance(value, str) else []


def _pinned(day: dt.date) -> Callable[..., Runtime]:
    def factory(*args: Any, **kwargs: Any) -> Runtime:
        runtime = open_runtime(*args, **kwargs)
        runtime.today = lambda: day
        return runtime
    return factory


# today, and the next 1 January: the day the record cycle turns
DAYS = (dt.date.today(), dt.date(dt.date.today().year + 1, 1, 1))


@pytest.fixture(scope="module", params=DAYS, ids=("today", "next-1-january"))
def gateway_url(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    day: dt.date = request.param
    demo = prepare_demo(tmp_path_factory.mktemp("readme") / "demo", today=day)
    app = create_app(load_config(demo.config_path),
                     AppOptions(graphiql=False, runtime_factory=_pinned(day)))
    server = ServerThread(demo.agencies.around(app)).start()
    yield server.url
    server.stop()


def test_the_documents_have_examples() -> None:
    assert len(EXAMPLES) >= 5
    assert sum(example.printed is not None for example in EXAMPLES) >= 3


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.where for e in EXAMPLES])
def test_example_answers_as_printed(example: Example, gateway_url: str) -> None:
    assert not _dates(example.printed), (
        f"{example.where}: the printed answer holds dates {_dates(example.printed)}, which "
        "change with the day the demo is generated; print \"…\"")
    asked = _dates([example.query, example.variables])
    assert not asked, (
        f"{example.where}: the query asks about fixed dates {asked}, whose answer changes "
        "with the day the demo is generated; leave them to their defaults (today)")
    response = httpx.post(f"{gateway_url}/graphql", headers=example.headers, timeout=60,
                          json={"query": example.query, "variables": example.variables})
    answer = response.json()
    if example.printed is None:
        assert response.status_code == 200 and "errors" not in answer, (example.where, answer)
        return
    problems = mismatches(example.printed, answer)
    if "errors" in answer and "errors" not in example.printed:
        problems.append(f"$.errors: none printed, got {answer['errors']}")
    assert not problems, f"{example.where}:\n" + "\n".join(problems) + (
        f"\nanswer: {json.dumps(answer, ensure_ascii=False)[:3000]}")


def test_the_checker_catches_a_wrong_answer() -> None:
    printed = _loose_json('{"a": [{"id": "X-1"}, …], "b": "RED", "c": "…", "d": "2026-…"}')
    assert not mismatches(printed, {"a": [{"id": "X-0"}, {"id": "X-1", "z": 1}], "b": "RED",
                                    "c": [1], "d": "2026-12-02"})
    assert mismatches(printed, {"a": [{"id": "X-2"}], "b": "RED", "c": 1, "d": "2026"})
    assert mismatches(printed, {"a": [{"id": "X-1"}], "b": "ORANGE", "c": 1, "d": "2026-1"})
    assert mismatches({"a": [1, 2]}, {"a": [1, 2, 3]})
    assert mismatches({"a": 1}, {"b": 1})
