"""What the dispatcher writes back: a plugin's failure to handle an event, in the journey."""

from __future__ import annotations

from crm.actor import Actor
from crm.journey import JourneyKind
from crm.models import Contact
from crm.uow import unit_of_work


async def record_delivery_failure(
    account_id: int,
    contact_id: int,
    *,
    plugin: str,
    hook: str,
    attempt: int,
    max_attempts: int,
    error: str,
    retry_in: float | None,
) -> None:
    actor = Actor.plugin(account_id, plugin)
    async with unit_of_work(actor) as uow:
        contact = await Contact.filter(id=contact_id, account_id=account_id).using_db(uow.conn).first()
        if contact is None:  # the card is gone; nothing to annotate
            return
        outcome = f"retrying in {retry_in:.0f}s" if retry_in is not None else "gave up (dead-lettered)"
        await uow.record(
            contact,
            JourneyKind.PLUGIN_DELIVERY_FAILED,
            f"plugin {plugin} failed on {hook} (attempt {attempt} of {max_attempts}), {outcome}: {error}"[
                :500
            ],
            {},
            subject={
                "plugin": plugin,
                "hook": hook,
                "attempt": attempt,
                "maxAttempts": max_attempts,
                "error": error[:1000],
                "retryInSeconds": retry_in,
                "deadLettered": retry_in is None,
            },
        )
