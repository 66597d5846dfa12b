"""Reading an export's rows a batch at a time: keyset over contact id, each section joined in
per batch (one statement per section for the whole batch, never one per row).

`read_batch` returns the next `size` contacts after `after_id` as rows of text cells, in the
columns' order, and the last id read (the next batch's `after_id`).

Only the batch's ids go through the ORM (the target's filter compiles there). The rows
themselves are read with plain SQL over `contact_id IN (<the batch's ids>)` -- the ids are our
own integers, written as literals -- and turned into text here: at 100,000 rows the ORM's
per-value conversion and its building of 5,000-item IN lists cost more than the queries.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields import BooleanField, DateField, DatetimeField, DecimalField, JSONField
from tortoise.queryset import QuerySet

from crm import money
from crm.clock import utcnow
from crm.custom_values import VALUE_COLUMNS, shown
from crm.exports.columns import Column, Source
from crm.models import Contact, CustomFieldValue, User


@dataclass(frozen=True, slots=True)
class Batch:
    rows: list[list[str]]
    last_id: int  # the highest contact id read; the batch was the last when len(rows) < size


def as_time(value: Any) -> datetime:
    """A timestamp as either driver returns it (SQLite: ISO text, maybe naive UTC) in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def time_text(value: Any) -> str:
    return "" if value is None else as_time(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def text(value: Any) -> str:
    """A cell's text: times in UTC as ISO 8601 (`2026-12-06T14:05:00Z`), booleans true/false,
    numbers without exponent, lists joined by "; "."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return time_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, list | tuple):
        return "; ".join(text(item) for item in value)
    if isinstance(value, dict) and {"amount", "currency"} <= value.keys():  # a MONEY custom value
        return f"{value['amount']} {value['currency']}"
    return str(value)


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def _flag(value: Any) -> str:
    return "" if value is None else ("true" if value else "false")


def _day(value: Any) -> str:
    return "" if value is None else (value if isinstance(value, str) else value.isoformat())


def _converter(field: Any) -> Callable[[Any], str]:
    """How a contact column's raw value (as either driver returns it) becomes text."""
    if isinstance(field, DatetimeField):
        return time_text
    if isinstance(field, BooleanField):
        return _flag
    if isinstance(field, DateField):
        return _day
    if isinstance(field, DecimalField):
        return lambda value: "" if value is None else text(_decimal(value))
    return _plain


def _column_name(attribute: str) -> str:
    field = Contact._meta.fields_map[attribute]
    return field.source_field or attribute


def _in(ids: Sequence[int]) -> str:
    """`IN (...)` of a few ids read from the database (the export's custom fields): literals."""
    return "(" + ",".join(str(int(i)) for i in ids) + ")"


@dataclass(frozen=True, slots=True)
class _Ids:
    """The batch's contact ids as one bound parameter, so each statement's text is the same for
    every batch: PostgreSQL `= ANY($1)`, SQLite `IN (SELECT value FROM json_each(?))`. (With
    the ids as literals each batch's statements were new texts, and SQLite's statement cache
    kept 128 of them compiled: ~80 MB at 100,000 rows.)"""

    postgres: bool
    ids: list[int]

    def test(self, column: str, table: str = "") -> str:
        """The condition "`column` is one of the ids" (of `table`, an alias, when given)."""
        name = f'{table}."{column}"' if table else f'"{column}"'
        return f"{name} = ANY($1)" if self.postgres else f"{name} IN (SELECT value FROM json_each(?))"

    def params(self, occurrences: int = 1) -> list[Any]:
        """What the statement binds: PostgreSQL names $1 each time, SQLite binds each `?`."""
        return [self.ids] if self.postgres else [json.dumps(self.ids)] * occurrences


async def _rows(conn: BaseDBAsyncClient, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    _, rows = await conn.execute_query(sql, list(params))
    return list(rows)


async def _last_interactions(conn: BaseDBAsyncClient, ids: _Ids) -> dict[int, str]:
    """The card's insights' last interaction (graph/resolvers/communications_loaders.py): the
    newest of its calls that happened (logged, or with an outcome), messages and leads."""
    sql = (
        'SELECT u."cid", MAX(u."at") FROM ('
        f'SELECT "contact_id" AS "cid", "scheduled_at" AS "at" FROM "call" WHERE {ids.test("contact_id")}'
        ' AND ("direction" IS NOT NULL OR "outcome" IS NOT NULL)'
        f' UNION ALL SELECT "contact_id", "created_at" FROM "message" WHERE {ids.test("contact_id")}'
        f' UNION ALL SELECT "contact_id", "submitted_at" FROM "lead" WHERE {ids.test("contact_id")}'
        ') u GROUP BY u."cid"'
    )
    return {row[0]: time_text(row[1]) for row in await _rows(conn, sql, ids.params(3))}


async def _deal_totals(conn: BaseDBAsyncClient, ids: _Ids) -> dict[int, str]:
    sql = (
        'SELECT "contact_id", "currency", SUM("amount") FROM "deal"'
        f" WHERE {ids.test('contact_id')} AND \"status\" IN ('OPEN', 'WON')"
        ' GROUP BY "contact_id", "currency" ORDER BY "contact_id", "currency"'
    )
    totals: dict[int, list[str]] = defaultdict(list)
    for contact_id, currency, amount in await _rows(conn, sql, ids.params()):
        totals[contact_id].append(f"{money.text(_decimal(amount), currency)} {currency}")
    return {contact_id: "; ".join(parts) for contact_id, parts in totals.items()}


async def _counts(conn: BaseDBAsyncClient, table: str, ids: _Ids, where: str = "") -> dict[int, str]:
    sql = f'SELECT "contact_id", COUNT(*) FROM "{table}" WHERE {ids.test("contact_id")}{where}'
    sql += ' GROUP BY "contact_id"'
    return {row[0]: str(row[1]) for row in await _rows(conn, sql, ids.params())}


async def _derived(name: str, ids: _Ids, conn: BaseDBAsyncClient) -> dict[int, str]:
    if name == "lastInteraction":
        return await _last_interactions(conn, ids)
    if name == "dealTotal":
        return await _deal_totals(conn, ids)
    if name == "dealCount":
        return await _counts(conn, "deal", ids)
    if name == "openTasks":
        return await _counts(conn, "task", ids, " AND \"status\" = 'OPEN'")
    if name == "nextCall":
        now_mark = "$2" if ids.postgres else "?"
        sql = (
            f'SELECT "contact_id", MIN("scheduled_at") FROM "call" WHERE {ids.test("contact_id")}'
            f' AND "status" = \'SCHEDULED\' AND "outcome" IS NULL AND "scheduled_at" > {now_mark}'
            ' GROUP BY "contact_id"'
        )
        now = DatetimeField().to_db_value(utcnow(), None)  # type: ignore[arg-type]
        return {row[0]: time_text(row[1]) for row in await _rows(conn, sql, [*ids.params(), now])}
    raise LookupError(f"no derived column {name!r}")


async def _tags(conn: BaseDBAsyncClient, ids: _Ids) -> dict[int, str]:
    sql = (
        'SELECT ct."contact_id", t."name" FROM "contact_tag" ct JOIN "tag" t ON t."id" = ct."tag_id"'
        f" WHERE {ids.test('contact_id', 'ct')}"
    )
    names: dict[int, list[str]] = defaultdict(list)
    for contact_id, name in await _rows(conn, sql, ids.params()):
        names[contact_id].append(name)
    return {contact_id: "; ".join(sorted(found, key=str.casefold)) for contact_id, found in names.items()}


_VALUE_FIELDS = CustomFieldValue._meta.fields_map


def _value_row(raw: Sequence[Any]) -> dict[str, Any]:
    """A custom_field_value row's typed columns as the ORM reads them (SQLite keeps decimals,
    booleans and JSON as text or integers)."""
    row = {}
    for name, value in zip(VALUE_COLUMNS, raw, strict=True):
        field = _VALUE_FIELDS[name]
        if value is not None and isinstance(field, BooleanField | DecimalField | JSONField | DateField):
            value = field.to_python_value(value)
        row[name] = value
    return row


def _custom_text(column: Column, row: dict[str, Any] | None) -> str:
    if row is None:  # no value: the field's default, as the card shows it
        default = column.default
        return text(default.get("value") if isinstance(default, dict) else None)
    if column.field_type == "NUMBER":
        number = row["value_number"]
        return "" if number is None else text(_decimal(number))
    return text(shown(column.field_type, row))


async def _custom(
    conn: BaseDBAsyncClient, ids: _Ids, columns: Sequence[Column]
) -> dict[tuple[int, int], str]:
    wanted = {c.field_id: c for c in columns if c.source is Source.CUSTOM}
    value_columns = ", ".join(f'"{name}"' for name in VALUE_COLUMNS)
    sql = (
        f'SELECT "contact_id", "field_id", {value_columns} FROM "custom_field_value"'
        f' WHERE "field_id" IN {_in(list(wanted))} AND {ids.test("contact_id")}'
    )
    return {
        (raw[0], raw[1]): _custom_text(wanted[raw[1]], _value_row(tuple(raw)[2:]))
        for raw in await _rows(conn, sql, ids.params())
    }


def _cell(
    column: Column,
    position: dict[str, int],
    convert: dict[str, Callable[[Any], str]],
    users: dict[int, str],
    tags: dict[int, str],
    custom: dict[tuple[int, int], str],
    derived: dict[str, dict[int, str]],
) -> Callable[[Sequence[Any]], str]:
    """The function giving `column`'s cell from a contact record (its id first): chosen once
    per batch, so the loop over 5,000 x N cells does no dispatching."""
    if column.source is Source.CONTACT:
        at, to_text = position[column.attribute], convert[column.attribute]
        return lambda record: to_text(record[at])
    if column.source is Source.OWNER:
        at = position[f"{column.attribute}_id"]
        return lambda record: users.get(record[at], "")
    if column.source is Source.TAGS:
        return lambda record: tags.get(record[0], "")
    if column.source is Source.CUSTOM:
        field_id, default = column.field_id, _custom_text(column, None)
        return lambda record: custom.get((record[0], field_id), default)
    figures = derived[column.attribute]
    return lambda record: figures.get(record[0], "")


async def read_batch(
    contacts: QuerySet[Contact],
    columns: Sequence[Column],
    after_id: int,
    size: int,
    conn: BaseDBAsyncClient | None,
) -> Batch:
    """The next `size` contacts of `contacts` (already scoped to one account) after `after_id`."""
    conn = conn or connections.get("default")
    ids = list(
        await contacts.filter(id__gt=after_id)
        .order_by("id")
        .limit(size)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    if not ids:
        return Batch([], after_id)
    listed = _Ids(conn.capabilities.dialect == "postgres", ids)
    sources = {c.source for c in columns}
    # The contact's own columns and owners, by position in one SELECT.
    selected = ["id"] + [c.attribute for c in columns if c.source is Source.CONTACT]
    selected += [f"{c.attribute}_id" for c in columns if c.source is Source.OWNER]
    selected = list(dict.fromkeys(selected))
    position = {name: i for i, name in enumerate(selected)}
    names = ", ".join(f'"{_column_name(name)}"' for name in selected)
    records = [
        tuple(r)
        for r in await _rows(
            conn, f'SELECT {names} FROM "contact" WHERE {listed.test("id")} ORDER BY "id"', listed.params()
        )
    ]
    convert = {
        c.attribute: _converter(Contact._meta.fields_map[c.attribute])
        for c in columns
        if c.source is Source.CONTACT
    }
    users: dict[int, str] = {}
    if Source.OWNER in sources:
        owner_ids = {
            r[position[f"{c.attribute}_id"]] for r in records for c in columns if c.source is Source.OWNER
        }
        owner_ids.discard(None)
        if owner_ids:
            users = dict(await User.filter(id__in=owner_ids).using_db(conn).values_list("id", "name"))
    tags = await _tags(conn, listed) if Source.TAGS in sources else {}
    custom = await _custom(conn, listed, columns) if Source.CUSTOM in sources else {}
    derived = {
        c.attribute: await _derived(c.attribute, listed, conn) for c in columns if c.source is Source.DERIVED
    }
    cells = [_cell(c, position, convert, users, tags, custom, derived) for c in columns]
    rows = [[cell(record) for cell in cells] for record in records]
    return Batch(rows, ids[-1])
