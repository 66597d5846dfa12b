"""The demo's conversions (D11): routed statuses, a client address and a few sent cards.

Called by `dossier.demo` once the cards are written, in the seed's transaction. It gives the
account two routed statuses ("sent to client", CLIENT; "manager review", MANAGER) and a client
address, then moves the newest qualified cards on as a user would have: one sent to the client
and emailed, one waiting for a manager, one rejected by the manager, and one sent by hand with
extra fields and approved. Rows are written in the shapes crm/services/conversions.py writes,
journey entries after each card's own (id order stays time order), and no outbox rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from crm.journey import JourneyKind
from crm.models import Account, Contact, Conversion, JourneyEvent, User, Utm
from crm.services.conversions import ConversionStatus, Routing
from crm.uow import display_name

CLIENT_EMAIL = "new-customers@client.example.com"
SENT, REVIEW = "sent to client", "manager review"
ROUTED = (
    {"name": SENT, "subStatuses": [], "converts": False, "routing": Routing.CLIENT.value},
    {"name": REVIEW, "subStatuses": [], "converts": False, "routing": Routing.MANAGER.value},
)
MANUAL_FIELDS = [
    {"name": "Budget", "value": "$12,000 a year"},
    {"name": "Best time to call", "value": "Weekdays after 4pm"},
]
REJECT_REASON = "Already a customer of the client under another email"
# (the status the card moves to, what happens to its conversion)
PLAN = ((SENT, "emailed"), (REVIEW, "pending"), (REVIEW, "rejected"), (None, "manual"))


async def seed_conversions(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    account = await Account.get(id=account_id).using_db(conn)
    statuses = list(account.statuses)
    at = next((i for i, s in enumerate(statuses) if s.get("converts")), len(statuses))
    account.statuses = [*statuses[:at], *ROUTED, *statuses[at:]]
    account.client_email = CLIENT_EMAIL
    await account.save(using_db=conn)

    users = (
        await User.filter(account_id=account_id).using_db(conn).order_by("id").values("id", "name", "role")
    )
    manager = next(u for u in users if u["role"] == "manager")
    reps = {u["id"]: u for u in users}
    qualified = await Contact.filter(account_id=account_id, status="qualified").using_db(conn).order_by("-id")
    plan = iter(PLAN)
    for contact in qualified:
        last = await (
            JourneyEvent.filter(contact_id=contact.id)
            .using_db(conn)
            .order_by("-id")
            .first()
            .values_list("occurred_at", flat=True)
        )
        if last is None or last > now - timedelta(hours=1):  # type: ignore[operator]
            continue  # its history runs up to now: nothing can come after it
        step = (now - max(last, now - timedelta(days=2))) / 6  # type: ignore[type-var,operator]
        status, fate = next(plan, (None, ""))
        if not fate:
            break
        owner = reps.get(contact.assigned_to_id or contact.closer_owner_id or 0) or users[-1]  # type: ignore[attr-defined]
        start = now - step * 6
        await _move(conn, contact, owner, manager, status, fate, [start + step * k for k in range(1, 6)])


async def _move(
    conn: BaseDBAsyncClient,
    contact: Contact,
    rep: dict[str, Any],
    manager: dict[str, Any],
    status: str | None,
    fate: str,
    times: list[datetime],
) -> None:
    entries: list[JourneyEvent] = []

    def entry(
        when: datetime, kind: JourneyKind, who: dict[str, Any] | None, summary: str, changes: dict[str, Any]
    ) -> None:
        entries.append(
            JourneyEvent(
                account_id=contact.account_id,  # type: ignore[attr-defined]
                contact_id=contact.id,
                kind=kind.value,
                occurred_at=when,
                actor_kind="USER" if who else "PLUGIN",
                actor_user_id=who["id"] if who else None,
                actor_name=who["name"] if who else "email",
                summary=summary,
                changes=changes,
                subject_type=None if kind is JourneyKind.STATUS_CHANGED else "Conversion",
            )
        )

    name = display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)
    why = f"{rep['name']} sent the card"
    if status is not None:
        changes: dict[str, Any] = {"status": [contact.status, status]}
        if contact.sub_status is not None:
            changes["subStatus"] = [contact.sub_status, None]
        entry(times[0], JourneyKind.STATUS_CHANGED, rep, f"{rep['name']} set the status to {status}", changes)
        contact.status, contact.sub_status, contact.updated_at = status, None, times[0]
        await contact.save(using_db=conn, update_fields=["status", "sub_status", "updated_at"])
        why = f"{rep['name']} set the status to {status}"
    utm = await Utm.filter(contact_id=contact.id).using_db(conn).order_by("captured_at", "id").first()
    summary = {
        "name": name,
        "email": contact.email,
        "phone": contact.phone,
        "rep": rep["name"],
        "mediaSource": utm.source if utm else None,
        "campaign": utm.campaign if utm else None,
        "status": contact.status,
        "subStatus": contact.sub_status,
    }
    held = fate != "emailed"
    conversion = Conversion(
        account_id=contact.account_id,  # type: ignore[attr-defined]
        contact_id=contact.id,
        status=ConversionStatus.PENDING_REVIEW.value if held else ConversionStatus.SENT.value,
        routing=Routing.MANAGER.value if held else Routing.CLIENT.value,
        summary=summary,
        extra_fields=MANUAL_FIELDS if fate == "manual" else [],
        created_by_id=rep["id"],
        sent_at=None if held else times[1],
    )
    await conversion.save(using_db=conn)
    if held:
        entry(
            times[1], JourneyKind.CONVERSION_HELD, rep, f"{why}: {name} waits for a manager's review",
            {"conversionStatus": [None, ConversionStatus.PENDING_REVIEW.value]},
        )  # fmt: skip
    else:
        entry(
            times[1], JourneyKind.CONVERSION_SENT, rep, f"{why}: {name} was sent to the client",
            {"conversionStatus": [None, ConversionStatus.SENT.value]},
        )  # fmt: skip
    if fate == "rejected":
        conversion.status, conversion.reason = ConversionStatus.REJECTED.value, REJECT_REASON
        conversion.reviewed_by_id, conversion.reviewed_at = manager["id"], times[2]
        entry(
            times[2], JourneyKind.CONVERSION_REJECTED, manager,
            f"{manager['name']} rejected the conversion: {REJECT_REASON}",
            {"conversionStatus": [ConversionStatus.PENDING_REVIEW.value, conversion.status],
             "reason": [None, REJECT_REASON]},
        )  # fmt: skip
    if fate == "manual":
        conversion.status = ConversionStatus.SENT.value
        conversion.reviewed_by_id, conversion.reviewed_at, conversion.sent_at = (
            manager["id"],
            times[2],
            times[2],
        )
        entry(
            times[2], JourneyKind.CONVERSION_SENT, manager,
            f"{manager['name']} approved the conversion: {name} was sent to the client",
            {"conversionStatus": [ConversionStatus.PENDING_REVIEW.value, ConversionStatus.SENT.value]},
        )  # fmt: skip
    if conversion.status == ConversionStatus.SENT:
        conversion.emailed_at = times[3]
        entry(
            times[3], JourneyKind.CONVERSION_EMAILED, None, f"The conversion was emailed to {CLIENT_EMAIL}",
            {"emailedTo": [None, CLIENT_EMAIL]},
        )  # fmt: skip
    await conversion.save(using_db=conn)
    await Conversion.filter(id=conversion.id).using_db(conn).update(created_at=times[1])
    for row in entries:
        if row.subject_type == "Conversion":
            row.subject_id = conversion.id
    await JourneyEvent.bulk_create(entries, using_db=conn)
