"""The demo's rich cards: the ones the issue-12 demo sections (billing, profile, custom fields,
referrals) fill in, picked the same way by each."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Count

from crm.models import JourneyEvent

RICH_ENTRIES = 100  # a rich card's journey has at least this many entries


async def rich_contact_ids(conn: BaseDBAsyncClient, account_id: int) -> list[int]:
    """The account's contacts with at least RICH_ENTRIES journey entries, by id."""
    return [
        row["contact_id"]
        for row in await JourneyEvent.filter(account_id=account_id)
        .using_db(conn)
        .group_by("contact_id")
        .annotate(n=Count("id"))
        .filter(n__gte=RICH_ENTRIES)
        .order_by("contact_id")
        .values("contact_id", "n")
    ]
