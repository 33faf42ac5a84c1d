"""What every resolver of one request can reach (``info.context``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connectors.errors import SourceError
from schema.audit_port import AuditPort
from schema.loaders import Loaders
from schema.overlay import Overlay
from schema.records import Agency
from schema.redaction import SelectionMemo
from schema.registry_index import RegistryIndex
from schema.risk_index import RiskIndex
from schema.rules.model import RuleSet
from schema.sources import Sources
from schema.view import CallerView

if TYPE_CHECKING:  # it reads the risk types of schema.risk, which reads this module
    from schema.registry_risk import RegistryRisk

if TYPE_CHECKING:
    from schema.inspection_port import InspectionPort
    from schema.policy_admin import PolicyAdminPort
    from schema.pushes import PushPort
    from schema.record_workflows import WorkflowPort
    from schema.subscription_port import SubscriptionPort

__all__ = ["FailedSource", "RequestContext", "SourceFailures"]


@dataclass(frozen=True, slots=True)
class FailedSource:
    """An agency that failed during this request, and the first path that needed it."""

    error: SourceError
    path: tuple[str | int, ...]


@dataclass(slots=True)
class SourceFailures:
    """Agencies that failed during one request: one entry per agency."""

    failures: dict[str, FailedSource] = field(default_factory=dict)

    def add(self, error: SourceError, path: Sequence[str | int]) -> None:
        if error.agency not in self.failures:
            self.failures[error.agency] = FailedSource(error, tuple(path))


@dataclass(slots=True)
class RequestContext:
    """Per-request state: the app's sources and index, and this request's loaders."""

    sources: Sources
    index: RegistryIndex
    agencies: Mapping[str, Agency]
    rules: RuleSet
    today: dt.date
    # the caller's view: what it may see and read (built once per request)
    view: CallerView = field(default_factory=CallerView.unrestricted)
    risk_index: RiskIndex = field(default_factory=lambda: RiskIndex(0))
    # every risk record of the registry (``Runtime``); read for the request when None
    registry_risk: RegistryRisk | None = None
    loaders: Loaders = field(default_factory=Loaders)
    failures: SourceFailures = field(default_factory=SourceFailures)
    # False when the answer reports the moment it was made (sources' availability,
    # decisions' freshness): such an answer is never reused (gateway.response_cache)
    reusable: bool = True
    # shared by a gateway's requests (``Runtime``); a fresh one when none is given
    selections: SelectionMemo = field(default_factory=SelectionMemo)
    # credit codes whose remote agencies were asked before the query executed
    # (schema.early_asks); the resolver does not ask again
    asked_early: set[str] = field(default_factory=set)
    # restriction decisions given (for the access log): creditCode, action, decision
    decisions: list[dict[str, str]] = field(default_factory=list)
    # the access log as the graph reads it (auditors, whoViewed); None when not kept
    audit: AuditPort | None = None
    # the access policy as an admin changes it (setFieldClass); None when it is kept
    # in files, or the caller is no admin
    policy_admin: PolicyAdminPort | None = None
    # double-random inspections for this caller (schema.inspections); None when the
    # gateway keeps no platform database
    inspections: InspectionPort | None = None
    # the platform's record overlay in force for this request (schema.overlay): applied
    # to every record before the caller's view
    overlay: Overlay = field(default_factory=Overlay.empty)
    # objections and credit repairs (schema.record_workflows) as this caller acts on
    # them; None without a platform database
    workflows: WorkflowPort | None = None
    # a subscriber's connection to the gateway's events (schema.subscriptions); set only
    # on the context of a websocket connection
    subscriptions: SubscriptionPort | None = None
    # pushed registrations (双告知, schema.pushes) as this caller reads and claims them;
    # None without a platform database
    pushes: PushPort | None = None
