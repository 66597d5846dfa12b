"""addDeal, updateDeal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from crm.models import Deal as DealModel
from crm.services import deals as deal_service
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.loaders import DEAL_COLUMNS, DEAL_USERS
from graph.resolvers.mutations import changed, joined_row, provided
from graph.schema.deals import Deal
from graph.schema.enums import DealStatus, PaymentType

_FIELDS = {
    "product_name": "product_name", "amount": "amount", "currency": "currency",
    "payment_type": "payment_type", "status": "status", "recurring": "recurring",
    "likelihood": "likelihood", "close_date": "close_date",
}  # fmt: skip


LIKELIHOOD_HELP = (
    "How likely the deal is to be won, in percent (0-100); weights Contact.opportunity.likelihood."
)
CLOSE_DATE_HELP = "When the deal is expected to close (YYYY-MM-DD)."


@strawberry.input
class AddDealInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id.")
    product_name: str = strawberry.field(description="1-200 characters.")
    amount: Decimal = strawberry.field(
        description='Exact decimal string ("1999.50") or number; 0 or more, below 10^14, with at most the'
        " currency's decimal places (USD 2, JPY 0, BHD 3)."
    )
    currency: str = strawberry.field(description="ISO 4217 code in any case, e.g. USD.")
    payment_type: PaymentType = strawberry.field(description="ONE_TIME, RECURRING or PAYMENT_PLAN.")
    status: DealStatus = strawberry.field(default=DealStatus.OPEN, description="WON or LOST sets closedAt.")
    recurring: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Defaults to true for RECURRING payments."
    )
    likelihood: int | None = strawberry.field(default=strawberry.UNSET, description=LIKELIHOOD_HELP)
    close_date: date | None = strawberry.field(default=strawberry.UNSET, description=CLOSE_DATE_HELP)


@strawberry.input(description="Fields left out stay as they are.")
class UpdateDealInput:
    id: strawberry.ID = strawberry.field(description="The deal's id.")
    product_name: str | None = strawberry.field(default=strawberry.UNSET, description="1-200 characters.")
    amount: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="As in addDeal; must fit the currency."
    )
    currency: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="ISO 4217 code; the amount must fit it (send both to switch to JPY).",
    )
    payment_type: PaymentType | None = strawberry.field(
        default=strawberry.UNSET, description="ONE_TIME, RECURRING or PAYMENT_PLAN."
    )
    status: DealStatus | None = strawberry.field(
        default=strawberry.UNSET, description="WON or LOST sets closedAt; OPEN clears it."
    )
    recurring: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Must be true for RECURRING payments."
    )
    likelihood: int | None = strawberry.field(
        default=strawberry.UNSET, description=LIKELIHOOD_HELP + " Null clears it."
    )
    close_date: date | None = strawberry.field(
        default=strawberry.UNSET, description=CLOSE_DATE_HELP + " Null clears it."
    )


def _values(source: object) -> dict[str, object]:
    values = provided(source, _FIELDS)
    for key in ("payment_type", "status"):
        if values.get(key) is not None:
            values[key] = values[key].value  # type: ignore[union-attr]
    return values


async def _result(info: Info, deal: DealModel) -> Deal:
    changed(info)
    return Deal.from_row(await joined_row(info, deal, DEAL_COLUMNS, DEAL_USERS))


@strawberry.type
class DealMutations:
    @strawberry.mutation(description="Add a deal to the contact.")
    async def add_deal(self, info: Info, input: AddDealInput) -> Deal:
        deal = await deal_service.add_deal(
            info.context.require_actor(), decode_id(input.contact_id, "Contact", "contactId"), _values(input)
        )
        return await _result(info, deal)

    @strawberry.mutation(description="Change a deal, e.g. mark it WON.")
    async def update_deal(self, info: Info, input: UpdateDealInput) -> Deal:
        deal = await deal_service.update_deal(
            info.context.require_actor(), decode_id(input.id, "Deal"), _values(input)
        )
        return await _result(info, deal)
