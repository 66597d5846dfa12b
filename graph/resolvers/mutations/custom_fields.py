"""createCustomField, updateCustomField, archiveCustomField, restoreCustomField,
setCustomFieldValues, applyCustomFieldToAll (cancelJob: graph/resolvers/mutations/bulk.py)."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from crm.services import custom_fields as service
from crm.services.custom_fields import MAX_FIELDS, MAX_OPTIONS, MAX_VALUES
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.mutations import changed, provided
from graph.schema.contacts import Contact, load_contact
from graph.schema.custom_fields import CustomField, CustomFieldType, load_custom_field
from graph.schema.jobs import BackgroundJob, load_job

_KEY_HELP = "The field's key: a lowercase letter, then up to 62 lowercase letters, digits or underscores."


@strawberry.input(description=f"A new custom field (admins; at most {MAX_FIELDS} per account).")
class CreateCustomFieldInput:
    label: str = strawberry.field(description="What people read, up to 120 characters.")
    key: str = strawberry.field(description=_KEY_HELP + " Unique in the account; it never changes.")
    type: CustomFieldType = strawberry.field(
        description="How values are checked and shown; it never changes."
    )
    options: list[str] | None = strawberry.field(
        default=None,
        description=f"SELECT / MULTI_SELECT: 1 to {MAX_OPTIONS} distinct choices, in display order. "
        "Refused for the other types.",
    )
    required: bool = strawberry.field(default=False, description="Contacts' values cannot be cleared.")
    default_value: JSON | None = strawberry.field(
        default=None, description="Shown for contacts without a value; checked like a value."
    )


@strawberry.input(description="Changes to a custom field (admins). Its key and type never change.")
class UpdateCustomFieldInput:
    id: strawberry.ID | None = strawberry.field(default=None, description="The CustomField, by id...")
    key: str | None = strawberry.field(
        default=None, description="...or by key. With an id, it must be the field's own: keys never change."
    )
    type: CustomFieldType | None = strawberry.field(
        default=None, description="Optional; must be the field's own: types never change."
    )
    label: str | None = strawberry.field(default=strawberry.UNSET, description="A new label.")
    options: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="The new choices (SELECT / MULTI_SELECT). Removing one that contacts hold is CONFLICT.",
    )
    required: bool | None = strawberry.field(default=strawberry.UNSET, description="Make it required or not.")
    default_value: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="A new default; null removes it."
    )


@strawberry.input(description="A custom field by key.")
class CustomFieldKeyInput:
    key: str = strawberry.field(description=_KEY_HELP)


@strawberry.input(description="One custom field value.")
class CustomFieldValueInput:
    key: str = strawberry.field(description="The field's key.")
    value: JSON | None = strawberry.field(
        description="The value as JSON, checked by the field's type (see the README's custom fields); "
        "null clears it."
    )


@strawberry.input(description="Custom field values of one contact, set all or none.")
class SetCustomFieldValuesInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact.")
    values: list[CustomFieldValueInput] = strawberry.field(description=f"1 to {MAX_VALUES} values.")


@strawberry.input(description="A value for every contact that has none (admins).")
class ApplyCustomFieldToAllInput:
    key: str = strawberry.field(description="The field's key.")
    value: JSON = strawberry.field(description="The value, checked by the field's type.")


@strawberry.type
class CustomFieldMutations:
    @strawberry.mutation(description="Define a custom field for the account's contacts (admins).")
    async def create_custom_field(self, info: Info, input: CreateCustomFieldInput) -> CustomField:
        field = await service.create_field(
            info.context.require_actor(),
            label=input.label,
            key=input.key,
            type=FieldType_(input.type),
            options=input.options,
            required=input.required,
            default_value=input.default_value,
        )
        changed(info)
        return await load_custom_field(info, field.id)

    @strawberry.mutation(
        description="Change a custom field's label, options, required flag or default (admins). Its key "
        "and type never change: create another field instead."
    )
    async def update_custom_field(self, info: Info, input: UpdateCustomFieldInput) -> CustomField:
        field_id = decode_id(input.id, "CustomField") if input.id is not None else None
        changes = provided(
            input,
            {
                "label": "label",
                "options": "options",
                "required": "required",
                "default_value": "default_value",
            },
        )
        field = await service.update_field(
            info.context.require_actor(),
            field_id=field_id,
            key=input.key,
            type=FieldType_(input.type) if input.type is not None else None,
            changes=changes,
        )
        changed(info)
        return await load_custom_field(info, field.id)

    @strawberry.mutation(
        description="Hide a custom field from cards (admins). Its values are kept; setCustomFieldValues "
        "refuses it until restoreCustomField."
    )
    async def archive_custom_field(self, info: Info, input: CustomFieldKeyInput) -> CustomField:
        field = await service.set_archived(info.context.require_actor(), input.key, True)
        changed(info)
        return await load_custom_field(info, field.id)

    @strawberry.mutation(description="Bring an archived custom field back, with its values (admins).")
    async def restore_custom_field(self, info: Info, input: CustomFieldKeyInput) -> CustomField:
        field = await service.set_archived(info.context.require_actor(), input.key, False)
        changed(info)
        return await load_custom_field(info, field.id)

    @strawberry.mutation(
        description="Set, change or clear (null) custom field values of a contact: all or none, journaled "
        "as CUSTOM_FIELD_CHANGED with before and after per key."
    )
    async def set_custom_field_values(self, info: Info, input: SetCustomFieldValuesInput) -> Contact:
        contact_id = decode_id(input.contact_id, "Contact", "contactId")
        contact = await service.set_values(
            info.context.require_actor(), contact_id, [(v.key, v.value) for v in input.values]
        )
        changed(info)
        return await load_contact(info, contact.id)

    @strawberry.mutation(
        description="Give every live contact without a value of this field this value, in the background "
        "(admins): returns the job (job(id:) follows its progress). One journey entry per contact filled, "
        "one custom_field_applied event at the end."
    )
    async def apply_custom_field_to_all(self, info: Info, input: ApplyCustomFieldToAllInput) -> BackgroundJob:
        job = await service.apply_to_all(info.context.require_actor(), input.key, input.value)
        changed(info)
        return await load_job(info, job.id)


def FieldType_(value: object) -> service.FieldType:
    return service.FieldType(getattr(value, "value", value))
