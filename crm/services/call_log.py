"""Calls logged after they happened (C6), and finding an incoming caller by phone (D10).

A logged call is a `Call` row like a booked one: `scheduled_at` is when it took place, so it
lists with the past calls (`calls(when: PAST)`), newest first; `direction` (INBOUND or
OUTBOUND) tells it from a booked call (NULL), `duration_seconds` is how long it lasted
(`duration_minutes` rounds it up, so `endsAt` stays right), and its outcome is set at once.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

import phonenumbers
from tortoise.exceptions import IntegrityError

from crm import validation as v
from crm.actor import Actor
from crm.clock import as_utc, utcnow
from crm.errors import BadInput, Conflict
from crm.journey import JourneyKind
from crm.models import Call
from crm.services import _scoped
from crm.services.calls import CallOutcome
from crm.services.lifecycle import refuse_archived
from crm.uow import unit_of_work


class CallDirection(StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


MAX_CALL_SECONDS = 24 * 3600
SUMMARY_MAX = 5000
PROVIDER_CALL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def clean_provider_call_id(raw: str | None) -> str | None:
    """A provider's call id (Twilio's CallSid "CA" + 32 hex digits, or another provider's):
    letters, digits and `_.:-`, at most 64 characters."""
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    if not PROVIDER_CALL_ID.fullmatch(value):
        raise BadInput(
            "providerCallId must be 1 to 64 letters, digits or _ . : - (e.g. Twilio's CallSid)",
            field="providerCallId",
        )
    return value


def logged_call_subject(call: Call) -> dict[str, Any]:
    return {
        "direction": call.direction,
        "occurredAt": call.scheduled_at.isoformat(),
        "durationSeconds": call.duration_seconds,
        "outcome": call.outcome,
        "summary": call.summary,
        "recordingUrl": call.recording_url,
    }


async def log_call(
    actor: Actor,
    contact_id: int,
    occurred_at: datetime,
    direction: CallDirection,
    duration_seconds: int,
    outcome: CallOutcome,
    summary: str | None = None,
    recording_url: str | None = None,
    *,
    provider_call_id: str | None = None,
) -> Call:
    when = as_utc(occurred_at, "occurredAt")
    now = utcnow()
    if when > now:
        raise BadInput(
            f"occurredAt {when.isoformat()} is in the future: log a call once it has happened "
            "(scheduleCall books one ahead)",
            field="occurredAt",
        )
    if not 0 <= duration_seconds <= MAX_CALL_SECONDS:
        raise BadInput(
            f"durationSeconds must be between 0 and {MAX_CALL_SECONDS} (24 hours), got {duration_seconds}",
            field="durationSeconds",
        )
    text = v.clean_text(summary, "summary", max_length=SUMMARY_MAX)
    recording = v.clean_url(recording_url, "recordingUrl")
    provider_id = clean_provider_call_id(provider_call_id)
    label = "Inbound call" if direction is CallDirection.INBOUND else "Outbound call"
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        refuse_archived(contact, "logging a call")
        if (
            provider_id is not None
            and await Call.filter(provider_call_id=provider_id).using_db(uow.conn).exists()
        ):
            raise Conflict(
                f"a call with providerCallId {provider_id!r} is already logged: log each provider call once",
                field="providerCallId",
            )
        call = Call(
            contact_id=contact.id,
            event_name=label,
            scheduled_at=when,
            duration_minutes=-(-duration_seconds // 60),
            duration_seconds=duration_seconds,
            direction=direction.value,
            summary=text,
            outcome=outcome.value,
            outcome_at=now,
            recording_url=recording,
            provider_call_id=provider_id,
            booked_by_id=actor.user_id,
        )
        try:
            await call.save(using_db=uow.conn)
        except IntegrityError:  # the same provider call logged by a concurrent request
            raise Conflict(
                f"a call with providerCallId {provider_id!r} is already logged", field="providerCallId"
            ) from None
        minutes, seconds = divmod(duration_seconds, 60)
        await uow.record(
            contact,
            JourneyKind.CALL_LOGGED,
            f"{actor.name} logged an {direction.value.lower()} call at {when:%Y-%m-%d %H:%M} UTC"
            f" ({minutes}:{seconds:02d}): {outcome.value.replace('_', ' ').lower()}",
            # The call's own fields, as the API names them (scheduledAt is when it took place).
            {
                "scheduledAt": [None, when.isoformat()],
                "direction": [None, direction.value],
                "durationSeconds": [None, duration_seconds],
                "outcome": [None, outcome.value],
            },
            subject_type="Call",
            subject_id=call.id,
            subject=logged_call_subject(call),
        )
    return call


def phone_for_lookup(raw: str, region: str) -> str:
    """An incoming number in any format as the E.164 a contact stores: national numbers in
    `region` (the account's, crm.regions.phone_region), "+..." and "00..." as international."""
    text = raw.strip()
    if not text:
        raise BadInput("phone is required", field="phone")
    try:
        phone = v.clean_phone(text, "phone", region)
    except BadInput:
        # "00" is the international prefix of most of the world (0044 20 ...), though not of
        # the account's region (the US dials 011, which phonenumbers already reads).
        digits = re.sub(r"[^\d]", "", text)
        if not (text.lstrip("( ").startswith("00") and len(digits) > 4):
            raise
        try:
            parsed = phonenumbers.parse("+" + digits[2:], None)
        except phonenumbers.NumberParseException:
            raise BadInput(f"phone {text!r} is not a phone number", field="phone") from None
        if not phonenumbers.is_valid_number(parsed):
            raise
        phone = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    assert phone is not None
    return phone
