"""createSegment, updateSegment, deleteSegment, addToSegment, removeFromSegment
(crm/services/segments.py)."""

from __future__ import annotations

from typing import Any

import strawberry

from crm.errors import BadInput
from crm.models import Segment as SegmentModel
from crm.services import segments as service
from graph.context import Info
from graph.ids import decode_id, global_id_text
from graph.resolvers.mutations import changed, joined_row
from graph.resolvers.segments_loaders import SEGMENT_COLUMNS
from graph.schema.contact_filter import ContactFilter, filter_to_domain
from graph.schema.segments import Segment

NAME_HELP = f"1-{service.MAX_NAME} characters, unique in the account."
IDS_HELP = f"1 to {service.MAX_IDS} contacts of the account (bulkAction ADD_TO_SEGMENT for more)."


@strawberry.input(description="Give exactly one of filter (a DYNAMIC segment) and contactIds (a STATIC one).")
class CreateSegmentInput:
    name: str = strawberry.field(description=NAME_HELP)
    filter: ContactFilter | None = strawberry.field(
        default=None, description="A DYNAMIC segment: its members are whoever this filter matches, now."
    )
    contact_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description=f"A STATIC segment of these contacts (0 to {service.MAX_IDS}; addToSegment adds more).",
    )


@strawberry.input(description="Fields left out stay as they are.")
class UpdateSegmentInput:
    id: strawberry.ID = strawberry.field(description="The segment's id.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description=NAME_HELP)
    filter: ContactFilter | None = strawberry.field(
        default=strawberry.UNSET, description="A DYNAMIC segment's new filter (STATIC ones have none)."
    )


@strawberry.input
class DeleteSegmentInput:
    id: strawberry.ID = strawberry.field(
        description="The segment's id (no other segment's filter may use it)."
    )


@strawberry.input
class SegmentMembersInput:
    segment_id: strawberry.ID = strawberry.field(description="A STATIC segment's id.")
    contact_ids: list[strawberry.ID] = strawberry.field(description=IDS_HELP)


@strawberry.type
class DeleteSegmentPayload:
    deleted_id: strawberry.ID = strawberry.field(description="The deleted segment's id.")


def _contact_ids(values: list[strawberry.ID] | None) -> list[int] | None:
    if values is None:
        return None
    if len(values) > service.MAX_IDS:
        raise BadInput(
            f"at most {service.MAX_IDS} contacts per call, got {len(values)}: use bulkAction ADD_TO_SEGMENT "
            "for more",
            field="contactIds",
        )
    return [decode_id(value, "Contact", "contactIds") for value in values]


async def _result(info: Info, segment: SegmentModel) -> Segment:
    changed(info)
    return Segment.from_row(await joined_row(info, segment, SEGMENT_COLUMNS, ("created_by",)))


@strawberry.type
class SegmentMutations:
    @strawberry.mutation(
        description="Make a segment: DYNAMIC from a filter, or STATIC from contacts (exactly one of the two)."
    )
    async def create_segment(self, info: Info, input: CreateSegmentInput) -> Segment:
        values: dict[str, Any] = {"contact_ids": _contact_ids(input.contact_ids)}
        if input.filter is not None:
            values["filter_spec"] = filter_to_domain(input.filter)
        segment = await service.create_segment(info.context.require_actor(), input.name, **values)
        return await _result(info, segment)

    @strawberry.mutation(
        description="Rename a segment or change a DYNAMIC one's filter (its creator, a manager or an admin)."
    )
    async def update_segment(self, info: Info, input: UpdateSegmentInput) -> Segment:
        segment_id = decode_id(input.id, "Segment")
        values: dict[str, Any] = {}
        if input.name is not strawberry.UNSET:
            values["name"] = input.name
        if input.filter is not strawberry.UNSET:
            values["filter_spec"] = filter_to_domain(input.filter) if input.filter is not None else None
        segment = await service.update_segment(info.context.require_actor(), segment_id, values)
        return await _result(info, segment)

    @strawberry.mutation(description="Delete a segment (its creator, a manager or an admin); contacts stay.")
    async def delete_segment(self, info: Info, input: DeleteSegmentInput) -> DeleteSegmentPayload:
        segment_id = decode_id(input.id, "Segment")
        await service.delete_segment(info.context.require_actor(), segment_id)
        changed(info)
        return DeleteSegmentPayload(deleted_id=strawberry.ID(global_id_text("Segment", segment_id)))

    @strawberry.mutation(
        description="Put contacts in a STATIC segment (CONFLICT for a DYNAMIC one); members already "
        "are skipped."
    )
    async def add_to_segment(self, info: Info, input: SegmentMembersInput) -> Segment:
        segment_id = decode_id(input.segment_id, "Segment", "segmentId")
        ids = _contact_ids(input.contact_ids) or []
        segment = await service.add_to_segment(info.context.require_actor(), segment_id, ids)
        return await _result(info, segment)

    @strawberry.mutation(
        description="Take contacts out of a STATIC segment (CONFLICT for a DYNAMIC one); non-members "
        "are skipped."
    )
    async def remove_from_segment(self, info: Info, input: SegmentMembersInput) -> Segment:
        segment_id = decode_id(input.segment_id, "Segment", "segmentId")
        ids = _contact_ids(input.contact_ids) or []
        segment = await service.remove_from_segment(info.context.require_actor(), segment_id, ids)
        return await _result(info, segment)
