"""Which connector class serves which source kind, and how each is built."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from connectors.base import Connector
from connectors.csv_folder import CsvConnector
from connectors.http_pool import HttpPool
from connectors.http_service import HttpConnector
from connectors.observe import NO_OBSERVER, SourceObserver
from connectors.records import RowProblem
from connectors.spec import AgencySpec
from connectors.sql import SqlConnector

__all__ = ["build_connector"]


def build_connector(
    spec: AgencySpec,
    *,
    report: Callable[[RowProblem], None],
    http_client: httpx.AsyncClient,
    http_transport: httpx.AsyncBaseTransport | None = None,
    http_pool: HttpPool | None = None,
    observer: SourceObserver = NO_OBSERVER,
) -> Connector:
    """The connector for ``spec.kind``, given the shared clients it may need (and the
    HTTP client's transport, or a pool of agency connections, for queries sent
    straight to them) and who is told of its calls (metrics, traces)."""
    connector: Connector
    if spec.kind == "sql":
        connector = SqlConnector(spec, report=report)
    elif spec.kind == "csv":
        connector = CsvConnector(spec, report=report)
    elif spec.kind == "http":
        connector = HttpConnector(spec, report=report, client=http_client,
                                  transport=http_transport, pool=http_pool)
    else:
        raise ValueError(f"agency {spec.code}: unknown source kind {spec.kind!r}")
    connector.observer = observer
    return connector
