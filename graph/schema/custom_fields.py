"""Custom fields on the card (A6) and background jobs."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from crm import jobs
from crm.custom_values import FieldType, shown
from crm.errors import NotFound
from crm.services.custom_fields import default_of
from graph.context import Info
from graph.schema.accounts import User, joined_user

CustomFieldType = strawberry.enum(
    FieldType,
    name="CustomFieldType",
    description='How a custom field\'s value is checked and shown (README, "Custom fields").',
)


@strawberry.enum(description="Where a background job is.")
class BackgroundJobStatus(Enum):
    QUEUED = strawberry.enum_value("QUEUED", description="Waiting for a worker.")
    RUNNING = strawberry.enum_value("RUNNING", description="Batches under way.")
    DONE = strawberry.enum_value("DONE", description="Every item handled.")
    FAILED = strawberry.enum_value("FAILED", description="Stopped by an error (see error).")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Stopped by cancelJob before its next batch.")


@strawberry.type(description="A field the account's admins defined for every contact.")
class CustomField(relay.Node):
    id: relay.NodeID[int]
    key: str = strawberry.field(description="The field's lowercase slug: setCustomFieldValues names it.")
    label: str
    type: CustomFieldType
    options: list[str] = strawberry.field(description="SELECT / MULTI_SELECT choices, in order; else empty.")
    required: bool = strawberry.field(description="A contact's value cannot be cleared.")
    default_value: JSON | None = strawberry.field(
        description="Shown for contacts without a value, in the value's own form."
    )
    archived: bool = strawberry.field(description="Hidden from cards; restoreCustomField brings it back.")
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> CustomField:
        return cls(
            id=row["id"],
            key=row["key"],
            label=row["label"],
            type=FieldType(row["type"]),
            options=list(row["options"] or ()),
            required=bool(row["required"]),
            default_value=default_of(row["default_value"]),
            archived=row["archived_at"] is not None,
            archived_at=row["archived_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@strawberry.type(description="One custom field of a contact and its value.")
class CustomFieldValue:
    field: CustomField
    value: JSON | None = strawberry.field(
        description="The value as JSON: see the README's table per type (MONEY {amount, currency}, DATE "
        '"YYYY-MM-DD", DATETIME ISO UTC, PHONE E.164...). The default when the contact has none.'
    )
    is_set: bool = strawberry.field(
        description="False: the contact has no value (value is the default or null)."
    )


async def resolve_custom_fields(contact_id: int, info: Info) -> list[CustomFieldValue]:
    """Every live (not archived) field of the account, in the order they were defined."""
    loaders = info.context.loaders
    definitions = await loaders.custom_fields.load(False)
    if not definitions:
        return []
    values = {row["field_id"]: row for row in await loaders.custom_values_by_contact.load(contact_id)}
    result = []
    for definition in definitions:
        row = values.get(definition["id"])
        value = shown(definition["type"], row) if row is not None else None
        result.append(
            CustomFieldValue(
                field=CustomField.from_row(definition),
                value=value if row is not None else default_of(definition["default_value"]),
                is_set=row is not None,
            )
        )
    return result


@strawberry.type(
    description="Long work (applyCustomFieldToAll, bulk actions, imports, exports) run in batches by the "
    "worker; query it with job(id:) to follow its progress."
)
class BackgroundJob(relay.Node):
    id: relay.NodeID[int]
    kind: str = strawberry.field(description='What it does, e.g. "custom_field.apply_to_all".')
    status: BackgroundJobStatus
    total: int = strawberry.field(description="Items it will go through (counted when queued).")
    done: int = strawberry.field(description="Items changed.")
    skipped: int = strawberry.field(description="Items left as they were (e.g. already had a value).")
    failed: int = strawberry.field(description="Items that could not be handled.")
    progress: float = strawberry.field(description="0 to 1: (done + skipped + failed) / total; 1 once DONE.")
    started_by: User | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = strawberry.field(description="Why it FAILED.")

    @classmethod
    def from_row(cls, row: Any) -> BackgroundJob:
        return cls(
            id=row["id"],
            kind=row["kind"],
            status=BackgroundJobStatus(row["status"]),
            total=row["total"],
            done=row["done"],
            skipped=row["skipped"],
            failed=row["failed"],
            progress=jobs.progress(dict(row)),
            started_by=joined_user(row, "started_by"),
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            error=row["error"],
        )


async def load_custom_field(info: Info, field_id: int) -> CustomField:
    row = await info.context.loaders.custom_field.load(field_id)
    if row is None:
        raise NotFound(f"no CustomField with id {field_id} in this account")
    return CustomField.from_row(row)


async def load_job(info: Info, job_id: int) -> BackgroundJob:
    row = await info.context.loaders.background_job.load(job_id)
    if row is None:
        raise NotFound(f"no BackgroundJob with id {job_id} in this account")
    return BackgroundJob.from_row(row)
