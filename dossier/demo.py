"""Demo data for `dossier serve --demo`: one account, its team and a few hundred realistic cards.

The seed is deterministic (`random.Random(seed)`); its times are relative to the moment it runs
and spread over the past ~18 months. It writes rows with `bulk_create` — one service call per
journey entry would take minutes — but in the shapes the services write: journey summaries and
changes use the services' wording, every entry points at the call, deal, note or tag it is
about, and each card's columns are the end state its journey arrives at. Journey rows go in
in time order, so id order is time order. No outbox rows: old history is no news for plugins.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import phonenumbers
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from crm.actor import ActorKind, Role
from crm.clock import utcnow
from crm.errors import Conflict, NotFound
from crm.journey import HOOK_FOR_KIND, JourneyKind
from crm.models import (
    Account,
    ApiKey,
    Call,
    Contact,
    ContactTag,
    Deal,
    FormAnswer,
    JourneyEvent,
    Note,
    Tag,
    User,
    Utm,
)
from crm.richtext import clean_note, visible_text
from crm.services.accounts import create_account, create_user, hash_key, issue_api_key
from crm.services.contacts import IDENTITY_FIELDS
from crm.uow import display_name
from dossier.demo_attachments import seed_attachments
from dossier.demo_billing import seed_billing
from dossier.demo_bulk import seed_bulk
from dossier.demo_communications import seed_communications
from dossier.demo_conversions import seed_conversions
from dossier.demo_custom_fields import seed_custom_fields
from dossier.demo_exports import seed_exports
from dossier.demo_imports import seed_imports
from dossier.demo_leads import seed_leads
from dossier.demo_lifecycle import seed_lifecycle
from dossier.demo_merges import seed_merges
from dossier.demo_notifications import seed_notifications
from dossier.demo_profile import seed_profiles
from dossier.demo_recordings import seed_recordings
from dossier.demo_referrals import seed_referrals
from dossier.demo_segments import seed_segments
from dossier.demo_tasks import seed_tasks

log = logging.getLogger("dossier.demo")

DEMO_ACCOUNT = "Demo Co"
DEFAULT_CONTACTS = 300
DEFAULT_RICH = 40  # cards with 100+ journey entries
DEFAULT_SEED = 20240611
HISTORY_DAYS = 540  # about 18 months

ADMIN = ("Dana Whitfield", "dana.whitfield@demo.example.com")
# (name, email, role, job on the team)
TEAM = (
    ("Marcus Bell", "marcus.bell@demo.example.com", Role.MANAGER, "manager"),
    ("Priya Nair", "priya.nair@demo.example.com", Role.REP, "setter"),
    ("Tom Okafor", "tom.okafor@demo.example.com", Role.REP, "setter"),
    ("Elena Rossi", "elena.rossi@demo.example.com", Role.REP, "closer"),
    ("Jake Morgan", "jake.morgan@demo.example.com", Role.REP, "closer"),
    ("Sofia Alvarez", "sofia.alvarez@demo.example.com", Role.REP, "rep"),
    ("Ben Carter", "ben.carter@demo.example.com", Role.REP, "rep"),
)


@dataclass(frozen=True, slots=True)
class Demo:
    account_name: str
    contacts: int
    # Keys are stored hashed and cannot be shown again: with a key file the key is kept there
    # and reused while it works; without one a new key is minted on every call.
    api_key: str
    seeded: bool  # True when this call created the data
    seconds: float  # how long seeding took (0 when the data was already there)


def demo_key_file(database_url: str) -> Path | None:
    """Where `dossier serve --demo` keeps its key: beside a SQLite file (`dossier.db.demo-key`),
    or in the working directory for a server database (PostgreSQL); None for in-memory SQLite,
    which starts empty every time anyway."""
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://").split("?", 1)[0]
        if not path or path == ":memory:":
            return None
        return Path(path + ".demo-key")
    return Path(".dossier-demo-key")


async def _kept_key(key_file: Path, account_id: int) -> str | None:
    """The key saved by an earlier start, if it still works for the demo account."""
    try:
        stored = key_file.read_text().strip()
    except OSError:
        return None
    if not stored:
        return None
    working = await ApiKey.filter(
        key_hash=hash_key(stored), revoked_at__isnull=True, user__account_id=account_id
    ).exists()
    return stored if working else None


def _keep_key(key_file: Path, key: str) -> None:
    # Only the owner may read it: it is a working admin key of the demo account.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")


async def ensure_demo(
    *,
    contacts: int = DEFAULT_CONTACTS,
    rich: int = DEFAULT_RICH,
    seed: int = DEFAULT_SEED,
    key_file: Path | None = None,
) -> Demo:
    """Seed the demo account unless it exists, then give an API key for its admin: the one in
    `key_file` while it still works (a restarted demo shows the same key and adds none), else a
    new one, saved there."""
    seeded, seconds = False, 0.0
    account = await Account.filter(name=DEMO_ACCOUNT).first()
    if account is None:
        started = time.perf_counter()
        try:
            await _seed(contacts, rich, seed)
            seeded, seconds = True, time.perf_counter() - started
        except (Conflict, IntegrityError):  # another process seeded it at the same moment
            pass
        account = await Account.get(name=DEMO_ACCOUNT)
    admin = await User.filter(account_id=account.id, role=Role.ADMIN.value).order_by("id").first()
    if admin is None:
        raise NotFound(f"the {DEMO_ACCOUNT!r} account has no admin user to issue a key for")
    key = await _kept_key(key_file, account.id) if key_file is not None else None
    if key is None:
        key = await issue_api_key(admin.id, "demo")
        if key_file is not None:
            try:
                _keep_key(key_file, key)
            except OSError as exc:  # a read-only directory: the demo still runs, with a new key
                log.warning("could not keep the demo key in %s (%s); the next start prints a new one",
                            key_file, exc)  # fmt: skip
    # The contacts list's count: archived cards are not in it.
    count = await Contact.filter(account_id=account.id, archived_at__isnull=True).count()
    return Demo(account.name, count, key, seeded, seconds)


# --------------------------------------------------------------------------------------
# Catalogues
# --------------------------------------------------------------------------------------

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sophia", "Lucas", "Isabella", "Ethan",
    "Mia", "Aiden", "Amara", "Hiroshi", "Chloe", "Diego", "Zoe", "Arjun", "Grace", "Kwame",
    "Hannah", "Mohammed", "Lily", "Santiago", "Nora", "Wei", "Aaliyah", "Jonas", "Fatima", "Caleb",
    "Ingrid", "Rafael", "Yuki", "Omar", "Leah", "Dmitri", "Camila", "Samuel", "Aisha", "Connor",
    "Maya", "Tariq", "Elise", "Andre", "Naomi", "Felix", "Priyanka", "Marco", "Keisha", "Henrik",
    "Lucia", "Darius", "Mei", "Patrick", "Valentina", "Isaac", "Zara", "Gabriel", "Ruth", "Kofi",
    "José", "Chiara", "Brandon", "Ana", "Tyler", "Sakura", "Victor", "Nadia", "Owen", "Rosa",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Garcia", "Nguyen", "Patel", "Kim", "Martinez", "Brown", "Okafor", "Müller",
    "Rossi", "Chen", "Williams", "Hernandez", "Lopez", "Anderson", "Silva", "Tanaka", "Khan", "Cohen",
    "O'Brien", "Kowalski", "Jackson", "Rivera", "Ivanova", "Mensah", "Schmidt", "Dubois", "Singh",
    "Thompson", "Yamamoto", "Haddad", "Fischer", "Moreno", "Andersson", "Murphy", "Reyes", "Novak",
    "Adeyemi", "Park", "Walker", "Bianchi", "Costa", "Larsen", "Ramirez", "Wright", "Castillo",
    "Nakamura", "Delgado", "Fernandes", "Hughes", "Ali", "Bauer", "Price", "Vasquez", "Lindqvist",
    "Mbeki", "Sato", "Greenberg", "Stewart", "Romero", "Liu", "Campbell", "Pham", "Osei", "Byrne",
)  # fmt: skip
BUSINESSES = (
    "Northwind Traders", "Bluebird Bakery", "Summit Dental Group", "Harbor Logistics",
    "Pinecrest Realty", "Brightpath Consulting", "Copperleaf Design", "Redwood Fitness",
    "Lakeside Veterinary Clinic", "Atlas Roofing", "Greenfield Landscaping", "Ironclad Security",
    "Maple & Co. Accounting", "Silverline Media", "Horizon Solar", "Cedar Street Law",
    "Tidewater Marine", "Keystone Property Management", "Juniper Health", "Foxglove Florals",
    "Quarry Hill Brewing", "Beacon Learning Center", "Orchard Lane Pediatrics", "Vantage Analytics",
    "Blue Mesa Catering", "Crescent Auto Repair", "Evergreen Home Care", "Stonebridge Capital",
)  # fmt: skip
TITLES = (
    "Owner", "Founder", "CEO", "COO", "CFO", "Head of Operations", "Marketing Director",
    "Office Manager", "VP of Sales", "Practice Manager", "Operations Manager", "Procurement Lead",
    "Head of Growth", "General Manager", "IT Director", "Customer Success Lead",
)  # fmt: skip
STREETS = (
    "Maple Ave", "Oak St", "Pine St", "Cedar Ln", "Elm St", "Washington Blvd", "Lake Shore Dr",
    "Market St", "Mission St", "Broadway", "Congress Ave", "Peachtree St NE", "Main St",
    "Highland Ave", "Park Pl", "Sunset Blvd", "Water St", "Union St", "Grand Ave", "Church St",
)  # fmt: skip
# (city, state, ZIP prefix, area codes)
CITIES = (
    ("New York", "NY", "100", ("212", "646", "917")),
    ("Chicago", "IL", "606", ("312", "773")),
    ("San Francisco", "CA", "941", ("415",)),
    ("Boston", "MA", "021", ("617",)),
    ("Austin", "TX", "787", ("512",)),
    ("Los Angeles", "CA", "900", ("213", "310")),
    ("Seattle", "WA", "981", ("206",)),
    ("Denver", "CO", "802", ("303", "720")),
    ("Atlanta", "GA", "303", ("404",)),
    ("Miami", "FL", "331", ("305",)),
    ("Portland", "OR", "972", ("503",)),
    ("Nashville", "TN", "372", ("615",)),
    ("San Diego", "CA", "921", ("619", "858")),
    ("Dallas", "TX", "752", ("214", "469")),
    ("Phoenix", "AZ", "850", ("602",)),
    ("Minneapolis", "MN", "554", ("612",)),
    ("Philadelphia", "PA", "191", ("215",)),
    ("Raleigh", "NC", "276", ("919",)),
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
TAGS = (
    "VIP", "Referral", "Webinar", "Enterprise", "Newsletter", "Hot lead", "Partner", "Trade show",
    "Upsell", "Renewal due", "Needs approval",
)  # fmt: skip
# (source, medium, campaigns, terms)
UTM_SOURCES = (
    ("google", "cpc", ("brand_search", "crm_software_q2", "competitor_terms"),
     ("crm software", "contact management", "sales crm")),
    ("facebook", "social", ("spring_promo", "retargeting_30d", "lookalike_customers"), ()),
    ("newsletter", "email", ("monthly_digest", "product_launch", "webinar_invite"), ()),
    ("linkedin", "social", ("decision_makers", "webinar_invite"), ()),
)  # fmt: skip
UTM_CONTENT = ("ad_variant_a", "ad_variant_b", "hero_banner", "footer_link", None, None)
# form name -> [(question, possible answers)]
FORMS: dict[str, list[tuple[str, Sequence[str]]]] = {
    "Discovery call booking": [
        ("How many people work at your company?", ("Just me", "2-10", "11-50", "51-200", "201-1000")),
        (
            "What would you like to achieve with us?",
            (
                "Stop losing leads between our calendar and our spreadsheet",
                "Get the whole sales team on one view of each customer",
                "Shorten our sales cycle",
                "Replace our current CRM before the renewal",
                "Track which campaigns actually bring customers",
            ),
        ),
        ("How did you hear about us?", ("Google search", "A friend or colleague", "LinkedIn", "Podcast")),
    ],
    "Budget survey": [
        (
            "What is your monthly budget for this project?",
            ("Under $500", "$500 - $2,000", "$2,000 - $5,000", "Over $5,000"),
        ),
        ("When do you plan to start?", ("Immediately", "Within a month", "This quarter", "Next quarter")),
        (
            "Who else is involved in the decision?",
            ("Nobody, it's my call", "Our CFO", "The founders", "A procurement committee"),
        ),
    ],
    "Webinar registration": [
        (
            "Which session will you attend?",
            ("Pipeline hygiene 101", "Automating follow-ups", "Forecasting that works"),
        ),
        ("What is your role?", ("Sales rep", "Sales manager", "Founder", "Marketing")),
    ],
    "Demo request": [
        ("Which plan are you interested in?", ("Starter", "Growth", "Enterprise", "Not sure yet")),
        ("What do you use today?", ("Spreadsheets", "HubSpot", "Salesforce", "Pipedrive", "Nothing yet")),
        ("Anything we should prepare for the demo?", ("Importing our contacts", "Team permissions", "-")),
    ],
}
FORM_WEIGHTS = {
    "Discovery call booking": 45,
    "Budget survey": 15,
    "Webinar registration": 20,
    "Demo request": 20,
}
# (product, payment type, recurring, amounts to pick from)
PRODUCTS = (
    ("Starter plan", "RECURRING", True, (49, 79, 99, 149)),
    ("Growth plan", "RECURRING", True, (299, 399, 499, 799)),
    ("Enterprise license (annual)", "ONE_TIME", False, (12000, 18000, 24000, 36000, 48000)),
    ("Onboarding package", "ONE_TIME", False, (1500, 2500, 3500)),
    ("Coaching program", "PAYMENT_PLAN", False, (3000, 4500, 6000, 9000)),
    ("Consulting retainer", "RECURRING", True, (2000, 3500, 5000)),
    ("Implementation services", "PAYMENT_PLAN", False, (8000, 12500, 18000, 25000)),
    ("Workshop seats", "ONE_TIME", False, (450, 900, 1800, 2250)),
)
EARLY_CALLS = ("Discovery call", "Follow-up call", "Intro call")
MID_CALLS = ("Product demo", "Pricing review", "Strategy session", "Contract walkthrough")
LATE_CALLS = ("Onboarding kickoff", "Quarterly check-in", "Account review")
CANCEL_REASONS = (
    "Contact asked to move it to next quarter",
    "Double-booked",
    "Contact is travelling that week",
    "No longer interested",
    None,
)
OUTCOMES = (
    ("SPOKE", 34), ("CALLED", 14), ("NO_ANSWER", 15), ("LEFT_VOICEMAIL", 12), ("NO_SHOW", 10),
    ("FOLLOW_UP_NEEDED", 9), ("NOT_QUALIFIED", 2), ("WON", 2), ("LOST", 1), ("WRONG_NUMBER", 1),
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
COMPETITORS = ("HubSpot", "Salesforce", "Pipedrive", "a spreadsheet", "their old in-house tool")
NOTES = (
    "<p>Spoke with {first} about <b>{product}</b>. Budget is around <i>{budget}</i>.</p>"
    "<ul><li>Decision maker: {dm}</li><li>Timeline: {timeline}</li></ul>",
    '<p>Sent the proposal, see <a href="https://docs.example.com/proposals/{n}">proposal #{n}</a>.'
    " Follow up on <b>{day}</b>.</p>",
    "<p><u>Follow up</u> next week; {first} prefers email over phone.</p>",
    "<p>Left a voicemail, will try again <b>{day}</b> morning.</p>",
    "<p>Currently using {competitor}. Main pain points:</p>"
    "<ul><li>no shared view of the customer</li><li>follow-ups slip through</li>"
    "<li>reporting takes hours</li></ul>",
    "<p>{first} asked for a case study from their industry. Sent "
    '<a href="https://www.example.com/customers/{n}">this one</a>.</p>',
    "<p>Call went well. <b>Next step:</b> demo for the wider team on {day}.</p>",
    "<p>Asked about annual billing and a <i>{discount}%</i> discount. Checking with finance.</p>",
    "<p>Renewal coming up. Happy with onboarding; wants <b>two more seats</b>.</p>",
    "<p>Gatekeeper said {first} is out until {day}. <i>Do not</i> call before 10am their time.</p>",
    "<ul><li>Signed the order form</li><li>Kickoff booked</li><li>Invoice sent to accounts payable</li></ul>",
    '<p>Shared the security questionnaire: <a href="https://docs.example.com/security/{n}">answers</a>.</p>',
)
NOTE_EDITS = (
    "<p><i>Update:</i> they confirmed the budget.</p>",
    "<p><i>Update:</i> moved to {day}.</p>",
    "<p><b>Correction:</b> the decision maker is {dm}.</p>",
)
DELIVERY_ERRORS = (
    "ConnectError: [Errno 111] Connection refused",
    "ReadTimeout: timed out after 30s",
    "HTTPStatusError: 502 Bad Gateway from https://hooks.example.com/dossier",
)

# Identity fields that change over a card's life, as groups written together.
IDENTITY_GROUPS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "phone": ("phone",),
    "business_name": ("business_name",),
    "title": ("title",),
    "contact_type": ("contact_type",),
    "secondary_email": ("secondary_email",),
    "secondary_phone": ("secondary_phone",),
    "address": ("street", "city", "state", "zip", "country"),
}
OWNER_FIELDS = {
    "setter_owner_id": "setterOwner",
    "closer_owner_id": "closerOwner",
    "assigned_to_id": "assignedTo",
}
OWNER_JOBS = {"setter_owner_id": "setter", "closer_owner_id": "closer", "assigned_to_id": "rep"}


# --------------------------------------------------------------------------------------
# The plan: what to insert, built in memory first
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Actor:
    kind: str
    name: str
    user_id: int | None = None
    job: str = ""


SYSTEM = _Actor(ActorKind.SYSTEM.value, "Dossier")
WEBHOOKS = _Actor(ActorKind.PLUGIN.value, "webhooks")


@dataclass(eq=False)
class _Row:
    """A call, deal or note to insert; `id` is known once it is in."""

    card: _Card
    fields: dict[str, Any]
    id: int | None = None


@dataclass(eq=False)
class _Entry:
    at: datetime
    kind: JourneyKind
    actor: _Actor
    summary: str
    changes: dict[str, list[Any]] = field(default_factory=dict)
    subject_type: str | None = None
    subject: _Row | str | None = None  # a call/deal/note row, or a tag name


@dataclass(eq=False)
class _Mutation:
    """A change to the contact row itself; its before-values are known only when replayed in order."""

    at: datetime
    kind: str  # status | owners | tag | identity
    value: Any


@dataclass(eq=False)
class _DealPlan:
    product: tuple[str, str, bool, tuple[int, ...]]
    currency: str
    amounts: list[Decimal]  # the amount when added, then each revision
    added_at: datetime
    final_status: str  # OPEN | WON | LOST
    closed_at: datetime | None  # when it left OPEN
    added_closed: bool  # added directly as WON/LOST
    actor: _Actor


@dataclass(eq=False)
class _Card:
    created_at: datetime
    rich: bool
    columns: dict[str, Any] = field(default_factory=dict)  # the contact row, end state
    updated_at: datetime | None = None
    entries: list[_Entry] = field(default_factory=list)
    calls: list[_Row] = field(default_factory=list)
    deals: list[_Row] = field(default_factory=list)
    notes: list[_Row] = field(default_factory=list)
    deleted_notes: list[_Row] = field(default_factory=list)
    tags: dict[str, datetime] = field(default_factory=dict)  # tags at the end, and when added
    utms: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    id: int | None = None


def email_local(rng: random.Random, first: str | None, last: str | None, business: str | None) -> str:
    """The part before the @ of a made-up address: from the name, else the business."""
    if first and last:
        f, la = ascii_slug(first), ascii_slug(last)
        return rng.choice((f"{f}.{la}", f"{f[0]}{la}", f"{f}{la[0]}", f"{f}_{la}", f"{f}.{la}"))
    if business:
        return rng.choice(("info", "hello", "office", "contact")) + "." + ascii_slug(business)[:16]
    return ascii_slug(first or last or "guest")


def ascii_slug(text: str) -> str:
    """Letters and digits of `text`, accents dropped, lower case (for made-up email addresses)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and c.isalnum()).lower()


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _excerpt(body: str, limit: int = 80) -> str:
    text = " ".join(visible_text(body).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Planner:
    """Draws the whole demo from one random generator."""

    def __init__(
        self, rng: random.Random, now: datetime, people: list[_Actor], statuses: list[dict[str, Any]]
    ) -> None:
        self.rng = rng
        self.now = now
        self.people = people
        self.by_job: dict[str, list[_Actor]] = {}
        for person in people:
            self.by_job.setdefault(person.job, []).append(person)
        self.bosses = self.by_job["admin"] + self.by_job["manager"]
        self.names = {p.user_id: p.name for p in people}
        self.statuses = statuses
        lost = [s for s in statuses if s["name"].casefold() == "lost"]
        self.lost = lost[0] if lost else None
        self.funnel = [s for s in statuses if s is not self.lost]
        self.emails: set[str] = set()
        self.note_seq = 1000

    # -- small draws ---------------------------------------------------------------------

    def between(self, start: datetime, end: datetime) -> datetime:
        """A time strictly inside (start, end); callers make sure end > start."""
        if end <= start:
            return start + timedelta(seconds=1)
        return start + (end - start) * self.rng.uniform(0.001, 0.999)

    def times(self, n: int, start: datetime, end: datetime) -> list[datetime]:
        return sorted(self.between(start, end) for _ in range(n))

    def weighted(self, pairs: Sequence[tuple[Any, int]]) -> Any:
        return self.rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]

    def slot(self, when: datetime) -> datetime:
        """The next bookable quarter hour in US business hours (14:00-22:00 UTC)."""
        quarters = self.rng.randrange(0, 32)  # drawn always, so the sequence does not depend on the clock
        when = when.replace(second=0, microsecond=0) + timedelta(minutes=15 - when.minute % 15)
        if not 14 <= when.hour < 22:
            when = (when + timedelta(days=1 if when.hour >= 22 else 0)).replace(hour=14, minute=0)
            when += timedelta(minutes=15 * quarters)
        while when.weekday() >= 5:
            when += timedelta(days=1)
        return when

    def phone(self, area: str) -> str:
        while True:
            number = f"+1{area}{self.rng.randint(200, 999)}{self.rng.randint(0, 9999):04d}"
            parsed = phonenumbers.parse(number)
            if phonenumbers.is_valid_number(parsed):
                return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    def email(self, first: str | None, last: str | None, business: str | None) -> str:
        rng = self.rng
        local = email_local(rng, first, last, business)
        base, n = local, 1
        while True:
            address = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
            if address not in self.emails:
                self.emails.add(address)
                return address
            n += 1
            local = f"{base}{n}"

    def address(self, city: tuple[str, str, str, tuple[str, ...]], business: bool) -> tuple[str, ...]:
        street = f"{self.rng.randint(10, 9899)} {self.rng.choice(STREETS)}"
        if business and self.rng.random() < 0.4:
            street += f", Suite {self.rng.randint(1, 30) * 10}"
        name, state, prefix, _ = city
        return (street, name, state, f"{prefix}{self.rng.randint(1, 99):02d}", "US")

    def ip(self) -> str:
        if self.rng.random() < 0.15:
            return f"2001:db8:{self.rng.randint(1, 0xFFFF):x}::{self.rng.randint(1, 0xFFFF):x}"
        net = self.rng.choice(("192.0.2", "198.51.100", "203.0.113"))  # documentation ranges
        return f"{net}.{self.rng.randint(1, 254)}"

    def note_body(self, first: str | None) -> tuple[str, int]:
        rng = self.rng
        self.note_seq += rng.randint(1, 40)
        values = {
            "first": first or "they",
            "product": rng.choice(PRODUCTS)[0],
            "budget": rng.choice(("$500 a month", "$2,000 a month", "$15k a year", "$40k a year")),
            "dm": rng.choice(("the CFO", "the founder", "their COO", "themselves")),
            "timeline": rng.choice(("this month", "before the end of the quarter", "after the summer")),
            "n": self.note_seq,
            "day": rng.choice(WEEKDAYS),
            "competitor": rng.choice(COMPETITORS),
            "discount": rng.choice((5, 10, 15)),
        }
        clean = clean_note(rng.choice(NOTES).format(**values))
        return clean.html, clean.text_length

    # -- one card ------------------------------------------------------------------------

    def card(self, created_at: datetime, rich: bool, target: int) -> _Card:
        return _CardPlanner(self, created_at, rich, target).plan()


class _CardPlanner:
    def __init__(self, planner: _Planner, created_at: datetime, rich: bool, target: int) -> None:
        self.p = planner
        self.rng = planner.rng
        self.now = planner.now
        self.card = _Card(created_at, rich)
        self.created = created_at
        self.rich = rich
        self.target = target if rich else 0
        self.mutations: list[_Mutation] = []
        self.deal_plans: list[_DealPlan] = []
        self.chains: dict[str, list[Any]] = {}
        self.tag_events: dict[str, int] = {}
        self.extra_owner_changes = 0
        self.plugin_failures = 0
        self.object_entries = 0

    # -- counting: every planned item becomes exactly one journey entry ---------------

    def planned(self) -> int:
        return (
            1
            + len(self.steps)
            + self.owner_changes()
            + sum(self.tag_events.values())
            + sum(len(chain) - 1 for chain in self.chains.values())
            + self.object_entries
            + sum(self.deal_entries(d) for d in self.deal_plans)
            + self.plugin_failures
        )

    def owner_changes(self) -> int:
        if not self.first_assignment:
            return 0
        return 1 + int(self.closer_at is not None) + self.extra_owner_changes

    @staticmethod
    def deal_entries(deal: _DealPlan) -> int:
        return len(deal.amounts) + int(deal.final_status != "OPEN" and not deal.added_closed)

    # -- the plan --------------------------------------------------------------------

    def plan(self) -> _Card:
        rng = self.rng
        self.identity()
        self.stage = self.final_stage()
        span_days = (self.now - self.created).total_seconds() / 86400
        if self.stage == "lost":
            self.end = self.created + timedelta(days=span_days * rng.uniform(0.2, 0.8))
        elif self.stage == 0 and not self.rich:
            self.end = min(self.created + timedelta(days=rng.uniform(1, 45)), self.now - timedelta(hours=1))
        else:
            self.end = self.now - timedelta(minutes=rng.uniform(5, 60 * 24 * (2 if self.rich else 10)))
        self.team = {job: rng.choice(self.p.by_job[job]) for job in ("setter", "closer", "rep")}
        self.steps = self.status_steps()
        self.step_times = self.p.times(len(self.steps), self.created + timedelta(minutes=10), self.end)
        self.reached = {}
        for (name, _), at in zip(self.steps, self.step_times, strict=True):
            self.reached.setdefault(name, at)
        self.first_assignment = self.rich or rng.random() < 0.85
        self.first_assigned_at = self.p.between(
            self.created + timedelta(minutes=5), self.created + timedelta(hours=8)
        )
        qualified = [s["name"] for s in self.p.funnel[2:]]
        reached_q = [self.reached[n] for n in qualified if n in self.reached]
        self.closer_at = (
            self.p.between(min(reached_q) - timedelta(hours=3), min(reached_q) - timedelta(minutes=10))
            if reached_q
            else None
        )
        if self.closer_at is not None and self.closer_at <= self.first_assigned_at:
            self.closer_at = self.first_assigned_at + timedelta(minutes=1)
        self.base_tags()
        self.base_calls()
        self.base_deals()
        for _ in range(self.rng.choice((0, 0, 1, 1, 2, 3))):
            self.add_note()
        while self.planned() < self.target:
            self.enrich()
        return self.realise()

    def final_stage(self) -> int | str:
        """The index in the funnel the card ends at, or "lost"."""
        top = len(self.p.funnel) - 1
        if self.rich:
            choices = [(top, 45), (top - 1, 25), ("lost", 15), (1, 15)]
        else:
            choices = [(0, 20), (1, 22), (top - 1, 20), (top, 23), ("lost", 15)]
        stage = self.p.weighted(choices)
        return 0 if stage == "lost" and self.p.lost is None else stage

    def status_steps(self) -> list[tuple[str, str | None]]:
        rng, funnel = self.rng, self.p.funnel
        last = rng.randint(0, max(0, len(funnel) - 2)) if self.stage == "lost" else self.stage
        assert isinstance(last, int)
        steps: list[tuple[str, str | None]] = []
        for index, status in enumerate(funnel[: last + 1]):
            subs = status.get("subStatuses") or []
            if subs:
                count = min(len(subs), rng.choice((1, 1, 2)))
                steps += [(status["name"], subs[i]) for i in sorted(rng.sample(range(len(subs)), count))]
            elif index > 0:
                steps.append((status["name"], None))
        if self.stage == "lost" and self.p.lost is not None:
            subs = self.p.lost.get("subStatuses") or [None]
            steps.append((self.p.lost["name"], rng.choice(subs)))
        return steps

    def identity(self) -> None:
        p, rng = self.p, self.rng
        business_only = rng.random() < 0.06
        first = last = None
        if not business_only:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        business = rng.choice(BUSINESSES) if business_only or rng.random() < 0.35 else None
        title = rng.choice(TITLES) if (business and rng.random() < 0.8) or rng.random() < 0.1 else None
        self.city = rng.choice(CITIES)
        area = rng.choice(self.city[3])
        email = p.email(first, last, business) if rng.random() < 0.95 else None
        phone = p.phone(area) if rng.random() < 0.9 or email is None else None
        final = {
            "email": email,
            "phone": phone,
            "business_name": business,
            "title": title,
            "contact_type": "Business" if business else rng.choice(("Individual", "Individual", None)),
            "secondary_email": p.email(first, last, business) if rng.random() < 0.15 else None,
            "secondary_phone": p.phone(rng.choice(self.city[3])) if rng.random() < 0.1 else None,
            "address": p.address(self.city, bool(business)) if rng.random() < 0.7 else None,
        }
        self.from_form = rng.random() < 0.6
        self.first, self.last = first, last
        # What was known when the card was created; the rest arrives through updates.
        known_at_creation = {
            "email": 0.95 if self.from_form else 0.7,
            "phone": 0.9 if self.from_form else 0.7,
            "business_name": 1.0 if business_only else 0.6,
            "title": 0.4,
            "contact_type": 0.8,
            "secondary_email": 0.0,
            "secondary_phone": 0.0,
            "address": 0.1 if self.from_form else 0.5,
        }
        for group, value in final.items():
            chain = [value] if value is None or rng.random() < known_at_creation[group] else [None, value]
            changed_since = rng.random() < (0.3 if self.rich else 0.05)
            if (
                value is not None
                and len(chain) == 1
                and group in ("email", "phone", "title")
                and changed_since
            ):
                chain = [self.other_value(group, value), value]
            self.chains[group] = chain
        if not any(self.chains[g][0] for g in ("email", "phone", "business_name")) and not first:
            self.chains["business_name"] = [business]
        self.ip = p.ip() if self.from_form else None

    def other_value(self, group: str, current: Any) -> Any:
        p, rng = self.p, self.rng
        while True:
            if group in ("email", "secondary_email"):
                value: Any = p.email(self.first, self.last, self.chains.get("business_name", [None])[-1])
            elif group in ("phone", "secondary_phone"):
                value = p.phone(rng.choice(self.city[3]))
            elif group == "title":
                value = rng.choice(TITLES)
            elif group == "contact_type":
                value = rng.choice(("Individual", "Business", "Partner"))
            elif group == "business_name":
                value = rng.choice(BUSINESSES)
            else:
                value = p.address(rng.choice(CITIES), rng.random() < 0.5)
            if value != current:
                return value

    def base_tags(self) -> None:
        rng = self.rng
        count = self.p.weighted([(0, 35), (1, 35), (2, 20), (3, 10)])
        for name in rng.sample(TAGS, count):
            self.tag_events[name] = 1 if rng.random() < 0.85 else 2

    # -- calls -----------------------------------------------------------------------

    def call_names(self, at: datetime) -> tuple[str, ...]:
        converted = [self.reached[s["name"]] for s in self.p.funnel[-1:] if s["name"] in self.reached]
        mid = [self.reached[s["name"]] for s in self.p.funnel[2:] if s["name"] in self.reached]
        if converted and at > converted[0]:
            return LATE_CALLS
        if mid and at > min(mid) - timedelta(days=2):
            return MID_CALLS
        return EARLY_CALLS

    def actor_for(self, at: datetime) -> _Actor:
        names = self.call_names(at)
        if names is EARLY_CALLS:
            return self.team["setter"] if self.rng.random() < 0.8 else self.team["rep"]
        return self.team["closer"] if self.rng.random() < 0.8 else self.team["rep"]

    def base_calls(self) -> None:
        rng = self.rng
        counts = {0: (0, 1), 1: (1, 1), "lost": (0, 1)}
        top = len(self.p.funnel) - 1
        low, high = counts.get(self.stage, (1, 3) if self.stage == top else (1, 2))
        if self.from_form and rng.random() < 0.7:
            self.add_call(self.created + timedelta(seconds=3), actor=SYSTEM, name="Discovery call")
            low, high = max(0, low - 1), max(0, high - 1)
        for _ in range(rng.randint(low, high)):
            self.add_call(self.p.between(self.created + timedelta(minutes=20), self.end))
        if self.stage != "lost" and rng.random() < (0.6 if self.rich else 0.3):
            booked = self.p.between(
                max(self.created, self.now - timedelta(days=7)), self.now - timedelta(minutes=5)
            )
            when = self.p.slot(self.now + timedelta(hours=rng.uniform(2, 24 * 14)))
            self.add_call(booked, when=when)

    def add_call(
        self,
        booked: datetime,
        *,
        actor: _Actor | None = None,
        name: str | None = None,
        when: datetime | None = None,
    ) -> None:
        p, rng, now = self.p, self.rng, self.now
        actor = actor or self.actor_for(booked)
        name = name or rng.choice(self.call_names(booked))
        duration = rng.choice((15, 30, 30, 30, 45, 60))
        scheduled = when or p.slot(booked + timedelta(hours=rng.uniform(2, 24 * 6)))
        row = _Row(self.card, {})
        entries = [
            _Entry(
                booked,
                JourneyKind.CALL_SCHEDULED,
                actor,
                f"{actor.name} booked {name} for {scheduled:%Y-%m-%d %H:%M} UTC",
                {"scheduledAt": [None, scheduled.isoformat()]},
                "Call",
                row,
            )
        ]
        last, reschedules = booked, 0
        while rng.random() < 0.15 and reschedules < 2 and min(scheduled, now) - last > timedelta(hours=2):
            at = p.between(last + timedelta(minutes=10), min(scheduled, now) - timedelta(hours=1))
            mover = self.actor_for(at)
            moved = p.slot(scheduled + timedelta(hours=rng.uniform(20, 24 * 5)))
            entries.append(
                _Entry(
                    at,
                    JourneyKind.CALL_RESCHEDULED,
                    mover,
                    f"{mover.name} moved {name} to {moved:%Y-%m-%d %H:%M} UTC",
                    {"scheduledAt": [scheduled.isoformat(), moved.isoformat()]},
                    "Call",
                    row,
                )
            )
            scheduled, last, reschedules = moved, at, reschedules + 1
        fields: dict[str, Any] = {
            "event_name": name,
            "scheduled_at": scheduled,
            "duration_minutes": duration,
            "status": "SCHEDULED",
            "reschedule_count": reschedules,
            "booked_by_id": actor.user_id,
            "created_at": booked,
        }
        if rng.random() < 0.08 and min(scheduled, now) - last > timedelta(minutes=40):
            at = p.between(last + timedelta(minutes=5), min(scheduled, now) - timedelta(minutes=30))
            who = self.actor_for(at)
            why = rng.choice(CANCEL_REASONS)
            entries.append(
                _Entry(
                    at,
                    JourneyKind.CALL_CANCELLED,
                    who,
                    f"{who.name} cancelled {name}" + (f": {why}" if why else ""),
                    {"status": ["SCHEDULED", "CANCELLED"], "cancelReason": [None, why]},
                    "Call",
                    row,
                )
            )
            fields.update(status="CANCELLED", cancel_reason=why, cancelled_at=at)
            last = at
        else:
            ended = scheduled + timedelta(minutes=duration)
            outcome_at = ended + timedelta(minutes=rng.uniform(2, 180))
            if outcome_at < now - timedelta(minutes=1) and rng.random() < 0.93:
                outcome = p.weighted(OUTCOMES)
                changes: dict[str, list[Any]] = {"outcome": [None, outcome]}
                if outcome in ("SPOKE", "CALLED", "WON", "FOLLOW_UP_NEEDED") and rng.random() < 0.5:
                    url = f"https://recordings.example.com/calls/{rng.getrandbits(64):016x}.mp3"
                    changes["recordingUrl"] = [None, url]
                    fields["recording_url"] = url
                who = (
                    self.team["closer"]
                    if name in MID_CALLS
                    else actor
                    if actor.user_id
                    else self.team["setter"]
                )
                entries.append(
                    _Entry(
                        outcome_at,
                        JourneyKind.CALL_OUTCOME_SET,
                        who,
                        f"{who.name} marked {name} as {outcome.replace('_', ' ').lower()}",
                        changes,
                        "Call",
                        row,
                    )
                )
                fields.update(outcome=outcome, outcome_at=outcome_at)
                last = outcome_at
        fields["updated_at"] = last
        row.fields = fields
        self.card.calls.append(row)
        self.card.entries += entries
        self.object_entries += len(entries)

    # -- deals -----------------------------------------------------------------------

    def new_deal(self, added_at: datetime, final_status: str, closed_at: datetime | None) -> _DealPlan:
        rng = self.rng
        product = rng.choice(PRODUCTS)
        currency = self.p.weighted([("USD", 85), ("EUR", 10), ("GBP", 5)])
        amount = Decimal(rng.choice(product[3])).quantize(Decimal("0.01"))
        added_closed = closed_at is not None and rng.random() < 0.3
        if added_closed:
            added_at = closed_at  # type: ignore[assignment]
        plan = _DealPlan(
            product, currency, [amount], added_at, final_status, closed_at, added_closed, self.team["closer"]
        )
        self.deal_plans.append(plan)
        return plan

    def base_deals(self) -> None:
        rng = self.rng
        top = len(self.p.funnel) - 1
        mid = [self.reached[s["name"]] for s in self.p.funnel[2:] if s["name"] in self.reached]
        start = min(mid) if mid else self.created + timedelta(hours=1)
        earliest = self.created + timedelta(minutes=2)

        def before(until: datetime) -> datetime:
            """When a deal closed at `until` was added: after the card qualified if there was time."""
            return self.p.between(min(max(start, earliest), until - timedelta(minutes=1)), until)

        if self.stage == top:
            converted = self.reached[self.p.funnel[top]["name"]]
            won = max(converted - timedelta(minutes=rng.uniform(1, 30)), earliest + timedelta(minutes=1))
            self.new_deal(before(won), "WON", won)
            if rng.random() < 0.25:
                self.new_deal(self.p.between(converted, self.end), "OPEN", None)
        elif self.stage == "lost" and mid and rng.random() < 0.5:
            lost_at = self.step_times[-1] - timedelta(minutes=rng.uniform(1, 60))
            lost_at = max(lost_at, earliest + timedelta(minutes=1))
            self.new_deal(before(lost_at), "LOST", lost_at)
        elif self.stage == top - 1 and rng.random() < 0.5:
            self.new_deal(self.p.between(start, self.end), "OPEN", None)

    # -- notes -----------------------------------------------------------------------

    def add_note(self) -> None:
        rng = self.rng
        at = self.p.between(self.created + timedelta(minutes=15), self.end)
        author = self.actor_for(at)
        body, length = self.p.note_body(self.first)
        row = _Row(
            self.card,
            {
                "body": body,
                "text_length": length,
                "author_id": author.user_id,
                "author_kind": author.kind,
                "author_name": author.name,
                "created_at": at,
            },
        )
        entries = [
            _Entry(
                at,
                JourneyKind.NOTE_ADDED,
                author,
                f"{author.name} posted a note: {_excerpt(body)}",
                {"body": [None, body]},
                "Note",
                row,
            )
        ]
        last = at
        if rng.random() < 0.12:
            last = self.p.between(at + timedelta(minutes=2), max(self.end, at + timedelta(hours=1)))
            last = min(last, self.now - timedelta(minutes=1))
            addition = rng.choice(NOTE_EDITS).format(
                day=rng.choice(WEEKDAYS), dm=rng.choice(("the CFO", "the founder"))
            )
            clean = clean_note(body + addition)
            edited, length = clean.html, clean.text_length
            entries.append(
                _Entry(
                    last,
                    JourneyKind.NOTE_EDITED,
                    author,
                    f"{author.name} edited a note: {_excerpt(edited)}",
                    {"body": [body, edited]},
                    "Note",
                    row,
                )
            )
            row.fields.update(body=edited, text_length=length)
            body = edited
        row.fields["updated_at"] = last
        if rng.random() < 0.06:
            at = min(self.p.between(last + timedelta(minutes=1), last + timedelta(days=3)), self.now)
            who = author if rng.random() < 0.7 else rng.choice(self.p.bosses)
            entries.append(
                _Entry(
                    at,
                    JourneyKind.NOTE_DELETED,
                    who,
                    f"{who.name} deleted a note: {_excerpt(body)}",
                    {"body": [body, None]},
                    "Note",
                    row,
                )
            )
            self.card.deleted_notes.append(row)
        self.card.notes.append(row)
        self.card.entries += entries
        self.object_entries += len(entries)

    # -- rich cards: more of everything until the journey is long ---------------------

    def enrich(self) -> None:
        rng = self.rng
        what = self.p.weighted(
            [("call", 30), ("note", 20), ("revision", 8), ("deal", 4), ("tag", 10), ("identity", 10),
             ("owner", 6), ("wobble", 8), ("plugin", 2)]
        )  # fmt: skip
        if what == "call":
            self.add_call(self.p.between(self.created + timedelta(minutes=20), self.end))
        elif what == "note":
            self.add_note()
        elif what == "revision" and self.deal_plans:
            deal = rng.choice(self.deal_plans)
            if len(deal.amounts) < 4 and not deal.added_closed:
                options = [a for a in deal.product[3] if Decimal(a) != deal.amounts[-1]]
                deal.amounts.append(Decimal(rng.choice(options)).quantize(Decimal("0.01")))
        elif what == "deal":
            added = self.p.between(self.created + timedelta(days=1), self.end)
            if rng.random() < 0.5:
                closed = self.p.between(added + timedelta(hours=2), max(self.end, added + timedelta(hours=3)))
                self.new_deal(
                    added, rng.choice(("WON", "LOST")), min(closed, self.now - timedelta(minutes=1))
                )
            else:
                self.new_deal(added, "OPEN", None)
        elif what == "tag":
            name = rng.choice(TAGS)
            if self.tag_events.get(name, 0) < 5:
                self.tag_events[name] = self.tag_events.get(name, 0) + (2 if name in self.tag_events else 1)
        elif what == "identity":
            group = rng.choice(
                ("title", "phone", "secondary_phone", "email", "secondary_email", "address", "contact_type")
            )
            chain = self.chains[group]
            if len(chain) < 5:
                if len(chain) == 1:
                    chain.append(chain[0])
                at = rng.randint(1, len(chain) - 1)
                neighbours = {chain[at - 1], chain[at]}
                value = self.other_value(group, chain[at])
                while value in neighbours:
                    value = self.other_value(group, value)
                chain.insert(at, value)
        elif what == "owner" and self.first_assignment:
            self.extra_owner_changes += 1
        elif what == "wobble":
            self.wobble()
        elif what == "plugin" and self.plugin_failures < 3:
            self.plugin_failures += 1

    def wobble(self) -> None:
        """A sub-status change within a stage: hot lead cools to warm, and so on."""
        subs_of = {s["name"]: s.get("subStatuses") or [] for s in self.p.statuses}
        options = [i for i, (name, _) in enumerate(self.steps) if len(subs_of[name]) >= 2]
        if not options:
            return
        i = self.rng.choice(options)
        name, sub = self.steps[i]
        following = self.steps[i + 1] if i + 1 < len(self.steps) else None
        taken = {sub} | ({following[1]} if following and following[0] == name else set())
        free = [s for s in subs_of[name] if s not in taken]
        if free:
            self.steps.insert(i + 1, (name, self.rng.choice(free)))
            # Keep the stage times: the new step lands between its neighbours.
            start = self.step_times[i]
            end = self.step_times[i + 1] if i + 1 < len(self.step_times) else self.end
            self.step_times.insert(i + 1, self.p.between(start, end))
            self.step_times[i + 1 :] = sorted(self.step_times[i + 1 :])

    # -- replay: the card's journey in time order, and the row it ends as -------------

    def realise(self) -> _Card:
        p, card = self.p, self.card
        lo, hi = self.created + timedelta(minutes=1), self.end
        for (name, sub), at in zip(self.steps, self.step_times, strict=True):
            self.mutations.append(_Mutation(at, "status", (name, sub)))
        self.owner_mutations()
        for tag, count in self.tag_events.items():
            for n, at in enumerate(p.times(count, lo, hi)):
                self.mutations.append(_Mutation(at, "tag", (tag, n % 2 == 0)))
        self.identity_mutations(lo, hi)
        for deal in self.deal_plans:
            self.realise_deal(deal)

        state: dict[str, Any] = {
            "first_name": self.first,
            "last_name": self.last,
            "ip_address": self.ip,
            "status": self.p.statuses[0]["name"],
            "sub_status": None,
            "converted_at": None,
            **dict.fromkeys(OWNER_FIELDS),
        }
        for group, chain in self.chains.items():
            state.update(self.group_columns(group, chain[0]))
        card.entries.insert(0, self.created_entry(state))
        updated_at = self.created
        for mutation in sorted(self.mutations, key=lambda m: m.at):
            entry = self.replay(mutation, state)
            card.entries.append(entry)
            if mutation.kind != "tag":
                updated_at = max(updated_at, mutation.at)
        self.add_plugin_failures()

        card.entries.sort(key=lambda e: e.at)
        for before, after in zip(card.entries, card.entries[1:], strict=False):
            if after.at <= before.at:  # equal times would leave id order ambiguous
                after.at = before.at + timedelta(milliseconds=1)
        card.columns = state
        card.updated_at = updated_at
        return card

    def identity_mutations(self, lo: datetime, hi: datetime) -> None:
        """Rich cards change one thing at a time; elsewhere a rep fills in the details in one or two edits."""
        p, rng = self.p, self.rng
        if self.rich or any(len(chain) > 2 for chain in self.chains.values()):
            for group, chain in self.chains.items():
                for value, at in zip(chain[1:], p.times(len(chain) - 1, lo, hi), strict=True):
                    self.mutations.append(_Mutation(at, "identity", [(group, value)]))
            return
        pending = [(group, chain[1]) for group, chain in self.chains.items() if len(chain) == 2]
        if not pending:
            return
        bundles: list[list[tuple[str, Any]]] = [[] for _ in range(min(len(pending), rng.choice((1, 1, 2))))]
        for i, update in enumerate(pending):
            bundles[i if i < len(bundles) else rng.randrange(len(bundles))].append(update)
        for bundle, at in zip(bundles, p.times(len(bundles), lo, hi), strict=True):
            self.mutations.append(_Mutation(at, "identity", bundle))

    @staticmethod
    def group_columns(group: str, value: Any) -> dict[str, Any]:
        columns = IDENTITY_GROUPS[group]
        if len(columns) == 1:
            return {columns[0]: value}
        return dict(zip(columns, value or (None,) * len(columns), strict=True))

    def created_entry(self, state: dict[str, Any]) -> _Entry:
        rng, card = self.rng, self.card
        if self.from_form:
            forms = [self.p.weighted(list(FORM_WEIGHTS.items()))]
            if forms[0] == "Discovery call booking" and rng.random() < 0.3:
                forms.append("Budget survey")
            for form in forms:
                for question, answers in FORMS[form]:
                    card.answers.append(
                        {
                            "form": form,
                            "question": question,
                            "answer": rng.choice(answers),
                            "answered_at": self.created,
                        }
                    )
            for _ in range(self.p.weighted([(0, 15), (1, 70), (2, 15)])):
                source, medium, campaigns, terms = rng.choice(UTM_SOURCES)
                card.utms.append(
                    {
                        "source": source,
                        "medium": medium,
                        "campaign": rng.choice(campaigns),
                        "term": rng.choice(terms) if terms else None,
                        "content": rng.choice(UTM_CONTENT),
                        "captured_at": self.created,
                    }
                )
            actor = SYSTEM
        else:
            actor = rng.choice([self.team["setter"], self.team["rep"], *self.p.bosses])
        identity = {k: state.get(k) for k in IDENTITY_FIELDS}
        changes: dict[str, list[Any]] = {
            IDENTITY_FIELDS[k]: [None, v] for k, v in identity.items() if v is not None
        }
        changes["status"] = [None, state["status"]]
        name = display_name(state["first_name"], state["last_name"], state["business_name"], state["email"])
        summary = f"{actor.name} created {name}"
        forms_used = sorted({a["form"] for a in card.answers})
        if forms_used:
            summary += f" from {', '.join(forms_used)}"
        return _Entry(self.created, JourneyKind.CONTACT_CREATED, actor, summary, changes)

    def replay(self, mutation: _Mutation, state: dict[str, Any]) -> _Entry:
        rng, at = self.rng, mutation.at
        if mutation.kind == "status":
            name, sub = mutation.value
            changes: dict[str, list[Any]] = {}
            if state["status"] != name:
                changes["status"] = [state["status"], name]
            if state["sub_status"] != sub:
                changes["subStatus"] = [state["sub_status"], sub]
            entry = next(s for s in self.p.statuses if s["name"] == name)
            state.update(status=name, sub_status=sub)
            if entry.get("converts") and state["converted_at"] is None:
                state["converted_at"] = at
                changes["convertedAt"] = [None, at.isoformat()]
            owner = state["closer_owner_id"] if entry not in self.p.funnel[:2] else None
            owner = owner or state["setter_owner_id"] or state["assigned_to_id"]
            actor = self.person(owner) if owner else self.team["setter"]
            label = name + (f" ({sub})" if sub else "")
            return _Entry(
                at, JourneyKind.STATUS_CHANGED, actor, f"{actor.name} set the status to {label}", changes
            )
        if mutation.kind == "owners":
            changes = {}
            for key, user_id in mutation.value.items():
                before = state[key]
                changes[OWNER_FIELDS[key]] = [self.p.names.get(before), self.p.names.get(user_id)]
                state[key] = user_id
            boss = rng.choice(self.p.bosses)
            summary = "; ".join(f"{f} → {after or 'nobody'}" for f, (_, after) in changes.items())
            return _Entry(
                at, JourneyKind.OWNER_CHANGED, boss, f"{boss.name} changed owners: {summary}", changes
            )
        if mutation.kind == "tag":
            tag, added = mutation.value
            actor = rng.choice([self.team["setter"], self.team["closer"], self.team["rep"]])
            if added:
                self.card.tags[tag] = at
                return _Entry(
                    at,
                    JourneyKind.TAG_ADDED,
                    actor,
                    f"{actor.name} tagged the contact {tag}",
                    {"tags": [None, tag]},
                    "Tag",
                    tag,
                )
            del self.card.tags[tag]
            return _Entry(
                at, JourneyKind.TAG_REMOVED, actor, f"{actor.name} removed the tag {tag}",
                {"tags": [tag, None]}, "Tag", tag,
            )  # fmt: skip
        changes = {}
        for group, value in mutation.value:
            for column, after in self.group_columns(group, value).items():
                if state[column] != after:
                    changes[IDENTITY_FIELDS[column]] = [state[column], after]
                state[column] = after
        actor = rng.choice([self.team["setter"], self.team["closer"], self.team["rep"]])
        return _Entry(
            at, JourneyKind.CONTACT_UPDATED, actor, f"{actor.name} changed {', '.join(changes)}", changes
        )

    def person(self, user_id: int) -> _Actor:
        return next(p for p in self.p.people if p.user_id == user_id)

    def owner_mutations(self) -> None:
        """Owners in time order: first a setter and a rep, a closer once qualified, then reassignments."""
        if not self.first_assignment:
            return
        p, rng = self.p, self.rng
        plan: list[tuple[datetime, str | None]] = [(self.first_assigned_at, "first")]
        if self.closer_at is not None:
            plan.append((self.closer_at, "closer"))
        plan += [(at, None) for at in p.times(self.extra_owner_changes, self.first_assigned_at, self.end)]
        current: dict[str, int | None] = dict.fromkeys(OWNER_FIELDS)
        for at, what in sorted(plan, key=lambda item: item[0]):
            if what == "first":
                change = {
                    "setter_owner_id": self.team["setter"].user_id,
                    "assigned_to_id": self.team["rep"].user_id,
                }
            elif what == "closer":
                change = {"closer_owner_id": self.team["closer"].user_id}
            else:
                key = rng.choice([k for k, v in current.items() if v is not None])
                pool = [u.user_id for u in p.by_job[OWNER_JOBS[key]] if u.user_id != current[key]]
                change = {key: rng.choice(pool)}
            current.update(change)
            self.mutations.append(_Mutation(at, "owners", change))

    def realise_deal(self, deal: _DealPlan) -> None:
        p, rng = self.p, self.rng
        name, payment_type, recurring, _ = deal.product
        row = _Row(self.card, {})
        actor = deal.actor
        status = deal.final_status if deal.added_closed else "OPEN"
        first = deal.amounts[0]
        added = _Entry(
            deal.added_at,
            JourneyKind.DEAL_ADDED,
            actor,
            f"{actor.name} added a deal: {name}, {_money(first, deal.currency)} ({status.lower()})",
            {
                "status": [None, status],
                "productName": [None, name],
                "amount": [None, str(first)],
                "currency": [None, deal.currency],
                "paymentType": [None, payment_type],
                "recurring": [None, recurring],
            },
            "Deal",
            row,
        )
        entries = [added]
        until = deal.closed_at or self.end
        revisions = p.times(len(deal.amounts) - 1, deal.added_at, max(until, deal.added_at))
        for before, after, at in zip(deal.amounts[:-1], deal.amounts[1:], revisions, strict=True):
            who = rng.choice((actor, actor, self.team["closer"], *p.bosses))
            entries.append(
                _Entry(
                    at,
                    JourneyKind.DEAL_UPDATED,
                    who,
                    f"{who.name} updated the deal {name}: amount",
                    {"amount": [str(before), str(after)]},
                    "Deal",
                    row,
                )
            )
        if deal.final_status != "OPEN" and not deal.added_closed:
            assert deal.closed_at is not None
            entries.append(
                _Entry(
                    deal.closed_at,
                    JourneyKind.DEAL_UPDATED,
                    actor,
                    f"{actor.name} updated the deal {name}: status",
                    {"status": ["OPEN", deal.final_status]},
                    "Deal",
                    row,
                )
            )
        row.fields = {
            "product_name": name,
            "amount": deal.amounts[-1],
            "currency": deal.currency,
            "payment_type": payment_type,
            "status": deal.final_status,
            "recurring": recurring,
            "closed_at": deal.closed_at,
            "created_by_id": actor.user_id,
            "created_at": deal.added_at,
            "updated_at": max(e.at for e in entries),
        }
        self.card.deals.append(row)
        self.card.entries += entries

    def add_plugin_failures(self) -> None:
        hooked = [
            e for e in self.card.entries if e.kind in HOOK_FOR_KIND and e.at < self.now - timedelta(minutes=5)
        ]
        for entry in self.rng.sample(hooked, min(self.plugin_failures, len(hooked))):
            hook = HOOK_FOR_KIND[entry.kind]
            error = self.rng.choice(DELIVERY_ERRORS)
            self.card.entries.append(
                _Entry(
                    entry.at + timedelta(seconds=self.rng.uniform(1, 20)),
                    JourneyKind.PLUGIN_DELIVERY_FAILED,
                    WEBHOOKS,
                    f"plugin {WEBHOOKS.name} failed on {hook} (attempt 1 of 8), retrying in 2s: {error}",
                )
            )


# --------------------------------------------------------------------------------------
# Writing it
# --------------------------------------------------------------------------------------


async def _seed(contacts: int, rich: int, seed: int) -> None:
    rng = random.Random(seed)
    now = utcnow()
    async with in_transaction() as conn:
        admin = (await create_account(DEMO_ACCOUNT, ADMIN[1], ADMIN[0])).user
        people = [_Actor(ActorKind.USER.value, admin.name, admin.id, "admin")]
        for name, email, role, job in TEAM:
            user = (await create_user(DEMO_ACCOUNT, name, email, role.value)).user
            people.append(_Actor(ActorKind.USER.value, user.name, user.id, job))
        account = await Account.get(id=admin.account_id).using_db(conn)  # type: ignore[attr-defined]
        opened = now - timedelta(days=HISTORY_DAYS + 20)
        # The demo's numbers are American: its region says so (viewer.account.region).
        await Account.filter(id=account.id).using_db(conn).update(created_at=opened, region="US")
        for n, person in enumerate(people):
            await User.filter(id=person.user_id).using_db(conn).update(created_at=opened + timedelta(hours=n))
            await (
                ApiKey.filter(user_id=person.user_id)
                .using_db(conn)
                .update(
                    # Not from rng: the cards' random stream stays what it was.
                    created_at=opened + timedelta(hours=n),
                    last_used_at=now - timedelta(hours=7 * n + 2),
                )
            )
        await _seed_keys(conn, people, opened, now)

        planner = _Planner(rng, now, people, account.statuses)
        cards = _plan_cards(planner, contacts, rich)
        await _write(conn, account.id, cards, opened + timedelta(days=1))
        await seed_conversions(conn, account.id, now)
        await seed_leads(conn, account.id, now)
        await seed_lifecycle(conn, account.id, now)
        await seed_merges(conn, account.id, now)
        await seed_profiles(conn, account.id, now)
        await seed_communications(conn, account.id, now)
        await seed_billing(conn, account.id, now)
        await seed_attachments(conn, account.id, now)
        await seed_recordings(conn, account.id, now)  # after the files: it shares their storage
        await seed_custom_fields(conn, account.id, now)
        await seed_referrals(conn, account.id, now)
        await seed_tasks(conn, account.id, now)
        # Saved views and segments; before the bulk actions, which may use them (dossier/demo_segments.py).
        await seed_segments(conn, account.id, now)
        # After the cards: the import fills one of them (dossier/demo_imports.py).
        await seed_imports(conn, account.id, now)
        # Last: the inbox points at the tasks and calls seeded above (dossier/demo_notifications.py).
        await seed_notifications(conn, account.id, now)
        # After every section: the exports read them all (dossier/demo_exports.py).
        await seed_exports(conn, account.id, now)
        # Last: a finished bulk tagging (its journey entries are the newest) and a bulk SMS's dry
        # run (dossier/demo_bulk.py).
        await seed_bulk(conn, account.id, now)


async def _seed_keys(
    conn: BaseDBAsyncClient, people: Sequence[_Actor], opened: datetime, now: datetime
) -> None:
    """Keys as a real account has them after a while (what `apiKeys` lists): an integration
    key in daily use, and a laptop's key revoked when the laptop was replaced. Their secrets
    are random and thrown away: nobody can use them."""
    admin, rep = people[0], people[-1]
    for person, label, created, used, revoked in (
        (admin, "Zapier integration", opened + timedelta(days=30), now - timedelta(minutes=25), None),
        (rep, "old laptop", opened + timedelta(days=60), now - timedelta(days=41), now - timedelta(days=40)),
    ):
        secret = "dsk_" + secrets.token_urlsafe(32)
        await ApiKey.create(
            user_id=person.user_id, key_hash=hash_key(secret), prefix=secret[:12], label=label,
            last_used_at=used, revoked_at=revoked, using_db=conn,
        )  # fmt: skip
        await ApiKey.filter(key_hash=hash_key(secret)).using_db(conn).update(created_at=created)


def _plan_cards(planner: _Planner, contacts: int, rich: int) -> list[_Card]:
    """Cards in the order they were created. The newest few are rich so the first page shows them."""
    rng, now = planner.rng, planner.now
    # No new contacts in the last three weeks: the newest cards have had time to grow a history.
    created = planner.times(contacts, now - timedelta(days=HISTORY_DAYS), now - timedelta(days=21))
    rich = min(rich, contacts)
    newest = set(range(contacts - min(3, rich), contacts))
    older = [i for i in range(contacts) if i not in newest and created[i] < now - timedelta(days=60)]
    chosen = newest | set(rng.sample(older, min(len(older), rich - len(newest))))
    cards = []
    for i, at in enumerate(created):
        is_rich = i in chosen
        target = rng.randint(100, 115) if i in newest else rng.randint(100, 170)
        cards.append(planner.card(at, is_rich, target))
    return cards


BATCH = 2000


async def _write(
    conn: BaseDBAsyncClient, account_id: int, cards: list[_Card], tags_created: datetime
) -> None:
    tag_names = sorted(
        {tag for card in cards for e in card.entries if e.subject_type == "Tag" for tag in [e.subject]}
    )
    await Tag.bulk_create(
        [Tag(account_id=account_id, name=n, key=n.casefold(), created_at=tags_created) for n in tag_names],
        using_db=conn,
    )
    tag_ids = {
        r["name"]: r["id"]
        for r in await Tag.filter(account_id=account_id).using_db(conn).values("id", "name")
    }

    await Contact.bulk_create(
        [Contact(account_id=account_id, created_at=c.created_at, **c.columns) for c in cards],
        batch_size=BATCH,
        using_db=conn,
    )
    ids = (
        await Contact.filter(account_id=account_id).using_db(conn).order_by("id").values_list("id", flat=True)
    )
    assert len(ids) == len(cards), "the demo account already had contacts"
    for card, contact_id in zip(cards, ids, strict=True):
        card.id = contact_id

    for model, rows in (
        (Call, [r for c in cards for r in c.calls]),
        (Deal, [r for c in cards for r in c.deals]),
        (Note, [r for c in cards for r in c.notes]),
    ):
        await _insert_rows(conn, model, account_id, rows)

    await ContactTag.bulk_create(
        [
            ContactTag(contact_id=c.id, tag_id=tag_ids[name], created_at=at)
            for c in cards
            for name, at in sorted(c.tags.items())
        ],
        batch_size=BATCH,
        using_db=conn,
    )
    await Utm.bulk_create(
        [Utm(contact_id=c.id, **u) for c in cards for u in c.utms], batch_size=BATCH, using_db=conn
    )
    await FormAnswer.bulk_create(
        [FormAnswer(contact_id=c.id, **a) for c in cards for a in c.answers], batch_size=BATCH, using_db=conn
    )

    # Journey rows in time order, so that id order is time order (the API pages by id).
    timeline = sorted(
        ((e, c) for c in cards for e in c.entries), key=lambda pair: (pair[0].at, pair[1].id or 0)
    )
    await JourneyEvent.bulk_create(
        [
            JourneyEvent(
                account_id=account_id,
                contact_id=card.id,
                kind=e.kind.value,
                occurred_at=e.at,
                actor_kind=e.actor.kind,
                actor_user_id=e.actor.user_id,
                actor_name=e.actor.name[:120],
                summary=e.summary[:500],
                changes=e.changes,
                subject_type=e.subject_type,
                subject_id=tag_ids[e.subject]
                if isinstance(e.subject, str)
                else e.subject.id
                if e.subject
                else None,
            )
            for e, card in timeline
        ],
        batch_size=BATCH,
        using_db=conn,
    )

    deleted = [r.id for c in cards for r in c.deleted_notes]
    if deleted:
        await Note.filter(id__in=deleted).using_db(conn).delete()
    # `auto_now` stamps updated_at with the time of the insert; put back when each row last changed.
    await _set_updated_at(conn, "contact", [(c.updated_at, c.id) for c in cards])
    for table, rows in (
        ("call", [r for c in cards for r in c.calls]),
        ("deal", [r for c in cards for r in c.deals]),
        ("note", [r for c in cards for r in c.notes if r not in c.deleted_notes]),
    ):
        await _set_updated_at(conn, table, [(r.fields["updated_at"], r.id) for r in rows])


async def _insert_rows(
    conn: BaseDBAsyncClient, model: type[Model], account_id: int, rows: list[_Row]
) -> None:
    """Bulk insert, then learn the ids: one transaction inserts them in order, so ids ascend in order."""
    columns = {f for f in model._meta.fields_map if f not in ("updated_at",)}
    # Rows that carry their contact's account (deals) get it here.
    account = {"account_id": account_id} if "account_id" in columns else {}
    await model.bulk_create(
        [
            model(contact_id=r.card.id, **account, **{k: v for k, v in r.fields.items() if k in columns})
            for r in rows
        ],
        batch_size=BATCH,
        using_db=conn,
    )
    found = (
        await model.filter(contact__account_id=account_id)
        .using_db(conn)
        .order_by("id")
        .values_list("id", "contact_id")
    )
    assert [c for _, c in found] == [r.card.id for r in rows], f"{model.__name__} ids came back out of order"
    for row, (row_id, _) in zip(rows, found, strict=True):
        row.id = row_id


async def _set_updated_at(
    conn: BaseDBAsyncClient, table: str, values: list[tuple[datetime | None, int | None]]
) -> None:
    if not values:
        return
    marks = ("$1", "$2") if conn.capabilities.dialect == "postgres" else ("?", "?")
    sql = f'UPDATE "{table}" SET updated_at = {marks[0]} WHERE id = {marks[1]}'
    for start in range(0, len(values), BATCH):
        await conn.execute_many(sql, [list(v) for v in values[start : start + BATCH]])
