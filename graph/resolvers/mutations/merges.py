"""mergeContacts, unmergeContacts."""

from __future__ import annotations

import strawberry

from crm.services import merges as merge_service
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.merge_loaders import MAX_ABSORBED
from graph.resolvers.mutations import changed
from graph.schema.contacts import load_contact
from graph.schema.merges import MergeContactsPayload, UnmergeContactsPayload, load_merge


@strawberry.input(description="Which contacts are one person, and which card stays.")
class MergeContactsInput:
    primary_id: strawberry.ID = strawberry.field(
        description="The contact that stays: it keeps its own fields and gets everything of the others."
    )
    duplicate_ids: list[strawberry.ID] = strawberry.field(
        description=f"1 to {MAX_ABSORBED} other contacts absorbed into the primary; where the primary's "
        "field is empty, the first of them (in this order) that has it fills it."
    )


@strawberry.input(description="The merge to undo.")
class UnmergeContactsInput:
    merge_id: strawberry.ID = strawberry.field(
        description="A ContactMerge id (Contact.merges, or mergeContacts' merge)."
    )


@strawberry.type
class MergeMutations:
    @strawberry.mutation(
        description="Merge duplicates into a primary contact (admins and managers): every call, deal, note, "
        "message, lead, tag, UTM, form answer and journey entry moves to it, its empty fields are filled "
        "from them (never overwritten), and they are hidden until the merge is undone. One transaction."
    )
    async def merge_contacts(self, info: Info, input: MergeContactsInput) -> MergeContactsPayload:
        primary_id = decode_id(input.primary_id, "Contact", "primaryId")
        duplicate_ids = [decode_id(i, "Contact", "duplicateIds") for i in input.duplicate_ids]
        primary, merge = await merge_service.merge_contacts(
            info.context.require_actor(), primary_id, duplicate_ids
        )
        changed(info)
        return MergeContactsPayload(
            contact=await load_contact(info, primary.id), merge=await load_merge(info, merge.id)
        )

    @strawberry.mutation(
        description="Undo a merge (admins and managers): each absorbed contact gets back exactly what was "
        "its own and the primary's filled fields are emptied again. CONFLICT, naming the reason, when "
        "something since depends on the merge (see the README)."
    )
    async def unmerge_contacts(self, info: Info, input: UnmergeContactsInput) -> UnmergeContactsPayload:
        merge, contacts = await merge_service.unmerge_contacts(
            info.context.require_actor(), decode_id(input.merge_id, "ContactMerge", "mergeId")
        )
        changed(info)
        return UnmergeContactsPayload(
            merge=await load_merge(info, merge.id),
            contacts=[await load_contact(info, contact.id) for contact in contacts],
        )
