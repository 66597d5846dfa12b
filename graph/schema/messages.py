"""Messages (the SMS thread and emails), card links and property facts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from crm.contracts import CardLink as CardLinkData
from crm.contracts import PropertyFacts as PropertyFactsData
from crm.services.messages import Channel as _Channel
from crm.services.messages import Direction as _Direction
from crm.services.messages import MessageStatus as _MessageStatus
from graph.context import Info
from graph.schema.accounts import User, joined_user
from graph.schema.common import PageInfo

if TYPE_CHECKING:
    from graph.schema.contacts import Contact

Channel = strawberry.enum(_Channel, name="Channel")
Direction = strawberry.enum(_Direction, name="Direction")
MessageStatus = strawberry.enum(
    _MessageStatus,
    name="MessageStatus",
    description=(
        "QUEUED → SENDING → SENT → DELIVERED, or FAILED/UNDELIVERED; RECEIVED for inbound. SENDING: "
        "a try has started (recorded before the provider is called) and its outcome is not recorded "
        "yet; a retry first asks the provider whether it already took the message."
    ),
)


@strawberry.type(description="One SMS, email or chat message, outbound or inbound.")
class Message(relay.Node):
    id: relay.NodeID[int]
    channel: Channel
    direction: Direction
    status: MessageStatus
    to: str
    sender: str | None = strawberry.field(name="from")
    subject: str | None
    body: str
    error_code: str | None = strawberry.field(description="The provider's error code, e.g. Twilio 30003.")
    error_message: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    _contact_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Message:
        def when(key: str) -> datetime | None:
            value = row[key]
            return datetime.fromisoformat(value) if isinstance(value, str) else value

        return cls(
            id=row["id"],
            channel=Channel(row["channel"]),
            direction=Direction(row["direction"]),
            status=MessageStatus(row["status"]),
            to=row["to_address"],
            sender=row["from_address"],
            subject=row["subject"],
            body=row["body"],
            error_code=row["error_code"],
            error_message=row["error_message"],
            created_at=when("created_at"),  # type: ignore[arg-type]
            sent_at=when("sent_at"),
            delivered_at=when("delivered_at"),
            _contact_id=row["contact_id"],
            author=joined_user(row, "author"),
        )

    author: User | None = strawberry.field(description="The user who sent it (outbound messages).")

    @strawberry.field
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        from graph.schema.contacts import load_contact

        return await load_contact(info, self._contact_id)  # type: ignore[return-value]


@strawberry.type
class MessageEdge:
    cursor: str
    node: Message


@strawberry.type(description="A page of a message thread, oldest first (newest last).")
class MessageConnection:
    edges: list[MessageEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Message]:
        return [edge.node for edge in self.edges]


@strawberry.type(description="A link contributed by a plugin: directions, the property on Zillow, tel:, ...")
class CardLink:
    kind: str = strawberry.field(description="DIRECTIONS, PROPERTY, CALL, SMS, EMAIL or a plugin's own.")
    label: str
    url: str
    plugin: str

    @classmethod
    def from_data(cls, link: CardLinkData) -> CardLink:
        return cls(kind=link.kind, label=link.label, url=link.url, plugin=link.plugin)


@strawberry.type(
    description="Facts about the property at the contact's address, from a property-data provider."
)
class PropertyFacts:
    source: str
    estimate: Decimal | None
    currency: str
    beds: float | None
    baths: float | None
    year_built: int | None
    square_feet: int | None
    url: str | None

    @classmethod
    def from_data(cls, facts: PropertyFactsData) -> PropertyFacts:
        return cls(
            source=facts.source, estimate=facts.estimate, currency=facts.currency, beds=facts.beds,
            baths=facts.baths, year_built=facts.year_built, square_feet=facts.square_feet, url=facts.url,
        )  # fmt: skip
