"""Inputs and payloads of the card's lifecycle: duplicate, archive, restore, delete, log a call."""

from __future__ import annotations

from datetime import datetime

import strawberry

from crm.services.call_log import MAX_CALL_SECONDS, SUMMARY_MAX
from crm.services.lifecycle import MAX_IDS
from graph.schema.contacts import Contact
from graph.schema.enums import CallDirection, CallOutcome

IDS_HELP = f"The contacts' ids, 1 to {MAX_IDS}; repeats count once. All must be this account's."


@strawberry.input
class DuplicateContactInput:
    id: strawberry.ID = strawberry.field(
        description="The contact to copy: identity, owners, profile, tags and deals; not notes or history."
    )


@strawberry.input
class ArchiveContactsInput:
    ids: list[strawberry.ID] = strawberry.field(description=IDS_HELP)


@strawberry.input
class RestoreContactsInput:
    ids: list[strawberry.ID] = strawberry.field(description=IDS_HELP)


@strawberry.input
class DeleteContactsInput:
    ids: list[strawberry.ID] = strawberry.field(
        description=f"Archived contacts' ids, 1 to {MAX_IDS}; a live one refuses the whole call."
    )


@strawberry.input(description="A call that already happened, e.g. an incoming call just answered.")
class LogCallInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id; not archived.")
    occurred_at: datetime = strawberry.field(
        description="When the call took place, with a timezone offset; not in the future."
    )
    direction: CallDirection = strawberry.field(description="INBOUND (they called) or OUTBOUND.")
    duration_seconds: int = strawberry.field(
        description=f"How long it lasted, 0 to {MAX_CALL_SECONDS} (0 for a call nobody answered)."
    )
    outcome: CallOutcome = strawberry.field(description="How it went.")
    summary: str | None = strawberry.field(
        default=None, description=f"What was said; at most {SUMMARY_MAX:,} characters."
    )
    recording_url: str | None = strawberry.field(
        default=None,
        description=(
            "http(s) link to the recording kept elsewhere; at most 1,000 characters. A recording "
            "stored with the call (attachRecording, a provider's callback) is Call.recording."
        ),
    )
    provider_call_id: str | None = strawberry.field(
        default=None,
        description=(
            "The telephony provider's id of the call (Twilio's CallSid), so the provider's "
            "recording callback stores the recording with this call; unique, at most 64 characters."
        ),
    )


@strawberry.type
class DuplicateContactPayload:
    contact: Contact = strawberry.field(description="The copy.")
    source: Contact = strawberry.field(description="The contact it was copied from.")


@strawberry.type
class ArchiveContactsPayload:
    contacts: list[Contact] = strawberry.field(
        description="Every contact named, now archived, in input order."
    )
    archived_ids: list[strawberry.ID] = strawberry.field(description="The contacts this call archived.")
    skipped_ids: list[strawberry.ID] = strawberry.field(
        description="Contacts that were archived already: left as they were (no journey entry, no hook)."
    )


@strawberry.type
class RestoreContactsPayload:
    contacts: list[Contact] = strawberry.field(description="Every contact named, now live, in input order.")
    restored_ids: list[strawberry.ID] = strawberry.field(description="The contacts this call restored.")
    skipped_ids: list[strawberry.ID] = strawberry.field(
        description="Contacts that were not archived: left as they were (no journey entry, no hook)."
    )


@strawberry.type
class DeleteContactsPayload:
    deleted_ids: list[strawberry.ID] = strawberry.field(
        description="The contacts deleted for good, with everything tied to them."
    )
