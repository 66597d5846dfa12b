"""Deal amounts keep their currency's minor units (ISO 4217), everywhere an amount is shown:
the deal, the card, the journey's before/after values and summary, the plugins' event subject,
on both execution paths. `amount: "1999.50"` used to come back as "1999.5" (issue 10)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crm import money
from crm.errors import BadInput
from crm.events import CardEvent
from crm.models import Contact
from crm.models import Deal as DealModel
from graph.ids import decode_id
from plugins import hookimpl
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.test_fast_execution import both_over_http

DEAL = "id amount currency"
ADD = f"mutation($i: AddDealInput!) {{ addDeal(input: $i) {{ {DEAL} }} }}"
UPDATE = f"mutation($i: UpdateDealInput!) {{ updateDeal(input: $i) {{ {DEAL} }} }}"
CARD = f"""
query($id: ID!) {{
  contact(id: $id) {{
    deals {{ {DEAL} }}
    journey(first: 100) {{ nodes {{ kind summary changes {{ field before after }} }} }}
  }}
}}
"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Deal {{ {DEAL} }} }} }}"

# (sent, currency, shown): the minor units of USD 2, JPY 0, BHD and KWD 3, CLF 4; XAU has none.
AMOUNTS = [
    ("1999.50", "USD", "1999.50"),
    ("1999.5", "USD", "1999.50"),
    ("1999", "USD", "1999.00"),
    ("0", "EUR", "0.00"),
    ("2000", "JPY", "2000"),
    ("2000.000", "JPY", "2000"),
    ("12.345", "BHD", "12.345"),
    ("1.5", "KWD", "1.500"),
    ("0.25", "CLF", "0.2500"),
    ("5.10", "XAU", "5.1"),
    ("1E+3", "USD", "1000.00"),
]


async def new_contact(api: Api) -> str:
    data = await api.data(
        "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }", {"i": {"firstName": "Ada"}}
    )
    return data["createContact"]["id"]


def deal_input(contact_id: str, amount: str, currency: str, **more: Any) -> dict[str, Any]:
    return {"contactId": contact_id, "productName": "Coaching", "amount": amount, "currency": currency,
            "paymentType": "ONE_TIME", **more}  # fmt: skip


def changes(entry: dict[str, Any]) -> dict[str, list[Any]]:
    return {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}


# -- the module --------------------------------------------------------------------------------


def test_minor_units_come_from_iso_4217() -> None:
    assert [money.minor_units(c) for c in ("USD", "eur", "JPY", "KRW", "BHD", "KWD", "TND", "CLF")] == [
        2, 2, 0, 0, 3, 3, 3, 4,
    ]  # fmt: skip
    assert money.minor_units("XAU") is None  # gold: no minor unit
    assert money.minor_units("XDR") is None
    assert money.minor_units("ZZZ") is None


@pytest.mark.parametrize(("sent", "currency", "shown"), AMOUNTS)
def test_text_keeps_the_minor_units(sent: str, currency: str, shown: str) -> None:
    assert money.text(Decimal(sent), currency) == shown
    assert str(money.for_api(Decimal(sent), currency)) == shown  # what the Decimal scalar writes


def test_an_amount_stored_with_more_places_than_its_currency_keeps_them() -> None:
    """Stored before amounts were checked against their currency: shown whole, not rounded."""
    assert money.text(Decimal("1999.9999"), "USD") == "1999.9999"
    assert money.text(Decimal("10.5000"), "JPY") == "10.5"


def test_display_for_summaries() -> None:
    assert money.display(Decimal("1999.5"), "USD") == "1,999.50 USD"
    assert money.display(Decimal("2000"), "JPY") == "2,000 JPY"
    assert money.display(Decimal("1234.5"), "BHD") == "1,234.500 BHD"


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("1999.995", "USD", "amount 1999.995 has 3 decimal places but USD has 2: round it, e.g. to 2000.00"),
        ("10.5", "JPY", "amount 10.5 has 1 decimal place but JPY has none: give a whole amount, e.g. 11"),
        ("1.2345", "KWD", "amount 1.2345 has 4 decimal places but KWD has 3: round it, e.g. to 1.235"),
    ],
)
def test_check_refuses_more_places_than_the_currency_has(amount: str, currency: str, message: str) -> None:
    with pytest.raises(BadInput) as refused:
        money.check(Decimal(amount), currency)
    assert refused.value.message == message
    assert refused.value.field == "amount"


def test_check_accepts_trailing_zeros_and_currencies_without_minor_units() -> None:
    money.check(Decimal("1999.9900"), "USD")
    money.check(Decimal("2000.0"), "JPY")
    money.check(Decimal("5.1234"), "XAU")


# -- through the API ---------------------------------------------------------------------------


async def test_amounts_read_back_with_their_currencys_decimal_places(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    expected = [shown for _, _, shown in AMOUNTS]

    added = [
        (await as_admin.data(ADD, {"i": deal_input(contact_id, a, c)}))["addDeal"] for a, c, _ in AMOUNTS
    ]

    assert [d["amount"] for d in added] == expected
    data = (await as_admin.data(CARD, {"id": contact_id}))["contact"]
    assert [d["amount"] for d in data["deals"]] == expected
    assert [(await as_admin.data(NODE, {"id": d["id"]}))["node"]["amount"] for d in added] == expected
    entries = [e for e in reversed(data["journey"]["nodes"]) if e["kind"] == "DEAL_ADDED"]
    assert [changes(e)["amount"] for e in entries] == [[None, shown] for shown in expected]
    assert "Coaching, 1,999.50 USD (open)" in entries[0]["summary"]
    assert "Coaching, 2,000 JPY (open)" in entries[4]["summary"]
    assert "Coaching, 12.345 BHD (open)" in entries[6]["summary"]


async def test_both_execution_paths_show_the_same_amounts(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    for amount, currency, _ in AMOUNTS:
        await as_admin.data(ADD, {"i": deal_input(contact_id, amount, currency)})

    core, compiled = await both_over_http(as_admin, CARD, {"id": contact_id})

    assert core == compiled
    assert [d["amount"] for d in compiled["data"]["contact"]["deals"]] == [shown for _, _, shown in AMOUNTS]
    first = compiled["data"]["contact"]["deals"][0]["id"]
    node_core, node_compiled = await both_over_http(as_admin, NODE, {"id": first})
    assert node_core == node_compiled and node_compiled["data"]["node"]["amount"] == "1999.50"


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("1999.995", "USD", "amount 1999.995 has 3 decimal places but USD has 2: round it, e.g. to 2000.00"),
        ("0.001", "EUR", "amount 0.001 has 3 decimal places but EUR has 2"),
        ("10.5", "JPY", "amount 10.5 has 1 decimal place but JPY has none: give a whole amount, e.g. 11"),
        ("1.2345", "BHD", "amount 1.2345 has 4 decimal places but BHD has 3"),
    ],
)
async def test_more_decimal_places_than_the_currency_has_are_refused(
    as_admin: Api, acme: Tenant, amount: str, currency: str, message: str
) -> None:
    contact_id = await new_contact(as_admin)
    error = await as_admin.error(ADD, {"i": deal_input(contact_id, amount, currency)})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "amount"
    assert message in error["message"]
    assert await DealModel.all().count() == 0


async def test_updates_keep_amount_and_currency_consistent(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    deal = (await as_admin.data(ADD, {"i": deal_input(contact_id, "1999.5", "USD")}))["addDeal"]

    # A new currency alone must fit the amount the deal keeps.
    error = await as_admin.error(UPDATE, {"i": {"id": deal["id"], "currency": "JPY"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "currency"
    assert "the deal's amount 1999.5 has 1 decimal place but JPY has none" in error["message"]
    assert "send a new amount with it" in error["message"]
    # A new amount must fit the currency.
    error = await as_admin.error(UPDATE, {"i": {"id": deal["id"], "amount": "10.999"}})
    assert (error["extensions"]["field"], error["extensions"]["code"]) == ("amount", "BAD_USER_INPUT")
    assert "round it, e.g. to 11.00" in error["message"]

    moved = await as_admin.data(UPDATE, {"i": {"id": deal["id"], "amount": "300000", "currency": "jpy"}})
    assert moved["updateDeal"]["amount"] == "300000" and moved["updateDeal"]["currency"] == "JPY"
    back = (await as_admin.data(UPDATE, {"i": {"id": deal["id"], "currency": "EUR"}}))["updateDeal"]
    assert back["amount"] == "300000.00"

    entries = (await as_admin.data(CARD, {"id": contact_id}))["contact"]["journey"]["nodes"]
    assert [changes(e) for e in entries if e["kind"] == "DEAL_UPDATED"] == [
        {"currency": ["JPY", "EUR"]},
        {"amount": ["1999.50", "300000"], "currency": ["USD", "JPY"]},  # each in its own currency
    ]


async def test_an_old_row_with_more_places_than_its_currency_shows_them(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    deal = (await as_admin.data(ADD, {"i": deal_input(contact_id, "10", "USD")}))["addDeal"]
    await DealModel.filter(id=decode_id(deal["id"], "Deal")).update(amount=Decimal("10.1234"))

    data = (await as_admin.data(CARD, {"id": contact_id}))["contact"]
    assert data["deals"][0]["amount"] == "10.1234"


class DealSubjects:
    name = "deal-subjects"

    def __init__(self) -> None:
        self.subjects: list[dict[str, Any]] = []

    @hookimpl
    def deal_added(self, event: CardEvent) -> None:
        self.subjects.append(dict(event.subject))

    @hookimpl
    def deal_updated(self, event: CardEvent) -> None:
        self.subjects.append(dict(event.subject))


async def test_plugins_get_the_amount_as_the_api_shows_it(running_app: AppFactory) -> None:
    recorder = DealSubjects()
    async with running_app(plugins=(recorder,)) as app:
        api = app.as_((await make_tenant("Acme")).admin_key)
        contact_id = await new_contact(api)
        deal = (await api.data(ADD, {"i": deal_input(contact_id, "1500.5", "usd")}))["addDeal"]
        await api.data(UPDATE, {"i": {"id": deal["id"], "amount": "2000", "currency": "JPY"}})
        await app.runtime.dispatcher.drain()
        assert await Contact.all().count() == 1

    assert [(s["amount"], s["currency"]) for s in recorder.subjects] == [("1500.50", "USD"), ("2000", "JPY")]
