"""Custom fields on the card (A6). Their "apply to all" job is a BackgroundJob (graph/schema/jobs.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from crm.custom_values import FieldType, shown
from crm.errors import NotFound
from crm.services.custom_fields import default_of
from graph.context import Info

CustomFieldType = strawberry.enum(
    FieldType,
    name="CustomFieldType",
    description='How a custom field\'s value is checked and shown (README, "Custom fields").',
)


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


async def load_custom_field(info: Info, field_id: int) -> CustomField:
    row = await info.context.loaders.custom_field.load(field_id)
    if row is None:
        raise NotFound(f"no CustomField with id {field_id} in this account")
    return CustomField.from_row(row)
