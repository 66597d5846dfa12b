"""The contacts table's filter and sort inputs (issue 14, D6), and their domain form.

`filter_to_domain` turns a `ContactFilter` into the plain dict crm/contact_filters.py compiles
(the input's shape, camelCase keys, enum values by name, database ids); `filter_to_client`
turns a stored one back into what a client can send again (global IDs). Same for orders.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar

import strawberry
from strawberry.scalars import JSON

from crm.contact_filters import RELATIVE_RANGES
from crm.contact_order import ORDER_FIELDS, Position
from crm.errors import BadInput
from graph.ids import decode_id, global_id_text
from graph.schema.enums import CallOutcome, DealStatus
from graph.schema.tasks import TaskStatus

RelativeRange = strawberry.enum(
    Enum("RelativeRange", {name: name for name in RELATIVE_RANGES}),  # type: ignore[misc]
    name="RelativeRange",
    description="A calendar range relative to now, in the filter's timeZone (UTC by default). "
    "LAST_n_DAYS: the n days ending today, today included; NEXT_n_DAYS: the n days starting "
    "today; weeks start on Monday.",
)
ContactOrderField = strawberry.enum(
    Enum("ContactOrderField", {name: name for name in ORDER_FIELDS}),  # type: ignore[misc]
    name="ContactOrderField",
    description="What the contacts table sorts by. CUSTOM_FIELD needs `customField` (a key). "
    "LAST_INTERACTION: the card's insights.lastInteraction time. DEAL_TOTAL: the sum of the "
    "contact's OPEN and WON deal amounts (any currency).",
)


@strawberry.enum(description="Sort direction; nulls sort last either way.")
class OrderDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


def _in(description: str = "Any of these values (at most 100).") -> Any:
    return strawberry.field(name="in", default=strawberry.UNSET, description=description)


@strawberry.input(description="Text: eq and in are exact; contains and startsWith ignore case.")
class TextFilter:
    eq: str | None = strawberry.UNSET
    in_: list[str] | None = _in()
    contains: str | None = strawberry.field(
        default=strawberry.UNSET, description="Case-insensitive; on phones, digits only."
    )
    starts_with: str | None = strawberry.UNSET
    is_null: bool | None = strawberry.UNSET


@strawberry.input(description="A time range: gte and lte inclusive, within a relative range.")
class DateFilter:
    gte: datetime | None = strawberry.UNSET
    lte: datetime | None = strawberry.UNSET
    within: RelativeRange | None = strawberry.UNSET  # type: ignore[valid-type]
    time_zone: str | None = strawberry.field(
        default=strawberry.UNSET, description="IANA zone for `within` (default UTC), e.g. Europe/Paris."
    )
    is_null: bool | None = strawberry.UNSET


@strawberry.input(description="One of the account's values (statuses, lead sources...).")
class ChoiceFilter:
    in_: list[str] | None = _in()
    is_null: bool | None = strawberry.UNSET


@strawberry.input
class BooleanFilter:
    eq: bool


@strawberry.input(description="Users by ID; isNull: true when no user is set.")
class OwnerFilter:
    _id_type: ClassVar[str] = "User"
    in_: list[strawberry.ID] | None = _in("Any of these users (at most 100).")
    is_null: bool | None = strawberry.UNSET


@strawberry.input(description="Tag names, case-insensitive as tags are.")
class TagFilter:
    any: list[str] | None = strawberry.field(default=strawberry.UNSET, description="At least one of these.")
    all: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Each of these.")
    none: list[str] | None = strawberry.field(default=strawberry.UNSET, description="None of these.")


@strawberry.input(
    description="A custom field by key, with the operators of its type: TEXT/URL/EMAIL/PHONE eq, "
    "in, contains, startsWith; SELECT eq, in; MULTI_SELECT any, all, none; NUMBER eq, gte, lte; "
    "MONEY the same and currency; DATE eq, gte, lte (YYYY-MM-DD), within; DATETIME gte, lte, "
    "within; BOOLEAN eq; every type isNull."
)
class CustomFieldFilter:
    key: str
    eq: JSON | None = strawberry.UNSET
    in_: list[JSON] | None = _in()
    contains: str | None = strawberry.UNSET
    starts_with: str | None = strawberry.UNSET
    gte: JSON | None = strawberry.UNSET
    lte: JSON | None = strawberry.UNSET
    within: RelativeRange | None = strawberry.UNSET  # type: ignore[valid-type]
    time_zone: str | None = strawberry.UNSET
    any: list[str] | None = strawberry.UNSET
    all: list[str] | None = strawberry.UNSET
    none: list[str] | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    is_null: bool | None = strawberry.UNSET


@strawberry.input
class CallOutcomeFilter:
    in_: list[CallOutcome] = _in()  # type: ignore[valid-type]


@strawberry.input
class DealStatusFilter:
    in_: list[DealStatus] = _in()  # type: ignore[valid-type]


@strawberry.input
class TaskStatusFilter:
    in_: list[TaskStatus] = _in()  # type: ignore[valid-type]


@strawberry.input
class AmountFilter:
    gte: Decimal | None = strawberry.UNSET
    lte: Decimal | None = strawberry.UNSET


@strawberry.input
class FormIdFilter:
    _id_type: ClassVar[str] = "Form"
    in_: list[strawberry.ID] = _in("Any of these forms.")


@strawberry.input
class SegmentIdFilter:
    _id_type: ClassVar[str] = "Segment"
    in_: list[strawberry.ID] = _in("Members of any of these segments (a dynamic one: its filter, now).")


@strawberry.input(description="Has at least one call like this (exists: false: has none).")
class CallsFilter:
    exists: bool | None = strawberry.UNSET
    upcoming: bool | None = strawberry.field(
        default=strawberry.UNSET, description="true: its start time is ahead; false: it has passed."
    )
    outcome: CallOutcomeFilter | None = strawberry.UNSET
    scheduled_at: DateFilter | None = strawberry.UNSET


@strawberry.input(description="Has at least one deal like this (exists: false: has none).")
class DealsFilter:
    exists: bool | None = strawberry.UNSET
    status: DealStatusFilter | None = strawberry.UNSET
    amount: AmountFilter | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET


@strawberry.input(description="Has at least one lead (form submission) like this (exists: false: has none).")
class LeadsFilter:
    exists: bool | None = strawberry.UNSET
    form: FormIdFilter | None = strawberry.UNSET
    utm_source: TextFilter | None = strawberry.UNSET
    utm_campaign: TextFilter | None = strawberry.UNSET
    created_at: DateFilter | None = strawberry.UNSET


@strawberry.input(description="Has at least one task like this (exists: false: has none).")
class TasksFilter:
    exists: bool | None = strawberry.UNSET
    overdue: bool | None = strawberry.field(
        default=strawberry.UNSET, description="true: OPEN with its due time passed."
    )
    status: TaskStatusFilter | None = strawberry.UNSET


@strawberry.input(
    description="Which contacts the table shows. Every given clause must hold; and/or/not group "
    "filters (at most 5 levels, 50 conditions)."
)
class ContactFilter:
    and_: list[ContactFilter] | None = strawberry.field(name="and", default=strawberry.UNSET)
    or_: list[ContactFilter] | None = strawberry.field(name="or", default=strawberry.UNSET)
    not_: ContactFilter | None = strawberry.field(name="not", default=strawberry.UNSET)
    first_name: TextFilter | None = strawberry.UNSET
    last_name: TextFilter | None = strawberry.UNSET
    business_name: TextFilter | None = strawberry.UNSET
    title: TextFilter | None = strawberry.UNSET
    contact_type: TextFilter | None = strawberry.UNSET
    email: TextFilter | None = strawberry.UNSET
    secondary_email: TextFilter | None = strawberry.UNSET
    phone: TextFilter | None = strawberry.UNSET
    secondary_phone: TextFilter | None = strawberry.UNSET
    street: TextFilter | None = strawberry.UNSET
    city: TextFilter | None = strawberry.UNSET
    state: TextFilter | None = strawberry.UNSET
    zip: TextFilter | None = strawberry.UNSET
    country: TextFilter | None = strawberry.UNSET
    status: ChoiceFilter | None = strawberry.field(
        default=strawberry.UNSET, description="The account's statuses."
    )
    sub_status: ChoiceFilter | None = strawberry.UNSET
    lead_source: ChoiceFilter | None = strawberry.UNSET
    action_plan: ChoiceFilter | None = strawberry.UNSET
    sales_cycle: ChoiceFilter | None = strawberry.UNSET
    phone_line_type: ChoiceFilter | None = strawberry.UNSET
    ok_to_sms: BooleanFilter | None = strawberry.UNSET
    privacy_opt_in: BooleanFilter | None = strawberry.UNSET
    communication_opt_in: BooleanFilter | None = strawberry.UNSET
    created_at: DateFilter | None = strawberry.UNSET
    updated_at: DateFilter | None = strawberry.UNSET
    converted_at: DateFilter | None = strawberry.UNSET
    archived_at: DateFilter | None = strawberry.UNSET
    last_interaction: DateFilter | None = strawberry.field(
        default=strawberry.UNSET,
        description="The time of the card's insights.lastInteraction: the newest call once logged "
        "or given an outcome, message, or web-form lead. isNull: true for cards without any.",
    )
    setter_owner: OwnerFilter | None = strawberry.UNSET
    closer_owner: OwnerFilter | None = strawberry.UNSET
    assigned_to: OwnerFilter | None = strawberry.UNSET
    owner: OwnerFilter | None = strawberry.field(
        default=strawberry.UNSET,
        description="Any of setterOwner, closerOwner, assignedTo; isNull: true when all three are unset.",
    )
    tags: TagFilter | None = strawberry.UNSET
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=strawberry.UNSET, description="Each must hold."
    )
    calls: CallsFilter | None = strawberry.UNSET
    deals: DealsFilter | None = strawberry.UNSET
    leads: LeadsFilter | None = strawberry.UNSET
    tasks: TasksFilter | None = strawberry.UNSET
    segment: SegmentIdFilter | None = strawberry.UNSET


@strawberry.input(description="One sort key; ties fall to the next key, then to the id.")
class ContactOrder:
    field: ContactOrderField  # type: ignore[valid-type]
    custom_field: str | None = strawberry.field(
        default=None, description="The custom field's key, with field: CUSTOM_FIELD."
    )
    direction: OrderDirection = OrderDirection.ASC


# --------------------------------------------------------------------------------------
# Domain form
# --------------------------------------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)


def _domain(value: Any, path: str, id_type: str | None = None) -> Any:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal | date):
        return str(value)
    if isinstance(value, list):
        if id_type is not None:
            return [decode_id(item, id_type, field=path) for item in value]
        return [_domain(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        found: dict[str, Any] = {}
        child_ids = getattr(type(value), "_id_type", None)
        for item in dataclasses.fields(value):
            raw = getattr(value, item.name)
            if raw is strawberry.UNSET or raw is None:
                continue
            key = _camel(item.name)
            found[key] = _domain(raw, f"{path}.{key}", child_ids if key == "in" else None)
        return found
    return value


def filter_to_domain(value: ContactFilter | None) -> dict[str, Any] | None:
    """The filter's domain form (global IDs decoded: a wrong one is BAD_USER_INPUT)."""
    if value is None:
        return None
    return _domain(value, "filter")  # type: ignore[no-any-return]


# Where ids sit in the domain form, and their type.
_ID_PLACES = {
    **{owner: "User" for owner in ("setterOwner", "closerOwner", "assignedTo", "owner")},
    "segment": "Segment",
}


def _client(spec: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, clause in spec.items():
        if key in ("and", "or"):
            found[key] = [_client(part) for part in clause]
        elif key == "not":
            found[key] = _client(clause)
        elif key in _ID_PLACES and "in" in clause:
            found[key] = {**clause, "in": [global_id_text(_ID_PLACES[key], i) for i in clause["in"]]}
        elif key == "leads" and "form" in clause:
            form = clause["form"]
            found[key] = {**clause, "form": {**form, "in": [global_id_text("Form", i) for i in form["in"]]}}
        else:
            found[key] = clause
    return found


def filter_to_client(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored filter as JSON a client can send again as `filter` (ids as global IDs)."""
    return None if spec is None else _client(spec)


def order_to_domain(order: list[ContactOrder] | None) -> list[dict[str, Any]]:
    """[{field, customField?, direction}] with enum names (crm/contact_order.py checks it)."""
    found = []
    for item in order or []:
        entry: dict[str, Any] = {"field": item.field.name, "direction": item.direction.name}
        if item.custom_field is not None:
            entry["customField"] = item.custom_field
        found.append(entry)
    return found


def order_to_client(order: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A stored order as JSON a client can send again as `orderBy` (the same shape)."""
    return [dict(item) for item in order or []]


# --------------------------------------------------------------------------------------
# Cursors of a sorted contacts list: the order's signature, the row's sort values and id
# --------------------------------------------------------------------------------------

_SORTED = "sorted:"


def encode_order_cursor(position: Position) -> str:
    text = _SORTED + json.dumps(
        [position.signature, list(position.values), position.id], separators=(",", ":")
    )
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_order_cursor(cursor: str) -> Position:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith(_SORTED):
            raise ValueError(cursor)
        name, values, row_id = json.loads(text[len(_SORTED) :])
        if not isinstance(name, str) or not isinstance(values, list) or not isinstance(row_id, int):
            raise ValueError(cursor)
        return Position(name, tuple(values), row_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadInput(
            f"after {cursor!r} is not a cursor of this list under this orderBy", field="after"
        ) from None
