"""The GraphiQL page (GET /graphql in a browser), loading only the gateway's own files.

Strawberry's page loads React and GraphiQL from a CDN and stays at "Loading..."
on a network without internet; this one loads them from ``/graphiql/static/``
(``gateway.graphiql_assets``) and its Content-Security-Policy lets the browser
fetch from the gateway alone. It opens with the example tabs of
``gateway.graphiql_examples`` and the header editor showing each tab's headers.
"""

from __future__ import annotations

import html
import json
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse

from connectors.errors import SourceError
from connectors.standard import Openness
from gateway.graphiql_assets import GraphiQLAssets
from gateway.graphiql_examples import Examples, example_tabs, header_text
from gateway.runtime import Runtime

__all__ = ["GraphiQLPage"]

logger = logging.getLogger("gateway")

# the page may load scripts, styles and data from the gateway only; GraphiQL sets
# style attributes and its fonts are data: URLs
_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
           "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_PLACEHOLDER_CODE = "91110000000000000X"  # shown when the registry cannot be read
_STYLES = ("graphiql.min.css", "plugin-explorer.css")
_SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js",
            "plugin-explorer.umd.js", "start.js")
_TEMPLATE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
{styles}
<style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script id="graphiql-settings" type="application/json">{settings}</script>
{scripts}
</body>
</html>
"""


class GraphiQLPage:
    """Renders the page for a request: the example tabs about ``examples``' enterprise,
    or the registry's first one (``Runtime.index``) when it names none."""

    def __init__(self, assets: GraphiQLAssets, examples: Examples,
                 title: str = "Enterprise regulatory graph · GraphiQL") -> None:
        self._assets = assets
        self._examples = examples
        self._title = title

    async def response(self, request: Request) -> HTMLResponse:
        code = self._examples.credit_code or await _first_enterprise(request.app.state.runtime)
        tabs = example_tabs(self._examples, code)
        settings = {"tabs": [tab.as_graphiql() for tab in tabs],
                    "headers": header_text(self._examples.department_key, "INSPECTION")}
        page = _TEMPLATE.format(
            title=html.escape(self._title),
            styles="\n".join(f'<link rel="stylesheet" href="{self._assets.url(name)}">'
                             for name in _STYLES),
            scripts="\n".join(f'<script src="{self._assets.url(name)}"></script>'
                              for name in _SCRIPTS),
            # "<" escaped: no text in the settings can close the script element
            settings=json.dumps(settings, ensure_ascii=False).replace("<", "\\u003c"),
        )
        return HTMLResponse(page, headers={"Content-Security-Policy": _POLICY,
                                           "Cache-Control": "no-cache",
                                           "X-Content-Type-Options": "nosniff"})


async def _first_enterprise(runtime: Runtime) -> str:
    """The credit code of the registry's first fully open (OPEN) enterprise - one the
    public may read - or a placeholder."""
    try:
        snapshot = await runtime.index.snapshot()
    except SourceError as error:
        logger.warning("GraphiQL's examples name no enterprise: %s", error)
        return _PLACEHOLDER_CODE
    first = next((r.credit_code for r in snapshot.enterprises
                  if r.credit_code and r.openness is Openness.OPEN), None)
    return first or _PLACEHOLDER_CODE
