"""A card's lifecycle: duplicate, archive, restore, delete for good (D4, D5).

- `duplicate_contact` copies identity, address, status, owners, SMS consent, tags and deals;
  not notes, calls, messages, UTMs, form answers or the journey. The copy's journey starts
  with CONTACT_DUPLICATED pointing at the source; the source's journey says it was copied
  (same kind, pointing at the copy, without firing the hook a second time).
- `archive_contacts` / `restore_contacts` take up to MAX_IDS ids. An archived contact leaves
  the contacts list (and its count and search) unless the archive is asked for; it keeps
  answering by id and by phone (`contactByPhone`), and refuses new calls, SMS and email
  (`refuse_archived`). Archiving an archived contact, or restoring a live one, is skipped
  and reported (no journey entry, no hook), so a retried bulk action is harmless.
- `delete_contacts` erases archived contacts only (admins and managers), with every row tied
  to them (the foreign keys cascade), the outbox rows of their earlier events and the webhook
  deliveries made from those (their payloads hold the card's data). `contact_deleted` carries
  the last snapshot; its outbox rows outlive the card (outbox.contact_id is no foreign key).

Every id of a call must belong to the caller's account, or nothing changes (NOT_FOUND names
them); a bulk call either applies to all its contacts or to none.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from crm import money
from crm.actor import Actor
from crm.clock import utcnow
from crm.errors import BadInput, Forbidden, NotFound
from crm.journey import JourneyKind
from crm.models import Contact, ContactTag, Deal, OutboxRow, User, WebhookDelivery, WebhookEndpoint
from crm.models.contacts import every_contact
from crm.models.profile import PROFILE_COLUMNS, PROFILE_FIELDS, ContactProfile
from crm.services import _scoped
from crm.services.attachments import attachment_keys, discard_objects
from crm.services.contacts import IDENTITY_FIELDS
from crm.services.deals import DEAL_FIELDS, deal_subject
from crm.services.header import HEADER_FIELDS
from crm.services.profile import journal_value, stored_value
from crm.uow import UnitOfWork, display_name, unit_of_work

# Ids per archive, restore or delete call: a page of a big selection, one transaction each.
MAX_IDS = 500
# The webhooks plugin's outbox rows name the event ids its delivery log keeps (WebhookDelivery).
_WEBHOOKS_PLUGIN = "webhooks"
_CHUNK = 500

# Columns a copy takes over besides the identity fields, with their API names.
_COPIED_STATE = {
    "status": "status",
    "sub_status": "subStatus",
    "converted_at": "convertedAt",
    "ok_to_sms": "okToSms",
    "sms_blocked_reason": "smsBlockedReason",
    "phone_line_type": "phoneLineType",
    "phone_checked_at": "phoneCheckedAt",
    **HEADER_FIELDS,  # leadSource, actionPlan, salesCycle
}
_OWNERS = {"setter_owner_id": "setterOwner", "closer_owner_id": "closerOwner", "assigned_to_id": "assignedTo"}
_DEAL_COLUMNS = (*DEAL_FIELDS, "closed_at")


def _name(contact: Contact) -> str:
    return display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)


def _json(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def refuse_archived(contact: Contact, action: str) -> None:
    """New activity (a call, an SMS, an email) is refused on an archived contact."""
    if contact.archived_at is not None:
        raise BadInput(
            f"contact {contact.id} ({_name(contact)}) is archived since "
            f"{contact.archived_at:%Y-%m-%d %H:%M} UTC: restore it (restoreContacts) before {action}",
            field="contactId",
        )


def _clean_ids(ids: Sequence[int]) -> list[int]:
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise BadInput("give at least one contact id", field="ids")
    if len(unique) > MAX_IDS:
        raise BadInput(f"at most {MAX_IDS} contacts per call, got {len(unique)}", field="ids")
    return unique


async def _contacts(uow: UnitOfWork, ids: list[int]) -> list[Contact]:
    """The account's contacts with these ids, locked, in the order given; NOT_FOUND names the
    ids that are not the account's (another account's id is answered like a missing one)."""
    rows = (
        await Contact.filter(id__in=ids, account_id=uow.actor.account_id)
        .using_db(uow.conn)
        .select_for_update()
    )
    found = {c.id: c for c in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise NotFound(f"no contact with id {shown} in this account; nothing was changed", field="ids")
    return [found[i] for i in ids]


# -- archive and restore --------------------------------------------------------------------


async def archive_in(uow: UnitOfWork, contacts: Sequence[Contact]) -> list[Contact]:
    """Archive the live ones of these locked contacts, journaled; returns those archived."""
    now = utcnow()
    changed = [c for c in contacts if c.archived_at is None]
    if changed:
        await Contact.filter(id__in=[c.id for c in changed]).using_db(uow.conn).update(archived_at=now)
    for contact in changed:
        contact.archived_at = now
        await uow.record(
            contact,
            JourneyKind.CONTACT_ARCHIVED,
            f"{uow.actor.name} archived {_name(contact)}",
            {"archivedAt": [None, now.isoformat()]},
        )
    return changed


async def restore_in(uow: UnitOfWork, contacts: Sequence[Contact]) -> list[Contact]:
    """Bring the archived ones of these locked contacts back, journaled; returns those restored."""
    changed = [c for c in contacts if c.archived_at is not None]
    if changed:
        await Contact.filter(id__in=[c.id for c in changed]).using_db(uow.conn).update(archived_at=None)
    for contact in changed:
        since = contact.archived_at
        contact.archived_at = None
        await uow.record(
            contact,
            JourneyKind.CONTACT_RESTORED,
            f"{uow.actor.name} restored {_name(contact)} from the archive",
            {"archivedAt": [_json(since), None]},
        )
    return changed


async def archive_contacts(actor: Actor, ids: Sequence[int]) -> tuple[list[Contact], list[int]]:
    """Archive the contacts; returns them all and the ids this call archived (the others
    already were)."""
    wanted = _clean_ids(ids)
    async with unit_of_work(actor) as uow:
        contacts = await _contacts(uow, wanted)
        changed = await archive_in(uow, contacts)
    return contacts, [c.id for c in changed]


async def restore_contacts(actor: Actor, ids: Sequence[int]) -> tuple[list[Contact], list[int]]:
    """Bring archived contacts back; returns them all and the ids this call restored."""
    wanted = _clean_ids(ids)
    async with unit_of_work(actor) as uow:
        contacts = await _contacts(uow, wanted)
        changed = await restore_in(uow, contacts)
    return contacts, [c.id for c in changed]


# -- delete ---------------------------------------------------------------------------------


async def _snapshots(uow: UnitOfWork, contacts: list[Contact]) -> dict[int, dict[str, Any]]:
    """Each card as it is before it goes: identity, address, status, owners' names, tags."""
    ids = [c.id for c in contacts]
    user_ids = {getattr(c, k) for c in contacts for k in _OWNERS} - {None}
    users = dict(
        await User.filter(id__in=user_ids, account_id=uow.actor.account_id)
        .using_db(uow.conn)
        .values_list("id", "name")
    )
    tags: dict[int, list[str]] = {i: [] for i in ids}
    for contact_id, name in (
        await ContactTag.filter(contact_id__in=ids)
        .using_db(uow.conn)
        .order_by("tag__name")
        .values_list("contact_id", "tag__name")
    ):
        tags[contact_id].append(name)
    snapshots = {}
    for c in contacts:
        record: dict[str, Any] = {api: getattr(c, column) for column, api in IDENTITY_FIELDS.items()}
        record.update({api: _json(getattr(c, column)) for column, api in _COPIED_STATE.items()})
        record.update({api: users.get(getattr(c, column)) for column, api in _OWNERS.items()})
        record.update(
            id=c.id,
            displayName=_name(c),
            archivedAt=_json(c.archived_at),
            createdAt=_json(c.created_at),
            tags=tags[c.id],
        )
        snapshots[c.id] = record
    return snapshots


async def _absorbed(uow: UnitOfWork, ids: list[int]) -> list[int]:
    """The contacts merged into these ones (and into those, ...): hidden, and deleted with them
    (contact.merged_into cascades)."""
    found: list[int] = []
    frontier = ids
    while frontier:
        frontier = list(
            await every_contact()
            .filter(merged_into_id__in=frontier, account_id=uow.actor.account_id)
            .using_db(uow.conn)
            .values_list("id", flat=True)
        )
        found += frontier
    return found


async def _erase_deliveries(uow: UnitOfWork, ids: list[int]) -> None:
    """The outbox rows of the contacts' earlier events (theirs and those of the contacts merged
    into them), and the webhook deliveries made from them: all hold copies of the cards."""
    ids = [*ids, *await _absorbed(uow, ids)]
    outbox = OutboxRow.filter(account_id=uow.actor.account_id, contact_id__in=ids).using_db(uow.conn)
    payloads = await outbox.filter(plugin=_WEBHOOKS_PLUGIN).values_list("payload", flat=True)
    event_ids = sorted({p["id"] for p in payloads if isinstance(p, dict) and "id" in p})
    # The account's endpoints first, not `endpoint__account_id`: tortoise 1.1.4 (our floor) writes
    # a DELETE filtered through a relation as "DELETE ... LEFT JOIN", which neither database takes.
    endpoint_ids: list[int] = []
    if event_ids:
        endpoint_ids = await (
            WebhookEndpoint.filter(account_id=uow.actor.account_id)
            .using_db(uow.conn)
            .values_list("id", flat=True)
        )
    for start in range(0, len(event_ids) if endpoint_ids else 0, _CHUNK):
        await (
            WebhookDelivery.filter(
                event_id__in=event_ids[start : start + _CHUNK], endpoint_id__in=endpoint_ids
            )
            .using_db(uow.conn)
            .delete()
        )
    await outbox.delete()


async def delete_in(uow: UnitOfWork, contacts: Sequence[Contact]) -> list[str]:
    """Erase these locked, archived contacts with everything tied to them, each journaled (its
    hook carries the last snapshot). Returns the storage keys of their files: discard them
    (`discard_objects`) once the transaction has committed."""
    ids = [c.id for c in contacts]
    if not ids:
        return []
    snapshots = await _snapshots(uow, list(contacts))
    # Their files' objects go after commit (rows cascade with the contacts); see attachments.
    files = await attachment_keys(uow.conn, uow.actor.account_id, [*ids, *await _absorbed(uow, ids)])
    await _erase_deliveries(uow, ids)
    for contact in contacts:
        # Written before the card goes: its journey entry goes with it, the outbox rows stay.
        await uow.record(
            contact,
            JourneyKind.CONTACT_DELETED,
            f"{uow.actor.name} deleted {_name(contact)} for good",
            {"archivedAt": [_json(contact.archived_at), None]},
            subject_type="Contact",
            subject_id=contact.id,
            subject=snapshots[contact.id],
        )
    await Contact.filter(id__in=ids, account_id=uow.actor.account_id).using_db(uow.conn).delete()
    return files


async def delete_contacts(actor: Actor, ids: Sequence[int]) -> list[int]:
    """Erase archived contacts for good; returns their ids. A live one refuses the whole call."""
    if not actor.is_manager:
        raise Forbidden("only admins and managers can delete contacts")
    wanted = _clean_ids(ids)
    async with unit_of_work(actor) as uow:
        contacts = await _contacts(uow, wanted)
        live = [c for c in contacts if c.archived_at is None]
        if live:
            named = ", ".join(f"{c.id} ({_name(c)})" for c in live[:10]) + (" ..." if len(live) > 10 else "")
            raise BadInput(
                f"only archived contacts can be deleted; archive these first (archiveContacts): {named}."
                " Nothing was deleted",
                field="ids",
            )
        files = await delete_in(uow, contacts)
    await discard_objects(files)
    return wanted


# -- duplicate ------------------------------------------------------------------------------


async def duplicate_contact(actor: Actor, contact_id: int) -> Contact:
    """A new contact with the source's identity, owners, expanded profile, tags and deals.

    The copy's journey starts with CONTACT_DUPLICATED (every field copied, owners by name, the
    profile's fields as "profile.<name>" and the tags, as `[None, value]`) followed by a
    DEAL_ADDED per copied deal, so it replays to the copy; only CONTACT_DUPLICATED fires a hook
    (its subject lists the deals)."""
    async with unit_of_work(actor) as uow:
        source = await _scoped.contact(uow, contact_id)
        values = {column: getattr(source, column) for column in (*IDENTITY_FIELDS, *_COPIED_STATE, *_OWNERS)}
        copy = Contact(account_id=actor.account_id, **values)
        await copy.save(using_db=uow.conn)
        tags = (
            await ContactTag.filter(contact_id=source.id)
            .using_db(uow.conn)
            .order_by("id")
            .values_list("tag_id", "tag__name")
        )
        if tags:
            await ContactTag.bulk_create(
                [ContactTag(contact_id=copy.id, tag_id=tag_id) for tag_id, _ in tags], using_db=uow.conn
            )
        profile = await ContactProfile.filter(contact_id=source.id).using_db(uow.conn).first()
        if profile is not None:  # identity-like data: copied whole (article 002: only notes are not)
            await ContactProfile(
                contact_id=copy.id, **{column: getattr(profile, column) for column in PROFILE_COLUMNS}
            ).save(using_db=uow.conn)
        deals = []
        for deal in await Deal.filter(contact_id=source.id).using_db(uow.conn).order_by("created_at", "id"):
            copied = Deal(
                contact_id=copy.id,
                account_id=deal.account_id,  # type: ignore[attr-defined]
                created_by_id=deal.created_by_id,  # type: ignore[attr-defined]
                **{column: getattr(deal, column) for column in _DEAL_COLUMNS},
            )
            await copied.save(using_db=uow.conn)
            deals.append(copied)
        owner_ids = {values[column] for column in _OWNERS} - {None}
        names = dict(
            await User.filter(id__in=owner_ids, account_id=actor.account_id)
            .using_db(uow.conn)
            .values_list("id", "name")
        )
        changes: dict[str, list[Any]] = {
            api: [None, _json(values[column])]
            for column, api in {**IDENTITY_FIELDS, **_COPIED_STATE}.items()
            if values[column] is not None and values[column] is not False
        }
        changes.update(
            {api: [None, names[values[column]]] for column, api in _OWNERS.items() if values[column] in names}
        )
        if profile is not None:  # as updateContact journals them; a BOOL's false is an answer too
            for spec in PROFILE_FIELDS:
                value = stored_value(spec, profile)
                if value is not None:
                    changes[spec.journey_key] = [None, journal_value(spec, value)]
        tag_names = sorted(name for _, name in tags)
        if tag_names:
            changes["tags"] = [None, tag_names]
        await uow.record(
            copy,
            JourneyKind.CONTACT_DUPLICATED,
            f"{actor.name} duplicated {_name(source)} (contact {source.id}) as this contact",
            changes,
            subject_type="Contact",
            subject_id=source.id,
            subject={
                "sourceId": source.id,
                "tags": tag_names,
                "deals": [{"id": d.id, **deal_subject(d)} for d in deals],
            },
        )
        for deal in deals:
            await uow.record(
                copy,
                JourneyKind.DEAL_ADDED,
                f"{actor.name} copied a deal from contact {source.id}: {deal.product_name},"
                f" {money.display(deal.amount, deal.currency)} ({deal.status.lower()})",
                {
                    api: [None, _deal_json(getattr(deal, column), deal.currency)]
                    for column, api in DEAL_FIELDS.items()
                },
                subject_type="Deal",
                subject_id=deal.id,
                subject=deal_subject(deal),
                notify=False,
            )
        await uow.record(
            source,
            JourneyKind.CONTACT_DUPLICATED,
            f"{actor.name} duplicated this contact as contact {copy.id}",
            {},
            subject_type="Contact",
            subject_id=copy.id,
            notify=False,
        )
    return copy


def _deal_json(value: Any, currency: str) -> Any:
    # As add_deal journals them: amounts with the currency's decimal places, dates as ISO text.
    return money.text(value, currency) if isinstance(value, Decimal) else _json(value)
