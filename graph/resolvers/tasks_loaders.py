"""The request's loaders for tasks and upcoming actions (graph/schema/tasks.py).

Tasks are listed in one order everywhere (a card's `tasks`, the root `myTasks`):

1. open tasks with a due time, soonest first (so overdue ones lead);
2. open tasks without one, oldest first;
3. done and cancelled tasks, newest first.

A task's place in it is its Position (rank 0/1/2 as above, the due time for rank 0, the id), so
a cursor holding it is exact at ties and needs no anchor row. A card's page (or a page of
cards': ROW_NUMBER() per contact) is one statement per page shape.

Upcoming actions are a card's open tasks with a due time and its calls still to come (SCHEDULED,
at or after now), merged by time (ties: tasks first, then by id) in SQL: a UNION ALL of the
two, cut per card, LEFT JOINed to the task's and the call's columns (and their users) -- one
statement per page, for one card or a page of cards.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from crm.clock import utcnow
from crm.models import Call, Task
from graph.resolvers.reads import Params, Row, connection, dialect, fetch, shape

TASK_COLUMNS = (
    "id", "contact_id", "kind", "title", "body", "text_length", "due_at", "due_offset_minutes",
    "duration_minutes", "status", "assignee_id", "owner_id", "completed_at", "completed_by_id",
    "created_at", "updated_at",
)  # fmt: skip
TASK_USERS = ("assignee", "owner", "completed_by")

# Ranks of the task order (see the module's docstring).
DATED, UNDATED, CLOSED = 0, 1, 2
# The kinds of upcoming action, as numbered in SQL; the number breaks ties at one time.
TASK, CALL = 1, 2


@cache
def task_read() -> tuple[str, ...]:
    from graph.resolvers.loaders import with_users

    return with_users(TASK_COLUMNS, TASK_USERS)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a task sits in the task order: (rank, due time for DATED, id)."""

    rank: int
    at: datetime | None
    id: int


@dataclass(frozen=True, slots=True)
class TaskPageKey:
    contact_id: int
    first: int
    after: Position | None
    statuses: tuple[str, ...]  # sorted; never empty (all spelled out)


@dataclass(frozen=True, slots=True)
class UpcomingKey:
    contact_id: int
    first: int


def position_of(row: Row) -> Position:
    if row["status"] != "OPEN":
        return Position(CLOSED, None, row["id"])
    due = row["due_at"]
    if due is None:
        return Position(UNDATED, None, row["id"])
    return Position(DATED, due.astimezone(UTC), row["id"])


def rank_sql(alias: str) -> str:
    return (
        f'(CASE WHEN {alias}."status" = \'OPEN\' THEN (CASE WHEN {alias}."due_at" IS NULL'
        f" THEN {UNDATED} ELSE {DATED} END) ELSE {CLOSED} END)"
    )


def order_sql(alias: str) -> str:
    """The task order on the rows of `alias`: rank, due time (open ones), id (newest first once closed)."""
    open_ = f"{alias}.\"status\" = 'OPEN'"
    return (
        f'{rank_sql(alias)}, CASE WHEN {open_} THEN {alias}."due_at" END,'
        f' CASE WHEN {open_} THEN {alias}."id" ELSE -{alias}."id" END'
    )


def after_sql(alias: str, params: Params, after: Position) -> str:
    """The rows of `alias` that come after `after` in the task order."""
    rank = rank_sql(alias)
    if after.rank == DATED:
        at, same_at, item = params(after.at), params(after.at), params(after.id)
        return (
            f'({rank} > {DATED} OR ({rank} = {DATED} AND ({alias}."due_at" > {at}'
            f' OR ({alias}."due_at" = {same_at} AND {alias}."id" > {item}))))'
        )
    if after.rank == UNDATED:
        return f'({rank} = {CLOSED} OR ({rank} = {UNDATED} AND {alias}."id" > {params(after.id)}))'
    return f'({rank} = {CLOSED} AND {alias}."id" < {params(after.id)})'


async def my_task_rows(
    account_id: int, user_id: int, where: list[str], params: Params, first: int, after: Position | None
) -> list[Row]:
    """Up to first + 1 open tasks assigned to the user, in the task order, on live cards;
    `where`: further conditions on alias t whose placeholders `params` already holds."""
    conditions = [
        *where,
        f't."account_id" = {params(account_id)}',
        f't."assignee_id" = {params(user_id)}',
        "t.\"status\" = 'OPEN'",
        'c."archived_at" IS NULL',
        'c."merged_into_id" IS NULL',
    ]
    if after is not None:
        conditions.append(after_sql("t", params, after))
    join = ' JOIN "contact" c ON c."id" = t."contact_id"'
    order = f"{order_sql('t')} LIMIT {params(first + 1)}"
    # The join's text has no placeholders, so `params` stays in text order.
    return await fetch(shape(Task, task_read()), params, " AND ".join(conditions), order, join=join)


# -- upcoming actions: flat reads of a task's and a call's row --------------------------------


@dataclass(frozen=True, slots=True)
class _FlatRead:
    """One kind's columns in the upcoming-actions statement, read through plain LEFT JOINs (no
    derived table: SQLite would not flatten one holding joins) and converted as its loader's."""

    kind: int
    start: int
    keys: tuple[str, ...]
    converters: tuple[tuple[int, Any], ...]
    select: str
    joins: str

    def row(self, values: tuple[Any, ...]) -> dict[str, Any]:
        found = dict(zip(self.keys, values[self.start : self.start + len(self.keys)], strict=True))
        for index, convert in self.converters:
            key = self.keys[index]
            if found[key] is not None:
                found[key] = convert(found[key])
        return found


def _flat_read(
    model: type[Model],
    columns: tuple[str, ...],
    kind: int,
    alias: str,
    outer: str,
    start: int,
    dialect_name: str,
) -> _FlatRead:
    meta = model._meta
    _, keys, converters = shape(model, columns).compile(dialect_name)
    select: list[str] = []
    joined: dict[str, str] = {}
    joins = [
        f' LEFT JOIN "{meta.db_table}" {alias} ON {outer}."kind" = {kind} AND {alias}."id" = {outer}."id"'
    ]
    for name in columns:
        relation, _, column = name.rpartition("__")
        if relation:
            fk = meta.fields_map[relation]
            target = fk.related_model._meta  # type: ignore[attr-defined]
            other = joined.get(relation)
            if other is None:
                other = joined[relation] = f"{alias}u{len(joined)}"
                joins.append(
                    f' LEFT JOIN "{target.db_table}" {other} ON {other}."id" = {alias}."{relation}_id"'
                )
            source = target.fields_map[column]
            select.append(f'{other}."{source.source_field or column}"')
        else:
            source = meta.fields_map[column]
            select.append(f'{alias}."{source.source_field or column}"')
    return _FlatRead(kind, start, keys, converters, ", ".join(select), "".join(joins))


_READS: dict[tuple[str, str], tuple[_FlatRead, _FlatRead]] = {}


def _reads(dialect_name: str, outer: str) -> tuple[_FlatRead, _FlatRead]:
    found = _READS.get((dialect_name, outer))
    if found is None:
        from graph.resolvers.loaders import CALL_READ

        tasks = _flat_read(Task, task_read(), TASK, "nt", outer, 4, dialect_name)
        calls = _flat_read(Call, CALL_READ, CALL, "nc", outer, 4 + len(tasks.keys), dialect_name)
        found = _READS[(dialect_name, outer)] = (tasks, calls)
    return found


def _union(params: Params, account_id: int, contact_ids: list[int], now: datetime, limit: int | None) -> str:
    """The open dated tasks and the calls to come of `contact_ids`: columns cid, at, kind, id.
    `limit`: each branch cut to its first rows (one card: the union's first rows are among them)."""

    def among() -> str:
        if len(contact_ids) == 1:
            return f'x."contact_id" = {params(contact_ids[0])}'
        return f'x."contact_id" IN ({params.many(contact_ids)})'

    tasks = (
        f'SELECT x."contact_id" AS "cid", x."due_at" AS "at", {TASK} AS "kind", x."id" AS "id"'
        f' FROM "task" x WHERE {among()} AND x."account_id" = {params(account_id)}'
        ' AND x."status" = \'OPEN\' AND x."due_at" IS NOT NULL'
    )
    if limit is not None:
        tasks = f'SELECT * FROM ({tasks} ORDER BY x."due_at", x."id" LIMIT {params(limit)}) b{TASK}'
    calls = (
        f'SELECT x."contact_id" AS "cid", x."scheduled_at" AS "at", {CALL} AS "kind", x."id" AS "id"'
        f' FROM "call" x JOIN "contact" c ON c."id" = x."contact_id"'
        f' WHERE {among()} AND c."account_id" = {params(account_id)}'
        f' AND x."status" = \'SCHEDULED\' AND x."scheduled_at" >= {params(now)}'
    )
    if limit is not None:
        calls = f'SELECT * FROM ({calls} ORDER BY x."scheduled_at", x."id" LIMIT {params(limit)}) b{CALL}'
    return f"{tasks} UNION ALL {calls}"


class TaskLoaders:
    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self.pages: DataLoader[TaskPageKey, list[Row]] = DataLoader(self._load_pages)
        self.upcoming: DataLoader[UpcomingKey, list[tuple[int, Row]]] = DataLoader(self._load_upcoming)

    # -- a card's tasks ----------------------------------------------------------------

    async def _load_pages(self, keys: list[TaskPageKey]) -> list[list[Row]]:
        """Up to first + 1 tasks per card in the task order: one statement per page shape."""
        shapes: dict[tuple[Any, ...], set[int]] = defaultdict(set)
        for key in keys:
            shapes[(key.first, key.after, key.statuses)].add(key.contact_id)
        found: dict[tuple[Any, ...], dict[int, list[Row]]] = {}
        for page_shape, contact_ids in shapes.items():
            found[page_shape] = await self._page(sorted(contact_ids), *page_shape)
        return [found[(k.first, k.after, k.statuses)].get(k.contact_id, []) for k in keys]

    async def _page(
        self, contact_ids: list[int], first: int, after: Position | None, statuses: tuple[str, ...]
    ) -> dict[int, list[Row]]:
        params = Params(dialect())
        rows_of = shape(Task, task_read())
        if len(contact_ids) == 1:
            where = [
                f't."contact_id" = {params(contact_ids[0])}',
                f't."account_id" = {params(self.account_id)}',
            ]
            where.append(f't."status" IN ({params.many(statuses)})')
            if after is not None:
                where.append(after_sql("t", params, after))
            order = f"{order_sql('t')} LIMIT {params(first + 1)}"
            return {contact_ids[0]: await fetch(rows_of, params, " AND ".join(where), order)}
        where = [
            f'x."contact_id" IN ({params.many(contact_ids)})',
            f'x."account_id" = {params(self.account_id)}',
            f'x."status" IN ({params.many(statuses)})',
        ]
        if after is not None:
            where.append(after_sql("x", params, after))
        ranked = (
            f' JOIN (SELECT x."id", ROW_NUMBER() OVER (PARTITION BY x."contact_id" ORDER BY {order_sql("x")})'
            f' AS "rn" FROM "task" x WHERE {" AND ".join(where)}) r ON r."id" = t."id"'
        )
        rows = await fetch(
            rows_of, params, f'r."rn" <= {params(first + 1)}', 't."contact_id", r."rn"', join=ranked
        )
        pages: dict[int, list[Row]] = defaultdict(list)
        for row in rows:
            pages[row["contact_id"]].append(row)
        return pages

    # -- a card's upcoming actions -----------------------------------------------------

    async def _load_upcoming(self, keys: list[UpcomingKey]) -> list[list[tuple[int, Row]]]:
        by_first: dict[int, set[int]] = defaultdict(set)
        for key in keys:
            by_first[key.first].add(key.contact_id)
        found: dict[int, dict[int, list[tuple[int, Row]]]] = {}
        for first, contact_ids in by_first.items():
            found[first] = await self._upcoming(sorted(contact_ids), first)
        return [found[k.first].get(k.contact_id, []) for k in keys]

    async def _upcoming(self, contact_ids: list[int], first: int) -> dict[int, list[tuple[int, Row]]]:
        """Up to `first` (kind, row) per card, in time order, in one statement."""
        kind = dialect()
        params = Params(kind)
        now = utcnow()
        if len(contact_ids) == 1:
            outer = "u"
            tasks, calls = _reads(kind, outer)
            union = _union(params, self.account_id, contact_ids, now, first)
            sql = (
                f'SELECT u."cid", u."at", u."kind", u."id", {tasks.select}, {calls.select}'
                f" FROM ({union}) u{tasks.joins}{calls.joins}"
                f' ORDER BY u."at", u."kind", u."id" LIMIT {params(first)}'
            )
        else:
            outer = "w"
            tasks, calls = _reads(kind, outer)
            union = _union(params, self.account_id, contact_ids, now, None)
            sql = (
                f'SELECT w."cid", w."at", w."kind", w."id", {tasks.select}, {calls.select} FROM ('
                f'SELECT u.*, ROW_NUMBER() OVER (PARTITION BY u."cid" ORDER BY u."at", u."kind", u."id")'
                f' AS "rn" FROM ({union}) u) w{tasks.joins}{calls.joins}'
                f' WHERE w."rn" <= {params(first)} ORDER BY w."cid", w."rn"'
            )
        _, records = await connection().execute_query(sql, params.values)
        found: dict[int, list[tuple[int, Row]]] = defaultdict(list)
        for record in records:
            values = tuple(record.values()) if isinstance(record, dict) else tuple(record)
            read = tasks if values[2] == TASK else calls
            found[values[0]].append((read.kind, read.row(values)))
        return found


def attach_tasks(loaders: Any) -> None:
    """Give the request's Loaders the task loaders as attributes, so `release()` clears them with
    the rest: task (by id), task_page (TaskPageKey), upcoming_actions (UpcomingKey)."""
    found = TaskLoaders(loaders.account_id)
    loaders.task = loaders._by_id(Task, task_read(), "account")
    loaders.task_page = found.pages
    loaders.upcoming_actions = found.upcoming
