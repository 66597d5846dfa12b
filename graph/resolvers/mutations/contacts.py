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
from graph.schema.contacts import Contact

_IDENTITY = {
    "first_name": "first_name", "last_name": "last_name", "business_name": "business_name",
    "title": "title", "contact_type": "contact_type", "email": "email",
    "secondary_email": "secondary_email", "phone": "phone", "secondary_phone": "secondary_phone",
    "ip_address": "ip_address",
}  # fmt: skip
_ADDRESS = {"street": "street", "city": "city", "state": "state", "zip": "zip", "country": "country"}


@strawberry.input(description="Any part left out stays as it is; null clears it.")
class AddressInput:
    street: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    state: str | None = strawberry.UNSET
    zip: str | None = strawberry.UNSET
    country: str | None = strawberry.field(default=strawberry.UNSET, description="ISO code or English name.")


@strawberry.input
class UtmInput:
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None


@strawberry.input
class FormAnswerInput:
    question: str
    answer: str
    form: str | None = None


@strawberry.input
class ContactIdentityFields:
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    business_name: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    contact_type: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    secondary_email: str | None = strawberry.UNSET
    phone: str | None = strawberry.field(
        default=strawberry.UNSET, description="Any format; national numbers use the default region."
    )
    secondary_phone: str | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    ip_address: str | None = strawberry.UNSET


def _identity(source: ContactIdentityFields) -> dict[str, object]:
    values = provided(source, _IDENTITY)
    if source.address is None:
        values.update(dict.fromkeys(_ADDRESS.values()))
    elif source.address is not strawberry.UNSET:
        values.update(provided(source.address, _ADDRESS))
    return values


@strawberry.input
class CreateContactInput(ContactIdentityFields):
    utm: UtmInput | None = None
    form_answers: list[FormAnswerInput] | None = None


@strawberry.input(description="Fields left out stay as they are; null clears a field.")
class UpdateContactInput(ContactIdentityFields):
    id: strawberry.ID


@strawberry.input
class SetContactStatusInput:
    contact_id: strawberry.ID
    status: str = strawberry.field(description="One of the account's statuses (see viewer.account.statuses).")
    sub_status: str | None = None


@strawberry.input(description="Owners left out stay as they are; null removes an owner.")
class AssignOwnersInput:
    contact_id: strawberry.ID
    setter_owner_id: strawberry.ID | None = strawberry.UNSET
    closer_owner_id: strawberry.ID | None = strawberry.UNSET
    assigned_to_id: strawberry.ID | None = strawberry.UNSET


@strawberry.input
class TagInput:
    contact_id: strawberry.ID
    name: str


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
        )
        return await _reload(info, contact)

    @strawberry.mutation(description="Change identity fields; every change lands in the journey.")
    async def update_contact(self, info: Info, input: UpdateContactInput) -> Contact:
        contact = await contact_service.update_contact(
            info.context.require_actor(), decode_id(input.id, "Contact"), _identity(input)
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

    @strawberry.mutation
    async def remove_tag(self, info: Info, input: TagInput) -> Contact:
        contact = await tag_service.remove_tag(
            info.context.require_actor(), decode_id(input.contact_id, "Contact", "contactId"), input.name
        )
        return await _reload(info, contact)
