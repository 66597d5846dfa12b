"""Rewards (E2): an append-only ledger per contact, and the figures the card shows from it.

Each line is EARNED (earnReward), ISSUED (issueReward: paid out to the contact) or
PROMO_REDEEMED (redeemPromo: a promo code used, optionally paid for from the balance). Lines
are only ever inserted. One contact's ledger holds one currency: that of its first line, which
is the account's currency at the time (Account.currency) unless the first call named another.

The figures (the same definitions feed the API, the README and the checks below):

- totalEarned  = sum of EARNED amounts
- amountIssued = sum of ISSUED amounts
- promo amounts = sum of PROMO_REDEEMED amounts (a promo without an amount counts 0)
- balance      = totalEarned - amountIssued - promo amounts: what the contact is still owed
- toBeIssued   = (direct earned + (converted ? non-direct earned : 0)) - amountIssued - promo
                 amounts, floored at 0: what issueReward may pay out now. Article 004, point 4:
                 a direct reward (earnReward with direct: true) can be issued straight away; any
                 other reward waits until the contact converts (convertedAt set). Issues and
                 promos are paid from the issuable part first, so it never exceeds the balance.
- lastIssuedAt = the time of the latest ISSUED line
- promosRedeemed = the number of PROMO_REDEEMED lines
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from crm import money
from crm import validation as v
from crm.actor import Actor
from crm.errors import BadInput, Forbidden
from crm.journey import JourneyKind
from crm.models import Account, Contact, RewardEntry
from crm.models.referrals import AMOUNT_SCALE
from crm.services import _scoped
from crm.uow import UnitOfWork, display_name, unit_of_work

MAX_REWARD = Decimal("1000000000")  # one line's amount: below 10^9 in the ledger's currency
REASON_MAX = 500
PROMO_MAX = 100
PREFERRED_MAX = 100


class RewardKind(StrEnum):
    EARNED = "EARNED"
    ISSUED = "ISSUED"
    PROMO_REDEEMED = "PROMO_REDEEMED"


def to_units(amount: Decimal) -> int:
    return int(amount * AMOUNT_SCALE)


def from_units(units: int | Decimal | None) -> Decimal:
    return Decimal(int(units or 0)).scaleb(-4)


@dataclass(frozen=True, slots=True)
class Totals:
    """A ledger's sums in whole ten-thousandths (see crm/models/referrals.py)."""

    currency: str | None
    earned: int = 0
    direct: int = 0  # the part of `earned` from direct rewards
    issued: int = 0
    promo: int = 0
    promos: int = 0
    last_issued_at: datetime | None = None

    @property
    def balance(self) -> int:
        return self.earned - self.issued - self.promo

    def issuable(self, converted: bool) -> int:
        """The earned units that may be paid out: direct ones always, the rest once converted."""
        return self.earned if converted else self.direct

    def to_be_issued(self, converted: bool) -> int:
        return max(0, self.issuable(converted) - self.issued - self.promo)


# The ledger sums, grouped by (kind, direct): the SELECT list both readers use.
TOTALS_SELECT = 'MIN("currency"), SUM("amount_units"), COUNT(*), MAX("created_at")'


def totals_of(rows: list[tuple[Any, ...]]) -> Totals:
    """Totals from (kind, direct, currency, sum of units, count, latest created_at) rows of one
    ledger, grouped by kind and direct."""
    values: dict[str, Any] = {
        "currency": None,
        "earned": 0,
        "direct": 0,
        "issued": 0,
        "promo": 0,
        "promos": 0,
    }
    for kind, direct, currency, units, count, latest in rows:
        values["currency"] = values["currency"] or currency
        units = int(units or 0)
        if kind == RewardKind.EARNED:
            values["earned"] += units
            if direct:
                values["direct"] += units
        elif kind == RewardKind.ISSUED:
            values["issued"] += units
            last = values.get("last_issued_at")
            values["last_issued_at"] = latest if last is None or (latest and latest > last) else last
        elif kind == RewardKind.PROMO_REDEEMED:
            values["promo"] += units
            values["promos"] += int(count)
    return Totals(**values)


async def _totals(uow: UnitOfWork, contact_id: int) -> Totals:
    mark = "$1" if uow.conn.capabilities.dialect == "postgres" else "?"
    _, rows = await uow.conn.execute_query(
        f'SELECT "kind", "direct", {TOTALS_SELECT}'
        f' FROM "reward_entry" WHERE "contact_id" = {mark} GROUP BY "kind", "direct"',
        [contact_id],
    )
    return totals_of([tuple(row) for row in rows])


def _clean_amount(value: Any, currency: str, field: str = "amount") -> Decimal:
    if value is None:
        raise BadInput(f"{field} is required", field=field)
    amount = v.clean_amount(value, field)
    if amount <= 0:
        raise BadInput(f"{field} must be more than 0", field=field)
    if amount >= MAX_REWARD:
        raise BadInput(f"{field} must be below {MAX_REWARD:,} {currency}", field=field)
    money.check(amount, currency, field)
    return amount


async def _ledger_currency(uow: UnitOfWork, totals: Totals, given: str | None) -> str:
    """The contact's ledger currency (its first line's, else the account's); `given` must match."""
    currency = totals.currency
    if currency is None:
        account = await Account.get(id=uow.actor.account_id).using_db(uow.conn)
        currency = account.currency
    if given is not None:
        code = v.clean_currency(given)
        if code != currency:
            raise BadInput(
                f"this contact's rewards are in {currency}; give the amount in {currency}, not {code}",
                field="currency",
            )
    return currency


def _text(amount: Decimal, currency: str) -> str:
    return money.text(amount, currency)


def line_subject(entry: RewardEntry, totals_after: Totals, converted: bool) -> dict[str, Any]:
    currency = entry.currency
    return {
        "entryId": entry.id,
        "kind": entry.kind,
        "amount": _text(from_units(entry.amount_units), currency),
        "currency": currency,
        "reason": entry.reason,
        "promoCode": entry.promo_code,
        "direct": entry.direct,
        "balance": _text(from_units(totals_after.balance), currency),
        "toBeIssued": _text(from_units(totals_after.to_be_issued(converted)), currency),
    }


def _name(contact: Contact) -> str:
    return display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)


async def _append(
    uow: UnitOfWork,
    contact: Contact,
    totals: Totals,
    kind: RewardKind,
    amount: Decimal,
    currency: str,
    summary: str,
    *,
    reason: str | None = None,
    promo_code: str | None = None,
    direct: bool = False,
) -> RewardEntry:
    actor = uow.actor
    entry = RewardEntry(
        account_id=actor.account_id,
        contact_id=contact.id,
        kind=kind.value,
        amount_units=to_units(amount),
        currency=currency,
        reason=reason,
        promo_code=promo_code,
        direct=direct,
        created_by_id=actor.user_id,
        created_by_name=actor.name[:120],
    )
    await entry.save(using_db=uow.conn)
    units = entry.amount_units
    after = Totals(
        currency,
        totals.earned + (units if kind is RewardKind.EARNED else 0),
        totals.direct + (units if kind is RewardKind.EARNED and direct else 0),
        totals.issued + (units if kind is RewardKind.ISSUED else 0),
        totals.promo + (units if kind is RewardKind.PROMO_REDEEMED else 0),
        totals.promos + (1 if kind is RewardKind.PROMO_REDEEMED else 0),
        entry.created_at if kind is RewardKind.ISSUED else totals.last_issued_at,
    )
    converted = contact.converted_at is not None
    field = {RewardKind.EARNED: "totalEarned", RewardKind.ISSUED: "amountIssued"}.get(kind, "promoAmount")
    before_units = {RewardKind.EARNED: totals.earned, RewardKind.ISSUED: totals.issued}.get(
        kind, totals.promo
    )
    changes = {
        field: [_text(from_units(before_units), currency), _text(from_units(before_units + units), currency)],
        "balance": [_text(from_units(totals.balance), currency), _text(from_units(after.balance), currency)],
    }
    issuable = (totals.to_be_issued(converted), after.to_be_issued(converted))
    if issuable[0] != issuable[1]:
        changes["toBeIssued"] = [_text(from_units(n), currency) for n in issuable]
    journey_kind = {
        RewardKind.EARNED: JourneyKind.REWARD_EARNED,
        RewardKind.ISSUED: JourneyKind.REWARD_ISSUED,
        RewardKind.PROMO_REDEEMED: JourneyKind.PROMO_REDEEMED,
    }[kind]
    await uow.record(
        contact,
        journey_kind,
        summary,
        changes,
        subject_type="RewardEntry",
        subject_id=entry.id,
        subject=line_subject(entry, after, converted),
    )
    return entry


async def earn_reward(
    actor: Actor,
    contact_id: int,
    amount: Any,
    reason: str | None,
    currency: str | None = None,
    direct: bool = False,
) -> RewardEntry:
    """An EARNED line. `direct`: a direct reward, issuable at once; otherwise it can be issued
    only once the contact converts (article 004, point 4)."""
    if not isinstance(direct, bool):
        raise BadInput("direct must be true or false", field="direct")
    why = v.clean_text(reason, "reason", max_length=REASON_MAX, required=True)
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)  # locked: one ledger writer at a time
        totals = await _totals(uow, contact.id)
        code = await _ledger_currency(uow, totals, currency)
        value = _clean_amount(amount, code)
        kind_text = "a direct reward of " if direct else ""
        return await _append(
            uow, contact, totals, RewardKind.EARNED, value, code,
            f"{_name(contact)} earned {kind_text}{money.display(value, code)}: {why}",
            reason=why, direct=direct,
        )  # fmt: skip


async def issue_reward(
    actor: Actor, contact_id: int, amount: Any, note: str | None, currency: str | None = None
) -> RewardEntry:
    """Pay out part or all of what can be issued now (managers and admins). The contact's row is
    locked first, so two issues racing take turns and the second sees the first's line."""
    if not actor.is_manager:
        raise Forbidden("only admins and managers issue rewards")
    text = v.clean_text(note, "note", max_length=REASON_MAX)
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        totals = await _totals(uow, contact.id)
        code = await _ledger_currency(uow, totals, currency)
        value = _clean_amount(amount, code)
        converted = contact.converted_at is not None
        can = totals.to_be_issued(converted)
        if to_units(value) > can:
            raise BadInput(_over_issue(contact, totals, converted, value, code), field="amount")
        summary = f"{actor.name} issued {money.display(value, code)} to {_name(contact)}"
        return await _append(
            uow, contact, totals, RewardKind.ISSUED, value, code,
            summary + (f": {text}" if text else ""), reason=text,
        )  # fmt: skip


def _over_issue(contact: Contact, totals: Totals, converted: bool, value: Decimal, code: str) -> str:
    """Why `value` cannot be issued: what can be, and why that is all."""
    can = money.display(from_units(totals.to_be_issued(converted)), code)
    asked = money.display(value, code)
    if converted:
        return (
            f"amount {asked} is more than can be issued: {can} can be issued "
            f"(the balance of {money.display(from_units(totals.balance), code)}); issue at most that"
        )
    waiting = money.display(from_units(totals.earned - totals.direct), code)
    return (
        f"amount {asked} is more than can be issued: {_name(contact)} is not converted yet "
        f"(no convertedAt), so only direct rewards can be issued: {can} can be issued now; "
        f"{waiting} of other earned rewards waits for the conversion"
    )


async def redeem_promo(
    actor: Actor, contact_id: int, promo_code: str | None, amount: Any = None, currency: str | None = None
) -> RewardEntry:
    """Record a promo code the contact used; with an amount, it is taken from the balance (not
    more than the balance)."""
    code_text = v.clean_text(promo_code, "code", max_length=PROMO_MAX, required=True, identity=True)
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        totals = await _totals(uow, contact.id)
        code = await _ledger_currency(uow, totals, currency)
        value = Decimal(0) if amount is None else _clean_amount(amount, code)
        if to_units(value) > totals.balance:
            raise BadInput(
                f"amount {money.display(value, code)} is more than the balance of "
                f"{money.display(from_units(totals.balance), code)}",
                field="amount",
            )
        worth = f" worth {money.display(value, code)}" if value else ""
        return await _append(
            uow, contact, totals, RewardKind.PROMO_REDEEMED, value, code,
            f"{_name(contact)} redeemed promo {code_text}{worth}", promo_code=code_text,
        )  # fmt: skip


async def set_preferred_reward(actor: Actor, contact_id: int, preferred: str | None) -> Contact:
    """The reward the contact prefers (free text, e.g. "Amazon gift card"); None clears it.
    Journaled as CONTACT_UPDATED (field preferredReward)."""
    text = v.clean_text(preferred, "preferredReward", max_length=PREFERRED_MAX, identity=True)
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        if contact.preferred_reward == text:
            return contact
        before, contact.preferred_reward = contact.preferred_reward, text
        await contact.save(using_db=uow.conn)
        await uow.record(
            contact,
            JourneyKind.CONTACT_UPDATED,
            f"{actor.name} set the preferred reward to {text}"
            if text
            else f"{actor.name} cleared the preferred reward",
            {"preferredReward": [before, text]},
        )
    return contact
