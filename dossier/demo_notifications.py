"""The demo's inbox (C9): a few notifications for the demo admin, the key the demo hands out.

Called by `dossier.demo` once the cards (and their tasks and calls) are written, in the seed's
transaction. The admin gets a notification for each of up to three overdue open tasks and two
coming calls on the rich cards, as crm/services/reminders.py writes them when they fall due:
the notification, its once-per-due-time receipt and a NOTIFICATION_SENT entry after the card's
last journey entry (ids stay in time order). The oldest is read, the others unread. No outbox
rows, as for the rest of the demo.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from crm.actor import ActorKind
from crm.journey import JourneyKind
from crm.models import Call, Contact, JourneyEvent, Notification, ReminderReceipt, Task, User
from crm.services.reminders import ACTOR_NAME, CALL_REMINDER, TASK_DUE
from crm.uow import display_name
from dossier.demo_lifecycle import _times_or_none
from dossier.demo_rich import rich_contact_ids

MAX_TASKS, MAX_CALLS = 3, 2


async def seed_notifications(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    admin = await User.filter(account_id=account_id, role="admin").using_db(conn).order_by("id").first()
    if admin is None:
        return
    rich = await rich_contact_ids(conn, account_id)
    contacts = {
        c.id: c
        for c in await Contact.filter(
            id__in=rich, archived_at__isnull=True, merged_into_id__isnull=True
        ).using_db(conn)
    }
    tasks = (
        await Task.filter(contact_id__in=list(contacts), status="OPEN", due_at__lte=now)
        .using_db(conn)
        .order_by("due_at")
        .limit(MAX_TASKS)
    )
    calls = (
        await Call.filter(
            contact_id__in=list(contacts), status="SCHEDULED", outcome__isnull=True, scheduled_at__gt=now
        )
        .using_db(conn)
        .order_by("scheduled_at")
        .limit(MAX_CALLS)
    )
    made: list[Notification] = []
    for task in tasks:
        contact = contacts[task.contact_id]  # type: ignore[attr-defined]
        title = f"Task due: {task.title}"
        body = f"{task.title} for {_name(contact)} was due at {task.due_at:%Y-%m-%d %H:%M} UTC."
        note = await _notify(conn, account_id, admin, contact, TASK_DUE, "Task", task.id,
                             str(task.due_version), task.due_at, title, body, now)  # fmt: skip
        if note is not None:
            made.append(note)
    for call in calls:
        contact = contacts[call.contact_id]  # type: ignore[attr-defined]
        title = f"Coming call: {call.event_name}"
        body = f"{call.event_name} with {_name(contact)} starts at {call.scheduled_at:%Y-%m-%d %H:%M} UTC."
        note = await _notify(conn, account_id, admin, contact, CALL_REMINDER, "Call", call.id,
                             str(call.reschedule_count), call.scheduled_at, title, body, now)  # fmt: skip
        if note is not None:
            made.append(note)
    if made:  # the oldest was read an hour ago; the rest wait in the bell
        await Notification.filter(id=made[0].id).using_db(conn).update(read_at=now - timedelta(hours=1))


def _name(contact: Contact) -> str:
    return display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)


async def _notify(
    conn: BaseDBAsyncClient,
    account_id: int,
    admin: User,
    contact: Contact,
    kind: str,
    subject_type: str,
    subject_id: int,
    version: str,
    due_at: datetime | None,
    title: str,
    body: str,
    now: datetime,
) -> Notification | None:
    times = await _times_or_none(conn, contact.id, now, 1)
    if times is None or due_at is None:  # the card's history runs up to now: leave it be
        return None
    await ReminderReceipt.create(
        account_id=account_id, kind=kind, subject_id=subject_id, version=version, using_db=conn
    )
    await JourneyEvent.create(
        account_id=account_id,
        contact_id=contact.id,
        kind=JourneyKind.NOTIFICATION_SENT.value,
        occurred_at=times[0],
        actor_kind=ActorKind.SYSTEM.value,
        actor_user_id=None,
        actor_name=ACTOR_NAME,
        summary=f"{title}; notified {admin.name}"[:500],
        changes={},
        subject_type=subject_type,
        subject_id=subject_id,
        using_db=conn,
    )
    return await Notification.create(
        account_id=account_id,
        user_id=admin.id,
        kind=kind,
        title=title[:200],
        body=body[:1000],
        contact_id=contact.id,
        task_id=subject_id if kind == TASK_DUE else None,
        call_id=subject_id if kind == CALL_REMINDER else None,
        due_at=due_at,
        using_db=conn,
    )
