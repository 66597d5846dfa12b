"""The demo's referrals, rewards and opt-ins (E1-E3) on its rich cards.

Called by `dossier.demo` last, in the seed's transaction. Each rich card (100+ journey entries)
invited two or three plain cards (INVITER_SET on each invited card), and the first rich card
was itself invited by the second: an inviter chain. Each rich card earned a reward per invited
contact; a rich card that is a customer had part of it issued and redeemed a promo. Rich
cards opted in to privacy and communication through the form. The account gets a referral
landing page, so the cards' referral links lead somewhere. Rows are written as the services
write them (journey entries after the card's own, in time order); no outbox rows, as in the
rest of the demo.
"""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from crm import money
from crm.journey import JourneyKind
from crm.models import Account, Contact, RewardEntry, User
from crm.services.referrals import inviter_value
from crm.services.rewards import to_units
from crm.uow import display_name
from dossier.demo_lifecycle import _entry, _times_or_none
from dossier.demo_rich import rich_contact_ids

LANDING_URL = "https://example.com/refer"
REWARD = Decimal("25.00")


def _name(contact: Contact) -> str:
    return display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)


async def _set_inviter(
    conn: BaseDBAsyncClient, account_id: int, user: dict[str, Any], contact: Contact, inviter: Contact,
    now: datetime,
) -> bool:  # fmt: skip
    times = await _times_or_none(conn, contact.id, now, 1)
    if times is None:
        return False
    contact.inviter_id = inviter.id  # type: ignore[attr-defined]
    await contact.save(using_db=conn, update_fields=["inviter_id"])
    await _entry(
        contact.id, account_id, user, times[0], JourneyKind.INVITER_SET,
        f"set the inviter of {_name(contact)} to {_name(inviter)}",
        {"inviter": [None, inviter_value(inviter)]},
    ).save(using_db=conn)  # fmt: skip
    return True


async def seed_referrals(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    rng = random.Random(5)  # its own stream: the cards' draws stay what they were
    await Account.filter(id=account_id).using_db(conn).update(referral_landing_url=LANDING_URL)
    account = await Account.get(id=account_id).using_db(conn)
    currency = account.currency
    users = (
        await User.filter(account_id=account_id).using_db(conn).order_by("id").values("id", "name", "role")
    )
    manager = next((u for u in users if u["role"] == "manager"), users[0])
    rich_ids = await rich_contact_ids(conn, account_id)
    if not rich_ids:
        return
    rich = {c.id: c for c in await Contact.filter(id__in=rich_ids).using_db(conn)}
    plain = [
        c
        for c in await Contact.filter(
            account_id=account_id, archived_at__isnull=True, inviter_id__isnull=True, id__not_in=rich_ids
        )
        .using_db(conn)
        .order_by("id")
    ]
    rng.shuffle(plain)
    for contact_id in rich_ids:
        inviter = rich[contact_id]
        invited = [plain.pop() for _ in range(min(len(plain), rng.randint(2, 3)))]
        made = [c for c in invited if await _set_inviter(conn, account_id, manager, c, inviter, now)]
        times = await _times_or_none(conn, contact_id, now, len(made) + 3)
        if times is None:
            continue
        balance = Decimal(0)
        step = iter(times)
        for friend in made:
            entry = await RewardEntry.create(
                account_id=account_id, contact_id=contact_id, kind="EARNED", amount_units=to_units(REWARD),
                currency=currency, reason=f"Referred {_name(friend)}", created_by_id=manager["id"],
                created_by_name=manager["name"], using_db=conn,
            )  # fmt: skip
            at = next(step)
            await RewardEntry.filter(id=entry.id).using_db(conn).update(created_at=at)
            before, balance = balance, balance + REWARD
            await _entry(
                contact_id, account_id, manager, at, JourneyKind.REWARD_EARNED,
                f"recorded that {_name(inviter)} earned {money.display(REWARD, currency)}: "
                f"Referred {_name(friend)}",
                {"totalEarned": [money.text(before, currency), money.text(balance, currency)],
                 "balance": [money.text(before, currency), money.text(balance, currency)]},
                "RewardEntry", entry.id,
            ).save(using_db=conn)  # fmt: skip
        at = next(step)
        await Contact.filter(id=contact_id).using_db(conn).update(
            privacy_opt_in=True, privacy_opt_in_at=at, privacy_opt_in_source="FORM",
            communication_opt_in=True, communication_opt_in_at=at, communication_opt_in_source="FORM",
        )  # fmt: skip
        await _entry(
            contact_id, account_id, manager, at, JourneyKind.OPT_IN_CHANGED,
            f"turned privacy on, communication on for {_name(inviter)}",
            {"privacyOptIn": [False, True], "privacyOptInSource": [None, "FORM"],
             "communicationOptIn": [False, True], "communicationOptInSource": [None, "FORM"]},
        ).save(using_db=conn)  # fmt: skip
        if inviter.converted_at is None or balance < REWARD:
            continue
        for kind, amount, journey_kind, text in (
            ("ISSUED", REWARD, JourneyKind.REWARD_ISSUED, "issued"),
            ("PROMO_REDEEMED", Decimal("5.00"), JourneyKind.PROMO_REDEEMED, "recorded the promo WELCOME5"),
        ):
            at = next(step)
            entry = await RewardEntry.create(
                account_id=account_id, contact_id=contact_id, kind=kind, amount_units=to_units(amount),
                currency=currency, reason="Gift card" if kind == "ISSUED" else None,
                promo_code="WELCOME5" if kind != "ISSUED" else None, created_by_id=manager["id"],
                created_by_name=manager["name"], using_db=conn,
            )  # fmt: skip
            await RewardEntry.filter(id=entry.id).using_db(conn).update(created_at=at)
            before, balance = balance, balance - amount
            await _entry(
                contact_id, account_id, manager, at, journey_kind,
                f"{text} {money.display(amount, currency)} for {_name(inviter)}",
                {"balance": [money.text(before, currency), money.text(balance, currency)]},
                "RewardEntry", entry.id,
            ).save(using_db=conn)  # fmt: skip
    # An inviter chain: the second rich card invited the first.
    if len(rich_ids) >= 2:
        first, second = rich[rich_ids[0]], rich[rich_ids[1]]
        await _set_inviter(conn, account_id, manager, first, second, now)
