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


def _about(description: str) -> Any:
    """An optional operator or clause with its description (the README's inputs table shows it)."""
    return strawberry.field(default=strawberry.UNSET, description=description)


_IS_NULL = "true: no value (null); false: any value."
_EXISTS = "false: has no such record; true (the default): has at least one."


@strawberry.input(description="Text: eq and in are exact; contains and startsWith ignore case.")
class TextFilter:
    eq: str | None = _about("Exactly this value.")
    in_: list[str] | None = _in()
    contains: str | None = strawberry.field(
        default=strawberry.UNSET, description="Case-insensitive; on phones, digits only."
    )
    starts_with: str | None = _about("Starts with this text, ignoring case.")
    is_null: bool | None = _about(_IS_NULL)


@strawberry.input(description="A time range: gte and lte inclusive, within a relative range.")
class DateFilter:
    gte: datetime | None = _about("At or after this time.")
    lte: datetime | None = _about("At or before this time.")
    within: RelativeRange | None = _about("Inside this calendar range, in timeZone.")  # type: ignore[valid-type]
    time_zone: str | None = strawberry.field(
        default=strawberry.UNSET, description="IANA zone for `within` (default UTC), e.g. Europe/Paris."
    )
    is_null: bool | None = _about(_IS_NULL)


@strawberry.input(description="One of the account's values (statuses, lead sources...).")
class ChoiceFilter:
    in_: list[str] | None = _in()
    is_null: bool | None = _about(_IS_NULL)


@strawberry.input
class BooleanFilter:
    eq: bool = strawberry.field(description="true or false.")


@strawberry.input(description="Users by ID; isNull: true when no user is set.")
class OwnerFilter:
    _id_type: ClassVar[str] = "User"
    in_: list[strawberry.ID] | None = _in("Any of these users (at most 100).")
    is_null: bool | None = _about("true: no user set; false: a user set.")


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
    key: str = strawberry.field(description="The custom field's key (customFields lists them).")
    eq: JSON | None = _about("Equal to this value, in the type's form: text, number, YYYY-MM-DD, true/false.")
    in_: list[JSON] | None = _in()
    contains: str | None = _about(
        "TEXT, URL, EMAIL, PHONE: contains this text, ignoring case (a PHONE: its digits)."
    )
    starts_with: str | None = _about("TEXT, URL, EMAIL, PHONE: starts with this text, ignoring case.")
    gte: JSON | None = _about("NUMBER, MONEY, DATE (YYYY-MM-DD), DATETIME: at least this.")
    lte: JSON | None = _about("NUMBER, MONEY, DATE (YYYY-MM-DD), DATETIME: at most this.")
    within: RelativeRange | None = _about("DATE, DATETIME: inside this calendar range, in timeZone.")  # type: ignore[valid-type]
    time_zone: str | None = _about("IANA zone for `within` (default UTC), e.g. Europe/Paris.")
    any: list[str] | None = _about("MULTI_SELECT: holds at least one of these options.")
    all: list[str] | None = _about("MULTI_SELECT: holds each of these options.")
    none: list[str] | None = _about("MULTI_SELECT: holds none of these options.")
    currency: str | None = _about("MONEY: in this currency (ISO 4217, e.g. USD).")
    is_null: bool | None = _about("true: the contact has no value for the field; false: it has one.")


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
    gte: Decimal | None = _about("At least this amount (in the deal's own currency).")
    lte: Decimal | None = _about("At most this amount (in the deal's own currency).")


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
    exists: bool | None = _about(_EXISTS)
    upcoming: bool | None = strawberry.field(
        default=strawberry.UNSET, description="true: its start time is ahead; false: it has passed."
    )
    outcome: CallOutcomeFilter | None = _about("Its outcome is one of these.")
    scheduled_at: DateFilter | None = _about("Its start time lies in this range.")


@strawberry.input(description="Has at least one deal like this (exists: false: has none).")
class DealsFilter:
    exists: bool | None = _about(_EXISTS)
    status: DealStatusFilter | None = _about("Its status is one of these.")
    amount: AmountFilter | None = _about("Its amount lies in this range.")
    currency: str | None = _about("Its currency (ISO 4217, e.g. USD).")


@strawberry.input(description="Has at least one lead (form submission) like this (exists: false: has none).")
class LeadsFilter:
    exists: bool | None = _about(_EXISTS)
    form: FormIdFilter | None = _about("Submitted through one of these forms.")
    utm_source: TextFilter | None = _about("Its UTM source.")
    utm_campaign: TextFilter | None = _about("Its UTM campaign.")
    created_at: DateFilter | None = _about("When it was received.")


@strawberry.input(description="Has at least one task like this (exists: false: has none).")
class TasksFilter:
    exists: bool | None = _about(_EXISTS)
    overdue: bool | None = strawberry.field(
        default=strawberry.UNSET, description="true: OPEN with its due time passed."
    )
    status: TaskStatusFilter | None = _about("Its status is one of these.")


@strawberry.input(
    description="Which contacts the table shows. Every given clause must hold; and/or/not group "
    "filters (at most 5 levels, 50 conditions)."
)
class ContactFilter:
    and_: list[ContactFilter] | None = strawberry.field(
        name="and", default=strawberry.UNSET, description="Each of these filters holds."
    )
    or_: list[ContactFilter] | None = strawberry.field(
        name="or", default=strawberry.UNSET, description="At least one of these filters holds."
    )
    not_: ContactFilter | None = strawberry.field(
        name="not",
        default=strawberry.UNSET,
        description="This filter does not hold (exact: a contact without a value it compares is kept).",
    )
    first_name: TextFilter | None = _about("The first name.")
    last_name: TextFilter | None = _about("The last name.")
    business_name: TextFilter | None = _about("The business (company) name.")
    title: TextFilter | None = _about("The job title.")
    contact_type: TextFilter | None = _about("The contact type.")
    email: TextFilter | None = _about("The primary email.")
    secondary_email: TextFilter | None = _about("The secondary email.")
    phone: TextFilter | None = _about("The primary phone (contains: by digits).")
    secondary_phone: TextFilter | None = _about("The secondary phone (contains: by digits).")
    street: TextFilter | None = _about("The address's street.")
    city: TextFilter | None = _about("The address's city.")
    state: TextFilter | None = _about("The address's state or region.")
    zip: TextFilter | None = _about("The address's postal code.")
    country: TextFilter | None = _about("The address's country.")
    status: ChoiceFilter | None = strawberry.field(
        default=strawberry.UNSET, description="The account's statuses."
    )
    sub_status: ChoiceFilter | None = _about("The sub-status (within the status).")
    lead_source: ChoiceFilter | None = _about("The account's lead sources.")
    action_plan: ChoiceFilter | None = _about("The account's action plans.")
    sales_cycle: ChoiceFilter | None = _about("The account's sales cycles.")
    phone_line_type: ChoiceFilter | None = _about(
        "The phone's line type: mobile, landline, fixedVoip, nonFixedVoip, tollFree..."
    )
    ok_to_sms: BooleanFilter | None = _about("SMS consent, as the card's okToSms.")
    privacy_opt_in: BooleanFilter | None = _about("Privacy consent, as the card's privacyOptIn.")
    communication_opt_in: BooleanFilter | None = _about(
        "Communication consent, as the card's communicationOptIn."
    )
    created_at: DateFilter | None = _about("When the card was created.")
    updated_at: DateFilter | None = _about("When the card last changed.")
    converted_at: DateFilter | None = _about("When the contact first became a customer.")
    archived_at: DateFilter | None = _about("When the card was archived (with archived: true or null).")
    last_interaction: DateFilter | None = strawberry.field(
        default=strawberry.UNSET,
        description="The time of the card's insights.lastInteraction: the newest call once logged "
        "or given an outcome, message, or web-form lead. isNull: true for cards without any.",
    )
    setter_owner: OwnerFilter | None = _about("The setter owner.")
    closer_owner: OwnerFilter | None = _about("The closer owner.")
    assigned_to: OwnerFilter | None = _about("The representative the contact is assigned to.")
    owner: OwnerFilter | None = strawberry.field(
        default=strawberry.UNSET,
        description="Any of setterOwner, closerOwner, assignedTo; isNull: true when all three are unset.",
    )
    tags: TagFilter | None = _about("The card's tags.")
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=strawberry.UNSET, description="Each must hold."
    )
    calls: CallsFilter | None = _about("Its calls.")
    deals: DealsFilter | None = _about("Its deals.")
    leads: LeadsFilter | None = _about("Its leads (web-form submissions).")
    tasks: TasksFilter | None = _about("Its tasks.")
    segment: SegmentIdFilter | None = _about("Members of segments.")


@strawberry.input(description="One sort key; ties fall to the next key, then to the id.")
class ContactOrder:
    field: ContactOrderField = strawberry.field(description="What to sort by.")  # type: ignore[valid-type]
    custom_field: str | None = strawberry.field(
        default=None, description="The custom field's key, with field: CUSTOM_FIELD."
    )
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="ASC (the default) or DESC; nulls last either way."
    )


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
