"""The demo's header and expanded profile (A4, A5) on its rich cards.

Called by `dossier.demo` last, in the seed's transaction. Each rich card (100+ journey entries)
gets a lead source, action plan and sales cycle from the account's default lists and a filled
profile, in one CONTACT_UPDATED journey entry by the card's rep after the card's last entry
(ids stay in time order); its OPEN deals get a likelihood and an expected close date, journaled
as DEAL_UPDATED, so `opportunity` shows a weighted likelihood and a close date. Values go
through the same validation as updateContact (crm/services/profile.py); no outbox rows.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from crm.actor import ActorKind
from crm.journey import JourneyKind
from crm.models import Account, Contact, ContactProfile, Deal, JourneyEvent, User
from crm.models.profile import PROFILE_BY_API, PROFILE_COLUMNS
from crm.services import header, profile
from crm.services.deals import deal_subject
from dossier.demo_rich import rich_contact_ids

_STEP = timedelta(milliseconds=1)
OCCUPATIONS = ("Dentist", "Software engineer", "Teacher", "Contractor", "Nurse", "Accountant", "Chef")
STREETS = ("ada", "sam-lee", "jordan.p", "m-garcia", "kim.tran")


def _profile_values(rng: random.Random, today: date, handle: str) -> dict[str, Any]:
    born = today.replace(year=today.year - rng.randint(26, 68)) - timedelta(days=rng.randint(0, 364))
    values: dict[str, Any] = {
        "netWorth": {"amount": Decimal(rng.randrange(50, 4000)) * 1000},
        "homeOwnerStatus": rng.choice(("OWNER", "OWNER", "RENTER")),
        "householdIncome": {"amount": Decimal(rng.randrange(40, 400)) * 1000},
        "lengthOfResidence": rng.randint(0, 25),
        "maritalStatus": rng.choice(("SINGLE", "MARRIED", "MARRIED", "DIVORCED")),
        "marketValue": {"amount": Decimal(rng.randrange(150, 1500)) * 1000},
        "occupation": rng.choice(OCCUPATIONS),
        "birthDate": born,
        "education": rng.choice(("HIGH_SCHOOL", "BACHELOR", "BACHELOR", "MASTER", "DOCTORATE")),
        "gender": rng.choice(("FEMALE", "MALE")),
        "children": rng.random() < 0.5,
        "pets": rng.random() < 0.4,
        "linkedinUrl": f"https://www.linkedin.com/in/{handle}",
        "nextContactDate": today + timedelta(days=rng.randint(1, 30)),
        "lastContactDate": today - timedelta(days=rng.randint(1, 20)),
    }
    if rng.random() < 0.5:
        values["facebookUrl"] = f"https://www.facebook.com/{handle}"
    if rng.random() < 0.3:
        values["twitterUrl"] = f"https://x.com/{handle}"
    if values["maritalStatus"] == "MARRIED":
        values["anniversary1"] = {"date": born.replace(year=born.year + 27), "label": "Wedding"}
    values["anniversary2"] = {
        "date": today - timedelta(days=rng.randint(200, 900)),
        "label": "First purchase",
    }
    return values


async def seed_profiles(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    rng = random.Random(12)  # its own stream: the cards' draws stay what they were
    rich = await rich_contact_ids(conn, account_id)
    contacts = {c.id: c for c in await Contact.filter(id__in=rich).using_db(conn)}
    users = {u.id: u for u in await User.filter(account_id=account_id).using_db(conn).order_by("id")}
    admin = next(u for u in users.values() if u.role == "admin")
    account = await Account.get(id=account_id).using_db(conn)
    lists = {h.column: header.values_of(account, h) for h in header.HEADER_LISTS}
    for contact_id in rich:
        contact = contacts[contact_id]
        last = (
            await JourneyEvent.filter(contact_id=contact_id)
            .using_db(conn)
            .order_by("-id")
            .first()
            .values_list("occurred_at", flat=True)
        )
        # Halfway from the card's last entry to now; a card whose last entry is now (a note deleted
        # as the seed ran) gets the next millisecond: ids stay in time order.
        at: datetime = last + max((now - last) / 2, _STEP)  # type: ignore[operator]
        user = users.get(contact.assigned_to_id) or admin  # type: ignore[attr-defined]
        chosen = {column: rng.choice(values) for column, values in lists.items() if values}
        changes = header.apply_header(contact, header.clean_header(account, chosen))
        await contact.save(using_db=conn, update_fields=list(chosen))
        handle = f"{rng.choice(STREETS)}{contact_id}"
        cleaned = profile.clean_profile(_profile_values(rng, now.date(), handle), "USD")
        row = ContactProfile(contact_id=contact_id, **dict.fromkeys(PROFILE_COLUMNS))
        for api, value in cleaned.items():
            spec = PROFILE_BY_API[api]
            profile.put_value(spec, row, value)
            changes[spec.journey_key] = [None, profile.journal_value(spec, value)]
        await row.save(using_db=conn)
        await _entry(conn, contact, user, at, JourneyKind.CONTACT_UPDATED,
                     f"{user.name} changed {', '.join(changes)}", changes)  # fmt: skip
        await _open_deals(conn, rng, contact, user, at, now.date())


async def _open_deals(
    conn: BaseDBAsyncClient, rng: random.Random, contact: Contact, user: User, at: datetime, today: date
) -> None:
    for n, deal in enumerate(
        await Deal.filter(contact_id=contact.id, status="OPEN").using_db(conn).order_by("id")
    ):
        deal.likelihood = rng.choice((20, 35, 50, 60, 75, 90))
        deal.close_date = today + timedelta(days=rng.randint(7, 120))
        await deal.save(using_db=conn, update_fields=["likelihood", "close_date"])
        changes = {"likelihood": [None, deal.likelihood], "closeDate": [None, deal.close_date.isoformat()]}
        await _entry(conn, contact, user, at + (n + 1) * _STEP, JourneyKind.DEAL_UPDATED,
                     f"{user.name} updated the deal {deal.product_name}: likelihood, closeDate", changes,
                     subject_type="Deal", subject_id=deal.id, subject=deal_subject(deal))  # fmt: skip


async def _entry(
    conn: BaseDBAsyncClient,
    contact: Contact,
    user: User,
    at: datetime,
    kind: JourneyKind,
    summary: str,
    changes: dict[str, Any],
    **subject: Any,
) -> None:
    subject.pop("subject", None)
    await JourneyEvent.create(
        account_id=contact.account_id,  # type: ignore[attr-defined]
        contact_id=contact.id,
        kind=kind.value,
        occurred_at=at,
        actor_kind=ActorKind.USER.value,
        actor_user_id=user.id,
        actor_name=user.name,
        summary=summary[:500],
        changes=changes,
        using_db=conn,
        **subject,
    )
