"""Account-level events (API keys, forms): outbox rows queued in the change's own transaction.

Card events carry a contact; these carry none, and go only to the plugins that subscribe to the
hook and whose audience (if they declared one) takes this account.
"""

from __future__ import annotations

import uuid
from typing import Any

from crm.actor import Actor
from crm.clock import utcnow
from crm.events import AccountEvent, ActorSnapshot
from crm.models import OutboxRow
from crm.wiring import wiring


async def queue_account_event(
    conn: Any,
    actor: Actor,
    hook: str,
    summary: str,
    *,
    subject_type: str,
    subject_id: int,
    subject: dict[str, Any],
) -> int:
    """Queue `hook` for every plugin that takes it; the number of rows written (0: nobody listens)."""
    plugins = [
        plugin
        for plugin in wiring.subscribers(hook)
        if plugin not in wiring.audiences or await wiring.audiences[plugin](conn, actor.account_id, hook)
    ]
    if not plugins:
        return 0
    now = utcnow()
    payload = AccountEvent(
        id=str(uuid.uuid4()),
        kind=hook.upper(),
        account_id=actor.account_id,
        occurred_at=now,
        actor=ActorSnapshot(actor.kind.value, actor.name, actor.user_id),
        summary=summary[:500],
        subject_type=subject_type,
        subject_id=subject_id,
        subject=subject,
    ).to_json()
    await OutboxRow.bulk_create(
        [
            OutboxRow(
                account_id=actor.account_id,
                contact_id=None,
                hook=hook,
                plugin=plugin,
                payload=payload,
                next_attempt_at=now,
            )
            for plugin in plugins
        ],
        using_db=conn,
    )
    return len(plugins)
