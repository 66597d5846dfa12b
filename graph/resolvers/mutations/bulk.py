"""bulkAction and cancelJob."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from crm import jobs
from crm.services import bulk as service
from crm.services.bulk import BulkAction
from crm.services.targets import MAX_TARGET_IDS, Target
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.mutations import changed
from graph.schema.contact_filter import ContactFilter, filter_to_domain
from graph.schema.exports import ExportFormat
from graph.schema.jobs import BulkActionKind, BulkJob, JobProgress, decode_job_id, load_job


@strawberry.enum(description="Which of a contact's owners ASSIGN_OWNER sets.")
class OwnerRole(Enum):
    SETTER = "SETTER"
    CLOSER = "CLOSER"
    ASSIGNED = "ASSIGNED"


@strawberry.input(
    description="Which contacts a bulk action acts on: exactly one of ids, filter and segmentId."
)
class BulkTargetInput:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description=f"These contacts (the selected rows of a table), 1 to {MAX_TARGET_IDS}; each must be "
        "the account's (NOT_FOUND names the others, nothing happens). Archived ones included.",
    )
    filter: ContactFilter | None = strawberry.field(
        default=None, description="The contacts this filter matches, as contacts(filter:) lists them."
    )
    segment_id: strawberry.ID | None = strawberry.field(default=None, description="A segment's members.")
    archived: bool | None = strawberry.field(
        default=None,
        description="With filter or segmentId: archived contacts (true) or live ones (false). Default: "
        "archived ones for RESTORE and DELETE, live ones for the other actions.",
    )


@strawberry.input(
    description="What the action needs; a param the action does not take is BAD_USER_INPUT. SET_STATUS: "
    "status (+ subStatus). ASSIGN_OWNER: ownerRole + userId (null or absent: nobody). ADD_TAG, REMOVE_TAG: "
    "tag. ADD_TO_SEGMENT: segmentId (a static segment). SEND_SMS: body. SEND_EMAIL: subject, body "
    "(+ marketing). EXPORT: columns, format (as exportContacts). MARKETING_EXPORT: options (for the plugin)."
)
class BulkActionParams:
    status: str | None = strawberry.field(default=None, description="One of the account's statuses.")
    sub_status: str | None = strawberry.field(default=None, description="One of that status's sub-statuses.")
    owner_role: OwnerRole | None = strawberry.field(default=None, description="Which owner to set.")
    user_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The user to make that owner; null: nobody."
    )
    tag: str | None = strawberry.field(default=None, description="A tag's name (a new one joins the list).")
    segment_id: strawberry.ID | None = strawberry.field(default=None, description="A static segment.")
    body: str | None = strawberry.field(default=None, description="The SMS text, or the email's body.")
    subject: str | None = strawberry.field(default=None, description="The email's subject, one line.")
    marketing: bool | None = strawberry.field(
        default=None,
        description="SEND_EMAIL: marketing email goes only to contacts who opted in to communication "
        "(default true: a message to many is marketing); false for a personal message.",
    )
    columns: list[str] | None = strawberry.field(default=None, description="EXPORT: the file's columns.")
    format: ExportFormat | None = strawberry.field(default=None, description="EXPORT: CSV (default) or XLSX.")  # type: ignore[valid-type]
    options: JSON | None = strawberry.field(
        default=None, description="MARKETING_EXPORT: a JSON object handed to the plugin as is (a list id...)."
    )


@strawberry.input(description="One action on many contacts, run in the background (or counted: dryRun).")
class BulkActionInput:
    action: BulkActionKind = strawberry.field(description="What to do to each contact.")  # type: ignore[valid-type]
    target: BulkTargetInput = strawberry.field(description="Which contacts: ids, a filter or a segment.")
    params: BulkActionParams | None = strawberry.field(default=None, description="What the action needs.")
    dry_run: bool = strawberry.field(
        default=False,
        description="Count, at once, how many contacts would change and how many would be skipped by "
        "reason; change nothing. The answer is a DONE BulkJob with dryRun true.",
    )


@strawberry.input(description="The job to stop.")
class CancelJobInput:
    id: strawberry.ID = strawberry.field(description="A BulkJob or BackgroundJob id.")


def _target(action: BulkAction, target: BulkTargetInput) -> Target:
    ids = [decode_id(value, "Contact", "ids") for value in target.ids] if target.ids is not None else None
    segment = decode_id(target.segment_id, "Segment", "segmentId") if target.segment_id is not None else None
    archived = target.archived if target.archived is not None else service.archived_scope(action)
    return Target(ids=ids, filter=filter_to_domain(target.filter), segment_id=segment, archived=archived)


def _params(params: BulkActionParams | None) -> dict[str, Any]:
    if params is None:
        return {}
    given: dict[str, Any] = {
        "status": params.status,
        "subStatus": params.sub_status,
        "ownerRole": params.owner_role.value if params.owner_role is not None else None,
        "tag": params.tag,
        "segmentId": decode_id(params.segment_id, "Segment", "segmentId") if params.segment_id else None,
        "body": params.body,
        "subject": params.subject,
        "marketing": params.marketing,
        "columns": params.columns,
        "format": params.format.value if params.format is not None else None,
        "options": params.options,
    }
    if params.user_id is not strawberry.UNSET:
        given["userId"] = decode_id(params.user_id, "User", "userId") if params.user_id is not None else None
    return given


@strawberry.type
class BulkMutations:
    @strawberry.mutation(
        description="Archive, restore, set the status of, assign, tag, untag, add to a segment, text, "
        "email, export, delete (archived ones) or hand to a marketing plugin many contacts at once: a "
        "BulkJob run in batches by the worker (job(id:) and the job subscription follow it, cancelJob "
        "stops it). Each contact changes as its single mutation would change it, with its journey "
        "entry; contacts that mutation would refuse are skipped by reason (skippedByReason)."
    )
    async def bulk_action(self, info: Info, input: BulkActionInput) -> BulkJob:
        action = BulkAction(input.action.value)
        job = await service.bulk_action(
            info.context.require_actor(),
            action,
            _target(action, input.target),
            _params(input.params),
            dry_run=input.dry_run,
        )
        changed(info)
        return await load_job(info, job.id)  # type: ignore[return-value]

    @strawberry.mutation(
        description="Stop a job (bulk action, import, export, apply to all) before its next batch (admins, "
        "or who started it); what its batches did stays done. CONFLICT once it has ended."
    )
    async def cancel_job(self, info: Info, input: CancelJobInput) -> JobProgress:
        job = await jobs.cancel(info.context.require_actor(), decode_job_id(input.id))
        changed(info)
        return await load_job(info, job.id)
