"""Leads (D1, A7, A11, E4): form submissions matched to the contacts who sent them.

`submit_lead` is the one way a lead comes in, from `submitLead` and from the public intake
endpoint (`POST /forms/{key}`, dossier/intake.py). It finds the contact by the normalised
email or the E.164 phone (the indexed `contact.email` / `contact.phone` columns, the same
normalisers `createContact` uses, never the fuzzy search) or makes one -- a "Guest" when the
form asked for no name, email or phone -- and stores the lead with its answers and UTMs. A
submission the same contact already sent (same form, same answers) within the duplicate
window is stored too, marked DUPLICATE: nothing a person sent is ever dropped.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from tortoise.transactions import in_transaction

from crm import regions
from crm import validation as v
from crm.account_events import queue_account_event
from crm.actor import Actor, ActorKind, Role
from crm.clock import utcnow
from crm.errors import BadInput, Forbidden, NotFound
from crm.journey import JourneyKind
from crm.models import Account, Contact, Form, FormAnswer, Lead, Utm
from crm.services import optins, referrals
from crm.services.contacts import IDENTITY_FIELDS, _clean_answers, _clean_utms, clean_identity
from crm.uow import UnitOfWork, display_name, unit_of_work
from crm.wiring import wiring

DEFAULT_DUPLICATE_WINDOW = timedelta(hours=24)
# A submission time may run this far ahead of the server's clock (a browser's skew), no more.
MAX_CLOCK_SKEW = timedelta(minutes=5)
FORM_NAME_MAX = 200
VARIANT_MAX = 200
REFERRER_MAX = 1000
# forms lists at most this many, newest first: the bound graph/cost.py plans `forms` with.
MAX_LISTED_FORMS = 1000
FORM_CREATED, FORM_REVOKED = "form_created", "form_revoked"


class LeadStatus(StrEnum):
    NEW = "NEW"
    DUPLICATE = "DUPLICATE"


class MatchReason(StrEnum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    EMAIL_AND_PHONE = "EMAIL_AND_PHONE"
    NEW = "NEW"


@dataclass
class LeadSettings:
    """Set once per process by `dossier.create_app()` from DOSSIER_LEAD_DUPLICATE_WINDOW and
    DOSSIER_PUBLIC_URL."""

    duplicate_window: timedelta = DEFAULT_DUPLICATE_WINDOW
    public_url: str | None = None  # where browsers reach the intake endpoint


settings = LeadSettings()


def configure(
    *, duplicate_window: timedelta = DEFAULT_DUPLICATE_WINDOW, public_url: str | None = None
) -> None:
    settings.duplicate_window = duplicate_window
    settings.public_url = public_url.rstrip("/") if public_url else None


@dataclass(frozen=True, slots=True)
class SubmittedLead:
    lead: Lead
    contact: Contact
    created_contact: bool


def fingerprint(form_name: str, answers: Sequence[Mapping[str, Any]]) -> str:
    """What makes two submissions "the same": the form (case aside) and the answers, in any
    order. The variant, UTMs and identity fields do not count: a person who sends the same
    answers again from another ad is still sending the same form."""
    pairs = sorted((a["question"], a["answer"] or "") for a in answers)
    canonical = json.dumps([form_name.casefold(), pairs], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _submitted_at(value: datetime | None) -> datetime:
    now = utcnow()
    if value is None:
        return now
    if value.tzinfo is None:
        raise BadInput("submittedAt needs a time zone, e.g. 2026-12-06T09:30:00Z", field="submittedAt")
    value = value.astimezone(UTC)
    if value > now + MAX_CLOCK_SKEW:
        raise BadInput(
            f"submittedAt {value.isoformat()} is in the future; leave it out to use the time of arrival",
            field="submittedAt",
        )
    return value


def _lock_key(account_id: int, kind: str, value: str) -> int:
    digest = hashlib.sha256(f"dossier-lead:{account_id}:{kind}:{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _serialise_on_identity(uow: UnitOfWork, email: str | None, phone: str | None) -> None:
    """On PostgreSQL, two submissions of one new person arriving at once would both find no
    contact and make two: a transaction-scoped advisory lock per email and per phone makes the
    second wait for the first and find its contact. SQLite serialises every write anyway."""
    if uow.conn.capabilities.dialect != "postgres":
        return
    keys = sorted(
        {
            _lock_key(uow.actor.account_id, kind, value)
            for kind, value in (("e", email), ("p", phone))
            if value
        }
    )
    for key in keys:
        await uow.conn.execute_query("SELECT pg_advisory_xact_lock($1)", [key])


# More contacts than this sharing one email or phone are not looked through for a live one.
MATCH_CANDIDATES = 20


async def _oldest(uow: UnitOfWork, **match: str) -> Contact | None:
    """The oldest live contact with this value, else the oldest archived one (an indexed lookup;
    contacts absorbed by a merge are hidden by the model's manager)."""
    found = await (
        Contact.filter(account_id=uow.actor.account_id, **match)
        .using_db(uow.conn)
        .order_by("id")
        .limit(MATCH_CANDIDATES)
        .select_for_update()
    )
    return next((c for c in found if c.archived_at is None), found[0] if found else None)


async def _match(uow: UnitOfWork, email: str | None, phone: str | None) -> tuple[Contact | None, MatchReason]:
    """The contact with this email, else the one with this phone (see `_oldest`)."""
    by_email = await _oldest(uow, email=email) if email else None
    if phone and by_email is not None and by_email.phone == phone:
        return by_email, MatchReason.EMAIL_AND_PHONE
    if by_email is not None:
        return by_email, MatchReason.EMAIL
    by_phone = await _oldest(uow, phone=phone) if phone else None
    if by_phone is not None:
        return by_phone, MatchReason.PHONE
    return None, MatchReason.NEW


def _name(contact: Contact) -> str:
    return display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)


async def submit_lead(
    actor: Actor,
    *,
    form_name: str | None,
    identity: Mapping[str, Any] | None = None,
    answers: Sequence[Mapping[str, str | None]] = (),
    utm: Mapping[str, str | None] | None = None,
    variant: str | None = None,
    referrer: str | None = None,
    submitted_at: datetime | None = None,
    form: Form | None = None,
    referral_code: str | None = None,
    opt_ins: Mapping[str, bool] | None = None,
) -> SubmittedLead:
    """Store one form submission and match it to a contact (see the module's docstring).

    `identity` takes createContact's identity fields (`ip_address` is also the lead's address).
    A matched contact's empty identity fields are filled from the lead, never overwritten.
    `referral_code` attributes the lead to the code's contact (crm/services/referrals.py);
    `opt_ins` ({"privacy": bool, "communication": bool}) sets the consents, source FORM.
    """
    name = v.clean_text(form_name, "formName", max_length=FORM_NAME_MAX, required=True, identity=True)
    assert name is not None
    region = await regions.phone_region(actor.account_id)
    fields = {
        k: value for k, value in clean_identity(identity or {}, region=region).items() if value is not None
    }
    clean_variant = v.clean_text(variant, "variant", max_length=VARIANT_MAX, identity=True)
    clean_referrer = v.clean_text(referrer, "referrer", max_length=REFERRER_MAX, identity=True)
    answer_rows = _clean_answers(answers)
    for row in answer_rows:
        row["form"] = row["form"] or name
    utm_rows = _clean_utms([utm] if utm else [])
    at = _submitted_at(submitted_at)
    code = referrals.clean_code(referral_code)
    consents = {k: (bool(val), optins.ConsentSource.FORM.value) for k, val in (opt_ins or {}).items()}
    print_ = fingerprint(name, answer_rows)
    email, phone = fields.get("email"), fields.get("phone")
    window = settings.duplicate_window

    async with unit_of_work(actor) as uow:
        await _serialise_on_identity(uow, email, phone)
        contact, reason = await _match(uow, email, phone)
        created = contact is None
        filled: dict[str, list[Any]] = {}
        duplicate = False
        if contact is None:
            account = await Account.get(id=actor.account_id).using_db(uow.conn)
            contact = Contact(account_id=actor.account_id, status=account.statuses[0]["name"], **fields)
            await contact.save(using_db=uow.conn)
            changes: dict[str, list[Any]] = {IDENTITY_FIELDS[k]: [None, value] for k, value in fields.items()}
            changes["status"] = [None, contact.status]
            await uow.record(
                contact,
                JourneyKind.CONTACT_CREATED,
                f"{actor.name} created {_name(contact)} from {name}",
                changes,
                subject={"utms": utm_rows, "formAnswers": answer_rows},
            )
        else:
            for key, value in fields.items():
                if getattr(contact, key) in (None, ""):
                    filled[IDENTITY_FIELDS[key]] = [None, value]
                    setattr(contact, key, value)
            if filled:
                await contact.save(using_db=uow.conn)
            duplicate = (
                await Lead.filter(
                    contact_id=contact.id,
                    fingerprint=print_,
                    submitted_at__gte=at - window,
                    submitted_at__lte=at + window,
                )
                .using_db(uow.conn)
                .exists()
            )
        attribution = await referrals.attribute_lead(uow, contact, code, name) if code else None
        if consents:
            await optins.apply_opt_ins(uow, contact, consents, f"{actor.name} ({name})")
        status = LeadStatus.DUPLICATE if duplicate else LeadStatus.NEW
        lead = Lead(
            account_id=actor.account_id,
            contact_id=contact.id,
            form_id=form.id if form is not None else None,
            form_name=name,
            variant=clean_variant,
            ip_address=fields.get("ip_address"),
            referrer=clean_referrer,
            submitted_at=at,
            status=status.value,
            match_reason=reason.value,
            fingerprint=print_,
            identity={IDENTITY_FIELDS[k]: value for k, value in fields.items()},
        )
        await lead.save(using_db=uow.conn)
        if utm_rows:
            await Utm.bulk_create(
                [Utm(contact_id=contact.id, lead_id=lead.id, captured_at=at, **r) for r in utm_rows],
                using_db=uow.conn,
            )
        if answer_rows:
            await FormAnswer.bulk_create(
                [
                    FormAnswer(contact_id=contact.id, lead_id=lead.id, answered_at=at, **r)
                    for r in answer_rows
                ],
                using_db=uow.conn,
            )
        subject = lead_subject(lead, answer_rows, utm_rows)
        inviter = attribution.inviter if attribution else await referrals.inviter_of(uow, contact)
        subject["inviter"] = referrals.inviter_value(inviter)
        subject["referral"] = attribution.subject() if attribution else None
        changes = dict(filled)
        if attribution and attribution.outcome is referrals.ReferralOutcome.ATTRIBUTED:
            changes["inviter"] = [None, subject["inviter"]]
        await uow.record(
            contact,
            JourneyKind.LEAD_SUBMITTED,
            _summary(actor, contact, name, reason, duplicate, filled),
            changes,
            subject_type="Lead",
            subject_id=lead.id,
            subject=subject,
        )
    return SubmittedLead(lead, contact, created)


REASON_TEXT = {
    MatchReason.EMAIL: "matched by email",
    MatchReason.PHONE: "matched by phone",
    MatchReason.EMAIL_AND_PHONE: "matched by email and phone",
    MatchReason.NEW: "a new contact",
}


def _summary(
    actor: Actor,
    contact: Contact,
    form_name: str,
    reason: MatchReason,
    duplicate: bool,
    filled: Mapping[str, Any],
) -> str:
    text = f"Lead from {form_name} via {actor.name}: {REASON_TEXT[reason]}"
    if duplicate:
        text += "; a duplicate of one sent within the duplicate window"
    if filled:
        text += f"; filled {', '.join(filled)}"
    if contact.archived_at is not None:
        text += "; the contact is archived (restoreContacts brings it back to the contacts list)"
    return text


def lead_subject(
    lead: Lead, answers: Sequence[Mapping[str, Any]], utms: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The lead as the journey's subject and the `lead_submitted` hook get it."""
    return {
        "leadId": lead.id,
        "formName": lead.form_name,
        "variant": lead.variant,
        "status": lead.status,
        "matchReason": lead.match_reason,
        "submittedAt": lead.submitted_at.isoformat(),
        "ipAddress": lead.ip_address,
        "referrer": lead.referrer,
        "identity": dict(lead.identity),
        "formAnswers": [dict(a) for a in answers],
        "utms": [dict(u) for u in utms],
    }


# --------------------------------------------------------------------------------------
# Intake forms (admins)
# --------------------------------------------------------------------------------------


def _admin(actor: Actor) -> None:
    if actor.kind is ActorKind.USER and actor.role is not Role.ADMIN:
        raise Forbidden("only admins manage intake forms")


def _form_subject(form: Form) -> dict[str, Any]:
    # Never the key: it is the form's credential, shown to admins through the API only.
    return {
        "name": form.name,
        "revokedAt": form.revoked_at.isoformat() if form.revoked_at else None,
    }


async def _queue_form_event(conn: Any, actor: Actor, hook: str, summary: str, form: Form) -> int:
    """Outbox rows for a form event, in the change's transaction."""
    return await queue_account_event(
        conn, actor, hook, summary, subject_type="Form", subject_id=form.id, subject=_form_subject(form)
    )


async def create_form(actor: Actor, name: str | None) -> Form:
    """A new intake form: its key is the credential of `POST /forms/{key}`."""
    _admin(actor)
    clean = v.clean_text(name, "name", max_length=FORM_NAME_MAX, required=True, identity=True)
    assert clean is not None
    async with in_transaction() as conn:
        form = await Form.create(
            account_id=actor.account_id, name=clean, key=secrets.token_urlsafe(24), using_db=conn
        )
        queued = await _queue_form_event(
            conn, actor, FORM_CREATED, f"{actor.name} created form {clean!r}", form
        )
    if queued:
        wiring.outbox_written()
    return form


async def revoke_form(actor: Actor, form_id: int) -> Form:
    """Its intake answers 404 from now on; its leads stay. Revoking twice changes nothing."""
    _admin(actor)
    async with in_transaction() as conn:
        form = (
            await Form.filter(id=form_id, account_id=actor.account_id)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if form is None:
            raise NotFound(f"no form with id {form_id} in this account", field="id")
        if form.revoked_at is not None:
            return form
        form.revoked_at = utcnow()
        await form.save(using_db=conn, update_fields=["revoked_at"])
        queued = await _queue_form_event(
            conn, actor, FORM_REVOKED, f"{actor.name} revoked form {form.name!r}", form
        )
    if queued:
        wiring.outbox_written()
    return form


async def list_forms(actor: Actor) -> list[Form]:
    _admin(actor)
    return await Form.filter(account_id=actor.account_id).order_by("-id").limit(MAX_LISTED_FORMS)


async def get_form(actor: Actor, form_id: int) -> Form | None:
    _admin(actor)
    return await Form.filter(id=form_id, account_id=actor.account_id).first()


async def live_form(key: str) -> Form | None:
    """The form a key opens, unless unknown or revoked (the intake answers 404 to both alike)."""
    if not key or len(key) > 64:
        return None
    return await Form.filter(key=key, revoked_at__isnull=True).first()


def form_actor(form: Form) -> Actor:
    """Who the journey says sent a lead through the intake endpoint."""
    return Actor(form.account_id, ActorKind.SYSTEM, f"web form {form.name}"[:120])  # type: ignore[attr-defined]


def intake_url(form: Form, base_url: str | None = None) -> str:
    """DOSSIER_PUBLIC_URL + /forms/{key}; `base_url` (the request's) when that is unset."""
    base = settings.public_url or (base_url or "").rstrip("/")
    return f"{base}/forms/{form.key}"
