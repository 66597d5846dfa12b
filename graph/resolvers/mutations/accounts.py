"""setStatusList (the account's configurable statuses), createApiKey and revokeApiKey (admins)."""

from __future__ import annotations

import strawberry

from crm.services import accounts as account_service
from graph.context import Info
from graph.ids import decode_id
from graph.schema.accounts import Account, ApiKey
from graph.schema.enums import Routing


@strawberry.input
class StatusOptionInput:
    name: str = strawberry.field(description="1-50 characters, unique in the list ignoring case.")
    sub_statuses: list[str] = strawberry.field(
        default_factory=list, description="Each 1-50 characters, unique ignoring case."
    )
    converts: bool = strawberry.field(default=False, description="Reaching this status records convertedAt.")
    routing: Routing | None = strawberry.field(
        default=None,
        description="CLIENT: reaching this status sends the card to the account's client (a conversion); "
        "MANAGER: holds it for a manager's review first. Not on the first status (new contacts).",
    )


@strawberry.input
class SetStatusListInput:
    statuses: list[StatusOptionInput] = strawberry.field(
        description="The whole list, in order, 1 to 30 statuses; the first is the status of new contacts."
    )


@strawberry.type
class AccountMutations:
    @strawberry.mutation(description="Replace the account's status list (admins only).")
    async def set_status_list(self, info: Info, input: SetStatusListInput) -> Account:
        account = await account_service.set_status_list(
            info.context.require_actor(),
            [
                {
                    "name": s.name,
                    "subStatuses": s.sub_statuses,
                    "converts": s.converts,
                    "routing": s.routing.value if s.routing else None,
                }
                for s in input.statuses
            ],
        )
        return Account.from_model(account)


@strawberry.input
class CreateApiKeyInput:
    user_id: strawberry.ID = strawberry.field(description="The user whose rights the key carries.")
    name: str = strawberry.field(description="What the key is for, e.g. 'Zapier' (1-120 characters).")


@strawberry.input
class RevokeApiKeyInput:
    id: strawberry.ID = strawberry.field(description="The key's id (ApiKey.id).")


@strawberry.type(description="The new key and its secret, shown this once.")
class CreateApiKeyPayload:
    api_key: ApiKey
    key: str = strawberry.field(
        description="Send it as `Authorization: Bearer <key>`. Store it now: it is never shown again."
    )


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation(description="Create an API key for a user of the account (admins); returns it once.")
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        created = await account_service.create_api_key(
            info.context.require_actor(), decode_id(input.user_id, "User", "userId"), input.name
        )
        return CreateApiKeyPayload(api_key=ApiKey.from_model(created.api_key), key=created.key)

    @strawberry.mutation(
        description="Revoke an API key (admins): refused at once, its open WebSockets closed (4403). "
        "Revoking a revoked key returns it unchanged; the account's last working admin key "
        "cannot be revoked through the API (CONFLICT)."
    )
    async def revoke_api_key(self, info: Info, input: RevokeApiKeyInput) -> ApiKey:
        revoked = await account_service.revoke_api_key(
            info.context.require_actor(), decode_id(input.id, "ApiKey")
        )
        return ApiKey.from_model(revoked)
