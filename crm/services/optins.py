"""Opt-ins (E3): the contact's privacy and communication consent, with when and where from.

Both are off until given. `setOptIns` sets either or both; a lead sets them from its consent
fields (source FORM). Each change is journaled as OPT_IN_CHANGED with before/after and the
source, and fires `opt_in_changed`. Communication consent gates marketing email: a send marked
`marketing` to a contact without it is refused (`marketing_refusal`), from the API and from
plugins alike; every event's contact snapshot carries both opt-ins.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from crm.actor import Actor
from crm.clock import utcnow
from crm.errors import BadInput
from crm.journey import JourneyKind
from crm.models import Contact
from crm.services import _scoped
from crm.uow import UnitOfWork, display_name, unit_of_work


class ConsentSource(StrEnum):
    FORM = "FORM"  # a web form or submitLead's consent fields
    USER = "USER"  # a user set it on the card
    IMPORT = "IMPORT"  # a contact import
    API = "API"  # another system through the API or a plugin


# The two opt-ins: their column prefix and API name.
OPT_INS = {"privacy": "privacyOptIn", "communication": "communicationOptIn"}


def marketing_refusal(contact: Contact) -> str | None:
    """Why this contact may not get marketing email, or None. The rule lives here only."""
    if not contact.communication_opt_in:
        return (
            "the contact has not opted in to communication (communicationOptIn is off): marketing "
            "email needs it; send without marketing for a personal message"
        )
    return None


def _source(value: Any) -> str:
    if isinstance(value, StrEnum):
        value = value.value
    if value not in ConsentSource.__members__:
        options = ", ".join(ConsentSource.__members__)
        raise BadInput(f"source {value!r} is not one of {options}", field="source")
    return str(value)


async def apply_opt_ins(
    uow: UnitOfWork, contact: Contact, wanted: Mapping[str, tuple[bool, str]], summary_by: str
) -> dict[str, list[Any]]:
    """Set the given opt-ins ({"privacy": (opted_in, source), ...}) and journal what changed;
    an opt-in already in the wanted state keeps its time and source."""
    now = utcnow()
    changes: dict[str, list[Any]] = {}
    for name, (opted_in, source) in wanted.items():
        api = OPT_INS[name]
        if bool(getattr(contact, f"{name}_opt_in")) == opted_in:
            continue
        changes[api] = [not opted_in, opted_in]
        changes[f"{api}Source"] = [getattr(contact, f"{name}_opt_in_source"), source]
        setattr(contact, f"{name}_opt_in", opted_in)
        setattr(contact, f"{name}_opt_in_at", now)
        setattr(contact, f"{name}_opt_in_source", source)
    if not changes:
        return changes
    await contact.save(using_db=uow.conn)
    said = ", ".join(
        f"{name} {'on' if wanted[name][0] else 'off'}" for name in OPT_INS if OPT_INS[name] in changes
    )
    name = display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)
    await uow.record(
        contact,
        JourneyKind.OPT_IN_CHANGED,
        f"{summary_by} turned {said} for {name}",
        changes,
        subject={
            api: {
                "optedIn": bool(getattr(contact, f"{key}_opt_in")),
                "at": (at.isoformat() if (at := getattr(contact, f"{key}_opt_in_at")) else None),
                "source": getattr(contact, f"{key}_opt_in_source"),
            }
            for key, api in OPT_INS.items()
        },
    )
    return changes


async def set_opt_ins(
    actor: Actor,
    contact_id: int,
    privacy: tuple[bool, Any] | None = None,
    communication: tuple[bool, Any] | None = None,
) -> Contact:
    """Set either opt-in or both: (opted_in, source); None leaves one as it is."""
    wanted = {
        name: (bool(value[0]), _source(value[1] if value[1] is not None else ConsentSource.USER))
        for name, value in (("privacy", privacy), ("communication", communication))
        if value is not None
    }
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)  # an unknown contact first: NOT_FOUND
        if not wanted:
            raise BadInput("give privacy, communication or both", field="privacy")
        await apply_opt_ins(uow, contact, wanted, actor.name)
    return contact
