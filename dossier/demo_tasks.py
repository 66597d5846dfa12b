"""The demo's tasks (B5) on its rich cards.

Called by `dossier.demo` once the cards are written, before the notifications (which point at
these tasks), in the seed's transaction. Each of the first rich live cards gets, after its last
journey entry (ids stay in time order):

- an overdue call-back, due yesterday, assigned to the rep;
- a meeting next week (at 14:00 New York time, kept with its offset), 60 minutes long;
- a reminder due later today, assigned to the admin;
- an undated to-do;
- a done email task, completed by the rep.

Rows and journey snapshots are written as crm/services/tasks.py writes them; no outbox rows, as
for the rest of the demo.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from crm.journey import JourneyKind
from crm.models import Contact, JourneyEvent, Task, User
from crm.services import tasks as service
from dossier.demo_lifecycle import _entry, _times_or_none
from dossier.demo_rich import rich_contact_ids

CARDS = 6  # rich cards that get tasks
NEW_YORK = timezone(timedelta(hours=-5))


async def seed_tasks(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    rich = await rich_contact_ids(conn, account_id)
    live = set(
        await Contact.filter(id__in=rich, archived_at__isnull=True, merged_into_id__isnull=True)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    users = (
        await User.filter(account_id=account_id).using_db(conn).order_by("id").values("id", "name", "role")
    )
    admin = next((u for u in users if u["role"] == "admin"), users[0])
    rep = next((u for u in users if u["role"] == "rep"), users[-1])
    for contact_id in [c for c in rich if c in live][:CARDS]:
        await _card(conn, account_id, contact_id, now, admin, rep)


async def _times(conn: BaseDBAsyncClient, contact_id: int, now: datetime, count: int) -> list[datetime]:
    found = await _times_or_none(conn, contact_id, now, count)
    if found:
        return found
    last = await JourneyEvent.filter(contact_id=contact_id).using_db(conn).order_by("-id").first()
    start = last.occurred_at if last else now
    return [start + timedelta(milliseconds=i + 1) for i in range(count)]


async def _card(
    conn: BaseDBAsyncClient,
    account_id: int,
    contact_id: int,
    now: datetime,
    admin: dict[str, Any],
    rep: dict[str, Any],
) -> None:
    times = iter(await _times(conn, contact_id, now, 6))
    meeting_day = (now + timedelta(days=7)).astimezone(NEW_YORK).date()
    meeting = datetime(meeting_day.year, meeting_day.month, meeting_day.day, 14, tzinfo=NEW_YORK)
    plans: list[tuple[dict[str, Any], dict[str, Any], datetime | None]] = [
        ({"kind": "CALL", "title": "Call back about the quote"}, rep, now - timedelta(days=1)),
        ({"kind": "MEETING", "title": "Site visit", "duration_minutes": 60}, rep, meeting),
        ({"kind": "REMINDER", "title": "Check the signed contract"}, admin, now + timedelta(hours=3)),
        ({"kind": "TASK", "title": "Update the floor plan"}, rep, None),
        ({"kind": "EMAIL", "title": "Send the brochure"}, rep, now - timedelta(days=2)),
    ]
    entries: list[JourneyEvent] = []
    for values, assignee, due in plans:
        at = next(times)
        task = Task(
            account_id=account_id,
            contact_id=contact_id,
            status="OPEN",
            assignee_id=assignee["id"],
            owner_id=admin["id"],
            due_at=due.astimezone(UTC) if due else None,
            due_offset_minutes=int(due.utcoffset().total_seconds() // 60) if due else None,  # type: ignore[union-attr]
            **values,
        )
        await task.save(using_db=conn)
        after = service.task_subject(task)
        changes = {
            k: [None, after[k]]
            for k in ("kind", "title", "dueAt", "durationMinutes", "assigneeId", "status")
            if after[k] is not None
        }
        entries.append(
            _entry(
                contact_id,
                account_id,
                admin,
                at,
                JourneyKind.TASK_CREATED,
                f"added a {task.kind.lower()} “{task.title}”",
                changes,
                "Task",
                task.id,
            )
        )
        if values["kind"] == "EMAIL":  # the done one
            at = next(times)
            before = service.task_subject(task)
            task.status, task.completed_at, task.completed_by_id = "DONE", at, rep["id"]  # type: ignore[attr-defined]
            task.due_version += 1
            await task.save(using_db=conn)
            done = service.task_subject(task)
            changes = {k: [before[k], done[k]] for k in ("status", "completedAt") if before[k] != done[k]}
            entries.append(
                _entry(
                    contact_id,
                    account_id,
                    rep,
                    at,
                    JourneyKind.TASK_COMPLETED,
                    f"completed the email “{task.title}”",
                    changes,
                    "Task",
                    task.id,
                )
            )
    await JourneyEvent.bulk_create(entries, using_db=conn)
