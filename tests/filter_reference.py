"""An in-Python reference of the contacts filter (crm/contact_filters.py), over rows read back
from the database: tests/test_contact_filters.py compares the API's answer with it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from crm.contact_filters import relative_range
from crm.models import (
    Call,
    Contact,
    ContactTag,
    CustomField,
    CustomFieldValue,
    Deal,
    Lead,
    Message,
    Segment,
    SegmentMember,
    Task,
    Utm,
)


def as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class World:
    contacts: list[dict[str, Any]]
    tags: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    custom: dict[int, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    field_types: dict[str, str] = field(default_factory=dict)
    calls: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    deals: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    leads: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    utms: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    tasks: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    interactions: dict[int, list[datetime]] = field(default_factory=lambda: defaultdict(list))
    segments: dict[int, dict[str, Any]] = field(default_factory=dict)
    members: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def last_interaction(self, cid: int) -> datetime | None:
        found = self.interactions.get(cid)
        return max(found) if found else None

    def deal_total(self, cid: int) -> Decimal | None:
        amounts = [d["amount"] for d in self.deals.get(cid, []) if d["status"] in ("OPEN", "WON")]
        return sum(amounts, Decimal(0)) if amounts else None


async def load_world(account_id: int) -> World:
    contacts = await Contact.filter(account_id=account_id).order_by("id").values()
    world = World(contacts)
    ids = [c["id"] for c in contacts]
    for row in await ContactTag.filter(contact_id__in=ids).values("contact_id", "tag__key"):
        world.tags[row["contact_id"]].add(row["tag__key"])
    fields = {f.id: f for f in await CustomField.filter(account_id=account_id)}
    world.field_types = {f.key: f.type for f in fields.values()}
    for row in await CustomFieldValue.filter(contact_id__in=ids).values():
        world.custom[row["contact_id"]][fields[row["field_id"]].key] = row
    for row in await Call.filter(contact_id__in=ids).values():
        world.calls[row["contact_id"]].append(row)
        if row["direction"] is not None or row["outcome"] is not None:
            world.interactions[row["contact_id"]].append(as_utc(row["scheduled_at"]))
    for row in await Deal.filter(contact_id__in=ids).values():
        world.deals[row["contact_id"]].append(row)
    for row in await Lead.filter(contact_id__in=ids).values():
        world.leads[row["contact_id"]].append(row)
        world.interactions[row["contact_id"]].append(as_utc(row["submitted_at"]))
    for row in await Utm.filter(contact_id__in=ids).values():
        world.utms[row["lead_id"]].append(row)
    for row in await Task.filter(contact_id__in=ids).values():
        world.tasks[row["contact_id"]].append(row)
    for row in await Message.filter(contact_id__in=ids).values("contact_id", "created_at"):
        world.interactions[row["contact_id"]].append(as_utc(row["created_at"]))
    for segment in await Segment.filter(account_id=account_id).values():
        world.segments[segment["id"]] = segment
    for row in await SegmentMember.all().values("segment_id", "contact_id"):
        world.members[row["segment_id"]].add(row["contact_id"])
    return world


TEXT = {
    "firstName": "first_name", "lastName": "last_name", "businessName": "business_name", "title": "title",
    "contactType": "contact_type", "email": "email", "secondaryEmail": "secondary_email", "phone": "phone",
    "secondaryPhone": "secondary_phone", "street": "street", "city": "city", "state": "state", "zip": "zip",
    "country": "country",
}  # fmt: skip
DATES = {
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "convertedAt": "converted_at",
    "archivedAt": "archived_at",
}
CHOICES = {
    "status": "status", "subStatus": "sub_status", "leadSource": "lead_source", "actionPlan": "action_plan",
    "salesCycle": "sales_cycle", "phoneLineType": "phone_line_type",
}  # fmt: skip
BOOLS = {
    "okToSms": "ok_to_sms",
    "privacyOptIn": "privacy_opt_in",
    "communicationOptIn": "communication_opt_in",
}
OWNERS = {
    "setterOwner": ("setter_owner_id",),
    "closerOwner": ("closer_owner_id",),
    "assignedTo": ("assigned_to_id",),
    "owner": ("setter_owner_id", "closer_owner_id", "assigned_to_id"),
}


def text_ok(value: str | None, clause: Mapping[str, Any], phone: bool = False) -> bool:
    for op, arg in clause.items():
        if op == "isNull":
            if (value is None) != arg:
                return False
        elif value is None or (op == "eq" and value != arg) or (op == "in" and value not in arg):
            return False
        elif op == "contains":
            digits = "".join(ch for ch in arg if ch.isdigit())
            if phone and digits:
                if digits not in value:
                    return False
            elif arg.lower() not in value.lower():
                return False
        elif op == "startsWith" and not value.lower().startswith(arg.lower()):
            return False
    return True


def time_range(clause: Mapping[str, Any], now: datetime) -> tuple[datetime | None, datetime | None, bool]:
    low = as_utc(clause["gte"]) if "gte" in clause else None
    high = as_utc(clause["lte"]) if "lte" in clause else None
    inclusive = True
    if "within" in clause:
        start, end = relative_range(clause["within"], ZoneInfo(clause.get("timeZone", "UTC")), now)
        low = start if low is None or start > low else low
        if high is None or end <= high:
            high, inclusive = end, False
    return low, high, inclusive


def time_ok(value: Any, clause: Mapping[str, Any], now: datetime) -> bool:
    value = as_utc(value)
    if "isNull" in clause and (value is None) != clause["isNull"]:
        return False
    low, high, inclusive = time_range(clause, now)
    if (low is not None or high is not None) and value is None:
        return False
    if low is not None and value < low:
        return False
    return not (high is not None and (value > high if inclusive else value >= high))


def matches(world: World, spec: Mapping[str, Any], c: dict[str, Any]) -> bool:
    cid = c["id"]
    for key, clause in spec.items():
        if key == "and":
            ok = all(matches(world, part, c) for part in clause)
        elif key == "or":
            ok = any(matches(world, part, c) for part in clause)
        elif key == "not":
            ok = not matches(world, clause, c)
        elif key in TEXT:
            ok = text_ok(c[TEXT[key]], clause, key in ("phone", "secondaryPhone"))
        elif key in DATES:
            ok = time_ok(c[DATES[key]], clause, world.now)
        elif key in CHOICES:
            value = c[CHOICES[key]]
            ok = ("in" not in clause or value in clause["in"]) and (
                "isNull" not in clause or (value is None) == clause["isNull"]
            )
        elif key in BOOLS:
            ok = bool(c[BOOLS[key]]) == clause["eq"]
        elif key in OWNERS:
            values = [c[col] for col in OWNERS[key]]
            ok = ("in" not in clause or any(v in clause["in"] for v in values)) and (
                "isNull" not in clause or all(v is None for v in values) == clause["isNull"]
            )
        elif key == "tags":
            tags = world.tags.get(cid, set())
            ok = (
                ("any" not in clause or bool(tags & {t.lower() for t in clause["any"]}))
                and all(t.lower() in tags for t in clause.get("all", ()))
                and not tags & {t.lower() for t in clause.get("none", ())}
            )
        elif key == "customFields":
            ok = all(custom_ok(world, entry, cid) for entry in clause)
        elif key == "calls":
            ok = related(clause, [x for x in world.calls.get(cid, []) if call_ok(world, x, clause)])
        elif key == "deals":
            ok = related(clause, [x for x in world.deals.get(cid, []) if deal_ok(x, clause)])
        elif key == "leads":
            ok = related(clause, [x for x in world.leads.get(cid, []) if lead_ok(world, x, clause)])
        elif key == "tasks":
            ok = related(clause, [x for x in world.tasks.get(cid, []) if task_ok(world, x, clause)])
        elif key == "lastInteraction":
            ok = time_ok(world.last_interaction(cid), clause, world.now)
        elif key == "segment":
            ok = any(in_segment(world, s, c) for s in clause["in"])
        else:
            raise AssertionError(key)
        if not ok:
            return False
    return True


def in_segment(world: World, segment_id: int, c: dict[str, Any]) -> bool:
    segment = world.segments[segment_id]
    if segment["kind"] == "DYNAMIC":
        return matches(world, segment["filter_spec"] or {}, c)
    return c["id"] in world.members.get(segment_id, set())


def related(clause: Mapping[str, Any], found: list[Any]) -> bool:
    return bool(found) == clause.get("exists", True)


def call_ok(world: World, call: dict[str, Any], clause: Mapping[str, Any]) -> bool:
    at = as_utc(call["scheduled_at"])
    if "upcoming" in clause and (at > world.now) != clause["upcoming"]:
        return False
    if "outcome" in clause and call["outcome"] not in clause["outcome"]["in"]:
        return False
    return "scheduledAt" not in clause or time_ok(at, clause["scheduledAt"], world.now)


def deal_ok(deal: dict[str, Any], clause: Mapping[str, Any]) -> bool:
    if "status" in clause and deal["status"] not in clause["status"]["in"]:
        return False
    amount = clause.get("amount", {})
    if "gte" in amount and deal["amount"] < Decimal(str(amount["gte"])):
        return False
    if "lte" in amount and deal["amount"] > Decimal(str(amount["lte"])):
        return False
    return "currency" not in clause or deal["currency"] == clause["currency"].upper()


def lead_ok(world: World, lead: dict[str, Any], clause: Mapping[str, Any]) -> bool:
    if "form" in clause and lead["form_id"] not in clause["form"]["in"]:
        return False
    utms = world.utms.get(lead["id"], [])
    for key, column in (("utmSource", "source"), ("utmCampaign", "campaign")):
        if key in clause and not any(text_ok(u[column], clause[key]) for u in utms):
            return False
    return "createdAt" not in clause or time_ok(lead["created_at"], clause["createdAt"], world.now)


def task_ok(world: World, task: dict[str, Any], clause: Mapping[str, Any]) -> bool:
    if "status" in clause and task["status"] not in clause["status"]["in"]:
        return False
    if "overdue" in clause:
        due = as_utc(task["due_at"])
        overdue = task["status"] == "OPEN" and due is not None and due < world.now
        if overdue != clause["overdue"]:
            return False
    return True


COLUMN = {
    "TEXT": "value_text", "URL": "value_text", "EMAIL": "value_text", "PHONE": "value_text",
    "SELECT": "value_text", "MULTI_SELECT": "value_json", "NUMBER": "value_number", "MONEY": "value_number",
    "DATE": "value_date", "DATETIME": "value_ts", "BOOLEAN": "value_bool",
}  # fmt: skip


def custom_ok(world: World, entry: Mapping[str, Any], cid: int) -> bool:
    kind = world.field_types[entry["key"]]
    row = world.custom.get(cid, {}).get(entry["key"])
    value = None if row is None else row[COLUMN[kind]]
    ops = {k: v for k, v in entry.items() if k != "key"}
    if "isNull" in ops and (value is None) != ops.pop("isNull"):
        return False
    if kind == "MULTI_SELECT":
        held = set(value or [])
        if "none" in ops and held & set(ops.pop("none")):
            return False
        if not ops:
            return True
        if value is None:
            return False
        return ("any" not in ops or bool(held & set(ops["any"]))) and all(
            o in held for o in ops.get("all", ())
        )
    if not ops:
        return True
    if value is None:
        return False
    if kind in ("TEXT", "URL", "EMAIL", "PHONE"):
        return text_ok(value, ops, kind == "PHONE")
    if kind == "SELECT":
        return ("eq" not in ops or value == ops["eq"]) and ("in" not in ops or value in ops["in"])
    if kind in ("NUMBER", "MONEY"):
        number = Decimal(str(value))
        return (
            ("eq" not in ops or number == Decimal(str(ops["eq"])))
            and ("gte" not in ops or number >= Decimal(str(ops["gte"])))
            and ("lte" not in ops or number <= Decimal(str(ops["lte"])))
            and ("currency" not in ops or row["value_currency"] == ops["currency"])
        )
    if kind == "BOOLEAN":
        return bool(value) == ops["eq"]
    if kind == "DATE":
        day = value if isinstance(value, date) else date.fromisoformat(value)
        if "within" in ops:
            zone = ZoneInfo(ops.get("timeZone", "UTC"))
            start, end = relative_range(ops["within"], zone, world.now)
            if not start.astimezone(zone).date() <= day < end.astimezone(zone).date():
                return False
        return (
            ("eq" not in ops or day == date.fromisoformat(ops["eq"]))
            and ("gte" not in ops or day >= date.fromisoformat(ops["gte"]))
            and ("lte" not in ops or day <= date.fromisoformat(ops["lte"]))
        )
    return time_ok(value, ops, world.now)  # DATETIME
