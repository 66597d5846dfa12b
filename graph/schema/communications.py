"""One communication history (B9) and insights (A9) of a card.

`Contact.communications` lists calls, SMS, emails, chat messages and web-form leads in one
connection, newest first; each edge holds a `Communication`, the existing `Call`, `Message`
or `Lead`. How items are ordered and read: graph/resolvers/communications_loaders.py.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Annotated, Any

import strawberry

from crm.clock import EARLIEST, LATEST
from crm.errors import BadInput, NotFound
from graph.context import Info
from graph.ids import encode_cursor, page_size
from graph.prepared import NOT_READ, prepared
from graph.resolvers.communications_loaders import (
    CALL,
    CHANNELS,
    KINDS,
    LEAD,
    MESSAGE,
    CommunicationsKey,
    Interactions,
    Item,
    Position,
    Totals,
)
from graph.resolvers.selection import selects
from graph.schema.calls import Call
from graph.schema.common import Money, PageInfo, forward_page
from graph.schema.leads import Lead
from graph.schema.messages import Direction, Message

CURSOR = "communication"
MAX_ITEM_ID = 2**63 - 1  # message ids are 64-bit
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@strawberry.enum(
    description="How a communication reached or left the contact: a call, an SMS, an email, a web "
    "form (a lead) or a chat message (recorded by a chat plugin)."
)
class CommunicationChannel(Enum):
    CALL = "CALL"
    SMS = "SMS"
    EMAIL = "EMAIL"
    WEBFORM = "WEBFORM"
    CHAT = "CHAT"


Communication = Annotated[
    Call | Message | Lead,
    strawberry.union(
        "Communication",
        description="One item of a card's communication history: a call, a message or a lead.",
    ),
]


def encode_position(position: Position) -> str:
    micros = (position.at - _EPOCH) // _MICROSECOND
    return encode_cursor(CURSOR, f"{micros}.{position.kind}.{position.id}")  # type: ignore[arg-type]


def decode_position(cursor: str, field: str = "after") -> Position:
    """The (time, kind, id) inside a cursor this list wrote; anything else is bad input."""
    try:
        prefix, rest = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
        micros_text, kind_text, id_text = rest.split(".")
        micros, kind, item_id = int(micros_text), int(kind_text), int(id_text)
        if prefix != CURSOR or kind not in KINDS or not 1 <= item_id <= MAX_ITEM_ID:
            raise ValueError(rest)
        at = _EPOCH + micros * _MICROSECOND
        if not EARLIEST <= at <= LATEST:
            raise ValueError(rest)
        position = Position(at, kind, item_id)
        if encode_position(position) != cursor:
            raise ValueError(cursor)
        return position
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError, UnicodeEncodeError):
        raise BadInput(
            f"{field} {cursor!r} is not a cursor of this communication history: pass an edge's `cursor`",
            field=field,
        ) from None


def clean_channels(channels: list[CommunicationChannel] | None) -> tuple[str, ...]:
    if channels is None:
        return CHANNELS
    if not channels:
        raise BadInput(
            "channels is empty: leave it out for every channel, or name at least one of "
            + ", ".join(CHANNELS),
            field="channels",
        )
    return tuple(sorted({c.value for c in channels}))


@strawberry.type(description="One item of the communication history and where it sits in it.")
class CommunicationEdge:
    cursor: str = strawberry.field(description="Pass as `communications(after:)` to read on after this item.")
    channel: CommunicationChannel
    at: datetime = strawberry.field(
        description="The time the history sorts by: a call's scheduledAt (when it takes or took place), "
        "a message's createdAt (a chat message's time said), a lead's submittedAt."
    )
    direction: Direction | None = strawberry.field(
        description="INBOUND or OUTBOUND; a web form is INBOUND; null for a booked call."
    )
    _item: strawberry.Private[Item]
    # Read for the whole page by resolve_communications (when the query selects `node`).
    _node: strawberry.Private[Call | Message | Lead | None] = None

    @strawberry.field(description="The call, message or lead.")
    def node(self) -> Communication:
        if self._node is None:
            raise NotFound("this communication was deleted while the page was read: read the page again")
        return self._node  # type: ignore[return-value]


@strawberry.type(description="A page of the communication history, newest first.")
class CommunicationConnection:
    edges: list[CommunicationEdge]
    page_info: PageInfo
    _contact_id: strawberry.Private[int]
    _channels: strawberry.Private[tuple[str, ...]]
    # Counted by the page's statement (a first page with items), else NOT_READ.
    _total: strawberry.Private[Any] = NOT_READ

    @strawberry.field(description="Communications of the card in these channels, all pages together.")
    @prepared("_total")
    async def total_count(self, info: Info) -> int:
        if self._total is not NOT_READ:
            return self._total  # type: ignore[no-any-return]
        return await info.context.loaders.communication_count.load((self._contact_id, self._channels))


_CHANNELS = {channel.value: channel for channel in CommunicationChannel}
_DIRECTIONS = {direction.value: direction for direction in Direction}  # type: ignore[attr-defined]


_MAKERS = {CALL: Call, MESSAGE: Message, LEAD: Lead}


def _node_of(item: Item) -> Call | Message | Lead | None:
    """The item's call, message or lead, from the row its page statement read with it."""
    return None if item.row is None else _MAKERS[item.position.kind].from_row(item.row)  # type: ignore[attr-defined]


async def resolve_communications(
    info: Info, contact_id: int, first: int, after: str | None, channels: list[CommunicationChannel] | None
) -> CommunicationConnection:
    size = page_size(first)
    wanted = clean_channels(channels)
    bound = decode_position(after) if after is not None else None
    # The items' calls, messages and leads, and the count, come in the page's statement when
    # the query asks.
    nodes = selects(info, "edges", "node")
    page = await info.context.loaders.communication_page.load(
        CommunicationsKey(contact_id, size, bound, wanted, nodes, selects(info, "totalCount"))
    )
    items = page.items
    shown = items[:size]
    edges = [
        CommunicationEdge(
            cursor=encode_position(item.position),
            channel=_CHANNELS[item.channel],
            at=item.position.at,
            direction=_DIRECTIONS[item.direction] if item.direction else None,
            _item=item,
            _node=_node_of(item) if nodes else None,
        )
        for item in shown
    ]
    return CommunicationConnection(
        edges=edges,
        page_info=forward_page(edges, more=len(items) > size, after=after),
        _contact_id=contact_id,
        _channels=wanted,
        _total=NOT_READ if page.total is None else page.total,
    )


@strawberry.type(description="The newest communication that happened.")
class Interaction:
    at: datetime
    channel: CommunicationChannel
    summary: str | None = strawberry.field(
        description="A call's outcome and summary, a message's first 140 characters as plain text on "
        "one line, a web form's name."
    )


@strawberry.type(
    description="Figures about the customer, computed in SQL from the card's deals, jobs, invoices "
    "and communications (README: Insights)."
)
class Insights:
    _contact_id: strawberry.Private[int]
    # Filled in by Contact.insights when the query asks (prepare_insights, graph/prepared.py).
    _customer_since: strawberry.Private[Any] = NOT_READ
    _jobs_completed: strawberry.Private[Any] = NOT_READ
    _lifetime_value: strawberry.Private[Any] = NOT_READ
    _most_common_channel: strawberry.Private[Any] = NOT_READ
    _last_interaction: strawberry.Private[Any] = NOT_READ

    def _fill_totals(self, totals: Totals) -> None:
        self._customer_since = totals.customer_since
        self._jobs_completed = totals.jobs_completed
        self._lifetime_value = Money.of(totals.lifetime_value, totals.currency)

    def _fill_interactions(self, found: Interactions) -> None:
        common, channel = found.most_common_channel, found.last_channel
        self._most_common_channel = _CHANNELS[common] if common else None
        self._last_interaction = (
            None
            if found.last_at is None or channel is None
            else Interaction(at=found.last_at, channel=_CHANNELS[channel], summary=found.last_summary)
        )

    @strawberry.field(
        description="The contact's convertedAt if set, else the earliest of its first WON deal's "
        "closedAt, first DONE job's completedAt and first PAID or PARTIALLY_PAID invoice's paidAt; "
        "null if none."
    )
    @prepared("_customer_since")
    async def customer_since(self, info: Info) -> datetime | None:
        if self._customer_since is not NOT_READ:
            return self._customer_since  # type: ignore[no-any-return]
        return (await info.context.loaders.insight_totals.load(self._contact_id)).customer_since

    @strawberry.field(description="Jobs with status DONE.")
    @prepared("_jobs_completed")
    async def jobs_completed(self, info: Info) -> int:
        if self._jobs_completed is not NOT_READ:
            return self._jobs_completed  # type: ignore[no-any-return]
        return (await info.context.loaders.insight_totals.load(self._contact_id)).jobs_completed

    @strawberry.field(
        description="WON deals' amounts plus the amountPaid of invoices that are not VOID, in the "
        "account's currency: rows in other currencies are left out."
    )
    @prepared("_lifetime_value")
    async def lifetime_value(self, info: Info) -> Money:
        if self._lifetime_value is not NOT_READ:
            return self._lifetime_value  # type: ignore[no-any-return]
        totals = await info.context.loaders.insight_totals.load(self._contact_id)
        return Money.of(totals.lifetime_value, totals.currency)

    @strawberry.field(
        description="The channel with the most communications that happened (calls once logged or "
        "given an outcome); at a tie, the one used most recently. Null without any."
    )
    @prepared("_most_common_channel")
    async def most_common_channel(self, info: Info) -> CommunicationChannel | None:
        if self._most_common_channel is not NOT_READ:
            return self._most_common_channel  # type: ignore[no-any-return]
        found = (await info.context.loaders.interactions.load(self._contact_id)).most_common_channel
        return _CHANNELS[found] if found else None

    @strawberry.field(
        description="The newest communication that happened: a scheduled call counts once it is "
        "logged or has an outcome. Null without any."
    )
    @prepared("_last_interaction")
    async def last_interaction(self, info: Info) -> Interaction | None:
        if self._last_interaction is not NOT_READ:
            return self._last_interaction  # type: ignore[no-any-return]
        found = await info.context.loaders.interactions.load(self._contact_id)
        if found.last_at is None or found.last_channel is None:
            return None
        return Interaction(
            at=found.last_at, channel=_CHANNELS[found.last_channel], summary=found.last_summary
        )


_TOTALS = ("customerSince", "jobsCompleted", "lifetimeValue")
_INTERACTIONS = ("mostCommonChannel", "lastInteraction")


async def prepare_insights(info: Info, contact_id: int) -> Insights:
    """Contact.insights: the insight loaders read once, when the query asks for their fields
    (both kinds: one statement), instead of one awaited resolver per field."""
    insights = Insights(_contact_id=contact_id)
    loaders = info.context.loaders
    totals = any(selects(info, field) for field in _TOTALS)
    interactions = any(selects(info, field) for field in _INTERACTIONS)
    if totals and interactions:
        found_totals, found_interactions = await loaders.insights.load(contact_id)
        insights._fill_totals(found_totals)
        insights._fill_interactions(found_interactions)
    elif totals:
        insights._fill_totals(await loaders.insight_totals.load(contact_id))
    elif interactions:
        insights._fill_interactions(await loaders.interactions.load(contact_id))
    return insights
