"""Root fields: the caller's saved views (`views`) and the account's segments (`segments`, `segment`)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from tortoise.expressions import Q

from crm.models import SavedView
from crm.models import Segment as SegmentModel
from graph.context import Info
from graph.ids import decode_cursor, decode_id, page_size
from graph.resolvers.segments_loaders import segment_read, view_read
from graph.schema.common import forward_page
from graph.schema.segments import SEGMENT_CURSOR, Segment, SegmentConnection, load_segment, segment_edges
from graph.schema.views import View


@strawberry.type
class SegmentQueries:
    @strawberry.field(
        description="The caller's saved views and the account's shared ones, by name (README: Saved views "
        "and segments)."
    )
    async def views(self, info: Info) -> list[View]:
        actor = info.context.require_actor()
        mine = Q(user_id=actor.user_id) if actor.user_id is not None else Q(user_id__isnull=True)
        rows = (
            await SavedView.filter(Q(account_id=actor.account_id) & (mine | Q(shared=True)))
            .order_by("name", "id")
            .values(*view_read())
        )
        return [View.from_row(row) for row in rows]

    @strawberry.field(description="The account's segments, oldest first (README: Saved views and segments).")
    async def segments(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="At most this many (1 to 100).")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last segment the client has.")
        ] = None,
    ) -> SegmentConnection:
        size = page_size(first)
        account_id = info.context.require_actor().account_id
        segments = SegmentModel.filter(account_id=account_id)
        if after is not None:
            segments = segments.filter(id__gt=decode_cursor(after, SEGMENT_CURSOR))
        rows = await segments.order_by("id").limit(size + 1).values(*segment_read())
        for row in rows[:size]:
            info.context.loaders.segment.prime(row["id"], row)  # type: ignore[attr-defined]
        edges = segment_edges(rows[:size])
        return SegmentConnection(
            edges=edges, page_info=forward_page(edges, more=len(rows) > size, after=after)
        )

    @strawberry.field(description="One segment of the account by its id.")
    async def segment(self, info: Info, id: strawberry.ID) -> Segment:
        return await load_segment(info, decode_id(id, "Segment"))
