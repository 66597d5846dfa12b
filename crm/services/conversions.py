"""Send to client / send to manager (D11): conversions, their review and their delivery.

A status may carry a routing (`CLIENT` or `MANAGER`, set with `setStatusList`). A contact
that *reaches* such a status (its status changes to it; a sub-status change within it does
not count) gets a conversion, in the status change's own transaction:

- CLIENT: the conversion is SENT at once; the `conversion_sent` event goes through the outbox
  to the built-in email plugin (which mails it to the account's `clientEmail`) and to webhooks.
- MANAGER: it is held as PENDING_REVIEW (`conversion_held` event) until a manager or an admin
  approves it (then SENT, exactly as above) or rejects it with a reason (REJECTED).

`sendToClient(contactId, fields)` is the card's "Send to client" menu item: any user sends
the card with fields of their own (a field named like a summary line -- "Representative",
"Media source", "Status", "Campaign", ... -- changes that line, any other is added). It is
offered once the account has a routed status, and follows the routing of the contact's
status when it has one, else MANAGER if any status of the account routes to a manager (a
manager checks every sending), else CLIENT. Each send is a new conversion, so it is also how
a conversion whose email failed is sent again.

The summary is a snapshot taken when the conversion is made: name, email, phone, the rep
(the assigned user, else the closer, else the setter), the media source and campaign of the
first lead's UTMs (the contact's first UTMs when no lead has any), and the status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from crm import regions
from crm import validation as v
from crm.actor import Actor, Role
from crm.clock import utcnow
from crm.errors import BadInput, Conflict, Forbidden, NotFound
from crm.journey import JourneyKind
from crm.models import Account, Contact, Conversion, User, Utm
from crm.services import _scoped
from crm.uow import UnitOfWork, display_name, unit_of_work


class ConversionStatus(StrEnum):
    PENDING_REVIEW = "PENDING_REVIEW"
    SENT = "SENT"
    REJECTED = "REJECTED"
    FAILED = "FAILED"


class Routing(StrEnum):
    CLIENT = "CLIENT"
    MANAGER = "MANAGER"


MAX_FIELDS = 30
FIELD_NAME_MAX = 100
FIELD_VALUE_MAX = 2000
REASON_MAX = 500
# The summary's lines, in the order the client reads them: key -> label.
SUMMARY_LABELS: dict[str, str] = {
    "name": "Name",
    "email": "Email",
    "phone": "Phone",
    "rep": "Representative",
    "mediaSource": "Media source",
    "campaign": "Campaign",
    "status": "Status",
}
NO_CLIENT_ADDRESS = (
    "the account has no client address: an admin sets it with updateAccountSettings(clientEmail), "
    "then the card can be sent again with sendToClient"
)


def clean_routing(value: Any, status_name: str) -> str | None:
    """A status's routing as stored: None, "CLIENT" or "MANAGER"."""
    if value is None or value == "":
        return None
    try:
        return Routing(str(value).strip().upper()).value
    except ValueError:
        raise BadInput(
            f"status {status_name!r}: routing must be CLIENT or MANAGER, got {v.quoted(str(value))}",
            field="statuses.routing",
        ) from None


def clean_fields(fields: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    if len(fields) > MAX_FIELDS:
        raise BadInput(f"at most {MAX_FIELDS} fields per conversion, got {len(fields)}", field="fields")
    cleaned: list[dict[str, str]] = []
    seen: set[str] = set()
    for entry in fields:
        name = v.clean_text(entry.get("name"), "fields.name", max_length=FIELD_NAME_MAX, required=True)
        assert name is not None
        if name.casefold() in seen:
            raise BadInput(f"field {name!r} is given twice", field="fields.name")
        seen.add(name.casefold())
        value = v.clean_text(entry.get("value"), "fields.value", max_length=FIELD_VALUE_MAX) or ""
        cleaned.append({"name": name, "value": value})
    return cleaned


def record_lines(
    summary: Mapping[str, Any], extra_fields: Sequence[Mapping[str, str]]
) -> list[tuple[str, str]]:
    """What the client receives, line by line: the summary (empty lines left out), each line
    replaced by a user's field of the same name (its key or label, ignoring case), then the
    user's other fields in their order."""
    overrides = {f["name"].casefold(): f for f in extra_fields}
    used: set[str] = set()
    lines: list[tuple[str, str]] = []
    for key, label in SUMMARY_LABELS.items():
        value = summary.get(key)
        if key == "status" and value and summary.get("subStatus"):
            value = f"{value} ({summary['subStatus']})"
        override = overrides.get(label.casefold()) or overrides.get(key.casefold())
        if override is not None:
            used.add(override["name"].casefold())
            value = override["value"]
        if value:
            lines.append((label, str(value)))
    lines += [(f["name"], f["value"]) for f in extra_fields if f["name"].casefold() not in used]
    return lines


def routed_status(statuses: Sequence[Mapping[str, Any]], name: str) -> str | None:
    for status in statuses:
        if status["name"] == name:
            return status.get("routing")
    return None


async def _summary(uow: UnitOfWork, contact: Contact) -> dict[str, Any]:
    owner_ids = [
        i
        for i in (contact.assigned_to_id, contact.closer_owner_id, contact.setter_owner_id)  # type: ignore[attr-defined]
        if i is not None
    ]
    rep = None
    if owner_ids:
        names = dict(await User.filter(id__in=owner_ids).using_db(uow.conn).values_list("id", "name"))
        rep = next((names[i] for i in owner_ids if i in names), None)
    utm = await _first_touch_utm(uow, contact.id)
    return {
        "name": display_name(contact.first_name, contact.last_name, contact.business_name, contact.email),
        "email": contact.email,
        "phone": contact.phone,
        "rep": rep,
        "mediaSource": utm.source if utm else None,
        "campaign": utm.campaign if utm else None,
        "status": contact.status,
        "subStatus": contact.sub_status,
    }


async def _first_touch_utm(uow: UnitOfWork, contact_id: int) -> Utm | None:
    """The UTMs of the contact's first lead that brought any, else its first UTMs."""
    utms = Utm.filter(contact_id=contact_id).using_db(uow.conn)
    if "lead" in Utm._meta.fields_map:  # leads (crm/models/leads.py) own their UTMs
        from_lead = (
            await utms.filter(lead_id__isnull=False).order_by("lead__submitted_at", "lead_id", "id").first()
        )
        if from_lead is not None:
            return from_lead
    return await utms.order_by("captured_at", "id").first()


def _subject(conversion: Conversion) -> dict[str, Any]:
    """What the conversion's events carry (plugins build the client's email from it)."""
    return {
        "conversionId": conversion.id,
        "status": conversion.status,
        "routing": conversion.routing,
        "summary": dict(conversion.summary),
        "fields": list(conversion.extra_fields),
        "record": [
            {"label": label, "value": value}
            for label, value in record_lines(conversion.summary, conversion.extra_fields)
        ],
        "reason": conversion.reason,
        "createdAt": conversion.created_at.isoformat(),
    }


async def _make(
    uow: UnitOfWork, contact: Contact, routing: str, extra_fields: list[dict[str, str]], why: str
) -> Conversion:
    now = utcnow()
    held = routing == Routing.MANAGER
    conversion = Conversion(
        account_id=uow.actor.account_id,
        contact_id=contact.id,
        status=ConversionStatus.PENDING_REVIEW.value if held else ConversionStatus.SENT.value,
        routing=routing,
        summary=await _summary(uow, contact),
        extra_fields=extra_fields,
        created_by_id=uow.actor.user_id,
        sent_at=None if held else now,
    )
    await conversion.save(using_db=uow.conn)
    name = display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)
    if held:
        kind, summary = JourneyKind.CONVERSION_HELD, f"{why}: {name} waits for a manager's review"
    else:
        kind, summary = JourneyKind.CONVERSION_SENT, f"{why}: {name} was sent to the client"
    await uow.record(
        contact,
        kind,
        summary,
        {"conversionStatus": [None, conversion.status]},
        subject_type="Conversion",
        subject_id=conversion.id,
        subject=_subject(conversion),
    )
    return conversion


async def status_reached(uow: UnitOfWork, contact: Contact, status: Mapping[str, Any]) -> Conversion | None:
    """Called by every service that changes a contact's status, in its transaction, after the
    change: a routed status makes a conversion."""
    routing = status.get("routing")
    if not routing:
        return None
    return await _make(uow, contact, routing, [], f"{uow.actor.name} set the status to {status['name']}")


async def send_to_client(actor: Actor, contact_id: int, fields: Sequence[Mapping[str, Any]]) -> Conversion:
    # Imported here: lifecycle imports crm.services.contacts, which imports this module.
    from crm.services.lifecycle import refuse_archived

    extra_fields = clean_fields(fields)
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        refuse_archived(contact, "sending it to the client")
        account = await Account.get(id=actor.account_id).using_db(uow.conn)
        routings = {s.get("routing") for s in account.statuses} - {None}
        if not routings:
            raise BadInput(
                "no status of this account sends to a client or a manager: give one a routing "
                "(CLIENT or MANAGER) with setStatusList first",
                field="contactId",
            )
        routing = routed_status(account.statuses, contact.status) or (
            Routing.MANAGER.value if Routing.MANAGER.value in routings else Routing.CLIENT.value
        )
        return await _make(uow, contact, routing, extra_fields, f"{actor.name} sent the card")


async def _pending(uow: UnitOfWork, conversion_id: int) -> tuple[Conversion, Contact]:
    conversion = (
        await Conversion.filter(id=conversion_id, account_id=uow.actor.account_id)
        .using_db(uow.conn)
        .select_for_update()
        .first()
    )
    if conversion is None:
        raise NotFound(f"no conversion with id {conversion_id} in this account")
    if not uow.actor.is_manager:
        raise Forbidden("only managers and admins review conversions")
    if conversion.status != ConversionStatus.PENDING_REVIEW:
        by = " by a manager" if conversion.reviewed_at else ""
        raise Conflict(
            f"conversion {conversion_id} is {conversion.status}{by}, not PENDING_REVIEW: "
            "only a conversion waiting for review can be approved or rejected"
        )
    contact = await _scoped.contact(uow, conversion.contact_id)  # type: ignore[attr-defined]
    return conversion, contact


async def approve_conversion(actor: Actor, conversion_id: int) -> Conversion:
    async with unit_of_work(actor) as uow:
        conversion, contact = await _pending(uow, conversion_id)
        now = utcnow()
        conversion.status = ConversionStatus.SENT.value
        conversion.reviewed_by_id, conversion.reviewed_at, conversion.sent_at = actor.user_id, now, now
        await conversion.save(using_db=uow.conn)
        name = display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)
        await uow.record(
            contact,
            JourneyKind.CONVERSION_SENT,
            f"{actor.name} approved the conversion: {name} was sent to the client",
            {"conversionStatus": [ConversionStatus.PENDING_REVIEW.value, conversion.status]},
            subject_type="Conversion",
            subject_id=conversion.id,
            subject=_subject(conversion),
        )
    return conversion


async def reject_conversion(actor: Actor, conversion_id: int, reason: str | None) -> Conversion:
    cleaned = v.clean_text(reason, "reason", max_length=REASON_MAX)
    async with unit_of_work(actor) as uow:
        conversion, contact = await _pending(uow, conversion_id)
        if not cleaned:
            raise BadInput("say why the conversion is rejected: reason is required", field="reason")
        conversion.status = ConversionStatus.REJECTED.value
        conversion.reason = cleaned
        conversion.reviewed_by_id, conversion.reviewed_at = actor.user_id, utcnow()
        await conversion.save(using_db=uow.conn)
        await uow.record(
            contact,
            JourneyKind.CONVERSION_REJECTED,
            f"{actor.name} rejected the conversion: {v.shortened(cleaned, 200)}",
            {
                "conversionStatus": [ConversionStatus.PENDING_REVIEW.value, conversion.status],
                "reason": [None, cleaned],
            },
            subject_type="Conversion",
            subject_id=conversion.id,
            subject=_subject(conversion),
        )
    return conversion


# -- delivery (the built-in email plugin) ------------------------------------------------------


async def client_address(account_id: int) -> str | None:
    return await Account.filter(id=account_id).first().values_list("client_email", flat=True)  # type: ignore[return-value]


async def emailed_at(conversion_id: int) -> Any:
    """When the client's email server took the conversion (None: not yet)."""
    return await Conversion.filter(id=conversion_id).first().values_list("emailed_at", flat=True)


async def record_email(actor: Actor, conversion_id: int, *, to: str | None, error: str | None = None) -> None:
    """The email plugin's outcome: accepted (`error` None; EMAILED) or failed for good (FAILED,
    CONVERSION_EMAIL_FAILED in the journey). A conversion already emailed is left alone."""
    async with unit_of_work(actor) as uow:
        conversion = (
            await Conversion.filter(id=conversion_id, account_id=actor.account_id)
            .using_db(uow.conn)
            .select_for_update()
            .first()
        )
        if conversion is None or conversion.emailed_at is not None:
            return
        contact = await _scoped.contact(uow, conversion.contact_id)  # type: ignore[attr-defined]
        if error is None:
            conversion.emailed_at, conversion.error = utcnow(), None
            kind, summary = JourneyKind.CONVERSION_EMAILED, f"The conversion was emailed to {to}"
            changes = {"emailedTo": [None, to]}
        else:
            before = conversion.status
            conversion.status, conversion.error = ConversionStatus.FAILED.value, error[:500]
            kind = JourneyKind.CONVERSION_EMAIL_FAILED
            summary = f"The conversion could not be emailed to the client: {v.shortened(error, 300)}"
            changes = {"conversionStatus": [before, conversion.status], "error": [None, conversion.error]}
        await conversion.save(using_db=uow.conn)
        await uow.record(contact, kind, summary, changes, subject_type="Conversion", subject_id=conversion.id)


# -- the account's client address --------------------------------------------------------------


async def update_account_settings(actor: Actor, values: Mapping[str, Any]) -> Account:
    """Change the account's settings given in `values`: `client_email` (where conversions are
    emailed), `region` (national phone numbers, crm/regions.py), `currency` (ISO 4217, the
    card's sums; cannot be cleared), `referral_landing_url` (https; where GET /r/{code} sends
    visitors, crm/services/referrals.py) and `notify_by_sms` (text reminders to users with a
    phone, C9); None clears one, a key left out keeps it. Admins only; a bad value changes
    nothing."""
    if actor.role is not Role.ADMIN:
        raise Forbidden("only admins change the account's settings")
    cleaned: dict[str, Any] = {}
    if "client_email" in values:
        cleaned["client_email"] = v.clean_email(values["client_email"], "clientEmail")
    if "region" in values:
        cleaned["region"] = regions.clean_region(values["region"], "region")
    if "currency" in values:
        if values["currency"] is None:
            raise BadInput("currency cannot be null: give an ISO 4217 code such as USD", field="currency")
        cleaned["currency"] = v.clean_currency(values["currency"], "currency")
    if "referral_landing_url" in values:  # where GET /r/{code} sends visitors (https only)
        from crm.services.referrals import clean_landing_url

        cleaned["referral_landing_url"] = clean_landing_url(values["referral_landing_url"])
    if "notify_by_sms" in values:  # reminders texted to users with a phone (C9)
        if not isinstance(values["notify_by_sms"], bool):
            raise BadInput("notifyBySms must be true or false", field="notifyBySms")
        cleaned["notify_by_sms"] = values["notify_by_sms"]
    if not cleaned:  # nothing to change: no write transaction (on SQLite it takes the write lock)
        return await Account.get(id=actor.account_id)
    async with unit_of_work(actor) as uow:
        account = await Account.filter(id=actor.account_id).using_db(uow.conn).select_for_update().get()
        if any(getattr(account, k) != value for k, value in cleaned.items()):
            for key, value in cleaned.items():
                setattr(account, key, value)
            await account.save(using_db=uow.conn)
    if "region" in cleaned:  # committed: this process reads the new region from now on
        regions.remember(account.id, account.region)
    return account
