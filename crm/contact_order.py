"""Sorting the contacts table (issue 14, D6) and paging it with keyset positions.

An order is a list of keys (`{field, customField?, direction}`); the contact id always ends it
as the tie-breaker (in the first key's direction), so the order is total. NULLs sort last in
both directions. A page starts after a *position*: the previous row's sort values and id, so
a cursor stays valid whatever is inserted or deleted meanwhile, and costs an index range, not
an OFFSET. A position carries its order's signature: a cursor from another order is refused.

Derived keys (as their GraphQL descriptions say):
- LAST_INTERACTION: the time of the card's insights.lastInteraction, and DEAL_TOTAL: the sum of
  the contact's OPEN and WON deal amounts, any currency (null without): roll-ups the database
  keeps on the contact (migration 0024), so sorted like a column, by index.
- CUSTOM_FIELD: the field's typed value (MULTI_SELECT cannot be sorted).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.queryset import QuerySet

from crm.contact_count import ScopedCount
from crm.contact_sql import is_postgres
from crm.custom_values import FieldType
from crm.errors import BadInput
from crm.models import Contact, CustomField, CustomFieldValue

MAX_KEYS = 5
MAX_NUMBER = Decimal(10) ** 18  # above any sum of deals (18 digits) or custom number

# Scalar columns: (column, kind, nullable).
COLUMNS: dict[str, tuple[str, str, bool]] = {
    "CREATED_AT": ("created_at", "time", False),
    "UPDATED_AT": ("updated_at", "time", False),
    "FIRST_NAME": ("first_name", "text", True),
    "LAST_NAME": ("last_name", "text", True),
    "BUSINESS_NAME": ("business_name", "text", True),
    "TITLE": ("title", "text", True),
    "CONTACT_TYPE": ("contact_type", "text", True),
    "EMAIL": ("email", "text", True),
    "PHONE": ("phone", "text", True),
    "CITY": ("city", "text", True),
    "STATE": ("state", "text", True),
    "ZIP": ("zip", "text", True),
    "COUNTRY": ("country", "text", True),
    "STATUS": ("status", "text", False),
    "SUB_STATUS": ("sub_status", "text", True),
    "LEAD_SOURCE": ("lead_source", "text", True),
    "ACTION_PLAN": ("action_plan", "text", True),
    "SALES_CYCLE": ("sales_cycle", "text", True),
    "PHONE_LINE_TYPE": ("phone_line_type", "text", True),
    "CONVERTED_AT": ("converted_at", "time", True),
    "ARCHIVED_AT": ("archived_at", "time", True),
    "OK_TO_SMS": ("ok_to_sms", "bool", False),
}
DERIVED = ("LAST_INTERACTION", "DEAL_TOTAL", "CUSTOM_FIELD")
ORDER_FIELDS = (*COLUMNS, *DERIVED)

_CUSTOM_KIND = {
    FieldType.TEXT: ("value_text", "text"),
    FieldType.URL: ("value_text", "text"),
    FieldType.EMAIL: ("value_text", "text"),
    FieldType.PHONE: ("value_text", "text"),
    FieldType.SELECT: ("value_text", "text"),
    FieldType.NUMBER: ("value_number", "number"),
    FieldType.MONEY: ("value_number", "number"),
    FieldType.DATE: ("value_date", "date"),
    FieldType.DATETIME: ("value_ts", "time"),
    FieldType.BOOLEAN: ("value_bool", "bool"),
}


@dataclass(frozen=True, slots=True)
class SortKey:
    name: str  # the column, or the annotation holding the derived value
    kind: str  # text | time | date | number | bool
    descending: bool
    nullable: bool
    sql: str | None = None  # derived keys: the expression
    # Derived keys: "the value is not null" as a membership (`id IN (SELECT contact_id ...)`), so
    # the value is computed once per row (for the order), not again to tell values from nulls.
    present: Q | None = None
    field_id: int | None = None  # CUSTOM_FIELD: the field and its value column, for the index walk
    column: str | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page starts: after this row of the order named `signature`."""

    signature: str
    values: tuple[Any, ...]
    id: int


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Mapping[str, Any]]
    positions: list[Position]  # one per row: a cursor after it
    more: bool


def signature(order: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for item in order:
        name = item["field"] + (f"({item['customField']})" if item.get("customField") else "")
        parts.append(f"{name}:{item.get('direction', 'ASC')}")
    return ",".join(parts)


async def sort_keys(account_id: int, order: Sequence[Mapping[str, Any]]) -> list[SortKey]:
    """The order's keys, checked: BadInput for unknown fields or custom keys."""
    if len(order) > MAX_KEYS:
        raise BadInput(f"orderBy has {len(order)} keys; at most {MAX_KEYS}", field="orderBy")
    postgres = is_postgres()
    keys = []
    for index, item in enumerate(order):
        field, descending = item.get("field"), item.get("direction", "ASC") == "DESC"
        path = f"orderBy[{index}]"
        if item.get("direction", "ASC") not in ("ASC", "DESC"):
            raise BadInput(f"{path}.direction must be ASC or DESC", field=f"{path}.direction")
        if field != "CUSTOM_FIELD" and item.get("customField"):
            raise BadInput(
                f"{path}.customField goes with field CUSTOM_FIELD only", field=f"{path}.customField"
            )
        if field in COLUMNS:
            column, kind, nullable = COLUMNS[field]
            keys.append(SortKey(column, kind, descending, nullable))
        elif field == "LAST_INTERACTION":
            keys.append(SortKey("last_interaction_at", "time", descending, True))
        elif field == "DEAL_TOTAL":
            if postgres:
                keys.append(SortKey("deal_total", "number", descending, True))
            else:  # SQLite keeps decimals as text: compared as numbers
                keys.append(
                    SortKey(
                        f"sort_{index}", "number", descending, True, 'CAST("contact"."deal_total" AS REAL)'
                    )
                )
        elif field == "CUSTOM_FIELD":
            keys.append(await _custom_key(account_id, item.get("customField"), index, descending, postgres))
        else:
            raise BadInput(f"{path}.field {field!r} is not a sortable field", field=f"{path}.field")
    return keys


async def _custom_key(account_id: int, key: Any, index: int, descending: bool, postgres: bool) -> SortKey:
    path = f"orderBy[{index}].customField"
    if not key:
        raise BadInput(f"{path} is required with field CUSTOM_FIELD", field=path)
    found = await CustomField.get_or_none(account_id=account_id, key=key)
    if found is None:
        raise BadInput(f"{path}: no custom field with key {key!r} in this account", field=path)
    kind = FieldType(found.type)
    if kind not in _CUSTOM_KIND:
        raise BadInput(f"{path}: custom field {key!r} is {kind.value}, which cannot be sorted", field=path)
    column, value_kind = _CUSTOM_KIND[kind]
    value = f'v."{column}"'
    if value_kind == "number" and not postgres:  # SQLite keeps decimals as text
        value = f"CAST({value} AS REAL)"
    sql = (
        f'(SELECT {value} FROM "custom_field_value" v WHERE v."field_id" = {int(found.id)}'
        ' AND v."contact_id" = "contact"."id")'
    )
    has_value = Q(
        id__in=Subquery(
            CustomFieldValue.filter(field_id=found.id, **{f"{column}__isnull": False}).values("contact_id")
        )
    )
    return SortKey(f"sort_{index}", value_kind, descending, True, sql, has_value, found.id, column)


def _null_flag(key: SortKey) -> str:
    return f"{key.name}_null"


def ordered(
    contacts: QuerySet[Contact], keys: Sequence[SortKey], id_descending: bool, also: Sequence[SortKey] = ()
) -> QuerySet[Contact]:
    """The contacts annotated with the derived keys (of `keys` and `also`) and ordered by `keys`,
    nulls last, then by id."""
    annotations: dict[str, Any] = {k.name: RawSQL(k.sql) for k in (*also, *keys) if k.sql is not None}
    order: list[str] = []
    for key in keys:
        if key.nullable:
            expression = key.sql or f'"contact"."{key.name}"'
            annotations[_null_flag(key)] = RawSQL(f"CASE WHEN {expression} IS NULL THEN 1 ELSE 0 END")
            order.append(_null_flag(key))
        order.append(f"-{key.name}" if key.descending else key.name)
    order.append("-id" if id_descending else "id")
    if annotations:
        contacts = contacts.annotate(**annotations)
    return contacts.order_by(*order)


def _after(
    keys: Sequence[SortKey], values: Sequence[Any], row_id: int, id_descending: bool, postgres: bool
) -> Q:
    """Rows after the position (values, row_id): (k1..kn, id) compared key by key, nulls last."""
    terms: list[Q] = []
    equal: list[Q] = []
    for key, raw in zip(keys, values, strict=True):
        value = _param(key, raw, postgres)
        if value is None:
            equal.append(Q(**{f"{key.name}__isnull": True}))
            continue  # nothing sorts after a null within this key
        later = Q(**{f"{key.name}__{'lt' if key.descending else 'gt'}": value})
        if key.nullable:
            later = later | Q(**{f"{key.name}__isnull": True})
        terms.append(_and([*equal, later]))
        equal.append(Q(**{key.name: value}))
    terms.append(_and([*equal, Q(**{f"id__{'lt' if id_descending else 'gt'}": row_id})]))
    found = terms[0]
    for term in terms[1:]:
        found = found | term
    return found


def _and(parts: list[Q]) -> Q:
    found = parts[0]
    for part in parts[1:]:
        found = found & part
    return found


def _param(key: SortKey, raw: Any, postgres: bool) -> Any:
    """A cursor's value as the comparison needs it (SQLite compares derived numbers as REAL)."""
    if raw is None:
        return None
    try:
        if key.kind == "time":
            value = datetime.fromisoformat(raw)
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        if key.kind == "date":
            return date.fromisoformat(raw)
        if key.kind == "number":
            number = Decimal(raw)
            if not number.is_finite() or abs(number) >= MAX_NUMBER:
                raise ValueError(raw)
            return float(number) if key.sql is not None and not postgres else number
        if key.kind == "bool":
            if not isinstance(raw, bool):
                raise ValueError(raw)
            return raw
        if not isinstance(raw, str):
            raise ValueError(raw)
        return raw
    except (ValueError, TypeError, InvalidOperation, OverflowError):
        raise BadInput("after is not a cursor from this list", field="after") from None


def _cursor_value(key: SortKey, value: Any) -> Any:
    """A row's sort value as a cursor keeps it (JSON)."""
    if value is None:
        return None
    if key.kind == "time":
        if isinstance(value, str):  # SQLite returns derived times as their text
            value = datetime.fromisoformat(value)
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat()
    if key.kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    if key.kind == "number":
        return str(Decimal(str(value)))
    if key.kind == "bool":
        return bool(value)
    return value


# The contacts' rows of some ids (the list's page reads them through the card's loader).
RowReader = Callable[[Sequence[int]], Awaitable[list[Mapping[str, Any]]]]


def counted_first(keys: Sequence[SortKey]) -> bool:
    """Whether a page in this order counts the matches before it reads them: a custom field's
    page is read per match or from the field's values depending on how many there are
    (PER_MATCH_MAX; PostgreSQL)."""
    return is_postgres() and len(keys) == 1 and keys[0].field_id is not None


async def ordered_page(
    account_id: int,
    contacts: QuerySet[Contact],
    order: Sequence[Mapping[str, Any]],
    size: int,
    after: Position | None,
    scoped: ScopedCount | None = None,
    *,
    read: RowReader,
    keys: Sequence[SortKey],
    matched: int | None = None,
) -> Page:
    """One page of `contacts` in `order` (default: newest first), `size` rows after `after`.
    `scoped`: the filter's memberships, when they alone make the matches (crm/contact_count.py):
    a custom field's page and the count are then read from them, not from contact rows.
    `read`: the contacts' rows of some ids (any order; a missing one is left out of the page).
    `keys`: `sort_keys(account_id, order)`; `matched`: the number of matches, when the caller
    counted them first (see `counted_first`)."""
    name = signature(order)
    if after is not None and after.signature != name:
        raise BadInput(
            "after is a cursor from another orderBy; page with the order it was made for, or start again",
            field="after",
        )
    if after is not None and (len(after.values) != len(keys) or not 0 < after.id < 2**31):
        raise BadInput("after is not a cursor from this list", field="after")
    if not keys:  # the default order: newest first
        newest = contacts.filter(id__lt=after.id) if after is not None else contacts
        found = await newest.order_by("-id").limit(size + 1).values_list("id", flat=True)
        positions = [Position(name, (), contact_id) for contact_id in found[:size]]
        return _read_page(await read(found[:size]), positions, more=len(found) > size)
    postgres = is_postgres()
    id_descending = keys[0].descending
    first, rest = keys[0], keys[1:]
    # Ids and sort values first, the rows of the page after: sorting every match's full row
    # (and its owners' joins) to keep 51 is what made sorted pages slow at 1M (bench/filters.py).
    wanted = list(dict.fromkeys(["id", *(k.name for k in keys)]))
    # A nullable first key is read in two parts, its values then its nulls, rather than ordered
    # by "is it null" first: each part is then ordered by what an index on the column holds
    # (PostgreSQL walks the index, not a sort of every match).
    rows: list[dict[str, Any]] = []
    by_count = counted_first(keys)
    if by_count:
        if matched is None:
            matched = await (scoped or contacts.count)()
        if matched <= PER_MATCH_MAX:
            first = replace(first, present=None)  # the value per match, tested for null
    # A custom field's value read per match (few matches), ascending: its first page in one
    # statement, values then nulls (PostgreSQL sorts nulls last ascending), so the value is
    # computed once per match, not again to tell values from nulls (bench/filters.py 14).
    # Descending would need a stand-in for null that no value can equal; a custom DATE could
    # hold any day.
    single = (
        postgres
        and not rest
        and after is None
        and first.sql is not None
        and first.present is None
        and not first.descending
    )
    if single:
        rows = await _first_page_nulls_last(contacts, first, size)
    elif after is None or after.values[0] is not None or not first.nullable:
        present = replace(first, nullable=False)
        if by_count and first.present is not None:
            rows = await _custom_values_page(contacts, first, size, after, scoped)
        else:
            query = ordered(contacts, [present, *rest], id_descending)
            if first.present is not None:
                query = query.filter(first.present)
            elif first.nullable:
                query = query.filter(**{f"{first.name}__isnull": False})
            if after is not None:
                query = query.filter(
                    _after([present, *rest], after.values, after.id, id_descending, postgres)
                )
            rows = await query.limit(size + 1).values(*wanted)
    if not single and first.nullable and len(rows) <= size:
        if first.present is not None:  # no value: nothing to compute
            query = ordered(contacts, rest, id_descending).filter(~first.present)
        else:
            query = ordered(contacts, rest, id_descending, also=[first]).filter(
                **{f"{first.name}__isnull": True}
            )
        if after is not None and after.values[0] is None:
            query = query.filter(_after(rest, after.values[1:], after.id, id_descending, postgres))
        nulls = await query.limit(size + 1 - len(rows)).values(*[n for n in wanted if n != first.name])
        rows.extend({**row, first.name: None} for row in nulls)
    positions = [
        Position(name, tuple(_cursor_value(k, row[k.name]) for k in keys), row["id"]) for row in rows[:size]
    ]
    found = await read([row["id"] for row in rows[:size]])
    return _read_page(found, positions, more=len(rows) > size)


def _read_page(rows: Sequence[Mapping[str, Any]], positions: list[Position], *, more: bool) -> Page:
    """The page of the rows read for `positions`' ids, in their order; a contact gone since its
    id was found (deleted, merged) is left out with its position."""
    by_id = {row["id"]: row for row in rows}
    kept = [position for position in positions if position.id in by_id]
    return Page(rows=[by_id[p.id] for p in kept], positions=kept, more=more)


# Up to this many matches, a custom field key's page is sorted from the matches (its value read
# per match); above, from the field's values joined to the matches (see _custom_values_page).
PER_MATCH_MAX = 20_000


async def _custom_values_page(
    contacts: QuerySet[Contact], key: SortKey, size: int, after: Position | None, scoped: ScopedCount | None
) -> list[dict[str, Any]]:
    """A page of matches with the custom field `key` set, in its order, from the field's values
    (PostgreSQL): the value is read once per match from the `(field_id, value)` index, not by a
    subquery per match, twice (130k matches: 2.5 s -> 0.4 s in EXPLAIN ANALYZE at 1M). For a few matches the
    subquery per match is cheaper; the caller counts them to choose (the count is the list's
    totalCount too). The planner cannot choose itself: it estimates one field's value range
    from all fields' values, off 100x at 1M (874 rows for 134k).

    When the filter is memberships alone (`scoped`), the matches are taken from them, and a
    condition on the sorted field itself is the page's own range: "budget 10k-50k by budget"
    reads the index from 50k down, not every budget above 50k first (bench/filters.py 12)."""
    column, descending = key.column, key.descending
    assert column is not None and key.field_id is not None
    sign, later = ("-", "lt") if descending else ("", "gt")
    own = scoped.field_values(key.field_id) if scoped is not None else None
    if scoped is not None and own is not None:
        values = scoped.rows(own)
    else:
        matching = scoped.ids() if scoped is not None else contacts.values("id")
        values = CustomFieldValue.filter(field_id=key.field_id, contact_id__in=Subquery(matching))
    values = values.filter(**{f"{column}__isnull": False})
    if after is not None:
        value = _param(key, after.values[0], True)
        values = values.filter(
            Q(**{f"{column}__{later}": value}) | Q(**{column: value, f"contact_id__{later}": after.id})
        )
    found = (
        await values.order_by(f"{sign}{column}", f"{sign}contact_id")
        .limit(size + 1)
        .values_list("contact_id", column)
    )
    return [{"id": contact_id, key.name: value} for contact_id, value in found]


async def _first_page_nulls_last(
    contacts: QuerySet[Contact], key: SortKey, size: int
) -> list[dict[str, Any]]:
    """The first page by a derived value ascending, in one statement (PostgreSQL sorts nulls
    last ascending)."""
    query = ordered(contacts, [replace(key, nullable=False)], key.descending)
    return await query.limit(size + 1).values("id", key.name)
