"""The documents hold together: every relative link reaches a file and, with an
anchor, one of its headings (GitHub's anchors); README's contents list every section
it has; its first screen says what the gateway is, gives the two commands and shows
GraphiQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import DOCUMENTS, REPOSITORY

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$")


def slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (CJK kept),
    spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return kept.replace(" ", "-")


def headings(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2)))
    return found


def prose(path: Path) -> str:
    """The document without its fenced blocks (a shell comment is not a link)."""
    kept: list[str] = []
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return "\n".join(kept)


def test_the_documents_are_found() -> None:
    names = {str(path.relative_to(REPOSITORY)) for path in DOCUMENTS}
    assert {"README.md", "connectors/README.md", "gateway/README.md",
            "gateway/platform_store/README.md", "policies/README.md",
            "docker/README.md"} <= names


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPOSITORY)))
def test_every_relative_link_reaches_a_file_and_heading(document: Path) -> None:
    broken: list[str] = []
    text = prose(document)
    for target in [*_LINK.findall(text), *_IMAGE.findall(text)]:
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists():
            broken.append(f"{target}: no file {file_part}")
            continue
        if anchor and anchor not in {slug(title) for _, title in headings(linked)}:
            broken.append(f"{target}: no heading with the anchor #{anchor}")
    assert not broken, "\n".join(broken)


def test_readme_contents_list_every_section() -> None:
    readme = REPOSITORY / "README.md"
    sections = [title for level, title in headings(readme) if level in (2, 3)]
    contents = prose(readme).split("## Contents", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"\]\(#([^)]+)\)", contents)
    assert listed == [slug(title) for title in sections if title != "Contents"]


def test_readme_first_screen_says_what_it_is_the_two_commands_and_shows_graphiql() -> None:
    first_screen = "\n".join((REPOSITORY / "README.md").read_text(
        encoding="utf-8").splitlines()[:40])
    assert "GraphQL gateway" in first_screen
    assert "pip install -e . && gateway serve" in first_screen
    assert "pip install -e '.[dev]' && python -m pytest" in first_screen
    image = _IMAGE.search(first_screen)
    assert image is not None and image.group(1) == "gateway/static/docs/graphiql.png"
    assert (REPOSITORY / image.group(1)).stat().st_size > 20_000


def test_readme_has_the_operators_sections() -> None:
    """Running in production (logs, metrics, traces, health) and Troubleshooting, each
    with more than a heading; a section's text is what lies before the next heading."""
    readme = REPOSITORY / "README.md"
    text = prose(readme)
    found = [(level, title) for level, title in headings(readme)]
    for level, title in [(2, "Running in production"), (3, "Logs"), (3, "Metrics"),
                         (3, "Traces"), (3, "Health"), (2, "Troubleshooting")]:
        assert (level, title) in found, title
        body = re.split(rf"^{'#' * level} {re.escape(title)}\n", text, flags=re.M)[1]
        body = re.split(r"^#{2,3} ", body, maxsplit=1, flags=re.M)[0]
        assert len(body.split()) >= 30, f"{title}: {len(body.split())} words"
    production = text.split("## Running in production", 1)[1].split("\n## ", 1)[0]
    for term in ("X-Request-Id", "/metrics", "OTLP", "/readyz", "/healthz"):
        assert term in production, term
