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
    # The contact's consents at commit time (setOptIns): a marketing plugin checks
    # communication_opt_in before it sends anything (Dossier refuses marketing email without it).
    privacy_opt_in: bool = False
    communication_opt_in: bool = False


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


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """One change to the account itself rather than to a card (API keys today).

    It goes through the outbox like a `CardEvent` (same retries, same dead-lettering) but
    belongs to no contact, so it is not in any contact's journey. `subject_type` names what
    changed ("ApiKey"), `subject_id` its id and `subject` its fields as of the commit.
    """

    id: str
    kind: str
    account_id: int
    occurred_at: datetime
    actor: ActorSnapshot
    summary: str
    subject_type: str | None = None
    subject_id: int | None = None
    subject: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        data["scope"] = ACCOUNT_SCOPE
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AccountEvent:
        values = {k: v for k, v in data.items() if k != "scope"}
        values["occurred_at"] = datetime.fromisoformat(values["occurred_at"])
        values["actor"] = ActorSnapshot(**values["actor"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Recipient:
    """A user a reminder is for: the task's assignee (else its owner), the call's booker (else
    the contact's owners). `phone` is E.164 or None."""

    user_id: int
    name: str
    email: str
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class ReminderEvent:
    """A task fell due (`kind` "TASK_DUE", hook task_due) or a call starts soon ("CALL_REMINDER",
    hook call_reminder); crm/services/reminders.py.

    Written once per due time: `id` is derived from (kind, subject, version), so it is the same
    on every retry of the hook -- use it to make a handler idempotent. `due_at` is the task's due
    time or the call's start (UTC); `subject_type` is "Task" or "Call" and `subject_id` its id;
    `notify_by_sms` is the account's setting (updateAccountSettings), for texting channels.
    """

    id: str
    kind: str
    account_id: int
    contact_id: int
    occurred_at: datetime
    due_at: datetime
    subject_type: str
    subject_id: int
    version: str
    title: str
    body: str
    contact: ContactSnapshot
    recipients: tuple[Recipient, ...] = ()
    notify_by_sms: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        data["due_at"] = self.due_at.isoformat()
        data["recipients"] = [asdict(r) for r in self.recipients]
        data["scope"] = REMINDER_SCOPE
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReminderEvent:
        values = {k: v for k, v in data.items() if k != "scope"}
        values["occurred_at"] = datetime.fromisoformat(values["occurred_at"])
        values["due_at"] = datetime.fromisoformat(values["due_at"])
        values["contact"] = ContactSnapshot(**values["contact"])
        values["recipients"] = tuple(Recipient(**r) for r in values.get("recipients") or ())
        return cls(**values)


# An outbox payload carrying this "scope" is an AccountEvent; every other one is a CardEvent.
ACCOUNT_SCOPE = "account"
REMINDER_SCOPE = "reminder"  # ... and this one a ReminderEvent


def event_from_json(data: Mapping[str, Any]) -> CardEvent | AccountEvent | ReminderEvent:
    """Rebuild whichever event an outbox row holds."""
    scope = data.get("scope")
    if scope == ACCOUNT_SCOPE:
        return AccountEvent.from_json(data)
    if scope == REMINDER_SCOPE:
        return ReminderEvent.from_json(data)
    return CardEvent.from_json(data)
