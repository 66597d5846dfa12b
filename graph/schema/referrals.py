"""Referrals, rewards and opt-ins on the card (E1-E3): `Contact.referral`, `Contact.rewards`,
`Contact.privacyOptIn` and `Contact.communicationOptIn`. Every figure comes from a per-request
loader (graph/resolvers/referrals_loaders.py), so a page of cards costs what one card costs."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from crm.services import leads as lead_service
from crm.services import referrals as referral_service
from crm.services.optins import ConsentSource as _ConsentSource
from crm.services.rewards import RewardKind as _RewardKind
from crm.services.rewards import Totals, from_units
from graph.context import Info
from graph.ids import decode_cursor, encode_cursor, page_size
from graph.prepared import NOT_READ, prepared
from graph.resolvers.referrals_loaders import InvitedKey
from graph.resolvers.selection import selects
from graph.schema.accounts import User, joined_user
from graph.schema.common import Money, PageInfo, forward_page

if TYPE_CHECKING:
    from graph.schema.contacts import Contact

INVITED_CURSOR = "invited"
REWARD_CURSOR = "reward"

RewardKind = strawberry.enum(
    _RewardKind,
    name="RewardKind",
    description="A rewards ledger line: EARNED (earnReward), ISSUED (issueReward, paid out) or "
    "PROMO_REDEEMED (redeemPromo).",
)
ConsentSource = strawberry.enum(
    _ConsentSource,
    name="ConsentSource",
    description="Where an opt-in came from: FORM (a web form or submitLead), USER (set on the card), "
    "IMPORT (a contact import), API (another system or a plugin).",
)


@strawberry.type(description="One consent: whether it is given, since when, and where it came from.")
class OptIn:
    opted_in: bool = strawberry.field(description="false until the contact opts in.")
    at: datetime | None = strawberry.field(description="When it last changed; null if it never did.")
    source: ConsentSource | None = strawberry.field(description="Where the last change came from.")

    @classmethod
    def of(cls, row: dict[str, Any], name: str) -> OptIn:
        source = row[f"{name}_opt_in_source"]
        return cls(
            opted_in=bool(row[f"{name}_opt_in"]),
            at=row[f"{name}_opt_in_at"],
            source=_ConsentSource(source) if source else None,
        )


def _contact_type() -> Any:
    from graph.schema.contacts import Contact

    return Contact


@strawberry.type
class InvitedEdge:
    cursor: str
    node: Annotated[Contact, strawberry.lazy("graph.schema.contacts")]


@strawberry.type(description="Contacts this contact invited, oldest first.")
class InvitedConnection:
    edges: list[InvitedEdge]
    page_info: PageInfo

    @strawberry.field(description="The edges' nodes.")
    def nodes(self) -> list[Annotated[Contact, strawberry.lazy("graph.schema.contacts")]]:
        return [edge.node for edge in self.edges]


def _base_url(info: Info) -> str:
    return lead_service.settings.public_url or str(info.context.request.base_url).rstrip("/")


@strawberry.type(description="The contact's referrals: who invited them, whom they invited, their link.")
class Referral:
    referral_code: str | None = strawberry.field(
        description="The contact's own code: 16 URL-safe characters, unique, made with the contact."
    )
    _contact_id: strawberry.Private[int]
    _inviter_id: strawberry.Private[int | None]
    # Filled in by Contact.referral when the query asks (prepare_referral, graph/prepared.py).
    _inviter: strawberry.Private[Any] = NOT_READ
    _referral_count: strawberry.Private[Any] = NOT_READ
    _flow_link: strawberry.Private[Any] = NOT_READ

    @strawberry.field(description="Who invited the contact (setInviter, or a lead with a referral code).")
    @prepared("_inviter")
    async def inviter(
        self, info: Info
    ) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")] | None:
        if self._inviter is not NOT_READ:
            return self._inviter  # type: ignore[no-any-return]
        if self._inviter_id is None:
            return None
        row = await info.context.loaders.contact.load(self._inviter_id)
        return _contact_type().from_row(row) if row is not None else None

    @strawberry.field(description="The contacts this contact invited, oldest first.")
    async def invited(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="At most this many (1 to 100).")] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(description="The `cursor` of the last invited contact the client has."),
        ] = None,
    ) -> InvitedConnection:
        size = page_size(first)
        after_id = decode_cursor(after, INVITED_CURSOR) if after else None
        rows = await info.context.loaders.invited_page.load(InvitedKey(self._contact_id, size, after_id))
        contact = _contact_type()
        edges = [
            InvitedEdge(cursor=encode_cursor(INVITED_CURSOR, r["id"]), node=contact.from_row(r))
            for r in rows[:size]
        ]
        return InvitedConnection(
            edges=edges, page_info=forward_page(edges, more=len(rows) > size, after=after)
        )

    @strawberry.field(
        description="How many invited contacts completed a form: those with at least one lead "
        "(article 004 point 5); invited contacts who never sent a form do not count."
    )
    @prepared("_referral_count")
    async def referral_count(self, info: Info) -> int:
        if self._referral_count is not NOT_READ:
            return self._referral_count  # type: ignore[no-any-return]
        return await info.context.loaders.referral_count.load(self._contact_id)

    @strawberry.field(
        description="The contact's referral link, {DOSSIER_PUBLIC_URL}/r/{referralCode} (the request's "
        "own address when DOSSIER_PUBLIC_URL is unset): it sends visitors to the account's "
        "referralLandingUrl with ref={referralCode}."
    )
    def referral_link(self, info: Info) -> str | None:
        return referral_service.referral_link(self.referral_code, _base_url(info))

    @strawberry.field(
        description="The link of the flow (intake form, POST /forms/{key}) of the contact's first lead; "
        "null without leads, for a lead sent through submitLead, or once that form is revoked."
    )
    @prepared("_flow_link")
    async def flow_link(self, info: Info) -> str | None:
        if self._flow_link is not NOT_READ:
            return self._flow_link  # type: ignore[no-any-return]
        key = await info.context.loaders.flow_key.load(self._contact_id)
        return f"{_base_url(info)}/forms/{key}" if key else None


@strawberry.type(description="One line of the rewards ledger (append-only).")
class RewardLedgerEntry:
    kind: RewardKind
    amount: Money = strawberry.field(description="Positive; a promo redeemed without an amount shows 0.")
    reason: str | None = strawberry.field(description="Why it was earned, or the note of an issue.")
    promo_code: str | None = strawberry.field(description="The promo code, for PROMO_REDEEMED.")
    direct: bool = strawberry.field(
        description="EARNED only: a direct reward, issuable at once (see toBeIssued); false otherwise."
    )
    created_by: User | None = strawberry.field(
        description="The user who wrote it; null for plugins and the system."
    )
    created_by_name: str = strawberry.field(
        description="Who wrote it: a user's, plugin's or the system's name."
    )
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RewardLedgerEntry:
        return cls(
            kind=_RewardKind(row["kind"]),
            amount=Money.of(from_units(row["amount_units"]), row["currency"]),
            reason=row["reason"],
            promo_code=row["promo_code"],
            direct=bool(row["direct"]),
            created_by=joined_user(row, "created_by"),
            created_by_name=row["created_by_name"],
            created_at=row["created_at"],
        )


@strawberry.type
class RewardLedgerEdge:
    cursor: str
    node: RewardLedgerEntry


@strawberry.type(description="Ledger lines, newest first.")
class RewardLedgerConnection:
    edges: list[RewardLedgerEdge]
    page_info: PageInfo


@strawberry.type(
    description="The contact's rewards, from the append-only ledger, all in the ledger's currency "
    "(the account's currency when the ledger is empty)."
)
class Rewards:
    _contact_id: strawberry.Private[int]
    _converted: strawberry.Private[bool]
    _preferred: strawberry.Private[str | None]
    # Filled in by Contact.rewards when the query asks (prepare_rewards, graph/prepared.py).
    _to_be_issued: strawberry.Private[Any] = NOT_READ
    _total_earned: strawberry.Private[Any] = NOT_READ
    _amount_issued: strawberry.Private[Any] = NOT_READ
    _last_issued_at: strawberry.Private[Any] = NOT_READ
    _balance: strawberry.Private[Any] = NOT_READ
    _promos_redeemed: strawberry.Private[Any] = NOT_READ
    _preferred_reward: strawberry.Private[Any] = NOT_READ

    def _fill(self, totals: Totals, currency: str) -> None:
        """Every figure from the totals, as the fields below compute them one by one."""
        self._to_be_issued = Money.of(from_units(totals.to_be_issued(self._converted)), currency)
        self._total_earned = Money.of(from_units(totals.earned), currency)
        self._amount_issued = Money.of(from_units(totals.issued), currency)
        self._last_issued_at = totals.last_issued_at
        self._balance = Money.of(from_units(totals.balance), currency)
        self._promos_redeemed = totals.promos
        self._preferred_reward = self._preferred or currency

    async def _totals(self, info: Info) -> tuple[Totals, str]:
        totals = await info.context.loaders.reward_totals.load(self._contact_id)
        currency = totals.currency or await info.context.loaders.account_currency.load(
            info.context.require_actor().account_id
        )
        return totals, currency

    @strawberry.field(
        description="What issueReward can pay out now: direct rewards earned, plus (once the contact is "
        "a customer, convertedAt set) the other rewards earned, minus amountIssued and redeemed promo "
        "amounts; never below 0. A lead's non-direct rewards wait for its conversion."
    )
    @prepared("_to_be_issued")
    async def to_be_issued(self, info: Info) -> Money:
        if self._to_be_issued is not NOT_READ:
            return self._to_be_issued  # type: ignore[no-any-return]
        totals, currency = await self._totals(info)
        return Money.of(from_units(totals.to_be_issued(self._converted)), currency)

    @strawberry.field(description="The sum of EARNED lines.")
    @prepared("_total_earned")
    async def total_earned(self, info: Info) -> Money:
        if self._total_earned is not NOT_READ:
            return self._total_earned  # type: ignore[no-any-return]
        totals, currency = await self._totals(info)
        return Money.of(from_units(totals.earned), currency)

    @strawberry.field(description="The sum of ISSUED lines: what was paid out.")
    @prepared("_amount_issued")
    async def amount_issued(self, info: Info) -> Money:
        if self._amount_issued is not NOT_READ:
            return self._amount_issued  # type: ignore[no-any-return]
        totals, currency = await self._totals(info)
        return Money.of(from_units(totals.issued), currency)

    @strawberry.field(description="When the latest ISSUED line was written; null before the first.")
    @prepared("_last_issued_at")
    async def last_issued_at(self, info: Info) -> datetime | None:
        if self._last_issued_at is not NOT_READ:
            return self._last_issued_at  # type: ignore[no-any-return]
        totals, _ = await self._totals(info)
        return totals.last_issued_at

    @strawberry.field(
        description="What the contact is still owed: totalEarned - amountIssued - the amounts of "
        "redeemed promos."
    )
    @prepared("_balance")
    async def balance(self, info: Info) -> Money:
        if self._balance is not NOT_READ:
            return self._balance  # type: ignore[no-any-return]
        totals, currency = await self._totals(info)
        return Money.of(from_units(totals.balance), currency)

    @strawberry.field(description="How many promo codes were redeemed (PROMO_REDEEMED lines).")
    @prepared("_promos_redeemed")
    async def promos_redeemed(self, info: Info) -> int:
        if self._promos_redeemed is not NOT_READ:
            return self._promos_redeemed  # type: ignore[no-any-return]
        totals, _ = await self._totals(info)
        return totals.promos

    @strawberry.field(
        description="The reward the contact prefers (setPreferredReward); the ledger's currency code "
        "when none was set (article 004: the company's default currency)."
    )
    @prepared("_preferred_reward")
    async def preferred_reward(self, info: Info) -> str:
        if self._preferred_reward is not NOT_READ:
            return self._preferred_reward  # type: ignore[no-any-return]
        if self._preferred:
            return self._preferred
        _, currency = await self._totals(info)
        return currency

    @strawberry.field(description="The ledger's lines, newest first.")
    async def ledger(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="At most this many (1 to 100).")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last line the client has.")
        ] = None,
    ) -> RewardLedgerConnection:
        from graph.resolvers.loaders import PageKey

        size = page_size(first)
        bound = decode_cursor(after, REWARD_CURSOR) if after else None
        rows = await info.context.loaders.reward_ledger.load(PageKey(self._contact_id, size, bound, (), True))
        edges = [
            RewardLedgerEdge(cursor=encode_cursor(REWARD_CURSOR, r["id"]), node=RewardLedgerEntry.from_row(r))
            for r in rows[:size]
        ]
        return RewardLedgerConnection(
            edges=edges, page_info=forward_page(edges, more=len(rows) > size, after=after)
        )


_TOTALS_FIELDS = ("toBeIssued", "totalEarned", "amountIssued", "lastIssuedAt", "balance", "promosRedeemed")


async def prepare_rewards(info: Info, rewards: Rewards) -> Rewards:
    """Contact.rewards: the figures read once (the same loaders) when the query asks for any,
    instead of once per field."""
    if rewards._preferred:
        rewards._preferred_reward = rewards._preferred
    if any(selects(info, field) for field in _TOTALS_FIELDS) or (
        not rewards._preferred and selects(info, "preferredReward")
    ):
        totals, currency = await rewards._totals(info)
        rewards._fill(totals, currency)
    return rewards


async def prepare_referral(info: Info, referral: Referral) -> Referral:
    """Contact.referral: the inviter, the referral count and the flow link read together (the
    same loaders) when the query asks, instead of one awaited field each."""
    loaders = info.context.loaders
    jobs: list[tuple[str, Any]] = []
    if selects(info, "inviter") and referral._inviter_id is not None:
        jobs.append(("inviter", loaders.contact.load(referral._inviter_id)))
    if selects(info, "referralCount"):
        jobs.append(("count", loaders.referral_count.load(referral._contact_id)))
    if selects(info, "flowLink"):
        jobs.append(("flow", loaders.flow_key.load(referral._contact_id)))
    if selects(info, "inviter") and referral._inviter_id is None:
        referral._inviter = None
    if not jobs:
        return referral
    found = await asyncio.gather(*(job for _, job in jobs))
    for (what, _), value in zip(jobs, found, strict=True):
        if what == "inviter":
            referral._inviter = _contact_type().from_row(value) if value is not None else None
        elif what == "count":
            referral._referral_count = value
        else:
            referral._flow_link = f"{_base_url(info)}/forms/{value}" if value else None
    return referral


def referral_of(row: dict[str, Any]) -> Referral:
    return Referral(referral_code=row["referral_code"], _contact_id=row["id"], _inviter_id=row["inviter_id"])


def rewards_of(row: dict[str, Any]) -> Rewards:
    return Rewards(
        _contact_id=row["id"], _converted=row["converted_at"] is not None, _preferred=row["preferred_reward"]
    )
