"""Saved views of the contacts table (D6): README "Saved views and segments"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from crm.services.views import MAX_VIEW_FILTERS, may_see, view_filter_count
from graph.context import Info
from graph.schema.accounts import User, joined_user
from graph.schema.common import built
from graph.schema.contact_filter import filter_to_client, order_to_client


@strawberry.type(
    description="A saved view of the contacts table: a filter, a sort and the columns shown. Pass "
    "`filter` and `orderBy` to `contacts(filter:, orderBy:)` as they are."
)
class View(relay.Node):
    id: relay.NodeID[int]
    name: str
    filter: JSON | None = strawberry.field(
        description="The ContactFilter, as JSON a client can send again (global ids); null: every contact."
    )
    order_by: list[JSON] = strawberry.field(
        description="The ContactOrder list, as JSON a client can send again; empty: newest first."
    )
    columns: list[str] = strawberry.field(
        description="The columns shown, in order: Contact field names, customField:<key> for custom fields."
    )
    filter_count: int = strawberry.field(
        description=f"How many filters the table shows for it (at most {MAX_VIEW_FILTERS}); and/or/not only "
        "group them."
    )
    shared: bool = strawberry.field(
        description="Listed to every user of the account; only its owner or an admin changes it."
    )
    owner: User | None = strawberry.field(description="Who saved it (null once that user is gone).")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> View:
        spec = row["filter_spec"]
        return built(
            cls,
            {
                "id": row["id"],
                "name": row["name"],
                "filter": filter_to_client(spec),
                "order_by": order_to_client(list(row["order_by"] or [])),
                "columns": list(row["columns"] or []),
                "filter_count": view_filter_count(spec),
                "shared": bool(row["shared"]),
                "owner": joined_user(row, "user"),
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
            },
        )


def visible(info: Info, row: Any) -> bool:
    """The caller's own views, shared ones, and (for admins) any of the account's."""
    from crm.models import SavedView

    view = SavedView(id=row["id"], user_id=row["user_id"], shared=bool(row["shared"]))
    return may_see(info.context.require_actor(), view)


async def view_node(info: Info, view_id: int) -> View | None:
    """`node(id:)` for a View: another user's private view is as missing as one that never was."""
    row = await info.context.loaders.view.load(view_id)  # type: ignore[attr-defined]
    if row is None or not visible(info, row):
        return None
    return View.from_row(row)
