"""The floor: the cards Dossier serves, built by hand from plain SQL on the same driver.

What a hand-written endpoint returning the same JSON would cost on the same stack: the API-key
lookup, one query per section for all the asked contacts at once (`IN (...)`), one for the
users the rows point at, the rows turned into the GraphQL response's JSON by hand and encoded
with orjson. Two routes, added to the benchmark's app next to /graphql:

- GET /floor/card?id=<contact id>   same JSON as `contact(id:) { ...Card }`
- GET /floor/contacts?first=<N>     same JSON as `contacts(first: N) { … edges { node { ...Card } } }`

`bench/card.py` checks that the JSON is equal value for value before measuring anything.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import asyncpg
import orjson
from starlette.requests import Request
from starlette.responses import Response
from strawberry.relay import to_base64

from crm import custom_values, money
from crm.db import PooledConnection
from crm.models.profile import PROFILE_FIELDS, ProfileKind
from crm.richtext import visible_text
from crm.services import leads as lead_service
from crm.services.accounts import hash_key
from crm.services.billing import line_totals
from crm.services.profile import effective_age
from crm.services.recordings import share_url
from crm.services.referrals import referral_link
from crm.services.rewards import from_units, totals_of
from crm.services.tasks import due_time
from crm.uow import display_name
from graph.ids import encode_cursor
from graph.view import bearer

JOURNEY_PAGE = 100  # the card asks for the newest and the oldest page of this size
HISTORY_PAGE = 30  # communications(first: 30): the 20 upcoming calls, then what happened
DOCUMENTS_PAGE = 5  # quotes, jobs, invoices (first: 5)
INVITED_PAGE = 5  # referral { invited(first: 5) }
LEDGER_PAGE = 10  # rewards { ledger(first: 10) }
TASKS_PAGE = ACTIONS_PAGE = FILES_PAGE = 10  # tasks, upcomingActions, attachments (first: 10)
DATED, UNDATED, CLOSED = 0, 1, 2  # the task order's ranks (graph/resolvers/tasks_loaders.py)
CALL, MESSAGE, LEAD = 1, 2, 3  # the history's kinds, its tie-break at one time
SUMMARY_CHARS = 140
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Row = dict[str, Any]


class FloorDB:
    """Plain aiosqlite (one connection, like tortoise's) or asyncpg (a pool of 1..5, likewise)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgres://", "postgresql://"))
        self.statements = 0  # counted so the benchmark can print them beside Dossier's
        self._conn: Any = None

    async def open(self) -> FloorDB:
        if self.postgres:
            # The same pool settings as Dossier's (crm.db.PooledConnection: no reset query on
            # release), so neither side pays a round trip the other does not.
            self._conn = await asyncpg.create_pool(
                self.url, min_size=1, max_size=5, connection_class=PooledConnection
            )
        else:
            import aiosqlite

            self._conn = await aiosqlite.connect(self.url.removeprefix("sqlite://"), isolation_level=None)
            self._conn.row_factory = aiosqlite.Row
        return self

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def fetch(self, sql: str, *params: Any) -> list[Row]:
        """`sql` numbers its parameters $1, $2, … in the order they appear (SQLite reads them as ?)."""
        self.statements += 1
        if self.postgres:
            return [dict(r) for r in await self._conn.fetch(sql, *params)]
        async with self._conn.execute(re.sub(r"\$\d+", "?", sql), params) as cursor:
            return [dict(r) for r in await cursor.fetchall()]


def marks(start: int, count: int) -> str:
    """Placeholders for an IN list of `count` values starting at parameter `start`."""
    return ", ".join(f"${i}" for i in range(start, start + count))


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)  # SQLite keeps timestamps as ISO text


def _iso(value: Any) -> str | None:
    parsed = _dt(value)
    return parsed.isoformat() if parsed is not None else None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _day(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value  # SQLite keeps dates as ISO text
    return value.isoformat()  # type: ignore[no-any-return]


def _money(value: Any, currency: str) -> str:
    return str(money.for_api(Decimal(str(value)), currency))


def _plain(value: Any) -> str:
    return f"{Decimal(str(value)).normalize():f}"


def _summary(text: str | None) -> str | None:
    if not text:
        return None
    line = " ".join(text.split())
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"


def _grouped(rows: Iterable[Row]) -> dict[int, list[Row]]:
    """Rows by contact, each contact's rows in the query's order."""
    by_contact: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_contact[row["contact_id"]].append(row)
    return by_contact


def _badges(call: Row, upcoming: bool) -> list[str]:
    badges = []
    if call["status"] == "CANCELLED":
        badges.append("CANCELLED")
    if call["reschedule_count"]:
        badges.append("RESCHEDULED")
    if call["status"] == "SCHEDULED" and call["outcome"] is None and not upcoming:
        badges.append("NEEDS_OUTCOME")
    if call["recording_url"]:
        badges.append("RECORDED")
    return badges


# --------------------------------------------------------------------------------------
# Reading: the same rows Dossier reads, every section for all contacts at once
# --------------------------------------------------------------------------------------


async def account_of(db: FloorDB, api_key: str) -> int | None:
    found = await db.fetch(
        "SELECT u.account_id FROM api_key k JOIN app_user u ON u.id = k.user_id"
        " WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        hash_key(api_key),
    )
    return found[0]["account_id"] if found else None


async def _children(db: FloorDB, table: str, order: str, ids: list[int]) -> dict[int, list[Row]]:
    """A section of the contacts (already scoped to the account), in the card's order."""
    return _grouped(
        await db.fetch(f"SELECT * FROM {table} WHERE contact_id IN ({marks(1, len(ids))}) {order}", *ids)
    )


async def _journey_pages(
    db: FloorDB, account_id: int, ids: list[int], newest_first: bool
) -> dict[int, list[Row]]:
    """Each contact's first page (one row more than the page, to tell whether another follows)."""
    direction = "DESC" if newest_first else "ASC"
    if len(ids) == 1:  # one card: a plain LIMIT is the cheapest honest query
        sql = (
            "SELECT * FROM journey_event WHERE account_id = $1 AND contact_id = $2"
            f" ORDER BY id {direction} LIMIT $3"
        )
    else:  # a page per contact in one statement
        sql = (
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY contact_id ORDER BY id"
            f" {direction}) AS rn FROM journey_event WHERE account_id = $1 AND contact_id IN"
            f" ({marks(2, len(ids))})) ranked WHERE rn <= ${len(ids) + 2} ORDER BY contact_id, rn"
        )
    return _grouped(await db.fetch(sql, account_id, *ids, JOURNEY_PAGE + 1))


async def _journey_counts(db: FloorDB, account_id: int, ids: list[int]) -> dict[int, int]:
    rows = await db.fetch(
        "SELECT contact_id, COUNT(*) AS n FROM journey_event WHERE account_id = $1"
        f" AND contact_id IN ({marks(2, len(ids))}) GROUP BY contact_id",
        account_id,
        *ids,
    )
    return {r["contact_id"]: r["n"] for r in rows}


async def build_cards(db: FloorDB, account_id: int, contacts: list[Row], base_url: str) -> list[Row]:
    """The cards of `contacts` (rows of the account's contact table), in their order;
    `base_url` is where the referral and flow links point."""
    if not contacts:
        return []
    ids = [c["id"] for c in contacts]
    tags = _grouped(
        await db.fetch(
            "SELECT ct.contact_id, t.id, t.name FROM contact_tag ct JOIN tag t ON t.id = ct.tag_id"
            f" WHERE t.account_id = $1 AND ct.contact_id IN ({marks(2, len(ids))}) ORDER BY t.name",
            account_id,
            *ids,
        )
    )
    utms = await _children(db, "utm", "ORDER BY captured_at, id", ids)
    answers = await _children(db, "form_answer", "ORDER BY answered_at, id", ids)
    calls = await _children(db, "call", "ORDER BY scheduled_at, id", ids)
    deals = await _children(db, "deal", "ORDER BY created_at, id", ids)
    notes = await _children(db, "note", "ORDER BY created_at DESC, id DESC", ids)
    newest = await _journey_pages(db, account_id, ids, newest_first=True)
    oldest = await _journey_pages(db, account_id, ids, newest_first=False)
    totals = await _journey_counts(db, account_id, ids)
    # Issue 12: the history is ordered and cut here from every message and lead of the cards
    # (and the calls above), as the calls are; insights are summed from the same rows and
    # every job and invoice; a card shows its five newest documents, their lines read at once.
    messages = await _children(db, "message", "ORDER BY id", ids)
    leads = await _children(db, "lead", "ORDER BY id", ids)
    quotes = await _children(db, "quote", "ORDER BY id DESC", ids)
    jobs = await _children(db, "job", "ORDER BY id DESC", ids)
    invoices = await _children(db, "invoice", "ORDER BY id DESC", ids)
    shown_quotes = [q["id"] for rows in quotes.values() for q in rows[:DOCUMENTS_PAGE]]
    shown_invoices = [i["id"] for rows in invoices.values() for i in rows[:DOCUMENTS_PAGE]]
    items: dict[tuple[str, int], list[Row]] = defaultdict(list)
    if shown_quotes or shown_invoices:
        q, n = len(shown_quotes), len(shown_invoices)
        for row in await db.fetch(
            f"SELECT * FROM line_item WHERE quote_id IN ({marks(1, q) or 'NULL'})"
            f" OR invoice_id IN ({marks(q + 1, n) or 'NULL'}) ORDER BY position, id",
            *shown_quotes,
            *shown_invoices,
        ):
            owner = (
                ("quote", row["quote_id"]) if row["quote_id"] is not None else ("invoice", row["invoice_id"])
            )
            items[owner].append(row)
    (account,) = await db.fetch("SELECT currency FROM account WHERE id = $1", account_id)
    # Issue 12's header, profile, referrals and rewards: the profile rows; the inviters and
    # every invited contact in one read (with whether each sent a form: the referral count);
    # the live forms of the first leads (the flow links); every ledger line, summed here.
    profiles = {
        r["contact_id"]: r
        for r in await db.fetch(
            f"SELECT * FROM contact_profile WHERE contact_id IN ({marks(1, len(ids))})", *ids
        )
    }
    inviter_ids = sorted({c["inviter_id"] for c in contacts if c["inviter_id"] is not None})
    related = await db.fetch(
        "SELECT c.id, c.first_name, c.last_name, c.business_name, c.email, c.inviter_id,"
        " EXISTS (SELECT 1 FROM lead l WHERE l.contact_id = c.id) AS has_lead FROM contact c"
        " WHERE c.account_id = $1 AND c.merged_into_id IS NULL"
        f" AND (c.id IN ({marks(2, len(inviter_ids)) or 'NULL'})"
        f" OR c.inviter_id IN ({marks(2 + len(inviter_ids), len(ids))})) ORDER BY c.id",
        account_id,
        *inviter_ids,
        *ids,
    )
    first_leads = {
        cid: min(rows, key=lambda r: (_dt(r["submitted_at"]), r["id"])) for cid, rows in leads.items() if rows
    }
    form_ids = sorted({r["form_id"] for r in first_leads.values() if r["form_id"] is not None})
    form_keys = (
        {
            r["id"]: r["key"]
            for r in await db.fetch(
                "SELECT id, key FROM lead_form WHERE account_id = $1 AND revoked_at IS NULL"
                f" AND id IN ({marks(2, len(form_ids))})",
                account_id,
                *form_ids,
            )
        }
        if form_ids
        else {}
    )
    ledger = _grouped(
        await db.fetch(
            "SELECT * FROM reward_entry WHERE account_id = $1"
            f" AND contact_id IN ({marks(2, len(ids))}) ORDER BY id DESC",
            account_id,
            *ids,
        )
    )
    # Custom fields: the account's live definitions, and the cards' values in one read.
    definitions = await db.fetch(
        "SELECT id, key, label, type, options, required, default_value FROM custom_field"
        " WHERE account_id = $1 AND archived_at IS NULL ORDER BY id",
        account_id,
    )
    values = {
        (r["contact_id"], r["field_id"]): r
        for r in await db.fetch(
            f"SELECT * FROM custom_field_value WHERE contact_id IN ({marks(1, len(ids))})", *ids
        )
    }
    # Issue 13: every task of the cards (put in the task order, cut and merged with the calls to
    # come here), every file and recording, newest first (a call's recording is its newest), and
    # the recorded calls' share links that are not revoked (the expired ones left out here).
    tasks = await _children(db, "task", "ORDER BY id", ids)
    files = await _children(db, "attachment", "ORDER BY id DESC", ids)
    recorded = sorted({r["call_id"] for rows in files.values() for r in rows if r["kind"] == "RECORDING"})
    shares = (
        await db.fetch(
            "SELECT call_id, salt, expires_at FROM recording_share WHERE account_id = $1"
            f" AND revoked_at IS NULL AND call_id IN ({marks(2, len(recorded))}) ORDER BY id DESC",
            account_id,
            *recorded,
        )
        if recorded
        else []
    )
    user_ids = {c[k] for c in contacts for k in ("setter_owner_id", "closer_owner_id", "assigned_to_id")}
    for rows, column in (
        (calls, "booked_by_id"),
        (deals, "created_by_id"),
        (notes, "author_id"),
        (newest, "actor_user_id"),
        (oldest, "actor_user_id"),
        (messages, "author_id"),
        (quotes, "created_by_id"),
        (jobs, "assignee_id"),
        (ledger, "created_by_id"),
        (tasks, "assignee_id"),
        (tasks, "owner_id"),
        (tasks, "completed_by_id"),
        (files, "uploaded_by_id"),
    ):
        user_ids.update(r[column] for section in rows.values() for r in section)
    wanted = sorted(user_ids - {None})
    users = {
        u["id"]: u["name"]
        for u in await db.fetch(
            f"SELECT id, name FROM app_user WHERE account_id = $1 AND id IN ({marks(2, len(wanted))})",
            account_id,
            *wanted,
        )
    }
    sections = _Sections(users, tags, utms, answers, calls, deals, notes, newest, oldest, totals)
    work = _Work(sections, tasks, files, shares, base_url)
    billing = _Billing(sections, quotes, jobs, invoices, items, account["currency"])
    referrals = _Referrals(
        sections, account["currency"], base_url, profiles, related, first_leads, form_keys, ledger
    )
    return [
        sections.card(c)
        | billing.card(c, messages.get(c["id"], []), leads.get(c["id"], []))
        | referrals.card(c)
        | {"customFields": _custom_fields(c["id"], definitions, values)}
        | work.card(c)
        for c in contacts
    ]


def _custom_fields(cid: int, definitions: list[Row], values: dict[tuple[int, int], Row]) -> list[Row]:
    shown = []
    for d in definitions:
        row = values.get((cid, d["id"]))
        if row is not None:
            row = dict(row) | {"value_json": _json(row["value_json"])}
        value = custom_values.shown(d["type"], row)
        default = _json(d["default_value"])
        field = {
            "key": d["key"],
            "label": d["label"],
            "type": d["type"],
            "options": _json(d["options"]),
            "required": bool(d["required"]),
        }
        if value is None:
            shown.append({"field": field, "value": (default or {}).get("value"), "isSet": False})
        else:
            shown.append({"field": field, "value": value, "isSet": True})
    return shown


# --------------------------------------------------------------------------------------
# Shaping: rows into the GraphQL response's JSON
# --------------------------------------------------------------------------------------


class _Sections:
    """The rows of every section, by contact; `card()` shapes one contact's card from them."""

    def __init__(
        self,
        users: dict[int, str],
        tags: dict[int, list[Row]],
        utms: dict[int, list[Row]],
        answers: dict[int, list[Row]],
        calls: dict[int, list[Row]],
        deals: dict[int, list[Row]],
        notes: dict[int, list[Row]],
        newest: dict[int, list[Row]],
        oldest: dict[int, list[Row]],
        totals: dict[int, int],
    ) -> None:
        self.users, self.tags, self.utms, self.answers = users, tags, utms, answers
        self.calls, self.deals, self.notes = calls, deals, notes
        self.newest, self.oldest, self.totals = newest, oldest, totals
        self.now = datetime.now(UTC)
        self.recordings: dict[int, Row] = {}  # by call id, shaped (set by _Work)

    def owner(self, user_id: int | None) -> Row | None:
        return (
            {"id": to_base64("User", user_id), "name": self.users[user_id]} if user_id in self.users else None
        )

    def named(self, user_id: int | None) -> dict[str, str] | None:
        return {"name": self.users[user_id]} if user_id in self.users else None

    def journey_page(self, rows: list[Row]) -> Row:
        edges = [
            {
                "cursor": encode_cursor("journey", r["id"]),
                "node": {
                    "kind": r["kind"],
                    "occurredAt": _iso(r["occurred_at"]),
                    "summary": r["summary"],
                    "subjectId": to_base64(r["subject_type"], r["subject_id"])
                    if r["subject_type"] and r["subject_id"] is not None
                    else None,
                    "actor": {
                        "kind": r["actor_kind"],
                        "name": r["actor_name"],
                        "user": self.named(r["actor_user_id"]),
                    },
                    "changes": [
                        {"field": k, "before": pair[0], "after": pair[1]}
                        for k, pair in (_json(r["changes"]) or {}).items()
                    ],
                },
            }
            for r in rows[:JOURNEY_PAGE]
        ]
        return {
            "pageInfo": {
                "hasNextPage": len(rows) > JOURNEY_PAGE,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
            "edges": edges,
        }

    def call(self, r: Row) -> Row:
        scheduled = _dt(r["scheduled_at"])
        assert scheduled is not None
        return {
            "id": to_base64("Call", r["id"]),
            "eventName": r["event_name"],
            "scheduledAt": scheduled.isoformat(),
            "endsAt": (scheduled + timedelta(minutes=r["duration_minutes"])).isoformat(),
            "durationMinutes": r["duration_minutes"],
            "status": r["status"],
            "outcome": r["outcome"],
            "recordingUrl": r["recording_url"],
            "rescheduleCount": r["reschedule_count"],
            "badges": _badges(r, scheduled > self.now),
            "bookedBy": self.named(r["booked_by_id"]),
            "recording": self.recordings.get(r["id"]),
        }

    def card(self, c: Row) -> Row:
        cid = c["id"]
        calls = self.calls.get(cid, [])
        address = {k: c[k] for k in ("street", "city", "state", "zip", "country")}
        last_booked = (
            max(calls, key=lambda r: (_dt(r["created_at"]), r["id"]))["event_name"] if calls else None
        )
        return {
            "id": to_base64("Contact", cid),
            "displayName": display_name(c["first_name"], c["last_name"], c["business_name"], c["email"]),
            "firstName": c["first_name"],
            "lastName": c["last_name"],
            "businessName": c["business_name"],
            "title": c["title"],
            "contactType": c["contact_type"],
            "email": c["email"],
            "secondaryEmail": c["secondary_email"],
            "phone": c["phone"],
            "secondaryPhone": c["secondary_phone"],
            "ipAddress": c["ip_address"],
            "status": c["status"],
            "subStatus": c["sub_status"],
            "convertedAt": _iso(c["converted_at"]),
            "createdAt": _iso(c["created_at"]),
            "updatedAt": _iso(c["updated_at"]),
            "leadSource": c["lead_source"],
            "actionPlan": c["action_plan"],
            "salesCycle": c["sales_cycle"],
            "address": address if any(address.values()) else None,
            "setterOwner": self.owner(c["setter_owner_id"]),
            "closerOwner": self.owner(c["closer_owner_id"]),
            "assignedTo": self.owner(c["assigned_to_id"]),
            "tags": [{"id": to_base64("Tag", t["id"]), "name": t["name"]} for t in self.tags.get(cid, [])],
            "utms": [
                {k: u[k] for k in ("source", "medium", "campaign", "term", "content")}
                | {"capturedAt": _iso(u["captured_at"])}
                for u in self.utms.get(cid, [])
            ],
            "formAnswers": [
                {
                    "question": a["question"],
                    "answer": a["answer"],
                    "form": a["form"],
                    "answeredAt": _iso(a["answered_at"]),
                }
                for a in self.answers.get(cid, [])
            ],
            "lastBookedEvent": last_booked,
            "journey": {"totalCount": self.totals.get(cid, 0), **self.journey_page(self.newest.get(cid, []))},
            "earliest": self.journey_page(self.oldest.get(cid, [])),
            "upcoming": [self.call(r) for r in calls if _dt(r["scheduled_at"]) > self.now],  # type: ignore[operator]
            "past": [self.call(r) for r in reversed(calls) if _dt(r["scheduled_at"]) <= self.now],  # type: ignore[operator]
            "deals": [
                {
                    "id": to_base64("Deal", d["id"]),
                    "productName": d["product_name"],
                    "amount": money.text(Decimal(d["amount"]), d["currency"]),  # "1499.50" USD
                    "currency": d["currency"],
                    "paymentType": d["payment_type"],
                    "status": d["status"],
                    "recurring": bool(d["recurring"]),
                    "closedAt": _iso(d["closed_at"]),
                    "likelihood": d["likelihood"],
                    "closeDate": _day(d["close_date"]),
                    "createdAt": _iso(d["created_at"]),
                    "createdBy": self.named(d["created_by_id"]),
                }
                for d in self.deals.get(cid, [])
            ],
            "notes": [
                {
                    "id": to_base64("Note", n["id"]),
                    "body": n["body"],
                    "text": visible_text(n["body"]),
                    "createdAt": _iso(n["created_at"]),
                    "author": self.named(n["author_id"]),
                }
                for n in self.notes.get(cid, [])
            ],
        }


class _Billing:
    """Issue 12's sections of a card: the communication history, insights, quotes, jobs and
    invoices, shaped from the rows read in build_cards."""

    def __init__(
        self,
        sections: _Sections,
        quotes: dict[int, list[Row]],
        jobs: dict[int, list[Row]],
        invoices: dict[int, list[Row]],
        items: dict[tuple[str, int], list[Row]],
        currency: str,
    ) -> None:
        self.s, self.quotes, self.jobs, self.invoices, self.items = sections, quotes, jobs, invoices, items
        self.currency = currency
        self.quote_by_id = {q["id"]: q for rows in quotes.values() for q in rows}
        self.job_by_id = {j["id"]: j for rows in jobs.values() for j in rows}
        self.today = datetime.now(UTC).date()

    def history(self, calls: list[Row], messages: list[Row], leads: list[Row]) -> list[tuple[Any, ...]]:
        """(at, kind, id, channel, direction, row), newest first."""
        found = [(_dt(r["scheduled_at"]), CALL, r["id"], "CALL", r["direction"], r) for r in calls]
        found += [(_dt(r["created_at"]), MESSAGE, r["id"], r["channel"], r["direction"], r) for r in messages]
        found += [(_dt(r["submitted_at"]), LEAD, r["id"], "WEBFORM", "INBOUND", r) for r in leads]
        found.sort(key=lambda item: item[:3], reverse=True)
        return found

    def node(self, kind: int, r: Row) -> Row:
        if kind == CALL:
            return {
                "__typename": "Call",
                "id": to_base64("Call", r["id"]),
                "eventName": r["event_name"],
                "scheduledAt": _iso(r["scheduled_at"]),
                "outcome": r["outcome"],
                "summary": r["summary"],
            }
        if kind == MESSAGE:
            return {
                "__typename": "Message",
                "id": to_base64("Message", r["id"]),
                "channel": r["channel"],
                "subject": r["subject"],
                "body": r["body"],
                "author": self.s.named(r["author_id"]),
            }
        return {
            "__typename": "Lead",
            "id": to_base64("Lead", r["id"]),
            "formName": r["form_name"],
            "variant": r["variant"],
            "submittedAt": _iso(r["submitted_at"]),
        }

    def communications(self, history: list[tuple[Any, ...]]) -> Row:
        edges = []
        for at, kind, item_id, channel, direction, row in history[:HISTORY_PAGE]:
            micros = (at - _EPOCH) // timedelta(microseconds=1)
            edges.append(
                {
                    "cursor": encode_cursor("communication", f"{micros}.{kind}.{item_id}"),  # type: ignore[arg-type]
                    "channel": channel,
                    "at": at.isoformat(),
                    "direction": direction,
                    "node": self.node(kind, row),
                }
            )
        return {
            "totalCount": len(history),
            "pageInfo": {
                "hasNextPage": len(history) > HISTORY_PAGE,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
            "edges": edges,
        }

    def insights(self, c: Row, history: list[tuple[Any, ...]], deals: list[Row]) -> Row:
        cid = c["id"]
        jobs, invoices = self.jobs.get(cid, []), self.invoices.get(cid, [])
        since = [_dt(d["closed_at"]) for d in deals if d["status"] == "WON" and d["closed_at"] is not None]
        since += [
            _dt(j["completed_at"]) for j in jobs if j["status"] == "DONE" and j["completed_at"] is not None
        ]
        since += [
            _dt(i["paid_at"])
            for i in invoices
            if i["status"] in ("PAID", "PARTIALLY_PAID") and i["paid_at"] is not None
        ]
        customer_since = _dt(c["converted_at"]) or (min(since) if since else None)  # type: ignore[type-var]
        value = sum(
            (
                Decimal(str(d["amount"]))
                for d in deals
                if d["status"] == "WON" and d["currency"] == self.currency
            ),
            Decimal(0),
        ) + sum(
            (
                Decimal(str(i["amount_paid"]))
                for i in invoices
                if i["status"] != "VOID" and i["currency"] == self.currency
            ),
            Decimal(0),
        )
        happened = [
            h for h in history if h[1] != CALL or h[5]["direction"] is not None or h[5]["outcome"] is not None
        ]
        counts: dict[str, int] = defaultdict(int)
        newest: dict[str, int] = {}
        for rank, h in enumerate(happened):
            counts[h[3]] += 1
            newest.setdefault(h[3], rank)
        common = min(counts, key=lambda ch: (-counts[ch], newest[ch])) if counts else None
        last = None
        if happened:
            at, kind, _, channel, _, r = happened[0]
            if kind == CALL:
                label = r["outcome"].replace("_", " ").capitalize() if r["outcome"] else None
                said = r["summary"] or (None if label else r["event_name"])
                summary = _summary(": ".join(part for part in (label, said) if part))
            elif kind == MESSAGE:
                summary = _summary(r["body"][:2000])
            else:
                summary = _summary(r["form_name"])
            last = {"at": at.isoformat(), "channel": channel, "summary": summary}
        return {
            "customerSince": customer_since.isoformat() if customer_since else None,
            "jobsCompleted": sum(1 for j in jobs if j["status"] == "DONE"),
            "lifetimeValue": {"amount": _money(value, self.currency), "currency": self.currency},
            "mostCommonChannel": common,
            "lastInteraction": last,
        }

    def lines(self, owner: str, document_id: int, currency: str) -> list[Row]:
        shaped = []
        for r in self.items.get((owner, document_id), []):
            quantity, price, rate = (Decimal(str(r[k])) for k in ("quantity", "unit_price", "tax_rate"))
            shaped.append(
                {
                    "description": r["description"],
                    "quantity": _plain(quantity),
                    "unitPrice": _money(price, currency),
                    "taxRate": _plain(rate),
                    "total": _money(line_totals(quantity, price, rate, currency).total, currency),
                }
            )
        return shaped

    def quote_number(self, quote_id: int | None) -> Row | None:
        quote = self.quote_by_id.get(quote_id) if quote_id is not None else None
        return {"number": quote["number"]} if quote else None

    def documents(self, cid: int) -> Row:
        quotes = [
            {
                "id": to_base64("Quote", q["id"]),
                "number": q["number"],
                "title": q["title"],
                "status": q["status"],
                "total": _money(q["total"], q["currency"]),
                "validUntil": _day(q["valid_until"]),
                "createdBy": self.s.named(q["created_by_id"]),
                "lineItems": self.lines("quote", q["id"], q["currency"]),
            }
            for q in self.quotes.get(cid, [])[:DOCUMENTS_PAGE]
        ]
        jobs = [
            {
                "id": to_base64("Job", j["id"]),
                "title": j["title"],
                "status": j["status"],
                "scheduledStart": _iso(j["scheduled_start"]),
                "completedAt": _iso(j["completed_at"]),
                "assignee": self.s.named(j["assignee_id"]),
                "quote": self.quote_number(j["quote_id"]),
            }
            for j in self.jobs.get(cid, [])[:DOCUMENTS_PAGE]
        ]
        invoices = []
        for i in self.invoices.get(cid, [])[:DOCUMENTS_PAGE]:
            c = i["currency"]
            total, paid = Decimal(str(i["total"])), Decimal(str(i["amount_paid"]))
            due = i["due_date"]
            due_day = date.fromisoformat(due) if isinstance(due, str) else due
            job = self.job_by_id.get(i["job_id"]) if i["job_id"] is not None else None
            invoices.append(
                {
                    "id": to_base64("Invoice", i["id"]),
                    "number": i["number"],
                    "title": i["title"],
                    "status": i["status"],
                    "total": _money(total, c),
                    "amountPaid": _money(paid, c),
                    "balanceDue": _money(total - paid, c),
                    "dueDate": _day(due),
                    "overdue": i["status"] in ("SENT", "PARTIALLY_PAID")
                    and due_day is not None
                    and due_day < self.today,
                    "paidAt": _iso(i["paid_at"]),
                    "quote": self.quote_number(i["quote_id"]),
                    "job": {"title": job["title"]} if job else None,
                    "lineItems": self.lines("invoice", i["id"], c),
                }
            )
        return {"quotes": {"nodes": quotes}, "jobs": {"nodes": jobs}, "invoices": {"nodes": invoices}}

    def card(self, c: Row, messages: list[Row], leads: list[Row]) -> Row:
        cid = c["id"]
        history = self.history(self.s.calls.get(cid, []), messages, leads)
        return {
            "communications": self.communications(history),
            "insights": self.insights(c, history, self.s.deals.get(cid, [])),
        } | self.documents(cid)


class _Referrals:
    """Issue 12's header and profile, referrals, rewards and opt-ins of a card, shaped from the
    rows read in build_cards: the opportunity from the card's deals, the rewards' figures from
    its whole ledger."""

    def __init__(
        self,
        sections: _Sections,
        currency: str,
        base_url: str,
        profiles: dict[int, Row],
        related: list[Row],
        first_leads: dict[int, Row],
        form_keys: dict[int, str],
        ledger: dict[int, list[Row]],
    ) -> None:
        self.s, self.currency, self.base_url = sections, currency, base_url
        self.profiles, self.first_leads, self.form_keys, self.ledger = (
            profiles,
            first_leads,
            form_keys,
            ledger,
        )
        self.by_id = {r["id"]: r for r in related}
        self.invited: dict[int, list[Row]] = defaultdict(list)
        for r in related:
            if r["inviter_id"] is not None:
                self.invited[r["inviter_id"]].append(r)

    def opportunity(self, deals: list[Row]) -> Row:
        mine = [(Decimal(str(d["amount"])), d) for d in deals if d["currency"] == self.currency]
        open_ = [(amount, d) for amount, d in mine if d["status"] == "OPEN"]
        weighted = [(amount, d["likelihood"]) for amount, d in open_ if d["likelihood"] is not None]
        weight = sum((amount for amount, _ in weighted), Decimal(0))
        likelihood = None
        if weight:
            mean = sum((amount * chance for amount, chance in weighted), Decimal(0)) / weight
            likelihood = int(mean.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        closing = [_day(d["close_date"]) for _, d in open_ if d["close_date"] is not None]

        def total(rows: list[tuple[Decimal, Row]]) -> Row:
            value = sum((amount for amount, _ in rows), Decimal(0))
            return {"amount": _money(value, self.currency), "currency": self.currency}

        return {
            "dealSize": total([(a, d) for a, d in mine if d["status"] != "LOST"]),
            "quoted": total(open_),
            "closed": total([(a, d) for a, d in mine if d["status"] == "WON"]),
            "likelihood": likelihood,
            "closeDate": min(closing) if closing else None,  # type: ignore[type-var]
            "excludedDeals": sum(1 for d in deals if d["currency"] != self.currency),
        }

    def profile(self, cid: int) -> Row:
        row = self.profiles.get(cid)
        shaped: Row = {}
        for spec in PROFILE_FIELDS:
            value: Any = None
            if row is None:
                pass
            elif spec.kind is ProfileKind.MONEY:
                amount, currency = row[f"{spec.name}_amount"], row[f"{spec.name}_currency"]
                value = None if amount is None else {"amount": _money(amount, currency), "currency": currency}
            elif spec.kind is ProfileKind.ANNIVERSARY:
                when = row[f"{spec.name}_date"]
                value = None if when is None else {"date": _day(when), "label": row[f"{spec.name}_label"]}
            elif spec.kind is ProfileKind.DATE:
                value = _day(row[spec.name])
            elif spec.kind is ProfileKind.BOOL:
                value = None if row[spec.name] is None else bool(row[spec.name])
            else:
                value = row[spec.name]
            shaped[spec.api] = value
        if row is not None:
            born = row["birth_date"]
            shaped["age"] = effective_age(
                date.fromisoformat(born) if isinstance(born, str) else born, row["age"]
            )
        return shaped

    def person(self, r: Row) -> Row:
        return {
            "id": to_base64("Contact", r["id"]),
            "displayName": display_name(r["first_name"], r["last_name"], r["business_name"], r["email"]),
        }

    def referral(self, c: Row) -> Row:
        cid, code = c["id"], c["referral_code"]
        invited = self.invited.get(cid, [])
        shown = invited[:INVITED_PAGE]
        first = self.first_leads.get(cid)
        key = self.form_keys.get(first["form_id"]) if first is not None and first["form_id"] else None
        inviter = self.by_id.get(c["inviter_id"]) if c["inviter_id"] is not None else None
        return {
            "referralCode": code,
            "referralLink": referral_link(code, self.base_url),
            "flowLink": f"{self.base_url}/forms/{key}" if key else None,
            "referralCount": sum(1 for r in invited if r["has_lead"]),
            "inviter": self.person(inviter) if inviter is not None else None,
            "invited": {
                "pageInfo": {
                    "hasNextPage": len(invited) > INVITED_PAGE,
                    "endCursor": encode_cursor("invited", shown[-1]["id"]) if shown else None,
                },
                "nodes": [self.person(r) for r in shown],
            },
        }

    def rewards(self, c: Row) -> Row:
        lines = self.ledger.get(c["id"], [])
        groups: dict[tuple[str, bool], list[Row]] = defaultdict(list)
        for r in lines:
            groups[(r["kind"], bool(r["direct"]))].append(r)
        totals = totals_of(
            [
                (kind, direct, rows[0]["currency"], sum(r["amount_units"] for r in rows), len(rows),
                 max(_dt(r["created_at"]) for r in rows))  # type: ignore[type-var]
                for (kind, direct), rows in groups.items()
            ]
        )  # fmt: skip
        currency = totals.currency or self.currency

        def shown(units: int) -> Row:
            return {"amount": _money(from_units(units), currency), "currency": currency}

        page = lines[:LEDGER_PAGE]
        edges = [
            {
                "cursor": encode_cursor("reward", r["id"]),
                "node": {
                    "kind": r["kind"],
                    "amount": {
                        "amount": _money(from_units(r["amount_units"]), r["currency"]),
                        "currency": r["currency"],
                    },
                    "reason": r["reason"],
                    "promoCode": r["promo_code"],
                    "direct": bool(r["direct"]),
                    "createdByName": r["created_by_name"],
                    "createdAt": _iso(r["created_at"]),
                    "createdBy": self.s.named(r["created_by_id"]),
                },
            }
            for r in page
        ]
        return {
            "toBeIssued": shown(totals.to_be_issued(c["converted_at"] is not None)),
            "totalEarned": shown(totals.earned),
            "amountIssued": shown(totals.issued),
            "lastIssuedAt": _iso(totals.last_issued_at),
            "balance": shown(totals.balance),
            "promosRedeemed": totals.promos,
            "preferredReward": c["preferred_reward"] or currency,
            "ledger": {
                "pageInfo": {
                    "hasNextPage": len(lines) > LEDGER_PAGE,
                    "endCursor": edges[-1]["cursor"] if edges else None,
                },
                "edges": edges,
            },
        }

    @staticmethod
    def opt_in(c: Row, name: str) -> Row:
        return {
            "optedIn": bool(c[f"{name}_opt_in"]),
            "at": _iso(c[f"{name}_opt_in_at"]),
            "source": c[f"{name}_opt_in_source"],
        }

    def card(self, c: Row) -> Row:
        return {
            "opportunity": self.opportunity(self.s.deals.get(c["id"], [])),
            "profile": self.profile(c["id"]),
            "referral": self.referral(c),
            "rewards": self.rewards(c),
            "privacyOptIn": self.opt_in(c, "privacy"),
            "communicationOptIn": self.opt_in(c, "communication"),
        }


class _Work:
    """Issue 13's sections of a card: tasks, upcoming actions (open dated tasks and calls to
    come, merged by time; at a tie tasks first, then by id), files and the calls' recordings,
    shaped from the rows read in build_cards."""

    def __init__(
        self,
        sections: _Sections,
        tasks: dict[int, list[Row]],
        files: dict[int, list[Row]],
        shares: list[Row],
        base_url: str,
    ) -> None:
        self.s, self.tasks, self.files = sections, tasks, files
        salts: dict[int, str] = {}
        for r in shares:  # newest first: the first active one of a call is its shareUrl
            expires = _dt(r["expires_at"])
            if expires is not None and expires > sections.now:
                salts.setdefault(r["call_id"], r["salt"])
        for rows in files.values():
            for r in rows:
                if r["kind"] == "RECORDING" and r["call_id"] not in sections.recordings:
                    salt = salts.get(r["call_id"])
                    sections.recordings[r["call_id"]] = {
                        "duration": r["duration_seconds"],
                        "filename": r["filename"],
                        "contentType": r["content_type"],
                        "size": r["size"],
                        "attachmentId": to_base64("Attachment", r["id"]),
                        "shareUrl": share_url(salt, base_url) if salt else None,
                    }

    @staticmethod
    def position(r: Row) -> tuple[int, datetime | None, int]:
        """(rank, due time in UTC for an open dated task, id): the task order, and the cursor."""
        if r["status"] != "OPEN":
            return CLOSED, None, r["id"]
        due = due_time(_dt(r["due_at"]), None)
        return (UNDATED, None, r["id"]) if due is None else (DATED, due, r["id"])

    @staticmethod
    def order(r: Row) -> tuple[int, datetime, int]:
        rank, due, task_id = _Work.position(r)
        return rank, due or _EPOCH, -task_id if rank == CLOSED else task_id

    @staticmethod
    def cursor(r: Row) -> str:
        rank, due, task_id = _Work.position(r)
        at = "" if due is None else str((due - _EPOCH) // timedelta(microseconds=1))
        return base64.urlsafe_b64encode(f"task:{rank}.{at}.{task_id}".encode()).decode()

    def task(self, r: Row) -> Row:
        due = due_time(_dt(r["due_at"]), r["due_offset_minutes"])
        minutes = r["duration_minutes"]
        return {
            "id": to_base64("Task", r["id"]),
            "kind": r["kind"],
            "title": r["title"],
            "body": r["body"],
            "dueAt": due.isoformat() if due else None,
            "durationMinutes": minutes,
            "endsAt": (due + timedelta(minutes=minutes)).isoformat() if due and minutes is not None else None,
            "status": r["status"],
            "completedAt": _iso(r["completed_at"]),
            "createdAt": _iso(r["created_at"]),
            "assignee": self.s.named(r["assignee_id"]),
            "owner": self.s.named(r["owner_id"]),
            "completedBy": self.s.named(r["completed_by_id"]),
        }

    def upcoming(self, tasks: list[Row], calls: list[Row]) -> list[Row]:
        found: list[tuple[datetime, int, int, Row]] = [
            (due, 1, r["id"], r)
            for r in tasks
            if r["status"] == "OPEN" and (due := due_time(_dt(r["due_at"]), None)) is not None
        ]
        found += [
            (at, 2, r["id"], r)
            for r in calls
            if r["status"] == "SCHEDULED" and (at := _dt(r["scheduled_at"])) is not None and at >= self.s.now
        ]
        found.sort(key=lambda item: item[:3])
        shaped = []
        for at, kind, _, r in found[:ACTIONS_PAGE]:
            if kind == 1:
                task = self.task(r)
                shaped.append(
                    {"__typename": "Task"} | {k: task[k] for k in ("id", "title", "dueAt", "assignee")}
                )
            else:
                shaped.append(
                    {
                        "__typename": "Call",
                        "id": to_base64("Call", r["id"]),
                        "eventName": r["event_name"],
                        "scheduledAt": at.isoformat(),
                        "bookedBy": self.s.named(r["booked_by_id"]),
                    }
                )
        return shaped

    def attachment(self, r: Row) -> Row:
        return {
            "id": to_base64("Attachment", r["id"]),
            "kind": r["kind"],
            "title": r["title"],
            "filename": r["filename"],
            "contentType": r["content_type"],
            "size": r["size"],
            "sha256": r["sha256"],
            "createdAt": _iso(r["created_at"]),
            "uploadedBy": self.s.named(r["uploaded_by_id"]),
        }

    def card(self, c: Row) -> Row:
        cid = c["id"]
        tasks = sorted(self.tasks.get(cid, []), key=self.order)
        shown = tasks[:TASKS_PAGE]
        task_edges = [{"cursor": self.cursor(r), "node": self.task(r)} for r in shown]
        files = self.files.get(cid, [])
        file_edges = [
            {"cursor": encode_cursor("attachment", r["id"]), "node": self.attachment(r)}
            for r in files[:FILES_PAGE]
        ]
        return {
            "tasks": {
                "pageInfo": {
                    "hasNextPage": len(tasks) > TASKS_PAGE,
                    "endCursor": task_edges[-1]["cursor"] if task_edges else None,
                },
                "edges": task_edges,
            },
            "upcomingActions": self.upcoming(tasks, self.s.calls.get(cid, [])),
            "attachments": {
                "pageInfo": {
                    "hasNextPage": len(files) > FILES_PAGE,
                    "endCursor": file_edges[-1]["cursor"] if file_edges else None,
                },
                "edges": file_edges,
            },
        }


# --------------------------------------------------------------------------------------
# The two endpoints
# --------------------------------------------------------------------------------------


async def floor_card(db: FloorDB, api_key: str, contact_id: int, base_url: str) -> Row | None:
    """`{"contact": card}`; None when the key or the contact is unknown."""
    account_id = await account_of(db, api_key)
    if account_id is None:
        return None
    found = await db.fetch("SELECT * FROM contact WHERE id = $1 AND account_id = $2", contact_id, account_id)
    if not found:
        return None
    (card,) = await build_cards(db, account_id, found, base_url)
    return {"contact": card}


async def floor_contacts(db: FloorDB, api_key: str, first: int, base_url: str) -> Row | None:
    """`{"contacts": connection}`: the account's newest `first` live contacts (not archived or
    merged, as Dossier lists them), each a whole card."""
    account_id = await account_of(db, api_key)
    if account_id is None:
        return None
    live = "account_id = $1 AND archived_at IS NULL AND merged_into_id IS NULL"
    rows = await db.fetch(
        f"SELECT * FROM contact WHERE {live} ORDER BY id DESC LIMIT $2", account_id, first + 1
    )
    (total,) = await db.fetch(f"SELECT COUNT(*) AS n FROM contact WHERE {live}", account_id)
    cards = await build_cards(db, account_id, rows[:first], base_url)
    edges = [
        {"cursor": encode_cursor("contact", c["id"]), "node": card}
        for c, card in zip(rows, cards, strict=False)
    ]
    return {
        "contacts": {
            "totalCount": total["n"],
            "pageInfo": {
                "hasNextPage": len(rows) > first,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
            "edges": edges,
        }
    }


class FloorEndpoint:
    """The floor's routes; the database is opened on first use, in the serving process."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._db: FloorDB | None = None
        self._lock = asyncio.Lock()

    async def db(self) -> FloorDB:
        async with self._lock:
            if self._db is None:
                self._db = await FloorDB(self._url).open()
        return self._db

    @property
    def statements(self) -> int:
        return self._db.statements if self._db is not None else 0

    async def close(self) -> None:
        """Close the floor's connection; an open aiosqlite thread keeps the process from exiting."""
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def card(self, request: Request) -> Response:
        token = bearer(request.headers.get("authorization"))
        data = (
            await floor_card(await self.db(), token, int(request.query_params["id"]), _base_url(request))
            if token
            else None
        )
        return _respond(data)

    async def contacts(self, request: Request) -> Response:
        token = bearer(request.headers.get("authorization"))
        data = (
            await floor_contacts(
                await self.db(), token, int(request.query_params["first"]), _base_url(request)
            )
            if token
            else None
        )
        return _respond(data)


def _base_url(request: Request) -> str:
    """Where Dossier's referral and flow links point (graph/schema/referrals.py's _base_url)."""
    return lead_service.settings.public_url or str(request.base_url).rstrip("/")


def _respond(data: Row | None) -> Response:
    if data is None:
        return Response(orjson.dumps({"error": "unknown key or contact"}), 404, media_type="application/json")
    return Response(orjson.dumps({"data": data}), media_type="application/json")
