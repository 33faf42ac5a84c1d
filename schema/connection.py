"""Relay-style connection over enterprises, and its filter."""

from __future__ import annotations

import base64
import binascii

import strawberry

from schema.enums import EnterpriseStatus
from schema.errors import BadUserInput
from schema.rules.model import Grade, WarningLevel
from schema.subjects import Enterprise

__all__ = [
    "EnterpriseConnection",
    "EnterpriseEdge",
    "EnterpriseFilter",
    "PageInfo",
    "decode_cursor",
    "encode_cursor",
]

_PREFIX = "enterprise:"


def encode_cursor(credit_code: str) -> str:
    return base64.urlsafe_b64encode((_PREFIX + credit_code).encode()).decode()


def decode_cursor(cursor: str) -> str:
    """The credit code a cursor points at; ``BadUserInput`` for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(_PREFIX):
        raise BadUserInput(
            "'after' is not a cursor of this connection; pass an endCursor or cursor "
            "returned by enterprises.",
            argument="after",
        )
    return text[len(_PREFIX) :]


@strawberry.input(description="Conditions an enterprise must meet; all given ones apply.")
class EnterpriseFilter:
    name_contains: str | None = strawberry.field(
        default=None, description="Part of the registered name (case-insensitive)."
    )
    industry: str | None = strawberry.field(default=None, description="Industry, exactly.")
    district_code: str | None = strawberry.field(
        default=None,
        description=(
            "Division code or its prefix, e.g. 110102 (西城区) or 1101 (all of 北京市辖区)."
        ),
    )
    status: EnterpriseStatus | None = strawberry.field(
        default=None, description="Registration status."
    )
    has_records_from: str | None = strawberry.field(
        default=None,
        description="Agency code: only enterprises with at least one record from that agency.",
    )
    warning_level: WarningLevel | None = strawberry.field(
        default=None,
        description=(
            "Only enterprises whose warning today (from the records you may see) is this "
            "level - over the whole registry."
        ),
    )
    credit_grade: Grade | None = strawberry.field(
        default=None, description="Only enterprises whose credit grade today is this grade."
    )


@strawberry.type(description="Where a page stands in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when more enterprises follow.")
    has_previous_page: bool = strawberry.field(description="True when 'after' skipped some.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; pass it as 'after' for the next page."
    )


@strawberry.type(description="One enterprise of a page, with its cursor.")
class EnterpriseEdge:
    cursor: str = strawberry.field(description="Opaque position of this enterprise.")
    node: Enterprise = strawberry.field(description="The enterprise.")


@strawberry.type(description="A page of enterprises (Relay connection), ordered by credit code.")
class EnterpriseConnection:
    total_count: int = strawberry.field(
        description="How many enterprises match the filter, over all pages."
    )
    edges: list[EnterpriseEdge] = strawberry.field(description="The enterprises of this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")
