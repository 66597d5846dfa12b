"""Referrals, rewards and opt-ins on the card cost a constant number of SQL statements (one card
with 1 or 60 rows per list, a page of 1 or 50 cards), and answer the same on both executors."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from crm.clock import utcnow
from crm.models import Contact, Form, Lead, RewardEntry
from graph.ids import encode_cursor, global_id
from tests.conftest import Api, Tenant
from tests.test_fast_execution import both_over_http
from tests.test_statement_counts import account_of, add_contacts, add_leads, measure, measure_card, same_cost

SECTION = """
fragment Card on Contact {
  id
  referral {
    referralCode referralLink flowLink referralCount
    inviter { id displayName }
    invited(first: 100) { edges { cursor node { id displayName } } pageInfo { hasNextPage endCursor } }
  }
  rewards {
    toBeIssued { amount currency } totalEarned { amount currency } amountIssued { amount currency }
    lastIssuedAt balance { amount currency } promosRedeemed preferredReward
    ledger(first: 100) {
      edges {
        cursor
        node { kind amount { amount currency } reason promoCode createdByName createdAt createdBy { name } }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
  privacyOptIn { optedIn at source }
  communicationOptIn { optedIn at source }
}
"""
CARD_QUERY = "query Card($id: ID!) { contact(id: $id) { ...Card } }"
LIST_QUERY = "query Cards($first: Int!) { contacts(first: $first) { edges { node { ...Card } } } }"


async def seed(account_id: int, user_id: int, count: int, per_card: int) -> tuple[list[int], str]:
    """`count` inviters (made last: the newest contacts), each inviting `per_card` contacts (half
    of them with a lead), with `per_card` ledger lines of each kind, a first lead through a live
    form, an inviter of its own and the communication opt-in. The inviters' ids and the form key."""
    now = utcnow()
    boss = (await add_contacts(account_id, [(None, None, None)]))[0]
    pool = await add_contacts(account_id, [(None, None, None)] * (count * per_card))
    inviters = await add_contacts(account_id, [(None, None, None)] * count)
    form = await Form.create(account_id=account_id, name="Spring", key=secrets.token_urlsafe(24))
    await add_leads(account_id, inviters, 1)
    await Lead.filter(contact_id__in=inviters).update(form_id=form.id)
    await Contact.filter(id__in=inviters).update(
        inviter_id=boss, communication_opt_in=True, communication_opt_in_at=now,
        communication_opt_in_source="FORM", converted_at=now, preferred_reward="Gift card",
    )  # fmt: skip
    lines = []
    for n, inviter in enumerate(inviters):
        invited = pool[n * per_card : (n + 1) * per_card]
        await Contact.filter(id__in=invited).update(inviter_id=inviter)
        await add_leads(account_id, invited[: max(1, per_card // 2)], 1)
        for i in range(per_card):
            for kind, units in (("EARNED", 100_000), ("ISSUED", 20_000), ("PROMO_REDEEMED", 5_000)):
                lines.append(
                    RewardEntry(
                        account_id=account_id,
                        contact_id=inviter,
                        kind=kind,
                        amount_units=units + i * 100,
                        currency="USD",
                        reason=f"line {i}",
                        promo_code="P" if kind == "PROMO_REDEEMED" else None,
                        created_by_id=user_id,
                        created_by_name="Acme Admin",
                        created_at=now - timedelta(minutes=i),
                    )
                )
    await RewardEntry.bulk_create(lines, batch_size=500)
    return inviters, form.key


async def test_one_card_costs_the_same_with_1_or_60_rows(
    as_admin: Api, acme: Tenant, count_statements: Any
) -> None:
    account_id = await account_of(acme)
    (small,), _ = await seed(account_id, acme.user_ids["admin"], 1, 1)
    (big,), key = await seed(account_id, acme.user_ids["admin"], 1, 60)
    query = CARD_QUERY + SECTION
    one = await measure_card(as_admin, count_statements, query, small)
    many = await measure_card(as_admin, count_statements, query, big)

    referral, rewards = many.data["referral"], many.data["rewards"]
    assert len(referral["invited"]["edges"]) == 60 and referral["referralCount"] == 30
    assert referral["flowLink"] == f"http://dossier.test/forms/{key}"
    assert referral["inviter"]["displayName"].startswith("Pat")
    assert len(rewards["ledger"]["edges"]) == 100 and rewards["ledger"]["pageInfo"]["hasNextPage"] is True
    earned = sum(100_000 + i * 100 for i in range(60)) / 10_000
    assert rewards["totalEarned"]["amount"] == f"{earned:.2f}"
    assert rewards["promosRedeemed"] == 60 and rewards["preferredReward"] == "Gift card"
    assert many.data["communicationOptIn"]["optedIn"] is True
    assert one.data["referral"]["referralCount"] == 1

    assert one.count == many.count, same_cost("a card with 1 row per list", one, "60 rows", many)
    assert many.count <= 10, f"the section costs {many.count} statements:\n{many.listing()}"


async def test_a_page_of_50_cards_costs_the_same_as_a_page_of_1(
    as_admin: Api, acme: Tenant, count_statements: Any
) -> None:
    account_id = await account_of(acme)
    await seed(account_id, acme.user_ids["admin"], 50, 2)
    query = LIST_QUERY + SECTION
    one = await measure(as_admin, count_statements, query, {"first": 1})
    fifty = await measure(as_admin, count_statements, query, {"first": 50})
    cards = [edge["node"] for edge in fifty.data["contacts"]["edges"]]
    assert len(cards) == 50
    # Newest first: the fifty inviters.
    assert all(len(c["referral"]["invited"]["edges"]) == 2 for c in cards)
    assert all(len(c["rewards"]["ledger"]["edges"]) == 6 for c in cards)
    assert all(c["referral"]["referralCount"] == 1 and c["referral"]["flowLink"] for c in cards)
    assert one.count == fifty.count, same_cost("contacts(first: 1)", one, "contacts(first: 50)", fifty)


FAST = """
query($id: ID!, $after: String, $line: String, $bad: String) {
  contact(id: $id) {
    ...Card
    later: referral {
      invited(first: 1, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage } }
    }
    page: rewards { ledger(first: 2, after: $line) { edges { cursor } } }
  }
  bad: contact(id: $id) { referral { invited(first: 1, after: $bad) { edges { cursor } } } }
  worse: contact(id: $id) { rewards { ledger(first: 0) { edges { cursor } } } }
}
"""


async def test_the_section_answers_the_same_on_both_paths(as_admin: Api, acme: Tenant) -> None:
    account_id = await account_of(acme)
    inviters, _ = await seed(account_id, acme.user_ids["admin"], 3, 3)
    first_invited = await Contact.filter(inviter_id=inviters[0]).order_by("id").first()
    assert first_invited is not None
    variables = {
        "id": str(global_id("Contact", inviters[0])),
        "after": encode_cursor("invited", first_invited.id),
        "bad": "not-a-cursor",
        "line": encode_cursor(
            "reward", (await RewardEntry.filter(contact_id=inviters[0]).order_by("-id").first()).id
        ),  # type: ignore[union-attr]
    }
    graphql_core, compiled = await both_over_http(as_admin, FAST + SECTION, variables)
    assert compiled == graphql_core
    assert {e["path"][0] for e in compiled["errors"]} == {"bad", "worse"}
    assert compiled["data"]["contact"]["later"]["invited"]["edges"]
    assert len(compiled["data"]["contact"]["page"]["ledger"]["edges"]) == 2
    for query, values in (
        (LIST_QUERY + SECTION, {"first": 4}),
        (CARD_QUERY + SECTION, {"id": variables["id"]}),
    ):
        graphql_core, compiled = await both_over_http(as_admin, query, values)
        assert compiled == graphql_core and "errors" not in compiled
