"""Root query fields of signed outgoing webhooks (admins only)."""

from __future__ import annotations

import strawberry

from crm.actor import Role
from crm.errors import Forbidden
from crm.journey import EVENT_HOOKS
from crm.services import webhooks as webhook_service
from graph.context import Info
from graph.schema.webhooks import WebhookEndpoint


@strawberry.type
class WebhookQueries:
    @strawberry.field(description="The account's webhook endpoints, oldest first (admins).")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        endpoints = await webhook_service.list_endpoints(info.context.require_actor())
        return [WebhookEndpoint.from_model(e) for e in endpoints]

    @strawberry.field(description="The event names a webhook endpoint can subscribe to (admins).")
    def webhook_events(self, info: Info) -> list[str]:
        if info.context.require_actor().role is not Role.ADMIN:
            raise Forbidden("only admins manage webhook endpoints")
        return list(EVENT_HOOKS)
