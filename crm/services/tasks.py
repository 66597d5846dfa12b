"""Tasks (B5): to-dos, meetings, comments, calls, emails and reminders on a card.

Rules (each refusal changes nothing):

- Anyone in the account creates a task on a live contact (not an archived one); its creator owns
  it. Reps change tasks they own or are assigned to; managers and admins change any
  (FORBIDDEN otherwise). The assignee is a user of the account (NOT_FOUND otherwise); left out
  on create it is the creator, null leaves the task unassigned.
- title: 1-200 characters. body: rich text through the notes' sanitiser and limits
  (crm/richtext.py); empty for none. durationMinutes: 1 to MAX_DURATION (a day), or null.
- dueAt: optional, with a timezone offset; stored in UTC with the offset kept, so it reads back
  as it was written. A due time in the past is accepted, on create too: the task is overdue at
  once (a rep logging what was due this morning), and the due notification fires at once.
- Status: OPEN -> DONE (completeTask; sets completedAt and completedBy) or CANCELLED
  (cancelTask); DONE or CANCELLED -> OPEN (reopenTask; clears completedAt and completedBy).
  Any other move is CONFLICT, saying what the task is and what would work.
- overdue: OPEN with a due time before now.

When a task falls due is owned by the notifications (crm/services/reminders.py): every change
to when or whether it does -- a due time set, moved or cleared, a status change -- bumps
`due_version` and goes through `_due_changed`, in the change's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from crm import validation as v
from crm.actor import Actor
from crm.clock import as_utc, utcnow
from crm.errors import BadInput, Conflict, Forbidden
from crm.journey import JourneyKind
from crm.models import Task
from crm.richtext import clean_note_in_thread
from crm.services import _scoped
from crm.services.billing import api_id
from crm.services.lifecycle import refuse_archived
from crm.services.reminders import task_due_changed
from crm.uow import UnitOfWork, unit_of_work


class TaskKind(StrEnum):
    TASK = "TASK"
    MEETING = "MEETING"
    COMMENT = "COMMENT"
    CALL = "CALL"
    EMAIL = "EMAIL"
    REMINDER = "REMINDER"


class TaskStatus(StrEnum):
    OPEN = "OPEN"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


MAX_TITLE = 200
MAX_DURATION = 24 * 60  # minutes: a meeting of a whole day at most

# The fields a client sets (createTask, updateTask): model attribute -> API name. The service's
# validation, the journey's change names and the GraphQL inputs all follow this one list.
TASK_FIELDS: dict[str, str] = {
    "kind": "kind",
    "title": "title",
    "body": "body",
    "due_at": "dueAt",
    "duration_minutes": "durationMinutes",
    "assignee_id": "assigneeId",
}


# -- reading a task --------------------------------------------------------------------------


def due_time(due_at: datetime | None, offset_minutes: int | None) -> datetime | None:
    """The due time with the offset the client wrote it with (UTC when none was kept)."""
    if due_at is None:
        return None
    if due_at.tzinfo is None:  # SQLite rows read raw: stored in UTC
        due_at = due_at.replace(tzinfo=UTC)
    if not offset_minutes:
        return due_at.astimezone(UTC)
    return due_at.astimezone(_zone(offset_minutes))


_ZONES: dict[int, timezone] = {}


def _zone(offset_minutes: int) -> timezone:
    zone = _ZONES.get(offset_minutes)
    if zone is None:
        zone = _ZONES[offset_minutes] = timezone(timedelta(minutes=offset_minutes))
    return zone


def is_overdue(status: str, due_at: datetime | None, now: datetime | None = None) -> bool:
    """OPEN with a due time before now."""
    return status == TaskStatus.OPEN and due_at is not None and due_at < (now or utcnow())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def task_subject(task: Task) -> dict[str, Any]:
    """The journey's and the hooks' view of a task: ids are the API's global ids, dueAt keeps
    its offset."""
    return {
        "id": api_id("Task", task.id),
        "contactId": api_id("Contact", task.contact_id),  # type: ignore[attr-defined]
        "kind": task.kind,
        "title": task.title,
        "body": task.body,
        "dueAt": _iso(due_time(task.due_at, task.due_offset_minutes)),
        "durationMinutes": task.duration_minutes,
        "assigneeId": api_id("User", task.assignee_id),  # type: ignore[attr-defined]
        "ownerId": api_id("User", task.owner_id),  # type: ignore[attr-defined]
        "status": task.status,
        "completedAt": _iso(task.completed_at),
        "completedById": api_id("User", task.completed_by_id),  # type: ignore[attr-defined]
        "overdue": is_overdue(task.status, task.due_at),
    }


# What a change records: the client's fields and the status, never ids or derived values.
_JOURNALED = ("kind", "title", "body", "dueAt", "durationMinutes", "assigneeId", "status", "completedAt")


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), after[k]] for k in _JOURNALED if before.get(k) != after[k]}


def _excerpt(task: Task) -> str:
    title = task.title if len(task.title) <= 80 else task.title[:79] + "…"
    return f"{task.kind.lower()} “{title}”"


# -- cleaning input --------------------------------------------------------------------------


def _kind(raw: Any) -> str:
    if raw is None:
        raise BadInput("kind cannot be null", field="kind")
    text = raw.value if isinstance(raw, StrEnum) else raw
    if text not in TaskKind.__members__:
        raise BadInput(f"kind {text!r} is not one of {', '.join(TaskKind.__members__)}", field="kind")
    return str(text)


def _title(raw: str | None) -> str:
    return v.clean_text(raw, "title", max_length=MAX_TITLE, required=True)  # type: ignore[return-value]


async def _body(raw: str | None) -> tuple[str, int]:
    """Sanitised HTML and its visible length; ("", 0) for no body."""
    if raw is None or not raw.strip():
        return "", 0
    try:
        clean = await clean_note_in_thread(raw)
    except BadInput as exc:
        # The sanitiser speaks of notes; the limits are the same for a task's body.
        message = exc.message.replace("a note's", "a task body's").replace("a note", "a task body")
        if message == "a task body needs some text":
            message = "the body has no visible text: send an empty body for none"
        raise BadInput(message, field="body") from None
    return clean.html, clean.text_length


def _due(raw: datetime | None) -> tuple[datetime | None, int | None]:
    """(UTC time, the offset in minutes it was written with); (None, None) for no due time."""
    if raw is None:
        return None, None
    when = as_utc(raw, "dueAt")
    offset = raw.utcoffset() or timedelta(0)
    if offset % timedelta(minutes=1):
        raise BadInput("dueAt's timezone offset must be whole minutes, e.g. +05:30", field="dueAt")
    return when, int(offset / timedelta(minutes=1))


def _duration(raw: int | None) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_DURATION:
        raise BadInput(
            f"durationMinutes is 1 to {MAX_DURATION} (a day), or null for none; got {raw!r}",
            field="durationMinutes",
        )
    return raw


async def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """The given fields (TASK_FIELDS' keys; due_at as a datetime), cleaned as stored; the
    assignee is checked in the transaction."""
    cleaned: dict[str, Any] = {}
    if "kind" in values:
        cleaned["kind"] = _kind(values["kind"])
    if "title" in values:
        cleaned["title"] = _title(values["title"])
    if "body" in values:
        cleaned["body"], cleaned["text_length"] = await _body(values["body"])
    if "due_at" in values:
        cleaned["due_at"], cleaned["due_offset_minutes"] = _due(values["due_at"])
    if "duration_minutes" in values:
        cleaned["duration_minutes"] = _duration(values["duration_minutes"])
    return cleaned


# -- shared steps ----------------------------------------------------------------------------


def may_change(actor: Actor, task: Task) -> bool:
    """Reps change tasks they own or are assigned to; managers, admins (and the system) any."""
    return actor.is_manager or actor.user_id in (task.owner_id, task.assignee_id)  # type: ignore[attr-defined]


def _refuse_unless_allowed(actor: Actor, task: Task) -> None:
    if not may_change(actor, task):
        raise Forbidden(
            f"task {task.id} is neither yours nor assigned to you: only its owner, its assignee, "
            "a manager or an admin can change it"
        )


async def _due_changed(uow: UnitOfWork, task: Task) -> None:
    """The one place told that when, or whether, `task` falls due has changed: a due time set,
    moved or cleared, or its status changed (the row is saved, `due_version` already bumped).
    The notifications part (crm/services/reminders.py) schedules or retires the task's due
    notification from here, in the same transaction."""
    await task_due_changed(uow, task)


async def _record(
    uow: UnitOfWork,
    task: Task,
    kind: JourneyKind,
    summary: str,
    changes: Mapping[str, Any],
    contact: Any = None,
) -> None:
    if contact is None:
        contact = await _scoped.contact(uow, task.contact_id)  # type: ignore[attr-defined]
    await uow.record(
        contact, kind, summary, changes, subject_type="Task", subject_id=task.id, subject=task_subject(task)
    )


# -- the mutations ---------------------------------------------------------------------------

_UNSET: Any = object()


async def create_task(actor: Actor, contact_id: int, values: Mapping[str, Any]) -> Task:
    """values: kind, title (required), body, due_at, duration_minutes, assignee_id (left out:
    the creator; None: unassigned)."""
    if "kind" not in values:
        raise BadInput("kind is required", field="kind")
    if "title" not in values:
        raise BadInput("title is required", field="title")
    cleaned = await _clean(values)
    wanted_assignee = values.get("assignee_id", _UNSET)
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        refuse_archived(contact, "adding a task")
        if wanted_assignee is _UNSET:
            assignee_id = actor.user_id
        else:
            assignee_id = await _scoped.assignee_id(uow, wanted_assignee)
        task = Task(
            account_id=actor.account_id,
            contact_id=contact.id,
            status=TaskStatus.OPEN.value,
            assignee_id=assignee_id,
            owner_id=actor.user_id,
            **cleaned,
        )
        await task.save(using_db=uow.conn)
        after = task_subject(task)
        due = f", due {after['dueAt']}" if task.due_at else ""
        await _record(
            uow,
            task,
            JourneyKind.TASK_CREATED,
            f"{actor.name} added a {_excerpt(task)}{due}",
            {k: [None, after[k]] for k in _JOURNALED if after[k] not in (None, "")},
            contact,
        )
        if task.due_at is not None:
            await _due_changed(uow, task)
    return task


async def update_task(actor: Actor, task_id: int, values: Mapping[str, Any]) -> Task:
    """values (any of TASK_FIELDS' keys): the fields to change; None clears due_at,
    duration_minutes, assignee_id (and body). No change: no write, no journey entry."""
    cleaned = await _clean(values)
    async with unit_of_work(actor) as uow:
        task = await _scoped.task(uow, task_id)
        _refuse_unless_allowed(actor, task)
        if "assignee_id" in values:
            cleaned["assignee_id"] = await _scoped.assignee_id(uow, values["assignee_id"])
        before = task_subject(task)
        due_before = task.due_at
        for key, value in cleaned.items():
            setattr(task, key, value)
        after = task_subject(task)
        changes = _changes(before, after)
        if not changes:
            return task  # what was sent is what is stored
        moved = task.due_at != due_before
        if moved:
            task.due_version += 1
        await task.save(using_db=uow.conn)
        names = ", ".join(changes)
        await _record(
            uow,
            task,
            JourneyKind.TASK_UPDATED,
            f"{actor.name} updated the {_excerpt(task)}: {names}",
            changes,
        )
        if moved:
            await _due_changed(uow, task)
    return task


async def _set_status(
    actor: Actor,
    task_id: int,
    wanted: TaskStatus,
    kind: JourneyKind,
    verb: str,
    allowed_from: tuple[TaskStatus, ...],
) -> Task:
    async with unit_of_work(actor) as uow:
        task = await _scoped.task(uow, task_id)
        _refuse_unless_allowed(actor, task)
        if task.status not in allowed_from:
            raise Conflict(_refusal(task, wanted))
        before = task_subject(task)
        task.status = wanted.value
        if wanted is TaskStatus.DONE:
            task.completed_at, task.completed_by_id = utcnow(), actor.user_id  # type: ignore[attr-defined]
        else:
            task.completed_at, task.completed_by_id = None, None  # type: ignore[attr-defined]
        task.due_version += 1
        await task.save(using_db=uow.conn)
        changes = _changes(before, task_subject(task))
        await _record(uow, task, kind, f"{actor.name} {verb} the {_excerpt(task)}", changes)
        await _due_changed(uow, task)
    return task


def _refusal(task: Task, wanted: TaskStatus) -> str:
    """Why a status move is refused, and what would work."""
    name = f"task {task.id} ({task.title[:80]})"
    if task.status == wanted:
        return f"{name} is already {wanted.value}"
    if wanted is TaskStatus.OPEN:
        return f"{name} is OPEN already"
    return f"{name} is {task.status}: reopen it (reopenTask) first"


async def complete_task(actor: Actor, task_id: int) -> Task:
    """OPEN -> DONE, with completedAt and completedBy."""
    return await _set_status(
        actor, task_id, TaskStatus.DONE, JourneyKind.TASK_COMPLETED, "completed", (TaskStatus.OPEN,)
    )


async def reopen_task(actor: Actor, task_id: int) -> Task:
    """DONE or CANCELLED -> OPEN; completedAt and completedBy are cleared."""
    return await _set_status(
        actor,
        task_id,
        TaskStatus.OPEN,
        JourneyKind.TASK_REOPENED,
        "reopened",
        (TaskStatus.DONE, TaskStatus.CANCELLED),
    )


async def cancel_task(actor: Actor, task_id: int) -> Task:
    """OPEN -> CANCELLED: it no longer falls due."""
    return await _set_status(
        actor, task_id, TaskStatus.CANCELLED, JourneyKind.TASK_CANCELLED, "cancelled", (TaskStatus.OPEN,)
    )
