"""Root query fields. Reads go through the request's account-scoped loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import nullcontext
from functools import partial
from typing import Annotated, Any

import strawberry
from strawberry import relay
from tortoise.expressions import RawSQL
from tortoise.queryset import QuerySet

from crm.actor import Role
from crm.contact_filters import Matches, matches
from crm.contact_order import RowReader, counted_first, ordered_page, sort_keys
from crm.db import custom_plans
from crm.errors import BadInput, Forbidden, NotFound
from crm.models import Account as AccountModel
from crm.models import Contact as ContactModel
from crm.models import User as UserModel
from crm.search import MAX_SEARCH_LENGTH, search_condition
from graph.context import Info
from graph.ids import NonCanonicalId, decode_cursor, decode_id, encode_cursor, page_size, parse_global_id
from graph.resolvers.api_keys_queries import api_key_node
from graph.resolvers.leads_queries import form_node
from graph.resolvers.loaders import CONTACT_READ, USER_COLUMNS
from graph.resolvers.notifications import notification_node
from graph.resolvers.reads import Row, dialect
from graph.resolvers.selection import selects
from graph.schema.accounts import Account, PluginInfo, Tag, User, Viewer
from graph.schema.attachments import Attachment
from graph.schema.billing import Invoice, Job, Quote
from graph.schema.calls import Call
from graph.schema.common import forward_page
from graph.schema.contact_filter import (
    ContactFilter,
    ContactOrder,
    decode_order_cursor,
    encode_order_cursor,
    filter_to_domain,
    order_to_domain,
)
from graph.schema.contacts import Contact, ContactConnection, ContactEdge, load_contact
from graph.schema.conversions import Conversion
from graph.schema.custom_fields import CustomField
from graph.schema.deals import Deal
from graph.schema.jobs import BackgroundJob, BulkJob, load_typed_job
from graph.schema.journey import JourneyEvent
from graph.schema.leads import Lead
from graph.schema.merges import ContactMerge
from graph.schema.messages import Message
from graph.schema.notes import Note
from graph.schema.recordings import RecordingShare
from graph.schema.segments import Segment
from graph.schema.tasks import Task
from graph.schema.views import view_node

CONTACT_CURSOR = "contact"

# node(id:) resolves these types through their by-id loaders.
_NODE_TYPES = {
    "Contact": ("contact", Contact),
    "User": ("user", User),
    "Call": ("call", Call),
    "Deal": ("deal", Deal),
    "Note": ("note", Note),
    "Attachment": ("attachment", Attachment),
    "Tag": ("tag", Tag),
    "JourneyEvent": ("journey_event", JourneyEvent),
    "Message": ("message", Message),
    "Lead": ("lead", Lead),
    "ContactMerge": ("merge", ContactMerge),
    "Conversion": ("conversion", Conversion),
    "Quote": ("quote", Quote),
    "Job": ("job", Job),
    "Invoice": ("invoice", Invoice),
    "Task": ("task", Task),
    "RecordingShare": ("recording_share", RecordingShare),
    "CustomField": ("custom_field", CustomField),
    "BackgroundJob": ("background_job", BackgroundJob),
    "BulkJob": ("background_job", BulkJob),
    "Segment": ("segment", Segment),
}


# The search condition lives in crm (filters, bulk actions and exports search alike).
_search_filter = search_condition


# How many of the account's newest contacts a PostgreSQL search reads in order before it turns
# to the trigram indexes for older ones (see _searched_rows).
SEARCH_WINDOW = 10_000


async def _searched_rows(
    base: QuerySet[ContactModel], account_id: int, before: int | None, size: int
) -> list[Any]:
    """A page of matches, newest first, on PostgreSQL: up to size + 1 rows.

    `ORDER BY id DESC LIMIT n` with `LIKE '%term%'` conditions leaves the planner two plans:
    walk the contacts newest first until n match (fast when matches are common), or collect
    every match through the trigram indexes and sort them (fast when they are rare). It picks
    by its estimate of how many rows match, and for unanchored patterns that estimate can be
    off a hundredfold: at 1M contacts an email fragment with 50 matches took 440 ms walking
    half the table. So the choice is made by construction: the newest SEARCH_WINDOW contacts
    are walked in order (bounded), and only when they hold fewer than a page of matches are
    older contacts found through the indexes (few matches, so cheap).
    """
    window = ContactModel.filter(account_id=account_id)
    page = base
    if before is not None:
        window, page = window.filter(id__lt=before), page.filter(id__lt=before)
    bounds = await window.order_by("-id").offset(SEARCH_WINDOW - 1).limit(1).values_list("id", flat=True)
    if not bounds:  # the account (below the cursor) is no bigger than the window
        return await page.order_by("-id").limit(size + 1).values(*CONTACT_READ)
    bound = bounds[0]
    rows = await page.filter(id__gte=bound).order_by("-id").limit(size + 1).values(*CONTACT_READ)
    if len(rows) > size:
        return rows
    # id + 0 is not what any index is ordered by: the planner must take the matches from the
    # trigram indexes and sort them, never walk the older contacts in id order.
    older = (
        page.filter(id__lt=bound)
        .annotate(newest=RawSQL('"contact"."id" + 0'))
        .order_by("-newest")
        .limit(size + 1 - len(rows))
    )
    return [*rows, *await older.values(*CONTACT_READ)]


async def _newest_rows(
    found: Matches,
    account_id: int,
    searched: bool,
    before: int | None,
    size: int,
    counted: bool,
    read: RowReader,
) -> tuple[list[Any], int | None]:
    """Up to size + 1 matches newest first, and their count when `counted` and it came with them.
    `searched`: a search without a filter (PostgreSQL reads it as _searched_rows says). A filter
    of memberships with a row per contact reads its first page and its count in one pass over
    them (crm/contact_count.py). `read`: the rows of ids found (in their order)."""
    scoped = found.scoped
    if searched and dialect() == "postgres":
        return await _searched_rows(found.contacts, account_id, before, size), None
    if counted and scoped is not None and _page_counts(found, None, searched, before):
        ids, count = await scoped.newest_counted(size + 1)
        return await read(ids), count
    page = found.contacts.filter(id__lt=before) if before is not None else found.contacts
    return await read(await page.order_by("-id").limit(size + 1).values_list("id", flat=True)), None


def _page_counts(found: Matches, order: Any, searched: bool, before: int | None) -> bool:
    """Whether `_newest_rows` reads the count with the page (see there)."""
    scoped = found.scoped
    return (
        not order
        and not (searched and dialect() == "postgres")
        and scoped is not None
        and before is None
        and scoped.once_each
    )


def _discard(task: asyncio.Task[Any]) -> None:
    """Retrieve an abandoned task's outcome, so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


async def _planned_count(found: Matches) -> int:
    """The matches' count, planned for its values (crm/db.custom_plans)."""
    async with custom_plans():
        return await found.count()


async def _known_count(count: int) -> int:
    return count


@strawberry.type
class CoreQueries:
    @strawberry.field(description="One contact card by its global ID.")
    async def contact(self, info: Info, id: strawberry.ID) -> Contact | None:
        return await load_contact(info, decode_id(id, "Contact"))

    @strawberry.field(
        description="Contacts of the account, newest first unless `orderBy` says otherwise; "
        "`search` matches names, emails and phones; `filter` narrows them (README: Filtering and sorting)."
    )
    async def contacts(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        search: str | None = None,
        archived: Annotated[
            bool,
            strawberry.argument(
                description="true lists the archive (archived contacts only) instead of the live contacts."
            ),
        ] = False,
        filter: ContactFilter | None = None,
        order_by: Annotated[
            list[ContactOrder] | None,
            strawberry.argument(
                description="Sort keys, at most 5; the id breaks ties. Cursors hold the order."
            ),
        ] = None,
    ) -> ContactConnection:
        size = page_size(first)
        account_id = info.context.require_actor().account_id
        if search is not None and len(search) > MAX_SEARCH_LENGTH:
            raise BadInput(f"search is limited to {MAX_SEARCH_LENGTH} characters", field="search")
        spec = filter_to_domain(filter)
        found = await matches(account_id, spec, archived=archived, search=search)
        # A filtered or sorted table is planned for its values (crm/db.custom_plans), and
        # counted when asked for its totalCount.
        planned = bool(spec or order_by)
        wants_count = planned and selects(info, "totalCount")
        order = order_to_domain(order_by) if order_by else None
        keys = await sort_keys(account_id, order) if order else None
        searched = search is not None and search_condition(search) is not None and not spec
        before = decode_cursor(after, CONTACT_CURSOR) if after and not order else None
        count: int | None = None
        counting: asyncio.Task[int] | None = None
        loaders = info.context.loaders

        async def read(ids: Sequence[int]) -> list[Row]:
            # The page's rows by id through the card's loader (hand-written SQL, kept for nested
            # fields): the filter's own statement selects ids only, not 57 columns and three
            # owner joins built by the ORM (bench/filters.py: ~1.5 ms of a request at 10k).
            return [row for row in await loaders.contact.load_many(list(ids)) if row is not None]

        if keys and counted_first(keys):  # the page's plan depends on how many match
            count = await _planned_count(found)
        elif wants_count and dialect() == "postgres" and not _page_counts(found, order, searched, before):
            # Counted on a connection of its own while the page is read: the request takes the
            # longer of the two, not their sum (bench/filters.py). The page holds its own
            # connection and never waits for this one, so a full pool only queues requests.
            counting = asyncio.create_task(_planned_count(found))
        try:
            async with custom_plans() if planned else nullcontext():
                if order:
                    position = decode_order_cursor(after) if after else None
                    page = await ordered_page(
                        account_id, found.contacts, order, size, position, found.scoped,
                        keys=keys, matched=count, read=read,
                    )  # fmt: skip
                    rows, more = page.rows, page.more
                    cursors = [encode_order_cursor(p) for p in page.positions]
                else:
                    rows, count = await _newest_rows(
                        found, account_id, searched, before, size, wants_count, read
                    )
                    more = len(rows) > size
                    rows = rows[:size]
                    cursors = [encode_cursor(CONTACT_CURSOR, r["id"]) for r in rows]
        except BaseException:
            if counting is not None:  # the page failed: its count is of no use
                counting.cancel()
                counting.add_done_callback(_discard)
            raise
        if counting is not None:
            count = await counting
        elif count is None and wants_count:
            count = await _planned_count(found)
        edges = [
            ContactEdge(cursor=cursor, node=Contact.from_row(r))
            for cursor, r in zip(cursors, rows, strict=True)
        ]
        # Prime the contact loader: nested fields that point back at these contacts cost nothing.
        for row in rows:
            info.context.loaders.contact.prime(row["id"], row)
        return ContactConnection(
            edges=edges,
            page_info=forward_page(edges, more=more, after=after),
            _count=found.count if count is None else partial(_known_count, count),
        )

    @strawberry.field(description="Any object by its global ID.")
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        try:
            type_name, node_id = parse_global_id(id)
        except NonCanonicalId:  # another spelling of an id names no object, like an unknown id
            raise NotFound(f"no object with id {id!r}; ids are used exactly as the API gives them") from None
        except ValueError:
            raise BadInput(f"{id!r} is not a valid global id", field="id") from None
        if type_name == "ApiKey":  # admins only (FORBIDDEN for others), so not a card loader
            api_key = await api_key_node(info, node_id)
            if api_key is None:
                raise NotFound(f"no ApiKey with id {node_id} in this account")
            return api_key
        if type_name == "Form":  # admins only, like API keys: a form's key is its credential
            form = await form_node(info, node_id)
            if form is None:
                raise NotFound(f"no Form with id {node_id} in this account")
            return form
        if type_name == "Notification":  # the caller's own only, like their inbox
            notification = await notification_node(info, node_id)
            if notification is None:
                raise NotFound(f"no Notification with id {node_id} for you")
            return notification
        if type_name == "View":  # the caller's own and shared ones (admins: any), like `views`
            view = await view_node(info, node_id)
            if view is None:
                raise NotFound(f"no View with id {node_id} in this account")
            return view
        if type_name in ("BackgroundJob", "BulkJob"):  # one table: the kind decides the type
            return await load_typed_job(info, type_name, node_id)
        if type_name not in _NODE_TYPES:
            raise BadInput(f"{type_name!r} objects cannot be fetched by id", field="id")
        loader_name, node_type = _NODE_TYPES[type_name]
        row = await getattr(info.context.loaders, loader_name).load(node_id)
        if row is None:
            raise NotFound(f"no {type_name} with id {node_id} in this account")
        return node_type.from_row(row)  # type: ignore[attr-defined]

    @strawberry.field(description="The caller: the API key's user and account.")
    async def viewer(self, info: Info) -> Viewer:
        actor = info.context.require_actor()
        row = await info.context.loaders.user.load(actor.user_id or 0)
        if row is None:
            raise NotFound("the API key's user no longer exists")
        account = await AccountModel.get(id=actor.account_id)
        return Viewer(user=User.from_row(row), account=Account.from_model(account))

    @strawberry.field(description="The account's users.")
    async def users(self, info: Info) -> list[User]:
        actor = info.context.require_actor()
        rows = (
            await UserModel.filter(account_id=actor.account_id).order_by("name", "id").values(*USER_COLUMNS)
        )
        return [User.from_row(r) for r in rows]

    @strawberry.field(description="Loaded plugins, their versions and hooks (admins).")
    def plugins(self, info: Info) -> list[PluginInfo]:
        actor = info.context.require_actor()
        if actor.role is not Role.ADMIN:
            raise Forbidden("only admins can list plugins")
        return [
            PluginInfo(name=p.name, version=p.version, builtin=p.builtin, hooks=list(p.hooks))
            for p in info.context.plugins.plugins()
        ]
