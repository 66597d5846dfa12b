"""Chat messages (B9): a chat plugin (a website widget, a messenger bridge) records each message
of a conversation on the contact's card, inbound or outbound, with the time it was said.

A chat message is a `Message` with channel CHAT: it joins the card's thread (`Contact.messages`)
and its communication history (`Contact.communications`), journaled as CHAT_RECEIVED or
CHAT_SENT, and fires the `chat_received` / `chat_sent` hook after commit. Dossier sends nothing itself: the
plugin that talks to the chat service records what was said there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crm import validation as v
from crm.actor import Actor
from crm.clock import as_utc, utcnow
from crm.errors import BadInput
from crm.journey import JourneyKind
from crm.models import Message
from crm.services import _scoped
from crm.services.lifecycle import refuse_archived
from crm.services.messages import Channel, Direction, MessageStatus
from crm.services.messages import _excerpt as excerpt
from crm.services.messages import _record as record_message
from crm.uow import display_name, unit_of_work

CHAT_MAX = 10_000  # characters of one chat message
# A chat message's time may run ahead of the server's clock by this much (clock skew between
# the chat service and Dossier); anything later has not been said yet.
FUTURE_SKEW = timedelta(minutes=5)


def _direction(value: Direction | str) -> Direction:
    try:
        return Direction(value)
    except ValueError:
        raise BadInput(f"direction must be INBOUND or OUTBOUND, got {value!r}", field="direction") from None


def _when(at: datetime | None) -> datetime:
    now = utcnow()
    if at is None:
        return now
    when = as_utc(at, "at")
    if when > now + FUTURE_SKEW:
        raise BadInput(
            f"at {when.isoformat()} is in the future: record a chat message once it was said", field="at"
        )
    return when


async def record_chat_message(
    actor: Actor, contact_id: int, direction: Direction | str, body: str, at: datetime | None = None
) -> Message:
    """Record one chat message on the contact's card: `direction` INBOUND (the contact wrote) or
    OUTBOUND (the business answered), `body` plain text (1 to 10,000 characters), `at` when it
    was said (aware; default now, never later than a few minutes ahead). Returns the stored
    message. An outbound message on an archived contact is refused, like a text."""
    way = _direction(direction)
    text = v.clean_text(body, "body", max_length=CHAT_MAX, required=True)
    assert text is not None
    when = _when(at)
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        if way is Direction.OUTBOUND:
            refuse_archived(contact, "chatting with it")
        name = display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)
        inbound = way is Direction.INBOUND
        message = Message(
            contact_id=contact.id,
            channel=Channel.CHAT.value,
            direction=way.value,
            status=(MessageStatus.RECEIVED if inbound else MessageStatus.SENT).value,
            # The chat's two ends: the plugin that carried it, and the contact.
            to_address=(actor.name if inbound else name)[:254],
            from_address=(name if inbound else actor.name)[:254],
            body=text,
            author_id=actor.user_id,
            sent_at=None if inbound else when,
            # The message sorts in the card's history by when it was said, not when it was recorded.
            created_at=when,
        )
        await message.save(using_db=uow.conn)
        kind = JourneyKind.CHAT_RECEIVED if inbound else JourneyKind.CHAT_SENT
        summary = f"chat {'from' if inbound else 'to'} {name}: {excerpt(text)}"
        await record_message(uow, contact, message, kind, summary)
    return message
