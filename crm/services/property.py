"""The property-facts cache: what the property-data provider said about an address, and when.

Facts describe a building, not a contact, so the cache is shared by every account; it is
keyed by the normalised one-line address (the maps plugin computes the key). It holds no
card data, so it is not journaled.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from crm.clock import utcnow
from crm.models import PropertyFacts


async def get_cached(address_keys: Iterable[str], max_age: timedelta) -> dict[str, dict[str, Any]]:
    """The cached facts still younger than `max_age`, by address key, in one query."""
    keys = list(dict.fromkeys(address_keys))
    if not keys or max_age <= timedelta(0):
        return {}
    rows = await PropertyFacts.filter(address_key__in=keys, fetched_at__gte=utcnow() - max_age).values(
        "address_key", "facts"
    )
    return {row["address_key"]: row["facts"] for row in rows}


async def store(address_key: str, facts: dict[str, Any]) -> None:
    """Insert or refresh the facts for one address; safe when two requests store it at once."""
    now = utcnow()
    if await PropertyFacts.filter(address_key=address_key).update(facts=facts, fetched_at=now):
        return
    try:
        await PropertyFacts.create(address_key=address_key, facts=facts, fetched_at=now)
    except IntegrityError:  # another request stored it first
        await PropertyFacts.filter(address_key=address_key).update(facts=facts, fetched_at=now)
