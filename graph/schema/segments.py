"""Segments (D12): saved groups of contacts, and a card's `segments` (README "Saved views and segments")."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from crm.errors import BadInput, NotFound
from graph.context import Info
from graph.ids import decode_cursor, encode_cursor, page_size
from graph.resolvers.loaders import CONTACT_READ
from graph.schema.accounts import User, joined_user
from graph.schema.common import PageInfo, built, forward_page
from graph.schema.contact_filter import filter_to_client

if TYPE_CHECKING:
    from graph.schema.contacts import ContactConnection

SEGMENT_CURSOR = "segment"
CONTACT_CURSOR = "contact"


@strawberry.enum(description="How a segment's members are decided.")
class SegmentKind(Enum):
    DYNAMIC = strawberry.enum_value("DYNAMIC", description="Whoever its filter matches, now.")
    STATIC = strawberry.enum_value(
        "STATIC",
        description="The contacts put in it (createSegment contactIds, addToSegment, removeFromSegment).",
    )


_KINDS = {kind.value: kind for kind in SegmentKind}


@strawberry.type(
    description="A saved group of contacts: DYNAMIC (its filter, evaluated now) or STATIC (contacts put "
    "in it). Usable as a filter: contacts(filter: {segment: {in: [id]}})."
)
class Segment(relay.Node):
    id: relay.NodeID[int]
    name: str
    kind: SegmentKind
    filter: JSON | None = strawberry.field(
        description="A DYNAMIC segment's ContactFilter as JSON a client can send again; null for STATIC."
    )
    created_by: User | None = strawberry.field(description="Who made it (null once that user is gone).")
    created_at: datetime
    updated_at: datetime
    _row: strawberry.Private[Any]

    @classmethod
    def from_row(cls, row: Any) -> Segment:
        return built(
            cls,
            {
                "id": row["id"],
                "name": row["name"],
                "kind": _KINDS[row["kind"]],
                "filter": filter_to_client(row["filter_spec"]) if row["filter_spec"] is not None else None,
                "created_by": joined_user(row, "created_by"),
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
                "_row": row,
            },
        )

    @strawberry.field(description="How many live (not archived) contacts are in it now.")
    async def count(self, info: Info) -> int:
        found = await info.context.loaders.segment_count.load(self.id)  # type: ignore[attr-defined]
        if found is None:  # a dynamic filter that no longer compiles: say why
            await self._members(info)
        return int(found or 0)

    @strawberry.field(description="Its live (not archived) contacts, newest first.")
    async def contacts(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="At most this many (1 to 100).")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last contact the client has.")
        ] = None,
    ) -> Annotated[ContactConnection, strawberry.lazy("graph.schema.contacts")]:
        from graph.schema.contacts import Contact, ContactConnection, ContactEdge

        size = page_size(first)
        before = decode_cursor(after, CONTACT_CURSOR) if after else None
        members = await self._members(info)
        page = members.filter(id__lt=before) if before is not None else members
        rows = await page.order_by("-id").limit(size + 1).values(*CONTACT_READ)
        edges = [
            ContactEdge(cursor=encode_cursor(CONTACT_CURSOR, r["id"]), node=Contact.from_row(r))
            for r in rows[:size]
        ]
        for row in rows[:size]:
            info.context.loaders.contact.prime(row["id"], row)
        return ContactConnection(
            edges=edges,
            page_info=forward_page(edges, more=len(rows) > size, after=after),
            _count=members.count,
        )

    async def _members(self, info: Info) -> Any:
        try:
            return await info.context.loaders.segment_members(self._row)  # type: ignore[attr-defined]
        except BadInput as problem:
            raise BadInput(
                f"segment {self.name!r}'s filter no longer works ({problem.message}): change it with "
                "updateSegment",
                field="filter",
            ) from None


@strawberry.type
class SegmentEdge:
    cursor: str = strawberry.field(description="Pass as `after` to read on after this segment.")
    node: Segment


@strawberry.type(description="A page of the account's segments, oldest first.")
class SegmentConnection:
    edges: list[SegmentEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Segment]:
        return [edge.node for edge in self.edges]


def segment_edges(rows: list[Any]) -> list[SegmentEdge]:
    return [
        SegmentEdge(cursor=encode_cursor(SEGMENT_CURSOR, r["id"]), node=Segment.from_row(r)) for r in rows
    ]


async def load_segment(info: Info, segment_id: int) -> Segment:
    row = await info.context.loaders.segment.load(segment_id)  # type: ignore[attr-defined]
    if row is None:
        raise NotFound(f"no segment with id {segment_id} in this account")
    return Segment.from_row(row)


async def resolve_contact_segments(info: Info, contact_id: int, first: int) -> list[Segment]:
    size = page_size(first)
    rows = await info.context.loaders.segments_by_contact.load(contact_id)  # type: ignore[attr-defined]
    return [Segment.from_row(row) for row in rows[:size]]
