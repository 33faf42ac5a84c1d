"""The configuration key ``webhooks:``: signed POSTs of pushes to systems that cannot
hold a websocket (``gateway.webhooks``).

::

    webhooks:
      - id: fda-case-system               # names it in logs, dead letters and the CLI
        url: https://cases.fda.example/hooks/regulatory-graph
        secret_env: FDA_WEBHOOK_SECRET    # or secret: "...", at least 16 characters
        principal: fda-case-system        # a principal of this configuration: what it
                                          # may see is what the webhook is told
        purpose: INSPECTION               # optional: one of the principal's purposes
        events: [warningChanges, registrations]
        filter: {districtCode: "110102", minLevel: ORANGE}   # optional

``filter`` takes the subscriptions' filter fields: ``districtCode``, ``industry``
(both events), ``agency`` and ``minLevel`` (``warningChanges`` only). ``registrations``
needs a principal bound to an agency (it is told of new enterprises needing that
agency's licence). Secrets are read once, at start; a ``secret_env`` that is not set
stops the start like any other configuration error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["EVENTS", "WebhookSpec", "parse_webhooks"]

EVENTS = ("warningChanges", "registrations")
_LEVELS = ("NONE", "YELLOW", "ORANGE", "RED")
_FILTERS = {"districtCode": EVENTS, "industry": EVENTS, "agency": ("warningChanges",),
            "minLevel": ("warningChanges",)}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MIN_SECRET = 16




@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """One webhook. ``secret`` is never shown (``repr`` leaves it out)."""

    id: str
    url: str
    principal: str
    events: tuple[str, ...]
    filter: Mapping[str, str] = field(default_factory=dict)
    purpose: str = ""  # declared as X-Purpose would be ("" none)
    secret: str = field(default="", repr=False)

    def filter_for(self, event: str) -> dict[str, str]:
        """The subscription filter of ``event`` (the fields that apply to it)."""
        return {k: v for k, v in self.filter.items() if event in _FILTERS[k]}


def parse_webhooks(raw: Any, where: str, principals: Mapping[str, Any],
                   problems: list[str], *,
                   agencies: Collection[str] = ()) -> tuple[WebhookSpec, ...]:
    """Check ``webhooks:`` (``principals``: id -> ``PrincipalSpec``; ``agencies``: the
    configuration's agency codes, which ``filter.agency`` must name); problems are
    appended, each naming the file, the webhook and the field."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{where}: must be a list of webhooks (id, url, secret or "
                        "secret_env, principal, events)")
        return ()
    found: list[WebhookSpec] = []
    seen: set[str] = set()
    for number, entry in enumerate(raw, start=1):
        spec = _webhook(entry, f"{where}[{number}]", principals, agencies, problems)
        if spec is None:
            continue
        if spec.id in seen:
            problems.append(f"{where}[{number}] ({spec.id}): id: used by another webhook")
            continue
        seen.add(spec.id)
        found.append(spec)
    return tuple(found)


def _webhook(raw: Any, where: str, principals: Mapping[str, Any], agencies: Collection[str],
             problems: list[str]) -> WebhookSpec | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a mapping")
        return None
    before = len(problems)
    webhook_id = raw.get("id")
    if not isinstance(webhook_id, str) or not _ID.match(webhook_id):
        problems.append(f"{where}: id: required, letters, digits, '.', '_' or '-'")
        webhook_id = "?"
    where = f"{where} ({webhook_id})"
    for key in raw:
        if key not in ("id", "url", "secret", "secret_env", "principal", "purpose", "events",
                       "filter"):
            problems.append(f"{where}: unknown field {key!r}")
    url = raw.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{where}: url: an http:// or https:// URL is required")
    secret = _secret(raw, where, problems)
    principal = raw.get("principal")
    spec = principals.get(principal) if isinstance(principal, str) else None
    if spec is None:
        problems.append(f"{where}: principal: {principal!r} is not a principal of this "
                        "configuration (its view decides what the webhook is told)")
    events = raw.get("events")
    if (not isinstance(events, list) or not events
            or not all(isinstance(e, str) and e in EVENTS for e in events)):
        problems.append(f"{where}: events: a non-empty list of {', '.join(EVENTS)}")
        events = []
    elif len(set(events)) != len(events):
        problems.append(f"{where}: events: each event once")
    if "registrations" in events and spec is not None and not spec.agency:
        problems.append(f"{where}: events: registrations needs a principal bound to an "
                        f"agency; {principal} is not")
    purpose = raw.get("purpose") or ""
    if spec is not None and purpose and purpose not in spec.purposes:
        problems.append(f"{where}: purpose: {purpose!r} is not one of {principal}'s purposes "
                        f"({', '.join(spec.purposes) or 'none'})")
    condition = _filter(raw.get("filter"), where, events, problems)
    agency = condition.get("agency")
    if agency is not None and agencies and agency not in agencies:
        problems.append(f"{where}: filter.agency: {agency!r} is not an agency of this "
                        "configuration")
    if len(problems) > before:
        return None
    assert isinstance(url, str) and isinstance(principal, str)
    return WebhookSpec(str(webhook_id), url, principal, tuple(events), condition,
                       str(purpose), secret)


def _secret(raw: Mapping[str, Any], where: str, problems: list[str]) -> str:
    given, variable = raw.get("secret"), raw.get("secret_env")
    if (given is None) == (variable is None):
        problems.append(f"{where}: secret or secret_env: give exactly one")
        return ""
    if variable is not None:
        if not isinstance(variable, str) or not variable:
            problems.append(f"{where}: secret_env: the name of an environment variable")
            return ""
        given = os.environ.get(variable)
        if given is None:
            problems.append(f"{where}: secret_env: environment variable {variable} is not set")
            return ""
        what = f"the value of {variable}"
    else:
        what = "secret"
    if not isinstance(given, str) or len(given) < _MIN_SECRET:
        problems.append(f"{where}: {'secret_env' if variable else 'secret'}: {what} must be "
                        f"at least {_MIN_SECRET} characters")
        return ""
    return given


def _filter(raw: Any, where: str, events: list[str], problems: list[str]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: filter: a mapping of {', '.join(_FILTERS)}")
        return {}
    condition: dict[str, str] = {}
    for key, value in raw.items():
        if key not in _FILTERS:
            problems.append(f"{where}: filter.{key}: unknown (known: {', '.join(_FILTERS)})")
        elif not isinstance(value, str) or not value:
            problems.append(f"{where}: filter.{key}: a text value")
        elif key == "minLevel" and value not in _LEVELS:
            problems.append(f"{where}: filter.minLevel: one of {', '.join(_LEVELS)}")
        elif not any(event in _FILTERS[key] for event in events):
            problems.append(f"{where}: filter.{key}: applies only to "
                            f"{', '.join(_FILTERS[key])}")
        else:
            condition[key] = value
    return condition
