"""The root `myTasks`: the caller's open tasks by due time (the "Tasks" tab of article 001)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import strawberry

from crm.clock import utcnow
from crm.errors import BadInput
from graph.context import Info
from graph.ids import page_size
from graph.resolvers.reads import Params, dialect
from graph.resolvers.tasks_loaders import my_task_rows
from graph.schema.tasks import TaskConnection, TaskDue, decode_position, task_connection

MAX_ZONE_NAME = 64  # the longest IANA name is about 30 characters


def time_zone(name: str | None) -> ZoneInfo | None:
    """An IANA zone by name (Europe/Paris); None for UTC."""
    if name is None:
        return None
    try:
        if not name or len(name) > MAX_ZONE_NAME:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadInput(
            f"timeZone {name[:MAX_ZONE_NAME]!r} is not an IANA time zone name, e.g. America/New_York",
            field="timeZone",
        ) from None


def today_in(zone: ZoneInfo | None, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the current day in `zone` (UTC when None), as UTC times."""
    tz = zone or UTC
    day = now.astimezone(tz).date()
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


@strawberry.type
class TaskQueries:
    @strawberry.field(
        description="The caller's open tasks (assigned to the API key's user) on live cards, in due order: "
        "soonest first, undated ones last (README: Tasks and upcoming actions)."
    )
    async def my_tasks(
        self,
        info: Info,
        due: Annotated[TaskDue, strawberry.argument(description="Which ones, by due time.")] = TaskDue.ANY,
        first: Annotated[int, strawberry.argument(description="At most this many (1 to 100).")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last task the client has.")
        ] = None,
        time_zone_name: Annotated[
            str | None,
            strawberry.argument(
                name="timeZone",
                description="The IANA zone TODAY is the day of (e.g. Europe/Paris); UTC when left out.",
            ),
        ] = None,
    ) -> TaskConnection:
        size = page_size(first)
        actor = info.context.require_actor()
        zone = time_zone(time_zone_name)
        bound = decode_position(after) if after is not None else None
        params = Params(dialect())
        now = utcnow()
        where: list[str] = []
        if due is TaskDue.OVERDUE:
            where.append(f't."due_at" < {params(now)}')
        elif due is TaskDue.TODAY:
            start, end = today_in(zone, now)
            where.append(f't."due_at" >= {params(start)} AND t."due_at" < {params(end)}')
        elif due is TaskDue.NEXT_7_DAYS:
            where.append(f't."due_at" >= {params(now)} AND t."due_at" < {params(now + timedelta(days=7))}')
        if actor.user_id is None:  # a plugin's actor has no tasks of its own
            return task_connection([], size, after)
        rows = await my_task_rows(actor.account_id, actor.user_id, where, params, size, bound)
        return task_connection(list(rows), size, after)
