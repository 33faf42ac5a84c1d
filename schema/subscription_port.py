"""What the subscriptions (``schema.subscriptions``) need from the running gateway.

The graph does not know Redis, websockets or the access log: the gateway hands a
subscription's context a ``SubscriptionPort`` (``gateway.event_port``) through which it
hears what changed, gets a fresh context for each change, reads the licensing rules
and notes each delivery in the access log. A notice says only *which* enterprise
changed: every value a subscriber is told is read again through its own view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from schema.licensing import LicensingRules

if TYPE_CHECKING:
    from schema.context import RequestContext

__all__ = ["Notice", "RegistrationNotice", "SubscriptionPort", "WarningNotice"]


@dataclass(frozen=True, slots=True)
class WarningNotice:
    """An enterprise's warning changed on every agency's records (the change feed's
    view, not the subscriber's). ``district_code`` and ``industry`` are the raw registry
    values: only to skip, cheaply, a change no filter on them can match."""

    credit_code: str
    district_code: str | None
    industry: str | None
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class RegistrationNotice:
    """A new enterprise appeared in the registry (新设立登记)."""

    credit_code: str
    at: dt.datetime


Notice = WarningNotice | RegistrationNotice


class SubscriptionPort(Protocol):
    """One subscriber's connection to the gateway's events."""

    def notices(self) -> AbstractAsyncContextManager[AsyncIterator[Notice]]:
        """Every notice from the moment the context is entered until it is left."""
        ...

    def context_for(self, notice: Notice | None) -> RequestContext:
        """A fresh context for computing what the subscriber is told of ``notice``: its
        clearance, the policy and rules in force now, and loaders that read the agencies
        again (not the record cache, which may still hold the records from before the
        change). ``None``: a context for the subscription's start."""
        ...

    def licensing(self) -> LicensingRules:
        """The licensing rules in force (policies/licensing.yaml)."""
        ...

    def delivered(self, field: str, context: RequestContext) -> None:
        """Note in the access log what one delivered event returned (``context``'s view
        reports it), ``field`` the subscription's root field - before it is sent: raises
        ``AuditUnavailable`` when the delivery could not be traced (it is then not sent)."""
        ...
