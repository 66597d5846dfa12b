"""The demo's chats (B9): the website's chat widget on the newest cards.

Called by `dossier.demo` once the cards are written, in the seed's transaction. The newest live
cards each had a short chat through the "webchat" plugin: the contact asked something, the
business answered. Rows are written in the shapes crm/services/chat.py writes -- a CHAT message
and a CHAT_RECEIVED / CHAT_SENT journey entry by the plugin, after the card's own entries (id
order stays time order) -- and no outbox rows. With the cards' calls, texts, emails and leads
they fill `Contact.communications`; insights need nothing more (they are computed from the
card's rows).
"""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from crm.actor import ActorKind
from crm.journey import JourneyKind
from crm.models import Contact, JourneyEvent, Message
from crm.services.messages import Channel, Direction, MessageStatus, _excerpt
from crm.uow import display_name
from dossier.demo_lifecycle import _times_or_none

CHAT_PLUGIN = "webchat"
CHATS = (
    ("Hi! Do you have any openings next week for an estimate?", "We do: Tuesday 10am or Thursday 2pm?"),
    ("Is the annual plan billed up front?", "Yes, once a year; you can switch to monthly any time."),
    ("Can I add a second location to my account?", "Of course, I'll send you the form now."),
    ("Quick question about my last invoice", "Happy to help: which line looks off?"),
)


async def seed_communications(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    cards = await (
        Contact.filter(account_id=account_id, archived_at__isnull=True, merged_into_id__isnull=True)
        .using_db(conn)
        .order_by("-id")
        .limit(20)
    )
    chatted = 0
    for contact in cards:
        if chatted == len(CHATS):
            break
        times = await _times_or_none(conn, contact.id, now, 2)
        if times is None:
            continue
        question, answer = CHATS[chatted]
        await _chat(conn, account_id, contact, Direction.INBOUND, question, times[0])
        await _chat(conn, account_id, contact, Direction.OUTBOUND, answer, times[1])
        chatted += 1


async def _chat(
    conn: BaseDBAsyncClient, account_id: int, contact: Contact, direction: Direction, body: str, at: datetime
) -> None:
    name = display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)
    inbound = direction is Direction.INBOUND
    message = await Message.create(
        contact_id=contact.id,
        channel=Channel.CHAT.value,
        direction=direction.value,
        status=(MessageStatus.RECEIVED if inbound else MessageStatus.SENT).value,
        to_address=CHAT_PLUGIN if inbound else name[:254],
        from_address=name[:254] if inbound else CHAT_PLUGIN,
        body=body,
        sent_at=None if inbound else at,
        created_at=at,
        using_db=conn,
    )
    await Message.filter(id=message.id).using_db(conn).update(updated_at=at)
    await JourneyEvent.create(
        account_id=account_id,
        contact_id=contact.id,
        kind=(JourneyKind.CHAT_RECEIVED if inbound else JourneyKind.CHAT_SENT).value,
        occurred_at=at,
        actor_kind=ActorKind.PLUGIN.value,
        actor_user_id=None,
        actor_name=CHAT_PLUGIN,
        summary=f"chat {'from' if inbound else 'to'} {name}: {_excerpt(body)}"[:500],
        changes={},
        subject_type="Message",
        subject_id=message.id,
        using_db=conn,
    )
