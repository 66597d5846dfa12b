"""scheduleCall, rescheduleCall, cancelCall, setCallOutcome."""

from __future__ import annotations

from datetime import datetime

import strawberry

from crm.models import Call as CallModel
from crm.services import calls as call_service
from crm.services.calls import CallOutcome as DomainOutcome
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.loaders import CALL_COLUMNS, CALL_USERS
from graph.resolvers.mutations import changed, joined_row
from graph.schema.calls import Call
from graph.schema.enums import CallOutcome


@strawberry.input
class ScheduleCallInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id.")
    scheduled_at: datetime = strawberry.field(description="With a timezone offset; must be in the future.")
    event_name: str = strawberry.field(description="What the call is, e.g. Discovery call; 1-200 characters.")
    duration_minutes: int = strawberry.field(default=30, description="5 to 480.")


@strawberry.input
class RescheduleCallInput:
    id: strawberry.ID = strawberry.field(description="The call's id; not cancelled, no outcome yet.")
    scheduled_at: datetime = strawberry.field(
        description="The new time, with a timezone offset; in the future."
    )


@strawberry.input
class CancelCallInput:
    id: strawberry.ID = strawberry.field(description="The call's id.")
    reason: str | None = strawberry.field(default=None, description="At most 500 characters.")


@strawberry.input
class SetCallOutcomeInput:
    id: strawberry.ID = strawberry.field(description="The call's id; the call must have started.")
    outcome: CallOutcome = strawberry.field(description="How it went; set once per call.")
    recording_url: str | None = strawberry.field(
        default=None, description="http(s) link to the recording; at most 1,000 characters."
    )


async def _result(info: Info, call: CallModel) -> Call:
    changed(info)
    return Call.from_row(await joined_row(info, call, CALL_COLUMNS, CALL_USERS))


@strawberry.type
class CallMutations:
    @strawberry.mutation(description="Book a call with the contact.")
    async def schedule_call(self, info: Info, input: ScheduleCallInput) -> Call:
        call = await call_service.schedule_call(
            info.context.require_actor(),
            decode_id(input.contact_id, "Contact", "contactId"),
            input.scheduled_at,
            input.event_name,
            input.duration_minutes,
        )
        return await _result(info, call)

    @strawberry.mutation(description="Move an upcoming call.")
    async def reschedule_call(self, info: Info, input: RescheduleCallInput) -> Call:
        call = await call_service.reschedule_call(
            info.context.require_actor(), decode_id(input.id, "Call"), input.scheduled_at
        )
        return await _result(info, call)

    @strawberry.mutation(description="Cancel a call that has no outcome yet.")
    async def cancel_call(self, info: Info, input: CancelCallInput) -> Call:
        call = await call_service.cancel_call(
            info.context.require_actor(), decode_id(input.id, "Call"), input.reason
        )
        return await _result(info, call)

    @strawberry.mutation(description="Record how a call went (once it has started).")
    async def set_call_outcome(self, info: Info, input: SetCallOutcomeInput) -> Call:
        call = await call_service.set_call_outcome(
            info.context.require_actor(),
            decode_id(input.id, "Call"),
            DomainOutcome(input.outcome.value),
            input.recording_url,
        )
        return await _result(info, call)
