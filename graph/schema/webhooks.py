"""Signed outgoing webhooks: the endpoints admins register and their delivery logs.

An endpoint's signing secret is shown once, in the payload of `createWebhookEndpoint` and of
`rotateWebhookSecret`; it is never readable afterwards (an admin who lost it rotates it).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from crm.models import WebhookEndpoint as WebhookEndpointModel
from graph.context import Info
from graph.ids import decode_cursor, encode_cursor, page_size
from graph.resolvers.loaders import delivery_page_key
from graph.schema.common import PageInfo, forward_page

DELIVERY_CURSOR = "webhook_delivery"


@strawberry.enum(description="PENDING while being tried (with backoff), then DELIVERED or FAILED.")
class WebhookDeliveryStatus(Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@strawberry.type(description="One event sent (or being sent) to one webhook endpoint, with its last outcome.")
class WebhookDelivery(relay.Node):
    id: relay.NodeID[int]
    event_id: str = strawberry.field(description="The event's id, the body's `id`: receivers dedupe on it.")
    event: str = strawberry.field(description="The hook name, e.g. contact_created (`Dossier-Event`).")
    status: WebhookDeliveryStatus
    attempts: int
    response_status: int | None = strawberry.field(description="The HTTP status of the last answer, if any.")
    error: str | None = strawberry.field(description="Why the last attempt failed.")
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    payload: JSON = strawberry.field(description="The JSON body POSTed: {id, type, kind, createdAt, data}.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> WebhookDelivery:
        return cls(
            id=row["id"], event_id=row["event_id"], event=row["event"],
            status=WebhookDeliveryStatus(row["status"]), attempts=row["attempts"],
            response_status=row["response_status"], error=row["error"], created_at=row["created_at"],
            last_attempt_at=row["last_attempt_at"], delivered_at=row["delivered_at"], payload=row["payload"],
        )  # fmt: skip


@strawberry.type
class WebhookDeliveryEdge:
    cursor: str
    node: WebhookDelivery


@strawberry.type(description="A page of an endpoint's delivery log, newest first.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[WebhookDelivery]:
        return [edge.node for edge in self.edges]


@strawberry.type(description="A URL that receives the account's events as signed JSON POSTs (admins).")
class WebhookEndpoint(relay.Node):
    id: relay.NodeID[int]
    url: str
    events: list[str] = strawberry.field(
        description="The hooks it receives (see webhookEvents); empty means every event."
    )
    active: bool
    description: str | None
    created_at: datetime

    @classmethod
    def from_model(cls, endpoint: WebhookEndpointModel) -> WebhookEndpoint:
        return cls(
            id=endpoint.id, url=endpoint.url, events=list(endpoint.events or ()), active=endpoint.active,
            description=endpoint.description, created_at=endpoint.created_at,
        )  # fmt: skip

    @strawberry.field(description="What was sent to this endpoint and how it went, newest first.")
    async def deliveries(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        status: WebhookDeliveryStatus | None = None,
    ) -> WebhookDeliveryConnection:
        size = page_size(first)
        bound = decode_cursor(after, DELIVERY_CURSOR) if after else None
        key = delivery_page_key(self.id, size, bound, status.value if status else None)
        rows = await info.context.loaders.webhook_delivery_page.load(key)
        edges = [
            WebhookDeliveryEdge(
                cursor=encode_cursor(DELIVERY_CURSOR, r["id"]), node=WebhookDelivery.from_row(r)
            )
            for r in rows[:size]
        ]
        return WebhookDeliveryConnection(
            edges=edges,
            page_info=forward_page(edges, more=len(rows) > size, after=after),
        )
