"""createWebhookEndpoint, updateWebhookEndpoint, rotateWebhookSecret, deleteWebhookEndpoint (admins)."""

from __future__ import annotations

import strawberry

from crm.services import webhooks as webhook_service
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.mutations import changed, provided
from graph.schema.webhooks import WebhookEndpoint

_FIELDS = {"url": "url", "events": "events", "active": "active", "description": "description"}


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="http(s) URL that receives the POSTs.")
    events: list[str] | None = strawberry.field(
        default=None, description="Hook names from webhookEvents; left out or empty = every event."
    )
    description: str | None = strawberry.field(default=None, description="At most 200 characters.")


@strawberry.input(description="Fields left out stay as they are.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="The endpoint's id.")
    url: str | None = strawberry.field(
        default=strawberry.UNSET, description="http(s) URL that receives the POSTs."
    )
    events: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the list; null or empty = every event."
    )
    active: bool | None = strawberry.field(
        default=strawberry.UNSET, description="false stops deliveries, including retries under way."
    )
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="At most 200 characters."
    )


@strawberry.input
class RotateWebhookSecretInput:
    id: strawberry.ID = strawberry.field(description="The endpoint's id.")


@strawberry.input
class DeleteWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="The endpoint's id.")


@strawberry.type(description="The new endpoint and its signing secret, shown this once.")
class CreateWebhookEndpointPayload:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="HMAC-SHA256 key of Dossier-Signature. Store it now: it is never shown again."
    )


@strawberry.type(description="The endpoint and its new signing secret, shown this once.")
class RotateWebhookSecretPayload:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="Signs every delivery from now on; the old secret stops working at once."
    )


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(description="Register a webhook endpoint (admins); returns its secret, once.")
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointPayload:
        endpoint = await webhook_service.create_endpoint(
            info.context.require_actor(), input.url, input.events, input.description
        )
        changed(info)
        return CreateWebhookEndpointPayload(
            endpoint=WebhookEndpoint.from_model(endpoint), secret=endpoint.secret
        )

    @strawberry.mutation(description="Change a webhook endpoint's url, events, active flag or description.")
    async def update_webhook_endpoint(self, info: Info, input: UpdateWebhookEndpointInput) -> WebhookEndpoint:
        endpoint = await webhook_service.update_endpoint(
            info.context.require_actor(), decode_id(input.id, "WebhookEndpoint"), **provided(input, _FIELDS)
        )
        changed(info)
        return WebhookEndpoint.from_model(endpoint)

    @strawberry.mutation(description="Replace an endpoint's signing secret; returns the new one, once.")
    async def rotate_webhook_secret(
        self, info: Info, input: RotateWebhookSecretInput
    ) -> RotateWebhookSecretPayload:
        endpoint = await webhook_service.rotate_secret(
            info.context.require_actor(), decode_id(input.id, "WebhookEndpoint")
        )
        changed(info)
        return RotateWebhookSecretPayload(
            endpoint=WebhookEndpoint.from_model(endpoint), secret=endpoint.secret
        )

    @strawberry.mutation(description="Delete a webhook endpoint and its delivery log; returns it as it was.")
    async def delete_webhook_endpoint(self, info: Info, input: DeleteWebhookEndpointInput) -> WebhookEndpoint:
        endpoint = await webhook_service.delete_endpoint(
            info.context.require_actor(), decode_id(input.id, "WebhookEndpoint")
        )
        changed(info)
        return WebhookEndpoint.from_model(endpoint)
