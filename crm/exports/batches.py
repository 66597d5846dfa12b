"""Reading an export's rows a batch at a time: keyset over contact id, each section joined in
per batch (one statement per section for the whole batch, never one per row).

`read_batch` returns the next `size` contacts after `after_id` as rows of text cells, in the
columns' order, and the last id read (the next batch's `after_id`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.functions import Count, Max, Min, Sum
from tortoise.queryset import QuerySet

from crm import money
from crm.clock import utcnow
from crm.custom_values import shown
from crm.exports.columns import Column, Source
from crm.models import Call, Contact, ContactTag, CustomFieldValue, Deal, Lead, Message, Task, User


@dataclass(frozen=True, slots=True)
class Batch:
    rows: list[list[str]]
    last_id: int  # the highest contact id read; the batch was the last when len(rows) < size


def as_time(value: Any) -> datetime:
    """A timestamp as either driver returns it (SQLite may give ISO text or a naive UTC time)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def text(value: Any) -> str:
    """A cell's text: times in UTC as ISO 8601 (`2026-12-06T14:05:00Z`), booleans true/false,
    numbers without exponent, lists joined by "; "."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return as_time(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, list | tuple):
        return "; ".join(text(item) for item in value)
    if isinstance(value, dict) and {"amount", "currency"} <= value.keys():  # a MONEY custom value
        return f"{value['amount']} {value['currency']}"
    return str(value)


def _custom_text(column: Column, row: dict[str, Any] | None) -> str:
    if row is None:  # no value: the field's default, as the card shows it
        default = column.default
        return text(default.get("value") if isinstance(default, dict) else None)
    if column.field_type == "NUMBER":
        number = row["value_number"]
        return "" if number is None else text(Decimal(number))
    return text(shown(column.field_type, row))


async def _grouped(query: QuerySet[Any], conn: BaseDBAsyncClient) -> dict[int, Any]:
    return {contact_id: value for contact_id, value in await query.using_db(conn).values_list("contact_id", "v")}


async def _last_interactions(ids: list[int], conn: BaseDBAsyncClient) -> dict[int, datetime]:
    """The card's insights' last interaction (graph/resolvers/communications_loaders.py): the
    newest of its calls that happened (logged, or with an outcome), messages and leads."""
    happened = Q(direction__isnull=False) | Q(outcome__isnull=False)
    parts = [
        Call.filter(happened, contact_id__in=ids).annotate(v=Max("scheduled_at")).group_by("contact_id"),
        Message.filter(contact_id__in=ids).annotate(v=Max("created_at")).group_by("contact_id"),
        Lead.filter(contact_id__in=ids).annotate(v=Max("submitted_at")).group_by("contact_id"),
    ]
    newest: dict[int, datetime] = {}
    for part in parts:
        for contact_id, at in (await _grouped(part, conn)).items():
            if at is not None:
                at = as_time(at)
                if contact_id not in newest or at > newest[contact_id]:
                    newest[contact_id] = at
    return newest


async def _deal_totals(ids: list[int], conn: BaseDBAsyncClient) -> dict[int, str]:
    rows = (
        await Deal.filter(contact_id__in=ids, status__in=("OPEN", "WON"))
        .annotate(v=Sum("amount"))
        .group_by("contact_id", "currency")
        .using_db(conn)
        .values_list("contact_id", "currency", "v")
    )
    totals: dict[int, list[str]] = defaultdict(list)
    for contact_id, currency, amount in sorted(rows, key=lambda r: (r[0], r[1])):
        totals[contact_id].append(f"{money.text(Decimal(amount), currency)} {currency}")
    return {contact_id: "; ".join(parts) for contact_id, parts in totals.items()}


async def _derived(name: str, ids: list[int], conn: BaseDBAsyncClient) -> dict[int, Any]:
    if name == "lastInteraction":
        return await _last_interactions(ids, conn)
    if name == "dealTotal":
        return await _deal_totals(ids, conn)
    if name == "dealCount":
        return await _grouped(Deal.filter(contact_id__in=ids).annotate(v=Count("id")).group_by("contact_id"), conn)
    if name == "nextCall":
        upcoming = Call.filter(
            contact_id__in=ids, status="SCHEDULED", outcome__isnull=True, scheduled_at__gt=utcnow()
        )
        return await _grouped(upcoming.annotate(v=Min("scheduled_at")).group_by("contact_id"), conn)
    if name == "openTasks":
        return await _grouped(
            Task.filter(contact_id__in=ids, status="OPEN").annotate(v=Count("id")).group_by("contact_id"), conn
        )
    raise LookupError(f"no derived column {name!r}")


async def read_batch(
    contacts: QuerySet[Contact],
    columns: Sequence[Column],
    after_id: int,
    size: int,
    conn: BaseDBAsyncClient,
) -> Batch:
    """The next `size` contacts of `contacts` (already scoped to one account) after `after_id`."""
    owner_columns = [f"{c.attribute}_id" for c in columns if c.source is Source.OWNER]
    names = dict.fromkeys(["id", *(c.attribute for c in columns if c.source is Source.CONTACT), *owner_columns])
    records = await contacts.filter(id__gt=after_id).order_by("id").limit(size).using_db(conn).values(*names)
    if not records:
        return Batch([], after_id)
    ids = [r["id"] for r in records]
    sources = {c.source for c in columns}
    users: dict[int, str] = {}
    if Source.OWNER in sources:
        owner_ids = {r[name] for r in records for name in owner_columns if r[name] is not None}
        if owner_ids:
            users = dict(await User.filter(id__in=owner_ids).using_db(conn).values_list("id", "name"))
    tags: dict[int, list[str]] = defaultdict(list)
    if Source.TAGS in sources:
        for contact_id, name in await ContactTag.filter(contact_id__in=ids).using_db(conn).values_list(
            "contact_id", "tag__name"
        ):
            tags[contact_id].append(name)
    custom: dict[tuple[int, int], dict[str, Any]] = {}
    field_ids = [c.field_id for c in columns if c.source is Source.CUSTOM]
    if field_ids:
        for value in await CustomFieldValue.filter(contact_id__in=ids, field_id__in=field_ids).using_db(conn).values():
            custom[(value["contact_id"], value["field_id"])] = value
    derived = {
        c.attribute: await _derived(c.attribute, ids, conn) for c in columns if c.source is Source.DERIVED
    }
    rows = []
    for record in records:
        contact_id = record["id"]
        row = []
        for column in columns:
            if column.source is Source.CONTACT:
                row.append(text(record[column.attribute]))
            elif column.source is Source.OWNER:
                row.append(users.get(record[f"{column.attribute}_id"], ""))
            elif column.source is Source.TAGS:
                row.append("; ".join(sorted(tags.get(contact_id, ()), key=str.casefold)))
            elif column.source is Source.CUSTOM:
                row.append(_custom_text(column, custom.get((contact_id, column.field_id))))
            else:
                row.append(text(derived[column.attribute].get(contact_id)))
        rows.append(row)
    return Batch(rows, ids[-1])

