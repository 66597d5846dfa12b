"""Merge duplicate contacts into one, and undo a merge (D2).

`merge_contacts` moves every row of every model whose `contact` foreign key points at an
absorbed contact to the primary -- found in tortoise's model registry, so a section added
later (leads, conversions, ...) moves without this module knowing it -- fills the primary's
empty fields from the duplicates (never overwriting), hides the absorbed contacts
(`Contact.merged_into`) and records exactly what it did in a `Merge` row, all in one
transaction.

`unmerge_contacts` gives each absorbed contact back exactly what was its own. Rules (each
refusal is CONFLICT and changes nothing):

1. A merge is undone once.
2. Merges into one contact are undone newest first: a later merge into the primary, still in
   effect, must be undone before this one; so must a later merge that absorbed the primary.
3. Every row the merge moved must still exist and still belong to the primary: a moved note,
   call, tag link, lead... deleted since (or moved on) cannot be given back.
4. Every primary field the merge filled must still hold the value it filled: an edit since
   would be lost by the reset.

What was added to the primary after the merge (a note, a call, a journey entry...) cannot be
attributed to anyone else: it stays on the primary, and is no reason to refuse.

Referrals: contacts an absorbed contact invited are re-pointed at the primary (recorded in
`Merge.moved` under INVITED_KEY, given back by the undo unless their inviter was changed since:
CONFLICT; a re-pointed contact deleted since is skipped). The primary keeps its inviter; without
one it takes the first absorbed contact's (fill-empty, like the other fields). An inviter that
would make the primary its own inviter -- it was invited by an absorbed contact, or by a contact
that an absorbed one invited -- is cleared. Either change is recorded in `Merge.filled` under
`inviter_id` and reset by the undo. An absorbed contact's referral code keeps attributing to the
primary (crm/services/referrals.py code_owner).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise import Tortoise
from tortoise.fields.relational import ForeignKeyFieldInstance
from tortoise.models import Model

from crm.actor import Actor
from crm.clock import utcnow
from crm.errors import BadInput, Conflict, Forbidden, NotFound
from crm.journey import JourneyKind
from crm.models import Contact, Merge, User
from crm.models.contacts import every_contact
from crm.services.contacts import IDENTITY_FIELDS, OWNER_FIELDS
from crm.services.header import HEADER_FIELDS
from crm.services.referrals import _serialise, chain_up, inviter_value
from crm.uow import UnitOfWork, display_name, unit_of_work

MAX_DUPLICATES = 50
# Rows moved per UPDATE: well under both backends' limits on bound parameters.
_CHUNK = 500

# The primary's columns a duplicate may fill when they are empty, with their API names.
FILLABLE: dict[str, str] = {**IDENTITY_FIELDS, **OWNER_FIELDS, **HEADER_FIELDS}
# Consent and the line check belong to a phone number: they come along with a filled phone.
PHONE_COMPANIONS: dict[str, str] = {
    "ok_to_sms": "okToSms",
    "sms_blocked_reason": "smsBlockedReason",
    "phone_line_type": "phoneLineType",
    "phone_checked_at": "phoneCheckedAt",
}
API_NAMES = {**FILLABLE, **PHONE_COMPANIONS}
# What Merge.filled may hold: those, and the primary's inviter (see _move_invited).
FILLED_NAMES = {**API_NAMES, "inviter_id": "inviter"}
# Merge.moved's key for contacts re-pointed from an absorbed inviter to the primary.
INVITED_KEY = "contact.inviter_id"
# How a moved row's model is named to clients (Merge.moved counts): a tag link is a tag.
KIND_NAMES = {"ContactTag": "Tag", INVITED_KEY: "InvitedContact"}


def contact_sections() -> list[type[Model]]:
    """Every model with a `contact` foreign key to Contact, in table order."""
    found = []
    for model in Tortoise.apps["models"].values():
        field = model._meta.fields_map.get("contact")
        if isinstance(field, ForeignKeyFieldInstance) and field.related_model is Contact:
            found.append(model)
    return sorted(found, key=lambda m: m._meta.db_table)


def table_models() -> dict[str, type[Model]]:
    """The models `contact_sections` finds, by table name (Merge.moved's keys)."""
    return {model._meta.db_table: model for model in contact_sections()}


def kind_name(model: type[Model]) -> str:
    return KIND_NAMES.get(model.__name__, model.__name__)


def _unique_groups(model: type[Model]) -> list[tuple[str, ...]]:
    """The other columns of each uniqueness rule that includes the contact: a row whose values
    there the primary already has stays on its (hidden) contact instead of moving."""
    meta = model._meta
    groups: list[tuple[str, ...]] = []
    if meta.fields_map["contact"].unique:  # one row per contact (a one-to-one section)
        groups.append(())
    for group in meta.unique_together or ():
        if {"contact", "contact_id"} & set(group):
            groups.append(
                tuple(
                    f"{name}_id" if name in meta.fk_fields or name in meta.o2o_fields else name
                    for name in group
                    if name not in ("contact", "contact_id")
                )
            )
    return groups


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _name(contact: Contact) -> str:
    return display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)


def _own_fields(contact: Contact) -> dict[str, Any]:
    values = {api: _json_value(getattr(contact, column)) for column, api in API_NAMES.items()}
    values["status"] = contact.status
    values["subStatus"] = contact.sub_status
    return values


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


async def _lock(uow: UnitOfWork, ids: Sequence[int]) -> dict[int, Contact]:
    """The account's contacts among `ids` (absorbed ones too), locked in id order."""
    rows = (
        await every_contact()
        .filter(id__in=sorted(set(ids)), account_id=uow.actor.account_id)
        .using_db(uow.conn)
        .select_for_update()
        .order_by("id")
    )
    return {row.id: row for row in rows}


def _check_size(duplicate_ids: Sequence[int]) -> None:
    if not duplicate_ids:
        raise BadInput(
            "give at least one contact in duplicateIds to merge into the primary", field="duplicateIds"
        )
    if len(duplicate_ids) > MAX_DUPLICATES:
        raise BadInput(
            f"at most {MAX_DUPLICATES} contacts can be merged at once; got {len(duplicate_ids)}",
            field="duplicateIds",
        )


def _check_distinct(primary_id: int, duplicate_ids: Sequence[int]) -> None:
    # After the lookup: an id of another account answers NOT_FOUND whatever else is wrong.
    if primary_id in duplicate_ids:
        raise BadInput(
            "a contact cannot be merged into itself: leave the primary out of duplicateIds",
            field="duplicateIds",
        )
    if len(set(duplicate_ids)) != len(duplicate_ids):
        raise BadInput("duplicateIds names a contact twice", field="duplicateIds")


async def merge_contacts(
    actor: Actor, primary_id: int, duplicate_ids: Sequence[int]
) -> tuple[Contact, Merge]:
    """Absorb `duplicate_ids` (in that order of preference for filling) into `primary_id`."""
    if not actor.is_manager:
        raise Forbidden("only admins and managers can merge contacts")
    _check_size(duplicate_ids)
    async with unit_of_work(actor) as uow:
        return await merge_in(uow, primary_id, duplicate_ids)


async def merge_in(uow: UnitOfWork, primary_id: int, duplicate_ids: Sequence[int]) -> tuple[Contact, Merge]:
    """The merge inside a unit of work the caller holds (mergeContacts; the demo's seed)."""
    actor = uow.actor
    duplicates = list(duplicate_ids)
    found = await _lock(uow, [primary_id, *duplicates])
    for contact_id, field in ((primary_id, "primaryId"), *((i, "duplicateIds") for i in duplicates)):
        if contact_id not in found:
            raise NotFound(f"no contact with id {contact_id} in this account", field=field)
    _check_distinct(primary_id, duplicates)
    for contact_id, field in ((primary_id, "primaryId"), *((i, "duplicateIds") for i in duplicates)):
        contact = found[contact_id]
        if contact.merged_into_id is not None:  # type: ignore[attr-defined]
            raise BadInput(
                f"contact {contact_id} was already merged into contact {contact.merged_into_id}"  # type: ignore[attr-defined]
                " (see that contact's merges): merge that one instead",
                field=field,
            )
        if getattr(contact, "archived_at", None) is not None:
            raise BadInput(
                f"contact {contact_id} ({_name(contact)}) is archived: restore it before merging",
                field=field,
            )
    primary = found[primary_id]
    absorbed = [found[i] for i in duplicates]
    moved, kept, counts = await _move_rows(uow, primary.id, duplicates)
    filled = _fill(primary, absorbed)
    invited = await _move_invited(uow, primary, absorbed, filled)
    if invited:
        moved[INVITED_KEY] = invited
        counts[KIND_NAMES[INVITED_KEY]] = sum(len(ids) for ids in invited.values())
    now = utcnow()
    primary_updated_at = primary.updated_at
    if filled:
        await (
            every_contact()
            .filter(id=primary.id)
            .using_db(uow.conn)
            .update(**{column: getattr(primary, column) for column in filled}, updated_at=now)
        )
        primary.updated_at = now
    await every_contact().filter(id__in=duplicates).using_db(uow.conn).update(merged_into_id=primary.id)
    merge = Merge(
        account_id=actor.account_id,
        primary_id=primary.id,
        absorbed_ids=duplicates,
        absorbed=[{"id": c.id, "displayName": _name(c), "fields": _own_fields(c)} for c in absorbed],
        moved=moved,
        kept=kept,
        filled={
            **filled,
            **(
                {"updated_at": {"before": _json_value(primary_updated_at), "after": _json_value(now)}}
                if filled
                else {}
            ),
        },
        actor_kind=actor.kind.value,
        actor_user_id=actor.user_id,
        actor_name=actor.name[:120],
    )
    await merge.save(using_db=uow.conn)
    changes = await _journal_changes(uow, filled)
    names = ", ".join(_name(c) for c in absorbed)
    moved_text = ", ".join(f"{n} {k.lower()}{'s' if n != 1 else ''}" for k, n in sorted(counts.items()))
    await uow.record(
        primary,
        JourneyKind.CONTACTS_MERGED,
        f"{actor.name} merged {names} into {_name(primary)}" + (f" ({moved_text})" if moved_text else ""),
        changes,
        subject_type="Merge",
        subject_id=merge.id,
        subject={
            "mergeId": merge.id,
            "absorbed": [{"id": c.id, "displayName": _name(c)} for c in absorbed],
            "moved": counts,
            "filled": {FILLED_NAMES[c]: {"from": f["from"], "value": f["after"]} for c, f in filled.items()},
        },
    )
    return primary, merge


async def _move_invited(
    uow: UnitOfWork, primary: Contact, absorbed: list[Contact], filled: dict[str, dict[str, Any]]
) -> dict[str, list[int]]:
    """Re-point the contacts the absorbed ones invited at the primary, and settle the primary's
    own inviter (kept; else the first absorbed contact's; cleared where it would be a cycle).
    The primary's inviter change goes into `filled`; the re-pointed contacts are returned by
    their absorbed inviter."""
    absorbed_ids = {c.id for c in absorbed}
    rows = (
        await every_contact()
        .filter(account_id=uow.actor.account_id, inviter_id__in=sorted(absorbed_ids))
        .exclude(id__in=sorted(absorbed_ids | {primary.id}))
        .using_db(uow.conn)
        .order_by("id")
        .values_list("id", "inviter_id")
    )
    old = primary.inviter_id  # type: ignore[attr-defined]
    candidates = [(primary, old)] if old is not None else []
    candidates += [(c, c.inviter_id) for c in absorbed if c.inviter_id is not None]  # type: ignore[attr-defined]
    if not rows and not candidates:
        return {}
    await _serialise(uow)
    invited: dict[str, list[int]] = {}
    for contact_id, inviter_id in rows:
        invited.setdefault(str(inviter_id), []).append(contact_id)
    ids = [contact_id for contact_id, _ in rows]
    for chunk in _chunks(ids):
        await every_contact().filter(id__in=chunk).using_db(uow.conn).update(inviter_id=primary.id)
    # The primary's inviter: its own, else the first absorbed contact's, that is neither the
    # primary nor absorbed and whose chain of inviters (now) does not lead back to the primary.
    new, source = None, next((c for c in absorbed if c.id == old), absorbed[0])
    for contact, inviter_id in candidates:
        if inviter_id in absorbed_ids or inviter_id == primary.id:
            continue
        if primary.id in await chain_up(uow, inviter_id):
            continue
        new, source = inviter_id, contact
        break
    if new != old:  # written with the other filled fields
        filled["inviter_id"] = {"from": source.id, "before": old, "after": new}
        primary.inviter_id = new  # type: ignore[attr-defined]
    return invited


async def _move_rows(
    uow: UnitOfWork, primary_id: int, duplicates: list[int]
) -> tuple[dict[str, dict[str, list[int]]], dict[str, dict[str, list[int]]], dict[str, int]]:
    moved: dict[str, dict[str, list[int]]] = {}
    kept: dict[str, dict[str, list[int]]] = {}
    counts: dict[str, int] = {}
    for model in contact_sections():
        table = model._meta.db_table
        groups = _unique_groups(model)
        columns = sorted({"id", "contact_id", *(c for g in groups for c in g)})
        # The primary's own rows matter only where a uniqueness rule could collide.
        owners = [primary_id, *duplicates] if groups else duplicates
        rows = await model.filter(contact_id__in=owners).using_db(uow.conn).order_by("id").values(*columns)
        taken = [{tuple(r[c] for c in g) for r in rows if r["contact_id"] == primary_id} for g in groups]
        by_from: dict[int, list[int]] = {}
        order = {contact_id: i for i, contact_id in enumerate(duplicates)}
        for row in sorted(
            (r for r in rows if r["contact_id"] != primary_id),
            key=lambda r: (order[r["contact_id"]], r["id"]),
        ):
            keys = [tuple(row[c] for c in g) for g in groups]
            if any(key in seen for key, seen in zip(keys, taken, strict=True)):
                kept.setdefault(table, {}).setdefault(str(row["contact_id"]), []).append(row["id"])
                continue
            for key, seen in zip(keys, taken, strict=True):
                seen.add(key)
            by_from.setdefault(row["contact_id"], []).append(row["id"])
        ids = [i for contact_ids in by_from.values() for i in contact_ids]
        for chunk in _chunks(ids):
            await model.filter(id__in=chunk).using_db(uow.conn).update(contact_id=primary_id)
        if ids:
            moved[table] = {str(contact_id): row_ids for contact_id, row_ids in by_from.items()}
            counts[kind_name(model)] = counts.get(kind_name(model), 0) + len(ids)
    return moved, kept, counts


# A duplicate's email or phone the primary lacks is kept in the primary's empty secondary slot,
# so lookups by it (contactByPhone, duplicate candidates) find the merged card.
_SECONDARY_SLOTS = {
    "secondary_email": ("email", "secondary_email"),
    "secondary_phone": ("phone", "secondary_phone"),
}


def _fill(primary: Contact, absorbed: list[Contact]) -> dict[str, dict[str, Any]]:
    """Set the primary's empty fields from the first duplicate that has each; what was filled."""
    filled: dict[str, dict[str, Any]] = {}

    def put(column: str, source: Contact, after: Any) -> None:
        filled[column] = {
            "from": source.id,
            "before": _json_value(getattr(primary, column)),
            "after": _json_value(after),
        }
        setattr(primary, column, after)

    for column in FILLABLE:
        if not _empty(getattr(primary, column)):
            continue
        if column in _SECONDARY_SLOTS:
            main = _SECONDARY_SLOTS[column][0]
            offered = ((c, getattr(c, slot)) for c in absorbed for slot in _SECONDARY_SLOTS[column])
            found = next(((c, v) for c, v in offered if not _empty(v) and v != getattr(primary, main)), None)
            if found is not None:
                put(column, *found)
            continue
        source = next((c for c in absorbed if not _empty(getattr(c, column))), None)
        if source is None:
            continue
        put(column, source, getattr(source, column))
        if column == "phone":
            for name in PHONE_COMPANIONS:
                if getattr(primary, name) != getattr(source, name):
                    put(name, source, getattr(source, name))
    return filled


async def _journal_changes(uow: UnitOfWork, filled: dict[str, dict[str, Any]]) -> dict[str, list[Any]]:
    """{apiName: [before, after]}, owners by name as the journey names them."""
    owner_ids = {f[k] for c, f in filled.items() if c in OWNER_FIELDS for k in ("before", "after")} - {None}
    names = {}
    if owner_ids:
        users = await User.filter(id__in=owner_ids, account_id=uow.actor.account_id).using_db(uow.conn)
        names = {u.id: u.name for u in users}
    changes: dict[str, list[Any]] = {}
    for column, fill in filled.items():
        before, after = fill["before"], fill["after"]
        if column in OWNER_FIELDS:
            before, after = names.get(before), names.get(after)
        if column == "inviter_id":
            changes["inviter"] = await _inviter_change(uow, before, after)
            continue
        changes[API_NAMES[column]] = [before, after]
    return changes


async def _inviter_change(uow: UnitOfWork, before: int | None, after: int | None) -> list[Any]:
    """[before, after] of an inviter as the journey shows it (crm/services/referrals.py)."""
    ids = {before, after} - {None}
    found = {c.id: c for c in await every_contact().filter(id__in=ids).using_db(uow.conn)} if ids else {}
    return [inviter_value(found.get(before)), inviter_value(found.get(after))]  # type: ignore[arg-type]


async def unmerge_contacts(actor: Actor, merge_id: int) -> tuple[Merge, list[Contact]]:
    """Undo a merge (see the rules above); the primary and the restored contacts, primary first."""
    if not actor.is_manager:
        raise Forbidden("only admins and managers can undo a merge")
    async with unit_of_work(actor) as uow:
        merge = (
            await Merge.filter(id=merge_id, account_id=actor.account_id)
            .using_db(uow.conn)
            .select_for_update()
            .first()
        )
        if merge is None:
            raise NotFound(f"no merge with id {merge_id} in this account", field="mergeId")
        if merge.undone_at is not None:
            raise Conflict(f"merge {merge_id} was already undone at {merge.undone_at.isoformat()}")
        absorbed_ids: list[int] = list(merge.absorbed_ids)
        found = await _lock(uow, [merge.primary_id, *absorbed_ids])  # type: ignore[attr-defined]
        primary = found[merge.primary_id]  # type: ignore[attr-defined]
        await _check_undoable(uow, merge, primary, found, absorbed_ids)
        moved: dict[str, dict[str, list[int]]] = merge.moved
        models = table_models()
        for from_id, contact_ids in moved.get(INVITED_KEY, {}).items():
            for chunk in _chunks(contact_ids):
                await (
                    every_contact()
                    .filter(id__in=chunk, inviter_id=primary.id)
                    .using_db(uow.conn)
                    .update(inviter_id=int(from_id))
                )
        for table, by_from in moved.items():
            if table == INVITED_KEY:
                continue
            model = models[table]
            for from_id, row_ids in by_from.items():
                for chunk in _chunks(row_ids):
                    await model.filter(id__in=chunk).using_db(uow.conn).update(contact_id=int(from_id))
        filled: dict[str, dict[str, Any]] = merge.filled
        reset = {column: fill["before"] for column, fill in filled.items() if column != "updated_at"}
        if reset:
            for column, before in reset.items():
                field = Contact._meta.fields_map[column]
                setattr(primary, column, field.to_python_value(before) if before is not None else None)
            values = {column: getattr(primary, column) for column in reset}
            stamp = filled.get("updated_at")
            if stamp and _json_value(primary.updated_at) == _json_value(_as_datetime(stamp["after"])):
                # Nothing touched the card since: it reads as it did before the merge.
                values["updated_at"] = _as_datetime(stamp["before"])
            else:
                values["updated_at"] = utcnow()
            await every_contact().filter(id=primary.id).using_db(uow.conn).update(**values)
            primary.updated_at = values["updated_at"]
        await every_contact().filter(id__in=absorbed_ids).using_db(uow.conn).update(merged_into_id=None)
        now = utcnow()
        merge.undone_at = now
        merge.undone_by_name = actor.name[:120]
        await merge.save(using_db=uow.conn, update_fields=["undone_at", "undone_by_name"])
        restored = [found[i] for i in absorbed_ids]
        for contact in restored:
            contact.merged_into_id = None  # type: ignore[attr-defined]
        names = ", ".join(_name(c) for c in restored)
        subject = {
            "mergeId": merge.id,
            "primaryId": primary.id,
            "restored": [{"id": c.id, "displayName": _name(c)} for c in restored],
        }
        changes = {API_NAMES[c]: [f["after"], f["before"]] for c, f in filled.items() if c in API_NAMES}
        if "inviter_id" in filled:
            fill = filled["inviter_id"]
            changes["inviter"] = await _inviter_change(uow, fill["after"], fill["before"])
        await uow.record(
            primary,
            JourneyKind.CONTACT_UNMERGED,
            f"{actor.name} undid the merge of {names} into {_name(primary)}",
            changes,
            subject_type="Merge",
            subject_id=merge.id,
            subject=subject,
        )
        for contact in restored:
            await uow.record(
                contact,
                JourneyKind.CONTACT_UNMERGED,
                f"{actor.name} restored {_name(contact)} from its merge into {_name(primary)}",
                {},
                subject_type="Merge",
                subject_id=merge.id,
                subject=subject,
            )
    return merge, [primary, *restored]


def _as_datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def _check_undoable(
    uow: UnitOfWork, merge: Merge, primary: Contact, found: dict[int, Contact], absorbed_ids: list[int]
) -> None:
    merge_id = merge.id
    if primary.merged_into_id is not None:  # type: ignore[attr-defined]
        later = await _absorbing_merge(uow, primary)
        raise Conflict(
            f"contact {primary.id} ({_name(primary)}) was itself merged into contact "
            f"{primary.merged_into_id} since (merge {later}): undo that merge first"  # type: ignore[attr-defined]
        )
    for contact_id in absorbed_ids:
        contact = found.get(contact_id)
        if contact is None or contact.merged_into_id != primary.id:  # type: ignore[attr-defined]
            raise Conflict(f"contact {contact_id} is no longer held by this merge")
    later = (
        await Merge.filter(
            account_id=uow.actor.account_id, primary_id=primary.id, id__gt=merge_id, undone_at__isnull=True
        )
        .using_db(uow.conn)
        .order_by("-id")
        .values_list("id", flat=True)
    )
    if later:
        raise Conflict(
            f"merge {later[0]} into the same contact came after this one and is still in effect: "
            "merges into one contact are undone newest first, undo that one first"
        )
    models = table_models()
    for from_id, contact_ids in merge.moved.get(INVITED_KEY, {}).items():
        for chunk in _chunks(contact_ids):
            rows = (
                await every_contact().filter(id__in=chunk).using_db(uow.conn).values_list("id", "inviter_id")
            )
            for contact_id, inviter_id in rows:  # one deleted since has nothing to give back
                if inviter_id != primary.id:
                    raise Conflict(
                        f"contact {contact_id}, whom contact {from_id} invited, has had its inviter changed "
                        f"since the merge pointed it at {_name(primary)}: undoing would lose that edit; "
                        "set its inviter back first"
                    )
    for table, by_from in merge.moved.items():
        if table == INVITED_KEY:
            continue
        model = models.get(table)
        ids = [i for row_ids in by_from.values() for i in row_ids]
        if model is None:
            raise Conflict(f"rows of {table} moved by this merge can no longer be found")
        where: dict[int, int] = {}
        for chunk in _chunks(ids):
            rows = await model.filter(id__in=chunk).using_db(uow.conn).values_list("id", "contact_id")
            where.update({row_id: contact_id for row_id, contact_id in rows})
        for row_id in ids:
            if row_id not in where:
                raise Conflict(
                    f"the {kind_name(model).lower()} {row_id} this merge moved to {_name(primary)} has been "
                    "deleted since, so it cannot be given back"
                )
            if where[row_id] != primary.id:
                raise Conflict(
                    f"the {kind_name(model).lower()} {row_id} this merge moved to {_name(primary)} "
                    f"has moved to contact {where[row_id]} since"
                )
    for column, fill in merge.filled.items():
        if column == "updated_at":
            continue
        now = _json_value(getattr(primary, column))
        if now != fill["after"]:
            raise Conflict(
                f"{FILLED_NAMES.get(column, column)} was changed on {_name(primary)} since the merge "
                f"filled it ({fill['after']!r}, now {now!r}): undoing would lose that edit; set it back first"
            )


async def _absorbing_merge(uow: UnitOfWork, contact: Contact) -> int | None:
    """The merge in effect that absorbed `contact`: one of those into the contact it is in."""
    merges = (
        await Merge.filter(
            account_id=uow.actor.account_id,
            primary_id=contact.merged_into_id,  # type: ignore[attr-defined]
            undone_at__isnull=True,
        )
        .using_db(uow.conn)
        .order_by("-id")
        .values("id", "absorbed_ids")
    )
    return next((m["id"] for m in merges if contact.id in (m["absorbed_ids"] or [])), None)
