"""The in-app inbox (C9): a user's notifications of due tasks and coming calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from graph.context import Info
from graph.ids import encode_cursor
from graph.schema.common import PageInfo, built

if TYPE_CHECKING:
    from graph.schema.calls import Call
    from graph.schema.contacts import Contact
    from graph.schema.tasks import Task

NOTIFICATION_CURSOR = "notification"


@strawberry.enum(description="What a notification is about.")
class NotificationKind(Enum):
    TASK_DUE = "TASK_DUE"
    CALL_REMINDER = "CALL_REMINDER"


_KINDS = {kind.value: kind for kind in NotificationKind}


@strawberry.type(
    description="A notification in the caller's inbox: a task of theirs fell due, or a call they booked "
    "(or a contact they own) is coming up. Each user sees only their own."
)
class Notification(relay.Node):
    id: relay.NodeID[int]
    kind: NotificationKind
    title: str
    body: str = strawberry.field(description="Plain text: what, for whom, when.")
    due_at: datetime = strawberry.field(description="The task's due time, or the call's start.")
    created_at: datetime = strawberry.field(description="When it was sent.")
    read_at: datetime | None = strawberry.field(description="When it was marked read; null while unread.")
    _contact_id: strawberry.Private[int]
    _task_id: strawberry.Private[int | None]
    _call_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Notification:
        return built(
            cls,
            {
                "id": row["id"],
                "kind": _KINDS[row["kind"]],
                "title": row["title"],
                "body": row["body"],
                "due_at": row["due_at"],
                "created_at": row["created_at"],
                "read_at": row["read_at"],
                "_contact_id": row["contact_id"],
                "_task_id": row["task_id"],
                "_call_id": row["call_id"],
            },
        )

    @strawberry.field(description="Whether it was marked read.")
    def read(self) -> bool:
        return self.read_at is not None

    @strawberry.field(description="The card it is about.")
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        from graph.schema.contacts import load_contact

        return await load_contact(info, self._contact_id)  # type: ignore[return-value]

    @strawberry.field(description="The task that fell due (TASK_DUE); null for a call reminder.")
    async def task(self, info: Info) -> Annotated[Task, strawberry.lazy("graph.schema.tasks")] | None:
        if self._task_id is None:
            return None
        from graph.schema.tasks import Task

        row = await info.context.loaders.task.load(self._task_id)  # type: ignore[attr-defined]
        return Task.from_row(row) if row is not None else None  # type: ignore[return-value]

    @strawberry.field(description="The coming call (CALL_REMINDER); null for a due task.")
    async def call(self, info: Info) -> Annotated[Call, strawberry.lazy("graph.schema.calls")] | None:
        if self._call_id is None:
            return None
        from graph.schema.calls import Call

        row = await info.context.loaders.call.load(self._call_id)
        return Call.from_row(row) if row is not None else None  # type: ignore[return-value]


@strawberry.type
class NotificationEdge:
    cursor: str
    node: Notification


@strawberry.type(description="A page of the caller's notifications, newest first.")
class NotificationConnection:
    edges: list[NotificationEdge]
    page_info: PageInfo
    _unread: strawberry.Private[Callable[[], Awaitable[int]]]
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    def nodes(self) -> list[Notification]:
        return [edge.node for edge in self.edges]

    @strawberry.field(
        description="How many of the caller's notifications are unread (all of them, not this page)."
    )
    async def unread_count(self) -> int:
        return await self._unread()

    @strawberry.field(description="How many notifications the list has (with its `unread` filter).")
    async def total_count(self) -> int:
        return await self._count()


def notification_edges(rows: list[dict[str, Any]]) -> list[NotificationEdge]:
    return [
        NotificationEdge(cursor=encode_cursor(NOTIFICATION_CURSOR, r["id"]), node=Notification.from_row(r))
        for r in rows
    ]


@strawberry.type(description="What markNotificationsRead changed.")
class MarkNotificationsReadPayload:
    notifications: list[Notification] = strawberry.field(description="The notifications, in the order given.")
    unread_count: int = strawberry.field(description="The caller's unread notifications left.")
