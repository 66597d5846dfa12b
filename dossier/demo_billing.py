"""The demo's quotes, jobs and invoices (B3) on its rich cards.

Called by `dossier.demo` once the cards are written, in the seed's transaction. Each rich card
(100+ journey entries, not archived) gets, after its last journey entry (ids stay in time
order):

- an ACCEPTED quote (3 widgets at 19.99 with 8.25 % tax, and labour), a DONE job carrying it
  out (assigned to the account's rep) and a PAID invoice made from the job;
- a SENT quote for an upgrade, valid for two more weeks;
- a SCHEDULED job next week;
- an invoice for parts, SENT and due ten days ago: overdue, partly paid on every other card.

Rows are written as crm/services/billing.py writes them (its totals, numbers and journey
snapshots); there are no outbox rows, as for the rest of the demo.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from crm import money
from crm.journey import JourneyKind
from crm.models import Contact, DocumentCounter, Invoice, Job, JourneyEvent, LineItem, Quote, User
from crm.services import billing
from dossier.demo_lifecycle import _entry, _times_or_none
from dossier.demo_rich import rich_contact_ids


def _item(description: str, quantity: str, unit_price: str, tax_rate: str) -> dict[str, Any]:
    return {
        "description": description,
        "quantity": Decimal(quantity),
        "unit_price": Decimal(unit_price),
        "tax_rate": Decimal(tax_rate),
    }


MAIN_ITEMS = [
    _item("Smart thermostat", "3", "19.99", "8.25"),
    _item("Installation labour (hours)", "2.5", "85", "0"),
]
UPGRADE_ITEMS = [_item("Zoned heating upgrade", "1", "1999.50", "8.25")]
PARTS_ITEMS = [_item("Replacement filters", "4", "12.75", "8.25")]


class _Numbers:
    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self.last = {"QUOTE": 0, "INVOICE": 0}

    def next(self, kind: str, prefix: str) -> str:
        self.last[kind] += 1
        return f"{prefix}-{self.last[kind]:04d}"

    async def save(self, conn: BaseDBAsyncClient) -> None:
        await DocumentCounter.bulk_create(
            [
                DocumentCounter(account_id=self.account_id, kind=k, last_number=n)
                for k, n in self.last.items()
                if n
            ],
            using_db=conn,
        )


async def seed_billing(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    rich = await rich_contact_ids(conn, account_id)
    live = set(
        await Contact.filter(id__in=rich, archived_at__isnull=True, merged_into_id__isnull=True)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    users = (
        await User.filter(account_id=account_id).using_db(conn).order_by("id").values("id", "name", "role")
    )
    rep = next((u for u in users if u["role"] == "rep"), users[-1])
    numbers = _Numbers(account_id)
    for k, contact_id in enumerate(c for c in rich if c in live):
        await _card(conn, account_id, contact_id, now, rep, numbers, partly_paid=k % 2 == 0)
    await numbers.save(conn)


async def _after_last(conn: BaseDBAsyncClient, contact_id: int, count: int) -> list[datetime]:
    """A card whose history runs up to now: a millisecond apart after its last entry (as the
    profile demo does), so id order stays time order."""
    last = await JourneyEvent.filter(contact_id=contact_id).using_db(conn).order_by("-id").first()
    assert last is not None
    return [last.occurred_at + timedelta(milliseconds=i + 1) for i in range(count)]


async def _card(
    conn: BaseDBAsyncClient,
    account_id: int,
    contact_id: int,
    now: datetime,
    rep: dict[str, Any],
    numbers: _Numbers,
    *,
    partly_paid: bool,
) -> None:
    times = iter(await _times_or_none(conn, contact_id, now, 16) or await _after_last(conn, contact_id, 16))
    entries: list[JourneyEvent] = []

    def journal(kind: JourneyKind, summary: str, changes: dict[str, Any], subject: Any, at: datetime) -> None:
        entries.append(
            _entry(
                contact_id, account_id, rep, at, kind, summary, changes, type(subject).__name__, subject.id
            )
        )

    async def new_quote(title: str, items: list[dict[str, Any]], status: str, valid_days: int) -> Quote:
        at = next(times)
        quote = Quote(
            account_id=account_id, contact_id=contact_id, number=numbers.next("QUOTE", "Q"), title=title,
            currency="USD", status="DRAFT", valid_until=(now + timedelta(days=valid_days)).date(),
            created_by_id=rep["id"],
        )  # fmt: skip
        billing.apply_totals(quote, items)
        await quote.save(using_db=conn)
        await LineItem.bulk_create(
            [LineItem(quote_id=quote.id, position=i, **item) for i, item in enumerate(items)], using_db=conn
        )
        created = billing.quote_subject(quote, items)
        total = money.display(quote.total, "USD")
        journal(
            JourneyKind.QUOTE_CREATED,
            f"drafted quote {quote.number}: {title}, {total}",
            billing.created_changes(created),
            quote,
            at,
        )
        for step in ("SENT", "ACCEPTED")[: ("DRAFT", "SENT", "ACCEPTED").index(status)]:
            at = next(times)
            before = billing.quote_subject(quote, items)
            quote.status = step
            if step == "SENT":
                quote.sent_at = at
            else:
                quote.decided_at = at
            await quote.save(using_db=conn)
            changes = billing.changed_fields(before, billing.quote_subject(quote, items))
            journal(
                JourneyKind.QUOTE_STATUS_CHANGED, f"marked quote {quote.number} {step}", changes, quote, at
            )
        return quote

    async def new_job(title: str, start: datetime, quote: Quote | None, done: bool) -> Job:
        at = next(times)
        job = Job(
            account_id=account_id, contact_id=contact_id, title=title, status="SCHEDULED",
            scheduled_start=start, scheduled_end=start + timedelta(hours=3), assignee_id=rep["id"],
            quote_id=quote.id if quote else None, created_by_id=rep["id"],
        )  # fmt: skip
        await job.save(using_db=conn)
        created = billing.created_changes(billing.job_subject(job))
        journal(
            JourneyKind.JOB_CREATED,
            f"scheduled the job {title} for {start:%Y-%m-%d %H:%M} UTC",
            created,
            job,
            at,
        )
        if done:
            at = next(times)
            before = billing.job_subject(job)
            job.status, job.completed_at = "DONE", at
            await job.save(using_db=conn)
            changes = billing.changed_fields(before, billing.job_subject(job))
            journal(JourneyKind.JOB_STATUS_CHANGED, f"marked the job {title} DONE", changes, job, at)
        return job

    async def new_invoice(
        title: str,
        items: list[dict[str, Any]],
        due_days: int,
        paid: Decimal | None,
        job: Job | None,
        quote: Quote | None,
    ) -> Invoice:
        at = next(times)
        invoice = Invoice(
            account_id=account_id, contact_id=contact_id, number=numbers.next("INVOICE", "INV"), title=title,
            currency="USD", status="DRAFT", amount_paid=Decimal(0),
            due_date=(now + timedelta(days=due_days)).date(),
            quote_id=quote.id if quote else None, job_id=job.id if job else None, created_by_id=rep["id"],
        )  # fmt: skip
        billing.apply_totals(invoice, items)
        await invoice.save(using_db=conn)
        await LineItem.bulk_create(
            [LineItem(invoice_id=invoice.id, position=i, **item) for i, item in enumerate(items)],
            using_db=conn,
        )
        created = billing.created_changes(billing.invoice_subject(invoice, items))
        total = money.display(invoice.total, "USD")
        journal(
            JourneyKind.INVOICE_CREATED, f"drafted invoice {invoice.number}: {total}", created, invoice, at
        )
        at = next(times)
        before = billing.invoice_subject(invoice, items)
        invoice.status, invoice.issued_at = "SENT", at
        await invoice.save(using_db=conn)
        changes = billing.changed_fields(before, billing.invoice_subject(invoice, items))
        journal(
            JourneyKind.INVOICE_STATUS_CHANGED, f"marked invoice {invoice.number} SENT", changes, invoice, at
        )
        if paid:
            at = next(times)
            before = billing.invoice_subject(invoice, items)
            invoice.amount_paid = paid
            invoice.status = "PAID" if paid == invoice.total else "PARTIALLY_PAID"
            invoice.paid_at = at if invoice.status == "PAID" else None
            await invoice.save(using_db=conn)
            payment = {"amount": money.text(paid, "USD"), "paidAt": at.isoformat()}
            changes = {
                **billing.changed_fields(before, billing.invoice_subject(invoice, items)),
                "payment": [None, payment],
            }
            shown = money.display(paid, "USD")
            summary = f"recorded a payment of {shown} on invoice {invoice.number} ({invoice.status})"
            journal(JourneyKind.INVOICE_PAYMENT_RECORDED, summary, changes, invoice, at)
        return invoice

    accepted = await new_quote("Thermostat install", MAIN_ITEMS, "ACCEPTED", 30)
    done = await new_job("Thermostat install", now - timedelta(days=4), accepted, done=True)
    await new_invoice("Thermostat install", MAIN_ITEMS, 14, accepted.total, done, accepted)
    await new_quote("Zoned heating upgrade", UPGRADE_ITEMS, "SENT", 14)
    await new_job("Annual maintenance visit", now + timedelta(days=7), None, done=False)
    await new_invoice("Filters", PARTS_ITEMS, -10, Decimal("20.00") if partly_paid else None, None, None)
    await JourneyEvent.bulk_create(entries, using_db=conn)
