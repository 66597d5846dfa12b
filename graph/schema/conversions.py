"""Conversions (D11): a card sent to the account's client, or held for a manager's review."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from crm.services.conversions import ConversionStatus as _ConversionStatus
from crm.services.conversions import record_lines
from graph.context import Info
from graph.ids import encode_cursor
from graph.schema.accounts import User, joined_user
from graph.schema.common import PageInfo
from graph.schema.enums import Routing

if TYPE_CHECKING:
    from graph.schema.contacts import Contact

CONVERSION_CURSOR = "conversion"

ConversionStatus = strawberry.enum(
    _ConversionStatus,
    name="ConversionStatus",
    description=(
        "PENDING_REVIEW: held for a manager (MANAGER routing); SENT: released to the client "
        "(the conversion_sent event: the email plugin mails it, webhooks get it); REJECTED: a "
        "manager refused it; FAILED: the email to the client could not be delivered (see error)."
    ),
)


@strawberry.type(description="One line of a conversion: a name and its value.")
class ConversionField:
    name: str
    value: str


@strawberry.type(description="A card sent to the account's client (send to client / send to manager).")
class Conversion(relay.Node):
    id: relay.NodeID[int]
    status: ConversionStatus
    routing: Routing = strawberry.field(description="CLIENT: sent at once; MANAGER: reviewed first.")
    record: list[ConversionField] = strawberry.field(
        description="What the client receives, line by line: the card's summary as it was when the "
        "conversion was made (name, email, phone, representative, media source, campaign, status), "
        "with the user's fields applied."
    )
    fields: list[ConversionField] = strawberry.field(
        description="The fields the user added or changed (sendToClient)."
    )
    rep: str | None = strawberry.field(description="The representative, from the card's owners.")
    media_source: str | None = strawberry.field(description="utm_source of the first lead's UTMs.")
    campaign: str | None = strawberry.field(description="utm_campaign of the first lead's UTMs.")
    contact_status: str = strawberry.field(description="The contact's status when the conversion was made.")
    reason: str | None = strawberry.field(description="Why a manager rejected it.")
    error: str | None = strawberry.field(description="Why the email to the client failed (FAILED).")
    created_at: datetime
    reviewed_at: datetime | None
    sent_at: datetime | None = strawberry.field(description="When it was released to the client.")
    emailed_at: datetime | None = strawberry.field(
        description="When the client's email server accepted it (the built-in email plugin)."
    )
    created_by: User | None = strawberry.field(description="Who made it (a status change or sendToClient).")
    reviewed_by: User | None = strawberry.field(description="The manager who approved or rejected it.")
    _contact_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: dict[str, Any], batch: dict[Any, Any] | None = None) -> Conversion:
        summary = row["summary"] or {}
        extra = row["extra_fields"] or []
        return cls(
            id=row["id"],
            status=ConversionStatus(row["status"]),
            routing=Routing(row["routing"]),
            record=[
                ConversionField(name=label, value=value) for label, value in record_lines(summary, extra)
            ],
            fields=[ConversionField(name=f["name"], value=f["value"]) for f in extra],
            rep=summary.get("rep"),
            media_source=summary.get("mediaSource"),
            campaign=summary.get("campaign"),
            contact_status=summary.get("status") or "",
            reason=row["reason"],
            error=row["error"],
            created_at=row["created_at"],
            reviewed_at=row["reviewed_at"],
            sent_at=row["sent_at"],
            emailed_at=row["emailed_at"],
            created_by=joined_user(row, "created_by", batch),
            reviewed_by=joined_user(row, "reviewed_by", batch),
            _contact_id=row["contact_id"],
        )

    @strawberry.field
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        from graph.schema.contacts import load_contact

        return await load_contact(info, self._contact_id)  # type: ignore[return-value]


@strawberry.type
class ConversionEdge:
    cursor: str
    node: Conversion


@strawberry.type(description="A page of conversions, newest first.")
class ConversionConnection:
    edges: list[ConversionEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Conversion]:
        return [edge.node for edge in self.edges]


def conversion_edges(rows: list[Any]) -> list[ConversionEdge]:
    batch: dict[Any, Any] = {}
    return [
        ConversionEdge(cursor=encode_cursor(CONVERSION_CURSOR, r["id"]), node=Conversion.from_row(r, batch))
        for r in rows
    ]
