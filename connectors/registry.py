"""Which connector class serves which source kind, and how each is built."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from connectors.base import Connector
from connectors.csv_folder import CsvConnector
from connectors.http_service import HttpConnector
from connectors.records import RowProblem
from connectors.spec import AgencySpec
from connectors.sql import SqlConnector

__all__ = ["build_connector"]


def build_connector(
    spec: AgencySpec,
    *,
    report: Callable[[RowProblem], None],
    http_client: httpx.AsyncClient,
) -> Connector:
    """The connector for ``spec.kind``, given the shared clients it may need."""
    if spec.kind == "sql":
        return SqlConnector(spec, report=report)
    if spec.kind == "csv":
        return CsvConnector(spec, report=report)
    if spec.kind == "http":
        return HttpConnector(spec, report=report, client=http_client)
    raise ValueError(f"agency {spec.code}: unknown source kind {spec.kind!r}")
