"""setStatusList: the account's configurable statuses (admins)."""

from __future__ import annotations

import strawberry

from crm.services import accounts as account_service
from graph.context import Info
from graph.schema.accounts import Account


@strawberry.input
class StatusOptionInput:
    name: str
    sub_statuses: list[str] = strawberry.field(default_factory=list)
    converts: bool = False


@strawberry.input
class SetStatusListInput:
    statuses: list[StatusOptionInput] = strawberry.field(
        description="The whole list, in order; the first is the status of new contacts."
    )


@strawberry.type
class AccountMutations:
    @strawberry.mutation(description="Replace the account's status list (admins only).")
    async def set_status_list(self, info: Info, input: SetStatusListInput) -> Account:
        account = await account_service.set_status_list(
            info.context.require_actor(),
            [{"name": s.name, "subStatuses": s.sub_statuses, "converts": s.converts} for s in input.statuses],
        )
        return Account.from_model(account)
