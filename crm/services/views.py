"""Saved views of the contacts table (D6): a name, a filter, a sort and the columns shown.

Rules (each refusal changes nothing):

- Anyone in the account saves views; the caller owns them. `shared` views are listed to every
  user of the account; private ones only to their owner. Admins reach any view of the account by
  id (to tidy up); a private view of someone else is NOT_FOUND for everybody else.
- Only the owner or an admin (or the system) changes or deletes a view: FORBIDDEN otherwise.
- name: 1-100 characters, unique per owner (CONFLICT). At most MAX_VIEWS_PER_USER views per user
  and MAX_SHARED_VIEWS shared ones per account, so `views` is a bounded list.
- filter: the domain form of a ContactFilter (crm/contact_filters.py), at most MAX_VIEW_FILTERS
  visible conditions -- the table's limit (article 001); and/or/not only group them.
- orderBy: the domain form of a list of ContactOrder, checked as contacts(orderBy:) checks it.
- columns: Contact field names (VIEW_COLUMNS) or `customField:<key>` of a live custom field, each
  once, at most MAX_COLUMNS.

A view is an account-level object, not part of any card: saving or deleting one writes no journey
entry (no contact changed) and fires the account events `view_saved` / `view_deleted`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm import validation as v
from crm.account_events import queue_account_event
from crm.actor import Actor, ActorKind, Role
from crm.contact_filters import matching_contacts, validate_shape, visible_filter_count
from crm.contact_order import MAX_KEYS, sort_keys
from crm.errors import BadInput, Conflict, Forbidden, NotFound
from crm.models import CustomField, SavedView
from crm.services.billing import api_id
from crm.uow import UnitOfWork, unit_of_work

MAX_NAME = 100
MAX_VIEW_FILTERS = 10  # what the contacts table shows (article 001); HubSpot allows 10 per group
MAX_VIEWS_PER_USER = 100
MAX_SHARED_VIEWS = 200
# `views` lists the caller's own and the shared ones: graph/cost.py plans it with this bound.
MAX_LISTED_VIEWS = MAX_VIEWS_PER_USER + MAX_SHARED_VIEWS
MAX_COLUMNS = 100
MAX_ORDER = MAX_KEYS  # sort keys, as contacts(orderBy:) takes them
CUSTOM_COLUMN = "customField:"

VIEW_SAVED, VIEW_DELETED = "view_saved", "view_deleted"

# The columns a view may show: the Contact type's fields a table cell can hold (the API's names;
# tests/test_views.py checks each is a field of Contact), and custom fields as customField:<key>.
VIEW_COLUMNS: tuple[str, ...] = (
    "displayName", "firstName", "lastName", "businessName", "title", "contactType", "email",
    "secondaryEmail", "phone", "secondaryPhone", "address", "ipAddress", "status", "subStatus",
    "convertedAt", "okToSms", "smsBlockedReason", "phoneLineType", "phoneCheckedAt", "archivedAt",
    "leadSource", "actionPlan", "salesCycle", "setterOwner", "closerOwner", "assignedTo", "tags",
    "firstTouch", "lastTouch", "lastBookedEvent", "opportunity", "insights", "segments",
    "createdAt", "updatedAt",
)  # fmt: skip
_KNOWN_COLUMNS = frozenset(VIEW_COLUMNS)


# -- cleaning input --------------------------------------------------------------------------


def _name(raw: Any) -> str:
    name = v.clean_text(raw, "name", max_length=MAX_NAME, required=True)
    assert name is not None
    return name


def view_filter_count(spec: Mapping[str, Any] | None) -> int:
    return visible_filter_count(dict(spec)) if spec else 0


async def check_filter(account_id: int, spec: dict[str, Any] | None, field: str = "filter") -> None:
    """A filter the contacts table can run: its shape, its keys and ids (matching_contacts
    compiles it, refusing what it cannot), at most MAX_VIEW_FILTERS conditions."""
    if spec is None:
        return
    validate_shape(spec)
    count = visible_filter_count(spec)
    if count > MAX_VIEW_FILTERS:
        raise BadInput(
            f"a view holds at most {MAX_VIEW_FILTERS} filters (the contacts table shows at most "
            f"{MAX_VIEW_FILTERS}); this filter has {count}: remove {count - MAX_VIEW_FILTERS}",
            field=field,
        )
    await matching_contacts(account_id, spec, archived=None)


async def _custom_keys(account_id: int) -> set[str]:
    keys = await CustomField.filter(account_id=account_id, archived_at__isnull=True).values_list(
        "key", flat=True
    )
    return set(keys)


def _columns(raw: Any, custom_keys: set[str]) -> list[str]:
    if raw is None:
        return []
    columns = list(raw)
    if len(columns) > MAX_COLUMNS:
        raise BadInput(f"a view shows at most {MAX_COLUMNS} columns, got {len(columns)}", field="columns")
    seen: set[str] = set()
    for column in columns:
        if not isinstance(column, str):
            raise BadInput(f"column {column!r} is not a name", field="columns")
        if column in seen:
            raise BadInput(f"column {column!r} is listed twice", field="columns")
        seen.add(column)
        if column.startswith(CUSTOM_COLUMN):
            key = column[len(CUSTOM_COLUMN) :]
            if key not in custom_keys:
                raise BadInput(
                    f"column {column!r}: the account has no custom field {key!r} (customFields lists them)",
                    field="columns",
                )
        elif column not in _KNOWN_COLUMNS:
            shown = column if len(column) <= 60 else column[:57] + "..."
            raise BadInput(
                f"unknown column {shown!r}: use a Contact field ({', '.join(VIEW_COLUMNS)}) "
                f"or {CUSTOM_COLUMN}<key> for a custom field",
                field="columns",
            )
    return columns


async def _order(account_id: int, raw: Any) -> list[dict[str, Any]]:
    """The sort as contacts(orderBy:) takes it: crm/contact_order.py checks its keys."""
    if raw is None:
        return []
    order = [dict(entry) for entry in raw]
    await sort_keys(account_id, order)
    return order


async def _clean(actor: Actor, values: Mapping[str, Any]) -> dict[str, Any]:
    """The given fields (name, filter_spec, order_by, columns, shared) as stored."""
    cleaned: dict[str, Any] = {}
    if "name" in values:
        cleaned["name"] = _name(values["name"])
    if "shared" in values:
        if values["shared"] is None:
            raise BadInput("shared is true or false", field="shared")
        cleaned["shared"] = bool(values["shared"])
    custom_keys: set[str] | None = None
    if values.get("columns"):
        custom_keys = await _custom_keys(actor.account_id)
    if "columns" in values:
        cleaned["columns"] = _columns(values["columns"], custom_keys or set())
    if "order_by" in values:
        cleaned["order_by"] = await _order(actor.account_id, values["order_by"])
    if "filter_spec" in values:
        spec = values["filter_spec"]
        await check_filter(actor.account_id, spec)
        cleaned["filter_spec"] = spec
    return cleaned


# -- shared steps ----------------------------------------------------------------------------


def may_see(actor: Actor, view: SavedView) -> bool:
    """Own, shared, or the caller is an admin (or the system)."""
    return bool(view.shared) or _may_change(actor, view)


def _may_change(actor: Actor, view: SavedView) -> bool:
    owner = view.user_id  # type: ignore[attr-defined]
    return (
        actor.kind is not ActorKind.USER
        or actor.role is Role.ADMIN
        or (owner is not None and owner == actor.user_id)
    )


async def _view(uow: UnitOfWork, view_id: int) -> SavedView:
    """The view, locked; NOT_FOUND in other accounts and for others' private views."""
    actor = uow.actor
    view = (
        await SavedView.filter(id=view_id, account_id=actor.account_id)
        .using_db(uow.conn)
        .select_for_update()
        .first()
    )
    if view is None or not may_see(actor, view):
        raise NotFound(f"no view with id {view_id} in this account")
    if not _may_change(actor, view):
        raise Forbidden(f"view {view.name!r} is another user's: only its owner or an admin can change it")
    return view


async def _refuse_taken_name(uow: UnitOfWork, owner_id: int | None, name: str, view_id: int | None) -> None:
    taken = SavedView.filter(account_id=uow.actor.account_id, user_id=owner_id, name=name)
    if view_id is not None:
        taken = taken.exclude(id=view_id)
    if await taken.using_db(uow.conn).exists():
        raise Conflict(f"you already have a view named {name!r}: pick another name", field="name")


async def _check_room(uow: UnitOfWork, owner_id: int | None, shared: bool) -> None:
    views = SavedView.filter(account_id=uow.actor.account_id).using_db(uow.conn)
    if await views.filter(user_id=owner_id).count() >= MAX_VIEWS_PER_USER:
        raise BadInput(
            f"you have {MAX_VIEWS_PER_USER} views, the most a user may keep: delete one first", field="name"
        )
    if shared and await views.filter(shared=True).count() >= MAX_SHARED_VIEWS:
        raise BadInput(
            f"the account has {MAX_SHARED_VIEWS} shared views, the most it may have: unshare or delete one",
            field="shared",
        )


def view_subject(view: SavedView) -> dict[str, Any]:
    """What view_saved / view_deleted carry: ids as the API's global ids."""
    return {
        "id": api_id("View", view.id),
        "name": view.name,
        "shared": bool(view.shared),
        "ownerId": api_id("User", view.user_id),  # type: ignore[attr-defined]
        "columns": list(view.columns or []),
        "filterCount": view_filter_count(view.filter_spec),
    }


async def _event(uow: UnitOfWork, hook: str, summary: str, view: SavedView) -> None:
    queued = await queue_account_event(
        uow.conn,
        uow.actor,
        hook,
        summary,
        subject_type="View",
        subject_id=view.id,
        subject=view_subject(view),
    )
    uow.outbox_written(queued)


# -- the mutations ---------------------------------------------------------------------------


async def create_view(actor: Actor, values: Mapping[str, Any]) -> SavedView:
    """values: name (required), filter_spec, order_by, columns, shared (false when left out)."""
    if "name" not in values:
        raise BadInput("name is required", field="name")
    cleaned = await _clean(actor, values)
    cleaned.setdefault("shared", False)
    async with unit_of_work(actor) as uow:
        await _refuse_taken_name(uow, actor.user_id, cleaned["name"], None)
        await _check_room(uow, actor.user_id, cleaned["shared"])
        view = SavedView(account_id=actor.account_id, user_id=actor.user_id, **cleaned)
        await view.save(using_db=uow.conn)
        await _event(uow, VIEW_SAVED, f"{actor.name} saved the view {view.name!r}", view)
    return view


async def update_view(actor: Actor, view_id: int, values: Mapping[str, Any]) -> SavedView:
    """values: any of name, filter_spec, order_by, columns, shared; the rest stays."""
    cleaned = await _clean(actor, values)
    async with unit_of_work(actor) as uow:
        view = await _view(uow, view_id)
        owner = view.user_id  # type: ignore[attr-defined]
        if "name" in cleaned and cleaned["name"] != view.name:
            await _refuse_taken_name(uow, owner, cleaned["name"], view.id)
        if cleaned.get("shared") and not view.shared:
            shared = (
                await SavedView.filter(account_id=actor.account_id, shared=True).using_db(uow.conn).count()
            )
            if shared >= MAX_SHARED_VIEWS:
                raise BadInput(
                    f"the account has {MAX_SHARED_VIEWS} shared views, the most it may have: unshare or "
                    "delete one",
                    field="shared",
                )
        changed = {key: value for key, value in cleaned.items() if getattr(view, key) != value}
        if not changed:
            return view
        for key, value in changed.items():
            setattr(view, key, value)
        await view.save(using_db=uow.conn)
        await _event(
            uow, VIEW_SAVED, f"{actor.name} changed the view {view.name!r}: {', '.join(changed)}", view
        )
    return view


async def delete_view(actor: Actor, view_id: int) -> SavedView:
    """The deleted view (its id is gone from then on)."""
    async with unit_of_work(actor) as uow:
        view = await _view(uow, view_id)
        await _event(uow, VIEW_DELETED, f"{actor.name} deleted the view {view.name!r}", view)
        await view.delete(using_db=uow.conn)
    return view
