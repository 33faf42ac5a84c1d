"""Agency sources, read batch-first and normalised to the collection standard."""

from connectors.base import Changes, Connector, KeyResult, RawBatch, Watermark
from connectors.errors import SourceError, SourceUnavailable, SourceUnsupported
from connectors.records import Record, RowProblem
from connectors.spec import AgencySpec

__all__ = [
    "AgencySpec",
    "Changes",
    "Connector",
    "KeyResult",
    "RawBatch",
    "Record",
    "RowProblem",
    "SourceError",
    "SourceUnavailable",
    "SourceUnsupported",
    "Watermark",
]
