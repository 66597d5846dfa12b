"""The card's header lists (A4): lead source, action plan and sales cycle.

Each account keeps one list of names per header field (like its statuses); a contact holds one
value of each list, or none. Admins replace a list with setLeadSourceList / setActionPlanList /
setSalesCycleList: values are trimmed, a repeat in any case is dropped (the first spelling
stays), at most MAX_VALUES of at most MAX_LENGTH characters. As with setStatusList, a value that
contacts still hold cannot be dropped (CONFLICT, saying how many hold it and which values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from crm import validation as v
from crm.actor import Actor, Role
from crm.errors import BadInput, Conflict, Forbidden
from crm.models import Account, Contact
from crm.models.contacts import every_contact

MAX_VALUES = 50
MAX_LENGTH = 50


@dataclass(frozen=True, slots=True)
class HeaderList:
    column: str  # Contact's column
    account_column: str  # Account's JSON list
    api: str  # the contact field's GraphQL (and journey) name
    list_api: str  # the account's list, as GraphQL names it
    label: str  # for messages: "lead source"
    defaults: tuple[str, ...]


HEADER_LISTS: tuple[HeaderList, ...] = (
    HeaderList(
        "lead_source", "lead_sources", "leadSource", "leadSources", "lead source",
        ("Website", "Referral", "Phone", "Walk-in", "Social", "Advertising", "Other"),
    ),
    HeaderList(
        "action_plan", "action_plans", "actionPlan", "actionPlans", "action plan",
        ("New lead follow-up", "Nurture", "Appointment reminder", "Post-sale follow-up", "Win back"),
    ),
    HeaderList(
        "sales_cycle", "sales_cycles", "salesCycle", "salesCycles", "sales cycle",
        ("Prospecting", "Qualification", "Proposal", "Negotiation", "Closing", "Follow-up"),
    ),
)  # fmt: skip
HEADER_BY_COLUMN: dict[str, HeaderList] = {h.column: h for h in HEADER_LISTS}
# Contact column -> API (and journey) name, like contacts.IDENTITY_FIELDS (a merge fills them).
HEADER_FIELDS: dict[str, str] = {h.column: h.api for h in HEADER_LISTS}


def values_of(account: Account, header: HeaderList) -> list[str]:
    """The account's list for `header`: its own, else the default one."""
    stored = getattr(account, header.account_column)
    return list(header.defaults) if stored is None else list(stored)


def clean_list(header: HeaderList, values: Sequence[str]) -> list[str]:
    field = "values"
    if len(values) > MAX_VALUES:
        raise BadInput(
            f"a {header.label} list has at most {MAX_VALUES} values, got {len(values)}", field=field
        )
    cleaned: list[str] = []
    seen: set[str] = set()
    for raw in values:
        value = v.clean_text(raw, field, max_length=MAX_LENGTH, required=True)
        assert value is not None
        if value.casefold() not in seen:  # a repeat (in any case) keeps the first spelling
            seen.add(value.casefold())
            cleaned.append(value)
    return cleaned


async def set_list(actor: Actor, column: str, values: Sequence[str]) -> Account:
    """Replace the account's list for the header field `column` (admins only). A value still
    held by a contact (merged-away ones included, as for statuses) cannot be dropped."""
    header = HEADER_BY_COLUMN[column]
    if actor.role is not Role.ADMIN:
        raise Forbidden(f"only admins can change the {header.label} list")
    cleaned = clean_list(header, values)
    async with in_transaction() as conn:
        account = await Account.filter(id=actor.account_id).using_db(conn).select_for_update().get()
        dropped = [value for value in values_of(account, header) if value not in cleaned]
        if dropped:
            held = (
                await every_contact()
                .filter(account_id=account.id, **{f"{column}__in": dropped})
                .using_db(conn)
                .values_list(column, flat=True)
            )
            if held:
                names = ", ".join(v.quoted(value) for value in sorted(set(held)))  # type: ignore[arg-type]
                raise Conflict(
                    f"{len(held)} contact(s) still have {header.label} {names}; "
                    f"give them another {header.label} first (updateContact)"
                )
        setattr(account, header.account_column, cleaned)
        await account.save(using_db=conn, update_fields=[header.account_column])
    return account


def clean_header(account: Account, values: Mapping[str, Any]) -> dict[str, str | None]:
    """`values` (by Contact column) matched against the account's lists, in any case, and given
    the list's spelling; None clears one. A value not in the list is refused, naming the list."""
    cleaned: dict[str, str | None] = {}
    for column, raw in values.items():
        header = HEADER_BY_COLUMN[column]
        value = v.clean_text(raw, header.api, max_length=200)
        if value is None:
            cleaned[column] = None
            continue
        allowed = values_of(account, header)
        match = next((a for a in allowed if a.casefold() == value.casefold()), None)
        if match is None:
            options = ", ".join(allowed) if allowed else "none (an admin sets them)"
            raise BadInput(
                f"{v.quoted(value)} is not one of this account's {header.label}s: {options}", field=header.api
            )
        cleaned[column] = match
    return cleaned


def apply_header(contact: Contact, cleaned: Mapping[str, str | None]) -> dict[str, list[Any]]:
    """Set the cleaned header values on the (unsaved) contact; the journey's changes."""
    changes: dict[str, list[Any]] = {}
    for column, value in cleaned.items():
        before = getattr(contact, column)
        if before != value:
            changes[HEADER_BY_COLUMN[column].api] = [before, value]
            setattr(contact, column, value)
    return changes
