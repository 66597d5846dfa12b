"""createContact, updateContact, setContactStatus, assignOwners, addTag, removeTag."""

from __future__ import annotations

import strawberry

from crm.models import Contact as ContactModel
from crm.services import contacts as contact_service
from crm.services import tags as tag_service
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.loaders import CONTACT_COLUMNS, CONTACT_USERS
from graph.resolvers.mutations import changed, joined_row, provided
from graph.resolvers.mutations.custom_fields import CustomFieldValueInput
from graph.schema.contacts import Contact
from graph.schema.profile import ProfileInput, profile_values

_IDENTITY = {
    "first_name": "first_name", "last_name": "last_name", "business_name": "business_name",
    "title": "title", "contact_type": "contact_type", "email": "email",
    "secondary_email": "secondary_email", "phone": "phone", "secondary_phone": "secondary_phone",
    "ip_address": "ip_address",
}  # fmt: skip
_ADDRESS = {"street": "street", "city": "city", "state": "state", "zip": "zip", "country": "country"}
_HEADER = {"lead_source": "lead_source", "action_plan": "action_plan", "sales_cycle": "sales_cycle"}


@strawberry.input(description="Any part left out stays as it is; null clears it.")
class AddressInput:
    street: str | None = strawberry.field(default=strawberry.UNSET, description="At most 200 characters.")
    city: str | None = strawberry.field(default=strawberry.UNSET, description="At most 100 characters.")
    state: str | None = strawberry.field(
        default=strawberry.UNSET, description="State, province or region; at most 100 characters."
    )
    zip: str | None = strawberry.field(
        default=strawberry.UNSET, description="Postal code; at most 20 characters."
    )
    country: str | None = strawberry.field(
        default=strawberry.UNSET, description="ISO code (DE, DEU) or English name; stored as ISO alpha-2."
    )


@strawberry.input(description="The UTM parameters of the visit that brought the contact in.")
class UtmInput:
    source: str | None = strawberry.field(
        default=None, description="utm_source, e.g. google; at most 200 characters."
    )
    medium: str | None = strawberry.field(
        default=None, description="utm_medium, e.g. cpc; at most 200 characters."
    )
    campaign: str | None = strawberry.field(default=None, description="utm_campaign; at most 200 characters.")
    term: str | None = strawberry.field(
        default=None, description="utm_term, the paid keyword; at most 200 characters."
    )
    content: str | None = strawberry.field(
        default=None, description="utm_content, which ad or link; at most 200 characters."
    )


@strawberry.input(description="One answer from a form the contact filled in.")
class FormAnswerInput:
    question: str = strawberry.field(description="1-500 characters.")
    answer: str = strawberry.field(description="At most 5,000 characters; may be empty.")
    form: str | None = strawberry.field(default=None, description="The form's name; at most 200 characters.")


@strawberry.input
class ContactIdentityFields:
    first_name: str | None = strawberry.field(default=strawberry.UNSET, description="At most 100 characters.")
    last_name: str | None = strawberry.field(default=strawberry.UNSET, description="At most 100 characters.")
    business_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="At most 200 characters."
    )
    title: str | None = strawberry.field(
        default=strawberry.UNSET, description="Job title; at most 120 characters."
    )
    contact_type: str | None = strawberry.field(
        default=strawberry.UNSET, description="Free text, e.g. lead or partner; at most 50 characters."
    )
    email: str | None = strawberry.field(
        default=strawberry.UNSET, description="Checked and normalized by email-validator."
    )
    secondary_email: str | None = strawberry.field(
        default=strawberry.UNSET, description="Checked like email."
    )
    phone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Any format; stored as E.164; national numbers use the account's "
        "region (viewer.account.phoneRegion).",
    )
    secondary_phone: str | None = strawberry.field(default=strawberry.UNSET, description="Parsed like phone.")
    address: AddressInput | None = strawberry.field(
        default=strawberry.UNSET, description="Postal address; see AddressInput."
    )
    ip_address: str | None = strawberry.field(
        default=strawberry.UNSET, description="IPv4 or IPv6 address the contact came from."
    )
    lead_source: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="One of viewer.account.leadSources, in any case; null clears it.",
    )
    action_plan: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="One of viewer.account.actionPlans, in any case; null clears it.",
    )
    sales_cycle: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="One of viewer.account.salesCycles, in any case; null clears it.",
    )
    profile: ProfileInput | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET,
        description="Expanded profile fields to change (only those given); see ProfileInput.",
    )


def _header(source: ContactIdentityFields) -> dict[str, object]:
    return provided(source, _HEADER)


def _profile(source: ContactIdentityFields) -> dict[str, object]:
    return profile_values(source.profile) if source.profile else {}


def _identity(source: ContactIdentityFields) -> dict[str, object]:
    values = provided(source, _IDENTITY)
    if source.address is None:
        values.update(dict.fromkeys(_ADDRESS.values()))
    elif source.address is not strawberry.UNSET:
        values.update(provided(source.address, _ADDRESS))
    return values


@strawberry.input(description="A contact needs at least a first or last name, business name, email or phone.")
class CreateContactInput(ContactIdentityFields):
    utm: UtmInput | None = strawberry.field(
        default=None, description="The UTM parameters the contact came with."
    )
    form_answers: list[FormAnswerInput] | None = strawberry.field(
        default=None, description="Form answers the contact came with; at most 100."
    )
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=None,
        description="Custom field values (as setCustomFieldValues takes them); the account's required "
        "fields without a default must be among them.",
    )


@strawberry.input(description="Fields left out stay as they are; null clears a field.")
class UpdateContactInput(ContactIdentityFields):
    id: strawberry.ID = strawberry.field(description="The contact's id.")


@strawberry.input
class SetContactStatusInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id.")
    status: str = strawberry.field(description="One of the account's statuses (see viewer.account.statuses).")
    sub_status: str | None = strawberry.field(
        default=None, description="One of the status's subStatuses, in any case; null for none."
    )


@strawberry.input(description="Owners left out stay as they are; null removes an owner.")
class AssignOwnersInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id.")
    setter_owner_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The user (id) who set the appointment."
    )
    closer_owner_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The user (id) who closes the deal."
    )
    assigned_to_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The user (id) who works the contact."
    )


@strawberry.input
class TagInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id.")
    name: str = strawberry.field(
        description="1-50 characters; VIP and vip are one tag (an account has at most 1,000)."
    )


async def _reload(info: Info, contact: ContactModel) -> Contact:
    changed(info)
    return Contact.from_row(await joined_row(info, contact, CONTACT_COLUMNS, CONTACT_USERS))


@strawberry.type
class ContactMutations:
    @strawberry.mutation(description="Create a contact, with the UTMs and form answers it came with.")
    async def create_contact(self, info: Info, input: CreateContactInput) -> Contact:
        contact = await contact_service.create_contact(
            info.context.require_actor(),
            _identity(input),
            utms=[vars(input.utm)] if input.utm else [],
            form_answers=[vars(a) for a in input.form_answers or ()],
            header_values=_header(input),
            profile_values=_profile(input),
            custom_values=[(v.key, v.value) for v in input.custom_fields or ()],
        )
        return await _reload(info, contact)

    @strawberry.mutation(
        description="Change identity fields, the header (leadSource, actionPlan, salesCycle) and the "
        "profile; every change lands in the journey."
    )
    async def update_contact(self, info: Info, input: UpdateContactInput) -> Contact:
        contact = await contact_service.update_contact(
            info.context.require_actor(),
            decode_id(input.id, "Contact"),
            _identity(input),
            header_values=_header(input),
            profile_values=_profile(input),
        )
        return await _reload(info, contact)

    @strawberry.mutation(
        description="Set the status (and sub-status); a converting status records convertedAt."
    )
    async def set_contact_status(self, info: Info, input: SetContactStatusInput) -> Contact:
        contact = await contact_service.set_status(
            info.context.require_actor(),
            decode_id(input.contact_id, "Contact", "contactId"),
            input.status,
            input.sub_status,
        )
        return await _reload(info, contact)

    @strawberry.mutation(description="Set setter owner, closer owner and assigned rep (admins and managers).")
    async def assign_owners(self, info: Info, input: AssignOwnersInput) -> Contact:
        owners = {}
        for attr, field in (
            ("setter_owner_id", "setterOwnerId"),
            ("closer_owner_id", "closerOwnerId"),
            ("assigned_to_id", "assignedToId"),
        ):
            value = getattr(input, attr)
            if value is not strawberry.UNSET:
                owners[attr] = None if value is None else decode_id(value, "User", field)
        contact = await contact_service.assign_owners(
            info.context.require_actor(), decode_id(input.contact_id, "Contact", "contactId"), owners
        )
        return await _reload(info, contact)

    @strawberry.mutation(description="Tag the contact; a new tag joins the account's tag list.")
    async def add_tag(self, info: Info, input: TagInput) -> Contact:
        contact = await tag_service.add_tag(
            info.context.require_actor(), decode_id(input.contact_id, "Contact", "contactId"), input.name
        )
        return await _reload(info, contact)

    @strawberry.mutation(description="Untag the contact; the tag stays in the account's list.")
    async def remove_tag(self, info: Info, input: TagInput) -> Contact:
        contact = await tag_service.remove_tag(
            info.context.require_actor(), decode_id(input.contact_id, "Contact", "contactId"), input.name
        )
        return await _reload(info, contact)
