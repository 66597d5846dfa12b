"""Event snapshots handed to plugins: plain frozen dataclasses, never ORM objects.

A `CardEvent` is written to the outbox as JSON in the mutation's transaction and rebuilt by
the dispatcher, so what a plugin receives is exactly what was true at commit time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ActorSnapshot:
    kind: str  # USER | SYSTEM | PLUGIN
    name: str
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class ContactSnapshot:
    id: int
    account_id: int
    display_name: str
    first_name: str | None
    last_name: str | None
    business_name: str | None
    email: str | None
    phone: str | None
    status: str
    sub_status: str | None


@dataclass(frozen=True, slots=True)
class CardEvent:
    """One change to one card, as plugins see it.

    `kind` is the journey kind (e.g. "STATUS_CHANGED"); `changes` maps field names to
    `[before, after]`; `subject` holds the call, deal, note or tag the event is about.
    `id` is unique per event: use it to make a handler idempotent across retries.
    """

    id: str
    kind: str
    account_id: int
    contact_id: int
    occurred_at: datetime
    actor: ActorSnapshot
    summary: str
    contact: ContactSnapshot
    changes: Mapping[str, Any] = field(default_factory=dict)
    subject_type: str | None = None
    subject_id: int | None = None
    subject: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CardEvent:
        values = dict(data)
        values["occurred_at"] = datetime.fromisoformat(values["occurred_at"])
        values["actor"] = ActorSnapshot(**values["actor"])
        values["contact"] = ContactSnapshot(**values["contact"])
        return cls(**values)
