"""The demo's merges (D2): a merged pair, and a duplicate candidate left for a user to merge.

Called by `dossier.demo` once the cards are written, in the seed's transaction. A customer
filled in the webinar form under their name with their office line, which made a second card:
it got a note and the "Webinar" tag, and a manager merged it into the customer's card (the
office line filled the card's empty secondary phone). And a rep typed a caller's number into a
card without a phone, a number another card already has: both cards show the other in
`duplicateCandidates` (PHONE), not merged.

The second card's rows are written as the services write them (journey entries after the
customer's own, so id order stays time order); the merge itself is the real one
(`crm.services.merges.merge_in`, in the seed's transaction), so `Contact.merges` and the
journey show exactly what `mergeContacts` leaves. The demo writes no outbox rows: no plugin
subscribes to a new account's events before it has webhooks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from crm.actor import Actor
from crm.journey import JourneyKind
from crm.models import Contact, ContactTag, JourneyEvent, Note, Tag, User
from crm.richtext import visible_text
from crm.services.merges import merge_in
from crm.uow import UnitOfWork
from dossier.demo_lifecycle import _entry, _times_or_none

MERGED = 1  # absorbed (hidden) cards: not in the contacts list
WEBINAR_TAG = "Webinar"
WEBINAR_NOTE = "<p>Joined the pricing webinar; asked whether the <b>annual plan</b> includes onboarding.</p>"


async def seed_merges(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    users = (
        await User.filter(account_id=account_id).using_db(conn).order_by("id").values("id", "name", "role")
    )
    manager = next((u for u in users if u["role"] == "manager"), users[0])
    rep = next((u for u in users if u["role"] == "rep"), users[-1])
    cards = (
        await Contact.filter(
            account_id=account_id,
            archived_at__isnull=True,
            first_name__isnull=False,
            last_name__isnull=False,
            phone__isnull=False,
            secondary_phone__isnull=True,
        )
        .using_db(conn)
        .order_by("-id")
    )
    tagged = set(
        await ContactTag.filter(contact_id__in=[c.id for c in cards], tag__key=WEBINAR_TAG.casefold())
        .using_db(conn)
        .values_list("contact_id", flat=True)
    )
    primary, times = None, None
    for card in cards:
        if card.id not in tagged:
            times = await _times_or_none(conn, card.id, now, 3)
            if times:
                primary = card
                break
    if primary is None or times is None or len(cards) < 2:
        return
    await _merged_pair(conn, account_id, primary, times, manager, rep)
    await _candidate(conn, account_id, next(c for c in cards if c.id != primary.id), now, rep)


async def _merged_pair(
    conn: BaseDBAsyncClient,
    account_id: int,
    primary: Contact,
    times: list[datetime],
    manager: dict[str, Any],
    rep: dict[str, Any],
) -> None:
    created, noted, tagged = times
    # The office line: the card's own number with another last digit (same area, same exchange).
    phone = primary.phone or ""
    office = phone[:-1] + str((int(phone[-1]) + 1) % 10)
    twin = Contact(
        account_id=account_id,
        first_name=primary.first_name,
        last_name=primary.last_name,
        secondary_phone=office,
        status=primary.status,
        sub_status=primary.sub_status,
        converted_at=primary.converted_at,
    )
    await twin.save(using_db=conn)
    await Contact.filter(id=twin.id).using_db(conn).update(created_at=created, updated_at=tagged)
    tag, _ = await Tag.get_or_create(
        account_id=account_id,
        key=WEBINAR_TAG.casefold(),
        defaults={"name": WEBINAR_TAG},
        using_db=conn,
    )
    await ContactTag.create(contact_id=twin.id, tag_id=tag.id, created_at=tagged, using_db=conn)
    note = Note(
        contact_id=twin.id,
        body=WEBINAR_NOTE,
        text_length=len(visible_text(WEBINAR_NOTE)),
        author_id=rep["id"],
        author_kind="USER",
        author_name=rep["name"],
    )
    await note.save(using_db=conn)
    await Note.filter(id=note.id).using_db(conn).update(created_at=noted, updated_at=noted)
    name = f"{primary.first_name} {primary.last_name}"
    created_changes: dict[str, list[Any]] = {
        "firstName": [None, primary.first_name],
        "lastName": [None, primary.last_name],
        "secondaryPhone": [None, office],
        "status": [None, primary.status],
    }
    if primary.sub_status:
        created_changes["subStatus"] = [None, primary.sub_status]
    await JourneyEvent.bulk_create(
        [
            _entry(twin.id, account_id, rep, created, JourneyKind.CONTACT_CREATED,
                   f"created {name} from Pricing webinar", created_changes),
            _entry(twin.id, account_id, rep, noted, JourneyKind.NOTE_ADDED,
                   "posted a note: Joined the pricing webinar; asked whether the annual plan includes…",
                   {"body": [None, WEBINAR_NOTE]}, "Note", note.id),
            _entry(twin.id, account_id, rep, tagged, JourneyKind.TAG_ADDED,
                   f"tagged the contact {WEBINAR_TAG}", {"tags": [None, WEBINAR_TAG]}, "Tag", tag.id),
        ],
        using_db=conn,
    )  # fmt: skip
    actor = Actor.user(account_id, manager["id"], manager["name"], manager["role"])
    await merge_in(UnitOfWork(actor, conn), primary.id, [twin.id])


async def _candidate(
    conn: BaseDBAsyncClient, account_id: int, card: Contact, now: datetime, rep: dict[str, Any]
) -> None:
    """A card without a phone gets the number a caller left for it, which is `card`'s: a rep
    entered it on the wrong card (or it is the same person). Either way `card` now has a
    duplicate candidate with reason PHONE, not merged."""
    for other in await (
        Contact.filter(account_id=account_id, archived_at__isnull=True, phone__isnull=True)
        .using_db(conn)
        .order_by("id")
    ):
        times = await _times_or_none(conn, other.id, now, 1)
        if times:
            (at,) = times
            await Contact.filter(id=other.id).using_db(conn).update(phone=card.phone, updated_at=at)
            await JourneyEvent.bulk_create(
                [
                    _entry(other.id, account_id, rep, at, JourneyKind.CONTACT_UPDATED, "changed phone",
                           {"phone": [None, card.phone]}),
                ],
                using_db=conn,
            )  # fmt: skip
            return
