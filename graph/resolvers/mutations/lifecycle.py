"""duplicateContact, archiveContacts, restoreContacts, deleteContacts, logCall."""

from __future__ import annotations

import strawberry

from crm.services import call_log
from crm.services import lifecycle as service
from crm.services.calls import CallOutcome as DomainOutcome
from graph.context import Info
from graph.ids import decode_id, global_id_text
from graph.resolvers.loaders import CALL_COLUMNS, CALL_USERS
from graph.resolvers.mutations import changed, joined_row
from graph.schema.calls import Call
from graph.schema.contacts import Contact, load_contact
from graph.schema.lifecycle import (
    ArchiveContactsInput,
    ArchiveContactsPayload,
    DeleteContactsInput,
    DeleteContactsPayload,
    DuplicateContactInput,
    DuplicateContactPayload,
    LogCallInput,
    RestoreContactsInput,
    RestoreContactsPayload,
)


def _ids(values: list[strawberry.ID]) -> list[int]:
    return [decode_id(value, "Contact", "ids") for value in values]


def _gids(ids: list[int]) -> list[strawberry.ID]:
    return [strawberry.ID(global_id_text("Contact", i)) for i in ids]


async def _cards(info: Info, ids: list[int]) -> list[Contact]:
    changed(info)
    rows = await info.context.loaders.contact.load_many(ids)
    return [Contact.from_row(row) for row in rows if row is not None]


@strawberry.type
class LifecycleMutations:
    @strawberry.mutation(
        description="Copy a contact: identity, owners, profile, tags and deals, not notes or history."
    )
    async def duplicate_contact(self, info: Info, input: DuplicateContactInput) -> DuplicateContactPayload:
        source_id = decode_id(input.id, "Contact")
        copy = await service.duplicate_contact(info.context.require_actor(), source_id)
        changed(info)
        return DuplicateContactPayload(
            contact=await load_contact(info, copy.id), source=await load_contact(info, source_id)
        )

    @strawberry.mutation(
        description="Move contacts to the archive: out of the contacts list, no new calls, SMS or email."
    )
    async def archive_contacts(self, info: Info, input: ArchiveContactsInput) -> ArchiveContactsPayload:
        contacts, archived = await service.archive_contacts(info.context.require_actor(), _ids(input.ids))
        ids = [c.id for c in contacts]
        return ArchiveContactsPayload(
            contacts=await _cards(info, ids),
            archived_ids=_gids(archived),
            skipped_ids=_gids([i for i in ids if i not in set(archived)]),
        )

    @strawberry.mutation(description="Bring archived contacts back to the contacts list.")
    async def restore_contacts(self, info: Info, input: RestoreContactsInput) -> RestoreContactsPayload:
        contacts, restored = await service.restore_contacts(info.context.require_actor(), _ids(input.ids))
        ids = [c.id for c in contacts]
        return RestoreContactsPayload(
            contacts=await _cards(info, ids),
            restored_ids=_gids(restored),
            skipped_ids=_gids([i for i in ids if i not in set(restored)]),
        )

    @strawberry.mutation(
        description="Delete archived contacts for good, with everything tied to them (admins and managers)."
    )
    async def delete_contacts(self, info: Info, input: DeleteContactsInput) -> DeleteContactsPayload:
        deleted = await service.delete_contacts(info.context.require_actor(), _ids(input.ids))
        changed(info)
        return DeleteContactsPayload(deleted_ids=_gids(deleted))

    @strawberry.mutation(description="Record a call that already happened; it lists with the past calls.")
    async def log_call(self, info: Info, input: LogCallInput) -> Call:
        call = await call_log.log_call(
            info.context.require_actor(),
            decode_id(input.contact_id, "Contact", "contactId"),
            input.occurred_at,
            call_log.CallDirection(input.direction.value),
            input.duration_seconds,
            DomainOutcome(input.outcome.value),
            input.summary,
            input.recording_url,
            provider_call_id=input.provider_call_id,
        )
        changed(info)
        return Call.from_row(await joined_row(info, call, CALL_COLUMNS, CALL_USERS))
