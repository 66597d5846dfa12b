"""Quotes, jobs and invoices (B3): every write, its rules, its journey entry and its hook.

Money. Line items hold a quantity (> 0, at most 4 decimal places), a unit price (>= 0, at most
4 decimal places) and a tax rate in percent (0 to 100, at most 4 decimal places). Each line is
rounded on its own, half-up (ROUND_HALF_UP), to the currency's minor units (crm/money.py: USD 2,
JPY 0, BHD 3; 4 for a currency ISO gives none):

    line subtotal = round(quantity x unitPrice)
    line tax      = round(line subtotal x taxRate / 100)
    line total    = line subtotal + line tax

and a document's subtotal, tax and total are the sums of its lines' (so they always add up to
what the lines show). 3 x 19.99 USD at 8.25 %: subtotal 59.97, tax 4.947525 -> 4.95, total 64.92.
Every figure is shown with the currency's decimal places ("1999.50", JPY "2000").

States (a transition not listed is refused with CONFLICT and changes nothing):

- Quote: DRAFT -> SENT (needs a line item); SENT -> ACCEPTED | DECLINED | EXPIRED. Only a DRAFT
  changes its line items, currency or validUntil; title and notes change in any state. Expiry
  is stored, not derived: a SENT quote stays SENT past validUntil until someone sets EXPIRED,
  but it can no longer be ACCEPTED (CONFLICT saying so). A job links an ACCEPTED quote.
- Job: SCHEDULED -> IN_PROGRESS | DONE | CANCELLED; IN_PROGRESS -> SCHEDULED | DONE | CANCELLED;
  DONE -> IN_PROGRESS (reopened); CANCELLED -> SCHEDULED. completedAt is set when it becomes
  DONE and cleared when it leaves DONE.
- Invoice: DRAFT -> SENT (needs a line item; sets issuedAt) | VOID; SENT -> VOID.
  recordInvoicePayment moves SENT/PARTIALLY_PAID to PARTIALLY_PAID or, once amountPaid reaches
  the total, PAID (paidAt). An invoice with a payment cannot be voided; a paid or void one is
  final. Only a DRAFT changes its line items or currency. Voiding is for admins and managers.
- overdue: SENT or PARTIALLY_PAID and dueDate before today's date in UTC.

Reps, managers and admins may create and change all three (as with deals), except voiding.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from crm import money
from crm import validation as v
from crm.actor import Actor
from crm.clock import as_utc, utcnow
from crm.errors import BadInput, Conflict, Forbidden, NotFound
from crm.journey import JourneyKind
from crm.models import Account, DocumentCounter, Invoice, Job, LineItem, Quote
from crm.services import _scoped
from crm.services.lifecycle import refuse_archived
from crm.uow import UnitOfWork, unit_of_work


class QuoteStatus(StrEnum):
    DRAFT = "DRAFT"
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    EXPIRED = "EXPIRED"


class JobStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


class InvoiceStatus(StrEnum):
    DRAFT = "DRAFT"
    SENT = "SENT"
    PAID = "PAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    VOID = "VOID"


QUOTE_TRANSITIONS: dict[str, frozenset[str]] = {
    "DRAFT": frozenset({"SENT"}),
    "SENT": frozenset({"ACCEPTED", "DECLINED", "EXPIRED"}),
    "ACCEPTED": frozenset(),
    "DECLINED": frozenset(),
    "EXPIRED": frozenset(),
}
JOB_TRANSITIONS: dict[str, frozenset[str]] = {
    "SCHEDULED": frozenset({"IN_PROGRESS", "DONE", "CANCELLED"}),
    "IN_PROGRESS": frozenset({"SCHEDULED", "DONE", "CANCELLED"}),
    "DONE": frozenset({"IN_PROGRESS"}),
    "CANCELLED": frozenset({"SCHEDULED"}),
}
# By setInvoiceStatus; PARTIALLY_PAID and PAID come from recordInvoicePayment only.
INVOICE_TRANSITIONS: dict[str, frozenset[str]] = {
    "DRAFT": frozenset({"SENT", "VOID"}),
    "SENT": frozenset({"VOID"}),
    "PARTIALLY_PAID": frozenset(),
    "PAID": frozenset(),
    "VOID": frozenset(),
}
PAYABLE = frozenset({"SENT", "PARTIALLY_PAID"})

MAX_LINE_ITEMS = 100
MAX_QUANTITY = Decimal("10000000000")  # 10^10
MAX_NOTES = 5000
MAX_DESCRIPTION = 500
STORED_PLACES = money.STORED_DECIMALS


# -- money ---------------------------------------------------------------------------------


def currency_places(currency: str) -> int:
    """Decimal places totals are rounded to: the currency's minor units, else the 4 stored."""
    units = money.minor_units(currency)
    return STORED_PLACES if units is None else units


def round_money(value: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's minor units: 4.947525 USD -> 4.95, 2.5 JPY -> 3."""
    return value.quantize(Decimal(1).scaleb(-currency_places(currency)), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def line_totals(quantity: Decimal, unit_price: Decimal, tax_rate: Decimal, currency: str) -> Totals:
    subtotal = round_money(quantity * unit_price, currency)
    tax = round_money(subtotal * tax_rate / 100, currency)
    return Totals(subtotal, tax, subtotal + tax)


def document_totals(items: Sequence[Mapping[str, Any]], currency: str) -> Totals:
    lines = [line_totals(i["quantity"], i["unit_price"], i["tax_rate"], currency) for i in items]
    zero = round_money(Decimal(0), currency)
    return Totals(
        sum((t.subtotal for t in lines), zero),
        sum((t.tax for t in lines), zero),
        sum((t.total for t in lines), zero),
    )


def _decimal(raw: Any, field: str) -> Decimal:
    try:
        value = Decimal(raw) if not isinstance(raw, Decimal) else raw
    except (InvalidOperation, TypeError, ValueError):
        raise BadInput(f"{field} {raw!r} is not a number", field=field) from None
    if not value.is_finite():
        raise BadInput(f"{field} must be a finite number", field=field)
    if money.decimal_places(value) > STORED_PLACES:
        raise BadInput(f"{field} {value:f} has more than {STORED_PLACES} decimal places", field=field)
    return value


def clean_line_items(
    raw: Sequence[Mapping[str, Any]] | None, field: str = "lineItems"
) -> list[dict[str, Any]]:
    """Each line as stored: description, quantity, unit_price, tax_rate (percent)."""
    if raw is None:
        raise BadInput(f"{field} cannot be null", field=field)
    if not raw:
        raise BadInput(f"give at least one line item in {field}", field=field)
    if len(raw) > MAX_LINE_ITEMS:
        raise BadInput(f"{field} has {len(raw)} items; the limit is {MAX_LINE_ITEMS}", field=field)
    items = []
    for index, item in enumerate(raw):
        at = f"{field}[{index}]"
        description = v.clean_text(
            item.get("description"), f"{at}.description", max_length=MAX_DESCRIPTION, required=True
        )
        quantity = _decimal(item.get("quantity"), f"{at}.quantity")
        if quantity <= 0:
            raise BadInput(f"{at}.quantity must be more than 0, got {quantity:f}", field=f"{at}.quantity")
        if quantity >= MAX_QUANTITY:
            raise BadInput(f"{at}.quantity must be below {MAX_QUANTITY}", field=f"{at}.quantity")
        unit_price = v.clean_amount(_decimal(item.get("unit_price"), f"{at}.unitPrice"), f"{at}.unitPrice")
        raw_rate = item.get("tax_rate")
        tax_rate = _decimal(0 if raw_rate is None else raw_rate, f"{at}.taxRate")
        if not 0 <= tax_rate <= 100:
            raise BadInput(
                f"{at}.taxRate is a percentage from 0 to 100, got {tax_rate:f}", field=f"{at}.taxRate"
            )
        items.append(
            {"description": description, "quantity": quantity, "unit_price": unit_price, "tax_rate": tax_rate}
        )
    return items


def _check_totals(totals: Totals, field: str = "lineItems") -> None:
    if totals.total >= v.MAX_AMOUNT:
        raise BadInput(f"the document's total must be below {v.MAX_AMOUNT}", field=field)


def _number_text(value: Decimal) -> str:
    """A quantity or rate as given, without trailing zeros: 3, 2.5, 8.25."""
    text = f"{value.normalize():f}"
    return text


# -- snapshots (journey changes and hook subjects) ----------------------------------------


def api_id(type_name: str, object_id: int | None) -> str | None:
    """The GraphQL global id (graph/ids.py global_id_text, which crm may not import): base64 of
    "Type:id", so a partner syncing accounting matches events to what the API shows."""
    if object_id is None:
        return None
    return base64.b64encode(f"{type_name}:{object_id}".encode()).decode()


def line_json(item: Mapping[str, Any], currency: str) -> dict[str, Any]:
    totals = line_totals(item["quantity"], item["unit_price"], item["tax_rate"], currency)
    return {
        "description": item["description"],
        "quantity": _number_text(item["quantity"]),
        "unitPrice": money.text(item["unit_price"], currency),
        "taxRate": _number_text(item["tax_rate"]),
        "subtotal": money.text(totals.subtotal, currency),
        "tax": money.text(totals.tax, currency),
        "total": money.text(totals.total, currency),
    }


def _item_values(item: LineItem) -> dict[str, Any]:
    return {
        "description": item.description,
        "quantity": item.quantity,
        "unit_price": item.unit_price,
        "tax_rate": item.tax_rate,
    }


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def quote_subject(quote: Quote, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    c = quote.currency
    return {
        "id": api_id("Quote", quote.id),
        "contactId": api_id("Contact", quote.contact_id),  # type: ignore[attr-defined]
        "number": quote.number,
        "title": quote.title,
        "status": quote.status,
        "currency": c,
        "validUntil": _day(quote.valid_until),
        "notes": quote.notes,
        "lineItems": [line_json(i, c) for i in items],
        "subtotal": money.text(quote.subtotal, c),
        "tax": money.text(quote.tax, c),
        "total": money.text(quote.total, c),
        "sentAt": _time(quote.sent_at),
        "decidedAt": _time(quote.decided_at),
    }


def job_subject(job: Job) -> dict[str, Any]:
    return {
        "id": api_id("Job", job.id),
        "contactId": api_id("Contact", job.contact_id),  # type: ignore[attr-defined]
        "title": job.title,
        "status": job.status,
        "scheduledStart": _time(job.scheduled_start),
        "scheduledEnd": _time(job.scheduled_end),
        "completedAt": _time(job.completed_at),
        "assigneeId": api_id("User", job.assignee_id),  # type: ignore[attr-defined]
        "quoteId": api_id("Quote", job.quote_id),  # type: ignore[attr-defined]
        "notes": job.notes,
    }


def is_overdue(status: str, due_date: date | None, today: date | None = None) -> bool:
    """SENT or PARTIALLY_PAID, and due before today's date in UTC."""
    if status not in PAYABLE or due_date is None:
        return False
    return due_date < (today or utcnow().date())


def invoice_subject(invoice: Invoice, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    c = invoice.currency
    return {
        "id": api_id("Invoice", invoice.id),
        "contactId": api_id("Contact", invoice.contact_id),  # type: ignore[attr-defined]
        "number": invoice.number,
        "title": invoice.title,
        "status": invoice.status,
        "currency": c,
        "lineItems": [line_json(i, c) for i in items],
        "subtotal": money.text(invoice.subtotal, c),
        "tax": money.text(invoice.tax, c),
        "total": money.text(invoice.total, c),
        "amountPaid": money.text(invoice.amount_paid, c),
        "balanceDue": money.text(invoice.total - invoice.amount_paid, c),
        "dueDate": _day(invoice.due_date),
        "overdue": is_overdue(invoice.status, invoice.due_date),
        "issuedAt": _time(invoice.issued_at),
        "paidAt": _time(invoice.paid_at),
        "voidedAt": _time(invoice.voided_at),
        "quoteId": api_id("Quote", invoice.quote_id),  # type: ignore[attr-defined]
        "jobId": api_id("Job", invoice.job_id),  # type: ignore[attr-defined]
        "notes": invoice.notes,
    }


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """[before, after] of each snapshot field that changed (ids and derived fields left out)."""
    skip = {"id", "contactId", "overdue", "balanceDue"}
    return {k: [before.get(k), after[k]] for k in after if k not in skip and before.get(k) != after[k]}


def created_changes(after: Mapping[str, Any]) -> dict[str, list[Any]]:
    skip = {"id", "contactId", "overdue", "balanceDue"}
    return {k: [None, val] for k, val in after.items() if k not in skip and val not in (None, [])}


# -- shared steps --------------------------------------------------------------------------


async def _next_number(uow: UnitOfWork, kind: str, prefix: str) -> str:
    """The account's next number of this kind. The account row is locked first, so two
    transactions never take the same number (on SQLite the write lock already orders them)."""
    account_id = uow.actor.account_id
    await Account.filter(id=account_id).using_db(uow.conn).select_for_update().first()
    counter = (
        await DocumentCounter.filter(account_id=account_id, kind=kind)
        .using_db(uow.conn)
        .select_for_update()
        .first()
    )
    if counter is None:
        counter = DocumentCounter(account_id=account_id, kind=kind, last_number=0)
    counter.last_number += 1
    await counter.save(using_db=uow.conn)
    return f"{prefix}-{counter.last_number:04d}"


async def _items_of(uow: UnitOfWork, **owner: int) -> list[dict[str, Any]]:
    rows = await LineItem.filter(**owner).using_db(uow.conn).order_by("position", "id")
    return [_item_values(r) for r in rows]


async def _replace_items(uow: UnitOfWork, items: list[dict[str, Any]], **owner: int) -> None:
    await LineItem.filter(**owner).using_db(uow.conn).delete()
    await LineItem.bulk_create(
        [LineItem(position=i, **owner, **item) for i, item in enumerate(items)], using_db=uow.conn
    )


def apply_totals(document: Quote | Invoice, items: list[dict[str, Any]], field: str = "lineItems") -> None:
    totals = document_totals(items, document.currency)
    _check_totals(totals, field)
    document.subtotal, document.tax, document.total = totals.subtotal, totals.tax, totals.total


def _refuse_transition(what: str, number: str, before: str, after: str, allowed: frozenset[str]) -> None:
    if after not in allowed:
        options = ", ".join(sorted(allowed)) if allowed else "nothing: it is final"
        raise Conflict(
            f"{what} {number} is {before} and cannot become {after}; from {before} it can become {options}"
        )


def _clean_notes(value: str | None) -> str | None:
    return v.clean_text(value, "notes", max_length=MAX_NOTES, identity=False)


def _clean_title(value: str | None, required: bool = True) -> str | None:
    return v.clean_text(value, "title", max_length=200, required=required)


def _clean_valid_until(value: date | None) -> date | None:
    if value is not None and value < utcnow().date():
        raise BadInput(
            f"validUntil {value.isoformat()} is in the past; a quote is valid until today or later",
            field="validUntil",
        )
    return value


def _status(value: Any, kind: type[StrEnum], field: str = "status") -> str:
    text = value.value if isinstance(value, StrEnum) else value
    if text not in kind.__members__:
        raise BadInput(f"{field} {text!r} is not one of {', '.join(kind.__members__)}", field=field)
    return str(text)


def _money_display(value: Decimal, currency: str) -> str:
    return money.display(value, currency)


Document = Quote | Job | Invoice


def _named(document: Document) -> str:
    """How journey summaries name a document: quote Q-0001, the job Boiler service, invoice INV-0001."""
    if isinstance(document, Job):
        return f"the job {document.title}"
    return f"{type(document).__name__.lower()} {document.number}"


def _owner(document: Quote | Invoice) -> dict[str, int]:
    """The line items' owner column and value: quote_id=... or invoice_id=..."""
    return {f"{type(document).__name__.lower()}_id": document.id}


def _snapshot(document: Document, items: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """The journey and hook subject of a quote, job or invoice (a job has no line items)."""
    if isinstance(document, Quote):
        return quote_subject(document, items or [])
    if isinstance(document, Invoice):
        return invoice_subject(document, items or [])
    return job_subject(document)


def _clean_common(values: Mapping[str, Any], *, currency: bool = False) -> dict[str, Any]:
    """The update fields quotes, jobs and invoices share, cleaned: title, notes (and currency)."""
    cleaned: dict[str, Any] = {}
    if "title" in values:
        cleaned["title"] = _clean_title(values["title"])
    if "notes" in values:
        cleaned["notes"] = _clean_notes(values["notes"])
    if currency and "currency" in values:
        cleaned["currency"] = v.clean_currency(values["currency"] or "")
    return cleaned


async def _record(
    uow: UnitOfWork,
    document: Document,
    kind: JourneyKind,
    summary: str,
    changes: Mapping[str, Any],
    subject: dict[str, Any],
    contact: Any = None,
) -> None:
    """The journey entry of a change to a quote, job or invoice (its hook fires after commit)."""
    if contact is None:
        contact = await _scoped.contact(uow, document.contact_id)  # type: ignore[attr-defined]
    await uow.record(
        contact,
        kind,
        summary,
        changes,
        subject_type=type(document).__name__,
        subject_id=document.id,
        subject=subject,
    )


async def _insert_document(
    uow: UnitOfWork, document: Quote | Invoice, items: list[dict[str, Any]], counter: str, prefix: str
) -> dict[str, Any]:
    """A new quote or invoice: its totals, next number, row and lines; returns its snapshot."""
    apply_totals(document, items)
    document.number = await _next_number(uow, counter, prefix)
    await document.save(using_db=uow.conn)
    await _replace_items(uow, items, **_owner(document))
    return _snapshot(document, items)


async def _locked_document(
    uow: UnitOfWork, model: type[Quote] | type[Invoice], document_id: int
) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    """A quote or invoice locked for update, its current line items and its snapshot."""
    document = await _scoped.in_account(uow, model, model.__name__.lower(), document_id)
    current = await _items_of(uow, **_owner(document))
    return document, current, _snapshot(document, current)


async def _save_update(
    uow: UnitOfWork,
    document: Document,
    cleaned: Mapping[str, Any],
    before: Mapping[str, Any],
    kind: JourneyKind,
    items: list[dict[str, Any]] | None = None,
    current: list[dict[str, Any]] | None = None,
) -> None:
    """Set the cleaned values (and, for a quote or invoice, the new line items and totals), then
    save and record what changed; when nothing did, no write and no journey entry."""
    for key, val in cleaned.items():
        setattr(document, key, val)
    new_items = None
    if not isinstance(document, Job):
        new_items = items if items is not None else current or []
        apply_totals(document, new_items)
    after = _snapshot(document, new_items)
    changes = changed_fields(before, after)
    if not changes:
        return
    await document.save(using_db=uow.conn)
    if items is not None and items != current and not isinstance(document, Job):
        await _replace_items(uow, items, **_owner(document))
    summary = f"{uow.actor.name} updated {_named(document)}: {', '.join(changes)}"
    await _record(uow, document, kind, summary, changes, after)


async def _save_status(
    uow: UnitOfWork,
    document: Document,
    wanted: str,
    kind: JourneyKind,
    items: list[dict[str, Any]] | None = None,
    **stamps: Any,
) -> None:
    """Move a locked quote, job or invoice to `wanted` (its checks done), set the time stamps
    given, save and record the change."""
    before = _snapshot(document, items)
    document.status = wanted
    for key, val in stamps.items():
        setattr(document, key, val)
    await document.save(using_db=uow.conn)
    after = _snapshot(document, items)
    summary = f"{uow.actor.name} marked {_named(document)} {wanted}"
    await _record(uow, document, kind, summary, changed_fields(before, after), after)


# -- quotes --------------------------------------------------------------------------------


async def create_quote(actor: Actor, contact_id: int, values: Mapping[str, Any]) -> Quote:
    """values: title, currency, line_items, valid_until, notes."""
    title = _clean_title(values.get("title"))
    currency = v.clean_currency(values.get("currency") or "")
    items = clean_line_items(values.get("line_items"))
    valid_until = _clean_valid_until(values.get("valid_until"))
    notes = _clean_notes(values.get("notes"))
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        refuse_archived(contact, "making a quote")
        quote = Quote(
            account_id=actor.account_id,
            contact_id=contact.id,
            title=title,
            currency=currency,
            status=QuoteStatus.DRAFT.value,
            valid_until=valid_until,
            notes=notes,
            created_by_id=actor.user_id,
        )
        subject = await _insert_document(uow, quote, items, "QUOTE", "Q")
        summary = (
            f"{actor.name} drafted quote {quote.number}: {quote.title}, "
            f"{_money_display(quote.total, currency)}"
        )
        await _record(
            uow, quote, JourneyKind.QUOTE_CREATED, summary, created_changes(subject), subject, contact
        )
    return quote


async def update_quote(actor: Actor, quote_id: int, values: Mapping[str, Any]) -> Quote:
    """values (any of): title, notes in any state; currency, line_items, valid_until in DRAFT."""
    cleaned = _clean_common(values, currency=True)
    if "valid_until" in values:
        cleaned["valid_until"] = _clean_valid_until(values["valid_until"])
    items = clean_line_items(values["line_items"]) if "line_items" in values else None
    async with unit_of_work(actor) as uow:
        quote, current, before = await _locked_document(uow, Quote, quote_id)
        draft_only = [
            k for k in ("currency", "valid_until") if k in cleaned and getattr(quote, k) != cleaned[k]
        ]
        if items is not None and items != current:
            draft_only.append("line_items")
        if draft_only and quote.status != QuoteStatus.DRAFT:
            names = ", ".join(
                {"valid_until": "validUntil", "line_items": "lineItems"}.get(k, k) for k in draft_only
            )
            raise Conflict(
                f"quote {quote.number} is {quote.status}: only a DRAFT quote changes its {names}; "
                "title and notes can still change"
            )
        await _save_update(uow, quote, cleaned, before, JourneyKind.QUOTE_UPDATED, items, current)
    return quote


async def set_quote_status(actor: Actor, quote_id: int, status: Any) -> Quote:
    wanted = _status(status, QuoteStatus)
    async with unit_of_work(actor) as uow:
        quote: Quote = await _scoped.in_account(uow, Quote, "quote", quote_id)
        if quote.status == wanted:
            return quote
        _refuse_transition("quote", quote.number, quote.status, wanted, QUOTE_TRANSITIONS[quote.status])
        items = await _items_of(uow, quote_id=quote.id)
        today = utcnow().date()
        if wanted == QuoteStatus.ACCEPTED and quote.valid_until is not None and quote.valid_until < today:
            raise Conflict(
                f"quote {quote.number} was valid until {quote.valid_until.isoformat()}: it cannot be "
                "accepted any more; set it EXPIRED and send a new quote"
            )
        if wanted == QuoteStatus.SENT and not items:
            raise Conflict(f"quote {quote.number} has no line items; add some before sending it")
        stamp = "sent_at" if wanted == QuoteStatus.SENT else "decided_at"
        await _save_status(uow, quote, wanted, JourneyKind.QUOTE_STATUS_CHANGED, items, **{stamp: utcnow()})
    return quote


# -- jobs ----------------------------------------------------------------------------------


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start = as_utc(start, "scheduledStart")
    end = as_utc(end, "scheduledEnd")
    if end <= start:
        raise BadInput(
            f"scheduledEnd {end.isoformat()} must be after scheduledStart {start.isoformat()}",
            field="scheduledEnd",
        )
    return start, end


async def _linkable_quote(uow: UnitOfWork, quote_id: int | None, contact_id: int) -> int | None:
    """A job's quote: one of the same contact, ACCEPTED."""
    if quote_id is None:
        return None
    quote = await Quote.filter(id=quote_id, account_id=uow.actor.account_id).using_db(uow.conn).first()
    if quote is None:
        raise NotFound(f"no quote with id {quote_id} in this account", field="quoteId")
    if quote.contact_id != contact_id:  # type: ignore[attr-defined]
        raise BadInput(
            f"quote {quote.number} belongs to another contact; a job links a quote of its own contact",
            field="quoteId",
        )
    if quote.status != QuoteStatus.ACCEPTED:
        raise BadInput(
            f"quote {quote.number} is {quote.status}; a job links an ACCEPTED quote", field="quoteId"
        )
    return quote.id


async def create_job(actor: Actor, contact_id: int, values: Mapping[str, Any]) -> Job:
    """values: title, scheduled_start, scheduled_end, assignee_id, quote_id, notes."""
    title = _clean_title(values.get("title"))
    if values.get("scheduled_start") is None or values.get("scheduled_end") is None:
        raise BadInput("scheduledStart and scheduledEnd are required", field="scheduledStart")
    notes = _clean_notes(values.get("notes"))
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        refuse_archived(contact, "scheduling a job")
        assignee_id = await _scoped.assignee_id(uow, values.get("assignee_id"))
        quote_id = await _linkable_quote(uow, values.get("quote_id"), contact.id)
        # After the ids: another account's contact, user or quote is NOT_FOUND whatever the window.
        start, end = _window(values["scheduled_start"], values["scheduled_end"])
        job = Job(
            account_id=actor.account_id,
            contact_id=contact.id,
            title=title,
            status=JobStatus.SCHEDULED.value,
            scheduled_start=start,
            scheduled_end=end,
            assignee_id=assignee_id,
            quote_id=quote_id,
            notes=notes,
            created_by_id=actor.user_id,
        )
        await job.save(using_db=uow.conn)
        subject = job_subject(job)
        summary = f"{actor.name} scheduled the job {job.title} for {start:%Y-%m-%d %H:%M} UTC"
        await _record(uow, job, JourneyKind.JOB_CREATED, summary, created_changes(subject), subject, contact)
    return job


async def update_job(actor: Actor, job_id: int, values: Mapping[str, Any]) -> Job:
    """values (any of): title, scheduled_start, scheduled_end, assignee_id, quote_id, notes;
    None for assignee_id or quote_id clears it."""
    cleaned = _clean_common(values)
    for key, field in (("scheduled_start", "scheduledStart"), ("scheduled_end", "scheduledEnd")):
        if key in values:
            if values[key] is None:
                raise BadInput(f"{field} cannot be null", field=field)
            cleaned[key] = as_utc(values[key], field)
    async with unit_of_work(actor) as uow:
        job: Job = await _scoped.in_account(uow, Job, "job", job_id)
        before = job_subject(job)
        if "assignee_id" in values:
            cleaned["assignee_id"] = await _scoped.assignee_id(uow, values["assignee_id"])
        if "quote_id" in values and values["quote_id"] != job.quote_id:  # type: ignore[attr-defined]
            cleaned["quote_id"] = await _linkable_quote(uow, values["quote_id"], job.contact_id)  # type: ignore[attr-defined]
        if "scheduled_start" in cleaned or "scheduled_end" in cleaned:
            cleaned["scheduled_start"], cleaned["scheduled_end"] = _window(
                cleaned.get("scheduled_start", job.scheduled_start),
                cleaned.get("scheduled_end", job.scheduled_end),
            )
        await _save_update(uow, job, cleaned, before, JourneyKind.JOB_UPDATED)
    return job


async def set_job_status(actor: Actor, job_id: int, status: Any) -> Job:
    wanted = _status(status, JobStatus)
    async with unit_of_work(actor) as uow:
        job: Job = await _scoped.in_account(uow, Job, "job", job_id)
        if job.status == wanted:
            return job
        _refuse_transition("job", job.title, job.status, wanted, JOB_TRANSITIONS[job.status])
        completed_at = utcnow() if wanted == JobStatus.DONE else None
        await _save_status(uow, job, wanted, JourneyKind.JOB_STATUS_CHANGED, completed_at=completed_at)
    return job


# -- invoices ------------------------------------------------------------------------------


async def create_invoice(actor: Actor, values: Mapping[str, Any]) -> Invoice:
    """values: one source -- quote_id (its items and currency are copied; ACCEPTED quotes only),
    job_id (its linked quote's items, or line_items given), or contact_id with line_items and
    currency -- plus title, due_date, notes. contact_id given with a quote or job must be theirs."""
    quote_id, job_id, contact_id = values.get("quote_id"), values.get("job_id"), values.get("contact_id")
    if quote_id is not None and job_id is not None:
        raise BadInput(
            "give quoteId or jobId, not both (a job's invoice uses the job's quote)", field="quoteId"
        )
    if quote_id is None and job_id is None and contact_id is None:
        raise BadInput("give a quoteId, a jobId, or a contactId with lineItems", field="contactId")
    given_items = clean_line_items(values["line_items"]) if values.get("line_items") is not None else None
    if quote_id is not None and given_items is not None:
        raise BadInput(
            "an invoice made from a quote copies its line items; leave lineItems out", field="lineItems"
        )
    currency = v.clean_currency(values["currency"]) if values.get("currency") is not None else None
    title = _clean_title(values.get("title"), required=False)
    notes = _clean_notes(values.get("notes"))
    due_date = values.get("due_date")
    async with unit_of_work(actor) as uow:
        quote: Quote | None = None
        job: Job | None = None
        if job_id is not None:
            job = await Job.filter(id=job_id, account_id=actor.account_id).using_db(uow.conn).first()
            if job is None:
                raise NotFound(f"no job with id {job_id} in this account", field="jobId")
            if job.quote_id is not None:  # type: ignore[attr-defined]
                quote = await Quote.filter(id=job.quote_id).using_db(uow.conn).first()  # type: ignore[attr-defined]
        elif quote_id is not None:
            quote = await Quote.filter(id=quote_id, account_id=actor.account_id).using_db(uow.conn).first()
            if quote is None:
                raise NotFound(f"no quote with id {quote_id} in this account", field="quoteId")
            if quote.status != QuoteStatus.ACCEPTED:
                raise BadInput(
                    f"quote {quote.number} is {quote.status}; invoice an ACCEPTED quote", field="quoteId"
                )
        owner_id = job.contact_id if job else quote.contact_id if quote else contact_id  # type: ignore[union-attr,attr-defined]
        if contact_id is not None and contact_id != owner_id:
            what = f"job {job.title}" if job else f"quote {quote.number}"  # type: ignore[union-attr]
            raise BadInput(f"the {what} belongs to another contact than contactId", field="contactId")
        contact = await _scoped.contact(uow, owner_id)
        refuse_archived(contact, "invoicing")
        if given_items is not None:
            items = given_items
            currency = currency or (quote.currency if quote else None)
        elif quote is not None:
            items = await _items_of(uow, quote_id=quote.id)
            if currency is not None and currency != quote.currency:
                raise BadInput(
                    f"quote {quote.number} is in {quote.currency}; an invoice copying its items is too",
                    field="currency",
                )
            currency = quote.currency
        else:
            field = "lineItems"
            reason = f"the job {job.title} has no linked quote" if job else "an invoice needs line items"
            raise BadInput(f"{reason}: give lineItems", field=field)
        if currency is None:
            raise BadInput("currency is required with lineItems", field="currency")
        invoice = Invoice(
            account_id=actor.account_id,
            contact_id=contact.id,
            title=title or (job.title if job else quote.title if quote else "Invoice"),
            currency=currency,
            status=InvoiceStatus.DRAFT.value,
            amount_paid=Decimal(0),
            due_date=due_date,
            quote_id=quote.id if quote else None,
            job_id=job.id if job else None,
            notes=notes,
            created_by_id=actor.user_id,
        )
        subject = await _insert_document(uow, invoice, items, "INVOICE", "INV")
        source = (
            f" from quote {quote.number}" if quote and not job else f" for the job {job.title}" if job else ""
        )
        summary = (
            f"{actor.name} drafted invoice {invoice.number}{source}: "
            f"{_money_display(invoice.total, currency)}"
        )
        await _record(
            uow, invoice, JourneyKind.INVOICE_CREATED, summary, created_changes(subject), subject, contact
        )
    return invoice


async def update_invoice(actor: Actor, invoice_id: int, values: Mapping[str, Any]) -> Invoice:
    """values (any of): title, notes, due_date until PAID or VOID; currency, line_items in DRAFT."""
    cleaned = _clean_common(values, currency=True)
    if "due_date" in values:
        cleaned["due_date"] = values["due_date"]
    items = clean_line_items(values["line_items"]) if "line_items" in values else None
    async with unit_of_work(actor) as uow:
        invoice, current, before = await _locked_document(uow, Invoice, invoice_id)
        draft_only = ["currency"] if "currency" in cleaned and cleaned["currency"] != invoice.currency else []
        if items is not None and items != current:
            draft_only.append("lineItems")
        if draft_only and invoice.status != InvoiceStatus.DRAFT:
            raise Conflict(
                f"invoice {invoice.number} is {invoice.status}: only a DRAFT invoice changes its "
                f"{', '.join(draft_only)}; void it and make a new one"
            )
        touched = [k for k in cleaned if getattr(invoice, k) != cleaned[k]]
        if touched and invoice.status in (InvoiceStatus.PAID, InvoiceStatus.VOID):
            raise Conflict(
                f"invoice {invoice.number} is {invoice.status} and final; nothing of it can change"
            )
        await _save_update(uow, invoice, cleaned, before, JourneyKind.INVOICE_UPDATED, items, current)
    return invoice


async def set_invoice_status(actor: Actor, invoice_id: int, status: Any) -> Invoice:
    """SENT or VOID; payments set PARTIALLY_PAID and PAID (recordInvoicePayment)."""
    wanted = _status(status, InvoiceStatus)
    async with unit_of_work(actor) as uow:
        invoice: Invoice = await _scoped.in_account(uow, Invoice, "invoice", invoice_id)
        if invoice.status == wanted:
            return invoice
        if wanted in (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_PAID):
            raise BadInput(
                f"{wanted} follows from payments: record them with recordInvoicePayment", field="status"
            )
        if wanted == InvoiceStatus.DRAFT:
            raise BadInput("an invoice cannot go back to DRAFT; void it and make a new one", field="status")
        if wanted == InvoiceStatus.VOID and not actor.is_manager:
            raise Forbidden("only admins and managers can void an invoice")
        if wanted == InvoiceStatus.VOID and invoice.amount_paid > 0:
            raise Conflict(
                f"invoice {invoice.number} has payments of "
                f"{_money_display(invoice.amount_paid, invoice.currency)}: it cannot be voided"
            )
        _refuse_transition(
            "invoice", invoice.number, invoice.status, wanted, INVOICE_TRANSITIONS[invoice.status]
        )
        items = await _items_of(uow, invoice_id=invoice.id)
        if wanted == InvoiceStatus.SENT and not items:
            raise Conflict(f"invoice {invoice.number} has no line items; add some before sending it")
        stamp = "issued_at" if wanted == InvoiceStatus.SENT else "voided_at"
        await _save_status(
            uow, invoice, wanted, JourneyKind.INVOICE_STATUS_CHANGED, items, **{stamp: utcnow()}
        )
    return invoice


async def record_invoice_payment(
    actor: Actor, invoice_id: int, amount: Any, paid_at: datetime | None = None
) -> Invoice:
    """A payment of `amount` (> 0, at most the balance due, in the invoice's currency's decimal
    places) received at `paid_at` (now when left out; not in the future)."""
    if amount is None:
        raise BadInput("amount is required", field="amount")
    value = v.clean_amount(amount)
    if value <= 0:
        raise BadInput("amount must be more than 0", field="amount")
    when = as_utc(paid_at, "paidAt") if paid_at is not None else utcnow()
    if when > utcnow():
        raise BadInput("paidAt cannot be in the future", field="paidAt")
    async with unit_of_work(actor) as uow:
        invoice: Invoice = await _scoped.in_account(uow, Invoice, "invoice", invoice_id)
        if invoice.status not in PAYABLE:
            hint = (
                "send it first (setInvoiceStatus SENT)"
                if invoice.status == InvoiceStatus.DRAFT
                else "it is final"
            )
            raise Conflict(f"invoice {invoice.number} is {invoice.status} and takes no payment: {hint}")
        c = invoice.currency
        money.check(value, c)
        balance = invoice.total - invoice.amount_paid
        if value > balance:
            raise BadInput(
                f"amount {money.text(value, c)} is more than invoice {invoice.number}'s balance due of "
                f"{money.text(balance, c)} {c}; overpayments are refused",
                field="amount",
            )
        items = await _items_of(uow, invoice_id=invoice.id)
        before = invoice_subject(invoice, items)
        invoice.amount_paid = invoice.amount_paid + value
        if invoice.amount_paid == invoice.total:
            invoice.status = InvoiceStatus.PAID.value
            invoice.paid_at = when
        else:
            invoice.status = InvoiceStatus.PARTIALLY_PAID.value
        await invoice.save(using_db=uow.conn)
        after = invoice_subject(invoice, items)
        subject = {**after, "payment": {"amount": money.text(value, c), "paidAt": when.isoformat()}}
        summary = (
            f"{actor.name} recorded a payment of {_money_display(value, c)} on invoice {invoice.number}"
            f" ({invoice.status})"
        )
        changes = {**changed_fields(before, after), "payment": [None, subject["payment"]]}
        await _record(uow, invoice, JourneyKind.INVOICE_PAYMENT_RECORDED, summary, changes, subject)
    return invoice
