"""Deals on a card (B3): exact money, currencies, payment types, status and the journey."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from crm.models import Deal as DealModel
from graph.ids import global_id
from tests.conftest import Api, Tenant

DEAL_FIELDS = """
    id productName amount currency paymentType status recurring closedAt createdAt updatedAt
    createdBy { name } contact { id }
"""
CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
ADD = f"mutation($i: AddDealInput!) {{ addDeal(input: $i) {{ {DEAL_FIELDS} }} }}"
UPDATE = f"mutation($i: UpdateDealInput!) {{ updateDeal(input: $i) {{ {DEAL_FIELDS} }} }}"
CARD = f"""
query($id: ID!) {{
  contact(id: $id) {{
    deals {{ {DEAL_FIELDS} }}
    journey(first: 100) {{
      totalCount
      nodes {{ kind summary subjectId actor {{ name }} changes {{ field before after }} }}
    }}
  }}
}}
"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Deal {{ {DEAL_FIELDS} }} }} }}"


async def new_contact(api: Api) -> str:
    data = await api.data(CREATE_CONTACT, {"i": {"firstName": "Ada", "lastName": "Lovelace"}})
    return data["createContact"]["id"]


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(CARD, {"id": contact_id}))["contact"]


def deal_input(contact_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "contactId": contact_id,
        "productName": "Coaching programme",
        "amount": "1999.99",
        "currency": "USD",
        "paymentType": "ONE_TIME",
        **overrides,
    }


async def add(api: Api, contact_id: str, **overrides: Any) -> dict[str, Any]:
    return (await api.data(ADD, {"i": deal_input(contact_id, **overrides)}))["addDeal"]


async def update(api: Api, deal_id: str, **values: Any) -> dict[str, Any]:
    return (await api.data(UPDATE, {"i": {"id": deal_id, **values}}))["updateDeal"]


def changes_of(entry: dict[str, Any]) -> dict[str, list[Any]]:
    return {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}


def recent(value: str | None) -> bool:
    return value is not None and abs(datetime.fromisoformat(value) - datetime.now(UTC)) < timedelta(minutes=5)


# --------------------------------------------------------------------------------------
# addDeal
# --------------------------------------------------------------------------------------


async def test_add_deal_shows_on_the_card_and_in_the_journey(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)

    deal = await add(as_admin, contact_id)

    assert deal["productName"] == "Coaching programme"
    assert deal["amount"] == "1999.99"
    assert deal["currency"] == "USD"
    assert deal["paymentType"] == "ONE_TIME"
    assert deal["status"] == "OPEN"
    assert deal["recurring"] is False
    assert deal["closedAt"] is None
    assert deal["createdBy"] == {"name": "Acme Admin"}
    assert deal["contact"] == {"id": contact_id}

    data = await card(as_admin, contact_id)
    assert data["deals"] == [deal]
    entry = data["journey"]["nodes"][0]
    assert entry["kind"] == "DEAL_ADDED"
    assert entry["actor"] == {"name": "Acme Admin"}
    assert entry["subjectId"] == deal["id"]
    assert "Coaching programme" in entry["summary"]
    assert "1,999.99 USD" in entry["summary"]
    assert changes_of(entry) == {
        "status": [None, "OPEN"],
        "productName": [None, "Coaching programme"],
        "amount": [None, "1999.99"],
        "currency": [None, "USD"],
        "paymentType": [None, "ONE_TIME"],
        "recurring": [None, False],
    }
    assert (await as_admin.data(NODE, {"id": deal["id"]}))["node"] == deal


# (amount sent, currency, amount read back): exact, with the currency's decimal places (ISO
# 4217 minor units; CLF and UYW have 4, the column's scale). tests/test_money.py has the rest.
EXACT_AMOUNTS = [
    ("1999.99", "USD", "1999.99"),
    ("0.1", "USD", "0.10"),
    ("0.2", "EUR", "0.20"),
    ("0.3", "KWD", "0.300"),
    ("0.0001", "CLF", "0.0001"),
    ("1234567890123.4567", "CLF", "1234567890123.4567"),
    ("99999999999999.9999", "UYW", "99999999999999.9999"),
    ("12.5", "BHD", "12.500"),
]
WHOLE_AMOUNTS = ["7", "100", "2500", "1000000", "10.00", "1E+3"]


async def test_amounts_round_trip_exactly(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    expected = [shown for _, _, shown in EXACT_AMOUNTS]

    returned = [
        (await add(as_admin, contact_id, amount=amount, currency=currency))["amount"]
        for amount, currency, _ in EXACT_AMOUNTS
    ]

    assert returned == expected
    data = await card(as_admin, contact_id)
    assert [d["amount"] for d in data["deals"]] == expected
    logged = [
        changes_of(e)["amount"][1] for e in reversed(data["journey"]["nodes"]) if e["kind"] == "DEAL_ADDED"
    ]
    assert logged == expected


@pytest.mark.parametrize(
    ("currency", "shown"),
    [
        ("USD", ["7.00", "100.00", "2500.00", "1000000.00", "10.00", "1000.00"]),
        ("JPY", ["7", "100", "2500", "1000000", "10", "1000"]),
    ],
)
async def test_whole_amounts_read_back_as_plain_numbers(
    as_admin: Api, acme: Tenant, currency: str, shown: list[str]
) -> None:
    contact_id = await new_contact(as_admin)

    returned = [
        (await add(as_admin, contact_id, amount=amount, currency=currency))["amount"]
        for amount in WHOLE_AMOUNTS
    ]

    data = await card(as_admin, contact_id)
    stored = [d["amount"] for d in data["deals"]]
    logged = [
        changes_of(e)["amount"][1] for e in reversed(data["journey"]["nodes"]) if e["kind"] == "DEAL_ADDED"
    ]
    assert returned == stored == logged == shown  # no exponent (1E+3), the currency's decimals


async def test_small_amounts_add_up_without_float_error(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    await add(as_admin, contact_id, amount="0.1", productName="Add-on A")
    await add(as_admin, contact_id, amount=0.2, productName="Add-on B")  # a JSON number works too
    await add(as_admin, contact_id, amount=1999.99, productName="Main")

    deals = (await card(as_admin, contact_id))["deals"]

    assert [d["amount"] for d in deals] == ["0.10", "0.20", "1999.99"]
    assert Decimal(deals[0]["amount"]) + Decimal(deals[1]["amount"]) == Decimal("0.3")
    assert [d["productName"] for d in deals] == ["Add-on A", "Add-on B", "Main"]  # oldest first


async def test_currency_is_upper_cased(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    returned = [
        (await add(as_admin, contact_id, currency=c, amount="1999"))["currency"]
        for c in ("usd", " eur ", "Gbp", "JPY")
    ]
    assert returned == ["USD", "EUR", "GBP", "JPY"]
    assert [d["currency"] for d in (await card(as_admin, contact_id))["deals"]] == returned


BAD_NEW_DEALS: list[tuple[dict[str, Any], str | None, str]] = [
    ({"currency": "XYZ"}, "currency", "ISO 4217"),
    ({"currency": "US"}, "currency", "ISO 4217"),
    ({"currency": ""}, "currency", "ISO 4217"),
    ({"currency": "dollars"}, "currency", "ISO 4217"),
    ({"amount": "-1"}, "amount", "negative"),
    ({"amount": "-0.01"}, "amount", "negative"),
    ({"amount": "1.23456"}, "amount", "4 decimal places"),
    ({"amount": "0.00001"}, "amount", "4 decimal places"),
    ({"amount": "abc"}, None, "Decimal"),
    ({"amount": "12,50"}, None, "Decimal"),
    ({"amount": "NaN"}, "amount", "finite"),
    ({"amount": "Infinity"}, "amount", "finite"),
    ({"amount": "100000000000000"}, "amount", "below"),
    ({"paymentType": "WEEKLY"}, None, "WEEKLY"),
    ({"paymentType": "one_time"}, None, "one_time"),
    ({"status": "PENDING"}, None, "PENDING"),
    ({"paymentType": "RECURRING", "recurring": False}, "recurring", "recurring: true"),
    ({"productName": "  "}, "productName", "productName"),
    ({"productName": "p" * 201}, "productName", "limit is 200"),
]


async def test_add_deal_refuses_bad_input_and_stores_nothing(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    before = await card(as_admin, contact_id)

    for overrides, field, message in BAD_NEW_DEALS:
        error = await as_admin.error(ADD, {"i": deal_input(contact_id, **overrides)})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", overrides
        assert message in error["message"], (overrides, error["message"])
        assert error["extensions"].get("field") == field, overrides

    after = await card(as_admin, contact_id)
    assert after == before
    assert after["deals"] == []
    assert await DealModel.all().count() == 0


async def test_bad_payment_type_inline_literal_is_bad_input(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    error = await as_admin.error(
        f'mutation {{ addDeal(input: {{contactId: "{contact_id}", productName: "X", amount: "1", '
        f'currency: "USD", paymentType: MONTHLY}}) {{ id }} }}'
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "MONTHLY" in error["message"]
    assert (await card(as_admin, contact_id))["deals"] == []


async def test_recurring_payments_default_to_recurring(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)

    recurring = await add(as_admin, contact_id, paymentType="RECURRING")
    one_time = await add(as_admin, contact_id, paymentType="ONE_TIME")
    plan = await add(as_admin, contact_id, paymentType="PAYMENT_PLAN")
    explicit = await add(as_admin, contact_id, paymentType="RECURRING", recurring=True)

    assert (recurring["paymentType"], recurring["recurring"]) == ("RECURRING", True)
    assert (one_time["paymentType"], one_time["recurring"]) == ("ONE_TIME", False)
    assert (plan["paymentType"], plan["recurring"]) == ("PAYMENT_PLAN", False)
    assert explicit["recurring"] is True
    entry = (await card(as_admin, contact_id))["journey"]["nodes"][-2]
    assert entry["kind"] == "DEAL_ADDED"
    assert changes_of(entry)["recurring"] == [None, True]


@pytest.mark.parametrize("status", ["WON", "LOST"])
async def test_a_deal_added_as_closed_has_a_closed_at(as_admin: Api, acme: Tenant, status: str) -> None:
    contact_id = await new_contact(as_admin)
    deal = await add(as_admin, contact_id, status=status)
    assert deal["status"] == status
    assert recent(deal["closedAt"])
    assert (await card(as_admin, contact_id))["deals"][0]["closedAt"] == deal["closedAt"]


async def test_add_deal_on_unknown_or_foreign_contact_is_not_found(
    as_admin: Api, acme: Tenant, globex: Tenant
) -> None:
    foreign = await new_contact(as_admin.as_(globex.admin_key))
    for contact_id in (foreign, str(global_id("Contact", 777777))):
        error = await as_admin.error(ADD, {"i": deal_input(contact_id)})
        assert error["extensions"]["code"] == "NOT_FOUND"
    assert await DealModel.all().count() == 0


# --------------------------------------------------------------------------------------
# updateDeal
# --------------------------------------------------------------------------------------


async def test_update_changes_only_the_fields_sent(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    deal = await add(as_admin, contact_id, currency="EUR")

    updated = await update(as_admin, deal["id"], amount="2500.50", productName="Coaching programme XL")

    assert updated["amount"] == "2500.50"
    assert updated["productName"] == "Coaching programme XL"
    for unchanged in ("currency", "paymentType", "status", "recurring", "closedAt", "createdAt", "createdBy"):
        assert updated[unchanged] == deal[unchanged]
    data = await card(as_admin, contact_id)
    assert data["deals"] == [updated]
    entry = data["journey"]["nodes"][0]
    assert entry["kind"] == "DEAL_UPDATED"
    assert entry["subjectId"] == deal["id"]
    changes = changes_of(entry)
    assert set(changes) == {"amount", "productName"}
    assert changes["amount"] == ["1999.99", "2500.50"]  # as the card shows them
    assert changes["productName"] == ["Coaching programme", "Coaching programme XL"]


async def test_closing_and_reopening_sets_and_clears_closed_at(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    deal = await add(as_admin, contact_id)

    won = await update(as_admin, deal["id"], status="WON")
    assert won["status"] == "WON"
    assert recent(won["closedAt"])

    lost = await update(as_admin, deal["id"], status="LOST")
    assert lost["status"] == "LOST"
    assert recent(lost["closedAt"])

    reopened = await update(as_admin, deal["id"], status="OPEN")
    assert reopened["status"] == "OPEN"
    assert reopened["closedAt"] is None
    assert (await card(as_admin, contact_id))["deals"][0]["closedAt"] is None

    entries = (await card(as_admin, contact_id))["journey"]["nodes"]
    assert [e["kind"] for e in entries[:4]] == ["DEAL_UPDATED"] * 3 + ["DEAL_ADDED"]
    assert [changes_of(e) for e in entries[:3]] == [
        {"status": ["LOST", "OPEN"]},
        {"status": ["WON", "LOST"]},
        {"status": ["OPEN", "WON"]},
    ]


async def test_an_update_that_changes_nothing_writes_no_journey(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    deal = await add(as_admin, contact_id, currency="EUR", paymentType="RECURRING")
    before = await card(as_admin, contact_id)

    same = await update(
        as_admin,
        deal["id"],
        amount="1999.990",
        currency="eur",
        productName=" Coaching programme ",
        paymentType="RECURRING",
        status="OPEN",
        recurring=True,
    )
    empty = await update(as_admin, deal["id"])

    assert same == deal
    assert empty == deal
    assert await card(as_admin, contact_id) == before


async def test_update_currency_is_upper_cased(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    deal = await add(as_admin, contact_id)
    updated = await update(as_admin, deal["id"], currency="chf")
    assert updated["currency"] == "CHF"
    entry = (await card(as_admin, contact_id))["journey"]["nodes"][0]
    assert changes_of(entry) == {"currency": ["USD", "CHF"]}


BAD_DEAL_UPDATES: list[tuple[dict[str, Any], str | None, str]] = [
    ({"amount": "-5"}, "amount", "negative"),
    ({"amount": "3.14159"}, "amount", "4 decimal places"),
    ({"amount": None}, "amount", "cannot be null"),
    ({"amount": "lots"}, None, "Decimal"),
    ({"currency": "XYZ"}, "currency", "ISO 4217"),
    ({"currency": None}, "currency", "ISO 4217"),
    ({"paymentType": "RECURRING", "recurring": False}, "recurring", "recurring: true"),
    ({"paymentType": "RECURRING"}, "recurring", "recurring: true"),
    ({"paymentType": None}, "paymentType", "cannot be null"),
    ({"paymentType": "SOMETIMES"}, None, "SOMETIMES"),
    ({"status": None}, "status", "cannot be null"),
    ({"recurring": None}, "recurring", "cannot be null"),
    ({"productName": ""}, "productName", "productName"),
    ({"productName": None}, "productName", "productName"),
]


async def test_update_refuses_bad_input_and_changes_nothing(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    deal = await add(as_admin, contact_id, status="WON", amount="10")
    before = await card(as_admin, contact_id)

    for values, field, message in BAD_DEAL_UPDATES:
        # Each also reopens the deal: the valid part of a refused update is not applied either.
        error = await as_admin.error(UPDATE, {"i": {"id": deal["id"], "status": "OPEN", **values}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", values
        assert message in error["message"], (values, error["message"])
        assert error["extensions"].get("field") == field, values

    assert await card(as_admin, contact_id) == before


async def test_recurring_deal_cannot_be_made_non_recurring(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    deal = await add(as_admin, contact_id, paymentType="RECURRING")
    before = await card(as_admin, contact_id)

    error = await as_admin.error(UPDATE, {"i": {"id": deal["id"], "recurring": False}})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await card(as_admin, contact_id) == before
    # Switching both together is fine.
    switched = await update(as_admin, deal["id"], paymentType="ONE_TIME", recurring=False)
    assert (switched["paymentType"], switched["recurring"]) == ("ONE_TIME", False)


async def test_update_unknown_or_foreign_deal_is_not_found(
    as_admin: Api, acme: Tenant, globex: Tenant
) -> None:
    contact_id = await new_contact(as_admin)
    deal = await add(as_admin, contact_id)
    before = await card(as_admin, contact_id)

    missing = await as_admin.error(UPDATE, {"i": {"id": str(global_id("Deal", 987654)), "status": "WON"}})
    foreign = await as_admin.error(UPDATE, {"i": {"id": deal["id"], "status": "WON"}}, key=globex.admin_key)
    wrong_type = await as_admin.error(UPDATE, {"i": {"id": contact_id, "status": "WON"}})

    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert "no deal with id 987654" in missing["message"]
    assert foreign["extensions"]["code"] == "NOT_FOUND"
    assert wrong_type["extensions"]["code"] == "BAD_USER_INPUT"
    assert "not a Deal id" in wrong_type["message"]
    assert await card(as_admin, contact_id) == before


async def test_a_rep_adds_and_updates_deals_in_their_own_name(api: Api, acme: Tenant) -> None:
    rep = api.as_(acme.rep_key)
    contact_id = await new_contact(rep)
    deal = await add(rep, contact_id)
    await update(rep, deal["id"], status="WON")
    data = await card(rep, contact_id)
    assert data["deals"][0]["createdBy"] == {"name": "Acme Rep"}
    assert [e["actor"]["name"] for e in data["journey"]["nodes"][:2]] == ["Acme Rep", "Acme Rep"]
