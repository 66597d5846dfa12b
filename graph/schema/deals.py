"""Deals tied to a contact."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from crm import money
from graph.context import Info
from graph.schema.accounts import User, joined_user
from graph.schema.common import built
from graph.schema.enums import DealStatus, PaymentType

if TYPE_CHECKING:
    from graph.schema.contacts import Contact

# Enum members by value: a dict lookup per deal instead of an Enum call.
_PAYMENT_TYPES = {payment_type.value: payment_type for payment_type in PaymentType}
_STATUSES = {status.value: status for status in DealStatus}


def _date(value: Any) -> date | None:
    # A mutation's row has the model's date; the read path's the driver's (text on SQLite).
    return date.fromisoformat(value) if isinstance(value, str) else value


@strawberry.type(description="A deal: a product sold (or to be sold) to the contact.")
class Deal(relay.Node):
    id: relay.NodeID[int]
    product_name: str
    amount: Decimal = strawberry.field(
        description="Exact decimal amount, as a string with the currency's decimal places"
        " (ISO 4217 minor units): 1999.50 USD, 2000 JPY, 12.345 BHD."
    )
    currency: str = strawberry.field(description="ISO 4217 code, e.g. USD.")
    payment_type: PaymentType
    status: DealStatus
    recurring: bool
    closed_at: datetime | None = strawberry.field(description="When the deal was won or lost.")
    likelihood: int | None = strawberry.field(
        description="How likely the deal is to be won, in percent (0-100); null: not estimated."
    )
    close_date: date | None = strawberry.field(description="When the deal is expected to close.")
    created_at: datetime
    updated_at: datetime
    _contact_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: dict[str, Any], batch: dict[Any, Any] | None = None) -> Deal:
        """`batch`: shared by the rows of one statement (see `joined_user`)."""
        payment_type, status = row["payment_type"], row["status"]
        return built(
            cls,
            {
                "id": row["id"],
                "product_name": row["product_name"],
                "amount": money.for_api(Decimal(row["amount"]), row["currency"]),
                "currency": row["currency"],
                "payment_type": _PAYMENT_TYPES.get(payment_type) or PaymentType(payment_type),
                "status": _STATUSES.get(status) or DealStatus(status),
                "recurring": bool(row["recurring"]),
                "closed_at": row["closed_at"],
                "likelihood": row["likelihood"],
                "close_date": _date(row["close_date"]),
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
                "_contact_id": row["contact_id"],
                "created_by": joined_user(row, "created_by", batch),
            },
        )

    created_by: User | None = strawberry.field(description="The user who added the deal, if still there.")

    @strawberry.field
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        from graph.schema.contacts import load_contact

        return await load_contact(info, self._contact_id)  # type: ignore[return-value]
