"""The demo's custom fields (A6): a few definitions of various types, values on the rich cards.

Called by `dossier.demo` last, in the seed's transaction. The account gets one field of most
types (a required SELECT with a default among them, so cards without a value show it), and
each rich card (100+ journey entries) gets values, checked by the same code as
setCustomFieldValues (crm/custom_values.py) and journaled as one CUSTOM_FIELD_CHANGED entry by
the card's rep after the card's last entry (ids stay in time order). No outbox rows.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from crm.custom_values import Context, Definition, FieldType, clean, shown, stored
from crm.journey import JourneyKind
from crm.models import Contact, CustomField, CustomFieldValue, JourneyEvent, User
from crm.services.custom_fields import json_value
from dossier.demo_profile import _entry
from dossier.demo_rich import rich_contact_ids

_STEP = timedelta(milliseconds=1)
# (key, label, type, options, required, default)
FIELDS: tuple[tuple[str, str, FieldType, tuple[str, ...], bool, Any], ...] = (
    ("preferred_time", "Preferred time to call", FieldType.SELECT, ("Morning", "Afternoon", "Evening"), True,
     "Afternoon"),
    ("interests", "Interests", FieldType.MULTI_SELECT, ("Solar", "Roofing", "Windows", "Insulation"), False,
     None),
    ("budget", "Project budget", FieldType.MONEY, (), False, None),
    ("roof_age", "Roof age (years)", FieldType.NUMBER, (), False, None),
    ("next_inspection", "Next inspection", FieldType.DATE, (), False, None),
    ("first_meeting", "First meeting", FieldType.DATETIME, (), False, None),
    ("vip", "VIP", FieldType.BOOLEAN, (), False, None),
    ("portfolio", "Portfolio", FieldType.URL, (), False, None),
    ("assistant_email", "Assistant's email", FieldType.EMAIL, (), False, None),
    ("assistant_phone", "Assistant's phone", FieldType.PHONE, (), False, None),
    ("gate_code", "Gate code", FieldType.TEXT, (), False, None),
)  # fmt: skip


def _values(rng: random.Random, now: datetime, contact_id: int) -> dict[str, Any]:
    return {
        "preferred_time": rng.choice(("Morning", "Evening")),
        "interests": rng.sample(["Solar", "Roofing", "Windows", "Insulation"], rng.randint(1, 3)),
        "budget": {"amount": str(rng.randrange(5, 80) * 500), "currency": "USD"},
        "roof_age": rng.randint(2, 35),
        "next_inspection": (now.date() + timedelta(days=rng.randint(10, 200))).isoformat(),
        "first_meeting": (now - timedelta(days=rng.randint(20, 300))).replace(microsecond=0).isoformat(),
        "vip": rng.random() < 0.3,
        "portfolio": f"https://example.com/homes/{contact_id}",
        "assistant_email": f"assistant{contact_id}@example.com",
        "assistant_phone": f"(415) 555-{rng.randint(100, 199):04d}",
        "gate_code": f"#{rng.randint(1000, 9999)}",
    }


async def seed_custom_fields(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    rng = random.Random(13)  # its own stream: the cards' draws stay what they were
    context = Context("US", "USD")
    fields = []
    for key, label, type_, options, required, default in FIELDS:
        definition = Definition(key, type_, options)
        fields.append(
            await CustomField.create(
                account_id=account_id, key=key, label=label, type=type_.value, options=list(options),
                required=required, using_db=conn,
                default_value=json_value(shown(type_, clean(definition, default, context))),
            )
        )  # fmt: skip
    rich = await rich_contact_ids(conn, account_id)
    contacts = {c.id: c for c in await Contact.filter(id__in=rich).using_db(conn)}
    users = {u.id: u for u in await User.filter(account_id=account_id).using_db(conn).order_by("id")}
    admin = next(u for u in users.values() if u.role == "admin")
    for contact_id in rich:
        contact = contacts[contact_id]
        values = _values(rng, now, contact_id)
        rows, changes = [], {}
        for field in fields:
            definition = Definition(field.key, FieldType(field.type), tuple(field.options))
            columns = clean(definition, values[field.key], context)
            rows.append(CustomFieldValue(field_id=field.id, contact_id=contact_id, **stored(columns)))
            changes[field.key] = [None, shown(definition.type, columns)]
        await CustomFieldValue.bulk_create(rows, using_db=conn)
        last = (
            await JourneyEvent.filter(contact_id=contact_id)
            .using_db(conn)
            .order_by("-id")
            .first()
            .values_list("occurred_at", flat=True)
        )
        at: datetime = last + max((now - last) / 2, _STEP)  # type: ignore[operator]
        user = users.get(contact.assigned_to_id) or admin  # type: ignore[attr-defined]
        labels = ", ".join(field.label for field in fields)
        await _entry(conn, contact, user, at, JourneyKind.CUSTOM_FIELD_CHANGED,
                     f"{user.name} changed {labels}", changes)  # fmt: skip
