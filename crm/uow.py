"""The unit of work every service runs in: one transaction, the journey, the outbox.

A service opens `async with unit_of_work(actor) as uow:`, makes its changes through
`uow.conn`, and calls `uow.record(...)` for each journey event. The journey rows and
the outbox rows go into the same transaction as the change; live updates and the
dispatcher's wake-up happen only after commit, so nobody hears of a change that rolled back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from crm.actor import Actor
from crm.clock import utcnow
from crm.events import ActorSnapshot, CardEvent, ContactSnapshot
from crm.journey import HOOK_FOR_KIND, JourneyKind, journey_channel, to_message
from crm.models import Contact, JourneyEvent, OutboxRow
from crm.wiring import wiring

log = logging.getLogger("dossier.uow")


def display_name(
    first_name: str | None, last_name: str | None, business_name: str | None, email: str | None
) -> str:
    full = " ".join(part for part in (first_name, last_name) if part)
    return full or business_name or email or "Guest"


def contact_snapshot(contact: Contact) -> ContactSnapshot:
    return ContactSnapshot(
        id=contact.id,
        account_id=contact.account_id,  # type: ignore[attr-defined]
        display_name=display_name(
            contact.first_name, contact.last_name, contact.business_name, contact.email
        ),
        first_name=contact.first_name,
        last_name=contact.last_name,
        business_name=contact.business_name,
        email=contact.email,
        phone=contact.phone,
        status=contact.status,
        sub_status=contact.sub_status,
        privacy_opt_in=bool(contact.privacy_opt_in),
        communication_opt_in=bool(contact.communication_opt_in),
    )


@dataclass
class UnitOfWork:
    actor: Actor
    conn: BaseDBAsyncClient
    # Appended to every journey summary: where a change came from when not from the actor's own
    # request (a bulk action's job: " (bulk action, job 12)").
    origin: str = ""
    _published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _outbox_rows: int = 0

    async def record(
        self,
        contact: Contact,
        kind: JourneyKind,
        summary: str,
        changes: Mapping[str, list[Any]] | None = None,
        *,
        subject_type: str | None = None,
        subject_id: int | None = None,
        subject: Mapping[str, Any] | None = None,
        notify: bool = True,
    ) -> JourneyEvent:
        """Append a journey event and queue it for every plugin that subscribes to its hook.

        `notify=False` journals without firing the hook: the second side of a change whose
        hook already fires once (a duplicated contact's source, the copy has the event)."""
        now = utcnow()
        event = JourneyEvent(
            account_id=self.actor.account_id,
            contact_id=contact.id,
            kind=kind.value,
            occurred_at=now,
            actor_kind=self.actor.kind.value,
            actor_user_id=self.actor.user_id,
            actor_name=self.actor.name[:120],
            summary=summary[: 500 - len(self.origin)] + self.origin,
            changes=dict(changes or {}),
            subject_type=subject_type,
            subject_id=subject_id,
        )
        await event.save(using_db=self.conn)
        self._published.append(
            (
                journey_channel(self.actor.account_id, contact.id),
                to_message({**event.__dict__, "contact_id": contact.id}),
            )
        )
        hook = HOOK_FOR_KIND.get(kind) if notify else None
        plugins = [
            plugin
            for plugin in (wiring.subscribers(hook) if hook else ())
            if plugin not in wiring.audiences
            or await wiring.audiences[plugin](self.conn, self.actor.account_id, hook)  # type: ignore[arg-type]
        ]
        if plugins:
            payload = CardEvent(
                id=str(uuid.uuid4()),
                kind=kind.value,
                account_id=self.actor.account_id,
                contact_id=contact.id,
                occurred_at=now,
                actor=ActorSnapshot(self.actor.kind.value, self.actor.name, self.actor.user_id),
                summary=event.summary,
                contact=contact_snapshot(contact),
                changes=event.changes,
                subject_type=subject_type,
                subject_id=subject_id,
                subject=dict(subject or {}),
            ).to_json()
            await OutboxRow.bulk_create(
                [
                    OutboxRow(
                        account_id=self.actor.account_id,
                        contact_id=contact.id,
                        hook=hook,
                        plugin=plugin,
                        payload=payload,
                        next_attempt_at=now,
                    )
                    for plugin in plugins
                ],
                using_db=self.conn,
            )
            self._outbox_rows += len(plugins)
        return event

    def outbox_written(self, rows: int) -> None:
        """The service wrote `rows` outbox rows itself (not through `record`): wake the
        dispatcher after commit, so a row due now (or sooner than its next poll) is not late."""
        self._outbox_rows += rows

    def publish_after_commit(self, channel: str, message: dict[str, Any]) -> None:
        """Queue a live update that goes out only if the transaction commits."""
        self._published.append((channel, message))

    async def after_commit(self) -> None:
        if self._outbox_rows:
            wiring.outbox_written()
        for channel, message in self._published:
            try:
                await wiring.publish(channel, message)
            except Exception:  # live updates are best effort; the journey row is committed
                log.exception("could not publish a journey update on %s", channel)


@asynccontextmanager
async def unit_of_work(actor: Actor) -> AsyncIterator[UnitOfWork]:
    # On SQLite every transaction takes the database's write lock as it begins (BEGIN
    # IMMEDIATE, crm/sqlite.py), waiting for another process's write up to the busy timeout:
    # open one to write, never just to read.
    async with in_transaction() as conn:
        uow = UnitOfWork(actor, conn)
        yield uow
    await uow.after_commit()
