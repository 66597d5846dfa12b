"""Tasks and upcoming actions on a card (B5); the root `myTasks` lives in
graph/resolvers/tasks_queries.py. How tasks are ordered and read: graph/resolvers/tasks_loaders.py.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from crm.clock import EARLIEST, LATEST, utcnow
from crm.errors import BadInput
from crm.services.tasks import TaskKind as _TaskKind
from crm.services.tasks import TaskStatus as _TaskStatus
from crm.services.tasks import due_time, is_overdue
from graph.context import Info
from graph.ids import MAX_DB_ID, page_size
from graph.resolvers.reads import Row
from graph.resolvers.tasks_loaders import (
    CALL,
    CLOSED,
    DATED,
    UNDATED,
    Position,
    TaskPageKey,
    UpcomingKey,
    position_of,
)
from graph.schema.accounts import User, joined_user
from graph.schema.calls import Call
from graph.schema.common import PageInfo, built, forward_page

if TYPE_CHECKING:
    from graph.schema.contacts import Contact

TaskKind = strawberry.enum(
    _TaskKind,
    name="TaskKind",
    description="What a task is: a to-do (TASK), a MEETING, a COMMENT, a CALL or an EMAIL to make, "
    "or a REMINDER.",
)
TaskStatus = strawberry.enum(
    _TaskStatus,
    name="TaskStatus",
    description="OPEN -> DONE (completeTask) or CANCELLED (cancelTask); reopenTask makes either OPEN again.",
)


@strawberry.enum(description="Which of the caller's open tasks myTasks lists, by due time.")
class TaskDue(Enum):
    OVERDUE = strawberry.enum_value("OVERDUE", description="Due before now.")
    TODAY = strawberry.enum_value(
        "TODAY", description="Due today (overdue ones of today included), in `timeZone` (UTC by default)."
    )
    NEXT_7_DAYS = strawberry.enum_value(
        "NEXT_7_DAYS", description="Due from now until 7 days (168 hours) from now."
    )
    ANY = strawberry.enum_value("ANY", description="Every open task assigned to the caller, dated or not.")


_KINDS = {kind.value: kind for kind in _TaskKind}
_STATUSES = {status.value: status for status in _TaskStatus}


@strawberry.type(
    description="A task on the card: a to-do, meeting, comment, call, email or reminder, with an optional "
    "due time (README: Tasks and upcoming actions)."
)
class Task(relay.Node):
    id: relay.NodeID[int]
    kind: TaskKind
    title: str
    body: str = strawberry.field(description="Sanitised HTML, as a note's (empty for none).")
    due_at: datetime | None = strawberry.field(description="When it is due, with the offset it was given in.")
    duration_minutes: int | None = strawberry.field(description="How long it takes (a meeting's length).")
    status: TaskStatus
    overdue: bool = strawberry.field(description="OPEN with a due time before now.")
    completed_at: datetime | None = strawberry.field(description="When it was completed; null unless DONE.")
    completed_by: User | None = strawberry.field(description="Who completed it; null unless DONE.")
    assignee: User | None = strawberry.field(description="Who should do it: a user of the account.")
    owner: User | None = strawberry.field(
        description="Who created it and so owns it: they, its assignee, managers and admins may change it."
    )
    created_at: datetime
    updated_at: datetime
    _contact_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row, batch: dict[Any, Any] | None = None, now: datetime | None = None) -> Task:
        """`batch`: shared by the rows of one statement (see `joined_user`)."""
        status = row["status"]
        return built(
            cls,
            {
                "id": row["id"],
                "kind": _KINDS.get(row["kind"]) or _TaskKind(row["kind"]),
                "title": row["title"],
                "body": row["body"],
                "due_at": due_time(row["due_at"], row["due_offset_minutes"]),
                "duration_minutes": row["duration_minutes"],
                "status": _STATUSES.get(status) or _TaskStatus(status),
                "overdue": is_overdue(status, row["due_at"], now),
                "completed_at": row["completed_at"],
                "completed_by": joined_user(row, "completed_by", batch),
                "assignee": joined_user(row, "assignee", batch),
                "owner": joined_user(row, "owner", batch),
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
                "_contact_id": row["contact_id"],
            },
        )

    @strawberry.field(description="dueAt plus durationMinutes; null without both.")
    def ends_at(self) -> datetime | None:
        if self.due_at is None or self.duration_minutes is None:
            return None
        return self.due_at + timedelta(minutes=self.duration_minutes)

    @strawberry.field
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        from graph.schema.contacts import load_contact

        return await load_contact(info, self._contact_id)  # type: ignore[return-value]


@strawberry.type
class TaskEdge:
    cursor: str = strawberry.field(description="Pass as `after` to read on after this task.")
    node: Task


@strawberry.type(
    description="A page of tasks: open ones with a due time soonest first, then open ones without one "
    "(oldest first), then done and cancelled ones (newest first)."
)
class TaskConnection:
    edges: list[TaskEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Task]:
        return [edge.node for edge in self.edges]


UpcomingAction = Annotated[
    Task | Call,
    strawberry.union(
        "UpcomingAction",
        description="Something coming up on the card: an open task with a due time, or a scheduled call.",
    ),
]

# -- cursors ----------------------------------------------------------------------------------

CURSOR = "task"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode_position(position: Position) -> str:
    at = "" if position.at is None else str((position.at - _EPOCH) // _MICROSECOND)
    text = f"{CURSOR}:{position.rank}.{at}.{position.id}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_position(cursor: str, field: str = "after") -> Position:
    """The position inside a cursor this list wrote; anything else is bad input."""
    try:
        prefix, rest = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
        rank_text, at_text, id_text = rest.split(".")
        rank, item_id = int(rank_text), int(id_text)
        if prefix != CURSOR or rank not in (DATED, UNDATED, CLOSED) or not 1 <= item_id <= MAX_DB_ID:
            raise ValueError(rest)
        at = None
        if rank == DATED:
            at = _EPOCH + int(at_text) * _MICROSECOND
            if not EARLIEST <= at <= LATEST:
                raise ValueError(rest)
        position = Position(rank, at, item_id)
        if encode_position(position) != cursor:
            raise ValueError(cursor)
        return position
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError, UnicodeEncodeError):
        raise BadInput(
            f"{field} {cursor!r} is not a cursor of this task list: pass an edge's `cursor`", field=field
        ) from None


def task_connection(rows: list[Row], size: int, after: str | None) -> TaskConnection:
    """A page from up to size + 1 rows in the task order."""
    batch: dict[Any, Any] = {}
    now = utcnow()
    edges = [
        TaskEdge(cursor=encode_position(position_of(r)), node=Task.from_row(r, batch, now))
        for r in rows[:size]
    ]
    return TaskConnection(edges=edges, page_info=forward_page(edges, more=len(rows) > size, after=after))


def clean_statuses(statuses: list[Any] | None) -> tuple[str, ...]:
    if statuses is None:
        return tuple(sorted(_STATUSES))
    if not statuses:
        raise BadInput(
            "status is empty: leave it out for every status, or name at least one of OPEN, DONE, CANCELLED",
            field="status",
        )
    return tuple(sorted({s.value for s in statuses}))


# -- the card's sections (Contact.tasks, Contact.upcomingActions resolve through these) --------


async def resolve_tasks(
    info: Info, contact_id: int, statuses: list[Any] | None, first: int, after: str | None
) -> TaskConnection:
    size = page_size(first)
    bound = decode_position(after) if after is not None else None
    key = TaskPageKey(contact_id, size, bound, clean_statuses(statuses))
    rows = await info.context.loaders.task_page.load(key)  # type: ignore[attr-defined]
    return task_connection(rows, size, after)


async def resolve_upcoming_actions(info: Info, contact_id: int, first: int) -> list[Task | Call]:
    size = page_size(first)
    found = await info.context.loaders.upcoming_actions.load(UpcomingKey(contact_id, size))  # type: ignore[attr-defined]
    batch: dict[Any, Any] = {}
    now = utcnow()
    return [Call.from_row(row) if kind == CALL else Task.from_row(row, batch, now) for kind, row in found]
