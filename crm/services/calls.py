"""Calls: schedule, reschedule, cancel, and the outcome once the call has happened."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from crm import validation as v
from crm.actor import Actor
from crm.clock import as_utc, utcnow
from crm.errors import BadInput, Conflict
from crm.journey import JourneyKind
from crm.models import Call
from crm.services import _scoped
from crm.services.lifecycle import refuse_archived
from crm.services.reminders import call_schedule_changed
from crm.uow import unit_of_work


class CallStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"


class CallOutcome(StrEnum):
    CALLED = "CALLED"
    NO_ANSWER = "NO_ANSWER"
    LEFT_VOICEMAIL = "LEFT_VOICEMAIL"
    SPOKE = "SPOKE"
    NO_SHOW = "NO_SHOW"
    WRONG_NUMBER = "WRONG_NUMBER"
    FOLLOW_UP_NEEDED = "FOLLOW_UP_NEEDED"
    NOT_QUALIFIED = "NOT_QUALIFIED"
    WON = "WON"
    LOST = "LOST"


MIN_DURATION, MAX_DURATION = 5, 480


def call_subject(call: Call) -> dict[str, Any]:
    return {
        "eventName": call.event_name,
        "scheduledAt": call.scheduled_at.isoformat(),
        "durationMinutes": call.duration_minutes,
        "status": call.status,
        "outcome": call.outcome,
    }


def _future(when: datetime) -> datetime:
    when = as_utc(when, "scheduledAt")
    if when <= utcnow():
        raise BadInput("scheduledAt must be in the future", field="scheduledAt")
    return when


async def schedule_call(
    actor: Actor, contact_id: int, scheduled_at: datetime, event_name: str, duration_minutes: int = 30
) -> Call:
    when = _future(scheduled_at)
    name = v.clean_text(event_name, "eventName", max_length=200, required=True)
    if not MIN_DURATION <= duration_minutes <= MAX_DURATION:
        raise BadInput(
            f"durationMinutes must be between {MIN_DURATION} and {MAX_DURATION}", field="durationMinutes"
        )
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        refuse_archived(contact, "booking a call")
        call = Call(
            contact_id=contact.id,
            event_name=name,
            scheduled_at=when,
            duration_minutes=duration_minutes,
            booked_by_id=actor.user_id,
        )
        await call.save(using_db=uow.conn)
        await call_schedule_changed(uow, call)  # its reminder, in the same transaction
        await uow.record(
            contact,
            JourneyKind.CALL_SCHEDULED,
            f"{actor.name} booked {name} for {when:%Y-%m-%d %H:%M} UTC",
            {"scheduledAt": [None, when.isoformat()]},
            subject_type="Call",
            subject_id=call.id,
            subject=call_subject(call),
        )
    return call


async def reschedule_call(actor: Actor, call_id: int, scheduled_at: datetime) -> Call:
    when = _future(scheduled_at)
    async with unit_of_work(actor) as uow:
        call = await _scoped.call(uow, call_id)
        if call.status == CallStatus.CANCELLED:
            raise Conflict("a cancelled call cannot be rescheduled; schedule a new one")
        if call.outcome is not None:
            raise Conflict("this call already has an outcome; schedule a new one")
        if call.scheduled_at == when:
            return call
        before = call.scheduled_at
        call.scheduled_at = when
        call.reschedule_count += 1
        await call.save(using_db=uow.conn)
        await call_schedule_changed(uow, call)  # the reminder moves with it
        contact = await _scoped.contact(uow, call.contact_id)  # type: ignore[attr-defined]
        await uow.record(
            contact,
            JourneyKind.CALL_RESCHEDULED,
            f"{actor.name} moved {call.event_name} to {when:%Y-%m-%d %H:%M} UTC",
            {"scheduledAt": [before.isoformat(), when.isoformat()]},
            subject_type="Call",
            subject_id=call.id,
            subject=call_subject(call),
        )
    return call


async def cancel_call(actor: Actor, call_id: int, reason: str | None = None) -> Call:
    why = v.clean_text(reason, "reason", max_length=500)
    async with unit_of_work(actor) as uow:
        call = await _scoped.call(uow, call_id)
        if call.status == CallStatus.CANCELLED:
            raise Conflict("this call is already cancelled")
        if call.outcome is not None:
            raise Conflict("this call already has an outcome and cannot be cancelled")
        call.status = CallStatus.CANCELLED.value
        call.cancel_reason = why
        call.cancelled_at = utcnow()
        await call.save(using_db=uow.conn)
        await call_schedule_changed(uow, call)  # a cancelled call is never reminded of
        contact = await _scoped.contact(uow, call.contact_id)  # type: ignore[attr-defined]
        await uow.record(
            contact,
            JourneyKind.CALL_CANCELLED,
            f"{actor.name} cancelled {call.event_name}" + (f": {why}" if why else ""),
            {"status": [CallStatus.SCHEDULED.value, CallStatus.CANCELLED.value], "cancelReason": [None, why]},
            subject_type="Call",
            subject_id=call.id,
            subject=call_subject(call),
        )
    return call


async def set_call_outcome(
    actor: Actor, call_id: int, outcome: CallOutcome, recording_url: str | None = None
) -> Call:
    recording = v.clean_url(recording_url, "recordingUrl")
    async with unit_of_work(actor) as uow:
        call = await _scoped.call(uow, call_id)
        if call.status == CallStatus.CANCELLED:
            raise Conflict("a cancelled call has no outcome")
        if call.scheduled_at > utcnow():
            raise Conflict(
                f"this call is scheduled for {call.scheduled_at:%Y-%m-%d %H:%M} UTC; "
                "set its outcome once it has started"
            )
        changes: dict[str, list[Any]] = {}
        if call.outcome != outcome.value:
            changes["outcome"] = [call.outcome, outcome.value]
        if recording is not None and recording != call.recording_url:
            changes["recordingUrl"] = [call.recording_url, recording]
        if not changes:
            return call
        call.outcome = outcome.value
        call.outcome_at = utcnow()
        if recording is not None:
            call.recording_url = recording
        await call.save(using_db=uow.conn)
        await call_schedule_changed(uow, call)  # it happened: a reminder still pending is dropped
        contact = await _scoped.contact(uow, call.contact_id)  # type: ignore[attr-defined]
        await uow.record(
            contact,
            JourneyKind.CALL_OUTCOME_SET,
            f"{actor.name} marked {call.event_name} as {outcome.value.replace('_', ' ').lower()}",
            changes,
            subject_type="Call",
            subject_id=call.id,
            subject=call_subject(call),
        )
    return call
