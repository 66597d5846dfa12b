"""Calls booked with a contact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from crm.clock import utcnow
from graph.context import Info
from graph.schema.accounts import User, joined_user
from graph.schema.common import built
from graph.schema.enums import CallBadge, CallDirection, CallOutcome, CallStatus

if TYPE_CHECKING:
    from graph.schema.contacts import Contact
    from graph.schema.recordings import Recording

# Enum members by value: a dict lookup per call instead of an Enum call.
_STATUSES = {status.value: status for status in CallStatus}
_OUTCOMES = {outcome.value: outcome for outcome in CallOutcome}
_DIRECTIONS = {direction.value: direction for direction in CallDirection}


@strawberry.type(description="A call with the contact: upcoming or past, with its outcome once it happened.")
class Call(relay.Node):
    id: relay.NodeID[int]
    event_name: str
    scheduled_at: datetime
    duration_minutes: int
    status: CallStatus
    outcome: CallOutcome | None
    outcome_at: datetime | None
    recording_url: str | None = strawberry.field(
        description="A link to the recording kept elsewhere (logCall, setCallOutcome). A recording "
        "stored with the call is `recording`, which wins where both are set."
    )
    cancel_reason: str | None
    cancelled_at: datetime | None
    reschedule_count: int
    direction: CallDirection | None = strawberry.field(
        description="INBOUND or OUTBOUND for a call logged after it happened (logCall); null if booked."
    )
    duration_seconds: int | None = strawberry.field(description="How long a logged call lasted.")
    summary: str | None = strawberry.field(description="What was said, as logged with the call.")
    created_at: datetime
    updated_at: datetime
    _contact_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: dict[str, Any], batch: dict[Any, Any] | None = None) -> Call:
        """`batch`: shared by the rows of one statement (see `joined_user`)."""
        status, outcome = row["status"], row["outcome"]
        return built(
            cls,
            {
                "id": row["id"],
                "event_name": row["event_name"],
                "scheduled_at": row["scheduled_at"],
                "duration_minutes": row["duration_minutes"],
                "status": _STATUSES.get(status) or CallStatus(status),
                "outcome": (_OUTCOMES.get(outcome) or CallOutcome(outcome)) if outcome else None,
                "outcome_at": row["outcome_at"],
                "recording_url": row["recording_url"],
                "cancel_reason": row["cancel_reason"],
                "cancelled_at": row["cancelled_at"],
                "reschedule_count": row["reschedule_count"],
                "direction": _DIRECTIONS[row["direction"]] if row["direction"] else None,
                "duration_seconds": row["duration_seconds"],
                "summary": row["summary"],
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
                "_contact_id": row["contact_id"],
                "booked_by": joined_user(row, "booked_by", batch),
            },
        )

    @strawberry.field
    def ends_at(self) -> datetime:
        try:
            return self.scheduled_at + timedelta(minutes=self.duration_minutes)
        except OverflowError:
            # A row stored before times were bounded (crm.clock) may sit at the end of
            # datetime's range; answer that end rather than fail the card for everyone.
            return datetime.max.replace(tzinfo=UTC)

    @strawberry.field(description="True while the call's start time is still ahead.")
    def is_upcoming(self) -> bool:
        return self.scheduled_at > utcnow()

    @strawberry.field
    def badges(self) -> list[CallBadge]:
        badges = []
        if self.status == CallStatus.CANCELLED:
            badges.append(CallBadge.CANCELLED)
        if self.reschedule_count:
            badges.append(CallBadge.RESCHEDULED)
        if self.status == CallStatus.SCHEDULED and self.outcome is None and not self.is_upcoming():
            badges.append(CallBadge.NEEDS_OUTCOME)
        if self.recording_url:
            badges.append(CallBadge.RECORDED)
        return badges

    booked_by: User | None = strawberry.field(description="The user who booked the call, if still there.")

    @strawberry.field(
        description="The recording stored with the call (attachRecording, or a provider plugin): "
        "listen, download, share. Null when none is stored (see recordingUrl for an external link)."
    )
    async def recording(
        self, info: Info
    ) -> Annotated[Recording, strawberry.lazy("graph.schema.recordings")] | None:
        from graph.schema.recordings import load_recording

        return await load_recording(info, self.id)

    @strawberry.field
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        from graph.schema.contacts import load_contact

        return await load_contact(info, self._contact_id)  # type: ignore[return-value]
