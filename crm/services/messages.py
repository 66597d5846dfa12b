"""Messages: SMS and email, queued by users, sent by plugins, updated by provider callbacks.

A user's send only queues the message (and its journey entry and outbox row); the SMS or
email plugin delivers it after commit and reports back through the functions below, which
plugins call with a plugin actor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from crm import regions
from crm import validation as v
from crm.actor import Actor, Role
from crm.clock import utcnow
from crm.errors import BadInput, Conflict, Forbidden, NotConfigured, NotFound
from crm.journey import JourneyKind, messages_channel
from crm.models import Account, Contact, Message, MessageProviderId
from crm.services import _scoped
from crm.services.lifecycle import refuse_archived
from crm.services.optins import marketing_refusal
from crm.uow import UnitOfWork, unit_of_work
from crm.wiring import wiring

SMS_MAX = 1600  # Twilio's limit for one message body
EMAIL_SUBJECT_MAX = 300
EMAIL_BODY_MAX = 100_000
LANDLINE_REASON = "Landline number, SMS not allowed"
OPT_OUT_WORDS = frozenset({"STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
# Line types that can receive texts; Twilio Lookup v2 line_type_intelligence.type values.
TEXTABLE_LINES = frozenset({"mobile"})
NON_TEXTABLE_LINES = frozenset({"landline"})


class Channel(StrEnum):
    SMS = "SMS"
    EMAIL = "EMAIL"
    CHAT = "CHAT"  # recorded by a chat plugin (crm/services/chat.py); never sent by Dossier


class Direction(StrEnum):
    OUTBOUND = "OUTBOUND"
    INBOUND = "INBOUND"


class MessageStatus(StrEnum):
    QUEUED = "QUEUED"
    SENDING = "SENDING"  # handed to the provider; its answer is not recorded yet
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    UNDELIVERED = "UNDELIVERED"
    RECEIVED = "RECEIVED"


# A status only moves forward: a late "sent" callback never undoes "delivered", and
# "delivered" is final (with two provider ids, one copy failing does not undo the other).
_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.DELIVERED: 4,
}

MESSAGE_COLUMNS = (
    "id", "contact_id", "channel", "direction", "status", "to_address", "from_address", "subject",
    "body", "provider_id", "error_code", "error_message", "author_id", "created_at", "updated_at",
    "sent_at", "delivered_at",
)  # fmt: skip


def message_subject(message: Message) -> dict[str, Any]:
    return {
        "messageId": message.id,
        "channel": message.channel,
        "direction": message.direction,
        "status": message.status,
        "to": message.to_address,
        "from": message.from_address,
        "subject": message.subject,
        "body": message.body,
        "providerId": message.provider_id,
        "errorCode": message.error_code,
        "errorMessage": message.error_message,
    }


def _live(uow: UnitOfWork, account_id: int, message: Message) -> None:
    row = {column: getattr(message, column) for column in MESSAGE_COLUMNS}
    for key in ("created_at", "updated_at", "sent_at", "delivered_at"):
        row[key] = row[key].isoformat() if row[key] else None
    uow.publish_after_commit(messages_channel(account_id, message.contact_id), row)  # type: ignore[attr-defined]


async def _record(
    uow: UnitOfWork, contact: Contact, message: Message, kind: JourneyKind, summary: str,
    changes: Mapping[str, list[Any]] | None = None,
) -> None:  # fmt: skip
    await uow.record(
        contact, kind, summary, changes or {}, subject_type="Message", subject_id=message.id,
        subject=message_subject(message),
    )  # fmt: skip
    _live(uow, contact.account_id, message)  # type: ignore[attr-defined]


def _excerpt(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- SMS ------------------------------------------------------------------------------------


def sms_refusal_code(contact: Contact) -> tuple[str, str] | None:
    """(code, why) this contact may not be texted now, or None; code is NO_PHONE, LANDLINE or
    NO_SMS_CONSENT (bulk SMS counts skips by it). Consent rules live here and only here."""
    if not contact.phone:
        return "NO_PHONE", "the contact has no phone number"
    if contact.phone_line_type in NON_TEXTABLE_LINES:
        return "LANDLINE", LANDLINE_REASON
    if not contact.ok_to_sms:
        return "NO_SMS_CONSENT", (
            contact.sms_blocked_reason or "the contact has not agreed to receive SMS (okToSms is off)"
        )
    return None


def sms_refusal(contact: Contact) -> str | None:
    """Why this contact may not be texted now, or None."""
    refusal = sms_refusal_code(contact)
    return refusal[1] if refusal else None


def require_sms() -> None:
    if "sms" not in wiring.capabilities:
        raise NotConfigured(
            "SMS is not configured on this server: set DOSSIER_TWILIO_ACCOUNT_SID, "
            "DOSSIER_TWILIO_AUTH_TOKEN and DOSSIER_TWILIO_FROM"
        )


def require_email() -> None:
    if "email" not in wiring.capabilities:
        raise NotConfigured(
            "email is not configured on this server: set DOSSIER_SMTP_HOST (and port, TLS, credentials, From)"
        )


async def _sender_number(uow: UnitOfWork, account_id: int) -> str | None:
    account = await Account.get(id=account_id).using_db(uow.conn)
    return account.sms_number or wiring.sms_from


def clean_sms_body(body: str) -> str:
    text = v.clean_text(body, "body", max_length=SMS_MAX, required=True)
    assert text is not None
    return text


async def queue_sms_in(uow: UnitOfWork, contact: Contact, text: str, sender: str | None) -> Message:
    """Queue a text (a `clean_sms_body`) to the locked `contact`, journaled: the caller has checked
    it is live and `sms_refusal` has nothing against it. `sender`: `sender_number`."""
    message = Message(
        contact_id=contact.id,
        channel=Channel.SMS.value,
        direction=Direction.OUTBOUND.value,
        status=MessageStatus.QUEUED.value,
        to_address=contact.phone,
        from_address=sender,
        body=text,
        author_id=uow.actor.user_id,
    )
    await message.save(using_db=uow.conn)
    await _record(
        uow, contact, message, JourneyKind.SMS_QUEUED, f"{uow.actor.name} queued an SMS: {_excerpt(text)}"
    )
    return message


async def sender_number(uow: UnitOfWork) -> str | None:
    """The account's own SMS number, else the server's default sender."""
    return await _sender_number(uow, uow.actor.account_id)


async def queue_sms(actor: Actor, contact_id: int, body: str) -> Message:
    text = clean_sms_body(body)
    require_sms()
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        refuse_archived(contact, "texting it")
        refusal = sms_refusal(contact)
        if refusal:
            raise BadInput(f"cannot text this contact: {refusal}", field="contactId")
        message = await queue_sms_in(uow, contact, text, await sender_number(uow))
    return message


async def _message(uow: UnitOfWork, message_id: int) -> tuple[Message, Contact]:
    message = (
        await Message.filter(id=message_id, contact__account_id=uow.actor.account_id)
        .using_db(uow.conn)
        .select_for_update()
        .first()
    )
    if message is None:
        raise NotFound(f"no message with id {message_id} in this account")
    contact = await _scoped.contact(uow, message.contact_id)  # type: ignore[attr-defined]
    return message, contact


_KIND_FOR_STATUS = {
    (Channel.SMS, MessageStatus.SENT): JourneyKind.SMS_SENT,
    (Channel.SMS, MessageStatus.DELIVERED): JourneyKind.SMS_DELIVERED,
    (Channel.SMS, MessageStatus.FAILED): JourneyKind.SMS_FAILED,
    (Channel.SMS, MessageStatus.UNDELIVERED): JourneyKind.SMS_FAILED,
    (Channel.EMAIL, MessageStatus.SENT): JourneyKind.EMAIL_SENT,
    (Channel.EMAIL, MessageStatus.DELIVERED): JourneyKind.EMAIL_SENT,
    (Channel.EMAIL, MessageStatus.FAILED): JourneyKind.EMAIL_FAILED,
    (Channel.EMAIL, MessageStatus.UNDELIVERED): JourneyKind.EMAIL_FAILED,
}


async def set_message_status(
    actor: Actor,
    message_id: int,
    status: MessageStatus,
    *,
    provider_id: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> Message:
    """Record what the provider said about an outbound message. Idempotent; never goes backwards."""
    async with unit_of_work(actor) as uow:
        message, contact = await _message(uow, message_id)
        if message.channel == Channel.CHAT.value:
            raise BadInput("a chat message has no delivery status: it is recorded as said", field="status")
        if provider_id:
            await _keep_provider_id(uow, message, provider_id)
        current = MessageStatus(message.status)
        if current == status or _RANK.get(status, 0) < _RANK.get(current, 0):
            if provider_id and not message.provider_id:
                message.provider_id = provider_id
                await message.save(using_db=uow.conn)
            return message
        now = utcnow()
        before = message.status
        message.status = status.value
        message.provider_id = message.provider_id or provider_id
        message.error_code = error_code
        message.error_message = (error_message or "")[:500] or None
        if status == MessageStatus.SENT:
            message.sent_at = now
        elif status == MessageStatus.DELIVERED:
            message.delivered_at = now
            message.sent_at = message.sent_at or now
        await message.save(using_db=uow.conn)
        channel = Channel(message.channel)
        what = "SMS" if channel is Channel.SMS else f"email {message.subject!r}"
        summary = f"{what} to {message.to_address} {status.value.lower()}"
        if error_code or error_message:
            summary += f" (error {error_code or ''} {error_message or ''})".replace("  ", " ")
        await _record(
            uow,
            contact,
            message,
            _KIND_FOR_STATUS[(channel, status)],
            summary,
            {"status": [before, status.value]},
        )
    return message


async def _keep_provider_id(uow: UnitOfWork, message: Message, provider_id: str) -> None:
    """Keep every id the provider gave an outbound message (the message row is locked)."""
    if message.direction != Direction.OUTBOUND.value:
        return
    if not await MessageProviderId.filter(provider_id=provider_id).using_db(uow.conn).exists():
        await MessageProviderId.create(message_id=message.id, provider_id=provider_id, using_db=uow.conn)


async def message_for_provider_id(provider_id: str) -> Message | None:
    """The message a provider id belongs to: any id an outbound message ever got, or an inbound one's."""
    found = await Message.filter(provider_ids__provider_id=provider_id).select_related("contact").first()
    return found or await Message.filter(provider_id=provider_id).select_related("contact").first()


async def provider_ids(message_id: int) -> list[str]:
    """Every provider id an outbound message got, oldest first."""
    return list(
        await MessageProviderId.filter(message_id=message_id)
        .order_by("id")
        .values_list("provider_id", flat=True)
    )


async def provider_ids_of_others(message_id: int, candidates: list[str]) -> set[str]:
    """Which of these provider ids already belong to another message (so are not this one's)."""
    if not candidates:
        return set()
    taken = await (
        MessageProviderId.filter(provider_id__in=candidates)
        .exclude(message_id=message_id)
        .values_list("provider_id", flat=True)
    )
    return set(taken)  # type: ignore[arg-type]


# -- crash-safe sends -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendProgress:
    """What a provider needs to know before sending a message that may have gone out already.

    `attempt` 1 is the first try. A later one means an earlier try was cut short after it
    was handed to the provider (its worker died, or the call timed out): the provider may
    have taken it. A provider that can be asked looks for anything it took for this message
    since `first_started_at` and returns that instead of sending again.
    """

    message_id: int
    attempt: int
    first_started_at: datetime
    key: str | None  # the idempotency key given to the provider (an email's Message-ID), kept across tries

    @property
    def resumed(self) -> bool:
        return self.attempt > 1


def _progress(message: Message) -> SendProgress:
    return SendProgress(message.id, message.send_attempts, message.send_started_at, message.send_key)  # type: ignore[arg-type]


async def start_send(actor: Actor, message_id: int) -> SendProgress | None:
    """Record, committed before the provider is called, that a send of this outbound message
    starts (SENDING, the attempt number, the time of the first start). None when the message
    is gone or no longer waiting to be sent (already sent, failed, or not outbound)."""
    async with unit_of_work(actor) as uow:
        message = (
            await Message.filter(id=message_id, contact__account_id=actor.account_id)
            .using_db(uow.conn)
            .select_for_update()
            .first()
        )
        if message is None or message.direction != Direction.OUTBOUND.value:
            return None
        if message.status not in (MessageStatus.QUEUED.value, MessageStatus.SENDING.value):
            return None
        message.status = MessageStatus.SENDING.value
        message.send_attempts += 1
        message.send_started_at = message.send_started_at or utcnow()
        await message.save(using_db=uow.conn)
        # Shown live on the card; not journaled: the journey records the outcome (sent, failed),
        # and every failed attempt already as PLUGIN_DELIVERY_FAILED.
        _live(uow, actor.account_id, message)
    return _progress(message)


async def send_progress(message_id: int) -> SendProgress | None:
    """The send under way for a message (for providers: is this a retry?), or None."""
    message = await Message.filter(id=message_id, status=MessageStatus.SENDING.value).first()
    return _progress(message) if message is not None and message.send_started_at else None


async def keep_send_key(message_id: int, key: str) -> str:
    """Store `key` as the message's send key unless it has one; returns the one it keeps.
    A provider calls it before its first try, so every retry presents the same key."""
    await Message.filter(id=message_id, send_key__isnull=True).update(send_key=key)
    kept = await Message.filter(id=message_id).only("id", "send_key").first()
    return kept.send_key if kept is not None and kept.send_key else key


async def message_with_contact(message_id: int) -> Message | None:
    """A message by our own id (from a provider's signed callback URL), with its contact loaded."""
    return await Message.filter(id=message_id).select_related("contact").first()


async def message_status(account_id: int, message_id: int) -> MessageStatus | None:
    """Where one of the account's messages stands now (None if it is gone), e.g. before sending it."""
    message = await Message.filter(id=message_id, contact__account_id=account_id).first()
    return MessageStatus(message.status) if message is not None else None


# -- inbound SMS ----------------------------------------------------------------------------


async def account_for_number(to_number: str) -> int | None:
    """The account an inbound text belongs to: the owner of the number, else the default number's."""
    owner = await Account.filter(sms_number=to_number).first()
    if owner is not None:
        return owner.id
    if wiring.sms_from and to_number == wiring.sms_from:
        # Accounts without a number of their own share the server's default sender.
        shared = await Account.filter(sms_number__isnull=True).order_by("id").values_list("id", flat=True)
        return shared[0] if len(shared) == 1 else None
    return None


async def receive_sms(
    account_id: int, from_number: str, to_number: str, body: str, provider_id: str | None, plugin: str
) -> Message:
    """An inbound text: threaded on the contact with that phone (a new lead if none), STOP/START honoured."""
    actor = Actor.plugin(account_id, plugin)
    phone = v.clean_phone(from_number, "From", await regions.phone_region(account_id)) or from_number
    async with unit_of_work(actor) as uow:
        if provider_id:
            existing = await Message.filter(provider_id=provider_id).using_db(uow.conn).first()
            if existing is not None:  # the provider retried its webhook
                return existing
        contact = (
            await Contact.filter(account_id=account_id, phone=phone).using_db(uow.conn).order_by("id").first()
            or await Contact.filter(account_id=account_id, secondary_phone=phone)
            .using_db(uow.conn)
            .order_by("id")
            .first()
        )
        if contact is None:
            account = await Account.get(id=account_id).using_db(uow.conn)
            contact = Contact(account_id=account_id, phone=phone, status=account.statuses[0]["name"])
            await contact.save(using_db=uow.conn)
            await uow.record(
                contact,
                JourneyKind.CONTACT_CREATED,
                f"a text from an unknown number {phone} created this lead",
                {"phone": [None, phone], "status": [None, contact.status]},
                # The same keys as createContact's event: a lead from a text has neither.
                subject={"utms": [], "formAnswers": []},
            )
        message = Message(
            contact_id=contact.id,
            channel=Channel.SMS.value,
            direction=Direction.INBOUND.value,
            status=MessageStatus.RECEIVED.value,
            to_address=to_number,
            from_address=phone,
            body=body or "",
            provider_id=provider_id,
        )
        await message.save(using_db=uow.conn)
        await _record(
            uow, contact, message, JourneyKind.SMS_RECEIVED, f"SMS from {phone}: {_excerpt(body or '')}"
        )
        keyword = (body or "").strip().upper()
        if keyword in OPT_OUT_WORDS and contact.ok_to_sms:
            await _set_consent(uow, contact, False, f"Replied {keyword}: unsubscribed from SMS")
        elif (
            keyword in OPT_IN_WORDS
            and not contact.ok_to_sms
            and contact.phone_line_type not in NON_TEXTABLE_LINES
        ):
            await _set_consent(
                uow, contact, True, None, summary=f"Replied {keyword}: subscribed to SMS again"
            )
    return message


# -- consent and line checks ----------------------------------------------------------------


async def _set_consent(
    uow: UnitOfWork, contact: Contact, ok: bool, reason: str | None, *, summary: str | None = None
) -> None:
    changes = {"okToSms": [contact.ok_to_sms, ok], "smsBlockedReason": [contact.sms_blocked_reason, reason]}
    contact.ok_to_sms, contact.sms_blocked_reason = ok, reason
    await contact.save(using_db=uow.conn)
    await uow.record(
        contact,
        JourneyKind.SMS_CONSENT_CHANGED,
        summary or reason or f"{uow.actor.name} turned SMS {'on' if ok else 'off'}",
        changes,
    )


async def set_sms_consent(
    actor: Actor, contact_id: int, ok_to_sms: bool, reason: str | None = None
) -> Contact:
    """Express permission (C3): a user switches SMS on or off. A landline cannot be switched on."""
    why = v.clean_text(reason, "reason", max_length=200)
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        if ok_to_sms and contact.phone_line_type in NON_TEXTABLE_LINES:
            raise BadInput(LANDLINE_REASON, field="okToSms")
        if ok_to_sms and not contact.phone:
            raise BadInput("the contact has no phone number to text", field="okToSms")
        if contact.ok_to_sms == ok_to_sms:
            return contact
        label = f"{actor.name} turned SMS {'on' if ok_to_sms else 'off'}" + (f": {why}" if why else "")
        blocked = None if ok_to_sms else (why or f"SMS turned off by {actor.name}")
        await _set_consent(uow, contact, ok_to_sms, blocked, summary=label)
    return contact


async def sms_unsubscribed(actor: Actor, contact_id: int, reason: str) -> Contact | None:
    """The provider says the recipient opted out (e.g. Twilio 21610): SMS consent off, with the reason.

    A contact already blocked for a reason of its own (a STOP reply, a landline) is left as it is.
    """
    async with unit_of_work(actor) as uow:
        contact = (
            await Contact.filter(id=contact_id, account_id=actor.account_id)
            .using_db(uow.conn)
            .select_for_update()
            .first()
        )
        if contact is None:
            return None
        if not contact.ok_to_sms and contact.sms_blocked_reason:
            return contact
        await _set_consent(uow, contact, False, reason)
    return contact


async def request_phone_check(actor: Actor, contact_id: int) -> Contact:
    """A manual re-check of the phone's line type; the SMS plugin runs it after commit."""
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        if not contact.phone:
            raise BadInput("the contact has no phone number to check", field="contactId")
        await uow.record(
            contact,
            JourneyKind.PHONE_CHECK_REQUESTED,
            f"{actor.name} asked to verify {contact.phone}",
            {},
            subject={"phone": contact.phone},
        )
    return contact


async def record_phone_check(
    actor: Actor, contact_id: int, phone: str, line_type: str, carrier: str | None = None
) -> Contact | None:
    """Store a line-type lookup: mobile turns SMS on, landline turns it off with the product's reason.

    Returns None when the contact's phone changed since the lookup started (a newer check follows).
    """
    async with unit_of_work(actor) as uow:
        contact = (
            await Contact.filter(id=contact_id, account_id=actor.account_id)
            .using_db(uow.conn)
            .select_for_update()
            .first()
        )
        if contact is None or contact.phone != phone:
            return None
        now = utcnow()
        changes: dict[str, list[Any]] = {"phoneLineType": [contact.phone_line_type, line_type]}
        contact.phone_line_type, contact.phone_checked_at = line_type, now
        # A mobile number turns SMS on, unless somebody turned it off on purpose (a STOP reply,
        # a user's switch): that reason stays until a person or a START reply lifts it.
        opted_out = contact.sms_blocked_reason not in (None, LANDLINE_REASON)
        if line_type in TEXTABLE_LINES and not contact.ok_to_sms and not opted_out:
            changes["okToSms"] = [False, True]
            if contact.sms_blocked_reason is not None:
                changes["smsBlockedReason"] = [contact.sms_blocked_reason, None]
            contact.ok_to_sms, contact.sms_blocked_reason = True, None
        elif line_type in NON_TEXTABLE_LINES:
            if contact.ok_to_sms:
                changes["okToSms"] = [True, False]
            if contact.sms_blocked_reason != LANDLINE_REASON:
                changes["smsBlockedReason"] = [contact.sms_blocked_reason, LANDLINE_REASON]
            contact.ok_to_sms, contact.sms_blocked_reason = False, LANDLINE_REASON
        await contact.save(using_db=uow.conn)
        verdict = {"mobile": "a mobile number, SMS allowed", "landline": LANDLINE_REASON}.get(
            line_type, f"line type {line_type}"
        )
        await uow.record(
            contact,
            JourneyKind.PHONE_VERIFIED,
            f"{phone} checked: {verdict}",
            changes,
            subject={"phone": phone, "lineType": line_type, "carrier": carrier},
        )
    return contact


async def record_phone_check_skipped(actor: Actor, contact_id: int, phone: str, reason: str) -> None:
    async with unit_of_work(actor) as uow:
        contact = await Contact.filter(id=contact_id, account_id=actor.account_id).using_db(uow.conn).first()
        if contact is None:
            return
        await uow.record(
            contact, JourneyKind.PHONE_CHECK_SKIPPED, f"{phone} not checked: {reason}", {},
            subject={"phone": phone, "reason": reason},
        )  # fmt: skip


# -- email ----------------------------------------------------------------------------------


def clean_email(subject: str, body: str) -> tuple[str, str]:
    """The subject (one line) and body of an email, checked."""
    title = v.clean_text(subject, "subject", max_length=EMAIL_SUBJECT_MAX, required=True)
    if title and ("\n" in title or "\r" in title):
        raise BadInput("subject must be a single line", field="subject")
    text = v.clean_text(body, "body", max_length=EMAIL_BODY_MAX, required=True)
    return title or "", text or ""


async def queue_email_in(uow: UnitOfWork, contact: Contact, title: str, text: str) -> Message:
    """Queue an email (`clean_email`) to the locked `contact`, journaled: the caller has checked
    it is live, has an email address and (marketing) `marketing_refusal` has nothing against it."""
    message = Message(
        contact_id=contact.id,
        channel=Channel.EMAIL.value,
        direction=Direction.OUTBOUND.value,
        status=MessageStatus.QUEUED.value,
        to_address=contact.email,
        from_address=wiring.email_from,
        subject=title,
        body=text,
        author_id=uow.actor.user_id,
    )
    await message.save(using_db=uow.conn)
    await _record(
        uow, contact, message, JourneyKind.EMAIL_QUEUED, f"{uow.actor.name} queued an email: {title}"
    )
    return message


async def queue_email(
    actor: Actor, contact_id: int, subject: str, body: str, *, marketing: bool = False
) -> Message:
    """Queue an email. `marketing=True` (newsletters, offers) needs the contact's communication
    opt-in (crm/services/optins.py), as texts need SMS consent; personal email does not."""
    title, text = clean_email(subject, body)
    require_email()
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        refuse_archived(contact, "emailing it")
        if not contact.email:
            raise BadInput("the contact has no email address", field="contactId")
        if marketing and (refusal := marketing_refusal(contact)):
            raise BadInput(f"cannot send marketing email to this contact: {refusal}", field="marketing")
        message = await queue_email_in(uow, contact, title, text)
    return message


async def set_account_sms_number(actor: Actor, number: str | None) -> Account:
    if actor.role is not Role.ADMIN:
        raise Forbidden("only admins can change the account's SMS number")
    phone = v.clean_phone(number, "number", await regions.phone_region(actor.account_id))
    async with unit_of_work(actor) as uow:
        if (
            phone
            and await Account.filter(sms_number=phone)
            .exclude(id=actor.account_id)
            .using_db(uow.conn)
            .exists()
        ):
            raise Conflict(f"{phone} already belongs to another account")
        account = await Account.get(id=actor.account_id).using_db(uow.conn)
        account.sms_number = phone
        await account.save(using_db=uow.conn)
    return account
