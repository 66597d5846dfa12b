"""Root query fields of API keys (admins only)."""

from __future__ import annotations

import strawberry

from crm.services import accounts as account_service
from graph.context import Info
from graph.schema.accounts import ApiKey


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(
        description="The account's API keys, newest first (at most 1,000), revoked ones included "
        "unless `includeRevoked: false` (admins only)."
    )
    async def api_keys(self, info: Info, include_revoked: bool = True) -> list[ApiKey]:
        keys = await account_service.list_api_keys(
            info.context.require_actor(), include_revoked=include_revoked
        )
        return [ApiKey.from_model(k) for k in keys]


async def api_key_node(info: Info, key_id: int) -> ApiKey | None:
    """`node(id:)` for an ApiKey global id: admins only, the caller's account only."""
    found = await account_service.get_api_key(info.context.require_actor(), key_id)
    return ApiKey.from_model(found) if found is not None else None
