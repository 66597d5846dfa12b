"""Which contacts a bulk action or an export acts on: a `Target`.

Exactly one of

- `ids`: contacts picked by id (the selected rows of a table), up to MAX_TARGET_IDS. Every id
  must be one of the account's contacts, or nothing happens (NOT_FOUND names the others). Ids
  name contacts whatever their state: `archived` does not narrow them (an action skips those it
  may not touch, e.g. an SMS to an archived contact).
- `filter`: the contacts a filter matches (crm/contact_filters.py, the domain form), live ones
  or (`archived=True`) archived ones.
- `segment_id`: a segment's members: a STATIC segment's member rows, a DYNAMIC segment's filter
  as it matches now; live or archived as above.

Targets are evaluated when used: a job's steps walk the target by id (keyset), so a contact that
stops matching meanwhile is left out and one that starts matching is taken in if its id is ahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from crm.actor import Actor
from crm.contact_filters import matching_contacts, validate_shape
from crm.errors import BadInput, NotFound
from crm.models import Contact, Segment, SegmentMember
from crm.models.segments import STATIC

# A table's selection can be large ("select all 4,000 rows of this view") but stays a list a
# client sends in one request; beyond it, target by filter or segment.
MAX_TARGET_IDS = 10_000


@dataclass(frozen=True, slots=True)
class Target:
    ids: Sequence[int] | None = None
    filter: dict[str, Any] | None = None
    segment_id: int | None = None
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        """As stored in a job's params."""
        return {
            "ids": list(self.ids) if self.ids is not None else None,
            "filter": self.filter,
            "segment_id": self.segment_id,
            "archived": self.archived,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        return cls(
            ids=data.get("ids"),
            filter=data.get("filter"),
            segment_id=data.get("segment_id"),
            archived=bool(data.get("archived")),
        )


def check_target(target: Target) -> None:
    """Exactly one of ids, filter and segmentId; ids between 1 and MAX_TARGET_IDS."""
    given = [name for name, value in (("ids", target.ids), ("filter", target.filter),
                                      ("segmentId", target.segment_id)) if value is not None]  # fmt: skip
    if len(given) != 1:
        raise BadInput(
            "give exactly one of ids, filter and segmentId"
            + (f" (got {' and '.join(given)})" if given else " (got none)"),
            field="target",
        )
    if target.ids is not None:
        count = len(set(target.ids))
        if not count:
            raise BadInput("give at least one contact id", field="ids")
        if count > MAX_TARGET_IDS:
            raise BadInput(
                f"at most {MAX_TARGET_IDS} contact ids, got {count}: target a filter or a segment instead",
                field="ids",
            )
    if target.filter is not None:
        validate_shape(target.filter)


async def target_contacts(actor: Actor, target: Target) -> QuerySet[Contact]:
    """The account's contacts the target names, checked: BAD_USER_INPUT for a malformed target or
    filter, NOT_FOUND for ids or a segment that are not the account's."""
    check_target(target)
    if target.ids is not None:
        wanted = sorted(set(target.ids))
        found = set(
            await Contact.filter(account_id=actor.account_id, id__in=wanted).values_list("id", flat=True)
        )
        missing = [i for i in wanted if i not in found]
        if missing:
            shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise NotFound(f"no contact with id {shown} in this account; nothing was done", field="ids")
    segments = Segment.filter(id=target.segment_id, account_id=actor.account_id)
    if target.segment_id is not None and not await segments.exists():
        raise NotFound(f"no segment with id {target.segment_id} in this account", field="segmentId")
    return await contacts_of(actor.account_id, target)


async def contacts_of(account_id: int, target: Target) -> QuerySet[Contact]:
    """The target's contacts now, unchecked (a job's later steps: contacts deleted since it was
    queued are simply gone). A segment deleted since matches nobody."""
    if target.ids is not None:
        return Contact.filter(account_id=account_id, id__in=sorted(set(target.ids)))
    if target.filter is not None:
        return await matching_contacts(account_id, target.filter, archived=target.archived)
    segment = await Segment.filter(id=target.segment_id, account_id=account_id).first()
    if segment is None:
        return Contact.filter(account_id=account_id, id__in=[])
    if segment.kind == STATIC:
        members = SegmentMember.filter(segment_id=segment.id).values("contact_id")
        return Contact.filter(
            account_id=account_id, archived_at__isnull=not target.archived, id__in=Subquery(members)
        )
    return await matching_contacts(account_id, segment.filter_spec or {}, archived=target.archived)
