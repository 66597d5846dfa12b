"""Contact identity, status and owners."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from crm import regions
from crm import validation as v
from crm.actor import Actor
from crm.clock import utcnow
from crm.errors import BadInput, Forbidden, NotFound
from crm.journey import JourneyKind
from crm.models import Account, Contact, FormAnswer, User, Utm
from crm.services import _scoped, conversions, custom_fields, header, profile
from crm.uow import UnitOfWork, display_name, unit_of_work

# Identity columns a client may set, with the name the API (and the journey) uses for each.
IDENTITY_FIELDS: dict[str, str] = {
    "first_name": "firstName",
    "last_name": "lastName",
    "business_name": "businessName",
    "title": "title",
    "contact_type": "contactType",
    "email": "email",
    "secondary_email": "secondaryEmail",
    "phone": "phone",
    "secondary_phone": "secondaryPhone",
    "street": "street",
    "city": "city",
    "state": "state",
    "zip": "zip",
    "country": "country",
    "ip_address": "ipAddress",
}
_TEXT_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "business_name": 200,
    "title": 120,
    "contact_type": 50,
    "street": 200,
    "city": 100,
    "state": 100,
    "zip": 20,
}
UTM_FIELDS = ("source", "medium", "campaign", "term", "content")
MAX_FORM_ANSWERS = 100
MAX_UTMS = 20


def clean_identity(values: Mapping[str, Any], *, region: str) -> dict[str, Any]:
    """Validate and normalise identity fields; unknown keys are a programming error. National
    phone numbers are read in `region` (the account's: crm.regions.phone_region)."""
    cleaned: dict[str, Any] = {}
    for key, raw in values.items():
        api_name = IDENTITY_FIELDS[key]
        if key in _TEXT_LIMITS:
            cleaned[key] = v.clean_text(raw, api_name, max_length=_TEXT_LIMITS[key])
        elif key in ("email", "secondary_email"):
            cleaned[key] = v.clean_email(raw, api_name)
        elif key in ("phone", "secondary_phone"):
            cleaned[key] = v.clean_phone(raw, api_name, region)
        elif key == "country":
            cleaned[key] = v.clean_country(raw, api_name)
        elif key == "ip_address":
            cleaned[key] = v.clean_ip(raw, api_name)
    return cleaned


def _clean_utms(utms: Iterable[Mapping[str, str | None]]) -> list[dict[str, str | None]]:
    rows = []
    for utm in utms:
        row = {f: v.clean_text(utm.get(f), f"utm.{f}", max_length=200) for f in UTM_FIELDS}
        if any(row.values()):
            rows.append(row)
    if len(rows) > MAX_UTMS:
        raise BadInput(f"at most {MAX_UTMS} UTM sets per request", field="utm")
    return rows


def _clean_answers(answers: Sequence[Mapping[str, str | None]]) -> list[dict[str, str | None]]:
    if len(answers) > MAX_FORM_ANSWERS:
        raise BadInput(f"at most {MAX_FORM_ANSWERS} form answers per request", field="formAnswers")
    return [
        {
            "question": v.clean_text(
                a.get("question"), "formAnswers.question", max_length=500, required=True
            ),
            "answer": v.clean_text(a.get("answer"), "formAnswers.answer", max_length=5000) or "",
            "form": v.clean_text(a.get("form"), "formAnswers.form", max_length=200),
        }
        for a in answers
    ]


async def create_contact(
    actor: Actor,
    identity: Mapping[str, Any],
    *,
    utms: Sequence[Mapping[str, str | None]] = (),
    form_answers: Sequence[Mapping[str, str | None]] = (),
    header_values: Mapping[str, Any] | None = None,
    profile_values: Mapping[str, Any] | None = None,
    custom_values: Sequence[tuple[str, Any]] | None = None,
) -> Contact:
    """`header_values`: leadSource/actionPlan/salesCycle by Contact column (crm/services/header.py);
    `profile_values`: the expanded profile by API name (crm/services/profile.py);
    `custom_values`: (key, JSON value) pairs (crm/services/custom_fields.py). Given (createContact
    gives it, even empty), the account's required fields without a default must be among them;
    None (leads, intake) checks nothing."""
    fields = clean_identity(identity, region=await regions.phone_region(actor.account_id))
    if not any(fields.get(k) for k in ("first_name", "last_name", "business_name", "email", "phone")):
        raise BadInput("a contact needs at least a name, business name, email or phone")
    utm_rows = _clean_utms(utms)
    answer_rows = _clean_answers(form_answers)
    custom = []
    if custom_values is not None:
        custom = await custom_fields.prepare_for_new_contact(actor, custom_values)
    async with unit_of_work(actor) as uow:
        account = await Account.get(id=actor.account_id).using_db(uow.conn)
        contact = Contact(account_id=actor.account_id, status=account.statuses[0]["name"], **fields)
        header_changes = header.apply_header(contact, header.clean_header(account, header_values or {}))
        cleaned_profile = profile.clean_profile(profile_values or {}, account.currency)
        await contact.save(using_db=uow.conn)
        if utm_rows:
            await Utm.bulk_create([Utm(contact_id=contact.id, **r) for r in utm_rows], using_db=uow.conn)
        if answer_rows:
            await FormAnswer.bulk_create(
                [FormAnswer(contact_id=contact.id, **r) for r in answer_rows], using_db=uow.conn
            )
        changes: dict[str, list[Any]] = {
            IDENTITY_FIELDS[k]: [None, value] for k, value in fields.items() if value is not None
        }
        changes["status"] = [None, contact.status]
        changes.update(header_changes)
        changes.update(await profile.apply_profile(uow, contact, cleaned_profile))
        changes.update(await custom_fields.write_for_new_contact(uow.conn, contact, custom))
        forms = sorted({r["form"] for r in answer_rows if r["form"]})
        summary = f"{actor.name} created {_name(contact)}"
        if forms:
            summary += f" from {', '.join(forms)}"
        await uow.record(
            contact,
            JourneyKind.CONTACT_CREATED,
            summary,
            changes,
            subject={"utms": utm_rows, "formAnswers": answer_rows},
        )
    return contact


async def update_contact(
    actor: Actor,
    contact_id: int,
    identity: Mapping[str, Any],
    *,
    header_values: Mapping[str, Any] | None = None,
    profile_values: Mapping[str, Any] | None = None,
) -> Contact:
    """Change the given identity fields, header values (by Contact column) and profile fields
    (by API name, crm/services/profile.py); a field given as None is cleared."""
    fields = clean_identity(identity, region=await regions.phone_region(actor.account_id))
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        changes = {
            IDENTITY_FIELDS[k]: [getattr(contact, k), value]
            for k, value in fields.items()
            if getattr(contact, k) != value
        }
        if header_values or profile_values:
            account = await Account.get(id=actor.account_id).using_db(uow.conn)
            changes.update(header.apply_header(contact, header.clean_header(account, header_values or {})))
            cleaned_profile = profile.clean_profile(profile_values or {}, account.currency)
            changes.update(await profile.apply_profile(uow, contact, cleaned_profile))
        if not changes:
            return contact
        # A Guest (a lead whose form asked for no name, email or phone) may be edited before it
        # is named; only an edit that takes away a contact's last identifier is refused.
        identifiers = ("first_name", "last_name", "business_name", "email", "phone")
        was_named = any(getattr(contact, k) for k in identifiers)
        for key, value in fields.items():
            setattr(contact, key, value)
        if "phone" in changes:
            # Consent and the line check belonged to the old number; the new one is checked again.
            if contact.ok_to_sms:
                changes["okToSms"] = [True, False]
            if contact.phone_line_type is not None:
                changes["phoneLineType"] = [contact.phone_line_type, None]
            contact.ok_to_sms, contact.phone_line_type = False, None
            contact.phone_checked_at, contact.sms_blocked_reason = None, None
        if was_named and not any(getattr(contact, k) for k in identifiers):
            raise BadInput("a contact needs at least a name, business name, email or phone")
        await contact.save(using_db=uow.conn)
        await uow.record(
            contact,
            JourneyKind.CONTACT_UPDATED,
            f"{actor.name} changed {', '.join(changes)}",
            changes,
        )
    return contact


def _name(contact: Contact) -> str:
    return display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)


def _find_status(statuses: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    for status in statuses:
        if status["name"].casefold() == wanted.strip().casefold():
            return status
    names = ", ".join(s["name"] for s in statuses)
    raise BadInput(f"{v.quoted(wanted)} is not one of this account's statuses: {names}", field="status")


def status_choice(account: Account, status: str, sub_status: str | None) -> tuple[dict[str, Any], str | None]:
    """The account's status entry named `status` and the sub-status spelt as listed; BAD_USER_INPUT
    for one the account does not have (setContactStatus, the bulk action SET_STATUS)."""
    entry = _find_status(account.statuses, status)
    allowed_subs: list[str] = entry.get("subStatuses") or []
    sub = v.clean_text(sub_status, "subStatus", max_length=50)
    if sub is not None:
        match = next((s for s in allowed_subs if s.casefold() == sub.casefold()), None)
        if match is None:
            options = ", ".join(allowed_subs) if allowed_subs else "none"
            raise BadInput(
                f"{v.quoted(sub)} is not a sub-status of {entry['name']!r} (options: {options})",
                field="subStatus",
            )
        sub = match
    return entry, sub


async def apply_status(uow: UnitOfWork, contact: Contact, entry: dict[str, Any], sub: str | None) -> bool:
    """Give the locked `contact` this status (a `status_choice`), journaled; False when it already
    had it (no entry)."""
    changes: dict[str, list[Any]] = {}
    if contact.status != entry["name"]:
        changes["status"] = [contact.status, entry["name"]]
    if contact.sub_status != sub:
        changes["subStatus"] = [contact.sub_status, sub]
    if not changes:
        return False
    contact.status, contact.sub_status = entry["name"], sub
    if entry.get("converts") and contact.converted_at is None:
        contact.converted_at = utcnow()
        changes["convertedAt"] = [None, contact.converted_at.isoformat()]
    await contact.save(using_db=uow.conn)
    label = entry["name"] + (f" ({sub})" if sub else "")
    await uow.record(
        contact, JourneyKind.STATUS_CHANGED, f"{uow.actor.name} set the status to {label}", changes
    )
    if "status" in changes:
        await conversions.status_reached(uow, contact, entry)
    return True


async def set_status(actor: Actor, contact_id: int, status: str, sub_status: str | None = None) -> Contact:
    async with unit_of_work(actor) as uow:
        account = await Account.get(id=actor.account_id).using_db(uow.conn)
        entry, sub = status_choice(account, status, sub_status)
        contact = await _scoped.contact(uow, contact_id)
        await apply_status(uow, contact, entry, sub)
    return contact


OWNER_FIELDS = {
    "setter_owner_id": "setterOwner",
    "closer_owner_id": "closerOwner",
    "assigned_to_id": "assignedTo",
}


async def owner_users(uow: UnitOfWork, user_ids: Iterable[int | None]) -> dict[int, User]:
    """The account's users among `user_ids`, by id."""
    ids = {i for i in user_ids if i is not None}
    return {
        u.id: u for u in await User.filter(id__in=ids, account_id=uow.actor.account_id).using_db(uow.conn)
    }


def refuse_unknown_owners(wanted: Mapping[str, int | None], users: Mapping[int, User]) -> None:
    for key, user_id in wanted.items():
        if user_id is not None and user_id not in users:
            raise NotFound(f"no user with id {user_id} in this account", field=OWNER_FIELDS[key] + "Id")


async def apply_owners(
    uow: UnitOfWork, contact: Contact, wanted: Mapping[str, int | None], users: Mapping[int, User]
) -> bool:
    """Set the locked `contact`'s owners (`wanted`: OWNER_FIELDS keys, checked users), journaled;
    False when it already had them. `users` must hold the current owners too, for the names."""
    changes: dict[str, list[Any]] = {}
    for key, user_id in wanted.items():
        before = getattr(contact, key)
        if before != user_id:
            changes[OWNER_FIELDS[key]] = [
                users[before].name if before in users else None,
                users[user_id].name if user_id is not None else None,
            ]
            setattr(contact, key, user_id)
    if not changes:
        return False
    await contact.save(using_db=uow.conn)
    summary = "; ".join(f"{field} → {after or 'nobody'}" for field, (_, after) in changes.items())
    await uow.record(
        contact, JourneyKind.OWNER_CHANGED, f"{uow.actor.name} changed owners: {summary}", changes
    )
    return True


async def assign_owners(actor: Actor, contact_id: int, owners: Mapping[str, int | None]) -> Contact:
    """Set any of setter owner, closer owner and assigned rep; None clears one."""
    if not actor.is_manager:
        raise Forbidden("only admins and managers can change a contact's owners")
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        wanted = {k: owners[k] for k in OWNER_FIELDS if k in owners}
        users = await owner_users(uow, (*wanted.values(), *(getattr(contact, k) for k in wanted)))
        refuse_unknown_owners(wanted, users)
        await apply_owners(uow, contact, wanted, users)
    return contact
