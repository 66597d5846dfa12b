"""createView, updateView, deleteView (crm/services/views.py)."""

from __future__ import annotations

from typing import Any

import strawberry

from crm.models import SavedView
from crm.services import views as service
from graph.context import Info
from graph.ids import decode_id, global_id_text
from graph.resolvers.mutations import changed, joined_row
from graph.resolvers.segments_loaders import VIEW_COLUMNS
from graph.schema.contact_filter import ContactFilter, ContactOrder, filter_to_domain, order_to_domain
from graph.schema.views import View

NAME_HELP = f"1-{service.MAX_NAME} characters, unique among your views."
FILTER_HELP = (
    f"The contacts it shows, as contacts(filter:) takes it; at most {service.MAX_VIEW_FILTERS} filters (the "
    "table's limit). Null: every contact."
)
ORDER_HELP = (
    f"The sort, as contacts(orderBy:) takes it; at most {service.MAX_ORDER} keys. Empty: newest first."
)
COLUMNS_HELP = (
    f"The columns shown, in order, at most {service.MAX_COLUMNS}: Contact field names (displayName, email, "
    "phone, status, tags, ...) or customField:<key>."
)
SHARED_HELP = "Listed to every user of the account (only you and admins change it)."


def _kept(description: str) -> Any:
    """An update input's field: left out (UNSET), the value stays as it is."""
    return strawberry.field(default=strawberry.UNSET, description=description)


@strawberry.input
class CreateViewInput:
    name: str = strawberry.field(description=NAME_HELP)
    filter: ContactFilter | None = strawberry.field(default=None, description=FILTER_HELP)
    order_by: list[ContactOrder] | None = strawberry.field(default=None, description=ORDER_HELP)
    columns: list[str] | None = strawberry.field(default=None, description=COLUMNS_HELP)
    shared: bool = strawberry.field(default=False, description=SHARED_HELP)


@strawberry.input(description="Fields left out stay as they are.")
class UpdateViewInput:
    id: strawberry.ID = strawberry.field(description="The view's id.")
    name: str | None = _kept(NAME_HELP)
    filter: ContactFilter | None = _kept(FILTER_HELP)
    order_by: list[ContactOrder] | None = _kept(ORDER_HELP)
    columns: list[str] | None = _kept(COLUMNS_HELP)
    shared: bool | None = _kept(SHARED_HELP)


@strawberry.input
class DeleteViewInput:
    id: strawberry.ID = strawberry.field(description="The view's id.")


@strawberry.type
class DeleteViewPayload:
    deleted_id: strawberry.ID = strawberry.field(description="The deleted view's id.")


def _values(input: CreateViewInput | UpdateViewInput) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if input.name is not strawberry.UNSET:
        values["name"] = input.name
    if input.shared is not strawberry.UNSET:
        values["shared"] = input.shared
    if input.columns is not strawberry.UNSET:
        values["columns"] = input.columns
    if input.filter is not strawberry.UNSET:
        values["filter_spec"] = filter_to_domain(input.filter)
    if input.order_by is not strawberry.UNSET:
        values["order_by"] = order_to_domain(input.order_by or [])
    return values


async def _result(info: Info, view: SavedView) -> View:
    changed(info)
    return View.from_row(await joined_row(info, view, VIEW_COLUMNS, ("user",)))


@strawberry.type
class ViewMutations:
    @strawberry.mutation(
        description="Save a view of the contacts table (yours; `shared` lists it to everyone)."
    )
    async def create_view(self, info: Info, input: CreateViewInput) -> View:
        view = await service.create_view(info.context.require_actor(), _values(input))
        return await _result(info, view)

    @strawberry.mutation(
        description="Change a view (its owner or an admin); fields left out stay as they are."
    )
    async def update_view(self, info: Info, input: UpdateViewInput) -> View:
        view_id = decode_id(input.id, "View")
        view = await service.update_view(info.context.require_actor(), view_id, _values(input))
        return await _result(info, view)

    @strawberry.mutation(description="Delete a view (its owner or an admin).")
    async def delete_view(self, info: Info, input: DeleteViewInput) -> DeleteViewPayload:
        view_id = decode_id(input.id, "View")
        await service.delete_view(info.context.require_actor(), view_id)
        changed(info)
        return DeleteViewPayload(deleted_id=strawberry.ID(global_id_text("View", view_id)))
