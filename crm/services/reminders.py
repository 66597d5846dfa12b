"""Due tasks and call reminders (C9), delivered by the outbox -- not by a second scheduler.

Scheduling. When a task gets or changes a due time, or a call is booked or moved, the service
making the change calls `task_due_changed` / `call_schedule_changed` inside its unit of work.
They write one internal outbox row (plugin `dossier.reminders`, which no partner can be; the
dispatcher routes such rows to `deliver`) whose `next_attempt_at` is the due time -- the task's
due time, or the call's start minus DOSSIER_CALL_REMINDER_MINUTES -- so no worker claims it
before then. The row carries the task's `due_version` (bumped by the tasks service on every
due-time change) or the call's `reschedule_count`, and is written in the same transaction as
the change, so a due time and its row commit or roll back together. Pending rows written for
an earlier version are deleted at the same time (unless a worker holds one right now).

Delivery. `deliver` runs in ONE transaction that locks the task or call and

1. does nothing when the row is stale: the task is no longer OPEN (done, cancelled), the call
   no longer SCHEDULED without an outcome, or the version (and due time) moved on -- a moved due
   time fires from its own, later row;
2. inserts the (kind, subject, version) `ReminderReceipt`, unique -- if one is there already
   (the row was delivered before, and the worker died after the commit but before marking the
   row delivered), it does nothing;
3. creates the in-app `Notification` of each recipient, journals NOTIFICATION_SENT on the card,
   and writes the `task_due` / `call_reminder` outbox rows of every subscribed plugin (the
   built-in email and SMS plugins among them) with a `ReminderEvent`.

So the in-app notifications and the journal entry exist exactly once per due time, whatever the
number of workers, restarts or redeliveries; the hooks are delivered at least once, like every
hook, each with the same event id on every retry (deduplicate by `event.id`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from crm.actor import Actor, ActorKind
from crm.clock import utcnow
from crm.events import Recipient, ReminderEvent
from crm.journey import JourneyKind
from crm.models import Account, Call, Contact, Notification, OutboxRow, ReminderReceipt, Task, User
from crm.services.notifications import notification_message, notifications_channel
from crm.uow import UnitOfWork, contact_snapshot, display_name, unit_of_work
from crm.wiring import wiring

REMINDER_PLUGIN = "dossier.reminders"  # the outbox rows' `plugin`: no partner plugin can take it
TASK_DUE, CALL_REMINDER = "TASK_DUE", "CALL_REMINDER"
HOOK_FOR_REMINDER = {TASK_DUE: "task_due", CALL_REMINDER: "call_reminder"}
SUBJECT_TYPE = {TASK_DUE: "Task", CALL_REMINDER: "Call"}
ACTOR_NAME = "Dossier reminders"
DEFAULT_CALL_REMINDER_MINUTES = 15.0
# Event ids are derived from (kind, subject, version): the same event on every retry.
_EVENT_NAMESPACE = uuid.UUID("6f1d2c1e-4b0a-4f51-9a57-3c1c6f0d1a13")
_settings = {"call_minutes": DEFAULT_CALL_REMINDER_MINUTES}


def configure(*, call_reminder_minutes: float) -> None:
    """DOSSIER_CALL_REMINDER_MINUTES: how long before a call's start its reminder fires."""
    _settings["call_minutes"] = max(0.0, float(call_reminder_minutes))


def call_reminder_lead() -> timedelta:
    return timedelta(minutes=_settings["call_minutes"])


# -- scheduling (inside the changing service's unit of work) -----------------------------


async def task_due_changed(uow: UnitOfWork, task: Task) -> None:
    """Call after saving a task whose due time or status changed (create, update, complete,
    reopen, cancel). The caller bumps `task.due_version` with every such change (the tasks
    service does), so a row written for an earlier due time or status finds itself stale.
    Idempotent: calling it again for an unchanged task writes nothing."""
    due = task.due_at if task.status == "OPEN" else None
    version = str(task.due_version) if due is not None else None
    await _reschedule(uow, TASK_DUE, task.contact_id, task.id, version, due, due)  # type: ignore[attr-defined]


async def call_schedule_changed(uow: UnitOfWork, call: Call) -> None:
    """Call after a call was booked, rescheduled or cancelled (crm/services/calls.py)."""
    active = call.status == "SCHEDULED" and call.outcome is None and call.direction is None
    version = str(call.reschedule_count) if active else None
    fire_at = call.scheduled_at - call_reminder_lead() if active else None
    await _reschedule(
        uow,
        CALL_REMINDER,
        call.contact_id,
        call.id,
        version,
        fire_at,
        call.scheduled_at,  # type: ignore[attr-defined]
    )


async def _reschedule(
    uow: UnitOfWork,
    kind: str,
    contact_id: int,
    subject_id: int,
    version: str | None,
    fire_at: datetime | None,
    due_at: datetime | None,
) -> None:
    """Keep exactly one pending row for the subject's current version (none when it is not due)."""
    pending = (
        await OutboxRow.filter(
            contact_id=contact_id, plugin=REMINDER_PLUGIN, hook=HOOK_FOR_REMINDER[kind], status="PENDING"
        )
        .using_db(uow.conn)
        .values("id", "payload", "locked_until")
    )
    now = utcnow()
    mine = [r for r in pending if r["payload"].get("subjectId") == subject_id]
    current = [r for r in mine if version is not None and r["payload"].get("version") == version]
    # A row a worker holds right now is left alone: its delivery will find itself stale.
    superseded = [
        r["id"] for r in mine if r not in current and (r["locked_until"] is None or r["locked_until"] < now)
    ]
    if superseded:
        await OutboxRow.filter(id__in=superseded).using_db(uow.conn).delete()
    if version is None or fire_at is None or due_at is None or current:
        return
    await OutboxRow.create(
        account_id=uow.actor.account_id,
        contact_id=contact_id,
        hook=HOOK_FOR_REMINDER[kind],
        plugin=REMINDER_PLUGIN,
        payload={
            "kind": kind,
            "accountId": uow.actor.account_id,
            "subjectId": subject_id,
            "version": version,
            "dueAt": due_at.astimezone(UTC).isoformat(),
        },
        next_attempt_at=fire_at,
        using_db=uow.conn,
    )
    uow.outbox_written(1)


# -- delivery (the dispatcher, when the row falls due) -------------------------------------


@dataclass(frozen=True, slots=True)
class _Due:
    contact: Contact
    due_at: datetime
    title: str
    body: str
    summary: str  # what the journal says, before " to <names>"
    user_ids: tuple[int, ...]
    task_id: int | None = None
    call_id: int | None = None


async def deliver(payload: dict[str, Any]) -> bool:
    """Handle one due row; False when it was stale or already notified (nothing written).
    Raises on database errors: the dispatcher retries the row."""
    kind, subject_id, version = payload["kind"], int(payload["subjectId"]), str(payload["version"])
    account_id = int(payload["accountId"])
    due_at = datetime.fromisoformat(payload["dueAt"])
    actor = Actor(account_id, ActorKind.SYSTEM, ACTOR_NAME)
    async with unit_of_work(actor) as uow:
        find = _due_task if kind == TASK_DUE else _due_call
        due = await find(uow.conn, account_id, subject_id, version, due_at)
        if due is None:
            return False
        receipt = ReminderReceipt.filter(kind=kind, subject_id=subject_id, version=version)
        if await receipt.using_db(uow.conn).exists():
            return False  # delivered before: its worker died before the row was marked delivered
        # The unique key also holds if two deliveries ever raced past the check: the second
        # insert fails, its transaction rolls back, and its retry finds the receipt.
        await ReminderReceipt.create(
            account_id=account_id, kind=kind, subject_id=subject_id, version=version, using_db=uow.conn
        )
        users = await _recipients(uow.conn, account_id, due.user_ids)
        for user in users:
            notification = await Notification.create(
                account_id=account_id,
                user_id=user.id,
                kind=kind,
                title=due.title[:200],
                body=due.body[:1000],
                contact_id=due.contact.id,
                task_id=due.task_id,
                call_id=due.call_id,
                due_at=due.due_at,
                using_db=uow.conn,
            )
            uow.publish_after_commit(
                notifications_channel(account_id, user.id), notification_message(notification)
            )
        names = ", ".join(u.name for u in users) or "nobody (no assignee or owner)"
        await uow.record(
            due.contact,
            JourneyKind.NOTIFICATION_SENT,
            f"{due.summary}; notified {names}",
            {},
            subject_type=SUBJECT_TYPE[kind],
            subject_id=subject_id,
            subject={
                "kind": kind,
                "version": version,
                "dueAt": due.due_at.isoformat(),
                "userIds": [u.id for u in users],
            },
            notify=False,  # the reminder's own hooks follow
        )
        await _queue_hooks(uow, kind, subject_id, version, due, users)
    return True


async def _due_task(
    conn: BaseDBAsyncClient, account_id: int, task_id: int, version: str, due_at: datetime
) -> _Due | None:
    task = await Task.filter(id=task_id, account_id=account_id).using_db(conn).select_for_update().first()
    if task is None or task.status != "OPEN" or task.due_at is None:
        return None
    if str(task.due_version) != version or task.due_at != due_at:
        return None  # moved since: the row of its new due time fires instead
    contact = await Contact.filter(id=task.contact_id, account_id=account_id).using_db(conn).first()  # type: ignore[attr-defined]
    if contact is None:
        return None
    who = _name(contact)
    user = task.assignee_id or task.owner_id  # type: ignore[attr-defined]
    return _Due(
        contact=contact,
        due_at=task.due_at,
        title=f"Task due: {task.title}",
        body=f"{task.title} for {who} was due at {task.due_at:%Y-%m-%d %H:%M} UTC.",
        summary=f"Task “{task.title}” fell due",
        user_ids=(user,) if user else (),
        task_id=task.id,
    )


async def _due_call(
    conn: BaseDBAsyncClient, account_id: int, call_id: int, version: str, due_at: datetime
) -> _Due | None:
    call = (
        await Call.filter(id=call_id, contact__account_id=account_id)
        .using_db(conn)
        .select_for_update()
        .first()
    )
    if call is None or call.status != "SCHEDULED" or call.outcome is not None:
        return None
    if str(call.reschedule_count) != version or call.scheduled_at != due_at:
        return None
    contact = await Contact.filter(id=call.contact_id, account_id=account_id).using_db(conn).first()  # type: ignore[attr-defined]
    if contact is None:
        return None
    who = _name(contact)
    booked = call.booked_by_id  # type: ignore[attr-defined]
    owners = (contact.setter_owner_id, contact.closer_owner_id, contact.assigned_to_id)  # type: ignore[attr-defined]
    users = (booked,) if booked else tuple(dict.fromkeys(u for u in owners if u))
    return _Due(
        contact=contact,
        due_at=call.scheduled_at,
        title=f"Coming call: {call.event_name}",
        body=f"{call.event_name} with {who} starts at {call.scheduled_at:%Y-%m-%d %H:%M} UTC.",
        summary=f"Reminder of {call.event_name} at {call.scheduled_at:%Y-%m-%d %H:%M} UTC",
        user_ids=users,
        call_id=call.id,
    )


def _name(contact: Contact) -> str:
    return display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)


async def _recipients(conn: BaseDBAsyncClient, account_id: int, user_ids: tuple[int, ...]) -> list[User]:
    if not user_ids:
        return []
    found = {u.id: u for u in await User.filter(id__in=user_ids, account_id=account_id).using_db(conn)}
    return [found[i] for i in user_ids if i in found]


async def _queue_hooks(
    uow: UnitOfWork, kind: str, subject_id: int, version: str, due: _Due, users: list[User]
) -> None:
    """One outbox row per subscribed plugin, in the notifying transaction (rule 4)."""
    hook = HOOK_FOR_REMINDER[kind]
    account_id = uow.actor.account_id
    plugins = [
        plugin
        for plugin in wiring.subscribers(hook)
        if plugin not in wiring.audiences or await wiring.audiences[plugin](uow.conn, account_id, hook)
    ]
    if not plugins:
        return
    account = await Account.filter(id=account_id).using_db(uow.conn).only("id", "notify_by_sms").get()
    event = ReminderEvent(
        id=str(uuid.uuid5(_EVENT_NAMESPACE, f"{kind}:{subject_id}:{version}")),
        kind=kind,
        account_id=account_id,
        contact_id=due.contact.id,
        occurred_at=utcnow(),
        due_at=due.due_at,
        subject_type=SUBJECT_TYPE[kind],
        subject_id=subject_id,
        version=version,
        title=due.title,
        body=due.body,
        contact=contact_snapshot(due.contact),
        recipients=tuple(Recipient(u.id, u.name, u.email, u.phone) for u in users),
        notify_by_sms=bool(account.notify_by_sms),
    ).to_json()
    now = utcnow()
    await OutboxRow.bulk_create(
        [
            OutboxRow(
                account_id=account_id,
                contact_id=due.contact.id,
                hook=hook,
                plugin=plugin,
                payload=event,
                next_attempt_at=now,
            )
            for plugin in plugins
        ],
        using_db=uow.conn,
    )
    uow.outbox_written(len(plugins))
