"""Errors a connector raises. The schema turns them into GraphQL errors.

    SourceError
    ├── SourceUnavailable   the agency could not be read (down, timeout, bad answer)
    └── SourceUnsupported   the source kind cannot do what was asked (e.g. list an http registry)
"""

from __future__ import annotations

__all__ = ["SourceError", "SourceUnavailable", "SourceUnsupported"]


class SourceError(Exception):
    """Base of connector errors; ``agency`` is the agency code."""

    def __init__(self, agency: str, reason: str) -> None:
        super().__init__(f"agency {agency}: {reason}")
        self.agency = agency
        self.reason = reason


class SourceUnavailable(SourceError):
    """The agency's source could not be read. ``reason`` is safe to show callers.

    ``retryable`` marks transient failures (a refused connection, a 502/503/504) that
    a bounded retry may overcome; a timeout or a malformed answer is not retried.
    """

    def __init__(self, agency: str, reason: str, *, retryable: bool = False) -> None:
        super().__init__(agency, reason)
        self.retryable = retryable


class SourceUnsupported(SourceError):
    """The source kind cannot answer this kind of request."""
