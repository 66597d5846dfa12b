"""createTask, updateTask, completeTask, reopenTask, cancelTask (crm/services/tasks.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import strawberry

from crm.actor import Actor
from crm.models import Task as TaskModel
from crm.services import tasks as service
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.mutations import changed, joined_row, provided
from graph.resolvers.tasks_loaders import TASK_COLUMNS, TASK_USERS
from graph.schema.tasks import Task, TaskKind

TITLE_HELP = f"1-{service.MAX_TITLE} characters."
BODY_HELP = (
    "Rich text as a note's: bold, italic, underline, lists and links; at most 1500 characters of text. "
    "Empty for none."
)
DUE_HELP = (
    "With a timezone offset, which dueAt keeps; a time in the past is accepted (the task is overdue at "
    "once). Null for none."
)
DURATION_HELP = f"1 to {service.MAX_DURATION} minutes (a meeting's length); null for none."


def _kept(description: str) -> Any:
    """An update input's field: left out (UNSET), the value stays as it is."""
    return strawberry.field(default=strawberry.UNSET, description=description)


@strawberry.input
class CreateTaskInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact the task is about (not archived).")
    kind: TaskKind = strawberry.field(description="TASK, MEETING, COMMENT, CALL, EMAIL or REMINDER.")
    title: str = strawberry.field(description=TITLE_HELP)
    body: str | None = strawberry.field(default=None, description=BODY_HELP)
    due_at: datetime | None = strawberry.field(default=None, description=DUE_HELP)
    duration_minutes: int | None = strawberry.field(default=None, description=DURATION_HELP)
    assignee_id: strawberry.ID | None = _kept(
        "A user of the account who should do it; left out: the caller; null: nobody yet."
    )


@strawberry.input(description="Fields left out stay as they are.")
class UpdateTaskInput:
    id: strawberry.ID = strawberry.field(description="The task's id.")
    kind: TaskKind | None = _kept("TASK, MEETING, COMMENT, CALL, EMAIL or REMINDER.")
    title: str | None = _kept(TITLE_HELP)
    body: str | None = _kept(BODY_HELP)
    due_at: datetime | None = _kept(DUE_HELP)
    duration_minutes: int | None = _kept(DURATION_HELP)
    assignee_id: strawberry.ID | None = _kept("A user of the account; null: nobody.")


@strawberry.input
class CompleteTaskInput:
    id: strawberry.ID = strawberry.field(description="An OPEN task's id.")


@strawberry.input
class ReopenTaskInput:
    id: strawberry.ID = strawberry.field(description="A DONE or CANCELLED task's id.")


@strawberry.input
class CancelTaskInput:
    id: strawberry.ID = strawberry.field(description="An OPEN task's id.")


# The input's fields the service takes as they are (assigneeId is decoded first).
_PLAIN_FIELDS = {attribute: attribute for attribute in service.TASK_FIELDS if attribute != "assignee_id"}


def _values(input: CreateTaskInput | UpdateTaskInput) -> dict[str, Any]:
    values = provided(input, _PLAIN_FIELDS)
    if "kind" in values and values["kind"] is not None:
        values["kind"] = values["kind"].value
    if input.assignee_id is not strawberry.UNSET:
        assignee = input.assignee_id
        values["assignee_id"] = None if assignee is None else decode_id(assignee, "User", "assigneeId")
    return values


async def _result(info: Info, task: TaskModel) -> Task:
    changed(info)
    return Task.from_row(await joined_row(info, task, TASK_COLUMNS, TASK_USERS))


async def _move(
    info: Info, move: Callable[[Actor, int], Awaitable[TaskModel]], task_id: strawberry.ID
) -> Task:
    return await _result(info, await move(info.context.require_actor(), decode_id(task_id, "Task")))


@strawberry.type
class TaskMutations:
    @strawberry.mutation(
        description="Add a task to a card; the caller owns it. A due time in the past is accepted: the "
        "task is overdue at once."
    )
    async def create_task(self, info: Info, input: CreateTaskInput) -> Task:
        contact_id = decode_id(input.contact_id, "Contact", "contactId")
        task = await service.create_task(info.context.require_actor(), contact_id, _values(input))
        return await _result(info, task)

    @strawberry.mutation(
        description="Change a task (its owner, its assignee, a manager or an admin); fields left out "
        "stay as they are."
    )
    async def update_task(self, info: Info, input: UpdateTaskInput) -> Task:
        task_id = decode_id(input.id, "Task")
        task = await service.update_task(info.context.require_actor(), task_id, _values(input))
        return await _result(info, task)

    @strawberry.mutation(description="Mark an OPEN task DONE (CONFLICT otherwise).")
    async def complete_task(self, info: Info, input: CompleteTaskInput) -> Task:
        return await _move(info, service.complete_task, input.id)

    @strawberry.mutation(description="Make a DONE or CANCELLED task OPEN again (CONFLICT for an OPEN one).")
    async def reopen_task(self, info: Info, input: ReopenTaskInput) -> Task:
        return await _move(info, service.reopen_task, input.id)

    @strawberry.mutation(description="Cancel an OPEN task: it no longer falls due (CONFLICT otherwise).")
    async def cancel_task(self, info: Info, input: CancelTaskInput) -> Task:
        return await _move(info, service.cancel_task, input.id)
