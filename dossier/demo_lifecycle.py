"""The demo's record lifecycle (D4, D5, C6): archived cards, a duplicated one, logged calls.

Called by `dossier.demo` once the cards are written, in the seed's transaction. The oldest
lost leads went to the archive (one of them was archived by mistake and restored an hour
later); a rep duplicated a customer to add the spouse, who shares the address, owners, tags and
deals, and then gave the copy its own first name and email; and the newest cards had calls
logged after they happened (an answered inbound call, a missed outbound one). Rows are written
in the shapes crm/services/lifecycle.py and crm/services/call_log.py write, journey entries
after each card's own (id order stays time order), and no outbox rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from crm import money
from crm.actor import ActorKind
from crm.journey import JourneyKind
from crm.models import Call, Contact, ContactTag, Deal, JourneyEvent, User
from crm.services.contacts import IDENTITY_FIELDS
from crm.services.deals import DEAL_FIELDS
from crm.services.lifecycle import _COPIED_STATE, _DEAL_COLUMNS, _OWNERS
from crm.uow import display_name

ARCHIVED = 3  # lost leads in the archive
RESTORED = 1  # archived by mistake, restored an hour later
COPIES = 1  # contacts made by duplicating another
SPOUSE = "Jordan"
# (direction, seconds, outcome, summary) logged on the newest cards
LOGGED_CALLS = (
    ("INBOUND", 412, "SPOKE", "Called back about the invoice; wants it split over two months."),
    ("OUTBOUND", 0, "NO_ANSWER", None),
    ("INBOUND", 95, "FOLLOW_UP_NEEDED", "Asked for the security questionnaire again."),
    ("OUTBOUND", 1260, "SPOKE", "Walked through the renewal; decision next week."),
)


def _entry(contact_id: int, account_id: int, user: dict[str, Any], at: datetime, kind: JourneyKind,
           summary: str, changes: dict[str, Any], subject_type: str | None = None,
           subject_id: int | None = None) -> JourneyEvent:  # fmt: skip
    return JourneyEvent(
        account_id=account_id,
        contact_id=contact_id,
        kind=kind.value,
        occurred_at=at,
        actor_kind=ActorKind.USER.value,
        actor_user_id=user["id"],
        actor_name=user["name"],
        summary=f"{user['name']} {summary}"[:500],
        changes=changes,
        subject_type=subject_type,
        subject_id=subject_id,
    )


async def _times(conn: BaseDBAsyncClient, contact_id: int, now: datetime, count: int) -> list[datetime]:
    """See `_times_or_none`; a card whose history runs up to now gets times from now on."""
    return await _times_or_none(conn, contact_id, now, count) or [now] * count


async def _times_or_none(
    conn: BaseDBAsyncClient, contact_id: int, now: datetime, count: int
) -> list[datetime] | None:
    """`count` times after the card's last journey entry, before now (to the microsecond: the
    newest cards' histories run up to a few seconds ago)."""
    last = await (
        JourneyEvent.filter(contact_id=contact_id)
        .using_db(conn)
        .order_by("-id")
        .first()
        .values_list("occurred_at", flat=True)
    )
    start = max(last or now, now - timedelta(days=3))  # type: ignore[type-var]
    if now - start < timedelta(minutes=count + 1):
        return None  # no room after its last entry: the caller picks another card
    step = (now - start) / (count + 1)
    return [start + step * (k + 1) for k in range(count)]


async def seed_lifecycle(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    users = (
        await User.filter(account_id=account_id).using_db(conn).order_by("id").values("id", "name", "role")
    )
    manager = next((u for u in users if u["role"] == "manager"), users[0])
    rep = next((u for u in users if u["role"] == "rep"), users[-1])
    await _archive(conn, account_id, manager, now)
    await _duplicate(conn, account_id, rep, now)
    await _log_calls(conn, account_id, users, now)


async def _archive(conn: BaseDBAsyncClient, account_id: int, manager: dict[str, Any], now: datetime) -> None:
    lost = await Contact.filter(account_id=account_id, status="lost").using_db(conn).order_by("id")
    others = await Contact.filter(account_id=account_id).exclude(status="lost").using_db(conn).order_by("id")
    chosen = [*lost, *others][: ARCHIVED + RESTORED]
    entries = []
    for n, contact in enumerate(chosen):
        archived, restored = await _times(conn, contact.id, now, 2)
        name = display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)
        entries.append(
            _entry(contact.id, account_id, manager, archived, JourneyKind.CONTACT_ARCHIVED,
                   f"archived {name}", {"archivedAt": [None, archived.isoformat()]})
        )  # fmt: skip
        if n < ARCHIVED:
            await (
                Contact.filter(id=contact.id).using_db(conn).update(archived_at=archived, updated_at=archived)
            )
        else:
            entries.append(
                _entry(contact.id, account_id, manager, restored, JourneyKind.CONTACT_RESTORED,
                       f"restored {name} from the archive", {"archivedAt": [archived.isoformat(), None]})
            )  # fmt: skip
            await Contact.filter(id=contact.id).using_db(conn).update(updated_at=restored)
    await JourneyEvent.bulk_create(entries, using_db=conn)


async def _duplicate(conn: BaseDBAsyncClient, account_id: int, rep: dict[str, Any], now: datetime) -> None:
    """A customer (with an email, tags and deals) copied to add the spouse."""
    source = None
    for candidate in await (
        Contact.filter(account_id=account_id, archived_at__isnull=True, email__isnull=False)
        .using_db(conn)
        .order_by("-id")
        .offset(3)  # not one of the newest, richest cards
    ):
        has_tags = await ContactTag.filter(contact_id=candidate.id).using_db(conn).exists()
        if has_tags and await Deal.filter(contact_id=candidate.id).using_db(conn).count() >= 2:
            source = candidate
            break
    if source is None:
        return
    copied_at, edited_at = await _times(conn, source.id, now, 2)
    values = {column: getattr(source, column) for column in (*IDENTITY_FIELDS, *_COPIED_STATE, *_OWNERS)}
    copy = Contact(account_id=account_id, **values)
    await copy.save(using_db=conn)
    tags = (
        await ContactTag.filter(contact_id=source.id)
        .using_db(conn)
        .order_by("id")
        .values_list("tag_id", "tag__name")
    )
    await ContactTag.bulk_create([ContactTag(contact_id=copy.id, tag_id=t) for t, _ in tags], using_db=conn)
    deals = []
    for deal in await Deal.filter(contact_id=source.id).using_db(conn).order_by("created_at", "id"):
        copied = Deal(
            contact_id=copy.id,
            account_id=deal.account_id,  # type: ignore[attr-defined]
            created_by_id=deal.created_by_id,  # type: ignore[attr-defined]
            **{column: getattr(deal, column) for column in _DEAL_COLUMNS},
        )
        await copied.save(using_db=conn)
        deals.append(copied)
    await Deal.filter(contact_id=copy.id).using_db(conn).update(created_at=copied_at, updated_at=copied_at)
    names = dict(await User.filter(account_id=account_id).using_db(conn).values_list("id", "name"))
    changes: dict[str, Any] = {
        api: [None, value.isoformat() if hasattr(value, "isoformat") else value]
        for column, api in {**IDENTITY_FIELDS, **_COPIED_STATE}.items()
        if (value := values[column]) is not None and value is not False
    }
    changes.update({api: [None, names[values[c]]] for c, api in _OWNERS.items() if values[c] in names})
    tag_names = sorted(name for _, name in tags)
    if tag_names:
        changes["tags"] = [None, tag_names]
    source_name = display_name(source.first_name, source.last_name, source.business_name, source.email)
    entries = [
        _entry(copy.id, account_id, rep, copied_at, JourneyKind.CONTACT_DUPLICATED,
               f"duplicated {source_name} (contact {source.id}) as this contact", changes,
               "Contact", source.id),
        _entry(source.id, account_id, rep, copied_at, JourneyKind.CONTACT_DUPLICATED,
               f"duplicated this contact as contact {copy.id}", {}, "Contact", copy.id),
    ]  # fmt: skip
    for k, deal in enumerate(deals):
        deal_changes = {
            api: [None, money.text(v, deal.currency) if column == "amount" else v]
            for column, api in DEAL_FIELDS.items()
            if (v := getattr(deal, column)) is not None
        }
        entries.append(
            _entry(copy.id, account_id, rep, copied_at + timedelta(seconds=k + 1), JourneyKind.DEAL_ADDED,
                   f"copied a deal from contact {source.id}: {deal.product_name},"
                   f" {money.display(deal.amount, deal.currency)} ({deal.status.lower()})",
                   deal_changes, "Deal", deal.id)
        )  # fmt: skip
    # The spouse: their own first name and email; the rest is the household's.
    email = f"{SPOUSE.lower()}.{(source.last_name or 'household').lower()}@example.com"
    email = "".join(ch for ch in email if ch.isascii() and (ch.isalnum() or ch in "@.-_"))
    edits = {"firstName": [source.first_name, SPOUSE], "email": [source.email, email]}
    if source.secondary_email:
        edits["secondaryEmail"] = [source.secondary_email, None]
    entries.append(
        _entry(copy.id, account_id, rep, edited_at, JourneyKind.CONTACT_UPDATED,
               f"changed {', '.join(edits)}", edits)
    )  # fmt: skip
    await (
        Contact.filter(id=copy.id)
        .using_db(conn)
        .update(
            first_name=SPOUSE, email=email, secondary_email=None, created_at=copied_at, updated_at=edited_at
        )
    )
    await JourneyEvent.bulk_create(entries, using_db=conn)


async def _log_calls(
    conn: BaseDBAsyncClient, account_id: int, users: list[dict[str, Any]], now: datetime
) -> None:
    """Calls logged on the newest cards, minutes to hours after they happened."""
    newest = await (
        Contact.filter(account_id=account_id, archived_at__isnull=True)
        .using_db(conn)
        .order_by("-id")
        .limit(20)
    )
    planned: list[tuple[Contact, list[datetime]]] = []
    for contact in newest:
        times = await _times_or_none(conn, contact.id, now, 2)
        if times is not None and len(planned) < len(LOGGED_CALLS):
            planned.append((contact, times))
    entries = []
    for n, ((contact, (occurred, logged)), (direction, seconds, outcome, summary)) in enumerate(
        zip(planned, LOGGED_CALLS, strict=False)
    ):
        user = users[n % len(users)]
        call = await Call.create(
            contact_id=contact.id,
            event_name="Inbound call" if direction == "INBOUND" else "Outbound call",
            scheduled_at=occurred,
            duration_minutes=-(-seconds // 60),
            duration_seconds=seconds,
            direction=direction,
            summary=summary,
            outcome=outcome,
            outcome_at=logged,
            booked_by_id=user["id"],
            using_db=conn,
        )
        await Call.filter(id=call.id).using_db(conn).update(created_at=logged, updated_at=logged)
        minutes, rest = divmod(seconds, 60)
        entries.append(
            _entry(contact.id, account_id, user, logged, JourneyKind.CALL_LOGGED,
                   f"logged an {direction.lower()} call at {occurred:%Y-%m-%d %H:%M} UTC"
                   f" ({minutes}:{rest:02d}): {outcome.replace('_', ' ').lower()}",
                   {"scheduledAt": [None, occurred.isoformat()], "direction": [None, direction],
                    "durationSeconds": [None, seconds], "outcome": [None, outcome]},
                   "Call", call.id)
        )  # fmt: skip
    await JourneyEvent.bulk_create(entries, using_db=conn)
