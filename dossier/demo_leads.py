"""The demo's leads (D1): an intake form, and form submissions on some of the newest cards.

Called by `dossier.demo` once the cards are written, in the seed's transaction. Six cards get a
lead from the "Pricing page" form matched by email (three of them sent it again two hours later:
stored as DUPLICATE), four a "Callback request" through the website's intake form that gave only
a phone number, written the way a visitor types it (matched by phone). Rows are written in the
shapes crm/services/leads.py writes -- the lead, its answers and UTM linked to it, a
LEAD_SUBMITTED journey entry after the card's own entries (id order stays time order) -- and no
outbox rows. The leads fill nothing: the cards already have what the forms asked for.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from tortoise.backends.base.client import BaseDBAsyncClient

from crm.actor import ActorKind
from crm.journey import JourneyKind
from crm.models import Contact, Form, FormAnswer, JourneyEvent, Lead, Utm
from crm.services.leads import REASON_TEXT, LeadStatus, MatchReason, fingerprint

INTAKE_FORM = "Website contact form"
PRICING = "Pricing page"
PRICING_ANSWERS = (
    ("How many seats?", ("5", "12", "40", "3", "25", "8")),
    ("When do you want to start?", ("This month", "Next quarter", "Just looking")),
)
CALLBACK_ANSWERS = (("Best time to call", ("Mornings", "After 5pm", "Any time")),)
PRICING_UTMS = (
    {"source": "google", "medium": "cpc", "campaign": "pricing-2026"},
    {"source": "newsletter", "medium": "email", "campaign": "december"},
    {"source": "linkedin", "medium": "social", "campaign": "pricing-2026"},
)
EMAIL_MATCHED, PHONE_MATCHED, DUPLICATES = 6, 4, 3


async def seed_leads(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    form = await Form.create(
        account_id=account_id, name=INTAKE_FORM, key=secrets.token_urlsafe(24), using_db=conn
    )
    await Form.filter(id=form.id).using_db(conn).update(created_at=now - timedelta(days=30))
    cards = await (
        Contact.filter(account_id=account_id, email__isnull=False, phone__isnull=False)
        .using_db(conn)
        .order_by("-id")
        .limit(40)
    )
    chosen: list[tuple[Contact, datetime]] = []
    for contact in cards:
        times = (
            await JourneyEvent.filter(contact_id=contact.id)
            .using_db(conn)
            .order_by("-id")
            .limit(1)
            .values_list("occurred_at", flat=True)
        )
        last = times[0] if times else None
        # Room after the card's last entry for a lead and a duplicate two hours later.
        if last is not None and last < now - timedelta(hours=6):
            chosen.append((contact, max(last + timedelta(minutes=30), now - timedelta(days=2))))
        if len(chosen) == EMAIL_MATCHED + PHONE_MATCHED:
            break
    for n, (contact, at) in enumerate(chosen):
        if n < EMAIL_MATCHED:
            answers = [
                {"question": q, "answer": options[n % len(options)], "form": PRICING}
                for q, options in PRICING_ANSWERS
            ]
            utm = PRICING_UTMS[n % len(PRICING_UTMS)]
            identity = {"firstName": contact.first_name, "email": contact.email}
            variant = "B" if n % 2 else "A"
            await _lead(conn, contact, PRICING, None, at, MatchReason.EMAIL, LeadStatus.NEW,
                        answers, utm, identity, variant)  # fmt: skip
            if n < DUPLICATES:
                await _lead(conn, contact, PRICING, None, at + timedelta(hours=2), MatchReason.EMAIL,
                            LeadStatus.DUPLICATE, answers, utm, identity, variant)  # fmt: skip
        else:
            answers = [
                {"question": q, "answer": options[n % len(options)], "form": INTAKE_FORM}
                for q, options in CALLBACK_ANSWERS
            ]
            # What the visitor typed, "(415) 555-0123"; the lead stores it normalised, as E.164.
            typed = phonenumbers.format_number(
                phonenumbers.parse(contact.phone), phonenumbers.PhoneNumberFormat.NATIONAL
            )
            organic = {"source": "website", "medium": "organic"}
            await _lead(conn, contact, INTAKE_FORM, form, at, MatchReason.PHONE, LeadStatus.NEW, answers,
                        organic, {"phone": contact.phone}, None, typed)  # fmt: skip


async def _lead(
    conn: BaseDBAsyncClient,
    contact: Contact,
    form_name: str,
    form: Form | None,
    at: datetime,
    reason: MatchReason,
    status: LeadStatus,
    answers: list[dict[str, Any]],
    utm: dict[str, Any],
    identity: dict[str, Any],
    variant: str | None,
    typed_phone: str | None = None,
) -> None:
    lead = await Lead.create(
        account_id=contact.account_id,  # type: ignore[attr-defined]
        contact_id=contact.id,
        form_id=form.id if form else None,
        form_name=form_name,
        variant=variant,
        ip_address=contact.ip_address,
        referrer="https://www.example.com/pricing" if form is None else "https://www.example.com/contact",
        submitted_at=at,
        status=status.value,
        match_reason=reason.value,
        fingerprint=fingerprint(form_name, answers),
        identity=identity,
        using_db=conn,
    )
    await FormAnswer.bulk_create(
        [FormAnswer(contact_id=contact.id, lead_id=lead.id, answered_at=at, **a) for a in answers],
        using_db=conn,
    )
    utm_row = {k: utm.get(k) for k in ("source", "medium", "campaign", "term", "content")}
    await Utm.create(contact_id=contact.id, lead_id=lead.id, captured_at=at, **utm_row, using_db=conn)
    actor = f"web form {form.name}" if form else "Website"
    summary = f"Lead from {form_name} via {actor}: {REASON_TEXT[reason]}"
    if typed_phone:
        summary += f" ({typed_phone})"
    if status is LeadStatus.DUPLICATE:
        summary += "; a duplicate of one sent within the duplicate window"
    await JourneyEvent.create(
        account_id=contact.account_id,  # type: ignore[attr-defined]
        contact_id=contact.id,
        kind=JourneyKind.LEAD_SUBMITTED.value,
        occurred_at=at,
        actor_kind=ActorKind.SYSTEM.value,
        actor_user_id=None,
        actor_name=actor,
        summary=summary,
        changes={},
        subject_type="Lead",
        subject_id=lead.id,
        using_db=conn,
    )
