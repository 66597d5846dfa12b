"""The vocabulary of contact filters and their structural checks, no database (issue 14, D6).

The domain form (crm/contact_filters.py) uses these keys and operators; `validate_shape` checks a
filter before it is compiled or stored (a view, a segment), naming the path of a bad part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm.clock import RANGE_TEXT, out_of_range, utcnow
from crm.custom_values import FieldType
from crm.errors import BadInput
from crm.services.calls import CallOutcome
from crm.services.deals import DealStatus
from crm.services.tasks import TaskStatus

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


def bad_part(path: str, message: str) -> BadInput:
    return BadInput(
        f"filter.{path}: {message}" if path else f"filter: {message}", field=f"filter.{path}".rstrip(".")
    )


def _dict(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise bad_part(path, "must be an object")
    return value


def _only(clause: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
    allowed = tuple(allowed)
    unknown = [k for k in clause if k not in allowed]
    if unknown:
        raise bad_part(
            f"{path}.{unknown[0]}", f"unknown operator; {path.split('.')[-1]} allows {', '.join(allowed)}"
        )
    if not clause:
        raise bad_part(path, "is empty; give at least one of " + ", ".join(allowed))


def value_list(value: Any, path: str, kind: type | tuple[type, ...] = str) -> list[Any]:
    if not isinstance(value, list):
        raise bad_part(path, "must be a list")
    if not value:
        raise bad_part(path, "is empty; give at least one value")
    if len(value) > MAX_VALUES:
        raise bad_part(path, f"has {len(value)} values; at most {MAX_VALUES}")
    for item in value:
        scalar(item, path, kind)
    return value


def scalar(value: Any, path: str, kind: type | tuple[type, ...] = str) -> Any:
    if isinstance(value, bool) and kind is not bool:
        raise bad_part(path, "must not be a boolean")
    if not isinstance(value, kind):
        raise bad_part(path, f"has the wrong type ({type(value).__name__})")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise bad_part(path, f"is longer than {MAX_TEXT} characters")
    return value


def boolean(value: Any, path: str) -> bool:
    return bool(scalar(value, path, bool))


def check_text(clause: Any, path: str, ops: tuple[str, ...] = TEXT_OPS) -> None:
    clause = _dict(clause, path)
    _only(clause, ops, path)
    for op, value in clause.items():
        if op == "in":
            value_list(value, f"{path}.in")
        elif op == "isNull":
            boolean(value, f"{path}.isNull")
        else:
            if not scalar(value, f"{path}.{op}"):
                raise bad_part(f"{path}.{op}", "is empty")


def check_times(clause: Any, path: str) -> None:
    clause = _dict(clause, path)
    _only(clause, DATE_OPS, path)
    if set(clause) == {"timeZone"}:
        raise bad_part(path, "timeZone alone filters nothing; add within, gte or lte")
    for op, value in clause.items():
        if op == "isNull":
            boolean(value, f"{path}.isNull")
        elif op == "within":
            if value not in RELATIVE_RANGES:
                raise bad_part(f"{path}.within", f"{value!r} is not one of {', '.join(RELATIVE_RANGES)}")
        elif op == "timeZone":
            time_zone(value, f"{path}.timeZone")
        else:
            parse_time(value, f"{path}.{op}")
    if (
        "gte" in clause
        and "lte" in clause
        and parse_time(clause["gte"], path) > parse_time(clause["lte"], path)
    ):
        raise bad_part(path, "gte is after lte: nothing can match")


def _choice_clause(clause: Any, path: str, choices: tuple[str, ...] | None = None) -> None:
    clause = _dict(clause, path)
    _only(clause, CHOICE_OPS, path)
    if "in" in clause:
        values = value_list(clause["in"], f"{path}.in")
        if choices is not None:
            for value in values:
                if value not in choices:
                    raise bad_part(f"{path}.in", f"{value!r} is not one of {', '.join(choices)}")
    if "isNull" in clause:
        boolean(clause["isNull"], f"{path}.isNull")


def _ids_clause(clause: Any, path: str, ops: tuple[str, ...] = OWNER_OPS) -> None:
    clause = _dict(clause, path)
    _only(clause, ops, path)
    if "in" in clause:
        value_list(clause["in"], f"{path}.in", int)
    if "isNull" in clause:
        boolean(clause["isNull"], f"{path}.isNull")


def _related_clause(key: str, clause: Any, path: str) -> None:
    clause = _dict(clause, path)
    keys = {"calls": CALL_KEYS, "deals": DEAL_KEYS, "leads": LEAD_KEYS, "tasks": TASK_KEYS}[key]
    _only(clause, keys, path)
    for op, value in clause.items():
        sub = f"{path}.{op}"
        if op in ("exists", "upcoming", "overdue"):
            boolean(value, sub)
        elif op == "outcome":
            _choice_clause(value, sub, CALL_OUTCOMES)
            if "isNull" in value:
                raise bad_part(f"{sub}.isNull", "not allowed here; outcome allows in")
        elif op == "status":
            _choice_clause(value, sub, DEAL_STATUSES if key == "deals" else TASK_STATUSES)
            if "isNull" in value:
                raise bad_part(f"{sub}.isNull", "not allowed here; status allows in")
        elif op in ("scheduledAt", "createdAt"):
            check_times(value, sub)
            if "isNull" in value:
                raise bad_part(f"{sub}.isNull", "not allowed here; use exists")
        elif op == "amount":
            amount = _dict(value, sub)
            _only(amount, ("gte", "lte"), sub)
            low = number(amount["gte"], f"{sub}.gte") if "gte" in amount else None
            high = number(amount["lte"], f"{sub}.lte") if "lte" in amount else None
            if low is not None and high is not None and low > high:
                raise bad_part(sub, "gte is above lte: nothing can match")
        elif op == "currency":
            if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
                raise bad_part(sub, "must be an ISO 4217 code such as USD")
        elif op == "form":
            _ids_clause(value, sub, ("in",))
        elif op in ("utmSource", "utmCampaign"):
            check_text(value, sub)


def _custom_clause(value: Any, path: str) -> None:
    if not isinstance(value, list) or not value:
        raise bad_part(path, "must be a non-empty list")
    if len(value) > MAX_VALUES:
        raise bad_part(path, f"has {len(value)} entries; at most {MAX_VALUES}")
    for index, entry in enumerate(value):
        sub = f"{path}[{index}]"
        entry = _dict(entry, sub)
        if not isinstance(entry.get("key"), str) or not entry["key"]:
            raise bad_part(f"{sub}.key", "is required")
        if len(entry) == 1:
            raise bad_part(sub, f"custom field {entry['key']!r}: give an operator")
        unknown = [k for k in entry if k not in CUSTOM_KEYS]
        if unknown:
            raise bad_part(f"{sub}.{unknown[0]}", "unknown operator")


def validate_shape(spec: Mapping[str, Any]) -> None:
    """Structural checks that need no database: known keys, operator types, list sizes, nesting
    depth, number of conditions, gte <= lte. Raises BadInput naming the path of the bad part."""
    _shape(spec, "", 1)
    count = visible_filter_count(spec)
    if count > MAX_CONDITIONS:
        raise bad_part("", f"has {count} conditions; at most {MAX_CONDITIONS}")


def _shape(spec: Any, path: str, depth: int) -> None:
    spec = _dict(spec, path)
    if depth > MAX_DEPTH:
        raise bad_part(path, f"is nested deeper than {MAX_DEPTH} levels of and/or/not")
    here = f"{path}." if path else ""
    for key, clause in spec.items():
        sub = f"{here}{key}"
        if key not in TOP_KEYS:
            raise bad_part(sub, "unknown filter field")
        if key in ("and", "or"):
            if not isinstance(clause, list) or not clause:
                raise bad_part(sub, "must be a non-empty list of filters")
            if len(clause) > MAX_CONDITIONS:
                raise bad_part(sub, f"has {len(clause)} filters; at most {MAX_CONDITIONS}")
            for index, part in enumerate(clause):
                _shape(part, f"{sub}[{index}]", depth + 1)
        elif key == "not":
            _shape(clause, sub, depth + 1)
        elif key in TEXT_FIELDS:
            check_text(clause, sub)
        elif key in DATE_FIELDS or key == "lastInteraction":
            check_times(clause, sub)
        elif key in CHOICE_FIELDS:
            _choice_clause(clause, sub, PHONE_LINE_TYPES if key == "phoneLineType" else None)
        elif key in BOOLEAN_FIELDS:
            clause = _dict(clause, sub)
            _only(clause, ("eq",), sub)
            boolean(clause["eq"], f"{sub}.eq")
        elif key in OWNER_FIELDS:
            _ids_clause(clause, sub)
        elif key == "tags":
            clause = _dict(clause, sub)
            _only(clause, TAG_OPS, sub)
            for op, values in clause.items():
                value_list(values, f"{sub}.{op}")
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
            raise bad_part(path, "must be an ISO 8601 time with an offset")
        try:
            found = datetime.fromisoformat(value)
        except ValueError:
            raise bad_part(path, f"{value!r} is not an ISO 8601 time") from None
    if found.tzinfo is None:
        raise bad_part(path, "needs a UTC offset (2026-12-06T09:30:00Z)")
    if out_of_range(found):
        raise bad_part(path, f"must lie {RANGE_TEXT}")
    return found.astimezone(UTC)


def day(value: Any, path: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise bad_part(path, f"{value!r} is not a date (YYYY-MM-DD)") from None


def number(value: Any, path: str) -> Decimal:
    if isinstance(value, bool):
        raise bad_part(path, "must be a number")
    try:
        found = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise bad_part(path, f"{value!r} is not a number") from None
    if not found.is_finite() or abs(found) >= MAX_NUMBER:
        raise bad_part(path, f"must be a number below {MAX_NUMBER:,}")
    return found


def time_zone(value: Any, path: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, TypeError, ValueError):
        raise bad_part(path, f"{value!r} is not an IANA time zone such as Europe/Paris") from None


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
        zone = time_zone(clause.get("timeZone", "UTC"), f"{path}.timeZone")
        start, end = relative_range(clause["within"], zone)
        if low is None or start > low:
            low = start
        if high is None or end <= high:
            high, inclusive = end, False
    return low, high, inclusive
