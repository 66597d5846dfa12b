"""Root query fields of leads (`leads`) and intake forms (`forms`, admins)."""

from __future__ import annotations

import strawberry

from crm.models import Form as FormModel
from crm.models import Lead as LeadModel
from crm.services import leads as lead_service
from graph.context import Info
from graph.ids import decode_cursor, encode_cursor, page_size
from graph.resolvers.loaders import LEAD_COLUMNS
from graph.schema.common import forward_page
from graph.schema.leads import Form, Lead, LeadConnection, LeadEdge, LeadStatus

LEAD_CURSOR = "lead"


def form_type(info: Info, form: FormModel) -> Form:
    request = info.context.request
    return Form(
        id=form.id,
        name=form.name,
        key=form.key,
        intake_url=lead_service.intake_url(form, str(request.base_url)),
        created_at=form.created_at,
        revoked_at=form.revoked_at,
    )


@strawberry.type
class LeadQueries:
    @strawberry.field(description="The account's leads, newest first; filter by form name and status.")
    async def leads(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        form_name: str | None = None,
        status: LeadStatus | None = None,
    ) -> LeadConnection:
        size = page_size(first)
        query = LeadModel.filter(account_id=info.context.require_actor().account_id)
        if form_name is not None:
            query = query.filter(form_name=form_name.strip())
        if status is not None:
            query = query.filter(status=status.value)
        if after is not None:
            query = query.filter(id__lt=decode_cursor(after, LEAD_CURSOR))
        rows = await query.order_by("-id").limit(size + 1).values(*LEAD_COLUMNS)
        edges = [
            LeadEdge(cursor=encode_cursor(LEAD_CURSOR, r["id"]), node=Lead.from_row(r)) for r in rows[:size]
        ]
        return LeadConnection(edges=edges, page_info=forward_page(edges, more=len(rows) > size, after=after))

    @strawberry.field(description="The account's intake forms, newest first, revoked ones included (admins).")
    async def forms(self, info: Info) -> list[Form]:
        return [form_type(info, f) for f in await lead_service.list_forms(info.context.require_actor())]


async def form_node(info: Info, form_id: int) -> Form | None:
    """`node(id:)` for a Form global id: admins only, the caller's account only."""
    found = await lead_service.get_form(info.context.require_actor(), form_id)
    return form_type(info, found) if found is not None else None
