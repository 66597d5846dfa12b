"""Quotes, jobs and invoices (B3) on the card, and the root `invoices` list.

Money fields are exact decimals shown with the currency's decimal places ("1999.50" USD,
"2000" JPY); crm/services/billing.py says how lines and totals are rounded.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from crm import money
from crm.clock import utcnow
from crm.services import billing as service
from crm.services.billing import InvoiceStatus as _InvoiceStatus
from crm.services.billing import JobStatus as _JobStatus
from crm.services.billing import QuoteStatus as _QuoteStatus
from graph.context import Info
from graph.ids import decode_cursor, encode_cursor, page_size
from graph.prepared import NOT_READ, prepared
from graph.resolvers.billing_loaders import INVOICE_CURSOR, JOB_CURSOR, QUOTE_CURSOR
from graph.resolvers.loaders import PageKey
from graph.resolvers.reads import Row
from graph.resolvers.selection import selects
from graph.schema.accounts import User, joined_user
from graph.schema.common import PageInfo, forward_page

if TYPE_CHECKING:
    from graph.schema.contacts import Contact

QuoteStatus = strawberry.enum(
    _QuoteStatus,
    name="QuoteStatus",
    description="DRAFT (line items can change) -> SENT -> ACCEPTED, DECLINED or EXPIRED (final). "
    "Expiry is set by setQuoteStatus; a SENT quote past validUntil can no longer be accepted.",
)
JobStatus = strawberry.enum(
    _JobStatus,
    name="JobStatus",
    description="SCHEDULED, IN_PROGRESS, DONE (sets completedAt), CANCELLED. DONE can be reopened "
    "(IN_PROGRESS), CANCELLED rescheduled (SCHEDULED).",
)
InvoiceStatus = strawberry.enum(
    _InvoiceStatus,
    name="InvoiceStatus",
    description="DRAFT -> SENT or VOID; SENT -> VOID while unpaid; payments (recordInvoicePayment) "
    "make it PARTIALLY_PAID, then PAID. PAID and VOID are final.",
)

MONEY_HELP = "Exact decimal with the currency's decimal places: 1999.50 USD, 2000 JPY."


def _amount(value: Any, currency: str) -> Decimal:
    return money.for_api(Decimal(value), currency)


def _plain(value: Any) -> Decimal:
    """A quantity or rate without trailing zeros: 3, 2.5, 8.25."""
    return Decimal(f"{Decimal(value).normalize():f}")


@strawberry.type(description="One line of a quote or invoice.")
class LineItem:
    description: str
    quantity: Decimal = strawberry.field(description="More than 0, at most 4 decimal places.")
    unit_price: Decimal = strawberry.field(description="Price of one unit, before tax.")
    tax_rate: Decimal = strawberry.field(description="Percent, 0 to 100 (8.25 is 8.25 %).")
    subtotal: Decimal = strawberry.field(
        description="quantity x unitPrice, rounded half-up to the currency's minor units."
    )
    tax: Decimal = strawberry.field(description="subtotal x taxRate / 100, rounded half-up the same way.")
    total: Decimal = strawberry.field(description="subtotal + tax.")

    @classmethod
    def from_row(cls, row: Row, currency: str) -> LineItem:
        quantity, unit_price, rate = (
            Decimal(row["quantity"]),
            Decimal(row["unit_price"]),
            Decimal(row["tax_rate"]),
        )
        totals = service.line_totals(quantity, unit_price, rate, currency)
        return cls(
            description=row["description"],
            quantity=_plain(quantity),
            unit_price=_amount(unit_price, currency),
            tax_rate=_plain(rate),
            subtotal=_amount(totals.subtotal, currency),
            tax=_amount(totals.tax, currency),
            total=_amount(totals.total, currency),
        )


async def _contact(info: Info, contact_id: int) -> Any:
    from graph.schema.contacts import load_contact

    return await load_contact(info, contact_id)


@strawberry.type(description="A quote (estimate) for the contact, numbered Q-0001, Q-0002, ... per account.")
class Quote(relay.Node):
    id: relay.NodeID[int]
    number: str
    title: str
    currency: str = strawberry.field(description="ISO 4217 code, e.g. USD.")
    status: QuoteStatus
    valid_until: date | None = strawberry.field(description="The last day it can be accepted.")
    notes: str | None
    subtotal: Decimal = strawberry.field(description="The sum of the lines' subtotals. " + MONEY_HELP)
    tax: Decimal = strawberry.field(description="The sum of the lines' tax.")
    total: Decimal = strawberry.field(description="subtotal + tax.")
    sent_at: datetime | None
    decided_at: datetime | None = strawberry.field(description="When it was accepted, declined or expired.")
    created_by: User | None
    created_at: datetime
    updated_at: datetime
    _contact_id: strawberry.Private[int]
    # Filled in by the card's quotes(first:) when the query asks (graph/prepared.py).
    _line_items: strawberry.Private[Any] = NOT_READ

    @classmethod
    def from_row(cls, row: Row, batch: dict[Any, Any] | None = None) -> Quote:
        c = row["currency"]
        return cls(
            id=row["id"],
            number=row["number"],
            title=row["title"],
            currency=c,
            status=_QuoteStatus(row["status"]),
            valid_until=row["valid_until"],
            notes=row["notes"],
            subtotal=_amount(row["subtotal"], c),
            tax=_amount(row["tax"], c),
            total=_amount(row["total"], c),
            sent_at=row["sent_at"],
            decided_at=row["decided_at"],
            created_by=joined_user(row, "created_by", batch),  # type: ignore[arg-type]
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            _contact_id=row["contact_id"],
        )

    @strawberry.field(description="The lines, in order (at most 100).")
    @prepared("_line_items")
    async def line_items(self, info: Info) -> list[LineItem]:
        if self._line_items is not NOT_READ:
            return self._line_items  # type: ignore[no-any-return]
        rows = await info.context.loaders.quote_items.load(self.id)  # type: ignore[attr-defined]
        return [LineItem.from_row(r, self.currency) for r in rows]

    @strawberry.field
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        return await _contact(info, self._contact_id)  # type: ignore[no-any-return]


@strawberry.type(description="A job (field-service work) done for the contact.")
class Job(relay.Node):
    id: relay.NodeID[int]
    title: str
    status: JobStatus
    scheduled_start: datetime
    scheduled_end: datetime
    completed_at: datetime | None = strawberry.field(description="When it became DONE; null otherwise.")
    notes: str | None
    assignee: User | None = strawberry.field(description="The user doing the job.")
    created_by: User | None
    created_at: datetime
    updated_at: datetime
    _contact_id: strawberry.Private[int]
    _quote_id: strawberry.Private[int | None]
    # Filled in by the card's jobs(first:) when the query asks (graph/prepared.py).
    _quote: strawberry.Private[Any] = NOT_READ

    @classmethod
    def from_row(cls, row: Row, batch: dict[Any, Any] | None = None) -> Job:
        return cls(
            id=row["id"],
            title=row["title"],
            status=_JobStatus(row["status"]),
            scheduled_start=row["scheduled_start"],
            scheduled_end=row["scheduled_end"],
            completed_at=row["completed_at"],
            notes=row["notes"],
            assignee=joined_user(row, "assignee", batch),  # type: ignore[arg-type]
            created_by=joined_user(row, "created_by", batch),  # type: ignore[arg-type]
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            _contact_id=row["contact_id"],
            _quote_id=row["quote_id"],
        )

    @strawberry.field(description="The accepted quote the job carries out, if linked.")
    @prepared("_quote")
    async def quote(self, info: Info) -> Quote | None:
        if self._quote is not NOT_READ:
            return self._quote  # type: ignore[no-any-return]
        if self._quote_id is None:
            return None
        row = await info.context.loaders.quote.load(self._quote_id)  # type: ignore[attr-defined]
        return Quote.from_row(row) if row is not None else None

    @strawberry.field
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        return await _contact(info, self._contact_id)  # type: ignore[no-any-return]


@strawberry.type(description="An invoice to the contact, numbered INV-0001, INV-0002, ... per account.")
class Invoice(relay.Node):
    id: relay.NodeID[int]
    number: str
    title: str
    currency: str = strawberry.field(description="ISO 4217 code, e.g. USD.")
    status: InvoiceStatus
    subtotal: Decimal = strawberry.field(description="The sum of the lines' subtotals. " + MONEY_HELP)
    tax: Decimal = strawberry.field(description="The sum of the lines' tax.")
    total: Decimal = strawberry.field(description="subtotal + tax.")
    amount_paid: Decimal = strawberry.field(description="The sum of the payments recorded.")
    balance_due: Decimal = strawberry.field(description="total - amountPaid.")
    due_date: date | None
    overdue: bool = strawberry.field(
        description="SENT or PARTIALLY_PAID and dueDate before today's date in UTC."
    )
    issued_at: datetime | None = strawberry.field(description="When it was SENT.")
    paid_at: datetime | None = strawberry.field(description="When the payment that paid it in full was made.")
    voided_at: datetime | None
    notes: str | None
    created_by: User | None
    created_at: datetime
    updated_at: datetime
    _contact_id: strawberry.Private[int]
    _quote_id: strawberry.Private[int | None]
    _job_id: strawberry.Private[int | None]
    # Filled in by the card's invoices(first:) when the query asks (graph/prepared.py).
    _line_items: strawberry.Private[Any] = NOT_READ
    _quote: strawberry.Private[Any] = NOT_READ
    _job: strawberry.Private[Any] = NOT_READ

    @classmethod
    def from_row(cls, row: Row, batch: dict[Any, Any] | None = None, today: date | None = None) -> Invoice:
        c = row["currency"]
        total, paid = Decimal(row["total"]), Decimal(row["amount_paid"])
        return cls(
            id=row["id"],
            number=row["number"],
            title=row["title"],
            currency=c,
            status=_InvoiceStatus(row["status"]),
            subtotal=_amount(row["subtotal"], c),
            tax=_amount(row["tax"], c),
            total=_amount(total, c),
            amount_paid=_amount(paid, c),
            balance_due=_amount(total - paid, c),
            due_date=row["due_date"],
            overdue=service.is_overdue(row["status"], row["due_date"], today),
            issued_at=row["issued_at"],
            paid_at=row["paid_at"],
            voided_at=row["voided_at"],
            notes=row["notes"],
            created_by=joined_user(row, "created_by", batch),  # type: ignore[arg-type]
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            _contact_id=row["contact_id"],
            _quote_id=row["quote_id"],
            _job_id=row["job_id"],
        )

    @strawberry.field(description="The lines, in order (at most 100).")
    @prepared("_line_items")
    async def line_items(self, info: Info) -> list[LineItem]:
        if self._line_items is not NOT_READ:
            return self._line_items  # type: ignore[no-any-return]
        rows = await info.context.loaders.invoice_items.load(self.id)  # type: ignore[attr-defined]
        return [LineItem.from_row(r, self.currency) for r in rows]

    @strawberry.field(description="The quote it was made from, if any.")
    @prepared("_quote")
    async def quote(self, info: Info) -> Quote | None:
        if self._quote is not NOT_READ:
            return self._quote  # type: ignore[no-any-return]
        if self._quote_id is None:
            return None
        row = await info.context.loaders.quote.load(self._quote_id)  # type: ignore[attr-defined]
        return Quote.from_row(row) if row is not None else None

    @strawberry.field(description="The job it bills, if any.")
    @prepared("_job")
    async def job(self, info: Info) -> Job | None:
        if self._job is not NOT_READ:
            return self._job  # type: ignore[no-any-return]
        if self._job_id is None:
            return None
        row = await info.context.loaders.job.load(self._job_id)  # type: ignore[attr-defined]
        return Job.from_row(row) if row is not None else None

    @strawberry.field
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        return await _contact(info, self._contact_id)  # type: ignore[no-any-return]


@strawberry.type
class QuoteEdge:
    cursor: str
    node: Quote


@strawberry.type(description="A page of quotes, newest first.")
class QuoteConnection:
    edges: list[QuoteEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Quote]:
        return [edge.node for edge in self.edges]


@strawberry.type
class JobEdge:
    cursor: str
    node: Job


@strawberry.type(description="A page of jobs, newest first.")
class JobConnection:
    edges: list[JobEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Job]:
        return [edge.node for edge in self.edges]


@strawberry.type
class InvoiceEdge:
    cursor: str
    node: Invoice


@strawberry.type(description="A page of invoices, newest first.")
class InvoiceConnection:
    edges: list[InvoiceEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Invoice]:
        return [edge.node for edge in self.edges]


def invoice_connection(rows: list[Row], size: int, after: str | None) -> InvoiceConnection:
    batch: dict[Any, Any] = {}
    today = utcnow().date()
    edges = [
        InvoiceEdge(cursor=encode_cursor(INVOICE_CURSOR, r["id"]), node=Invoice.from_row(r, batch, today))
        for r in rows[:size]
    ]
    return InvoiceConnection(edges=edges, page_info=forward_page(edges, more=len(rows) > size, after=after))


# -- the card's sections (Contact.quotes, jobs, invoices resolve through these) --------------


async def _page(
    info: Info, loader: str, contact_id: int, first: int, after: str | None, cursor: str, status: Any
):
    size = page_size(first)
    bound = decode_cursor(after, cursor) if after else None
    statuses = (status.value,) if status is not None else ()
    key = PageKey(contact_id, size, bound, statuses, True)
    rows = await info.context.loaders.billing_pages.load((loader.removesuffix("_page"), key))
    return size, rows


async def resolve_quotes(
    info: Info, contact_id: int, first: int, after: str | None, status: Any
) -> QuoteConnection:
    size, rows = await _page(info, "quote_page", contact_id, first, after, QUOTE_CURSOR, status)
    batch: dict[Any, Any] = {}
    edges = [
        QuoteEdge(cursor=encode_cursor(QUOTE_CURSOR, r["id"]), node=Quote.from_row(r, batch))
        for r in rows[:size]
    ]
    await _prepare(info, [edge.node for edge in edges], items="quote")
    return QuoteConnection(edges=edges, page_info=forward_page(edges, more=len(rows) > size, after=after))


async def resolve_jobs(
    info: Info, contact_id: int, first: int, after: str | None, status: Any
) -> JobConnection:
    size, rows = await _page(info, "job_page", contact_id, first, after, JOB_CURSOR, status)
    batch: dict[Any, Any] = {}
    edges = [
        JobEdge(cursor=encode_cursor(JOB_CURSOR, r["id"]), node=Job.from_row(r, batch)) for r in rows[:size]
    ]
    await _prepare(info, [edge.node for edge in edges])
    return JobConnection(edges=edges, page_info=forward_page(edges, more=len(rows) > size, after=after))


async def resolve_invoices(
    info: Info, contact_id: int, first: int, after: str | None, status: Any
) -> InvoiceConnection:
    size, rows = await _page(info, "invoice_page", contact_id, first, after, INVOICE_CURSOR, status)
    found = invoice_connection(rows, size, after)
    await _prepare(info, [edge.node for edge in found.edges], items="invoice")
    return found


def _asks(info: Info, field: str) -> bool:
    return selects(info, "nodes", field) or selects(info, "edges", "node", field)


async def _prepare(info: Info, documents: list[Any], items: str | None = None) -> None:
    """Fill in the shown documents' line items, linked quote and linked job when the query
    asks for them (graph/prepared.py): the same loaders and batched statements the fields
    would use one document at a time, read once for the page. `items`: "quote" or "invoice",
    the documents' kind for their line items (None: they have none)."""
    if not documents:
        return
    loaders = info.context.loaders
    loads: list[tuple[str, Any, list[Any]]] = []  # (attribute, loader, keys)
    if items is not None and _asks(info, "lineItems"):
        # Quotes' and invoices' lines in one statement (their pages resolve together).
        loads.append(("_line_items", loaders.line_items, [(items, d.id) for d in documents]))
    if hasattr(documents[0], "_quote_id") and _asks(info, "quote"):
        loads.append(("_quote", loaders.quote, [d._quote_id for d in documents]))
    if hasattr(documents[0], "_job_id") and _asks(info, "job"):
        loads.append(("_job", loaders.job, [d._job_id for d in documents]))
    if not loads:
        return
    found = await asyncio.gather(
        *(loader.load_many([k for k in keys if k is not None]) for _, loader, keys in loads)
    )
    for (attribute, _, keys), values in zip(loads, found, strict=True):
        by_key = dict(zip([k for k in keys if k is not None], values, strict=True))
        for document, key in zip(documents, keys, strict=True):
            value = by_key.get(key) if key is not None else None
            if attribute == "_line_items":
                document._line_items = [LineItem.from_row(r, document.currency) for r in value]
            elif attribute == "_quote":
                document._quote = Quote.from_row(value) if value is not None else None
            else:
                document._job = Job.from_row(value) if value is not None else None
