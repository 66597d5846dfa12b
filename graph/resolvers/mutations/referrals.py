"""setInviter, earnReward, issueReward, redeemPromo, setPreferredReward, setOptIns."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from crm.models import Contact as ContactModel
from crm.models import RewardEntry as RewardEntryModel
from crm.services import optins as optin_service
from crm.services import referrals as referral_service
from crm.services import rewards as reward_service
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.loaders import CONTACT_COLUMNS, CONTACT_USERS
from graph.resolvers.mutations import changed, joined_row
from graph.resolvers.referrals_loaders import REWARD_COLUMNS, REWARD_USERS
from graph.schema.contacts import Contact
from graph.schema.referrals import ConsentSource, RewardLedgerEntry

AMOUNT_HELP = (
    'Exact decimal string ("25.50") or number; more than 0, below 1,000,000,000, with at most the '
    "currency's decimal places (USD 2, JPY 0)."
)
CURRENCY_HELP = (
    "Optional check: the ISO 4217 code the amount is in. It must be the ledger's currency (its first "
    "line's, else the account's); another one is refused."
)


@strawberry.input
class SetInviterInput:
    contact_id: strawberry.ID = strawberry.field(description="The invited contact.")
    inviter_id: strawberry.ID | None = strawberry.field(
        description="The contact who invited them, of the same account; null clears the inviter. "
        "A contact cannot invite itself, and inviters never form a cycle."
    )


@strawberry.input
class EarnRewardInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact who earned it.")
    amount: Decimal = strawberry.field(description=AMOUNT_HELP)
    reason: str = strawberry.field(description="Why, e.g. 'Referred Bo Chan'; 1-500 characters.")
    currency: str | None = strawberry.field(default=None, description=CURRENCY_HELP)
    direct: bool | None = strawberry.field(
        default=False,
        description="True for a direct reward: it can be issued straight away, before the contact "
        "converts. False (the default): a reward you choose to give, issuable only once the contact "
        "is a customer (convertedAt set).",
    )


@strawberry.input
class IssueRewardInput:
    contact_id: strawberry.ID = strawberry.field(
        description="A contact with something to be issued (toBeIssued); managers and admins only."
    )
    amount: Decimal = strawberry.field(description=AMOUNT_HELP + " At most the contact's toBeIssued.")
    note: str | None = strawberry.field(
        default=None, description="How it was paid, e.g. a gift card number; at most 500 characters."
    )
    currency: str | None = strawberry.field(default=None, description=CURRENCY_HELP)


@strawberry.input
class RedeemPromoInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact who used the promo.")
    code: str = strawberry.field(description="The promo code; 1-100 characters.")
    amount: Decimal | None = strawberry.field(
        default=None, description="Optional: taken from the balance (at most the balance). " + AMOUNT_HELP
    )
    currency: str | None = strawberry.field(default=None, description=CURRENCY_HELP)


@strawberry.input
class SetPreferredRewardInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id.")
    preferred_reward: str | None = strawberry.field(
        description="The reward they prefer, e.g. 'Amazon gift card'; at most 100 characters; null clears it."
    )


@strawberry.input(description="One consent to set.")
class OptInInput:
    opted_in: bool = strawberry.field(description="true: consent given; false: withdrawn.")
    source: ConsentSource = strawberry.field(
        default=ConsentSource.USER,
        description="Where it came from; USER by default.",  # type: ignore[attr-defined]
    )


@strawberry.input(description="Either consent or both; one left out stays as it is.")
class SetOptInsInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id.")
    privacy: OptInInput | None = strawberry.field(default=None, description="Privacy consent.")
    communication: OptInInput | None = strawberry.field(
        default=None, description="Communication consent: marketing email needs it."
    )


@strawberry.type(description="The ledger line written, and the card with its new figures.")
class RewardPayload:
    entry: RewardLedgerEntry
    contact: Contact


async def _contact(info: Info, contact: ContactModel) -> Contact:
    changed(info)
    return Contact.from_row(await joined_row(info, contact, CONTACT_COLUMNS, CONTACT_USERS))


async def _reward(info: Info, entry: RewardEntryModel) -> RewardPayload:
    changed(info)
    row = await joined_row(info, entry, REWARD_COLUMNS, REWARD_USERS)
    contact_row = await info.context.loaders.contact.load(entry.contact_id)  # type: ignore[attr-defined]
    return RewardPayload(entry=RewardLedgerEntry.from_row(row), contact=Contact.from_row(contact_row))


def _contact_id(value: strawberry.ID) -> int:
    return decode_id(value, "Contact", "contactId")


@strawberry.type
class ReferralMutations:
    @strawberry.mutation(
        description="Set who invited the contact (same account; never itself; never a cycle); null clears it."
    )
    async def set_inviter(self, info: Info, input: SetInviterInput) -> Contact:
        inviter_id = (
            decode_id(input.inviter_id, "Contact", "inviterId") if input.inviter_id is not None else None
        )
        contact = await referral_service.set_inviter(
            info.context.require_actor(), _contact_id(input.contact_id), inviter_id
        )
        return await _contact(info, contact)

    @strawberry.mutation(description="Add an EARNED line to the contact's rewards ledger.")
    async def earn_reward(self, info: Info, input: EarnRewardInput) -> RewardPayload:
        entry = await reward_service.earn_reward(
            info.context.require_actor(),
            _contact_id(input.contact_id),
            input.amount,
            input.reason,
            input.currency,
            bool(input.direct),
        )
        return await _reward(info, entry)

    @strawberry.mutation(
        description="Pay out a reward (managers and admins): an ISSUED line, at most toBeIssued (direct "
        "rewards at once, the others once the contact is a customer); more answers BAD_USER_INPUT "
        "saying what can be issued and why."
    )
    async def issue_reward(self, info: Info, input: IssueRewardInput) -> RewardPayload:
        entry = await reward_service.issue_reward(
            info.context.require_actor(),
            _contact_id(input.contact_id),
            input.amount,
            input.note,
            input.currency,
        )
        return await _reward(info, entry)

    @strawberry.mutation(
        description="Record a promo code the contact redeemed (with an amount: from the balance)."
    )
    async def redeem_promo(self, info: Info, input: RedeemPromoInput) -> RewardPayload:
        entry = await reward_service.redeem_promo(
            info.context.require_actor(),
            _contact_id(input.contact_id),
            input.code,
            input.amount,
            input.currency,
        )
        return await _reward(info, entry)

    @strawberry.mutation(description="Set the reward the contact prefers; null clears it.")
    async def set_preferred_reward(self, info: Info, input: SetPreferredRewardInput) -> Contact:
        contact = await reward_service.set_preferred_reward(
            info.context.require_actor(), _contact_id(input.contact_id), input.preferred_reward
        )
        return await _contact(info, contact)

    @strawberry.mutation(description="Set the privacy and/or communication opt-in, with their source.")
    async def set_opt_ins(self, info: Info, input: SetOptInsInput) -> Contact:
        contact = await optin_service.set_opt_ins(
            info.context.require_actor(),
            _contact_id(input.contact_id),
            (input.privacy.opted_in, input.privacy.source.value) if input.privacy else None,
            (input.communication.opted_in, input.communication.source.value) if input.communication else None,
        )
        return await _contact(info, contact)
