"""The request's loaders for quotes, jobs and invoices (graph/schema/billing.py).

A card's (or a page of cards') quotes, jobs and invoices are each one windowed statement per
page shape, like conversions (`Loaders._load_pages`: newest first, a status filter); the line
items of every quote or invoice the request shows are one more statement each; a document by
id (node(id:), Job.quote, Invoice.job) is one batched statement per type. Every statement is
bound to the request's account.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from functools import cache
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

from crm.models import Invoice, Job, LineItem, Quote
from graph.resolvers.reads import Params, Row, dialect, fetch, shape

if TYPE_CHECKING:
    from graph.resolvers.loaders import Loaders, PageKey, _PagedSection

QUOTE_COLUMNS = (
    "id", "contact_id", "number", "title", "currency", "status", "valid_until", "notes", "subtotal",
    "tax", "total", "sent_at", "decided_at", "created_by_id", "created_at", "updated_at",
)  # fmt: skip
JOB_COLUMNS = (
    "id", "contact_id", "title", "status", "scheduled_start", "scheduled_end", "completed_at",
    "assignee_id", "quote_id", "notes", "created_by_id", "created_at", "updated_at",
)  # fmt: skip
INVOICE_COLUMNS = (
    "id", "contact_id", "number", "title", "currency", "status", "subtotal", "tax", "total",
    "amount_paid", "due_date", "issued_at", "paid_at", "voided_at", "quote_id", "job_id", "notes",
    "created_by_id", "created_at", "updated_at",
)  # fmt: skip
LINE_ITEM_COLUMNS = (
    "id",
    "quote_id",
    "invoice_id",
    "position",
    "description",
    "quantity",
    "unit_price",
    "tax_rate",
)
QUOTE_USERS = ("created_by",)
JOB_USERS = ("assignee", "created_by")
INVOICE_USERS = ("created_by",)

QUOTE_CURSOR = "quote"
JOB_CURSOR = "job"
INVOICE_CURSOR = "invoice"


@cache
def reads() -> dict[str, tuple[str, ...]]:
    from graph.resolvers.loaders import with_users

    return {
        "quote": with_users(QUOTE_COLUMNS, QUOTE_USERS),
        "job": with_users(JOB_COLUMNS, JOB_USERS),
        "invoice": with_users(INVOICE_COLUMNS, INVOICE_USERS),
    }


@cache
def sections() -> dict[str, _PagedSection]:
    """A card's quotes, jobs and invoices, newest first, filtered by status."""
    from graph.resolvers.loaders import _PagedSection

    read = reads()
    scope = "account_id = {account}"
    return {
        "quote": _PagedSection(Quote, "quote", read["quote"], scope, "status"),
        "job": _PagedSection(Job, "job", read["job"], scope, "status"),
        "invoice": _PagedSection(Invoice, "invoice", read["invoice"], scope, "status"),
    }


def _items_loader(account_id: int, owner: str) -> DataLoader[int, list[Row]]:
    """The line items of quotes (owner "quote") or invoices ("invoice"), in position order."""
    rows_of = shape(LineItem, LINE_ITEM_COLUMNS)
    column = f"{owner}_id"

    async def load(ids: list[int]) -> list[list[Row]]:
        params = Params(dialect())
        join = f' JOIN "{owner}" d ON d."id" = t."{column}"'
        where = f't."{column}" IN ({params.many(set(ids))}) AND d."account_id" = {params(account_id)}'
        found: dict[int, list[Row]] = defaultdict(list)
        for row in await fetch(rows_of, params, where, f't."{column}", t."position", t."id"', join=join):
            found[row[column]].append(row)
        return [found.get(i, []) for i in ids]

    return DataLoader(load)


def _line_items_loader(account_id: int) -> DataLoader[tuple[str, int], list[Row]]:
    """The line items of quotes and invoices together, keyed ("quote", id) or ("invoice",
    id), in position order: one statement for the card's quotes and invoices (their pages
    resolve together, see _pages_together), where quote_items and invoice_items take one each."""
    rows_of = shape(LineItem, LINE_ITEM_COLUMNS)

    async def load(keys: list[tuple[str, int]]) -> list[list[Row]]:
        params = Params(dialect())
        wanted = {owner: sorted({i for o, i in keys if o == owner}) for owner in ("quote", "invoice")}
        parts = [
            f'(t."{owner}_id" IN ({params.many(ids)}) AND EXISTS (SELECT 1 FROM "{owner}" d'
            f' WHERE d."id" = t."{owner}_id" AND d."account_id" = {params(account_id)}))'
            for owner, ids in wanted.items()
            if ids
        ]
        asked = {owner: set(ids) for owner, ids in wanted.items()}
        found: dict[tuple[str, int], list[Row]] = defaultdict(list)
        for row in await fetch(rows_of, params, f"({' OR '.join(parts)})"):
            for owner, ids in asked.items():
                owner_id = row[f"{owner}_id"]
                if owner_id is not None and owner_id in ids:
                    found[(owner, owner_id)].append(row)
        for rows in found.values():
            rows.sort(key=lambda row: (row["position"], row["id"]))
        return [found.get(key, []) for key in keys]

    return DataLoader(load)


async def _pages_together(loaders: Loaders, keys: list[tuple[str, PageKey]]) -> list[list[Row]]:
    """The card's quotes, jobs and invoices pages asked in one tick ((kind, PageKey) keys),
    each through its own page loader (one statement per kind and page shape, as before). Once
    all are read, their quotes and jobs are primed into the by-id loaders: a job's or an
    invoice's linked quote or job that is on a page of the request needs no statement of its
    own, and which ones do does not depend on which page the database answered first."""
    found = await asyncio.gather(*(getattr(loaders, f"{kind}_page").load(key) for kind, key in keys))
    for (kind, _), rows in zip(keys, found, strict=True):
        if kind in ("quote", "job"):
            by_id = getattr(loaders, kind)
            for row in rows:
                by_id.prime(row["id"], row)  # the same columns and shape as a by-id read
    return list(found)


def attach_billing(loaders: Loaders) -> None:
    """Give the request's Loaders the billing loaders as attributes, so `release()` clears them
    with the rest: quote_page, job_page, invoice_page (PageKey), quote, job, invoice (by id),
    quote_items, invoice_items (by document id), line_items (both, see _line_items_loader),
    billing_pages ((kind, PageKey), see
    _pages_together)."""

    found = sections()
    read = reads()
    for name, model in (("quote", Quote), ("job", Job), ("invoice", Invoice)):
        section = found[name]

        def pages(keys: list[PageKey], section: Any = section) -> Any:
            return loaders._load_pages(section, keys)

        setattr(loaders, f"{name}_page", DataLoader(pages))
        setattr(loaders, name, loaders._by_id(model, read[name], "account"))
    loaders.billing_pages = DataLoader(lambda keys: _pages_together(loaders, keys))  # type: ignore[attr-defined]
    loaders.line_items = _line_items_loader(loaders.account_id)  # type: ignore[attr-defined]
    loaders.quote_items = _items_loader(loaders.account_id, "quote")  # type: ignore[attr-defined]
    loaders.invoice_items = _items_loader(loaders.account_id, "invoice")  # type: ignore[attr-defined]
