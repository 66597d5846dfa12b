"""A million contacts: bulk-load PostgreSQL with realistic cards, then measure the card and search at scale.

    python bench/seed_scale.py [--contacts 1000000] [--events 10000000] [--database dossier_scale]
                               [--measure] [--explain bench/scale_explain.txt] [--reuse] [--drop]

Seeding: a fresh database is created and migrated with the app's own migrations, then
`bench/seed.py` writes its account, users, API key and one rich card through the ORM, and the
other contacts with their journeys, calls, deals, notes, messages, tags, UTMs and form answers
are streamed in with COPY (asyncpg `copy_records_to_table`), a chunk of contacts at a time. A
generator process draws the rows while this process copies the previous chunk. Secondary
indexes are dropped for the load and rebuilt after it; the contacts' roll-ups (migration 0024) are
computed once; sequences are reset; VACUUM ANALYZE.

`--measure` also seeds a 10,000-contact database (`<database>_10k`, 100,000 events) with the
same code and measures both over HTTP side by side, one request at a time: the rich card
(bench/card.py's CARD_QUERY), `contacts(first: 50)` and a few `contacts(search:, first: 50)`.
`--explain FILE` writes EXPLAIN (ANALYZE, BUFFERS) of every SQL statement those requests run on
the large database. Not a test: it asserts nothing about time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/seed_scale.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import orjson  # noqa: E402
from strawberry.relay import to_base64  # noqa: E402
from tqdm import tqdm  # noqa: E402

from bench.card import CARD_QUERY  # noqa: E402
from bench.load import percentile  # noqa: E402
from bench.seed import seed  # noqa: E402
from bench.server import PG_SERVER, ServerProcess, pg_admin, serve  # noqa: E402
from crm.db import close_database, open_database  # noqa: E402
from crm.journey import JourneyKind as K  # noqa: E402
from crm.models import Contact, User  # noqa: E402
from crm.richtext import clean_note, visible_text  # noqa: E402
from crm.services.accounts import create_user, issue_api_key  # noqa: E402
from crm.uow import display_name  # noqa: E402
from dossier import Settings, create_app  # noqa: E402
from dossier.demo import (  # noqa: E402
    BUSINESSES,
    CANCEL_REASONS,
    CITIES,
    COMPETITORS,
    EARLY_CALLS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    FORMS,
    LAST_NAMES,
    LATE_CALLS,
    MID_CALLS,
    NOTE_EDITS,
    NOTES,
    OUTCOMES,
    PRODUCTS,
    STREETS,
    TAGS,
    TEAM,
    TITLES,
    UTM_CONTENT,
    UTM_SOURCES,
    WEEKDAYS,
    ascii_slug,
    email_local,
)

ACCOUNT = "Bench Co"  # bench/seed.py's account
SMS_NUMBER = "+14155550100"
HISTORY = timedelta(days=3 * 365)
CHUNK = 5_000  # contacts per COPY round: ~50k journey rows, a few MB in flight
SEED = 20250101

# Tables in load order, with the columns each record holds (in that order).
COLUMNS: dict[str, tuple[str, ...]] = {
    "contact": (
        "id", "account_id", "first_name", "last_name", "business_name", "title", "contact_type",
        "email", "secondary_email", "phone", "secondary_phone", "street", "city", "state", "zip",
        "country", "ip_address", "status", "sub_status", "converted_at", "ok_to_sms",
        "sms_blocked_reason", "phone_line_type", "phone_checked_at", "setter_owner_id",
        "closer_owner_id", "assigned_to_id", "lead_source", "action_plan", "sales_cycle",
        "privacy_opt_in", "communication_opt_in", "archived_at", "created_at", "updated_at",
    ),
    "call": (
        "id", "contact_id", "event_name", "scheduled_at", "duration_minutes", "status", "outcome",
        "outcome_at", "recording_url", "cancel_reason", "cancelled_at", "reschedule_count",
        "booked_by_id", "created_at", "updated_at",
    ),
    "deal": (
        "id", "contact_id", "product_name", "amount", "currency", "payment_type", "status",
        "recurring", "closed_at", "created_by_id", "created_at", "updated_at", "account_id",
    ),
    "note": ("id", "contact_id", "body", "text_length", "author_id", "created_at", "updated_at"),
    "message": (
        "id", "contact_id", "channel", "direction", "status", "to_address", "from_address", "subject",
        "body", "provider_id", "error_code", "error_message", "author_id", "created_at", "updated_at",
        "sent_at", "delivered_at",
    ),
    "utm": ("id", "contact_id", "source", "medium", "campaign", "term", "content", "captured_at"),
    "form_answer": ("id", "contact_id", "form", "question", "answer", "answered_at"),
    "contact_tag": ("id", "contact_id", "tag_id", "created_at"),
    "journey_event": (
        "occurred_at", "account_id", "contact_id", "kind", "actor_kind", "actor_user_id",
        "actor_name", "summary", "changes", "subject_type", "subject_id", "id",
    ),
}  # fmt: skip
SERIAL_TABLES = (*COLUMNS, "app_user", "api_key", "tag", "account")

# What happens on a card after it is created, and how often (relative weights). Each draw
# writes one or two journey entries, in the services' wording.
ACTIVITY: tuple[tuple[str, int], ...] = (
    ("status", 20), ("owner", 4), ("update", 5), ("tag", 6), ("untag", 1),
    ("book", 12), ("outcome", 9), ("reschedule", 2), ("cancel", 1),
    ("note", 11), ("edit_note", 2), ("deal", 3), ("close_deal", 2),
    ("sms", 9), ("sms_in", 4), ("email", 5), ("consent", 1), ("phone_check", 1), ("plugin_failed", 1),
)  # fmt: skip
FUNNEL = (
    ("lead", "working"), ("contacted", "attempted"), ("contacted", "connected"),
    ("contacted", "follow up"), ("qualified", None), ("customer", None),
)  # fmt: skip
QUALIFIED_SUBS = ("hot", "warm", "cold")
LOST_SUBS = ("not interested", "no budget", "unreachable", "duplicate")
SMS_BODIES = (
    "Hi {first}, just confirming our call tomorrow at 10am. Reply YES to confirm.",
    "Thanks for your time today, {first}! I've sent the proposal to your inbox.",
    "Hi {first}, quick reminder: your demo starts in 1 hour. Link in your email.",
    "Hey {first}, are you still interested in the {product}? Happy to answer questions.",
    "Following up on the quote, {first}. Let me know if anything is unclear.",
)
SMS_REPLIES = (
    "Yes, works for me", "Can we do Thursday instead?", "Thanks! Will review tonight",
    "Please call me after 3pm", "Got it", "Who is this?", "Sounds good, see you then",
)  # fmt: skip
EMAIL_SUBJECTS = (
    "Your proposal from {company}", "Next steps after our call", "Your demo recording",
    "Invoice for {product}", "Checking in", "Welcome aboard!",
)  # fmt: skip
FORM_NAMES = tuple(FORMS)
# The header lists' defaults (crm/services/header.py) and the share of archived cards.
LEAD_SOURCES = ("Website", "Referral", "Phone", "Walk-in", "Social", "Advertising", "Other")
ACTION_PLANS = ("New lead follow-up", "Nurture", "Appointment reminder", "Post-sale follow-up", "Win back")
SALES_CYCLES = ("Prospecting", "Qualification", "Proposal", "Negotiation", "Closing", "Follow-up")
ARCHIVED_SHARE = 0.03
ARCHIVED_AT = COLUMNS["contact"].index("archived_at")


def _excerpt(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


# --------------------------------------------------------------------------------------
# Drawing the rows (in the generator process)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str


@dataclass(frozen=True)
class Plan:
    """Everything the generator needs: sizes, where ids start, the account's people and tags."""

    contacts: int  # bulk contacts to draw (the rich card is already in)
    events: int  # bulk journey entries to draw
    account_id: int
    people: tuple[Person, ...]
    tags: tuple[tuple[int, str], ...]  # (tag id, name)
    first_ids: dict[str, int]  # table -> first id the bulk rows take
    now: datetime
    seed: int = SEED


@dataclass
class Chunk:
    rows: dict[str, list[Any]] = field(default_factory=lambda: {t: [] for t in COLUMNS})
    contacts: int = 0


@dataclass(frozen=True)
class NoteText:
    """A sanitised note and the same note after one edit, with their excerpts for summaries."""

    body: str
    length: int
    excerpt: str
    edited: str
    edited_length: int
    edited_excerpt: str


@dataclass
class _CallState:
    row: list[Any]
    name: str


@dataclass
class _Card:
    """One contact while its history is drawn: the row's end state and its open items."""

    id: int
    row: list[Any]
    first: str | None
    phone: str | None
    email: str | None
    step: int = -1  # index into FUNNEL; -1 = new lead
    lost: bool = False
    calls: list[_CallState] = field(default_factory=list)
    notes: list[tuple[list[Any], NoteText]] = field(default_factory=list)
    open_deals: list[list[Any]] = field(default_factory=list)
    tags: dict[int, list[Any]] = field(default_factory=dict)  # tag id -> contact_tag row


class Generator:
    """Draws chunks of contacts and everything on their cards from one seeded generator."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.extra = random.Random(plan.seed + 1)  # columns added for the filters (issue 14)
        self.ids = dict(plan.first_ids)
        self.people = plan.people
        self.system = ("SYSTEM", None, "Dossier")
        # Rendering and sanitising note HTML is the slow part of a note: draw from a pool.
        self.note_pool = [self._note_body() for _ in range(400)]
        self.kinds = [k for k, _ in ACTIVITY]
        self.weights = [w for _, w in ACTIVITY]

    def next_id(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    def chunks(self) -> Iterator[Chunk]:
        plan, rng = self.plan, self.rng
        done_contacts = done_events = 0
        while done_contacts < plan.contacts:
            count = min(CHUNK, plan.contacts - done_contacts)
            target = round(plan.events * (done_contacts + count) / plan.contacts) - done_events
            counts = self._event_counts(count, target)
            chunk = Chunk(contacts=count)
            for i, n in enumerate(counts):
                index = done_contacts + i
                created = plan.now - HISTORY * (1 - (index + rng.random()) / plan.contacts)
                self._card(chunk, created, n)
            # Journey ids follow time within the chunk, so a card's entries are in id order.
            events = chunk.rows["journey_event"]
            events.sort(key=lambda e: e[0])
            for e in events:
                e[-1] = self.next_id("journey_event")
            done_contacts += count
            done_events += target
            yield chunk

    def _event_counts(self, count: int, total: int) -> list[int]:
        """Entries per card: most cards have a few, some have dozens; the chunk sums to `total`."""
        mean = max(total / count - 1, 0.0)
        rng = self.rng
        counts = [1 + int(rng.expovariate(1 / mean)) if mean > 0 else 1 for _ in range(count)]
        diff = total - sum(counts)
        while diff:
            j = rng.randrange(count)
            if diff > 0:
                counts[j] += 1
                diff -= 1
            elif counts[j] > 1:
                counts[j] -= 1
                diff += 1
        return counts

    # -- one card ------------------------------------------------------------------------

    def _person(self) -> Person:
        return self.rng.choice(self.people)

    def _phone(self, area: str) -> str:
        rng = self.rng
        exchange = rng.randint(200, 999)
        if exchange % 100 == 11:  # N11 codes are not exchanges
            exchange += 1
        return f"+1{area}{exchange}{rng.randint(0, 9999):04d}"

    def _email(self, first: str | None, last: str | None, business: str | None) -> str:
        rng = self.rng
        local = email_local(rng, first, last, business)
        if rng.random() < 0.7:
            local += str(rng.randint(1, 9999))
        if business and rng.random() < 0.5:
            return f"{local}@{ascii_slug(business)[:20]}.example.com"
        return f"{local}@{rng.choice(EMAIL_DOMAINS)}"

    def _note_body(self) -> NoteText:
        rng = self.rng
        values = {
            "first": rng.choice(FIRST_NAMES),
            "product": rng.choice(PRODUCTS)[0],
            "budget": rng.choice(("$500 a month", "$2,000 a month", "$15k a year", "$40k a year")),
            "dm": rng.choice(("the CFO", "the founder", "their COO", "themselves")),
            "timeline": rng.choice(("this month", "before the end of the quarter", "after the summer")),
            "n": rng.randint(1000, 99999),
            "day": rng.choice(WEEKDAYS),
            "competitor": rng.choice(COMPETITORS),
            "discount": rng.choice((5, 10, 15)),
        }
        body = clean_note(rng.choice(NOTES).format(**values))
        addition = rng.choice(NOTE_EDITS).format(day=rng.choice(WEEKDAYS), dm="the CFO")
        edited = clean_note(body.html + addition)
        return NoteText(
            body.html, body.text_length, _excerpt(visible_text(body.html), 80),
            edited.html, edited.text_length, _excerpt(visible_text(edited.html), 80),
        )  # fmt: skip

    def _card(self, chunk: Chunk, created: datetime, n_events: int) -> None:
        rng, plan = self.rng, self.plan
        cid = self.next_id("contact")
        business_only = rng.random() < 0.06
        first = last = None
        if not business_only:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        business = rng.choice(BUSINESSES) if business_only or rng.random() < 0.3 else None
        title = rng.choice(TITLES) if (business and rng.random() < 0.8) or rng.random() < 0.1 else None
        city, state, zip_prefix, areas = rng.choice(CITIES)
        email = self._email(first, last, business) if rng.random() < 0.95 else None
        phone = self._phone(rng.choice(areas)) if rng.random() < 0.9 or email is None else None
        address = rng.random() < 0.7
        setter, rep = self._person(), self._person()
        owned = rng.random() < 0.85
        row: list[Any] = [
            cid, plan.account_id, first, last, business, title,
            "Business" if business else rng.choice(("Individual", "Individual", None)),
            email,
            self._email(first, last, business) if rng.random() < 0.1 else None,
            phone,
            self._phone(rng.choice(areas)) if rng.random() < 0.1 else None,
            f"{rng.randint(10, 9899)} {rng.choice(STREETS)}" if address else None,
            city if address else None,
            state if address else None,
            f"{zip_prefix}{rng.randint(1, 99):02d}" if address else None,
            "US" if address else None,
            f"203.0.113.{rng.randint(1, 254)}" if rng.random() < 0.5 else None,
            "lead", "new", None, False, None, None, None,
            setter.user_id if owned else None, None, rep.user_id if owned else None,
            *self._header(), created, created,
        ]  # fmt: skip
        card = _Card(cid, row, first, phone, email)
        chunk.rows["contact"].append(row)
        end = min(plan.now, created + timedelta(days=rng.uniform(2, 400)))
        span = (end - created).total_seconds()
        times = sorted(created + timedelta(seconds=span * rng.random()) for _ in range(n_events - 1))
        actor = self.system if rng.random() < 0.6 else self._user_actor()
        answers = self._form(chunk, card, created) if actor is self.system else None
        name = display_name(first, last, business, email)
        summary = f"{actor[2]} created {name}" + (f" from {answers}" if answers else "")
        changes = {
            k: [None, v]
            for k, v in (
                ("firstName", first),
                ("lastName", last),
                ("businessName", business),
                ("email", email),
            )
            if v is not None
        }
        changes["status"] = [None, "lead"]
        self._entry(chunk, card, created, K.CONTACT_CREATED, actor, summary, changes)
        if rng.random() < 0.6:
            self._utms(chunk, card, created)
        budget = n_events - 1
        for at in times:
            if budget <= 0:
                break
            budget -= self._activity(chunk, card, at, budget)
        row[-1] = max(row[-1], times[-1] if times else created)
        if self.extra.random() < ARCHIVED_SHARE:  # archived a while after its last change
            row[ARCHIVED_AT] = min(plan.now, row[-1] + timedelta(days=self.extra.uniform(1, 60)))
        chunk.rows["contact_tag"].extend(card.tags.values())  # tags still on the card at the end

    def _header(self) -> tuple[Any, ...]:
        """lead_source, action_plan, sales_cycle, the two opt-ins and archived_at (set later), from a
        generator of their own so the rest of the data stays what earlier seeds drew."""
        rng = self.extra
        return (
            rng.choice(LEAD_SOURCES) if rng.random() < 0.8 else None,
            rng.choice(ACTION_PLANS) if rng.random() < 0.4 else None,
            rng.choice(SALES_CYCLES) if rng.random() < 0.5 else None,
            rng.random() < 0.6,
            rng.random() < 0.4,
            None,
        )

    def _user_actor(self, person: Person | None = None) -> tuple[str, int | None, str]:
        person = person or self._person()
        return ("USER", person.user_id, person.name)

    def _entry(
        self,
        chunk: Chunk,
        card: _Card,
        at: datetime,
        kind: K,
        actor: tuple[str, int | None, str],
        summary: str,
        changes: dict[str, Any],
        subject_type: str | None = None,
        subject_id: int | None = None,
    ) -> None:
        chunk.rows["journey_event"].append(
            [at, self.plan.account_id, card.id, kind.value, actor[0], actor[1], actor[2],
             summary[:500], _json(changes), subject_type, subject_id, None]
        )  # fmt: skip

    def _form(self, chunk: Chunk, card: _Card, at: datetime) -> str:
        form = self.rng.choice(FORM_NAMES)
        for question, answers in FORMS[form]:
            chunk.rows["form_answer"].append(
                (self.next_id("form_answer"), card.id, form, question, self.rng.choice(answers), at)
            )
        return form

    def _utms(self, chunk: Chunk, card: _Card, at: datetime) -> None:
        rng = self.rng
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            source, medium, campaigns, terms = rng.choice(UTM_SOURCES)
            chunk.rows["utm"].append(
                (self.next_id("utm"), card.id, source, medium, rng.choice(campaigns),
                 rng.choice(terms) if terms else None, rng.choice(UTM_CONTENT),
                 at - timedelta(minutes=rng.uniform(1, 60 * 24 * 30)))
            )  # fmt: skip

    def _activity(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        """Draw one thing that happened on the card at `at`; returns how many entries it wrote."""
        kind = self.rng.choices(self.kinds, self.weights)[0]
        handler = getattr(self, f"_do_{kind}")
        written = handler(chunk, card, at, budget)
        if written:
            return written
        return self._do_note(chunk, card, at, budget)  # what a rep does when nothing else applies

    # -- activities: each writes the rows and the entries the services would -------------

    def _do_status(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        rng, row = self.rng, card.row
        if card.lost or card.step == len(FUNNEL) - 1:
            return 0
        before = (row[17], row[18])
        changes: dict[str, Any] = {}
        if card.step >= 1 and rng.random() < 0.1:
            after: tuple[str, str | None] = ("lost", rng.choice(LOST_SUBS))
            card.lost = True
        else:
            card.step += 1
            status, sub = FUNNEL[card.step]
            after = (status, rng.choice(QUALIFIED_SUBS) if status == "qualified" else sub)
            if status == "customer":
                row[19] = at
                changes["convertedAt"] = [None, at.isoformat()]
        if before[0] != after[0]:
            changes["status"] = [before[0], after[0]]
        if before[1] != after[1]:
            changes["subStatus"] = [before[1], after[1]]
        row[17], row[18] = after
        actor = self._user_actor()
        label = after[0] + (f" ({after[1]})" if after[1] else "")
        self._entry(
            chunk, card, at, K.STATUS_CHANGED, actor, f"{actor[2]} set the status to {label}", changes
        )
        return 1

    def _do_owner(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        row = card.row
        column, field_name = self.rng.choice(((24, "setterOwner"), (25, "closerOwner"), (26, "assignedTo")))
        names = {p.user_id: p.name for p in self.people}
        person = self._person()
        if row[column] == person.user_id:
            return 0
        change = {field_name: [names.get(row[column]), person.name]}
        row[column] = person.user_id
        boss = self._user_actor(self.people[0])
        summary = f"{boss[2]} changed owners: {field_name} → {person.name}"
        self._entry(chunk, card, at, K.OWNER_CHANGED, boss, summary, change)
        return 1

    def _do_update(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        row = card.row
        title = self.rng.choice(TITLES)
        if row[5] == title:
            return 0
        changes = {"title": [row[5], title]}
        row[5] = title
        actor = self._user_actor()
        self._entry(chunk, card, at, K.CONTACT_UPDATED, actor, f"{actor[2]} changed title", changes)
        return 1

    def _do_tag(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        tag_id, name = self.rng.choice(self.plan.tags)
        if tag_id in card.tags:
            return 0
        card.tags[tag_id] = [self.next_id("contact_tag"), card.id, tag_id, at]
        actor = self._user_actor()
        summary = f"{actor[2]} tagged the contact {name}"
        self._entry(chunk, card, at, K.TAG_ADDED, actor, summary, {"tags": [None, name]}, "Tag", tag_id)
        return 1

    def _do_untag(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        if not card.tags:
            return 0
        tag_id = self.rng.choice(list(card.tags))
        del card.tags[tag_id]
        name = dict(self.plan.tags)[tag_id]
        actor = self._user_actor()
        summary = f"{actor[2]} removed the tag {name}"
        self._entry(chunk, card, at, K.TAG_REMOVED, actor, summary, {"tags": [name, None]}, "Tag", tag_id)
        return 1

    def _do_book(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        rng = self.rng
        names = LATE_CALLS if card.row[17] == "customer" else MID_CALLS if card.step >= 3 else EARLY_CALLS
        name = rng.choice(names)
        when = (at + timedelta(hours=rng.uniform(2, 24 * 6))).replace(second=0, microsecond=0)
        when -= timedelta(minutes=when.minute % 15)
        actor = self._user_actor()
        call_id = self.next_id("call")
        row = [call_id, card.id, name, when, rng.choice((15, 30, 30, 45, 60)), "SCHEDULED", None, None,
               None, None, None, 0, actor[1], at, at]  # fmt: skip
        chunk.rows["call"].append(row)
        card.calls.append(_CallState(row, name))
        summary = f"{actor[2]} booked {name} for {when:%Y-%m-%d %H:%M} UTC"
        changes = {"scheduledAt": [None, when.isoformat()]}
        self._entry(chunk, card, at, K.CALL_SCHEDULED, actor, summary, changes, "Call", call_id)
        return 1

    def _pending_call(self, card: _Card, at: datetime, happened: bool) -> _CallState | None:
        for call in card.calls:
            row = call.row
            if row[5] == "SCHEDULED" and row[6] is None and (row[3] < at) == happened:
                return call
        return None

    def _do_outcome(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        call = self._pending_call(card, at, happened=True)
        if call is None:
            return self._do_book(chunk, card, at, budget)
        rng, row = self.rng, call.row
        outcome = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
        changes: dict[str, Any] = {"outcome": [None, outcome]}
        if outcome in ("SPOKE", "CALLED", "WON") and rng.random() < 0.5:
            row[8] = f"https://recordings.example.com/calls/{rng.getrandbits(64):016x}.mp3"
            changes["recordingUrl"] = [None, row[8]]
        row[6], row[7], row[14] = outcome, at, at
        actor = self._user_actor()
        summary = f"{actor[2]} marked {call.name} as {outcome.replace('_', ' ').lower()}"
        self._entry(chunk, card, at, K.CALL_OUTCOME_SET, actor, summary, changes, "Call", row[0])
        return 1

    def _do_reschedule(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        call = self._pending_call(card, at, happened=False)
        if call is None:
            return 0
        row = call.row
        moved = row[3] + timedelta(days=self.rng.randint(1, 7))
        changes = {"scheduledAt": [row[3].isoformat(), moved.isoformat()]}
        row[3], row[11], row[14] = moved, row[11] + 1, at
        actor = self._user_actor()
        summary = f"{actor[2]} moved {call.name} to {moved:%Y-%m-%d %H:%M} UTC"
        self._entry(chunk, card, at, K.CALL_RESCHEDULED, actor, summary, changes, "Call", row[0])
        return 1

    def _do_cancel(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        call = self._pending_call(card, at, happened=False)
        if call is None:
            return 0
        row = call.row
        why = self.rng.choice(CANCEL_REASONS)
        row[5], row[9], row[10], row[14] = "CANCELLED", why, at, at
        actor = self._user_actor()
        summary = f"{actor[2]} cancelled {call.name}" + (f": {why}" if why else "")
        changes = {"status": ["SCHEDULED", "CANCELLED"], "cancelReason": [None, why]}
        self._entry(chunk, card, at, K.CALL_CANCELLED, actor, summary, changes, "Call", row[0])
        return 1

    def _do_note(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        text = self.rng.choice(self.note_pool)
        actor = self._user_actor()
        note_id = self.next_id("note")
        row = [note_id, card.id, text.body, text.length, actor[1], at, at]
        chunk.rows["note"].append(row)
        card.notes.append((row, text))
        summary = f"{actor[2]} posted a note: {text.excerpt}"
        self._entry(
            chunk, card, at, K.NOTE_ADDED, actor, summary, {"body": [None, text.body]}, "Note", note_id
        )
        return 1

    def _do_edit_note(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        if not card.notes:
            return 0
        row, text = self.rng.choice(card.notes)
        if row[2] == text.edited:
            return 0
        changes = {"body": [text.body, text.edited]}
        row[2], row[3], row[6] = text.edited, text.edited_length, at
        actor = self._user_actor()
        summary = f"{actor[2]} edited a note: {text.edited_excerpt}"
        self._entry(chunk, card, at, K.NOTE_EDITED, actor, summary, changes, "Note", row[0])
        return 1

    def _do_deal(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        rng = self.rng
        name, payment_type, recurring, amounts = rng.choice(PRODUCTS)
        currency = rng.choices(("USD", "EUR", "GBP"), (85, 10, 5))[0]
        amount = Decimal(rng.choice(amounts)).quantize(Decimal("0.01"))
        actor = self._user_actor()
        deal_id = self.next_id("deal")
        row = [deal_id, card.id, name, amount, currency, payment_type, "OPEN", recurring, None,
               actor[1], at, at, self.plan.account_id]  # fmt: skip
        chunk.rows["deal"].append(row)
        card.open_deals.append(row)
        summary = f"{actor[2]} added a deal: {name}, {amount:,.2f} {currency} (open)"
        changes = {
            "status": [None, "OPEN"], "productName": [None, name], "amount": [None, str(amount)],
            "currency": [None, currency], "paymentType": [None, payment_type], "recurring": [None, recurring],
        }  # fmt: skip
        self._entry(chunk, card, at, K.DEAL_ADDED, actor, summary, changes, "Deal", deal_id)
        return 1

    def _do_close_deal(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        if not card.open_deals:
            return 0
        row = card.open_deals.pop(0)
        status = "WON" if self.rng.random() < 0.6 else "LOST"
        row[6], row[8], row[11] = status, at, at
        actor = self._user_actor()
        summary = f"{actor[2]} updated the deal {row[2]}: status"
        changes = {"status": ["OPEN", status]}
        self._entry(chunk, card, at, K.DEAL_UPDATED, actor, summary, changes, "Deal", row[0])
        return 1

    def _message(self, chunk: Chunk, card: _Card, at: datetime, *values: Any) -> int:
        message_id = self.next_id("message")
        chunk.rows["message"].append((message_id, card.id, *values))
        return message_id

    def _do_sms(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        if card.phone is None or budget < 2:
            return 0
        rng = self.rng
        body = rng.choice(SMS_BODIES).format(first=card.first or "there", product=rng.choice(PRODUCTS)[0])
        actor = self._user_actor()
        sent = at + timedelta(seconds=rng.uniform(1, 5))
        delivered = sent + timedelta(seconds=rng.uniform(1, 20))
        failed = rng.random() < 0.04
        status = "UNDELIVERED" if failed else "DELIVERED"
        sid = f"SM{rng.getrandbits(128):032x}"
        message_id = self._message(
            chunk, card, at, "SMS", "OUTBOUND", status, card.phone, SMS_NUMBER, None, body, sid,
            "30003" if failed else None, "Unreachable destination handset" if failed else None,
            actor[1], at, delivered, sent, None if failed else delivered,
        )  # fmt: skip
        summary = f"{actor[2]} queued an SMS: {_excerpt(body, 60)}"
        self._entry(chunk, card, at, K.SMS_QUEUED, actor, summary, {}, "Message", message_id)
        plugin = ("PLUGIN", None, "sms")
        if failed:
            summary = f"SMS to {card.phone} undelivered (error 30003 Unreachable destination handset)"
            changes = {"status": ["QUEUED", "UNDELIVERED"]}
            self._entry(chunk, card, delivered, K.SMS_FAILED, plugin, summary, changes, "Message", message_id)
        else:
            summary = f"SMS to {card.phone} delivered"
            changes = {"status": ["QUEUED", "DELIVERED"]}
            self._entry(
                chunk, card, delivered, K.SMS_DELIVERED, plugin, summary, changes, "Message", message_id
            )
        return 2

    def _do_sms_in(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        if card.phone is None:
            return 0
        body = self.rng.choice(SMS_REPLIES)
        sid = f"SM{self.rng.getrandbits(128):032x}"
        message_id = self._message(
            chunk, card, at, "SMS", "INBOUND", "RECEIVED", SMS_NUMBER, card.phone, None, body, sid,
            None, None, None, at, at, None, None,
        )  # fmt: skip
        summary = f"SMS from {card.phone}: {_excerpt(body, 60)}"
        plugin = ("PLUGIN", None, "sms")
        self._entry(chunk, card, at, K.SMS_RECEIVED, plugin, summary, {}, "Message", message_id)
        return 1

    def _do_email(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        if card.email is None or budget < 2:
            return 0
        rng = self.rng
        subject = rng.choice(EMAIL_SUBJECTS).format(company=ACCOUNT, product=rng.choice(PRODUCTS)[0])
        body = f"Hi {card.first or 'there'},\n\nPlease find the details below.\n\nBest,\n{ACCOUNT}"
        actor = self._user_actor()
        sent = at + timedelta(seconds=rng.uniform(1, 30))
        message_id = self._message(
            chunk, card, at, "EMAIL", "OUTBOUND", "SENT", card.email, "team@bench.example.com", subject,
            body, None, None, None, actor[1], at, sent, sent, None,
        )  # fmt: skip
        self._entry(
            chunk, card, at, K.EMAIL_QUEUED, actor, f"{actor[2]} queued an email: {subject}", {},
            "Message", message_id,
        )  # fmt: skip
        summary = f"email {subject!r} to {card.email} sent"
        plugin = ("PLUGIN", None, "email")
        changes = {"status": ["QUEUED", "SENT"]}
        self._entry(chunk, card, sent, K.EMAIL_SENT, plugin, summary, changes, "Message", message_id)
        return 2

    def _do_consent(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        row = card.row
        if card.phone is None:
            return 0
        row[20] = not row[20]
        row[21] = None if row[20] else "Asked not to be texted"
        actor = self._user_actor()
        summary = f"{actor[2]} turned SMS {'on' if row[20] else 'off'}"
        self._entry(
            chunk, card, at, K.SMS_CONSENT_CHANGED, actor, summary, {"okToSms": [not row[20], row[20]]}
        )
        return 1

    def _do_phone_check(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        row = card.row
        if card.phone is None or row[22] is not None:
            return 0
        line = self.rng.choices(("mobile", "landline", "fixedVoip"), (80, 15, 5))[0]
        row[22], row[23] = line, at
        summary = f"{card.phone} checked: {line}"
        plugin = ("PLUGIN", None, "sms")
        self._entry(chunk, card, at, K.PHONE_VERIFIED, plugin, summary, {"phoneLineType": [None, line]})
        return 1

    def _do_plugin_failed(self, chunk: Chunk, card: _Card, at: datetime, budget: int) -> int:
        summary = (
            "plugin webhooks failed on contact_updated (attempt 1 of 8), retrying in 2s:"
            " ReadTimeout: timed out after 30s"
        )
        self._entry(chunk, card, at, K.PLUGIN_DELIVERY_FAILED, self.system, summary, {})
        return 1


def produce(plan: Plan, queue: Any) -> None:
    """The generator process: put each chunk (as plain lists) on the queue, then None."""
    generator = Generator(plan)
    for chunk in generator.chunks():
        queue.put(chunk.rows)
    queue.put(None)


# --------------------------------------------------------------------------------------
# Loading (this process)
# --------------------------------------------------------------------------------------


@dataclass
class ScaleDB:
    name: str
    url: str
    contacts: int
    events: int
    api_key: str
    rich_contact_id: int
    seed_seconds: float | None = None  # None when an existing database was reused
    phases: dict[str, float] = field(default_factory=dict)


def _marker(contacts: int, events: int) -> str:
    return f"seed_scale complete: contacts={contacts} events={events}"


async def _existing_marker(name: str) -> str | None:
    conn = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=5)
    try:
        return await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", name
        )
    finally:
        await conn.close()


async def _orm_setup() -> tuple[str, int, int, tuple[Person, ...], tuple[tuple[int, str], ...]]:
    """bench/seed.py's account, key and rich card, then the rest of the team and the tag list."""
    from crm.models import Tag

    seeded = await seed()
    for name, email, role, _ in TEAM:
        await create_user(ACCOUNT, name, email.replace("demo.example", "bench.example"), role.value)
    users = await User.filter(account_id=seeded.account_id).order_by("id").values("id", "name", "role")
    # The admin first: owner changes are made by the account's boss.
    people = tuple(Person(u["id"], u["name"]) for u in users)
    known = {t.lower() for t in await Tag.filter(account_id=seeded.account_id).values_list("key", flat=True)}
    await Tag.bulk_create(
        [Tag(account_id=seeded.account_id, name=t, key=t.lower()) for t in TAGS if t.lower() not in known]
    )
    tags = tuple(
        (t["id"], t["name"]) for t in await Tag.filter(account_id=seeded.account_id).order_by("id").values()
    )
    return seeded.api_key, seeded.account_id, seeded.contact_id, people, tags


# --------------------------------------------------------------------------------------
# What the contacts table's filters hit (issue 14): set-based SQL after the COPY
# --------------------------------------------------------------------------------------

# Tables the filter data fills: their secondary indexes are dropped and rebuilt like COLUMNS'.
FILTER_TABLES = ("custom_field_value", "task", "lead", "segment_member")
# Custom fields added next to bench/seed.py's (which the rich card fills): a DATETIME, a DATE
# in the future and past, an EMAIL and a PHONE, so every type has a field at scale.
EXTRA_FIELDS = (
    ("next_inspection", "Next inspection", "DATE"),
    ("first_meeting", "First meeting", "DATETIME"),
    ("assistant_email", "Assistant's email", "EMAIL"),
    ("assistant_phone", "Assistant's phone", "PHONE"),
)
# Per custom field key: (share of contacts with a value, the value columns as SQL over c (the
# contact) and h (a uniform draw in [0, 1) for that contact and field)).
FIELD_VALUES: dict[str, tuple[float, dict[str, str]]] = {
    "nickname": (0.10, {"value_text": "(ARRAY['Jo','Sam','Max','Bea','Kit','Lou'])[1 + floor(h * 6)::int]"}),
    "roof_area": (0.35, {"value_number": "round((50 + h * 350)::numeric, 1)"}),
    "budget": (0.25, {"value_number": "(500 * (5 + floor(h * 150)))::numeric",
                      "value_currency": "CASE WHEN h < 0.9 THEN 'USD' ELSE 'EUR' END"}),
    "moved_in": (0.30, {"value_date": "DATE '1990-01-01' + floor(h * 12400)::int"}),
    "gate_code_set": (0.40, {"value_bool": "h < 0.3"}),
    "tier": (0.50, {"value_text": "(ARRAY['gold','silver','bronze','bronze'])[1 + floor(h * 4)::int]"}),
    "interests": (0.30, {"value_json": "(ARRAY['[\"solar\"]', '[\"roofing\"]', '[\"gutters\"]',"
                                       " '[\"solar\", \"roofing\"]', '[\"roofing\", \"gutters\"]',"
                                       " '[\"solar\", \"roofing\", \"gutters\"]'])"
                                       "[1 + floor(h * 6)::int]::jsonb"}),
    "site": (0.05, {"value_text": "'https://example.com/homes/' || c.id"}),
    "visits": (0.20, {"value_number": "floor(h * 30)::numeric"}),
    "next_inspection": (0.15, {"value_date": "$2::date - 100 + floor(h * 400)::int"}),
    "first_meeting": (0.20, {"value_ts": "c.created_at + h * interval '200 days'"}),
    "assistant_email": (0.05, {"value_text": "'assistant' || c.id || '@example.com'"}),
    "assistant_phone": (0.05, {"value_text": "'+1415555' || lpad((c.id % 10000)::text, 4, '0')"}),
}  # fmt: skip
TASK_KINDS = ("TASK", "TASK", "MEETING", "CALL", "EMAIL", "REMINDER")
TASK_TITLES = ("Send the proposal", "Follow up on the quote", "Site visit", "Call back",
               "Collect documents", "Renewal check-in")  # fmt: skip
STATIC_SEGMENTS = (("Spring mailing list", 0.05), ("Trade show 2026", 0.002))
# Dynamic segments hold a filter in its domain form (crm/contact_filters.py).
DYNAMIC_SEGMENTS = (
    ("Hot qualified leads", {"status": {"in": ["qualified"]}, "subStatus": {"in": ["hot"]}}),
    ("VIP customers", {"and": [{"status": {"in": ["customer"]}}, {"tags": {"any": ["VIP"]}}]}),
)
# A uniform draw in [0, 1) from (row id, salt): the same data on every run, whatever the plan.
UNIFORM = (
    "CREATE FUNCTION pg_temp.u(bigint, int) RETURNS float8 LANGUAGE sql IMMUTABLE AS"
    " $$ SELECT (hashint8($1 * 1000003 + $2) & 2147483647)::float8 / 2147483648 $$"
)


async def seed_filter_data(
    conn: asyncpg.Connection, account_id: int, users: list[int], tag_ids: list[int], now: datetime
) -> None:
    """Custom field values of every type, tasks (some overdue), leads from forms with UTMs, more
    tags and segments -- what the filter corpus (bench/filters.py) asks about. Set-based SQL in
    the server (one INSERT … SELECT per table over the loaded contacts) is faster than drawing
    these rows in Python and copying them; rows are drawn from a hash of ids, so reproducible.
    They have no journey entries: no filter reads the journey."""
    await conn.execute(UNIFORM)
    for table in ("utm", "contact_tag"):  # COPY wrote their ids: move the sequences past them
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" (SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )
    a, users_sql = "c.account_id = $1", "$3::int[]"
    pick_user = f"({users_sql})[1 + floor(pg_temp.u(c.id, {{salt}}) * cardinality({users_sql}))::int]"
    for key, label, type_ in EXTRA_FIELDS:
        await conn.execute(
            "INSERT INTO custom_field"
            " (account_id, key, label, type, options, required, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, '[]', false, $5, $5) ON CONFLICT DO NOTHING",
            account_id, key, label, type_, now,
        )  # fmt: skip
    fields = {
        r["key"]: r["id"]
        for r in await conn.fetch("SELECT id, key FROM custom_field WHERE account_id = $1", account_id)
    }
    for key, (share, columns) in FIELD_VALUES.items():
        field_id = fields[key]
        names = ", ".join(columns)
        values = ", ".join(columns.values())
        await conn.execute(
            f"INSERT INTO custom_field_value (field_id, contact_id, {names}, updated_at)"
            f" SELECT $3, c.id, {values}, $2"
            f" FROM (SELECT c.*, pg_temp.u(c.id, $3 + 7000) AS h FROM contact c WHERE {a}) c"
            f" WHERE pg_temp.u(c.id, $3) < {share}"
            " ON CONFLICT DO NOTHING",
            account_id, now, field_id,
        )  # fmt: skip
    # Tasks: a third of the cards have one, some two; due from two months back to a month ahead.
    # Those due in the past are mostly done; the rest are overdue.
    await conn.execute(
        f"""
        INSERT INTO task (account_id, contact_id, kind, title, body, text_length, due_at, status,
                          assignee_id, owner_id, completed_at, completed_by_id, due_version,
                          created_at, updated_at)
        SELECT $1, id, kind, title, '', 0, due, status, assignee, owner,
               CASE WHEN status = 'DONE' THEN due END, CASE WHEN status = 'DONE' THEN assignee END,
               0, created, created
        FROM (
            SELECT c.id,
                   ($4::text[])[1 + floor(pg_temp.u(c.id, 110 + n) * cardinality($4::text[]))::int] AS kind,
                   ($5::text[])[1 + floor(pg_temp.u(c.id, 120 + n) * cardinality($5::text[]))::int] AS title,
                   date_trunc('minute', $2::timestamptz - interval '60 days'
                                        + pg_temp.u(c.id, 130 + n) * interval '90 days') AS due,
                   CASE WHEN pg_temp.u(c.id, 130 + n) >= 2.0 / 3 THEN 'OPEN'
                        WHEN pg_temp.u(c.id, 140 + n) < 0.7 THEN 'DONE'
                        WHEN pg_temp.u(c.id, 140 + n) < 0.75 THEN 'CANCELLED' ELSE 'OPEN' END AS status,
                   {pick_user.format(salt=150)} AS assignee, {pick_user.format(salt=160)} AS owner,
                   $2::timestamptz - interval '61 days' AS created
            FROM contact c CROSS JOIN generate_series(1, 2) AS n
            WHERE {a} AND pg_temp.u(c.id, 100 + n) < CASE n WHEN 1 THEN 0.35 ELSE 0.1 END
        ) t
        """,
        account_id, now, users, list(TASK_KINDS), list(TASK_TITLES),
    )  # fmt: skip
    # Leads: four forms; two cards in five came in through one (one in ten of those twice), at
    # their creation. Most leads carry the UTMs they arrived with (utm.lead_id).
    form_ids = []
    for i, name in enumerate(FORM_NAMES):
        form_ids.append(
            await conn.fetchval(
                "INSERT INTO lead_form (account_id, name, key, created_at)"
                " VALUES ($1, $2, $3, $4) RETURNING id",
                account_id, name, f"bench-form-{account_id}-{i}", now - HISTORY,
            )
        )  # fmt: skip
    await conn.execute(
        f"""
        INSERT INTO lead (account_id, contact_id, form_id, form_name, submitted_at, status,
                          match_reason, fingerprint, identity, created_at)
        SELECT $1, c.id, f.id, f.name, at, CASE n WHEN 1 THEN 'NEW' ELSE 'DUPLICATE' END,
               CASE n WHEN 1 THEN 'NEW' ELSE 'EMAIL' END, md5(c.id || '-' || n), '{{}}', at
        FROM contact c CROSS JOIN generate_series(1, 2) AS n
        CROSS JOIN LATERAL (SELECT c.created_at + (n - 1) * pg_temp.u(c.id, 210) * interval '30 days' AS at) t
        JOIN lead_form f
          ON f.id = ($2::int[])[1 + floor(pg_temp.u(c.id, 220 + n) * cardinality($2::int[]))::int]
        WHERE {a} AND pg_temp.u(c.id, 200) < 0.4 AND (n = 1 OR pg_temp.u(c.id, 201) < 0.1)
        """,
        account_id, form_ids,
    )  # fmt: skip
    sources = [(s, m, c) for s, m, campaigns, _ in UTM_SOURCES for c in campaigns]
    await conn.execute(
        """
        INSERT INTO utm (contact_id, lead_id, source, medium, campaign, captured_at)
        SELECT l.contact_id, l.id, ($2::text[])[k], ($3::text[])[k], ($4::text[])[k], l.submitted_at
        FROM lead l
        CROSS JOIN LATERAL (SELECT 1 + floor(pg_temp.u(l.id, 230) * cardinality($2::text[]))::int AS k) t
        WHERE l.account_id = $1 AND pg_temp.u(l.id, 231) < 0.75 AND l.form_id IS NOT NULL
        """,
        account_id, [s for s, _, _ in sources], [m for _, m, _ in sources], [c for _, _, c in sources],
    )  # fmt: skip
    # More tags: the history above tags a card now and then; a quarter of the cards get one to
    # three more of the account's tags.
    await conn.execute(
        f"""
        INSERT INTO contact_tag (contact_id, tag_id, created_at)
        SELECT c.id, ($2::int[])[1 + floor(pg_temp.u(c.id, 310 + n) * cardinality($2::int[]))::int],
               c.created_at
        FROM contact c CROSS JOIN generate_series(1, 3) AS n
        WHERE {a} AND pg_temp.u(c.id, 300) < 0.25 AND (n = 1 OR pg_temp.u(c.id, 300 + n) < 0.4)
        ON CONFLICT DO NOTHING
        """,
        account_id, tag_ids,
    )  # fmt: skip
    creator = users[0]
    for salt, (name, share) in enumerate(STATIC_SEGMENTS):
        segment_id = await conn.fetchval(
            "INSERT INTO segment (account_id, name, kind, created_by_id, created_at, updated_at)"
            " VALUES ($1, $2, 'STATIC', $3, $4, $4) RETURNING id",
            account_id, name, creator, now,
        )  # fmt: skip
        await conn.execute(
            f"INSERT INTO segment_member (segment_id, contact_id, added_at) SELECT $2, c.id, $3"
            f" FROM contact c WHERE {a} AND pg_temp.u(c.id, 400 + $4) < $5",
            account_id, segment_id, now, salt, share,
        )  # fmt: skip
    for name, spec in DYNAMIC_SEGMENTS:
        await conn.execute(
            "INSERT INTO segment (account_id, name, kind, filter_spec, created_by_id, created_at, updated_at)"
            " VALUES ($1, $2, 'DYNAMIC', $3::jsonb, $4, $5, $5)",
            account_id, name, _json(spec), creator, now,
        )  # fmt: skip


async def _secondary_indexes(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """(name, CREATE INDEX …) of the loaded tables' indexes that back no constraint."""
    rows = await conn.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition"
        " FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
        " WHERE t.relname = ANY($1::text[]) AND t.relnamespace = 'public'::regnamespace"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [*COLUMNS, *FILTER_TABLES],
    )
    return [(r["name"], r["definition"]) for r in rows]


async def _first_ids(conn: asyncpg.Connection) -> dict[str, int]:
    return {t: await conn.fetchval(f'SELECT COALESCE(MAX(id), 0) + 1 FROM "{t}"') for t in COLUMNS}


async def _copy_chunks(conn: asyncpg.Connection, plan: Plan) -> None:
    """Copy what the generator process draws, a chunk at a time, while it draws the next."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue(maxsize=3)
    worker = ctx.Process(target=produce, args=(plan, queue), daemon=True)
    worker.start()
    loop = asyncio.get_running_loop()
    events = 0
    try:
        with tqdm(
            total=plan.contacts, unit="contact", unit_scale=True, desc=f"COPY {plan.contacts:,}"
        ) as bar:
            while True:
                rows = await loop.run_in_executor(None, queue.get)
                if rows is None:
                    break
                for table, records in rows.items():
                    if records:
                        await conn.copy_records_to_table(table, records=records, columns=COLUMNS[table])
                events += len(rows["journey_event"])
                bar.update(len(rows["contact"]))
                bar.set_postfix(events=f"{events:,}")
    finally:
        worker.join(timeout=30)
        if worker.is_alive():
            worker.terminate()
    if worker.exitcode != 0:
        raise RuntimeError(f"the row generator exited with {worker.exitcode}")


async def seed_database(name: str, contacts: int, events: int, *, reuse: bool) -> ScaleDB:
    url = f"{PG_SERVER}/{name}"
    if reuse and await _existing_marker(name) == _marker(contacts, events):
        return await _reuse(name, url, contacts, events)
    if contacts < 1 or events < contacts:
        raise ValueError("need at least one contact and one journey entry per contact")
    phases: dict[str, float] = {}
    started = clock = time.perf_counter()

    def phase(label: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[label] = now - clock
        clock = now
        print(f"{name}: {label} {phases[label]:.1f} s", file=sys.stderr, flush=True)

    await pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await pg_admin(f"CREATE DATABASE {name}")
    await open_database(url)  # the app's own migrations
    try:
        api_key, account_id, rich_id, people, tags = await _orm_setup()
    finally:
        await close_database()
    phase("create, migrate, rich card (ORM)")

    conn = await asyncpg.connect(url)
    try:
        # Foreign-key triggers off for this session: the generator only writes ids it made or read.
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("SET maintenance_work_mem = '1GB'")
        indexes = await _secondary_indexes(conn)
        for index_name, _ in indexes:
            await conn.execute(f"DROP INDEX {index_name}")
        rich_events = await conn.fetchval("SELECT COUNT(*) FROM journey_event")
        plan = Plan(
            contacts=contacts - 1,
            events=events - rich_events,
            account_id=account_id,
            people=people,
            tags=tags,
            first_ids=await _first_ids(conn),
            now=datetime.now(UTC),
        )
        if plan.contacts:
            await _copy_chunks(conn, plan)
        phase("COPY")
        users = [p.user_id for p in people]
        await seed_filter_data(conn, account_id, users, [t for t, _ in tags], plan.now)
        phase("filter data (custom fields, tasks, leads, tags, segments)")
        for index_name, definition in indexes:
            print(f"{name}: building {index_name}", file=sys.stderr, flush=True)
            await conn.execute(definition)
        phase(f"rebuild {len(indexes)} secondary indexes")
        # The contacts' roll-ups (migration 0024): its triggers are off in this session.
        for rollup in ("last_interaction", "deal_total"):
            await conn.execute(f"SELECT dossier_refresh_{rollup}(ARRAY(SELECT id FROM contact))")
        phase("roll-ups (last interaction, deal total)")
        for table in SERIAL_TABLES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'),"
                f' (SELECT COALESCE(MAX(id), 1) FROM "{table}"))'
            )
        await conn.execute("VACUUM (ANALYZE)")
        phase("reset sequences, VACUUM ANALYZE")
    finally:
        await conn.close()
    await pg_admin(f"COMMENT ON DATABASE {name} IS '{_marker(contacts, events)}'")
    return ScaleDB(name, url, contacts, events, api_key, rich_id, time.perf_counter() - started, phases)


async def _reuse(name: str, url: str, contacts: int, events: int) -> ScaleDB:
    """An existing seed: mint a new key for its admin (keys are stored hashed) and find the rich card."""
    await open_database(url, run_migrations=True)
    try:
        admin = await User.filter(role="admin").order_by("id").first()
        rich = await Contact.filter(email="jordan@rivera-landscaping.example.com").order_by("id").first()
        if admin is None or rich is None:
            raise RuntimeError(f"{name} has no seed_scale data: run without --reuse")
        key = await issue_api_key(admin.id, "seed_scale")
    finally:
        await close_database()
    print(f"{name}: reusing the existing seed", file=sys.stderr, flush=True)
    return ScaleDB(name, url, contacts, events, key, rich.id)


async def disk_usage(url: str) -> tuple[int, list[tuple[str, int, int, int]]]:
    """The database's size and, per big table: rows (estimated), heap+TOAST bytes, index bytes."""
    conn = await asyncpg.connect(url)
    try:
        total = await conn.fetchval("SELECT pg_database_size(current_database())")
        rows = await conn.fetch(
            "SELECT c.relname, c.reltuples::bigint AS rows,"
            " pg_table_size(c.oid) AS heap, pg_indexes_size(c.oid) AS indexes"
            " FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
            " ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 10"
        )
    finally:
        await conn.close()
    return total, [(r["relname"], r["rows"], r["heap"], r["indexes"]) for r in rows]


# --------------------------------------------------------------------------------------
# Measuring over HTTP
# --------------------------------------------------------------------------------------

LIST_QUERY = """
query List($first: Int!, $search: String) {
  contacts(first: $first, search: $search) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id displayName email phone status subStatus createdAt } }
  }
}
"""
# Searches a user would type, the same on both databases: (label, search)
SEARCHES = (
    ("last name", "Okafor"),
    ("email fragment", "olivia.smi"),
    ("phone digits", "(415) 555-0123"),
    ("two words", "Olivia Smith"),
)


COUNT_QUERY = """
query Count($search: String) { contacts(first: 1, search: $search) { totalCount } }
"""


@dataclass(frozen=True)
class Probe:
    label: str
    payload: dict[str, Any]


def probes(db: ScaleDB) -> list[Probe]:
    card = {"query": CARD_QUERY, "variables": {"id": to_base64("Contact", db.rich_contact_id)}}
    found = [Probe("card (bench/seed.py's rich card)", card)]
    found.append(
        Probe("contacts(first: 50), newest first", {"query": LIST_QUERY, "variables": {"first": 50}})
    )
    for label, term in SEARCHES:
        variables = {"first": 50, "search": term}
        found.append(Probe(f'search {label}: "{term}"', {"query": LIST_QUERY, "variables": variables}))
    # totalCount counts every match in the account: the whole account when nothing is searched.
    found.append(Probe("totalCount, all contacts", {"query": COUNT_QUERY, "variables": {}}))
    term = SEARCHES[0][1]
    found.append(Probe(f'totalCount, search "{term}"', {"query": COUNT_QUERY, "variables": {"search": term}}))
    return found


@dataclass
class Timing:
    p50_ms: float
    p99_ms: float
    rows: int  # edges returned (for searches), to show what was found
    p95_ms: float = 0.0
    edges: int = 0  # contacts on the page (rows is totalCount when the query asks for it)


class Sender:
    """One probe against one server: sends it and remembers how many contacts came back."""

    def __init__(self, client: httpx.AsyncClient, key: str, probe: Probe) -> None:
        self.client, self.probe = client, probe
        self.headers = {"Authorization": f"Bearer {key}"}
        self.rows = 0
        self.samples: list[float] = []

    async def send(self, record: bool) -> None:
        start = time.perf_counter()
        response = await self.client.post("/graphql", json=self.probe.payload, headers=self.headers)
        elapsed = time.perf_counter() - start
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"{self.probe.label}: {response.status_code} {str(body)[:300]}")
        contacts = body["data"].get("contacts")
        if contacts and "totalCount" in contacts:
            self.rows = contacts["totalCount"]
        else:
            self.rows = len(contacts["edges"]) if contacts else 1
        self.edges = len(contacts.get("edges") or []) if contacts else 1
        if record:
            self.samples.append(elapsed)

    def timing(self) -> Timing:
        return Timing(
            percentile(self.samples, 0.5) * 1000,
            percentile(self.samples, 0.99) * 1000,
            self.rows,
            percentile(self.samples, 0.95) * 1000,
            self.edges,
        )


async def measure(
    small: ScaleDB,
    large: ScaleDB,
    requests: int,
    warmup: int,
    make_probes: Callable[[ScaleDB], list[Probe]] | None = None,
) -> list[tuple[str, Timing, Timing]]:
    """Both databases served at once (one process each). Requests alternate between the two, one
    at a time, so whatever else the machine is doing weighs on both sides alike."""
    servers = [ServerProcess(__file__, "--database-url", db.url) for db in (small, large)]
    results = []
    try:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with (
            httpx.AsyncClient(base_url=servers[0].base_url, limits=limits, timeout=120) as small_client,
            httpx.AsyncClient(base_url=servers[1].base_url, limits=limits, timeout=120) as large_client,
        ):
            for server in servers:
                await server.ready()
            make = make_probes or probes
            for small_probe, large_probe in zip(make(small), make(large), strict=True):
                print(f"measuring {small_probe.label} ...", file=sys.stderr, flush=True)
                a = Sender(small_client, small.api_key, small_probe)
                b = Sender(large_client, large.api_key, large_probe)
                for i in range(warmup + requests):
                    await a.send(record=i >= warmup)
                    await b.send(record=i >= warmup)
                results.append((small_probe.label, a.timing(), b.timing()))
    finally:
        for server in servers:
            server.stop()
    return results


# --------------------------------------------------------------------------------------
# EXPLAIN of every statement the probes run
# --------------------------------------------------------------------------------------


class StatementLog(logging.Handler):
    """Collects (sql, parameters) from tortoise's db_client logger at DEBUG."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[tuple[str, list[Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        sql = args[0] if args else record.msg
        values = list(args[1]) if len(args) > 1 and args[1] else []
        if isinstance(sql, str) and sql.lstrip().upper().startswith("SELECT"):
            self.statements.append((sql, values))


async def explain(
    db: ScaleDB, path: Path, make_probes: Callable[[ScaleDB], list[Probe]] | None = None
) -> None:
    app = create_app(
        Settings(database_url=db.url, run_dispatcher=False, load_entry_points=False, graphiql=False)
    )
    logger = logging.getLogger("tortoise.db_client")
    sections: list[tuple[str, list[tuple[str, list[Any]]]]] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = {"Authorization": f"Bearer {db.api_key}"}
            for probe in (make_probes or probes)(db):
                await client.post("/graphql", json=probe.payload, headers=headers)  # warm the cache
                log, old_level = StatementLog(), logger.level
                logger.addHandler(log)
                logger.setLevel(logging.DEBUG)
                try:
                    response = await client.post("/graphql", json=probe.payload, headers=headers)
                finally:
                    logger.removeHandler(log)
                    logger.setLevel(old_level)
                if response.status_code != 200 or response.json().get("errors"):
                    raise RuntimeError(f"{probe.label}: {response.text[:300]}")
                sections.append((probe.label, log.statements))
    conn = await asyncpg.connect(db.url)
    out = [
        f"EXPLAIN (ANALYZE, BUFFERS) on {db.name}: {db.contacts:,} contacts, {db.events:,} journey entries\n"
    ]
    try:
        for label, statements in sections:
            out.append(f"\n{'=' * 100}\n{label}: {len(statements)} statements\n{'=' * 100}\n")
            for sql, values in statements:
                plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *values)
                out.append(f"\n-- {sql}\n-- parameters: {values!r}\n")
                out.extend(f"{r[0]}\n" for r in plan)
    finally:
        await conn.close()
    path.write_text("".join(out))
    print(f"EXPLAIN of {sum(len(s) for _, s in sections)} statements written to {path}", file=sys.stderr)


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB" if size < 2**30 else f"{size / 2**30:,.2f} GB"


async def report_seed(db: ScaleDB) -> None:
    total, tables = await disk_usage(db.url)
    took = "reused" if db.seed_seconds is None else f"seeded in {db.seed_seconds:,.0f} s"
    print(
        f"\n{db.name}: {db.contacts:,} contacts, {db.events:,} journey entries; {took}; {_mb(total)} on disk"
    )
    for label, seconds in db.phases.items():
        print(f"  {label:40} {seconds:8.1f} s")
    print(f"  {'table':16} {'rows':>12} {'heap+toast':>12} {'indexes':>12}")
    for name, rows, heap, indexes in tables:
        print(f"  {name:16} {rows:12,} {_mb(heap):>12} {_mb(indexes):>12}")


def _size_label(contacts: int) -> str:
    return f"{contacts / 1e6:g}M" if contacts >= 10**6 else f"{contacts / 1e3:g}k"


def report_timings(
    small: ScaleDB, large: ScaleDB, results: list[tuple[str, Timing, Timing]], requests: int
) -> None:
    s, g = _size_label(small.contacts), _size_label(large.contacts)
    print(
        f"\nOver HTTP, one request at a time, {requests} requests per figure (nearest-rank percentiles),"
        f"\nalternating between the two databases (one uvicorn process each); {os.cpu_count()} CPUs,"
        f" load average {os.getloadavg()[0]:.1f} at the end.\n"
    )
    header = (
        f"{'query':42} {s + ' p50':>9} {s + ' p99':>9} {g + ' p50':>9} {g + ' p99':>9}"
        f" {'p50 x':>6} {'p99 x':>6} {'rows':>15}"
    )
    print(header)
    print("-" * len(header))
    for label, a, b in results:
        print(
            f"{label[:42]:42} {a.p50_ms:9.2f} {a.p99_ms:9.2f} {b.p50_ms:9.2f} {b.p99_ms:9.2f}"
            f" {b.p50_ms / a.p50_ms:6.2f} {b.p99_ms / a.p99_ms:6.2f} {f'{a.rows}/{b.rows}':>15}"
        )
    print(
        f"\nms; x = {g} / {s}; rows = contacts returned, or counted by totalCount ({s}/{g})."
        " The target: card p50 x <= 1.2."
    )


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> int:
    try:
        await pg_admin("SELECT 1")
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL is not reachable at {PG_SERVER}: {exc}", file=sys.stderr)
        return 1
    large = await seed_database(args.database, args.contacts, args.events, reuse=args.reuse)
    await report_seed(large)
    small = None
    if args.measure:
        small = await seed_database(f"{args.database}_10k", 10_000, 100_000, reuse=args.reuse)
        await report_seed(small)
    if args.explain:
        await explain(large, Path(args.explain))
    if small is not None:
        results = await measure(small, large, args.requests, args.warmup)
        report_timings(small, large, results, args.requests)
    if args.drop:
        for db in (large, small):
            if db is not None:
                await pg_admin(f"DROP DATABASE IF EXISTS {db.name} WITH (FORCE)")
                print(f"dropped {db.name}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000, help="contacts (default 1,000,000)")
    parser.add_argument("--events", type=int, default=10_000_000, help="journey entries (default 10,000,000)")
    parser.add_argument("--database", default="dossier_scale", help="database name (default dossier_scale)")
    parser.add_argument("--measure", action="store_true", help="also seed <database>_10k and measure both")
    parser.add_argument("--explain", metavar="FILE", help="write EXPLAIN (ANALYZE, BUFFERS) of the probes")
    parser.add_argument(
        "--reuse", action="store_true", help="keep a database already seeded with these sizes"
    )
    parser.add_argument("--drop", action="store_true", help="drop the databases at the end")
    parser.add_argument("--requests", type=int, default=100, help="requests per figure (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up requests per figure (default 10)")
    parser.add_argument("--serve-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fd is not None:
        settings = Settings(  # as `dossier serve` runs
            database_url=args.database_url,
            run_dispatcher=False,
            load_entry_points=False,
            graphiql=False,
            gc_tuning=True,
        )
        serve(args.serve_fd, create_app(settings))
        return 0
    if not args.database.isidentifier():
        parser.error("--database must be a plain identifier")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
