"""Filters of the contacts table (issue 14, D6): a filter's domain form compiled to SQL.

The *domain form* is a plain dict in exactly the GraphQL `ContactFilter` input's shape
(camelCase keys, enum values by name, omitted keys absent) except that object ids (users,
forms, segments) are database ints. Views and segments store it as JSON; bulk actions and
exports call `matching_contacts` with it.

Everything compiles to one SQL statement over the `contact` table: columns directly, related
records (calls, deals, leads, tasks, tags, custom field values, segment members) through
`id IN (SELECT contact_id ...)` subqueries over indexed columns -- never Python-side filtering,
never a query per row. The one condition that needs SQL text per dialect (a MULTI_SELECT
option inside its JSON array) is in crm/contact_sql.py.

Semantics a client relies on (the README says the same):
- text: `eq` and `in` are exact; `contains` / `startsWith` ignore case; a phone's `contains`
  compares digits only (like search); `isNull` is about null only.
- a comparison never matches a missing value, and `not` is exact (see `_present`).
- related records: a clause means "has at least one such record" (all its conditions on the
  same record); `exists: false` means "has none".
- `lastInteraction`: the newest communication that happened, as the card's insights define it
  (graph/schema/communications.py): a call once logged or given an outcome (at its
  `scheduled_at`), any SMS/email/chat message (at `created_at`), a web-form lead (at
  `submitted_at`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import reduce
from operator import and_, or_
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from crm.clock import RANGE_TEXT, out_of_range, utcnow
from crm.contact_sql import json_array_holds_any
from crm.custom_values import FieldType
from crm.errors import BadInput
from crm.models import (
    Account,
    Call,
    Contact,
    ContactTag,
    CustomField,
    CustomFieldValue,
    Deal,
    Lead,
    Message,
    Tag,
    Task,
    Utm,
)
from crm.models.segments import DYNAMIC, Segment, SegmentMember
from crm.search import search_condition
from crm.services.calls import CallOutcome
from crm.services.deals import DealStatus
from crm.services.header import HEADER_LISTS, values_of
from crm.services.tasks import TaskStatus

HEADER_BY_API = {h.api: h for h in HEADER_LISTS}

MAX_DEPTH = 5  # and/or/not nesting
MAX_CONDITIONS = 50  # leaf conditions in one filter
MAX_VALUES = 100  # values of one `in` / `any` / ...
MAX_SEGMENT_HOPS = 3  # a segment's filter naming a segment naming a segment...
MAX_TEXT = 200
MAX_NUMBER = 10**15  # above any amount or number a contact can hold (crm/custom_values.py)

# Contact columns by their ContactFilter key (the Contact type's own field names).
TEXT_FIELDS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "businessName": "business_name",
    "title": "title",
    "contactType": "contact_type",
    "email": "email",
    "secondaryEmail": "secondary_email",
    "phone": "phone",
    "secondaryPhone": "secondary_phone",
    "street": "street",
    "city": "city",
    "state": "state",
    "zip": "zip",
    "country": "country",
}
PHONE_FIELDS = frozenset({"phone", "secondaryPhone"})
DATE_FIELDS = {
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "convertedAt": "converted_at",
    "archivedAt": "archived_at",
}
# Account lists (validated against them) and fixed enums.
CHOICE_FIELDS = {
    "status": "status",
    "subStatus": "sub_status",
    "leadSource": "lead_source",
    "actionPlan": "action_plan",
    "salesCycle": "sales_cycle",
    "phoneLineType": "phone_line_type",
}
BOOLEAN_FIELDS = {
    "okToSms": "ok_to_sms",
    "privacyOptIn": "privacy_opt_in",
    "communicationOptIn": "communication_opt_in",
}
OWNER_FIELDS = {
    "setterOwner": ("setter_owner_id",),
    "closerOwner": ("closer_owner_id",),
    "assignedTo": ("assigned_to_id",),
    "owner": ("setter_owner_id", "closer_owner_id", "assigned_to_id"),
}
RELATED = ("calls", "deals", "leads", "tasks")
GROUPS = ("and", "or", "not")

TEXT_OPS = ("eq", "in", "contains", "startsWith", "isNull")
DATE_OPS = ("gte", "lte", "within", "timeZone", "isNull")
CHOICE_OPS = ("in", "isNull")
OWNER_OPS = ("in", "isNull")
TAG_OPS = ("any", "all", "none")
CALL_KEYS = ("exists", "upcoming", "outcome", "scheduledAt")
DEAL_KEYS = ("exists", "status", "amount", "currency")
LEAD_KEYS = ("exists", "form", "utmSource", "utmCampaign", "createdAt")
TASK_KEYS = ("exists", "overdue", "status")
CALL_OUTCOMES = tuple(o.value for o in CallOutcome)
DEAL_STATUSES = tuple(s.value for s in DealStatus)
TASK_STATUSES = tuple(s.value for s in TaskStatus)
PHONE_LINE_TYPES = (
    "mobile", "landline", "fixedVoip", "nonFixedVoip", "personal", "tollFree", "premium",
    "sharedCost", "uan", "voicemail", "pager", "unknown",
)  # fmt: skip

# Relative ranges: [start, end) in the filter's time zone (default UTC). LAST_n_DAYS are the n
# calendar days ending today (today included); NEXT_n_DAYS the n starting today; weeks start on Monday.
RELATIVE_RANGES = (
    "TODAY", "YESTERDAY", "TOMORROW", "LAST_7_DAYS", "LAST_30_DAYS", "LAST_90_DAYS", "LAST_365_DAYS",
    "NEXT_7_DAYS", "NEXT_30_DAYS", "THIS_WEEK", "LAST_WEEK", "NEXT_WEEK", "THIS_MONTH", "LAST_MONTH",
    "NEXT_MONTH", "THIS_YEAR", "LAST_YEAR",
)  # fmt: skip

# Operators each custom field type allows (the flat CustomFieldFilter input).
CUSTOM_OPS: dict[FieldType, tuple[str, ...]] = {
    FieldType.TEXT: TEXT_OPS,
    FieldType.URL: TEXT_OPS,
    FieldType.EMAIL: TEXT_OPS,
    FieldType.PHONE: TEXT_OPS,
    FieldType.SELECT: ("eq", "in", "isNull"),
    FieldType.MULTI_SELECT: ("any", "all", "none", "isNull"),
    FieldType.NUMBER: ("eq", "gte", "lte", "isNull"),
    FieldType.MONEY: ("eq", "gte", "lte", "currency", "isNull"),
    FieldType.DATE: ("eq", "gte", "lte", "within", "timeZone", "isNull"),
    FieldType.DATETIME: ("gte", "lte", "within", "timeZone", "isNull"),
    FieldType.BOOLEAN: ("eq", "isNull"),
}
CUSTOM_KEYS = frozenset(op for ops in CUSTOM_OPS.values() for op in ops) | {"key"}
# The typed value column per custom field type (crm/models/custom_fields.py).
VALUE_COLUMN = {
    FieldType.TEXT: "value_text",
    FieldType.URL: "value_text",
    FieldType.EMAIL: "value_text",
    FieldType.PHONE: "value_text",
    FieldType.SELECT: "value_text",
    FieldType.MULTI_SELECT: "value_json",
    FieldType.NUMBER: "value_number",
    FieldType.MONEY: "value_number",
    FieldType.DATE: "value_date",
    FieldType.DATETIME: "value_ts",
    FieldType.BOOLEAN: "value_bool",
}

TOP_KEYS = frozenset(
    [*GROUPS, *TEXT_FIELDS, *DATE_FIELDS, *CHOICE_FIELDS, *BOOLEAN_FIELDS, *OWNER_FIELDS, *RELATED]
) | {"tags", "customFields", "lastInteraction", "segment"}


# --------------------------------------------------------------------------------------
# Shape: cheap structural checks, no database
# --------------------------------------------------------------------------------------


def _bad(path: str, message: str) -> BadInput:
    return BadInput(
        f"filter.{path}: {message}" if path else f"filter: {message}", field=f"filter.{path}".rstrip(".")
    )


def _dict(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(path, "must be an object")
    return value


def _only(clause: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
    allowed = tuple(allowed)
    unknown = [k for k in clause if k not in allowed]
    if unknown:
        raise _bad(
            f"{path}.{unknown[0]}", f"unknown operator; {path.split('.')[-1]} allows {', '.join(allowed)}"
        )
    if not clause:
        raise _bad(path, "is empty; give at least one of " + ", ".join(allowed))


def _values(value: Any, path: str, kind: type | tuple[type, ...] = str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(path, "must be a list")
    if not value:
        raise _bad(path, "is empty; give at least one value")
    if len(value) > MAX_VALUES:
        raise _bad(path, f"has {len(value)} values; at most {MAX_VALUES}")
    for item in value:
        _scalar(item, path, kind)
    return value


def _scalar(value: Any, path: str, kind: type | tuple[type, ...] = str) -> Any:
    if isinstance(value, bool) and kind is not bool:
        raise _bad(path, "must not be a boolean")
    if not isinstance(value, kind):
        raise _bad(path, f"has the wrong type ({type(value).__name__})")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise _bad(path, f"is longer than {MAX_TEXT} characters")
    return value


def _bool(value: Any, path: str) -> bool:
    return bool(_scalar(value, path, bool))


def _text_clause(clause: Any, path: str, ops: tuple[str, ...] = TEXT_OPS) -> None:
    clause = _dict(clause, path)
    _only(clause, ops, path)
    for op, value in clause.items():
        if op == "in":
            _values(value, f"{path}.in")
        elif op == "isNull":
            _bool(value, f"{path}.isNull")
        else:
            if not _scalar(value, f"{path}.{op}"):
                raise _bad(f"{path}.{op}", "is empty")


def _date_clause(clause: Any, path: str) -> None:
    clause = _dict(clause, path)
    _only(clause, DATE_OPS, path)
    if set(clause) == {"timeZone"}:
        raise _bad(path, "timeZone alone filters nothing; add within, gte or lte")
    for op, value in clause.items():
        if op == "isNull":
            _bool(value, f"{path}.isNull")
        elif op == "within":
            if value not in RELATIVE_RANGES:
                raise _bad(f"{path}.within", f"{value!r} is not one of {', '.join(RELATIVE_RANGES)}")
        elif op == "timeZone":
            _zone(value, f"{path}.timeZone")
        else:
            parse_time(value, f"{path}.{op}")
    if (
        "gte" in clause
        and "lte" in clause
        and parse_time(clause["gte"], path) > parse_time(clause["lte"], path)
    ):
        raise _bad(path, "gte is after lte: nothing can match")


def _choice_clause(clause: Any, path: str, choices: tuple[str, ...] | None = None) -> None:
    clause = _dict(clause, path)
    _only(clause, CHOICE_OPS, path)
    if "in" in clause:
        values = _values(clause["in"], f"{path}.in")
        if choices is not None:
            for value in values:
                if value not in choices:
                    raise _bad(f"{path}.in", f"{value!r} is not one of {', '.join(choices)}")
    if "isNull" in clause:
        _bool(clause["isNull"], f"{path}.isNull")


def _ids_clause(clause: Any, path: str, ops: tuple[str, ...] = OWNER_OPS) -> None:
    clause = _dict(clause, path)
    _only(clause, ops, path)
    if "in" in clause:
        _values(clause["in"], f"{path}.in", int)
    if "isNull" in clause:
        _bool(clause["isNull"], f"{path}.isNull")


def _related_clause(key: str, clause: Any, path: str) -> None:
    clause = _dict(clause, path)
    keys = {"calls": CALL_KEYS, "deals": DEAL_KEYS, "leads": LEAD_KEYS, "tasks": TASK_KEYS}[key]
    _only(clause, keys, path)
    for op, value in clause.items():
        sub = f"{path}.{op}"
        if op in ("exists", "upcoming", "overdue"):
            _bool(value, sub)
        elif op == "outcome":
            _choice_clause(value, sub, CALL_OUTCOMES)
            if "isNull" in value:
                raise _bad(f"{sub}.isNull", "not allowed here; outcome allows in")
        elif op == "status":
            _choice_clause(value, sub, DEAL_STATUSES if key == "deals" else TASK_STATUSES)
            if "isNull" in value:
                raise _bad(f"{sub}.isNull", "not allowed here; status allows in")
        elif op in ("scheduledAt", "createdAt"):
            _date_clause(value, sub)
            if "isNull" in value:
                raise _bad(f"{sub}.isNull", "not allowed here; use exists")
        elif op == "amount":
            amount = _dict(value, sub)
            _only(amount, ("gte", "lte"), sub)
            low = _decimal(amount["gte"], f"{sub}.gte") if "gte" in amount else None
            high = _decimal(amount["lte"], f"{sub}.lte") if "lte" in amount else None
            if low is not None and high is not None and low > high:
                raise _bad(sub, "gte is above lte: nothing can match")
        elif op == "currency":
            if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
                raise _bad(sub, "must be an ISO 4217 code such as USD")
        elif op == "form":
            _ids_clause(value, sub, ("in",))
        elif op in ("utmSource", "utmCampaign"):
            _text_clause(value, sub)


def _custom_clause(value: Any, path: str) -> None:
    if not isinstance(value, list) or not value:
        raise _bad(path, "must be a non-empty list")
    if len(value) > MAX_VALUES:
        raise _bad(path, f"has {len(value)} entries; at most {MAX_VALUES}")
    for index, entry in enumerate(value):
        sub = f"{path}[{index}]"
        entry = _dict(entry, sub)
        if not isinstance(entry.get("key"), str) or not entry["key"]:
            raise _bad(f"{sub}.key", "is required")
        if len(entry) == 1:
            raise _bad(sub, f"custom field {entry['key']!r}: give an operator")
        unknown = [k for k in entry if k not in CUSTOM_KEYS]
        if unknown:
            raise _bad(f"{sub}.{unknown[0]}", "unknown operator")


def validate_shape(spec: Mapping[str, Any]) -> None:
    """Structural checks that need no database: known keys, operator types, list sizes, nesting
    depth, number of conditions, gte <= lte. Raises BadInput naming the path of the bad part."""
    _shape(spec, "", 1)
    count = visible_filter_count(spec)
    if count > MAX_CONDITIONS:
        raise _bad("", f"has {count} conditions; at most {MAX_CONDITIONS}")


def _shape(spec: Any, path: str, depth: int) -> None:
    spec = _dict(spec, path)
    if depth > MAX_DEPTH:
        raise _bad(path, f"is nested deeper than {MAX_DEPTH} levels of and/or/not")
    here = f"{path}." if path else ""
    for key, clause in spec.items():
        sub = f"{here}{key}"
        if key not in TOP_KEYS:
            raise _bad(sub, "unknown filter field")
        if key in ("and", "or"):
            if not isinstance(clause, list) or not clause:
                raise _bad(sub, "must be a non-empty list of filters")
            if len(clause) > MAX_CONDITIONS:
                raise _bad(sub, f"has {len(clause)} filters; at most {MAX_CONDITIONS}")
            for index, part in enumerate(clause):
                _shape(part, f"{sub}[{index}]", depth + 1)
        elif key == "not":
            _shape(clause, sub, depth + 1)
        elif key in TEXT_FIELDS:
            _text_clause(clause, sub)
        elif key in DATE_FIELDS or key == "lastInteraction":
            _date_clause(clause, sub)
        elif key in CHOICE_FIELDS:
            _choice_clause(clause, sub, PHONE_LINE_TYPES if key == "phoneLineType" else None)
        elif key in BOOLEAN_FIELDS:
            clause = _dict(clause, sub)
            _only(clause, ("eq",), sub)
            _bool(clause["eq"], f"{sub}.eq")
        elif key in OWNER_FIELDS:
            _ids_clause(clause, sub)
        elif key == "tags":
            clause = _dict(clause, sub)
            _only(clause, TAG_OPS, sub)
            for op, values in clause.items():
                _values(values, f"{sub}.{op}")
        elif key in RELATED:
            _related_clause(key, clause, sub)
        elif key == "customFields":
            _custom_clause(clause, sub)
        elif key == "segment":
            _ids_clause(clause, sub, ("in",))


def visible_filter_count(spec: Mapping[str, Any] | None) -> int:
    """The leaf conditions of a filter: what the table shows as filters, one per operator of a
    field (`firstName: {contains, startsWith}` is two), one per custom field operator, one per
    related-record clause and per `segment` (and/or/not only group them)."""
    if not spec:
        return 0
    count = 0
    for key, clause in spec.items():
        if key in ("and", "or") and isinstance(clause, list):
            count += sum(visible_filter_count(part) for part in clause if isinstance(part, Mapping))
        elif key == "not" and isinstance(clause, Mapping):
            count += visible_filter_count(clause)
        elif key == "customFields" and isinstance(clause, list):
            count += sum(
                max(1, len([op for op in entry if op not in ("key", "timeZone", "currency")]))
                for entry in clause
                if isinstance(entry, Mapping)
            )
        elif key in RELATED or key == "segment" or not isinstance(clause, Mapping):
            count += 1
        else:
            count += max(1, len([op for op in clause if op != "timeZone"]))
    return count


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------


def parse_time(value: Any, path: str) -> datetime:
    """An ISO 8601 time with an offset (the domain form's text, or a datetime)."""
    if isinstance(value, datetime):
        found = value
    else:
        if not isinstance(value, str):
            raise _bad(path, "must be an ISO 8601 time with an offset")
        try:
            found = datetime.fromisoformat(value)
        except ValueError:
            raise _bad(path, f"{value!r} is not an ISO 8601 time") from None
    if found.tzinfo is None:
        raise _bad(path, "needs a UTC offset (2026-12-06T09:30:00Z)")
    if out_of_range(found):
        raise _bad(path, f"must lie {RANGE_TEXT}")
    return found.astimezone(UTC)


def _date(value: Any, path: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _bad(path, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _decimal(value: Any, path: str) -> Decimal:
    if isinstance(value, bool):
        raise _bad(path, "must be a number")
    try:
        found = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _bad(path, f"{value!r} is not a number") from None
    if not found.is_finite() or abs(found) >= MAX_NUMBER:
        raise _bad(path, f"must be a number below {MAX_NUMBER:,}")
    return found


def _zone(value: Any, path: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, TypeError, ValueError):
        raise _bad(path, f"{value!r} is not an IANA time zone such as Europe/Paris") from None


def relative_range(name: str, zone: ZoneInfo, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a RelativeRange in `zone`, as UTC times."""
    local = (now or utcnow()).astimezone(zone)
    today = local.date()

    def at(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)

    def month_start(year: int, month: int) -> date:
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        return date(year, month, 1)

    day = timedelta(days=1)
    monday = today - timedelta(days=today.weekday())
    if name.startswith("LAST_") and name.endswith("_DAYS"):
        n = int(name.split("_")[1])
        return at(today - (n - 1) * day), at(today + day)
    if name.startswith("NEXT_") and name.endswith("_DAYS"):
        n = int(name.split("_")[1])
        return at(today), at(today + n * day)
    spans: dict[str, tuple[date, date]] = {
        "TODAY": (today, today + day),
        "YESTERDAY": (today - day, today),
        "TOMORROW": (today + day, today + 2 * day),
        "THIS_WEEK": (monday, monday + 7 * day),
        "LAST_WEEK": (monday - 7 * day, monday),
        "NEXT_WEEK": (monday + 7 * day, monday + 14 * day),
        "THIS_MONTH": (month_start(today.year, today.month), month_start(today.year, today.month + 1)),
        "LAST_MONTH": (month_start(today.year, today.month - 1), month_start(today.year, today.month)),
        "NEXT_MONTH": (month_start(today.year, today.month + 1), month_start(today.year, today.month + 2)),
        "THIS_YEAR": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "LAST_YEAR": (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
    }
    start, end = spans[name]
    return at(start), at(end)


def time_bounds(clause: Mapping[str, Any], path: str) -> tuple[datetime | None, datetime | None, bool]:
    """A DateFilter's (lower bound inclusive, upper bound, upper inclusive?)."""
    low = parse_time(clause["gte"], path) if "gte" in clause else None
    high = parse_time(clause["lte"], path) if "lte" in clause else None
    inclusive = True
    if "within" in clause:
        zone = _zone(clause.get("timeZone", "UTC"), f"{path}.timeZone")
        start, end = relative_range(clause["within"], zone)
        if low is None or start > low:
            low = start
        if high is None or end <= high:
            high, inclusive = end, False
    return low, high, inclusive


def _time_q(column: str, clause: Mapping[str, Any], path: str) -> Q:
    low, high, inclusive = time_bounds(clause, path)
    parts = []
    if low is not None:
        parts.append(Q(**{f"{column}__gte": low}))
    if high is not None:
        parts.append(Q(**{f"{column}__{'lte' if inclusive else 'lt'}": high}))
    if parts:
        parts.insert(0, _present(column))
    if "isNull" in clause:
        parts.append(Q(**{f"{column}__isnull": clause["isNull"]}))
    return _all(parts)


def _present(column: str) -> Q:
    """`column IS NOT NULL`, put before each comparison: SQL compares NULL to nothing (neither
    true nor false), so without it `not: {city: {eq: "Paris"}}` would leave out the contacts
    without a city. With it every condition is true or false, and `not` is exact."""
    return Q(**{f"{column}__isnull": False})


def _all(parts: list[Q]) -> Q:
    return reduce(and_, parts) if parts else Q()


def _any(parts: list[Q]) -> Q:
    return reduce(or_, parts)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _text_q(column: str, clause: Mapping[str, Any], *, phone: bool = False) -> Q:
    parts = [_present(column)] if set(clause) - {"isNull"} else []
    for op, value in clause.items():
        if op == "eq":
            parts.append(Q(**{column: value}))
        elif op == "in":
            parts.append(Q(**{f"{column}__in": value}))
        elif op == "contains":
            digits = _digits(value)
            if phone and digits:  # "+1 (555) 01" finds +1555012...
                parts.append(Q(**{f"{column}__contains": digits}))
            else:
                parts.append(Q(**{f"{column}__icontains": value}))
        elif op == "startsWith":
            parts.append(Q(**{f"{column}__istartswith": value}))
        elif op == "isNull":
            parts.append(Q(**{f"{column}__isnull": value}))
    return _all(parts)


def _member_of(query: QuerySet[Any], column: str = "contact_id") -> Q:
    return Q(id__in=Subquery(query.values(column)))


def _not_member_of(query: QuerySet[Any], column: str = "contact_id") -> Q:
    # contact_id is NOT NULL in every table used here, so NOT IN is exact.
    return ~Q(id__in=Subquery(query.values(column)))


# --------------------------------------------------------------------------------------
# Compiling with the account's data
# --------------------------------------------------------------------------------------


class FilterCompiler:
    """Compiles filters of one account; reads its statuses and custom fields once, so a
    request that compiles many filters (a page of dynamic segments) reuses one."""

    def __init__(self, account: Account, fields_by_key: dict[str, CustomField]) -> None:
        self.account = account
        self.fields = fields_by_key
        self.segments: tuple[int, ...] = ()  # the segments being expanded (cycle guard)

    async def compile(self, spec: Mapping[str, Any], path: str = "") -> Q:
        here = f"{path}." if path else ""
        parts: list[Q] = []
        for key, clause in spec.items():
            sub = f"{here}{key}"
            if key == "and":
                parts.extend([await self.compile(part, f"{sub}[{i}]") for i, part in enumerate(clause)])
            elif key == "or":
                parts.append(_any([await self.compile(part, f"{sub}[{i}]") for i, part in enumerate(clause)]))
            elif key == "not":
                parts.append(~(await self.compile(clause, sub)))
            elif key in TEXT_FIELDS:
                parts.append(_text_q(TEXT_FIELDS[key], clause, phone=key in PHONE_FIELDS))
            elif key in DATE_FIELDS:
                parts.append(_time_q(DATE_FIELDS[key], clause, sub))
            elif key in CHOICE_FIELDS:
                self._check_choices(key, clause, sub)
                parts.append(_choice_q(CHOICE_FIELDS[key], clause))
            elif key in BOOLEAN_FIELDS:
                parts.append(Q(**{BOOLEAN_FIELDS[key]: clause["eq"]}))
            elif key in OWNER_FIELDS:
                parts.append(_owner_q(OWNER_FIELDS[key], clause))
            elif key == "tags":
                parts.append(await self._tags_q(clause))
            elif key == "customFields":
                for index, entry in enumerate(clause):
                    parts.append(self._custom_q(entry, f"{sub}[{index}]"))
            elif key == "calls":
                parts.append(_exists(clause, _calls(clause, sub)))
            elif key == "deals":
                parts.append(_exists(clause, _deals(clause)))
            elif key == "leads":
                parts.append(_exists(clause, self._leads(clause, sub)))
            elif key == "tasks":
                parts.append(_exists(clause, _tasks(clause)))
            elif key == "lastInteraction":
                parts.append(_last_interaction_q(clause, sub))
            elif key == "segment":
                parts.append(await self._segment_q(clause["in"], sub))
        return _all(parts)

    def _check_choices(self, key: str, clause: Mapping[str, Any], path: str) -> None:
        allowed = self._choices(key)
        if allowed is None:
            return
        for value in clause.get("in", ()):
            if value not in allowed:
                shown = ", ".join(allowed) if len(allowed) <= 20 else ", ".join(allowed[:20]) + ", ..."
                raise _bad(f"{path}.in", f"{value!r} is not one of the account's values for {key}: {shown}")

    def _choices(self, key: str) -> list[str] | None:
        statuses = self.account.statuses or []
        if key == "status":
            return [s["name"] for s in statuses]
        if key == "subStatus":
            return sorted({sub for s in statuses for sub in s.get("subStatuses", [])})
        if key in ("leadSource", "actionPlan", "salesCycle"):
            return values_of(self.account, HEADER_BY_API[key])
        return None

    async def _tags_q(self, clause: Mapping[str, Any]) -> Q:
        # The names' tag ids first (one small query): `contact_tag WHERE tag_id IN (...)` is an
        # index range the planner sizes from tag_id's statistics; joined to `tag` by key it
        # guessed one row per tag and probed contacts one by one (bench/filters.py at 1M).
        wanted = {name.strip().lower() for op in TAG_OPS for name in clause.get(op, ())}
        ids = dict(
            await Tag.filter(account_id=self.account.id, key__in=sorted(wanted)).values_list("key", "id")
        )

        def tagged(names: list[str]) -> QuerySet[Any]:
            found = sorted({ids[k] for k in {name.strip().lower() for name in names} if k in ids})
            return ContactTag.filter(tag_id__in=found or [0])  # 0: no tag has it, nothing matches

        parts = []
        if "any" in clause:
            parts.append(_member_of(tagged(clause["any"])))
        if clause.get("all"):
            # One subquery, each tag nested in the previous one's contacts: the planner intersects
            # the tags' (tag_id, contact_id) index ranges before it looks at any contact, instead
            # of joining every contact of each tag on its own (bench/filters.py: 4k of 1M
            # contacts tagged both VIP and Enterprise, 48k each).
            names = sorted({name.strip().lower() for name in clause["all"]})
            both = tagged([names[0]])
            for name in names[1:]:
                both = tagged([name]).filter(contact_id__in=Subquery(both.values("contact_id")))
            parts.append(_member_of(both))
        if "none" in clause:
            parts.append(_not_member_of(tagged(clause["none"])))
        return _all(parts)

    def _custom_q(self, entry: Mapping[str, Any], path: str) -> Q:
        key = entry["key"]
        found = self.fields.get(key)
        if found is None:
            raise _bad(f"{path}.key", f"no custom field with key {key!r} in this account")
        kind = FieldType(found.type)
        allowed = CUSTOM_OPS[kind]
        for op in entry:
            if op != "key" and op not in allowed:
                raise _bad(
                    f"{path}.{op}", f"custom field {key!r} is {kind.value}: it allows {', '.join(allowed)}"
                )
        column = VALUE_COLUMN[kind]
        values = CustomFieldValue.filter(field_id=found.id)
        conditions = {op: value for op, value in entry.items() if op not in ("key", "isNull")}
        parts = []
        if kind is FieldType.MULTI_SELECT and conditions:
            self._custom_values(values, kind, found, column, conditions, path)  # checks the options
            parts.append(_multi_select_q(values, conditions))
        elif conditions:
            parts.append(_member_of(self._custom_values(values, kind, found, column, conditions, path)))
        if "isNull" in entry:
            has = values.filter(**{f"{column}__isnull": False})
            parts.append(_not_member_of(has) if _bool(entry["isNull"], f"{path}.isNull") else _member_of(has))
        return _all(parts)

    def _custom_values(
        self,
        values: QuerySet[Any],
        kind: FieldType,
        found: CustomField,
        column: str,
        ops: Mapping[str, Any],
        path: str,
    ) -> QuerySet[Any]:
        key = found.key
        if kind in (FieldType.TEXT, FieldType.URL, FieldType.EMAIL, FieldType.PHONE):
            _text_clause(ops, path)
            return values.filter(_text_q(column, ops, phone=kind is FieldType.PHONE))
        if kind in (FieldType.SELECT, FieldType.MULTI_SELECT):
            options = list(found.options or [])
            for op, value in ops.items():
                for option in [value] if op == "eq" else _values(value, f"{path}.{op}"):
                    if option not in options:
                        raise _bad(
                            f"{path}.{op}", f"{option!r} is not an option of {key!r}: {', '.join(options)}"
                        )
            if kind is FieldType.SELECT:
                if "eq" in ops:
                    values = values.filter(value_text=ops["eq"])
                if "in" in ops:
                    values = values.filter(value_text__in=ops["in"])
                return values
            return values  # MULTI_SELECT: compiled by _multi_select_q on the contact
        if kind in (FieldType.NUMBER, FieldType.MONEY):
            if "eq" in ops:
                values = values.filter(value_number=_decimal(ops["eq"], f"{path}.eq"))
            low = _decimal(ops["gte"], f"{path}.gte") if "gte" in ops else None
            high = _decimal(ops["lte"], f"{path}.lte") if "lte" in ops else None
            if low is not None and high is not None and low > high:
                raise _bad(path, "gte is above lte: nothing can match")
            if low is not None:
                values = values.filter(value_number__gte=low)
            if high is not None:
                values = values.filter(value_number__lte=high)
            if "currency" in ops:
                currency = ops["currency"]
                if not isinstance(currency, str) or len(currency) != 3:
                    raise _bad(f"{path}.currency", "must be an ISO 4217 code such as USD")
                values = values.filter(value_currency=currency.upper())
            return values
        if kind is FieldType.BOOLEAN:
            return values.filter(value_bool=_bool(ops["eq"], f"{path}.eq"))
        if kind is FieldType.DATE:
            if "eq" in ops:
                values = values.filter(value_date=_date(ops["eq"], f"{path}.eq"))
            low = _date(ops["gte"], f"{path}.gte") if "gte" in ops else None
            high = _date(ops["lte"], f"{path}.lte") if "lte" in ops else None
            if low is not None and high is not None and low > high:
                raise _bad(path, "gte is after lte: nothing can match")
            if "within" in ops:
                if ops["within"] not in RELATIVE_RANGES:
                    raise _bad(
                        f"{path}.within", f"{ops['within']!r} is not one of {', '.join(RELATIVE_RANGES)}"
                    )
                zone = _zone(ops.get("timeZone", "UTC"), f"{path}.timeZone")
                start, end = relative_range(ops["within"], zone)
                # The range's calendar days in its zone: [first day, last day].
                values = values.filter(
                    value_date__gte=start.astimezone(zone).date(),
                    value_date__lt=end.astimezone(zone).date(),
                )
            if low is not None:
                values = values.filter(value_date__gte=low)
            if high is not None:
                values = values.filter(value_date__lte=high)
            return values
        # DATETIME
        _date_clause(ops, path)
        return values.filter(_time_q("value_ts", ops, path))

    def _leads(self, clause: Mapping[str, Any], path: str) -> QuerySet[Any]:
        leads = Lead.filter(account_id=self.account.id)
        if "form" in clause:
            leads = leads.filter(form_id__in=clause["form"]["in"])
        for key, column in (("utmSource", "source"), ("utmCampaign", "campaign")):
            if key in clause:
                leads = leads.filter(
                    id__in=Subquery(Utm.filter(_text_q(column, clause[key])).values("lead_id"))
                )
        if "createdAt" in clause:
            leads = leads.filter(_time_q("created_at", clause["createdAt"], f"{path}.createdAt"))
        return leads

    async def _segment_q(self, ids: list[int], path: str) -> Q:
        rows = await Segment.filter(account_id=self.account.id, id__in=ids).all()
        found = {row.id: row for row in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise _bad(f"{path}.in", f"no segment with id {missing[0]} in this account")
        parts = []
        static = [i for i in ids if found[i].kind != DYNAMIC]
        if static:
            parts.append(_member_of(SegmentMember.filter(segment_id__in=static)))
        for segment_id in (i for i in ids if found[i].kind == DYNAMIC):
            if segment_id in self.segments:
                raise _bad(
                    f"{path}.in", f"segment {found[segment_id].name!r} refers to itself through its filter"
                )
            if len(self.segments) >= MAX_SEGMENT_HOPS:
                raise _bad(
                    f"{path}.in", f"segments refer to segments more than {MAX_SEGMENT_HOPS} levels deep"
                )
            spec = found[segment_id].filter_spec or {}
            self.segments = (*self.segments, segment_id)
            try:
                validate_shape(spec)
                parts.append(await self.compile(spec, f"{path}<segment {segment_id}>"))
            finally:
                self.segments = self.segments[:-1]
        return _any(parts)


def _choice_q(column: str, clause: Mapping[str, Any]) -> Q:
    parts = []
    if "in" in clause:
        parts.append(_present(column) & Q(**{f"{column}__in": clause["in"]}))
    if "isNull" in clause:
        parts.append(Q(**{f"{column}__isnull": clause["isNull"]}))
    return _all(parts)


def _owner_q(columns: tuple[str, ...], clause: Mapping[str, Any]) -> Q:
    parts = []
    if "in" in clause:
        parts.append(_any([_present(c) & Q(**{f"{c}__in": clause["in"]}) for c in columns]))
    if "isNull" in clause:
        everyone_null = _all([Q(**{f"{c}__isnull": True}) for c in columns])
        parts.append(everyone_null if clause["isNull"] else ~everyone_null)
    return _all(parts)


def _exists(clause: Mapping[str, Any], records: QuerySet[Any]) -> Q:
    return _member_of(records) if clause.get("exists", True) else _not_member_of(records)


def _calls(clause: Mapping[str, Any], path: str) -> QuerySet[Any]:
    calls = Call.all()
    if "upcoming" in clause:
        # As the card's Call.isUpcoming: the start time is still ahead.
        now = utcnow()
        calls = (
            calls.filter(scheduled_at__gt=now) if clause["upcoming"] else calls.filter(scheduled_at__lte=now)
        )
    if "outcome" in clause:
        calls = calls.filter(outcome__in=clause["outcome"]["in"])
    if "scheduledAt" in clause:
        calls = calls.filter(_time_q("scheduled_at", clause["scheduledAt"], f"{path}.scheduledAt"))
    return calls


def _deals(clause: Mapping[str, Any]) -> QuerySet[Any]:
    deals = Deal.all()
    if "status" in clause:
        deals = deals.filter(status__in=clause["status"]["in"])
    amount = clause.get("amount", {})
    if "gte" in amount:
        deals = deals.filter(amount__gte=Decimal(str(amount["gte"])))
    if "lte" in amount:
        deals = deals.filter(amount__lte=Decimal(str(amount["lte"])))
    if "currency" in clause:
        deals = deals.filter(currency=clause["currency"].upper())
    return deals


def _tasks(clause: Mapping[str, Any]) -> QuerySet[Any]:
    tasks = Task.all()
    if "status" in clause:
        tasks = tasks.filter(status__in=clause["status"]["in"])
    if "overdue" in clause:
        # Overdue: still OPEN with its due time passed (as the card's upcoming actions see it).
        overdue = Q(status="OPEN", due_at__lt=utcnow())
        tasks = tasks.filter(overdue if clause["overdue"] else ~overdue)
    return tasks


_INTERACTION_TIMES = ("scheduled_at", "created_at", "submitted_at")


def _interactions() -> list[QuerySet[Any]]:
    """The communications that happened, one query per table, with their times' columns in
    _INTERACTION_TIMES: calls once logged or given an outcome, messages, web-form leads."""
    happened = Q(direction__isnull=False) | Q(outcome__isnull=False)
    return [Call.filter(happened), Message.all(), Lead.all()]


def _last_interaction_q(clause: Mapping[str, Any], path: str) -> Q:
    """The newest interaction lies in the range: one lies in it and none after it."""
    low, high, inclusive = time_bounds(clause, path)
    parts = []
    if low is not None or high is not None:
        within = []
        for query, column in zip(_interactions(), _INTERACTION_TIMES, strict=True):
            if low is not None:
                query = query.filter(**{f"{column}__gte": low})
            if high is not None:
                query = query.filter(**{f"{column}__{'lte' if inclusive else 'lt'}": high})
            within.append(_member_of(query))
        parts.append(_any(within))
    if high is not None:
        for query, column in zip(_interactions(), _INTERACTION_TIMES, strict=True):
            parts.append(_not_member_of(query.filter(**{f"{column}__{'gt' if inclusive else 'gte'}": high})))
    if "isNull" in clause:
        anything = _any([_member_of(query) for query in _interactions()])
        parts.append(~anything if clause["isNull"] else anything)
    return _all(parts)


async def filter_compiler(account_id: int) -> FilterCompiler:
    """A compiler for the account's filters: `await compiler.compile(spec)` gives the condition
    on Contact (call validate_shape(spec) first)."""
    account = await Account.get(id=account_id)
    fields_by_key = {f.key: f for f in await CustomField.filter(account_id=account_id)}
    return FilterCompiler(account, fields_by_key)


_compiler = filter_compiler  # the name graph/resolvers/segments_loaders.py imports


async def compile_filter(account_id: int, spec: Mapping[str, Any] | None) -> Q:
    """The filter as a condition on Contact (validated; BadInput names the bad part)."""
    if not spec:
        return Q()
    validate_shape(spec)
    return await (await filter_compiler(account_id)).compile(spec)


async def matching_contacts(
    account_id: int,
    spec: Mapping[str, Any] | None,
    *,
    archived: bool | None = False,
    search: str | None = None,
) -> QuerySet[Contact]:
    """The account's contacts the filter matches. archived False: live only; True: archived
    only; None: both. `search` as the contacts list's (names, emails, phones)."""
    contacts = Contact.filter(account_id=account_id)
    if archived is not None:
        contacts = contacts.filter(archived_at__isnull=not archived)
    if search is not None:
        condition = search_condition(search)
        if condition is not None:
            contacts = contacts.filter(condition)
    if spec:
        contacts = contacts.filter(await compile_filter(account_id, spec))
    return contacts


def _multi_select_q(values: QuerySet[Any], ops: Mapping[str, Any]) -> Q:
    """MULTI_SELECT: `any` holds one of, `all` holds each of, `none` holds none of the options
    (a contact without a value holds none)."""
    parts = []
    if "any" in ops:
        parts.append(_member_of(json_array_holds_any(values, ops["any"], "holds_any")))
    for index, option in enumerate(ops.get("all", ())):
        parts.append(_member_of(json_array_holds_any(values, [option], f"holds_{index}")))
    if "none" in ops:
        parts.append(_not_member_of(json_array_holds_any(values, ops["none"], "holds_none")))
    return _all(parts)
