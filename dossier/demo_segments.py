"""The demo's saved views and segments (D6, D12), so GraphiQL shows `views`, `segments`, a
card's `segments` and `contacts(filter: {segment: ...})` with something in them.

Called by `dossier.demo` after the tasks, in the seed's transaction (later seeders -- the bulk
actions -- may use the segments). Seeds:

- segments: two DYNAMIC ones (qualified or hot leads; VIP customers) and a STATIC one holding the
  first rich live cards, each with its ADDED_TO_SEGMENT journey entry after the card's last one
  (ids stay in time order), as crm/services/segments.py writes them;
- views: the admin's shared "Hot leads this month" (4 filters, sorted by last interaction), the
  rep's own "My open deals", and the manager's shared "Customers by deal total".

Filters are stored in their domain form (database ids), as the services store them. No outbox
rows, as for the rest of the demo.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from crm.journey import JourneyKind
from crm.models import Contact, SavedView, Segment, SegmentMember, User
from crm.models.segments import DYNAMIC, STATIC
from dossier.demo_lifecycle import _entry, _times_or_none
from dossier.demo_rich import rich_contact_ids

STATIC_MEMBERS = 8  # rich live cards put in the static segment


async def seed_segments(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    users = (
        await User.filter(account_id=account_id).using_db(conn).order_by("id").values("id", "name", "role")
    )
    by_role = {u["role"]: u for u in reversed(users)}  # the first user of each role
    admin = by_role.get("admin", users[0])
    manager = by_role.get("manager", admin)
    rep = by_role.get("rep", users[-1])

    await _segment(conn, account_id, admin, "Qualified or hot", DYNAMIC, {
        "or": [{"status": {"in": ["qualified"]}}, {"subStatus": {"in": ["hot"]}}],
    }, now)  # fmt: skip
    await _segment(conn, account_id, manager, "VIP customers", DYNAMIC, {
        "status": {"in": ["customer"]}, "tags": {"any": ["VIP"]},
    }, now)  # fmt: skip
    picked = await _segment(conn, account_id, rep, "Spring campaign", STATIC, None, now)
    await _members(conn, account_id, picked, rep, now)

    await _view(conn, account_id, admin, "Hot leads this month", True, {
        "status": {"in": ["lead", "qualified"]},
        "createdAt": {"within": "THIS_MONTH"},
        "calls": {"exists": True},
        "not": {"tags": {"any": ["Partner"]}},
    }, [{"field": "LAST_INTERACTION", "direction": "DESC"}],
        ["displayName", "phone", "status", "assignedTo", "tags", "lastBookedEvent"], now)  # fmt: skip
    await _view(conn, account_id, rep, "My open deals", False, {
        "owner": {"in": [rep["id"]]}, "deals": {"status": {"in": ["OPEN"]}},
    }, [{"field": "DEAL_TOTAL", "direction": "DESC"}],
        ["displayName", "email", "opportunity"], now)  # fmt: skip
    await _view(conn, account_id, manager, "Customers by deal total", True, {
        "status": {"in": ["customer"]},
    }, [{"field": "DEAL_TOTAL", "direction": "DESC"}, {"field": "LAST_NAME", "direction": "ASC"}],
        ["displayName", "businessName", "insights", "segments"], now)  # fmt: skip


async def _segment(
    conn: BaseDBAsyncClient,
    account_id: int,
    user: dict[str, Any],
    name: str,
    kind: str,
    spec: dict[str, Any] | None,
    now: datetime,
) -> Segment:
    segment = Segment(
        account_id=account_id,
        name=name,
        kind=kind,
        filter_spec=spec,
        created_by_id=user["id"],
        created_at=now,
    )
    await segment.save(using_db=conn)
    return segment


async def _members(
    conn: BaseDBAsyncClient, account_id: int, segment: Segment, user: dict[str, Any], now: datetime
) -> None:
    rich = await rich_contact_ids(conn, account_id)
    live = set(
        await Contact.filter(id__in=rich, archived_at__isnull=True)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    added = 0
    for contact_id in (c for c in rich if c in live):
        times = await _times_or_none(conn, contact_id, now, 1)
        if not times:
            continue  # no room after its last entry: the journey stays in time order
        await SegmentMember.create(
            segment_id=segment.id, contact_id=contact_id, added_at=times[0], using_db=conn
        )
        entry = _entry(
            contact_id, account_id, user, times[0], JourneyKind.ADDED_TO_SEGMENT,
            f"added the contact to the segment {segment.name}", {"segments": [None, segment.name]},
            "Segment", segment.id,
        )  # fmt: skip
        await entry.save(using_db=conn)
        added += 1
        if added == STATIC_MEMBERS:
            break


async def _view(
    conn: BaseDBAsyncClient,
    account_id: int,
    user: dict[str, Any],
    name: str,
    shared: bool,
    spec: dict[str, Any],
    order: list[dict[str, Any]],
    columns: list[str],
    now: datetime,
) -> None:
    view = SavedView(
        account_id=account_id,
        user_id=user["id"],
        name=name,
        filter_spec=spec,
        order_by=order,
        columns=columns,
        shared=shared,
        created_at=now,
    )
    await view.save(using_db=conn)
