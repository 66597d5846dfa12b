"""The card's header and expanded profile (A4, A5): the account's currency, the header lists
(leadSource, actionPlan, salesCycle), deal likelihood and close date, the opportunity summary
and the profile, with their validation, journey entries and hooks."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from crm.clock import utcnow
from crm.models import ContactProfile
from crm.services.profile import age_on
from dossier import Settings
from graph.ids import global_id
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.test_hooks import Recorder

SETTINGS = """mutation($i: UpdateAccountSettingsInput!) {
  updateAccountSettings(input: $i) { currency region clientEmail }
}"""
ACCOUNT = "{ viewer { account { currency leadSources actionPlans salesCycles } } }"
CREATE = """mutation($i: CreateContactInput!) {
  createContact(input: $i) { id leadSource actionPlan salesCycle }
}"""
UPDATE = """mutation($i: UpdateContactInput!) {
  updateContact(input: $i) { id leadSource actionPlan salesCycle }
}"""
SET_LIST = {
    "leadSources": "mutation($i: SetHeaderListInput!) { setLeadSourceList(input: $i) { leadSources } }",
    "actionPlans": "mutation($i: SetHeaderListInput!) { setActionPlanList(input: $i) { actionPlans } }",
    "salesCycles": "mutation($i: SetHeaderListInput!) { setSalesCycleList(input: $i) { salesCycles } }",
}
ADD_DEAL = """mutation($i: AddDealInput!) {
  addDeal(input: $i) { id amount currency likelihood closeDate status }
}"""
UPDATE_DEAL = """mutation($i: UpdateDealInput!) {
  updateDeal(input: $i) { id amount currency likelihood closeDate status }
}"""
PROFILE_FIELDS = """
  netWorth { amount currency } homeOwnerStatus householdIncome { amount currency } lengthOfResidence
  maritalStatus marketValue { amount currency } occupation birthDate age education gender children
  pets facebookUrl linkedinUrl twitterUrl anniversary1 { date label } anniversary2 { date label }
  nextContactDate lastContactDate
"""
OPPORTUNITY = """
  opportunity {
    dealSize { amount currency } quoted { amount currency } closed { amount currency }
    likelihood closeDate excludedDeals
  }
"""
CARD = f"""query($id: ID!) {{
  contact(id: $id) {{
    id leadSource actionPlan salesCycle
    {OPPORTUNITY}
    profile {{ {PROFILE_FIELDS} }}
    deals {{ id amount currency likelihood closeDate }}
    journey(first: 20) {{ nodes {{ kind summary changes {{ field before after }} }} }}
  }}
}}"""
UPDATE_PROFILE = f"""mutation($i: UpdateContactInput!) {{
  updateContact(input: $i) {{ id profile {{ {PROFILE_FIELDS} }} }}
}}"""


async def contact(api: Api, **fields: Any) -> str:
    made = await api.data(CREATE, {"i": {"firstName": "Ada", "lastName": "Lovelace", **fields}})
    return made["createContact"]["id"]


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(CARD, {"id": contact_id}))["contact"]


async def deal(api: Api, contact_id: str, amount: str, currency: str = "USD", **more: Any) -> dict[str, Any]:
    values = {"contactId": contact_id, "productName": "Plan", "amount": amount, "currency": currency}
    values.update({"paymentType": "ONE_TIME", **more})
    return (await api.data(ADD_DEAL, {"i": values}))["addDeal"]


def code_of(error: dict[str, Any]) -> str:
    return error["extensions"]["code"]


def changes_of(entry: dict[str, Any]) -> dict[str, list[Any]]:
    return {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}


def money(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


# --------------------------------------------------------------------------------------
# The account's currency
# --------------------------------------------------------------------------------------


async def test_admins_set_the_account_currency_and_everyone_reads_it(api: Api, acme: Tenant) -> None:
    admin, rep = api.as_(acme.admin_key), api.as_(acme.rep_key)
    assert (await rep.data(ACCOUNT))["viewer"]["account"]["currency"] == "USD"

    changed = (await admin.data(SETTINGS, {"i": {"currency": " eur "}}))["updateAccountSettings"]
    assert changed == {"currency": "EUR", "region": None, "clientEmail": None}
    assert (await rep.data(ACCOUNT))["viewer"]["account"]["currency"] == "EUR"

    for bad in ("ZZZ", "euro", "", None):
        error = await admin.error(SETTINGS, {"i": {"currency": bad}})
        assert code_of(error) == "BAD_USER_INPUT" and "currency" in error["message"], bad
    error = await rep.error(SETTINGS, {"i": {"currency": "GBP"}})
    assert code_of(error) == "FORBIDDEN"
    # Leaving it out keeps it; nothing above changed it.
    assert (await admin.data(SETTINGS, {"i": {"region": "GB"}}))["updateAccountSettings"]["currency"] == "EUR"


# --------------------------------------------------------------------------------------
# Header lists
# --------------------------------------------------------------------------------------


async def test_header_lists_default_and_admins_replace_them(api: Api, acme: Tenant) -> None:
    admin, manager = api.as_(acme.admin_key), api.as_(acme.manager_key)
    account = (await manager.data(ACCOUNT))["viewer"]["account"]
    defaults = ["Website", "Referral", "Phone", "Walk-in", "Social", "Advertising", "Other"]
    assert account["leadSources"] == defaults
    assert "Nurture" in account["actionPlans"] and "Negotiation" in account["salesCycles"]

    values = ["  Trade show ", "Website", "website", "TRADE SHOW", "Podcast"]
    result = await admin.data(SET_LIST["leadSources"], {"i": {"values": values}})
    assert result["setLeadSourceList"]["leadSources"] == ["Trade show", "Website", "Podcast"]
    result = await admin.data(SET_LIST["actionPlans"], {"i": {"values": ["Call daily"]}})
    assert result["setActionPlanList"]["actionPlans"] == ["Call daily"]
    result = await admin.data(SET_LIST["salesCycles"], {"i": {"values": []}})
    assert result["setSalesCycleList"]["salesCycles"] == []

    for field, mutation in SET_LIST.items():
        error = await manager.error(mutation, {"i": {"values": ["X"]}})
        assert code_of(error) == "FORBIDDEN", field
        for bad in (["ok", "   "], ["x" * 51], [f"v{i}" for i in range(51)]):
            error = await admin.error(mutation, {"i": {"values": bad}})
            assert code_of(error) == "BAD_USER_INPUT" and "values" in error["message"], (field, bad)
    account = (await manager.data(ACCOUNT))["viewer"]["account"]
    assert account["leadSources"] == ["Trade show", "Website", "Podcast"]
    assert account["actionPlans"] == ["Call daily"] and account["salesCycles"] == []


async def test_a_contact_takes_values_of_the_lists_journaled_and_hooked(running_app: AppFactory) -> None:
    recorder = Recorder()
    async with running_app(plugins=(recorder,)) as app:
        api = app.as_((await make_tenant("Acme")).rep_key)
        made = await api.data(CREATE, {"i": {"firstName": "Ada", "leadSource": "referral"}})
        contact_id = made["createContact"]["id"]
        assert made["createContact"]["leadSource"] == "Referral"
        await app.runtime.dispatcher.drain()
        created = [event for hook, event in recorder.take() if hook == "contact_created"]
        assert created and created[0].changes["leadSource"] == [None, "Referral"]

        values = {"id": contact_id, "leadSource": "WEBSITE", "actionPlan": "nurture"}
        values["salesCycle"] = "Proposal"
        updated = (await api.data(UPDATE, {"i": values}))["updateContact"]
        assert updated == {
            "id": contact_id, "leadSource": "Website", "actionPlan": "Nurture", "salesCycle": "Proposal"
        }  # fmt: skip
        await app.runtime.dispatcher.drain()
        (hook, event), *rest = recorder.take()
        assert hook == "contact_updated" and not rest
        assert event.changes == {
            "leadSource": ["Referral", "Website"],
            "actionPlan": [None, "Nurture"],
            "salesCycle": [None, "Proposal"],
        }
        entry = (await card(api, contact_id))["journey"]["nodes"][0]
        assert entry["kind"] == "CONTACT_UPDATED"
        assert changes_of(entry)["leadSource"] == ["Referral", "Website"]

        error = await api.error(UPDATE, {"i": {"id": contact_id, "salesCycle": "Haggling"}})
        assert code_of(error) == "BAD_USER_INPUT"
        assert "'Haggling'" in error["message"] and "Prospecting, Qualification" in error["message"]
        error = await api.error(CREATE, {"i": {"firstName": "Bo", "actionPlan": "Nope"}})
        assert code_of(error) == "BAD_USER_INPUT" and "action plan" in error["message"]
        # Nothing changed: the card still has its values, no second contact was made.
        again = await card(api, contact_id)
        assert (again["leadSource"], again["salesCycle"]) == ("Website", "Proposal")

        # Clearing with null, journaled too.
        cleared = (await api.data(UPDATE, {"i": {"id": contact_id, "actionPlan": None}}))["updateContact"]
        assert cleared["actionPlan"] is None


async def test_a_list_value_held_by_contacts_cannot_be_dropped(api: Api, acme: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    held = await contact(admin, leadSource="Phone")
    await contact(admin, firstName="Bo", leadSource="phone")
    keep = ["Website", "Referral"]
    error = await admin.error(SET_LIST["leadSources"], {"i": {"values": keep}})
    assert code_of(error) == "CONFLICT"
    assert "2 contact(s)" in error["message"] and "'Phone'" in error["message"]
    assert "Phone" in (await admin.data(ACCOUNT))["viewer"]["account"]["leadSources"]
    # Kept values, and new ones, are fine; once nobody holds Phone it can go.
    await admin.data(SET_LIST["leadSources"], {"i": {"values": [*keep, "Phone", "Radio"]}})
    for contact_id in (held, (await contact(admin, firstName="Cy"))):
        await admin.data(UPDATE, {"i": {"id": contact_id, "leadSource": None}})
    error = await admin.error(SET_LIST["leadSources"], {"i": {"values": keep}})
    assert code_of(error) == "CONFLICT" and "1 contact(s)" in error["message"]


async def test_another_accounts_contact_is_not_found(api: Api, acme: Tenant, globex: Tenant) -> None:
    theirs = await contact(api.as_(globex.admin_key))
    mine = api.as_(acme.admin_key)
    error = await mine.error(UPDATE, {"i": {"id": theirs, "leadSource": "Website"}})
    assert code_of(error) == "NOT_FOUND"
    error = await mine.error(UPDATE_PROFILE, {"i": {"id": theirs, "profile": {"occupation": "Spy"}}})
    assert code_of(error) == "NOT_FOUND"
    assert await ContactProfile.all().count() == 0


# --------------------------------------------------------------------------------------
# Deals: likelihood, close date, minor units
# --------------------------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Hooks are counted with a Recorder: the built-in plugins stay out."""
    from dataclasses import replace

    return replace(settings, disabled_plugins=builtin_names())


async def test_deals_take_likelihood_and_close_date_journaled_in_minor_units(running_app: AppFactory) -> None:
    recorder = Recorder()
    async with running_app(plugins=(recorder,)) as app:
        api = app.as_((await make_tenant("Acme")).rep_key)
        contact_id = await contact(api)
        await app.runtime.dispatcher.drain()
        recorder.take()
        made = await deal(api, contact_id, "1999.5", likelihood=40, closeDate="2027-03-31")
        assert made | {"id": None} == {
            "id": None, "amount": "1999.50", "currency": "USD", "likelihood": 40, "closeDate": "2027-03-31",
            "status": "OPEN",
        }  # fmt: skip
        await app.runtime.dispatcher.drain()
        (hook, event), *_ = recorder.take()
        assert hook == "deal_added"
        assert event.subject["amount"] == "1999.50"
        assert (event.subject["likelihood"], event.subject["closeDate"]) == (40, "2027-03-31")
        assert event.changes["amount"] == [None, "1999.50"]
        assert event.changes["closeDate"] == [None, "2027-03-31"]

        yen = await deal(api, contact_id, "2000", "JPY")
        assert (yen["amount"], yen["likelihood"], yen["closeDate"]) == ("2000", None, None)
        await app.runtime.dispatcher.drain()
        (_, event), *_ = recorder.take()
        assert event.subject["amount"] == "2000" and "likelihood" not in event.changes

        changed = await api.data(
            UPDATE_DEAL, {"i": {"id": made["id"], "likelihood": 75, "closeDate": None, "amount": "10"}}
        )
        assert changed["updateDeal"]["likelihood"] == 75 and changed["updateDeal"]["closeDate"] is None
        assert changed["updateDeal"]["amount"] == "10.00"
        await app.runtime.dispatcher.drain()
        (hook, event), *_ = recorder.take()
        assert hook == "deal_updated"
        assert event.changes == {
            "likelihood": [40, 75], "closeDate": ["2027-03-31", None], "amount": ["1999.50", "10.00"]
        }  # fmt: skip
        entry = (await card(api, contact_id))["journey"]["nodes"][0]
        assert entry["kind"] == "DEAL_UPDATED" and changes_of(entry)["amount"] == ["1999.50", "10.00"]
        deals = (await card(api, contact_id))["deals"]
        assert [(d["amount"], d["closeDate"]) for d in deals] == [("10.00", None), ("2000", None)]

        for bad in (101, -1):
            error = await api.error(UPDATE_DEAL, {"i": {"id": made["id"], "likelihood": bad}})
            assert code_of(error) == "BAD_USER_INPUT" and "likelihood" in error["message"], bad
        error = await api.error(ADD_DEAL, {"i": {
            "contactId": contact_id, "productName": "X", "amount": "1", "currency": "USD",
            "paymentType": "ONE_TIME", "likelihood": 150,
        }})  # fmt: skip
        assert code_of(error) == "BAD_USER_INPUT"
        for bad in ("next week", "2027-02-30", "2027-03-31T10:00:00Z"):
            response = await api.post(UPDATE_DEAL, {"i": {"id": made["id"], "closeDate": bad}})
            assert response.get("data") is None and "closeDate" in response["errors"][0]["message"], bad
            assert code_of(response["errors"][0]) == "BAD_USER_INPUT"
        assert len((await card(api, contact_id))["deals"]) == 2
        assert (await card(api, contact_id))["deals"][0]["likelihood"] == 75


# --------------------------------------------------------------------------------------
# The opportunity summary
# --------------------------------------------------------------------------------------


async def test_opportunity_sums_deals_by_status_in_the_account_currency(api: Api, acme: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    contact_id = await contact(admin)
    empty = (await card(admin, contact_id))["opportunity"]
    assert empty == {
        "dealSize": money("0.00"), "quoted": money("0.00"), "closed": money("0.00"),
        "likelihood": None, "closeDate": None, "excludedDeals": 0,
    }  # fmt: skip

    await deal(admin, contact_id, "1000", likelihood=50, closeDate="2027-03-01")
    await deal(admin, contact_id, "3000.5", likelihood=80, closeDate="2027-02-01")
    await deal(admin, contact_id, "500")  # open, no likelihood: in the sums, not in the mean
    await deal(admin, contact_id, "200.25", status="WON", likelihood=5, closeDate="2026-01-01")
    await deal(admin, contact_id, "999", status="LOST", likelihood=99, closeDate="2025-01-01")
    await deal(admin, contact_id, "100000", "JPY", likelihood=10, closeDate="2024-01-01")
    await deal(admin, contact_id, "50", "EUR", status="WON")

    summary = (await card(admin, contact_id))["opportunity"]
    # (1000*50 + 3000.5*80) / 4000.5 = 72.50...: 73.
    assert summary == {
        "dealSize": money("4700.75"), "quoted": money("4500.50"), "closed": money("200.25"),
        "likelihood": 73, "closeDate": "2027-02-01", "excludedDeals": 2,
    }  # fmt: skip

    # In JPY, the yen deal counts and the dollar ones are left out.
    await admin.data(SETTINGS, {"i": {"currency": "JPY"}})
    summary = (await card(admin, contact_id))["opportunity"]
    assert summary == {
        "dealSize": money("100000", "JPY"), "quoted": money("100000", "JPY"), "closed": money("0", "JPY"),
        "likelihood": 10, "closeDate": "2024-01-01", "excludedDeals": 6,
    }  # fmt: skip


async def test_opportunity_likelihood_rounds_half_up_and_ignores_zero_weight(api: Api, acme: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    halves = await contact(admin)
    await deal(admin, halves, "100", likelihood=50)
    await deal(admin, halves, "100", likelihood=51)
    assert (await card(admin, halves))["opportunity"]["likelihood"] == 51  # 50.5
    nothing = await contact(admin, firstName="Zed")
    await deal(admin, nothing, "0", likelihood=90)
    summary = (await card(admin, nothing))["opportunity"]
    assert summary["likelihood"] is None and summary["quoted"] == money("0.00")


async def test_opportunity_sums_are_exact_beyond_float_precision(api: Api, acme: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    contact_id = await contact(admin)
    for amount in ("0.10", "0.20", "99999999999999.99", "0.01"):
        await deal(admin, contact_id, amount, likelihood=100)
    summary = (await card(admin, contact_id))["opportunity"]
    assert summary["dealSize"] == money("100000000000000.30")
    assert summary["likelihood"] == 100


# --------------------------------------------------------------------------------------
# The expanded profile
# --------------------------------------------------------------------------------------

FULL_PROFILE: dict[str, Any] = {
    "netWorth": {"amount": "250000.5"},
    "homeOwnerStatus": "OWNER",
    "householdIncome": {"amount": "98000", "currency": "eur"},
    "lengthOfResidence": 7,
    "maritalStatus": "MARRIED",
    "marketValue": {"amount": "45000000", "currency": "JPY"},
    "occupation": "  Engineer ",
    "birthDate": "1990-06-15",
    "education": "MASTER",
    "gender": "FEMALE",
    "children": True,
    "pets": False,
    "facebookUrl": "https://www.facebook.com/ada",
    "linkedinUrl": "https://linkedin.com/in/ada",
    "twitterUrl": "https://x.com/ada",
    "anniversary1": {"date": "2015-09-12", "label": " Wedding "},
    "anniversary2": {"date": "2020-01-01"},
    "nextContactDate": "2027-01-10",
    "lastContactDate": "2026-11-30",
}


async def test_the_profile_is_set_partially_and_journaled_field_by_field(running_app: AppFactory) -> None:
    recorder = Recorder()
    async with running_app(plugins=(recorder,)) as app:
        api = app.as_((await make_tenant("Acme")).rep_key)
        contact_id = await contact(api)
        blank = (await card(api, contact_id))["profile"]
        assert set(blank.values()) == {None}
        await app.runtime.dispatcher.drain()
        recorder.take()

        result = await api.data(UPDATE_PROFILE, {"i": {"id": contact_id, "profile": FULL_PROFILE}})
        profile = result["updateContact"]["profile"]
        assert profile == {
            "netWorth": money("250000.50"),
            "homeOwnerStatus": "OWNER",
            "householdIncome": money("98000.00", "EUR"),
            "lengthOfResidence": 7,
            "maritalStatus": "MARRIED",
            "marketValue": money("45000000", "JPY"),
            "occupation": "Engineer",
            "birthDate": "1990-06-15",
            "age": age_on(date(1990, 6, 15), utcnow().date()),
            "education": "MASTER",
            "gender": "FEMALE",
            "children": True,
            "pets": False,
            "facebookUrl": "https://www.facebook.com/ada",
            "linkedinUrl": "https://linkedin.com/in/ada",
            "twitterUrl": "https://x.com/ada",
            "anniversary1": {"date": "2015-09-12", "label": "Wedding"},
            "anniversary2": {"date": "2020-01-01", "label": None},
            "nextContactDate": "2027-01-10",
            "lastContactDate": "2026-11-30",
        }
        assert (await card(api, contact_id))["profile"] == profile
        await app.runtime.dispatcher.drain()
        (hook, event), *rest = recorder.take()
        assert hook == "contact_updated" and not rest
        assert event.changes["profile.netWorth"] == [None, money("250000.50")]
        assert event.changes["profile.anniversary1"] == [None, {"date": "2015-09-12", "label": "Wedding"}]
        assert event.changes["profile.birthDate"] == [None, "1990-06-15"]
        assert event.changes["profile.pets"] == [None, False]
        assert "profile.age" not in event.changes  # no stored age to clear
        assert len(event.changes) == len(FULL_PROFILE)

        # Partial: only the given keys change; null clears one; unchanged values journal nothing.
        partial = {"occupation": "Architect", "pets": None, "gender": "FEMALE", "netWorth": None}
        result = await api.data(UPDATE_PROFILE, {"i": {"id": contact_id, "profile": partial}})
        profile = result["updateContact"]["profile"]
        assert (profile["occupation"], profile["pets"], profile["netWorth"]) == ("Architect", None, None)
        assert profile["householdIncome"] == money("98000.00", "EUR") and profile["children"] is True
        entry = (await card(api, contact_id))["journey"]["nodes"][0]
        assert entry["kind"] == "CONTACT_UPDATED"
        assert changes_of(entry) == {
            "profile.occupation": ["Engineer", "Architect"],
            "profile.pets": [False, None],
            "profile.netWorth": [money("250000.50"), None],
        }
        assert "profile.occupation" in entry["summary"]
        await app.runtime.dispatcher.drain()
        assert [hook for hook, _ in recorder.take()] == ["contact_updated"]

        # The same values again change nothing and journal nothing.
        await api.data(UPDATE_PROFILE, {"i": {"id": contact_id, "profile": partial}})
        assert (await card(api, contact_id))["journey"]["nodes"][0] == entry
        assert await ContactProfile.all().count() == 1


async def test_age_alone_or_derived_from_the_birth_date(api: Api, acme: Tenant) -> None:
    rep = api.as_(acme.rep_key)
    contact_id = await contact(rep)

    async def set_profile(values: dict[str, Any]) -> dict[str, Any]:
        result = await rep.data(UPDATE_PROFILE, {"i": {"id": contact_id, "profile": values}})
        return result["updateContact"]["profile"]

    assert (await set_profile({"age": 41}))["age"] == 41
    born = utcnow().date().replace(year=utcnow().date().year - 30) - timedelta(days=1)
    profile = await set_profile({"birthDate": born.isoformat()})
    assert (profile["birthDate"], profile["age"]) == (born.isoformat(), 30)
    entry = (await card(rep, contact_id))["journey"]["nodes"][0]
    assert changes_of(entry)["profile.age"] == [41, None]  # the birth date decides from now on

    error = await rep.error(UPDATE_PROFILE, {"i": {"id": contact_id, "profile": {"age": 25}}})
    assert code_of(error) == "BAD_USER_INPUT" and "birthDate" in error["message"]
    # Clearing the birth date in the same request lets an age be given alone.
    profile = await set_profile({"birthDate": None, "age": 25})
    assert (profile["birthDate"], profile["age"]) == (None, 25)


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        ({"facebookUrl": "https://facebook.com.evil.example/ada"}, "facebookUrl"),
        ({"facebookUrl": "https://linkedin.com/in/ada"}, "facebookUrl"),
        ({"linkedinUrl": "ftp://linkedin.com/in/ada"}, "linkedinUrl"),
        ({"twitterUrl": "twitter.com/ada"}, "twitterUrl"),
        ({"twitterUrl": "https://nottwitter.com/ada"}, "twitterUrl"),
        ({"netWorth": {"amount": "-1"}}, "netWorth"),
        ({"householdIncome": {"amount": "10", "currency": "XYZ"}}, "householdIncome"),
        ({"marketValue": {"amount": "10.5", "currency": "JPY"}}, "marketValue"),
        ({"lengthOfResidence": 151}, "lengthOfResidence"),
        ({"age": -1}, "age"),
        ({"occupation": "x" * 121}, "occupation"),
        ({"anniversary1": {"date": "2020-01-01", "label": "x" * 61}}, "anniversary1"),
        ({"birthDate": (date.today() + timedelta(days=2)).isoformat()}, "birthDate"),
    ],
)
async def test_bad_profile_values_are_refused_and_change_nothing(
    api: Api, acme: Tenant, profile: dict[str, Any], field: str
) -> None:
    rep = api.as_(acme.rep_key)
    contact_id = await contact(rep)
    good = {"occupation": "Pilot", **profile}
    error = await rep.error(UPDATE_PROFILE, {"i": {"id": contact_id, "firstName": "Eve", "profile": good}})
    assert code_of(error) == "BAD_USER_INPUT" and field in error["message"], error
    after = await card(rep, contact_id)
    assert after["profile"]["occupation"] is None and len(after["journey"]["nodes"]) == 1
    assert await ContactProfile.all().count() == 0


@pytest.mark.parametrize(
    "profile",
    [
        {"gender": "ROBOT"},
        {"maritalStatus": "married"},
        {"education": 3},
        {"birthDate": "15/06/1990"},
        {"anniversary1": {"label": "no date"}},
        {"netWorth": {"amount": "ten"}},
        {"children": "yes"},
    ],
)
async def test_values_of_the_wrong_type_are_refused_by_the_schema(
    api: Api, acme: Tenant, profile: dict[str, Any]
) -> None:
    rep = api.as_(acme.rep_key)
    contact_id = await contact(rep)
    response = await rep.post(UPDATE_PROFILE, {"i": {"id": contact_id, "profile": profile}})
    assert response.get("data") is None and response["errors"], response
    (error,) = response["errors"]
    assert code_of(error) == "BAD_USER_INPUT" and f".profile.{next(iter(profile))}" in error["message"]
    assert await ContactProfile.all().count() == 0


async def test_create_contact_takes_a_profile(api: Api, acme: Tenant) -> None:
    rep = api.as_(acme.rep_key)
    query = (
        "mutation($i: CreateContactInput!) { createContact(input: $i) { id profile { occupation gender } } }"
    )
    given = {"firstName": "Al", "profile": {"occupation": "Chef", "gender": "MALE"}}
    made = await rep.data(query, {"i": given})
    assert made["createContact"]["profile"] == {"occupation": "Chef", "gender": "MALE"}
    entry = (await card(rep, made["createContact"]["id"]))["journey"]["nodes"][0]
    assert entry["kind"] == "CONTACT_CREATED"
    assert changes_of(entry)["profile.occupation"] == [None, "Chef"]
    error = await rep.error(query, {"i": {"firstName": "Al", "profile": {"twitterUrl": "https://t.co/x"}}})
    assert code_of(error) == "BAD_USER_INPUT"
    assert await ContactProfile.all().count() == 1


# --------------------------------------------------------------------------------------
# Statement counts and the fast path
# --------------------------------------------------------------------------------------

HEADER_CARD = f"""
fragment Card on Contact {{
  id leadSource actionPlan salesCycle
  {OPPORTUNITY}
  profile {{ {PROFILE_FIELDS} }}
}}
"""


async def _fill(api: Api, count: int, deals_each: int) -> list[str]:
    ids = []
    for i in range(count):
        contact_id = await contact(api, firstName=f"P{i}", leadSource="Website", salesCycle="Closing")
        await api.data(UPDATE_PROFILE, {"i": {"id": contact_id, "profile": FULL_PROFILE}})
        for j in range(deals_each):
            await deal(api, contact_id, f"{100 + j}.25", likelihood=(10 * j) % 101, closeDate="2027-05-01")
        ids.append(contact_id)
    return ids


async def test_header_and_profile_cost_constant_statements(
    api: Api, acme: Tenant, count_statements: Any
) -> None:
    from tests.test_statement_counts import CARD_QUERY, LIST_QUERY, measure, same_cost

    admin = api.as_(acme.admin_key)
    small, big = await _fill(admin, 1, 1), await _fill(admin, 1, 12)
    one = await measure(admin, count_statements, CARD_QUERY + HEADER_CARD, {"id": small[0]})
    many = await measure(admin, count_statements, CARD_QUERY + HEADER_CARD, {"id": big[0]})
    quoted = many.data["contact"]["opportunity"]["quoted"]["amount"]
    assert quoted == f"{sum(Decimal('100.25') + j for j in range(12))}"
    assert one.count == many.count, same_cost("1 deal", one, "12 deals", many)

    await _fill(admin, 48, 2)
    page_one = await measure(admin, count_statements, LIST_QUERY + HEADER_CARD, {"first": 1})
    page_fifty = await measure(admin, count_statements, LIST_QUERY + HEADER_CARD, {"first": 50})
    cards = [edge["node"] for edge in page_fifty.data["contacts"]["edges"]]
    assert len(cards) == 50 and all(c["profile"]["occupation"] == "Engineer" for c in cards)
    assert all(c["leadSource"] == "Website" for c in cards)
    assert page_one.count == page_fifty.count, same_cost("1 card", page_one, "50 cards", page_fifty)
    # The contacts page itself (its ids, then their rows through the contact loader), its count,
    # the profiles and the opportunities (plus auth).
    assert page_fifty.count <= 6, page_fifty.listing()


async def test_header_and_profile_answer_the_same_on_both_executors(api: Api, acme: Tenant) -> None:
    from tests.test_fast_execution import both_over_http

    admin = api.as_(acme.admin_key)
    (full,) = await _fill(admin, 1, 3)
    bare = await contact(admin, firstName="Bare")
    await deal(admin, bare, "5", "EUR")
    query = "query($a: ID!, $b: ID!) { a: contact(id: $a) { ...Card } b: contact(id: $b) { ...Card } }"
    query += HEADER_CARD
    slow, fast = await both_over_http(admin, query, {"a": full, "b": bare})
    assert slow == fast and "errors" not in slow
    assert slow["data"]["b"]["opportunity"]["excludedDeals"] == 1
    # An error inside the card (a bad id) answers the same too.
    missing = str(global_id("Contact", 10**9))
    slow, fast = await both_over_http(admin, query, {"a": full, "b": missing})
    assert slow == fast and slow["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_the_readme_example_works(api: Api, acme: Tenant) -> None:
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("### Header and expanded profile") :]
    example = section[section.index("```graphql") + len("```graphql") : section.index("```\n", 20)]
    admin = api.as_(acme.admin_key)
    contact_id = await contact(admin)
    await deal(admin, contact_id, "1000", likelihood=60, closeDate="2027-01-31")
    result = (await admin.data(example.replace("Q29udGFjdDox", contact_id)))["updateContact"]
    assert result["leadSource"] == "Referral" and result["profile"]["maritalStatus"] == "MARRIED"
    assert (
        result["opportunity"]["likelihood"] == 60 and result["profile"]["netWorth"]["amount"] == "250000.00"
    )


async def test_a_merge_fills_the_primarys_empty_header_and_moves_a_lone_profile(
    api: Api, acme: Tenant
) -> None:
    admin = api.as_(acme.admin_key)
    primary = await contact(admin, leadSource="Phone")
    duplicate = await contact(admin, leadSource="Website", salesCycle="Closing")
    await admin.data(UPDATE_PROFILE, {"i": {"id": duplicate, "profile": {"occupation": "Baker"}}})
    merge = """mutation($i: MergeContactsInput!) {
      mergeContacts(input: $i) { contact { leadSource salesCycle profile { occupation } } }
    }"""
    merged = await admin.data(merge, {"i": {"primaryId": primary, "duplicateIds": [duplicate]}})
    # The primary keeps its own lead source, takes the sales cycle it lacked, and the profile.
    assert merged["mergeContacts"]["contact"] == {
        "leadSource": "Phone", "salesCycle": "Closing", "profile": {"occupation": "Baker"}
    }  # fmt: skip


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"gender": "ROBOT"}, "gender"),
        ({"education": "PHD"}, "education"),
        ({"homeOwnerStatus": 1}, "homeOwnerStatus"),
        ({"children": "yes"}, "children"),
        ({"lengthOfResidence": True}, "lengthOfResidence"),
        ({"birthDate": "1990-02-30"}, "birthDate"),
        ({"anniversary2": {"label": "no date"}}, "anniversary2"),
        ({"netWorth": {"currency": "USD"}}, "netWorth"),
        ({"shoeSize": 9}, "profile"),
    ],
)
def test_the_service_refuses_what_the_schema_would(values: dict[str, Any], field: str) -> None:
    """crm.services.profile validates on its own (callers other than GraphQL: the demo, imports)."""
    from crm.errors import BadInput
    from crm.services.profile import clean_profile

    with pytest.raises(BadInput) as raised:
        clean_profile(values, "USD")
    assert raised.value.field == field and field in raised.value.message


async def test_a_duplicated_card_keeps_its_header(api: Api, acme: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    source = await contact(admin, leadSource="Referral", actionPlan="Nurture")
    duplicate = """mutation($i: DuplicateContactInput!) {
      duplicateContact(input: $i) { contact { id leadSource actionPlan salesCycle } }
    }"""
    copy = (await admin.data(duplicate, {"i": {"id": source}}))["duplicateContact"]["contact"]
    assert (copy["leadSource"], copy["actionPlan"], copy["salesCycle"]) == ("Referral", "Nurture", None)
    entry = (await card(admin, copy["id"]))["journey"]["nodes"][-1]
    assert entry["kind"] == "CONTACT_DUPLICATED" and changes_of(entry)["leadSource"] == [None, "Referral"]
