"""setLeadSourceList, setActionPlanList, setSalesCycleList: the header's lists (admins)."""

from __future__ import annotations

import strawberry

from crm.services import header as header_service
from graph.context import Info
from graph.schema.accounts import Account


@strawberry.input(description="The whole list, in order; it replaces the account's list.")
class SetHeaderListInput:
    values: list[str] = strawberry.field(
        description=f"At most {header_service.MAX_VALUES} values of 1-{header_service.MAX_LENGTH} "
        "characters, trimmed; a repeat (ignoring case) is dropped. A value still held by "
        "a contact cannot be dropped (CONFLICT)."
    )


async def _set(info: Info, column: str, input: SetHeaderListInput) -> Account:
    account = await header_service.set_list(info.context.require_actor(), column, input.values)
    return Account.from_model(account)


@strawberry.type
class HeaderMutations:
    @strawberry.mutation(description="Replace the account's lead source list (admins only).")
    async def set_lead_source_list(self, info: Info, input: SetHeaderListInput) -> Account:
        return await _set(info, "lead_source", input)

    @strawberry.mutation(description="Replace the account's action plan list (admins only).")
    async def set_action_plan_list(self, info: Info, input: SetHeaderListInput) -> Account:
        return await _set(info, "action_plan", input)

    @strawberry.mutation(description="Replace the account's sales cycle list (admins only).")
    async def set_sales_cycle_list(self, info: Info, input: SetHeaderListInput) -> Account:
        return await _set(info, "sales_cycle", input)
