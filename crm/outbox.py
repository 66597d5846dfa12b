"""Outbox storage: claim due rows, record success, schedule a retry or dead-letter.

Rows are written by `crm.uow`; the dispatcher in `plugins.dispatcher` drives these calls.
A claim is a lease (`locked_until`): a process that dies mid-delivery does not strand its
rows, they become due again when the lease runs out. On PostgreSQL the claim also takes
`FOR UPDATE SKIP LOCKED`, so several workers never pick the same row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from crm.clock import utcnow
from crm.models import OutboxRow

PENDING, DELIVERED, DEAD = "PENDING", "DELIVERED", "DEAD"


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    hook: str
    plugin: str
    payload: dict[str, Any]
    attempts: int  # attempts made before this one
    account_id: int
    contact_id: int | None


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after the `attempt`-th failure: exponential with full jitter (AWS style)."""
    ceiling = min(cap, base * (2 ** (attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


async def claim_due(limit: int, lease_seconds: float, now: datetime | None = None) -> list[Delivery]:
    now = now or utcnow()
    async with in_transaction() as conn:
        rows = (
            await OutboxRow.filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
            .filter(status=PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .limit(limit)
            .select_for_update(skip_locked=True)
            .using_db(conn)
        )
        if not rows:
            return []
        await (
            OutboxRow.filter(id__in=[r.id for r in rows])
            .using_db(conn)
            .update(locked_until=now + timedelta(seconds=lease_seconds))
        )
    return [Delivery(r.id, r.hook, r.plugin, r.payload, r.attempts, r.account_id, r.contact_id) for r in rows]


async def mark_delivered(delivery: Delivery) -> None:
    await OutboxRow.filter(id=delivery.id).update(
        status=DELIVERED, attempts=delivery.attempts + 1, delivered_at=utcnow(), locked_until=None
    )


async def mark_failed(delivery: Delivery, error: str, retry_in: float | None) -> None:
    """Record a failed attempt; `retry_in=None` dead-letters the row."""
    now = utcnow()
    await OutboxRow.filter(id=delivery.id).update(
        status=PENDING if retry_in is not None else DEAD,
        attempts=delivery.attempts + 1,
        last_error=error[:4000],
        next_attempt_at=now + timedelta(seconds=retry_in or 0),
        locked_until=None,
    )


async def next_due_at() -> datetime | None:
    row = (
        await OutboxRow.filter(status=PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return row  # type: ignore[return-value]


async def requeue_dead(row_ids: list[int]) -> int:
    """Give dead-lettered rows a fresh start (an operator's tool after fixing a plugin)."""
    return await OutboxRow.filter(id__in=row_ids, status=DEAD).update(
        status=PENDING, attempts=0, next_attempt_at=utcnow(), locked_until=None
    )
