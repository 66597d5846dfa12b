"""Deals: product, money, payment type and state."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from crm import money
from crm import validation as v
from crm.actor import Actor
from crm.clock import utcnow
from crm.errors import BadInput
from crm.journey import JourneyKind
from crm.models import Deal
from crm.services import _scoped
from crm.uow import unit_of_work


class PaymentType(StrEnum):
    ONE_TIME = "ONE_TIME"
    RECURRING = "RECURRING"
    PAYMENT_PLAN = "PAYMENT_PLAN"


class DealStatus(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


DEAL_FIELDS = {
    "product_name": "productName",
    "amount": "amount",
    "currency": "currency",
    "payment_type": "paymentType",
    "status": "status",
    "recurring": "recurring",
    "likelihood": "likelihood",
    "close_date": "closeDate",
}


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, raw in values.items():
        if key == "product_name":
            cleaned[key] = v.clean_text(raw, "productName", max_length=200, required=True)
        elif key == "amount":
            if raw is None:
                raise BadInput("amount cannot be null", field="amount")
            cleaned[key] = v.clean_amount(raw)
        elif key == "currency":
            cleaned[key] = v.clean_currency(raw)
        elif key in ("payment_type", "status"):
            if raw is None:
                raise BadInput(f"{DEAL_FIELDS[key]} cannot be null", field=DEAL_FIELDS[key])
            cleaned[key] = raw.value if isinstance(raw, StrEnum) else raw
        elif key == "recurring":
            if raw is None:
                raise BadInput("recurring cannot be null", field="recurring")
            cleaned[key] = bool(raw)
        elif key == "likelihood":
            cleaned[key] = _likelihood(raw)
        elif key == "close_date":
            cleaned[key] = _close_date(raw)
    return cleaned


def _likelihood(raw: Any) -> int | None:
    """A percent, 0 to 100 (how likely the deal is to be won); None clears it."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 100:
        raise BadInput(f"likelihood is a percent from 0 to 100, not {raw!r}", field="likelihood")
    return raw


def _close_date(raw: Any) -> date | None:
    """The expected close date (a date, not a time); None clears it."""
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    elif isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    raise BadInput(f"closeDate must be a date written YYYY-MM-DD, not {raw!r}", field="closeDate")


def _check_recurring(deal: Deal) -> None:
    if deal.payment_type == PaymentType.RECURRING and not deal.recurring:
        raise BadInput("a deal paid as RECURRING must have recurring: true", field="recurring")


def _json(value: Any, currency: str) -> Any:
    # Amounts as the API shows them: the currency's decimal places (1999.50 USD, 2000 JPY).
    if isinstance(value, Decimal):
        return money.text(value, currency)
    return value.isoformat() if isinstance(value, date) else value


def deal_subject(deal: Deal) -> dict[str, Any]:
    return {
        "productName": deal.product_name,
        "amount": money.text(deal.amount, deal.currency),
        "currency": deal.currency,
        "paymentType": deal.payment_type,
        "status": deal.status,
        "recurring": deal.recurring,
        "likelihood": deal.likelihood,
        "closeDate": deal.close_date.isoformat() if deal.close_date else None,
    }


def _money(deal: Deal) -> str:
    return money.display(deal.amount, deal.currency)


async def add_deal(actor: Actor, contact_id: int, values: Mapping[str, Any]) -> Deal:
    fields = {"status": DealStatus.OPEN.value, **_clean(values)}
    for required in ("product_name", "amount", "currency", "payment_type"):
        if fields.get(required) is None:
            raise BadInput(f"{DEAL_FIELDS[required]} is required", field=DEAL_FIELDS[required])
    money.check(fields["amount"], fields["currency"])
    fields.setdefault("recurring", fields["payment_type"] == PaymentType.RECURRING)
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        deal = Deal(
            contact_id=contact.id, account_id=contact.account_id, created_by_id=actor.user_id, **fields
        )
        _check_recurring(deal)
        if deal.status != DealStatus.OPEN:
            deal.closed_at = utcnow()
        await deal.save(using_db=uow.conn)
        await uow.record(
            contact,
            JourneyKind.DEAL_ADDED,
            f"{actor.name} added a deal: {deal.product_name}, {_money(deal)} ({deal.status.lower()})",
            {
                DEAL_FIELDS[k]: [None, _json(val, deal.currency)]
                for k, val in fields.items()
                if val is not None
            },
            subject_type="Deal",
            subject_id=deal.id,
            subject=deal_subject(deal),
        )
    return deal


async def update_deal(actor: Actor, deal_id: int, values: Mapping[str, Any]) -> Deal:
    fields = _clean(values)
    async with unit_of_work(actor) as uow:
        deal = await _scoped.deal(uow, deal_id)
        was, now = deal.currency, fields.get("currency", deal.currency)
        changes = {
            DEAL_FIELDS[k]: [_json(getattr(deal, k), was), _json(val, now)]
            for k, val in fields.items()
            if getattr(deal, k) != val
        }
        if not changes:
            return deal
        if "amount" in fields:
            money.check(fields["amount"], now)
        elif "currency" in changes:
            # A new currency must fit the amount kept: 1999.99 cannot become JPY by itself.
            try:
                money.check(deal.amount, now)
            except BadInput as exc:
                raise BadInput(
                    f"the deal's {exc.message}; send a new amount with it", field="currency"
                ) from None
        for key, val in fields.items():
            setattr(deal, key, val)
        _check_recurring(deal)
        if "status" in changes:
            deal.closed_at = None if deal.status == DealStatus.OPEN else utcnow()
        await deal.save(using_db=uow.conn)
        contact = await _scoped.contact(uow, deal.contact_id)  # type: ignore[attr-defined]
        await uow.record(
            contact,
            JourneyKind.DEAL_UPDATED,
            f"{actor.name} updated the deal {deal.product_name}: {', '.join(changes)}",
            changes,
            subject_type="Deal",
            subject_id=deal.id,
            subject=deal_subject(deal),
        )
    return deal
