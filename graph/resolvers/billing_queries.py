"""The root `invoices` list: the account's invoices for an accounting sync."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crm.clock import utcnow
from crm.services.billing import PAYABLE
from graph.context import Info
from graph.ids import decode_cursor, page_size
from graph.resolvers.billing_loaders import INVOICE_CURSOR, sections
from graph.resolvers.reads import Params, dialect, fetch
from graph.schema.billing import InvoiceConnection, InvoiceStatus, invoice_connection


@strawberry.type
class BillingQueries:
    @strawberry.field(
        description="The account's invoices, newest first; `status` and `overdue` (SENT or PARTIALLY_PAID "
        "and due before today in UTC) filter them."
    )
    async def invoices(
        self,
        info: Info,
        status: InvoiceStatus | None = None,
        overdue: Annotated[
            bool | None, strawberry.argument(description="true: only overdue ones; false: none of them.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="At most this many (1 to 100).")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last invoice the client has.")
        ] = None,
    ) -> InvoiceConnection:
        size = page_size(first)
        account_id = info.context.require_actor().account_id
        kind = dialect()
        params = Params(kind)
        where = [f't."account_id" = {params(account_id)}']
        if status is not None:
            where.append(f't."status" = {params(status.value)}')
        if overdue is not None:
            today = utcnow().date()
            # SQLite keeps a date as ISO text, which compares in date order.
            day = today if kind == "postgres" else today.isoformat()
            late = (
                f't."status" IN ({params.many(sorted(PAYABLE))}) AND t."due_date" IS NOT NULL'
                f' AND t."due_date" < {params(day)}'
            )
            where.append(f"({late})" if overdue else f"NOT ({late})")
        if after:
            where.append(f't."id" < {params(decode_cursor(after, INVOICE_CURSOR))}')
        order = f't."id" DESC LIMIT {params(size + 1)}'
        rows = await fetch(sections()["invoice"].shape, params, " AND ".join(where), order)
        return invoice_connection(list(rows), size, after)
