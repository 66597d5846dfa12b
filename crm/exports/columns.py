"""The columns an export can have: the catalogue, the default set, and checking a request.

Names are the Contact type's own field names (camelCase) so a client asks for what it already
reads; custom fields are `customField:<key>`. Each column says where its value comes from:

- CONTACT: a column of the contact row;
- OWNER: one of the three owners, as the user's name;
- TAGS: the contact's tag names, sorted, joined by "; ";
- CUSTOM: a custom field's value as text (its default when the contact has none, as the card
  shows it);
- DERIVED: a figure computed per batch in SQL (crm/exports/batches.py): last interaction,
  deal total and count, next call, open tasks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from tortoise.backends.base.client import BaseDBAsyncClient

from crm.errors import BadInput
from crm.models import CustomField

CUSTOM_PREFIX = "customField:"
MAX_COLUMNS = 100


class Source(StrEnum):
    CONTACT = "CONTACT"
    OWNER = "OWNER"
    TAGS = "TAGS"
    CUSTOM = "CUSTOM"
    DERIVED = "DERIVED"


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # what the client asks for
    header: str  # the file's header cell
    source: Source
    attribute: str = ""  # CONTACT / OWNER: the model attribute; CUSTOM: the field key; DERIVED: the figure
    field_type: str = ""  # CUSTOM: the field's type
    default: object = None  # CUSTOM: the field's default (stored JSON form)
    field_id: int = 0  # CUSTOM: the field's id


def _camel(attribute: str) -> str:
    head, *rest = attribute.split("_")
    return head + "".join(part.title() for part in rest)


def _header(attribute: str) -> str:
    return re.sub(r"_id$", "", attribute).replace("_", " ").capitalize()


# The contact's own columns, in the card's order. Not exported: internal ids and state
# (merged_into, sms_blocked_reason's siblings are kept: they explain okToSms).
CONTACT_ATTRIBUTES = (
    "id", "first_name", "last_name", "business_name", "title", "contact_type",
    "email", "secondary_email", "phone", "secondary_phone",
    "street", "city", "state", "zip", "country", "ip_address",
    "status", "sub_status", "lead_source", "action_plan", "sales_cycle",
    "ok_to_sms", "sms_blocked_reason", "phone_line_type",
    "privacy_opt_in", "communication_opt_in", "referral_code", "preferred_reward",
    "created_at", "updated_at", "converted_at", "archived_at",
)  # fmt: skip
OWNER_ATTRIBUTES = ("setter_owner", "closer_owner", "assigned_to")
# Derived figures: name -> (header, what it is, for the docs and the schema's description).
DERIVED = {
    "lastInteraction": (
        "Last interaction",
        "when the newest call that happened, message or web-form lead was (the card's insights)",
    ),
    "dealTotal": ("Deal total", "the sum of the open and won deals' amounts, per currency"),
    "dealCount": ("Deals", "the number of deals"),
    "nextCall": ("Next call", "when the next scheduled call is"),
    "openTasks": ("Open tasks", "the number of open tasks"),
}

CATALOGUE: dict[str, Column] = {
    **{_camel(a): Column(_camel(a), _header(a), Source.CONTACT, a) for a in CONTACT_ATTRIBUTES},
    **{_camel(a): Column(_camel(a), _header(a), Source.OWNER, a) for a in OWNER_ATTRIBUTES},
    "tags": Column("tags", "Tags", Source.TAGS),
    **{name: Column(name, header, Source.DERIVED, name) for name, (header, _) in DERIVED.items()},
}
CATALOGUE["id"] = Column("id", "Id", Source.CONTACT, "id")
CATALOGUE["zip"] = Column("zip", "ZIP", Source.CONTACT, "zip")
CATALOGUE["ipAddress"] = Column("ipAddress", "IP address", Source.CONTACT, "ip_address")
CATALOGUE["okToSms"] = Column("okToSms", "OK to SMS", Source.CONTACT, "ok_to_sms")
CATALOGUE["smsBlockedReason"] = Column(
    "smsBlockedReason", "SMS blocked reason", Source.CONTACT, "sms_blocked_reason"
)

DEFAULT_COLUMNS = (
    "firstName", "lastName", "businessName", "email", "phone", "status", "subStatus",
    "assignedTo", "tags", "city", "state", "country", "createdAt", "lastInteraction",
)  # fmt: skip


async def resolve(
    account_id: int, names: Sequence[str] | None, conn: BaseDBAsyncClient | None = None
) -> list[Column]:
    """The columns asked for, in order; None or empty: DEFAULT_COLUMNS. BAD_USER_INPUT for an
    unknown or repeated name, an unknown or archived custom field, or too many columns."""
    wanted = list(names) if names else list(DEFAULT_COLUMNS)
    if len(wanted) > MAX_COLUMNS:
        raise BadInput(f"give at most {MAX_COLUMNS} columns, got {len(wanted)}", field="columns")
    seen: set[str] = set()
    for name in wanted:
        if name in seen:
            raise BadInput(f"the column {name!r} is asked for twice", field="columns")
        seen.add(name)
    keys = [name[len(CUSTOM_PREFIX) :] for name in wanted if name.startswith(CUSTOM_PREFIX)]
    live = CustomField.filter(account_id=account_id, key__in=keys, archived_at__isnull=True)
    fields = {f.key: f for f in await live.using_db(conn)} if keys else {}
    columns = []
    for name in wanted:
        if name.startswith(CUSTOM_PREFIX):
            key = name[len(CUSTOM_PREFIX) :]
            field = fields.get(key)
            if field is None:
                raise BadInput(
                    f"the column {name!r} names no custom field of this account (or an archived one): "
                    "use customField:<key> with a key from customFields",
                    field="columns",
                )
            columns.append(
                Column(name, field.label, Source.CUSTOM, key, field.type, field.default_value, field.id)
            )
        elif name in CATALOGUE:
            columns.append(CATALOGUE[name])
        else:
            raise BadInput(
                f"unknown column {name!r}: choose from {', '.join(CATALOGUE)} or customField:<key>",
                field="columns",
            )
    return columns
