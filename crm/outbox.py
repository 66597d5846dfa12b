"""Outbox storage: claim due rows, renew their leases, record success, retry or dead-letter.

Rows are written by `crm.uow`; the dispatcher in `plugins.dispatcher` drives these calls.
A claim is a short lease (`locked_until`) that the claiming dispatcher renews while the hook
runs: a process that dies mid-delivery does not strand its rows, they become due again
seconds after its last renewal. On PostgreSQL the claim also takes `FOR UPDATE SKIP LOCKED`,
so several workers never pick the same row.

A claim counts as an attempt (`attempts` goes up when the row is claimed, not when the
attempt ends): a row whose worker dies every time still runs out of attempts. The attempt
number also identifies the claim, so a late renewal or outcome from a worker whose lease
was lost (the row was claimed again since) changes nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F, Q
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
    attempt: int  # this attempt's number, counted when it was claimed (1 for the first)
    account_id: int
    contact_id: int | None


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after the `attempt`-th failure: exponential with full jitter (AWS style)."""
    ceiling = min(cap, base * (2 ** (attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


async def claim_due(limit: int, lease_seconds: float, now: datetime | None = None) -> list[Delivery]:
    """Lease up to `limit` due rows for `lease_seconds` and count the attempt each one starts."""
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
            .update(locked_until=now + timedelta(seconds=lease_seconds), attempts=F("attempts") + 1)
        )
    return [
        Delivery(r.id, r.hook, r.plugin, r.payload, r.attempts + 1, r.account_id, r.contact_id) for r in rows
    ]


async def renew_leases(leases: dict[int, int], lease_seconds: float) -> int:
    """Extend the leases of rows still being delivered (`{row id: attempt}`); returns how many
    were renewed. A row finished, dead-lettered or claimed again by someone else since (its
    attempt moved on) is left alone: a renewal never takes a row back."""
    if not leases:
        return 0
    until = utcnow() + timedelta(seconds=lease_seconds)
    by_attempt: dict[int, list[int]] = {}
    for row_id, attempt in leases.items():
        by_attempt.setdefault(attempt, []).append(row_id)
    renewed = 0
    for attempt, ids in by_attempt.items():
        renewed += await OutboxRow.filter(id__in=ids, attempts=attempt, status=PENDING).update(
            locked_until=until
        )
    return renewed


async def mark_delivered(delivery: Delivery) -> bool:
    """Record success; False when the claim was lost meanwhile (the row's outcome is another's)."""
    updated = await OutboxRow.filter(id=delivery.id, attempts=delivery.attempt, status=PENDING).update(
        status=DELIVERED, delivered_at=utcnow(), locked_until=None
    )
    return bool(updated)


async def mark_failed(
    delivery: Delivery, error: str, retry_in: float | None, *, attempts: int | None = None
) -> bool:
    """Record a failed attempt; `retry_in=None` dead-letters the row. `attempts` overrides the
    stored count (a row given up before its attempt ran keeps the attempts that did). False
    when the claim was lost meanwhile."""
    now = utcnow()
    updated = await OutboxRow.filter(id=delivery.id, attempts=delivery.attempt, status=PENDING).update(
        status=PENDING if retry_in is not None else DEAD,
        attempts=delivery.attempt if attempts is None else attempts,
        last_error=error[:4000],
        next_attempt_at=now + timedelta(seconds=retry_in or 0),
        locked_until=None,
    )
    return bool(updated)


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
