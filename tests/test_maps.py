"""Maps and click-to-call (C5, C6): card links, and property facts from an HTTP provider.

The property provider is a fake served by uvicorn on 127.0.0.1, so the plugin's real httpx
path runs; its answers are cached per normalised address in the property_facts table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from crm.clock import utcnow
from crm.contracts import CardAddress
from crm.models import PropertyFacts
from plugins.host import PluginHost
from plugins.maps import MapsPlugin, MapsSettingError
from plugins.maps.property import address_key
from tests.conftest import Api, AppFactory, make_tenant
from tests.fakes.property_api import FakePropertyApi
from tests.fakes.smtp import free_port

CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
CONSENT = "mutation($input: SetSmsConsentInput!) { setSmsConsent(input: $input) { okToSms } }"
CARD = """
query($id: ID!) {
  contact(id: $id) {
    firstName
    phone
    links { kind label url plugin }
    property { estimate currency beds baths yearBuilt squareFeet url source }
  }
}
"""
HOME = {"street": "123 Main St", "city": "Springfield", "state": "IL", "zip": "62704", "country": "US"}
DIRECTIONS = (
    "https://www.google.com/maps/dir/?api=1&destination=123+Main+St%2C+Springfield%2C+IL%2C+62704%2C+US"
)
ZILLOW = "https://www.zillow.com/homes/123-Main-St,-Springfield,-IL-62704_rb/"


class Maps:
    def __init__(self, api: Api, key: str) -> None:
        self.api = api.as_(key)

    async def contact(self, *, ok_to_sms: bool = False, **fields: Any) -> str:
        values = {"firstName": "Ann", "email": "ann@example.com", "phone": "+14155550123", "address": HOME}
        values.update(fields)
        contact_id = str((await self.api.data(CREATE, {"input": values}))["createContact"]["id"])
        if ok_to_sms:
            await self.api.data(CONSENT, {"input": {"contactId": contact_id, "okToSms": True}})
        return contact_id

    async def card(self, contact_id: str) -> dict[str, Any]:
        body = await self.api.post(CARD, {"id": contact_id})
        assert not body.get("errors"), body["errors"]  # a broken provider never breaks the card
        return dict(body["data"]["contact"])

    async def links(self, contact_id: str) -> dict[str, str]:
        card = await self.card(contact_id)
        return {link["kind"]: link["url"] for link in card["links"] if link["plugin"] == "maps"}


async def start(running_app: AppFactory, env: dict[str, str] | None = None) -> AsyncIterator[Maps]:
    async with running_app(env=env or {}) as api:
        tenant = await make_tenant("Acme")
        yield Maps(api, tenant.admin_key)


@pytest.fixture
async def maps(running_app: AppFactory) -> AsyncIterator[Maps]:
    async for started in start(running_app):
        yield started


@pytest.fixture
def provider() -> Iterator[FakePropertyApi]:
    with FakePropertyApi() as fake:
        yield fake


@pytest.fixture
async def with_facts(running_app: AppFactory, provider: FakePropertyApi) -> AsyncIterator[Maps]:
    env = {"DOSSIER_PROPERTY_DATA_URL": provider.url, "DOSSIER_PROPERTY_DATA_KEY": "pk_test_123"}
    async for started in start(running_app, env):
        yield started


# --------------------------------------------------------------------------------------
# Links
# --------------------------------------------------------------------------------------


async def test_full_card_gets_every_link(maps: Maps) -> None:
    contact = await maps.contact(ok_to_sms=True)
    card = await maps.card(contact)

    assert [(link["kind"], link["plugin"]) for link in card["links"]] == [
        ("DIRECTIONS", "maps"),
        ("PROPERTY", "maps"),
        ("CALL", "maps"),
        ("SMS", "maps"),
        ("EMAIL", "maps"),
    ]
    urls = {link["kind"]: link["url"] for link in card["links"]}
    assert urls == {
        "DIRECTIONS": DIRECTIONS,
        "PROPERTY": ZILLOW,
        "CALL": "tel:+14155550123",
        "SMS": "sms:+14155550123",
        "EMAIL": "mailto:ann@example.com",
    }
    labels = {link["kind"]: link["label"] for link in card["links"]}
    assert labels["CALL"] == "Call +14155550123"
    assert labels["PROPERTY"] == "Property on Zillow"
    assert card["property"] is None  # no property provider configured


async def test_no_sms_link_without_consent(maps: Maps) -> None:
    contact = await maps.contact(ok_to_sms=False)
    links = await maps.links(contact)
    assert set(links) == {"DIRECTIONS", "PROPERTY", "CALL", "EMAIL"}
    assert links["CALL"] == "tel:+14155550123"


async def test_only_links_whose_data_exist(maps: Maps) -> None:
    no_address = await maps.contact(address=None, ok_to_sms=True)
    assert set(await maps.links(no_address)) == {"CALL", "SMS", "EMAIL"}

    city_only = await maps.contact(address={"city": "Springfield", "state": "IL"}, email=None, phone=None)
    assert await maps.links(city_only) == {
        "DIRECTIONS": "https://www.google.com/maps/dir/?api=1&destination=Springfield%2C+IL"
    }

    abroad = await maps.contact(address={"street": "10 Downing St", "city": "London", "country": "GB"})
    assert set(await maps.links(abroad)) == {"DIRECTIONS", "CALL", "EMAIL"}  # Zillow lists US homes only

    nothing = await maps.contact(firstName="Bo", address=None, email=None, phone=None)
    assert (await maps.card(nothing))["links"] == []


async def test_addresses_with_special_characters_are_encoded(maps: Maps) -> None:
    street, city = "1 Café Ln #4 & Rear", "Sainte-Geneviève"
    address = {"street": street, "city": city, "state": "MO", "zip": "63670"}
    contact = await maps.contact(address=address, email="ann+crm@example.com", ok_to_sms=True)
    links = await maps.links(contact)

    directions = urlsplit(links["DIRECTIONS"])
    assert directions.fragment == ""  # '#' did not cut the URL
    assert links["DIRECTIONS"].isascii()
    query = parse_qs(directions.query)
    assert query == {"api": ["1"], "destination": [f"{street}, {city}, MO, 63670"]}

    assert links["PROPERTY"] == (
        "https://www.zillow.com/homes/1-Caf%C3%A9-Ln-%234-%26-Rear,-Sainte-Genevi%C3%A8ve,-MO-63670_rb/"
    )
    assert unquote(urlsplit(links["PROPERTY"]).path) == (
        "/homes/1-Café-Ln-#4-&-Rear,-Sainte-Geneviève,-MO-63670_rb/"
    )
    assert links["EMAIL"] == "mailto:ann+crm@example.com"


async def test_links_cost_no_sql_per_contact(maps: Maps, count_statements: Any) -> None:
    for n in range(20):
        await maps.contact(firstName=f"Ann{n}", email=f"ann{n}@example.com", phone=None, ok_to_sms=False)
    plain = "{ contacts(first: 50) { nodes { id firstName } } }"
    with_links = "{ contacts(first: 50) { nodes { id firstName links { kind url } } } }"

    with count_statements() as without:
        data = await maps.api.data(plain)
    with count_statements() as linked:
        linked_data = await maps.api.data(with_links)

    assert len(data["contacts"]["nodes"]) == 20
    assert all(len(node["links"]) == 3 for node in linked_data["contacts"]["nodes"])
    assert linked.count == without.count


# --------------------------------------------------------------------------------------
# Property facts
# --------------------------------------------------------------------------------------


async def test_property_facts_from_the_provider(with_facts: Maps, provider: FakePropertyApi) -> None:
    contact = await with_facts.contact()
    card = await with_facts.card(contact)

    assert card["property"] == {
        "estimate": "412000",
        "currency": "USD",
        "beds": 3.0,
        "baths": 2.5,
        "yearBuilt": 1987,
        "squareFeet": 1850,
        "url": "https://props.example.com/123-main",
        "source": "127.0.0.1",
    }
    [request] = provider.requests
    assert request.address == "123 Main St, Springfield, IL, 62704, US"
    assert request.authorization == "Bearer pk_test_123"
    assert {link["kind"] for link in card["links"]} >= {"DIRECTIONS", "PROPERTY"}


async def test_second_query_is_served_from_the_cache(with_facts: Maps, provider: FakePropertyApi) -> None:
    provider.facts = {"estimate": "1250000.50", "currency": "usd", "beds": 5, "source": "Acme Data"}
    first = await with_facts.contact()
    # The same address typed differently is the same property.
    same = {"street": "123  main st.", "city": "SPRINGFIELD", "state": "il", "zip": "62704", "country": "US"}
    second = await with_facts.contact(firstName="Bob", address=same)

    answers = [(await with_facts.card(c))["property"] for c in (first, first, second)]

    assert len(provider.requests) == 1
    expected = {
        "estimate": "1250000.50",
        "currency": "USD",
        "beds": 5.0,
        "baths": None,
        "yearBuilt": None,
        "squareFeet": None,
        "url": None,
        "source": "Acme Data",
    }
    assert answers == [expected, expected, expected]


async def test_cache_expires(running_app: AppFactory, provider: FakePropertyApi) -> None:
    env = {"DOSSIER_PROPERTY_DATA_URL": provider.url, "DOSSIER_PROPERTY_CACHE_SECONDS": "3600"}
    async for maps in start(running_app, env):
        contact = await maps.contact()
        await maps.card(contact)
        await PropertyFacts.all().update(fetched_at=utcnow() - timedelta(hours=2))
        provider.facts = {"estimate": 500000}

        assert (await maps.card(contact))["property"]["estimate"] == "500000"
        assert len(provider.requests) == 2
        await maps.card(contact)
        assert len(provider.requests) == 2


async def test_cache_can_be_turned_off(running_app: AppFactory, provider: FakePropertyApi) -> None:
    env = {"DOSSIER_PROPERTY_DATA_URL": provider.url, "DOSSIER_PROPERTY_CACHE_SECONDS": "0"}
    async for maps in start(running_app, env):
        contact = await maps.contact()
        await maps.card(contact)
        await maps.card(contact)
        assert len(provider.requests) == 2
        assert await PropertyFacts.all().count() == 0


async def test_unknown_property_is_null_and_remembered(with_facts: Maps, provider: FakePropertyApi) -> None:
    provider.status, provider.facts = 404, {"error": "no such property"}
    contact = await with_facts.contact()
    assert (await with_facts.card(contact))["property"] is None
    assert (await with_facts.card(contact))["property"] is None
    assert len(provider.requests) == 1


async def test_no_address_asks_no_provider(with_facts: Maps, provider: FakePropertyApi) -> None:
    no_address = await with_facts.contact(address=None)
    city_only = await with_facts.contact(address={"city": "Springfield", "state": "IL"})
    for contact in (no_address, city_only):
        assert (await with_facts.card(contact))["property"] is None
    assert provider.requests == []


@pytest.mark.parametrize(
    ("status", "raw_body"),
    [
        (500, None),
        (503, '{"estimate": 1}'),
        (200, "<html>not json</html>"),
        (200, '{"beds": "three"}'),
        (200, "[1, 2, 3]"),
        (200, '{"currency": "dollars"}'),
    ],
    ids=["500", "503", "not-json", "wrong-type", "not-an-object", "bad-currency"],
)
async def test_bad_provider_answers_leave_the_card_intact(
    with_facts: Maps, provider: FakePropertyApi, status: int, raw_body: str | None
) -> None:
    provider.status, provider.raw_body = status, raw_body
    contact = await with_facts.contact(ok_to_sms=True)

    card = await with_facts.card(contact)
    assert card["property"] is None
    assert card["firstName"] == "Ann"
    assert len(card["links"]) == 5

    # Failures are not cached: once the provider is fixed the facts appear.
    provider.status, provider.raw_body = 200, None
    assert (await with_facts.card(contact))["property"]["beds"] == 3.0
    assert len(provider.requests) == 2


async def test_provider_not_listening_leaves_the_card_intact(running_app: AppFactory) -> None:
    env = {"DOSSIER_PROPERTY_DATA_URL": f"http://127.0.0.1:{free_port()}/v1/property"}
    async for maps in start(running_app, env):
        contact = await maps.contact(ok_to_sms=True)
        card = await maps.card(contact)
        assert card["property"] is None
        assert len(card["links"]) == 5


async def test_slow_provider_times_out(running_app: AppFactory, provider: FakePropertyApi) -> None:
    provider.hang = True
    env = {"DOSSIER_PROPERTY_DATA_URL": provider.url, "DOSSIER_PROPERTY_TIMEOUT": "0.2"}
    async for maps in start(running_app, env):
        contact = await maps.contact()
        card = await maps.card(contact)
        assert card["property"] is None
        assert len(card["links"]) == 4
        assert len(provider.requests) == 1


async def test_unsafe_urls_from_the_provider_are_dropped(with_facts: Maps, provider: FakePropertyApi) -> None:
    provider.facts = {"beds": 2, "url": "javascript:alert(1)"}
    contact = await with_facts.contact()
    facts = (await with_facts.card(contact))["property"]
    assert facts["beds"] == 2.0 and facts["url"] is None


async def test_a_page_of_cards_reads_the_cache_in_one_query(
    with_facts: Maps, provider: FakePropertyApi, count_statements: Any
) -> None:
    for n in range(20):
        address = {**HOME, "street": f"{100 + n} Main St"}
        await with_facts.contact(firstName=f"Ann{n}", address=address, email=f"a{n}@example.com")
    query = "query($n: Int!) { contacts(first: $n) { nodes { id property { beds } } } }"
    cold = await with_facts.api.data(query, {"n": 50})  # fills the cache: one request per address
    assert len(provider.requests) == 20
    assert all(node["property"] == {"beds": 3.0} for node in cold["contacts"]["nodes"])

    with count_statements() as two:
        await with_facts.api.data(query, {"n": 2})
    with count_statements() as twenty:
        warm = await with_facts.api.data(query, {"n": 20})

    assert len(provider.requests) == 20  # all from the cache
    assert all(node["property"] == {"beds": 3.0} for node in warm["contacts"]["nodes"])
    assert twenty.count == two.count


# --------------------------------------------------------------------------------------
# The plugin on its own
# --------------------------------------------------------------------------------------


def _started(**env: str) -> MapsPlugin:
    plugin = MapsPlugin()
    host = PluginHost(env={f"DOSSIER_{k}": v for k, v in env.items()}, http=httpx.AsyncClient(), pm=None)  # type: ignore[arg-type]
    plugin.startup(host)
    return plugin


def test_capabilities() -> None:
    assert _started().capabilities() == ["maps"]
    assert _started(PROPERTY_DATA_URL="https://props.example.com/v1").capabilities() == [
        "maps",
        "property_data",
    ]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PROPERTY_DATA_URL": "props.example.com"}, "DOSSIER_PROPERTY_DATA_URL"),
        ({"PROPERTY_DATA_URL": "ftp://props.example.com"}, "DOSSIER_PROPERTY_DATA_URL"),
        ({"PROPERTY_CACHE_SECONDS": "a week"}, "DOSSIER_PROPERTY_CACHE_SECONDS"),
        ({"PROPERTY_CACHE_SECONDS": "-5"}, "DOSSIER_PROPERTY_CACHE_SECONDS"),
        ({"PROPERTY_TIMEOUT": "0"}, "DOSSIER_PROPERTY_TIMEOUT"),
    ],
)
def test_malformed_settings_fail_at_start_up_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(MapsSettingError, match=variable):
        _started(**env)


def test_address_key_ignores_case_spacing_and_dots() -> None:
    def key(street: str, city: str) -> str:
        return address_key(CardAddress(street, city, "IL", "62704", "US"))

    assert key("123 Main St.", "Springfield") == key(" 123  MAIN st ", "springfield")
    assert key("123 Main St", "Springfield") != key("125 Main St", "Springfield")
    assert len(key("9" * 500, "Springfield")) <= 400
