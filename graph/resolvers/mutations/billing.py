"""Quotes, jobs and invoices: create, update and change the status of each, record payments.

createQuote, updateQuote, setQuoteStatus; createJob, updateJob, setJobStatus; createInvoice,
updateInvoice, setInvoiceStatus, recordInvoicePayment. Each: parse input, one service call
(crm/services/billing.py), return the changed object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry

from crm.models import Invoice as InvoiceModel
from crm.models import Job as JobModel
from crm.models import Quote as QuoteModel
from crm.services import billing as service
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.billing_loaders import (
    INVOICE_COLUMNS,
    INVOICE_USERS,
    JOB_COLUMNS,
    JOB_USERS,
    QUOTE_COLUMNS,
    QUOTE_USERS,
)
from graph.resolvers.mutations import changed, joined_row, provided
from graph.schema.billing import Invoice, InvoiceStatus, Job, JobStatus, Quote, QuoteStatus

ITEMS_HELP = "1 to 100 lines; replaces every line (DRAFT only)."
TITLE_HELP = "1-200 characters."
NOTES_HELP = "Up to 5,000 characters; null clears."


def _kept(description: str) -> Any:
    """An update input's field: left out (UNSET), the value stays as it is."""
    return strawberry.field(default=strawberry.UNSET, description=description)


@strawberry.input(description="One line of a quote or invoice.")
class LineItemInput:
    description: str = strawberry.field(description="1-500 characters.")
    quantity: Decimal = strawberry.field(description="More than 0, at most 4 decimal places.")
    unit_price: Decimal = strawberry.field(description="0 or more, at most 4 decimal places, before tax.")
    tax_rate: Decimal = strawberry.field(
        default=Decimal(0), description="Percent, 0 to 100, at most 4 decimal places (8.25 for 8.25 %)."
    )


def _items(items: list[LineItemInput] | None) -> list[dict[str, Any]] | None:
    if items is None:
        return None
    return [
        {
            "description": i.description,
            "quantity": i.quantity,
            "unit_price": i.unit_price,
            "tax_rate": i.tax_rate,
        }
        for i in items
    ]


def _optional_id(value: Any, type_name: str, field: str) -> int | None:
    return None if value is None else decode_id(value, type_name, field)


def _with_items(input: Any, fields: dict[str, str]) -> dict[str, Any]:
    """An update input's fields the client sent, its line items (when sent) as the service takes them."""
    values = provided(input, fields)
    if input.line_items is not strawberry.UNSET:
        values["line_items"] = _items(input.line_items)
    return values


# -- inputs ----------------------------------------------------------------------------------


@strawberry.input
class CreateQuoteInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact the quote is for.")
    title: str = strawberry.field(description="1-200 characters.")
    currency: str = strawberry.field(description="ISO 4217 code in any case, e.g. USD.")
    line_items: list[LineItemInput] = strawberry.field(description="1 to 100 lines.")
    valid_until: date | None = strawberry.field(
        default=None, description="The last day it can be accepted: today or later."
    )
    notes: str | None = strawberry.field(default=None, description="Up to 5,000 characters.")


@strawberry.input(description="Fields left out stay as they are.")
class UpdateQuoteInput:
    id: strawberry.ID = strawberry.field(description="The quote's id.")
    title: str | None = _kept(TITLE_HELP)
    notes: str | None = _kept(NOTES_HELP)
    currency: str | None = _kept("ISO 4217 code (DRAFT only).")
    line_items: list[LineItemInput] | None = _kept(ITEMS_HELP)
    valid_until: date | None = _kept("Today or later, null for none (DRAFT only).")


@strawberry.input
class SetQuoteStatusInput:
    id: strawberry.ID = strawberry.field(description="The quote's id.")
    status: QuoteStatus = strawberry.field(
        description="DRAFT -> SENT; SENT -> ACCEPTED (not past validUntil), DECLINED or EXPIRED."
    )


@strawberry.input
class CreateJobInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact the job is for.")
    title: str = strawberry.field(description="1-200 characters.")
    scheduled_start: datetime = strawberry.field(description="With a timezone offset.")
    scheduled_end: datetime = strawberry.field(description="After scheduledStart, with a timezone offset.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="A user of the account who does the job."
    )
    quote_id: strawberry.ID | None = strawberry.field(
        default=None, description="An ACCEPTED quote of the same contact that the job carries out."
    )
    notes: str | None = strawberry.field(default=None, description="Up to 5,000 characters.")


@strawberry.input(description="Fields left out stay as they are.")
class UpdateJobInput:
    id: strawberry.ID = strawberry.field(description="The job's id.")
    title: str | None = _kept(TITLE_HELP)
    scheduled_start: datetime | None = _kept("Before scheduledEnd (the new one if given too).")
    scheduled_end: datetime | None = _kept("After scheduledStart (the new one if given too).")
    assignee_id: strawberry.ID | None = _kept("A user of the account; null unassigns.")
    quote_id: strawberry.ID | None = _kept("An ACCEPTED quote of the job's contact; null unlinks.")
    notes: str | None = _kept(NOTES_HELP)


@strawberry.input
class SetJobStatusInput:
    id: strawberry.ID = strawberry.field(description="The job's id.")
    status: JobStatus = strawberry.field(
        description="SCHEDULED -> IN_PROGRESS, DONE or CANCELLED; IN_PROGRESS -> SCHEDULED, DONE or "
        "CANCELLED; DONE -> IN_PROGRESS; CANCELLED -> SCHEDULED."
    )


@strawberry.input(description="One source: quoteId, jobId, or contactId with lineItems and currency.")
class CreateInvoiceInput:
    quote_id: strawberry.ID | None = strawberry.field(
        default=None, description="An ACCEPTED quote: its contact, currency and line items are copied."
    )
    job_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A job: its contact, and its linked quote's line items unless lineItems are given.",
    )
    contact_id: strawberry.ID | None = strawberry.field(
        default=None, description="The contact billed (must be the quote's or job's when one is given)."
    )
    line_items: list[LineItemInput] | None = strawberry.field(default=None, description="1 to 100 lines.")
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217 code; required with lineItems unless a job's quote gives it."
    )
    title: str | None = strawberry.field(
        default=None, description="1-200 characters; defaults to the job's or quote's title, else Invoice."
    )
    due_date: date | None = strawberry.field(
        default=None, description="When it is due; past it, it is overdue."
    )
    notes: str | None = strawberry.field(default=None, description="Up to 5,000 characters.")


@strawberry.input(description="Fields left out stay as they are.")
class UpdateInvoiceInput:
    id: strawberry.ID = strawberry.field(description="The invoice's id.")
    title: str | None = _kept(TITLE_HELP)
    notes: str | None = _kept(NOTES_HELP)
    due_date: date | None = _kept("Until PAID or VOID; null for none.")
    currency: str | None = _kept("ISO 4217 code (DRAFT only).")
    line_items: list[LineItemInput] | None = _kept(ITEMS_HELP)


@strawberry.input
class SetInvoiceStatusInput:
    id: strawberry.ID = strawberry.field(description="The invoice's id.")
    status: InvoiceStatus = strawberry.field(
        description="SENT (from DRAFT) or VOID (admins and managers; not once a payment is recorded)."
    )


@strawberry.input
class RecordInvoicePaymentInput:
    id: strawberry.ID = strawberry.field(description="A SENT or PARTIALLY_PAID invoice.")
    amount: Decimal = strawberry.field(
        description="More than 0 and at most the balance due, in the currency's decimal places."
    )
    paid_at: datetime | None = strawberry.field(
        default=None, description="When it was paid, not in the future; now when left out."
    )


# -- results ---------------------------------------------------------------------------------


_RESULTS: dict[type, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {
    QuoteModel: (Quote, QUOTE_COLUMNS, QUOTE_USERS),
    JobModel: (Job, JOB_COLUMNS, JOB_USERS),
    InvoiceModel: (Invoice, INVOICE_COLUMNS, INVOICE_USERS),
}


async def _result(info: Info, document: QuoteModel | JobModel | InvoiceModel) -> Any:
    """The changed quote, job or invoice as its GraphQL type (loaders reset: it just changed)."""
    changed(info)
    node_type, columns, users = _RESULTS[type(document)]
    return node_type.from_row(await joined_row(info, document, columns, users))


async def _change(
    info: Info, change: Callable[..., Awaitable[Any]], id: strawberry.ID, type_name: str, *args: Any
) -> Any:
    """Call the service on the document of global id `id` as the request's actor; the changed
    document as its GraphQL type."""
    document = await change(info.context.require_actor(), decode_id(id, type_name), *args)
    return await _result(info, document)


_QUOTE_FIELDS = {"title": "title", "notes": "notes", "currency": "currency", "valid_until": "valid_until"}
_JOB_FIELDS = {
    "title": "title", "notes": "notes", "scheduled_start": "scheduled_start",
    "scheduled_end": "scheduled_end",
}  # fmt: skip
_INVOICE_FIELDS = {"title": "title", "notes": "notes", "currency": "currency", "due_date": "due_date"}


@strawberry.type
class BillingMutations:
    @strawberry.mutation(description="Draft a quote for the contact (not for an archived one).")
    async def create_quote(self, info: Info, input: CreateQuoteInput) -> Quote:
        quote = await service.create_quote(
            info.context.require_actor(),
            decode_id(input.contact_id, "Contact", "contactId"),
            {
                "title": input.title,
                "currency": input.currency,
                "line_items": _items(input.line_items),
                "valid_until": input.valid_until,
                "notes": input.notes,
            },
        )
        return await _result(info, quote)

    @strawberry.mutation(
        description="Change a quote: title and notes any time; currency, line items and validUntil "
        "while DRAFT (CONFLICT otherwise)."
    )
    async def update_quote(self, info: Info, input: UpdateQuoteInput) -> Quote:
        values = _with_items(input, _QUOTE_FIELDS)
        return await _change(info, service.update_quote, input.id, "Quote", values)

    @strawberry.mutation(
        description="Send, accept, decline or expire a quote; CONFLICT for a move not allowed."
    )
    async def set_quote_status(self, info: Info, input: SetQuoteStatusInput) -> Quote:
        return await _change(info, service.set_quote_status, input.id, "Quote", input.status.value)

    @strawberry.mutation(description="Schedule a job for the contact (not for an archived one).")
    async def create_job(self, info: Info, input: CreateJobInput) -> Job:
        job = await service.create_job(
            info.context.require_actor(),
            decode_id(input.contact_id, "Contact", "contactId"),
            {
                "title": input.title,
                "scheduled_start": input.scheduled_start,
                "scheduled_end": input.scheduled_end,
                "assignee_id": _optional_id(input.assignee_id, "User", "assigneeId"),
                "quote_id": _optional_id(input.quote_id, "Quote", "quoteId"),
                "notes": input.notes,
            },
        )
        return await _result(info, job)

    @strawberry.mutation(description="Change a job's title, window, assignee, quote or notes.")
    async def update_job(self, info: Info, input: UpdateJobInput) -> Job:
        values = provided(input, _JOB_FIELDS)
        if input.assignee_id is not strawberry.UNSET:
            values["assignee_id"] = _optional_id(input.assignee_id, "User", "assigneeId")
        if input.quote_id is not strawberry.UNSET:
            values["quote_id"] = _optional_id(input.quote_id, "Quote", "quoteId")
        return await _change(info, service.update_job, input.id, "Job", values)

    @strawberry.mutation(
        description="Start, finish, cancel or reopen a job; CONFLICT for a move not allowed."
    )
    async def set_job_status(self, info: Info, input: SetJobStatusInput) -> Job:
        return await _change(info, service.set_job_status, input.id, "Job", input.status.value)

    @strawberry.mutation(description="Draft an invoice from a quote, a job, or line items given.")
    async def create_invoice(self, info: Info, input: CreateInvoiceInput) -> Invoice:
        invoice = await service.create_invoice(
            info.context.require_actor(),
            {
                "quote_id": _optional_id(input.quote_id, "Quote", "quoteId"),
                "job_id": _optional_id(input.job_id, "Job", "jobId"),
                "contact_id": _optional_id(input.contact_id, "Contact", "contactId"),
                "line_items": _items(input.line_items),
                "currency": input.currency,
                "title": input.title,
                "due_date": input.due_date,
                "notes": input.notes,
            },
        )
        return await _result(info, invoice)

    @strawberry.mutation(
        description="Change an invoice: title, notes and due date until PAID or VOID; currency and "
        "line items while DRAFT (CONFLICT otherwise)."
    )
    async def update_invoice(self, info: Info, input: UpdateInvoiceInput) -> Invoice:
        values = _with_items(input, _INVOICE_FIELDS)
        return await _change(info, service.update_invoice, input.id, "Invoice", values)

    @strawberry.mutation(
        description="Send or void an invoice (voiding: admins and managers, unpaid invoices)."
    )
    async def set_invoice_status(self, info: Info, input: SetInvoiceStatusInput) -> Invoice:
        return await _change(info, service.set_invoice_status, input.id, "Invoice", input.status.value)

    @strawberry.mutation(
        description="Record a payment: PARTIALLY_PAID, or PAID once the balance is 0. Overpaying is refused "
        "(BAD_USER_INPUT)."
    )
    async def record_invoice_payment(self, info: Info, input: RecordInvoicePaymentInput) -> Invoice:
        return await _change(
            info, service.record_invoice_payment, input.id, "Invoice", input.amount, input.paid_at
        )
