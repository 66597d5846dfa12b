"""sendSms, sendEmail, verifyPhone, setSmsConsent, setAccountSmsNumber."""

from __future__ import annotations

import strawberry

from crm.models import Message as MessageModel
from crm.services import messages as message_service
from crm.services.messages import MESSAGE_COLUMNS
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.loaders import CONTACT_COLUMNS, CONTACT_USERS, MESSAGE_USERS
from graph.resolvers.mutations import changed, joined_row
from graph.schema.accounts import Account
from graph.schema.contacts import Contact
from graph.schema.messages import Message


@strawberry.input
class SendSmsInput:
    contact_id: strawberry.ID = strawberry.field(
        description="The contact's id; a mobile phone, okToSms true."
    )
    body: str = strawberry.field(description="1-1,600 characters.")


@strawberry.input
class SendEmailInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id; they need an email address.")
    subject: str = strawberry.field(description="One line, 1-300 characters.")
    body: str = strawberry.field(description="Plain text, 1-100,000 characters.")
    marketing: bool = strawberry.field(
        default=False,
        description="true for marketing (newsletters, offers): refused unless the contact's "
        "communicationOptIn is on. Personal email (the default) needs no opt-in.",
    )


@strawberry.input
class VerifyPhoneInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id; they need a phone.")


@strawberry.input
class SetSmsConsentInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id.")
    ok_to_sms: bool = strawberry.field(
        description="true: express permission to text; refused for a landline."
    )
    reason: str | None = strawberry.field(
        default=None, description="Why SMS is turned off, if it is; at most 200 characters."
    )


@strawberry.input
class SetAccountSmsNumberInput:
    number: str | None = strawberry.field(description="E.164; null to use the server's default sender.")


async def _message(info: Info, message: MessageModel) -> Message:
    changed(info)
    return Message.from_row(await joined_row(info, message, MESSAGE_COLUMNS, MESSAGE_USERS))


@strawberry.type
class MessageMutations:
    @strawberry.mutation(description="Queue an SMS: it is sent right after; its status follows in the thread")
    async def send_sms(self, info: Info, input: SendSmsInput) -> Message:
        message = await message_service.queue_sms(
            info.context.require_actor(), decode_id(input.contact_id, "Contact", "contactId"), input.body
        )
        return await _message(info, message)

    @strawberry.mutation(description="Queue an email to the contact; it is sent over SMTP right after.")
    async def send_email(self, info: Info, input: SendEmailInput) -> Message:
        message = await message_service.queue_email(
            info.context.require_actor(),
            decode_id(input.contact_id, "Contact", "contactId"),
            input.subject,
            input.body,
            marketing=input.marketing,
        )
        return await _message(info, message)

    @strawberry.mutation(description="Re-check the phone's line type; the result lands in the journey.")
    async def verify_phone(self, info: Info, input: VerifyPhoneInput) -> Contact:
        contact = await message_service.request_phone_check(
            info.context.require_actor(), decode_id(input.contact_id, "Contact", "contactId")
        )
        changed(info)
        return Contact.from_row(await joined_row(info, contact, CONTACT_COLUMNS, CONTACT_USERS))

    @strawberry.mutation(description="Switch SMS consent (express permission); never on for a landline.")
    async def set_sms_consent(self, info: Info, input: SetSmsConsentInput) -> Contact:
        contact = await message_service.set_sms_consent(
            info.context.require_actor(),
            decode_id(input.contact_id, "Contact", "contactId"),
            input.ok_to_sms,
            input.reason,
        )
        changed(info)
        return Contact.from_row(await joined_row(info, contact, CONTACT_COLUMNS, CONTACT_USERS))

    @strawberry.mutation(description="The account's own SMS number (admins); inbound texts to it land here.")
    async def set_account_sms_number(self, info: Info, input: SetAccountSmsNumberInput) -> Account:
        account = await message_service.set_account_sms_number(info.context.require_actor(), input.number)
        return Account.from_model(account)
