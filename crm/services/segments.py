"""Segments (D12): saved groups of contacts.

- DYNAMIC (`createSegment(input: {name, filter})`): its members are whoever its filter matches
  now (crm/contact_filters.py), live contacts only; nothing is stored per contact, so nothing is
  journaled when a contact starts or stops matching.
- STATIC (`createSegment(input: {name, contactIds})`): its members are SegmentMember rows,
  changed by addToSegment / removeFromSegment (at most MAX_IDS ids per call; the bulk action
  ADD_TO_SEGMENT calls `add_members` batch by batch for larger sets). Each contact added or
  removed gets an ADDED_TO_SEGMENT / REMOVED_FROM_SEGMENT journey entry and fires
  `contact_added_to_segment` / `contact_removed_from_segment`. Adding a member twice, or
  removing a contact that is no member, changes nothing (no entry): a retried call is harmless.
  Archived contacts keep their memberships (a restore brings them back into `contacts` and
  `count`, which list live contacts only). Deleting a contact drops its memberships (CASCADE);
  a merge moves them to the surviving contact (crm/services/merges.py moves every row with a
  contact key) and an unmerge gives them back.

Rules (each refusal changes nothing):

- name: 1-100 characters, unique in the account (CONFLICT).
- At most MAX_SEGMENTS segments per account, MAX_DYNAMIC of them dynamic: a card's `segments`
  evaluates every dynamic segment for the page of cards, one statement each.
- Anyone in the account creates segments and adds or removes members; renaming, changing the
  filter and deleting are for the segment's creator, managers and admins (FORBIDDEN otherwise).
- addToSegment / removeFromSegment on a dynamic segment: CONFLICT (its filter decides).
  A filter on a static segment, or contactIds on a dynamic one: BAD_USER_INPUT.
- A dynamic filter may use other segments (`segment: {in: [...]}`), never itself, directly or
  through others (BAD_USER_INPUT). A segment that another segment's filter uses cannot be
  deleted (CONFLICT naming them): their filters would stop working.

Creating, renaming, refiltering and deleting a segment are account-level changes: the account
events `segment_saved` / `segment_deleted`, no journey entry. Deleting a static segment drops its
memberships without an entry per contact (the segment, not the contacts, went away).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from crm import validation as v
from crm.account_events import queue_account_event
from crm.actor import Actor
from crm.contact_filters import matching_contacts, validate_shape
from crm.errors import BadInput, Conflict, Forbidden, NotFound
from crm.journey import JourneyKind
from crm.models import Contact, Segment, SegmentMember
from crm.models.segments import DYNAMIC, STATIC
from crm.services.billing import api_id
from crm.uow import UnitOfWork, unit_of_work

MAX_NAME = 100
MAX_SEGMENTS = 100  # Contact.segments(first:) shows them all at its largest page
MAX_DYNAMIC = 50
MAX_IDS = 100  # contactIds per createSegment / addToSegment / removeFromSegment

SEGMENT_SAVED, SEGMENT_DELETED = "segment_saved", "segment_deleted"


# -- reading filters -------------------------------------------------------------------------


def segment_refs(spec: Any) -> set[int]:
    """The segment ids a domain filter names in its `segment: {in: [...]}` clauses, at any depth."""
    found: set[int] = set()
    if isinstance(spec, Mapping):
        for key, value in spec.items():
            if key == "segment" and isinstance(value, Mapping):
                found.update(i for i in value.get("in") or () if isinstance(i, int))
            else:
                found |= segment_refs(value)
    elif isinstance(spec, list):
        for item in spec:
            found |= segment_refs(item)
    return found


def segment_subject(segment: Segment) -> dict[str, Any]:
    return {"id": api_id("Segment", segment.id), "name": segment.name, "kind": segment.kind}


# -- cleaning input --------------------------------------------------------------------------


def _name(raw: Any) -> str:
    name = v.clean_text(raw, "name", max_length=MAX_NAME, required=True)
    assert name is not None
    return name


def _ids(contact_ids: Sequence[int], field: str = "contactIds") -> list[int]:
    unique = list(dict.fromkeys(contact_ids))
    if len(unique) > MAX_IDS:
        raise BadInput(
            f"at most {MAX_IDS} contacts per call, got {len(unique)}: use bulkAction ADD_TO_SEGMENT for more",
            field=field,
        )
    return unique


async def _check_filter(actor: Actor, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise BadInput("filter is required for a dynamic segment", field="filter")
    validate_shape(spec)
    await matching_contacts(actor.account_id, spec, archived=None)
    return spec


# -- shared steps ----------------------------------------------------------------------------


async def _segment(uow: UnitOfWork, segment_id: int, field: str = "id") -> Segment:
    found = (
        await Segment.filter(id=segment_id, account_id=uow.actor.account_id)
        .using_db(uow.conn)
        .select_for_update()
        .first()
    )
    if found is None:
        raise NotFound(f"no segment with id {segment_id} in this account", field=field)
    return found


def _refuse_unless_allowed(actor: Actor, segment: Segment) -> None:
    if not (actor.is_manager or actor.user_id == segment.created_by_id):  # type: ignore[attr-defined]
        raise Forbidden(
            f"segment {segment.name!r} is another user's: only its creator, a manager or an admin can "
            "change or delete it"
        )


async def _refuse_taken_name(uow: UnitOfWork, name: str, segment_id: int | None) -> None:
    taken = Segment.filter(account_id=uow.actor.account_id, name=name)
    if segment_id is not None:
        taken = taken.exclude(id=segment_id)
    if await taken.using_db(uow.conn).exists():
        raise Conflict(f"the account already has a segment named {name!r}: pick another name", field="name")


async def _check_room(uow: UnitOfWork, kind: str) -> None:
    segments = Segment.filter(account_id=uow.actor.account_id).using_db(uow.conn)
    if await segments.count() >= MAX_SEGMENTS:
        raise BadInput(f"the account has {MAX_SEGMENTS} segments, the most it may have: delete one first")
    if kind == DYNAMIC and await segments.filter(kind=DYNAMIC).count() >= MAX_DYNAMIC:
        raise BadInput(
            f"the account has {MAX_DYNAMIC} dynamic segments, the most it may have (each card's segments "
            "evaluates them all): delete one, or make a static one",
            field="filter",
        )


async def _refuse_cycle(uow: UnitOfWork, segment_id: int, spec: dict[str, Any]) -> None:
    """A dynamic filter must not reach its own segment through the filters it names."""
    filters = dict(
        await Segment.filter(account_id=uow.actor.account_id, kind=DYNAMIC)
        .using_db(uow.conn)
        .values_list("id", "filter_spec")
    )
    seen: set[int] = set()
    frontier = segment_refs(spec)
    while frontier:
        if segment_id in frontier:
            raise BadInput(
                "the filter uses this segment itself (directly or through other segments' filters)",
                field="filter",
            )
        seen |= frontier
        frontier = {ref for i in frontier for ref in segment_refs(filters.get(i))} - seen


async def _contacts(uow: UnitOfWork, contact_ids: Iterable[int]) -> list[Contact]:
    """The account's contacts with these ids, in the order given; NOT_FOUND names the others."""
    ids = list(contact_ids)
    if not ids:
        return []
    rows = await Contact.filter(id__in=ids, account_id=uow.actor.account_id).using_db(uow.conn)
    found = {c.id: c for c in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise NotFound(f"no contact with id {shown} in this account; nothing was changed", field="contactIds")
    return [found[i] for i in ids]


async def _event(uow: UnitOfWork, hook: str, summary: str, segment: Segment, **extra: Any) -> None:
    subject = {**segment_subject(segment), **extra}
    queued = await queue_account_event(
        uow.conn, uow.actor, hook, summary, subject_type="Segment", subject_id=segment.id, subject=subject
    )
    uow.outbox_written(queued)


# -- membership: also called by the bulk action ADD_TO_SEGMENT ---------------------------------


async def add_members(uow: UnitOfWork, segment: Segment, contact_ids: Sequence[int]) -> list[int]:
    """Make the account's contacts `contact_ids` members of the STATIC `segment`, journaling each
    one newly added; the ids newly added (members already, and ids not of the account, are
    left out). Runs in the caller's unit of work."""
    if segment.kind != STATIC:
        raise Conflict(_dynamic_refusal(segment))
    ids = list(dict.fromkeys(contact_ids))
    if not ids:
        return []
    already = set(
        await SegmentMember.filter(segment_id=segment.id, contact_id__in=ids)
        .using_db(uow.conn)
        .values_list("contact_id", flat=True)
    )
    fresh = [i for i in ids if i not in already]
    if not fresh:
        return []
    contacts = await Contact.filter(id__in=fresh, account_id=uow.actor.account_id).using_db(uow.conn)
    by_id = {c.id: c for c in contacts}
    added = [i for i in fresh if i in by_id]
    await SegmentMember.bulk_create(
        [SegmentMember(segment_id=segment.id, contact_id=i) for i in added], using_db=uow.conn
    )
    for contact_id in added:
        await uow.record(
            by_id[contact_id],
            JourneyKind.ADDED_TO_SEGMENT,
            f"{uow.actor.name} added the contact to the segment {segment.name}",
            {"segments": [None, segment.name]},
            subject_type="Segment",
            subject_id=segment.id,
            subject=segment_subject(segment),
        )
    return added


async def remove_members(uow: UnitOfWork, segment: Segment, contact_ids: Sequence[int]) -> list[int]:
    """The reverse of `add_members`: the ids that were members and no longer are."""
    if segment.kind != STATIC:
        raise Conflict(_dynamic_refusal(segment))
    ids = list(dict.fromkeys(contact_ids))
    if not ids:
        return []
    members = set(
        await SegmentMember.filter(segment_id=segment.id, contact_id__in=ids)
        .using_db(uow.conn)
        .values_list("contact_id", flat=True)
    )
    removed = [i for i in ids if i in members]
    if not removed:
        return []
    await SegmentMember.filter(segment_id=segment.id, contact_id__in=removed).using_db(uow.conn).delete()
    contacts = {
        c.id: c
        for c in await Contact.filter(id__in=removed, account_id=uow.actor.account_id).using_db(uow.conn)
    }
    for contact_id in removed:
        await uow.record(
            contacts[contact_id],
            JourneyKind.REMOVED_FROM_SEGMENT,
            f"{uow.actor.name} removed the contact from the segment {segment.name}",
            {"segments": [segment.name, None]},
            subject_type="Segment",
            subject_id=segment.id,
            subject=segment_subject(segment),
        )
    return removed


def _dynamic_refusal(segment: Segment) -> str:
    return (
        f"segment {segment.name!r} is DYNAMIC: its filter decides who is in it; change the filter "
        "(updateSegment), or use a STATIC segment to pick contacts by hand"
    )


# -- the mutations ---------------------------------------------------------------------------

_UNSET: Any = object()


async def create_segment(
    actor: Actor, name: Any, *, filter_spec: Any = _UNSET, contact_ids: Sequence[int] | None = None
) -> Segment:
    """DYNAMIC with `filter_spec`, STATIC with `contact_ids` (exactly one of the two)."""
    clean_name = _name(name)
    has_filter = filter_spec is not _UNSET and filter_spec is not None
    has_ids = contact_ids is not None
    if has_filter == has_ids:
        raise BadInput(
            "give exactly one of filter (a DYNAMIC segment: whoever the filter matches) and contactIds "
            "(a STATIC segment of those contacts)",
            field="filter" if has_filter else "contactIds",
        )
    kind = DYNAMIC if has_filter else STATIC
    spec = await _check_filter(actor, filter_spec) if has_filter else None
    ids = _ids(contact_ids or [])
    async with unit_of_work(actor) as uow:
        contacts = await _contacts(uow, ids)  # other accounts' ids first: NOT_FOUND, like missing ones
        await _refuse_taken_name(uow, clean_name, None)
        await _check_room(uow, kind)
        segment = Segment(
            account_id=actor.account_id,
            name=clean_name,
            kind=kind,
            filter_spec=spec,
            created_by_id=actor.user_id,
        )
        await segment.save(using_db=uow.conn)
        await _event(
            uow, SEGMENT_SAVED, f"{actor.name} created the {kind.lower()} segment {clean_name!r}", segment
        )
        if kind == STATIC:
            await add_members(uow, segment, [c.id for c in contacts])
    return segment


async def update_segment(actor: Actor, segment_id: int, values: Mapping[str, Any]) -> Segment:
    """values: name, filter_spec (dynamic segments only); the rest stays."""
    clean_name = _name(values["name"]) if "name" in values else None
    spec = values.get("filter_spec", _UNSET)
    if spec is None:
        raise BadInput("a dynamic segment needs a filter: send one, or delete the segment", field="filter")
    if spec is not _UNSET:
        spec = await _check_filter(actor, spec)
    async with unit_of_work(actor) as uow:
        segment = await _segment(uow, segment_id)
        _refuse_unless_allowed(actor, segment)
        changed: list[str] = []
        if clean_name is not None and clean_name != segment.name:
            await _refuse_taken_name(uow, clean_name, segment.id)
            segment.name = clean_name
            changed.append("name")
        if spec is not _UNSET:
            if segment.kind != DYNAMIC:
                raise BadInput(
                    f"segment {segment.name!r} is STATIC: it has no filter; add or remove contacts instead "
                    "(addToSegment, removeFromSegment)",
                    field="filter",
                )
            await _refuse_cycle(uow, segment.id, spec)
            if spec != segment.filter_spec:
                segment.filter_spec = spec
                changed.append("filter")
        if changed:
            await segment.save(using_db=uow.conn)
            summary = f"{actor.name} changed the segment {segment.name!r}: {', '.join(changed)}"
            await _event(uow, SEGMENT_SAVED, summary, segment)
    return segment


async def delete_segment(actor: Actor, segment_id: int) -> Segment:
    async with unit_of_work(actor) as uow:
        segment = await _segment(uow, segment_id)
        _refuse_unless_allowed(actor, segment)
        users = [
            name
            for name, spec in await Segment.filter(account_id=actor.account_id, kind=DYNAMIC)
            .exclude(id=segment.id)
            .using_db(uow.conn)
            .order_by("name")
            .values_list("name", "filter_spec")
            if segment.id in segment_refs(spec)
        ]
        if users:
            named = ", ".join(repr(n) for n in users[:10]) + (" ..." if len(users) > 10 else "")
            raise Conflict(
                f"segment {segment.name!r} is used by the filter of {named}: change those filters first"
            )
        members = await SegmentMember.filter(segment_id=segment.id).using_db(uow.conn).count()
        summary = f"{actor.name} deleted the segment {segment.name!r}"
        await _event(uow, SEGMENT_DELETED, summary, segment, members=members)
        await segment.delete(using_db=uow.conn)
    return segment


async def add_to_segment(actor: Actor, segment_id: int, contact_ids: Sequence[int]) -> Segment:
    return await _change_members(actor, segment_id, contact_ids, add_members)


async def remove_from_segment(actor: Actor, segment_id: int, contact_ids: Sequence[int]) -> Segment:
    return await _change_members(actor, segment_id, contact_ids, remove_members)


async def _change_members(
    actor: Actor,
    segment_id: int,
    contact_ids: Sequence[int],
    change: Callable[[UnitOfWork, Segment, list[int]], Awaitable[list[int]]],
) -> Segment:
    """addToSegment / removeFromSegment: a static segment's members, each change journaled."""
    ids = _ids(contact_ids)
    async with unit_of_work(actor) as uow:
        segment = await _segment(uow, segment_id, "segmentId")
        if segment.kind != STATIC:
            raise Conflict(_dynamic_refusal(segment))
        await _contacts(uow, ids)
        await change(uow, segment, ids)
    return segment
