"""Seed the benchmark's cards: one account, an API key, one large, realistic contact card and,
on request, a page of smaller cards (`list_contacts`) created after it, so they are the
newest: `contacts(first: N)` returns them and not the large card.

Rows go straight into the tables with bulk_create (the benchmark measures reads, not the
services); the account and its key come from the real service, so the key authenticates.
Call `seed(...)` with the ORM open (`crm.db.open_database`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from crm.clock import utcnow
from crm.models import (
    Attachment,
    Call,
    Contact,
    ContactProfile,
    ContactTag,
    CustomField,
    CustomFieldValue,
    Deal,
    Form,
    FormAnswer,
    Invoice,
    Job,
    JourneyEvent,
    Lead,
    LineItem,
    Message,
    Note,
    Quote,
    RecordingShare,
    RewardEntry,
    Tag,
    Task,
    User,
    Utm,
)
from crm.services.accounts import create_account, create_user
from crm.services.billing import document_totals


@dataclass(frozen=True)
class CardSizes:
    journey: int = 200
    calls: int = 40
    deals: int = 20
    notes: int = 50
    utms: int = 5
    tags: int = 5
    answers: int = 12
    # Issue 12: messages and leads (with the calls: the communication history), quotes, jobs
    # and invoices, and the line items of each quote and invoice.
    messages: int = 30
    leads: int = 3
    quotes: int = 4
    jobs: int = 3
    invoices: int = 4
    items: int = 3
    # Issue 12's referrals: contacts the card invited (every other one with a lead), each card
    # with an inviter of its own, and rewards ledger lines. Every card also gets header fields,
    # opt-ins, a full profile and a first lead sent through a live form (its flow link).
    invited: int = 8
    ledger: int = 12
    # Issue 13: tasks (overdue, due later, undated, done, cancelled in turn), files on the card
    # and recordings of its first past calls, each recording with a share link.
    tasks: int = 24
    attachments: int = 12
    recordings: int = 10


# The cards of the list scenario: every section present, a few rows each.
LIST_SIZES = CardSizes(
    journey=6,
    calls=3,
    deals=2,
    notes=2,
    utms=1,
    tags=2,
    answers=2,
    messages=3,
    leads=1,
    quotes=1,
    jobs=1,
    invoices=1,
    items=2,
    invited=1,
    ledger=3,
    tasks=4,
    attachments=2,
    recordings=1,
)


@dataclass(frozen=True)
class Seeded:
    api_key: str
    account_id: int
    contact_id: int  # the large card
    list_contact_ids: tuple[int, ...] = ()  # newest first, like `contacts(first:)`


@dataclass(frozen=True)
class _People:
    """The account's three users, whom rows are attributed to in turn."""

    ids: list[int]
    names: dict[int, str]


JOURNEY_KINDS = (
    ("CONTACT_UPDATED", None, {"title": ["Owner", "Founder"]}),
    ("STATUS_CHANGED", None, {"status": ["lead", "contacted"], "subStatus": [None, "attempted"]}),
    ("CALL_SCHEDULED", "Call", {"scheduledAt": [None, "2026-03-02T15:00:00+00:00"]}),
    ("NOTE_ADDED", "Note", {}),
    ("DEAL_ADDED", "Deal", {"amount": [None, "1499.50"], "currency": [None, "USD"]}),
    ("TAG_ADDED", "Tag", {"tags": [["vip"], ["vip", "webinar"]]}),
    ("OWNER_CHANGED", None, {"closerOwner": ["Sam Setter", "Casey Closer"]}),
)
OUTCOMES = ("SPOKE", "NO_ANSWER", "LEFT_VOICEMAIL", "FOLLOW_UP_NEEDED", "WON")


FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jon")
LAST_NAMES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Quinn")


async def seed(
    sizes: CardSizes = CardSizes(), list_contacts: int = 0, list_sizes: CardSizes = LIST_SIZES
) -> Seeded:
    issued = await create_account("Bench Co", "admin@bench.example.com", "Avery Admin")
    account_id: int = issued.user.account_id  # type: ignore[attr-defined]
    setter = (await create_user("Bench Co", "Sam Setter", "sam@bench.example.com", "rep")).user
    closer = (await create_user("Bench Co", "Casey Closer", "casey@bench.example.com", "manager")).user
    people = _People(
        [issued.user.id, setter.id, closer.id],
        {issued.user.id: "Avery Admin", setter.id: "Sam Setter", closer.id: "Casey Closer"},
    )
    now = utcnow()

    contact = await Contact.create(
        account_id=account_id,
        first_name="Jordan",
        last_name="Rivera",
        business_name="Rivera Landscaping LLC",
        title="Owner",
        contact_type="lead",
        email="jordan@rivera-landscaping.example.com",
        secondary_email="office@rivera-landscaping.example.com",
        phone="+14155550123",
        secondary_phone="+14155550188",
        street="1200 Market St",
        city="San Francisco",
        state="CA",
        zip="94102",
        country="US",
        ip_address="203.0.113.42",
        status="contacted",
        sub_status="follow up",
        setter_owner_id=setter.id,
        closer_owner_id=closer.id,
        assigned_to_id=setter.id,
    )
    await Tag.bulk_create(
        [
            Tag(account_id=account_id, name=name, key=name.lower())
            for name in ("VIP", "Webinar", "Referral", "Spring 2026", "Hot lead")[: max(sizes.tags, 2)]
        ]
    )
    tag_ids = [t["id"] for t in await Tag.filter(account_id=account_id).order_by("id").values("id")]
    await _add_sections([contact.id], sizes, people, tag_ids, account_id, now)

    listed = [await _list_contact(account_id, n, people) for n in range(list_contacts)]
    await _add_sections(listed, list_sizes, people, tag_ids, account_id, now)
    assert await User.filter(account_id=account_id).count() == 3
    return Seeded(issued.key, account_id, contact.id, tuple(reversed(listed)))


async def _list_contact(account_id: int, n: int, people: _People) -> int:
    """A smaller card's contact: every field filled, values varied a little."""
    first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[n % len(LAST_NAMES)]
    contact = await Contact.create(
        account_id=account_id,
        first_name=first,
        last_name=last,
        business_name=f"{last} & Sons {n + 1}",
        title=("Owner", "Manager", "Founder")[n % 3],
        contact_type=("lead", "customer")[n % 2],
        email=f"{first.lower()}.{n + 1}@{last.lower()}.example.com",
        secondary_email=None if n % 3 else f"office{n + 1}@{last.lower()}.example.com",
        phone=f"+1415555{1000 + n:04d}",
        secondary_phone=None,
        street=f"{100 + n} Main St",
        city="Oakland",
        state="CA",
        zip="94607",
        country="US",
        ip_address=f"198.51.100.{n % 250 + 1}",
        status=("lead", "contacted", "customer")[n % 3],
        sub_status=None if n % 2 else "attempted",
        setter_owner_id=people.ids[1],
        closer_owner_id=people.ids[2] if n % 2 else None,
        assigned_to_id=people.ids[n % 3],
    )
    return contact.id


async def _add_sections(
    cids: list[int], sizes: CardSizes, people: _People, tag_ids: list[int], account_id: int, now: datetime
) -> None:
    """Every section of each card in `cids`, `sizes` rows each, in one bulk insert per table."""
    users, names = people.ids, people.names
    await Call.bulk_create(
        [
            Call(
                contact_id=cid,
                event_name=f"Discovery call #{i + 1}" if i % 3 else "Strategy session",
                scheduled_at=now + timedelta(days=i // 2 + 1) if i % 2 else now - timedelta(days=i // 2 + 1),
                duration_minutes=30 if i % 3 else 60,
                status="CANCELLED" if i % 7 == 6 else "SCHEDULED",
                outcome=None if i % 2 else OUTCOMES[(i // 2) % len(OUTCOMES)],
                outcome_at=None if i % 2 else now - timedelta(days=i // 2),
                recording_url=None if i % 2 else f"https://recordings.example.com/calls/{i + 1}.mp3",
                cancel_reason="Lead asked to move it" if i % 7 == 6 else None,
                cancelled_at=now if i % 7 == 6 else None,
                reschedule_count=i % 3,
                booked_by_id=users[i % 3],
                created_at=now - timedelta(days=40 - i),
                updated_at=now,
            )
            for cid in cids
            for i in range(sizes.calls)
        ],
        batch_size=500,
    )
    await Deal.bulk_create(
        [
            Deal(
                contact_id=cid,
                account_id=account_id,
                product_name=("Lawn care plan", "Irrigation install", "Tree service")[i % 3],
                amount=Decimal("1499.50") + Decimal(i) * Decimal("12.25"),
                payment_type=("ONE_TIME", "RECURRING", "PAYMENT_PLAN")[i % 3],
                status=("OPEN", "WON", "LOST")[i % 3],
                # Every tenth in another currency: left out of the opportunity (excludedDeals).
                currency="EUR" if i % 10 == 5 else "USD",
                likelihood=(25 + 15 * i) % 100 if i % 4 else None,
                close_date=date(2027, 3, 1) + timedelta(days=7 * i),
                recurring=i % 3 == 1,
                closed_at=now - timedelta(days=i) if i % 3 else None,
                created_by_id=users[(i + 1) % 3],
                created_at=now - timedelta(days=30 - i),
                updated_at=now,
            )
            for cid in cids
            for i in range(sizes.deals)
        ],
        batch_size=500,
    )
    await Note.bulk_create(
        [
            Note(
                contact_id=cid,
                body=(
                    f"<p>Spoke with Jordan about the <b>spring schedule</b> (note {i + 1}).</p>"
                    "<ul><li>Wants a quote for the back lot</li><li>Call back after 3pm</li></ul>"
                ),
                text_length=90,
                author_id=users[i % 3],
                author_name=names[users[i % 3]],
                created_at=now - timedelta(hours=50 - i),
                updated_at=now,
            )
            for cid in cids
            for i in range(sizes.notes)
        ],
        batch_size=500,
    )
    await Utm.bulk_create(
        [
            Utm(
                contact_id=cid,
                source=("google", "facebook", "newsletter", "bing", "partner")[i % 5],
                medium="cpc",
                campaign=f"spring-promo-{i + 1}",
                term="lawn care",
                content="variant-b",
                captured_at=now - timedelta(days=60 - i),
            )
            for cid in cids
            for i in range(sizes.utms)
        ],
        batch_size=500,
    )
    await FormAnswer.bulk_create(
        [
            FormAnswer(
                contact_id=cid,
                form="Free estimate",
                question=f"Question {i + 1}: how big is the property?",
                answer="About half an acre, mostly lawn with some beds along the fence.",
                answered_at=now - timedelta(days=60),
            )
            for cid in cids
            for i in range(sizes.answers)
        ],
        batch_size=500,
    )
    await ContactTag.bulk_create(
        [
            ContactTag(contact_id=cid, tag_id=tag_ids[(n + i) % len(tag_ids)])
            for n, cid in enumerate(cids)
            for i in range(min(sizes.tags, len(tag_ids)))
        ],
        batch_size=500,
    )
    events = []
    for cid in cids:
        for i in range(sizes.journey):
            kind, subject, changes = JOURNEY_KINDS[i % len(JOURNEY_KINDS)]
            by_user = i % 5 != 4
            user_id = users[i % 3]
            events.append(
                JourneyEvent(
                    account_id=account_id,
                    contact_id=cid,
                    kind=kind,
                    occurred_at=now - timedelta(minutes=10 * (sizes.journey - i)),
                    actor_kind="USER" if by_user else "SYSTEM",
                    actor_user_id=user_id if by_user else None,
                    actor_name=names[user_id] if by_user else "Dossier",
                    summary=f"{kind.replace('_', ' ').capitalize()} ({i + 1})",
                    changes=changes,
                    subject_type=subject,
                    subject_id=(i % 20) + 1 if subject else None,
                )
            )
    await JourneyEvent.bulk_create(events, batch_size=500)
    await _add_communications(cids, sizes, people, account_id, now)
    await _add_billing(cids, sizes, people, account_id, now)
    await _add_referrals(cids, sizes, people, account_id, now)
    await add_custom_fields(account_id, cids)
    await _add_tasks(cids, sizes, people, account_id, now)
    await _add_files(cids, sizes, people, account_id, now)


# An account's custom fields, one of most types, and the values every card holds (a field
# with a default and no values shows its default).
CUSTOM_FIELDS: tuple[tuple[str, str, list[str], Any, dict[str, Any]], ...] = (
    ("nickname", "TEXT", [], None, {"value_text": "Jordy"}),
    ("roof_area", "NUMBER", [], None, {"value_number": Decimal("182.5")}),
    ("budget", "MONEY", [], None, {"value_number": Decimal("12500"), "value_currency": "USD"}),
    ("moved_in", "DATE", [], None, {"value_date": date(2019, 6, 1)}),
    ("gate_code_set", "BOOLEAN", [], None, {"value_bool": True}),
    ("tier", "SELECT", ["gold", "silver", "bronze"], None, {"value_text": "gold"}),
    (
        "interests",
        "MULTI_SELECT",
        ["solar", "roofing", "gutters"],
        None,
        {"value_json": ["solar", "gutters"]},
    ),
    ("site", "URL", [], None, {"value_text": "https://example.com/jordan"}),
    ("visits", "NUMBER", [], {"value": 0}, {}),
)


async def add_custom_fields(
    account_id: int,
    contact_ids: list[int],
    specs: tuple[tuple[str, str, list[str], Any, dict[str, Any]], ...] = CUSTOM_FIELDS,
) -> None:
    """The account's custom fields of `specs` (key, type, options, default, value columns; made
    once) and, where a spec has value columns, its value on every contact. Also the statement-count
    tests' seeder (tests/test_statement_counts.py)."""
    fields = {f.key: f for f in await CustomField.filter(account_id=account_id)}
    for key, type_, options, default, _ in specs:
        if key not in fields:
            fields[key] = await CustomField.create(
                account_id=account_id,
                key=key,
                label=key.replace("_", " ").capitalize(),
                type=type_,
                options=options,
                default_value=default,
            )
    await CustomFieldValue.bulk_create(
        [
            CustomFieldValue(field_id=fields[key].id, contact_id=cid, **columns)
            for cid in contact_ids
            for key, _, _, _, columns in specs
            if columns
        ],
        batch_size=500,
    )


MESSAGE_BODIES = (
    "Hi Jordan, this is Sam from Bench Co confirming Tuesday at 3pm.",
    "Sounds good, see you then. Can you bring the irrigation brochure?",
    "Here is the estimate we discussed; the back lot is included.",
)


async def _add_communications(
    cids: list[int], sizes: CardSizes, people: _People, account_id: int, now: datetime
) -> None:
    """SMS, email and chat messages a few hours apart, and web-form leads."""
    users = people.ids
    await Message.bulk_create(
        [
            Message(
                contact_id=cid,
                channel=("SMS", "EMAIL", "CHAT")[i % 3],
                direction="OUTBOUND" if i % 2 else "INBOUND",
                status="DELIVERED" if i % 2 else "RECEIVED",
                to_address="+14155550123" if i % 2 else "+14155550999",
                from_address="+14155550999" if i % 2 else "+14155550123",
                subject="Your estimate" if i % 3 == 1 else None,
                body=MESSAGE_BODIES[i % len(MESSAGE_BODIES)],
                author_id=users[i % 3] if i % 2 else None,
                created_at=now - timedelta(hours=5 * (sizes.messages - i)),
                sent_at=now - timedelta(hours=5 * (sizes.messages - i)) if i % 2 else None,
                delivered_at=now - timedelta(hours=5 * (sizes.messages - i)) if i % 2 else None,
            )
            for cid in cids
            for i in range(sizes.messages)
        ],
        batch_size=500,
    )
    await Lead.bulk_create(
        [
            Lead(
                account_id=account_id,
                contact_id=cid,
                form_name=("Free estimate", "Spring promo")[i % 2],
                variant="B" if i % 2 else None,
                ip_address="203.0.113.42",
                referrer="https://rivera-landscaping.example.com/pricing",
                submitted_at=now - timedelta(hours=30 * (sizes.leads - i)),
                status="DUPLICATE" if i else "NEW",
                match_reason="EMAIL" if i else "NEW",
                fingerprint=f"{cid:032}{i:032}",
                identity={"email": "jordan@rivera-landscaping.example.com"},
            )
            for cid in cids
            for i in range(sizes.leads)
        ],
        batch_size=500,
    )


async def ids_by_contact(model: Any, contact_ids: list[int]) -> dict[int, list[int]]:
    """The ids of `model`'s rows of each contact, oldest first (what bulk_create just made)."""
    found: dict[int, list[int]] = {contact_id: [] for contact_id in contact_ids}
    for row in await model.filter(contact_id__in=contact_ids).order_by("id").values("id", "contact_id"):
        found[row["contact_id"]].append(row["id"])
    return found


LINES = (
    ("Spring clean-up", Decimal("1"), Decimal("450.00"), Decimal("8.25")),
    ("Mulch, per yard", Decimal("6"), Decimal("42.50"), Decimal("8.25")),
    ("Irrigation check", Decimal("1.5"), Decimal("95.00"), Decimal("0")),
)


def _line_totals(count: int) -> tuple[Decimal, Decimal]:
    """Subtotal and tax of the first `count` lines, rounded as the service rounds them."""
    lines = [LINES[p % len(LINES)] for p in range(count)]
    totals = document_totals(
        [{"quantity": q, "unit_price": price, "tax_rate": rate} for _, q, price, rate in lines], "USD"
    )
    return totals.subtotal, totals.tax


async def _add_billing(
    cids: list[int], sizes: CardSizes, people: _People, account_id: int, now: datetime
) -> None:
    """Quotes (accepted, sent, draft), jobs carrying them out (done, then scheduled) and invoices
    billing them (paid, then sent), each quote and invoice with `sizes.items` line items."""
    users = people.ids
    subtotal, tax = _line_totals(sizes.items)
    await Quote.bulk_create(
        [
            Quote(
                account_id=account_id,
                contact_id=cid,
                number=f"Q-{cid:04}{i:02}",
                title=("Spring clean-up", "Irrigation install", "Tree service")[i % 3],
                currency="USD",
                status=("ACCEPTED", "SENT", "DRAFT")[i % 3],
                valid_until=date(2027, 3, 31),
                notes="Materials included",
                subtotal=subtotal,
                tax=tax,
                total=subtotal + tax,
                sent_at=now - timedelta(days=30 - i) if i % 3 != 2 else None,
                decided_at=now - timedelta(days=25 - i) if i % 3 == 0 else None,
                created_by_id=users[i % 3],
            )
            for cid in cids
            for i in range(sizes.quotes)
        ],
        batch_size=500,
    )
    quotes = await ids_by_contact(Quote, cids)
    await Job.bulk_create(
        [
            Job(
                account_id=account_id,
                contact_id=cid,
                title=("Spring clean-up", "Irrigation install", "Tree service")[i % 3],
                status="DONE" if i % 2 == 0 else "SCHEDULED",
                scheduled_start=now + timedelta(days=7 * i - 14),
                scheduled_end=now + timedelta(days=7 * i - 14, hours=4),
                completed_at=now + timedelta(days=7 * i - 14, hours=4) if i % 2 == 0 else None,
                assignee_id=users[(i + 1) % 3],
                quote_id=quotes[cid][i] if i < len(quotes[cid]) else None,
                notes="Gate code 4411",
                created_by_id=users[i % 3],
            )
            for cid in cids
            for i in range(sizes.jobs)
        ],
        batch_size=500,
    )
    jobs = await ids_by_contact(Job, cids)
    await Invoice.bulk_create(
        [
            Invoice(
                account_id=account_id,
                contact_id=cid,
                number=f"INV-{cid:04}{i:02}",
                title=("Spring clean-up", "Irrigation install", "Tree service")[i % 3],
                currency="USD",
                status="PAID" if i % 2 == 0 else "SENT",
                subtotal=subtotal,
                tax=tax,
                total=subtotal + tax,
                amount_paid=subtotal + tax if i % 2 == 0 else Decimal(0),
                due_date=date(2026, 1, 15) if i % 2 else date(2027, 1, 15),
                issued_at=now - timedelta(days=20 - i),
                paid_at=now - timedelta(days=10 - i) if i % 2 == 0 else None,
                quote_id=quotes[cid][i] if i < len(quotes[cid]) else None,
                job_id=jobs[cid][i] if i < len(jobs[cid]) else None,
                notes="Net 30",
                created_by_id=users[i % 3],
            )
            for cid in cids
            for i in range(sizes.invoices)
        ],
        batch_size=500,
    )
    invoices = await ids_by_contact(Invoice, cids)
    await LineItem.bulk_create(
        [
            LineItem(
                **{owner: document_id},
                position=p,
                description=LINES[p % len(LINES)][0],
                quantity=LINES[p % len(LINES)][1],
                unit_price=LINES[p % len(LINES)][2],
                tax_rate=LINES[p % len(LINES)][3],
            )
            for owner, documents in (("quote_id", quotes), ("invoice_id", invoices))
            for cid in cids
            for document_id in documents[cid]
            for p in range(sizes.items)
        ],
        batch_size=500,
    )


PROFILE = {
    "net_worth_amount": Decimal("850000"),
    "net_worth_currency": "USD",
    "home_owner_status": "OWNER",
    "household_income_amount": Decimal("142500.50"),
    "household_income_currency": "USD",
    "length_of_residence": 12,
    "marital_status": "MARRIED",
    "market_value_amount": Decimal("1250000"),
    "market_value_currency": "USD",
    "occupation": "Landscape architect",
    "birth_date": date(1981, 4, 23),
    "education": "BACHELOR",
    "gender": "NON_BINARY",
    "children": True,
    "pets": True,
    "facebook_url": "https://facebook.com/rivera.landscaping",
    "linkedin_url": "https://www.linkedin.com/in/jordan-rivera",
    "twitter_url": "https://x.com/riveralandscape",
    "anniversary1_date": date(2009, 6, 20),
    "anniversary1_label": "Wedding",
    "anniversary2_date": date(2015, 3, 2),
    "anniversary2_label": "Business founded",
    "next_contact_date": date(2027, 1, 12),
    "last_contact_date": date(2026, 11, 28),
}
REWARDS = (("EARNED", 500_000, "Referred a neighbour"), ("ISSUED", 250_000, "Gift card sent"),
           ("PROMO_REDEEMED", 100_000, None))  # fmt: skip


async def _add_referrals(
    cids: list[int], sizes: CardSizes, people: _People, account_id: int, now: datetime
) -> None:
    """Header fields, opt-ins and a profile; the first lead through a live form; ledger lines
    (earned, issued, promo in turn); invited contacts and an inviter. Those contacts are
    archived (the list shows live contacts only), so they never join `contacts(first:)`."""
    users, names = people.ids, people.names
    await Contact.filter(id__in=cids).update(
        lead_source="Referral", action_plan="Spring nurture", sales_cycle="90 days",
        privacy_opt_in=True, privacy_opt_in_at=now - timedelta(days=60), privacy_opt_in_source="FORM",
        communication_opt_in=True, communication_opt_in_at=now - timedelta(days=30),
        communication_opt_in_source="USER", preferred_reward="Amazon gift card",
    )  # fmt: skip
    await ContactProfile.bulk_create([ContactProfile(contact_id=cid, **PROFILE) for cid in cids])
    form = await Form.create(account_id=account_id, name="Free estimate", key=secrets.token_urlsafe(24))
    firsts = (
        await Lead.filter(contact_id__in=cids).order_by("-submitted_at", "-id").values("id", "contact_id")
    )
    first_lead = {row["contact_id"]: row["id"] for row in firsts}  # the oldest wins
    await Lead.filter(id__in=list(first_lead.values())).update(form_id=form.id)
    await RewardEntry.bulk_create(
        [
            RewardEntry(
                account_id=account_id,
                contact_id=cid,
                kind=REWARDS[i % 3][0],
                amount_units=REWARDS[i % 3][1] + 10_000 * i,
                currency="USD",
                reason=REWARDS[i % 3][2],
                promo_code="SPRING25" if i % 3 == 2 else None,
                direct=i % 6 == 0,
                created_by_id=users[i % 3],
                created_by_name=names[users[i % 3]],
                created_at=now - timedelta(days=sizes.ledger - i),
            )
            for cid in cids
            for i in range(sizes.ledger)
        ],
        batch_size=500,
    )
    if not sizes.invited:
        return
    per_card = 1 + sizes.invited
    await Contact.bulk_create(
        [
            Contact(
                account_id=account_id,
                first_name=FIRST_NAMES[(n + i) % len(FIRST_NAMES)],
                last_name=LAST_NAMES[(n + i) % len(LAST_NAMES)],
                email=f"friend{n}.{i}@example.com",
                status="lead",
                archived_at=now,
            )
            for n in range(len(cids))
            for i in range(per_card)
        ],
        batch_size=500,
    )
    made = [
        row["id"]
        for row in await Contact.filter(account_id=account_id, email__startswith="friend")
        .order_by("-id")
        .limit(per_card * len(cids))
        .values("id")
    ][::-1]
    for n, cid in enumerate(cids):
        inviter, *invited = made[n * per_card : (n + 1) * per_card]
        await Contact.filter(id__in=invited).update(inviter_id=cid)
        await Contact.filter(id=cid).update(inviter_id=inviter)
        await Lead.bulk_create(
            [
                Lead(
                    account_id=account_id,
                    contact_id=friend,
                    form_name="Free estimate",
                    submitted_at=now - timedelta(days=3),
                    status="NEW",
                    match_reason="NEW",
                    fingerprint=f"{friend:064}",
                    identity={"email": f"friend{n}@example.com"},
                )
                for friend in invited[::2]
            ]
        )


TASK_TITLES = ("Send the revised quote", "Site visit", "Confirm the crew", "Call about the invoice")


def task_due(i: int, now: datetime) -> datetime | None:
    """Task i's due time: every fourth has none; the first dated ones (i < 3) are past (task 0 is
    overdue, task 2 done), the rest fall hours after the calls to come (a day or more apart), so
    upcoming actions mix both."""
    if i % 4 == 1:
        return None
    if i < 3:
        return now - timedelta(days=2 - i, hours=3)
    return now + timedelta(days=i // 2 + 1, hours=5)


async def _add_tasks(
    cids: list[int], sizes: CardSizes, people: _People, account_id: int, now: datetime
) -> None:
    """Open tasks (dated or not), done ones and, every seventh, a cancelled one; every third
    dated one kept with New York's offset, as a client in that zone would write it."""
    users = people.ids
    rows = []
    for cid in cids:
        for i in range(sizes.tasks):
            status = "DONE" if i % 4 == 2 else "CANCELLED" if i % 7 == 6 else "OPEN"
            due = task_due(i, now)
            rows.append(
                Task(
                    account_id=account_id,
                    contact_id=cid,
                    kind=("TASK", "MEETING", "EMAIL", "REMINDER", "CALL", "COMMENT")[i % 6],
                    title=f"{TASK_TITLES[i % len(TASK_TITLES)]} ({i + 1})",
                    body="<p>Bring the <b>irrigation</b> brochure</p>" if i % 2 else "",
                    text_length=30 if i % 2 else 0,
                    due_at=due,
                    due_offset_minutes=-300 if due is not None and i % 3 == 0 else None,
                    duration_minutes=45 if i % 4 == 3 else None,
                    status=status,
                    assignee_id=users[i % 3],
                    owner_id=users[(i + 1) % 3],
                    completed_at=now - timedelta(hours=i) if status == "DONE" else None,
                    completed_by_id=users[(i + 2) % 3] if status == "DONE" else None,
                    created_at=now - timedelta(days=10, minutes=i),
                    updated_at=now,
                )
            )
    await Task.bulk_create(rows, batch_size=500)


async def _add_files(
    cids: list[int], sizes: CardSizes, people: _People, account_id: int, now: datetime
) -> None:
    """Recordings of each card's first past calls (each with an active share link), then its
    files. Rows only: the card reads them, never the objects (bench/attachments.py measures
    storage)."""
    users = people.ids
    calls = await ids_by_contact(Call, cids)
    # _add_sections' even calls are the past ones (odd ones are days ahead).
    recorded = {cid: calls[cid][::2][: sizes.recordings] for cid in cids}
    await Attachment.bulk_create(
        [
            Attachment(
                account_id=account_id,
                contact_id=cid,
                call_id=call_id,
                kind="RECORDING",
                title=f"Call recording {n + 1}",
                filename=f"call-{call_id}.mp3",
                content_type="audio/mpeg",
                size=480_000 + 1_000 * n,
                sha256=f"{call_id:064x}",
                storage_key=f"bench/recordings/{call_id}",
                duration_seconds=240 + 15 * n,
                uploaded_by_id=users[n % 3],
            )
            for cid in cids
            for n, call_id in enumerate(recorded[cid])
        ]
        + [
            Attachment(
                account_id=account_id,
                contact_id=cid,
                kind="FILE",
                title=("Site photo", "Signed estimate", "Property survey")[i % 3] + f" {i + 1}",
                filename=(f"site-{i + 1}.jpg", f"estimate-{i + 1}.pdf", f"survey-{i + 1}.pdf")[i % 3],
                content_type=("image/jpeg", "application/pdf", "application/pdf")[i % 3],
                size=250_000 + 5_000 * i,
                sha256=f"{cid:032x}{i:032x}",
                storage_key=f"bench/files/{cid}/{i}",
                uploaded_by_id=users[i % 3] if i % 4 else None,
            )
            for cid in cids
            for i in range(sizes.attachments)
        ],
        batch_size=500,
    )
    shared = (
        await Attachment.filter(contact_id__in=cids, kind="RECORDING").order_by("id").values("id", "call_id")
    )
    await RecordingShare.bulk_create(
        [
            RecordingShare(
                account_id=account_id,
                call_id=row["call_id"],
                attachment_id=row["id"],
                salt=secrets.token_hex(16),
                token_hash=secrets.token_hex(32),
                expires_at=now + timedelta(days=7),
                created_by_id=users[0],
                created_by_name="Avery Admin",
            )
            for row in shared
        ],
        batch_size=500,
    )
