"""The ``enterprises`` connection: a page from ``schema.listing``, presented."""

from __future__ import annotations

import strawberry

from schema.connection import (
    EnterpriseConnection,
    EnterpriseEdge,
    EnterpriseFilter,
    PageInfo,
    encode_cursor,
)
from schema.context import RequestContext
from schema.listing import MAX_PAGE, list_enterprises
from schema.page import prefetch_page
from schema.subjects import enterprises_from

__all__ = ["MAX_PAGE", "search_enterprises"]

Info = strawberry.Info[RequestContext, None]


async def search_enterprises(
    info: Info, condition: EnterpriseFilter | None, first: int, after: str | None
) -> EnterpriseConnection:
    """One page of the enterprises that meet ``condition``, ordered by credit code."""
    page = await list_enterprises(info.context, info.path.as_list(), condition, first, after)
    nodes = enterprises_from(info, page.records, under=("edges", "node"))
    await prefetch_page(info, nodes, ("edges", "node"))
    edges = [
        EnterpriseEdge(cursor=encode_cursor(node.credit_code), node=node) for node in nodes
    ]
    return EnterpriseConnection(
        total_count=page.total,
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.start + len(page.records) < page.total,
            has_previous_page=page.start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
