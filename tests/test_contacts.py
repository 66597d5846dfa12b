"""Contact identity: createContact, updateContact, and the contacts list (pagination, search)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from graph.resolvers import queries
from tests.conftest import Api, Tenant

CARD = """
    id firstName lastName businessName title contactType email secondaryEmail phone secondaryPhone
    ipAddress status subStatus convertedAt displayName updatedAt
    address { street city state zip country }
    utms { source medium campaign term content capturedAt }
    formAnswers { question answer form answeredAt }
    journey(first: 50) {
      totalCount
      nodes { kind summary actor { kind name user { id } } changes { field before after } }
    }
"""
CREATE = f"mutation($input: CreateContactInput!) {{ createContact(input: $input) {{ {CARD} }} }}"
UPDATE = f"mutation($input: UpdateContactInput!) {{ updateContact(input: $input) {{ {CARD} }} }}"
GET = f"query($id: ID!) {{ contact(id: $id) {{ {CARD} }} }}"
COUNT = "{ contacts { totalCount } }"
LIST = """
query($first: Int!, $after: String, $search: String) {
  contacts(first: $first, after: $after, search: $search) {
    totalCount
    edges { cursor node { id displayName } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def gid(type_name: str, number: int | str) -> str:
    return base64.b64encode(f"{type_name}:{number}".encode()).decode()


def changes_of(event: dict[str, Any]) -> dict[str, list[Any]]:
    return {c["field"]: [c["before"], c["after"]] for c in event["changes"]}


async def create(api: Api, **fields: Any) -> dict[str, Any]:
    return (await api.data(CREATE, {"input": fields}))["createContact"]


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(GET, {"id": contact_id}))["contact"]


async def total(api: Api) -> int:
    return (await api.data(COUNT))["contacts"]["totalCount"]


# --------------------------------------------------------------------------------------
# createContact
# --------------------------------------------------------------------------------------

FULL_INPUT = {
    "firstName": "  Ada ",
    "lastName": "Lovelace",
    "businessName": "Analytical Engines Ltd",
    "title": "Founder",
    "contactType": "Prospect",
    "email": "Ada@Example.COM",
    "secondaryEmail": "ada.home@example.org",
    "phone": "(415) 555-0123",
    "secondaryPhone": "+44 20 7946 0958",
    "address": {
        "street": "12 St James's Square",
        "city": "London",
        "state": "Greater London",
        "zip": "SW1Y 4JH",
        "country": "United Kingdom",
    },
    "ipAddress": "203.0.113.7",
    "utm": {"source": "google", "medium": "cpc", "campaign": "spring", "term": "engines", "content": "ad-1"},
    "formAnswers": [
        {"question": "Budget?", "answer": "$10k", "form": "Intake"},
        {"question": "Team size?", "answer": "3"},
    ],
}


async def test_create_contact_stores_every_identity_field_normalised(as_admin: Api, acme: Tenant) -> None:
    contact = await create(as_admin, **FULL_INPUT)

    assert contact["firstName"] == "Ada"  # trimmed
    assert contact["lastName"] == "Lovelace"
    assert contact["businessName"] == "Analytical Engines Ltd"
    assert contact["title"] == "Founder"
    assert contact["contactType"] == "Prospect"
    assert contact["email"] == "Ada@example.com"  # the domain is normalised to lower case
    assert contact["secondaryEmail"] == "ada.home@example.org"
    assert contact["phone"] == "+14155550123"  # national number read in the default region (US)
    assert contact["secondaryPhone"] == "+442079460958"
    assert contact["ipAddress"] == "203.0.113.7"
    assert contact["address"] == {
        "street": "12 St James's Square",
        "city": "London",
        "state": "Greater London",
        "zip": "SW1Y 4JH",
        "country": "GB",
    }
    assert contact["displayName"] == "Ada Lovelace"
    assert contact["status"] == "lead"  # the account's first status
    assert contact["subStatus"] is None
    assert contact["convertedAt"] is None

    # What the mutation returned is what a later read shows, UTMs and form answers included.
    stored = await card(as_admin, contact["id"])
    assert {k: v for k, v in stored.items() if k != "journey"} == {
        k: v for k, v in contact.items() if k != "journey"
    }
    assert [{k: v for k, v in u.items() if k != "capturedAt"} for u in stored["utms"]] == [
        {"source": "google", "medium": "cpc", "campaign": "spring", "term": "engines", "content": "ad-1"}
    ]
    assert stored["utms"][0]["capturedAt"]
    assert [(a["question"], a["answer"], a["form"]) for a in stored["formAnswers"]] == [
        ("Budget?", "$10k", "Intake"),
        ("Team size?", "3", None),
    ]

    journey = stored["journey"]
    assert journey["totalCount"] == 1
    (event,) = journey["nodes"]
    assert event["kind"] == "CONTACT_CREATED"
    assert event["actor"]["kind"] == "USER"
    assert event["actor"]["name"] == "Acme Admin"
    assert event["actor"]["user"] is not None
    assert "Ada Lovelace" in event["summary"]
    assert "Intake" in event["summary"]  # the form the contact came from
    changes = changes_of(event)
    assert changes["firstName"] == [None, "Ada"]
    assert changes["phone"] == [None, "+14155550123"]
    assert changes["secondaryPhone"] == [None, "+442079460958"]
    assert changes["country"] == [None, "GB"]
    assert changes["email"] == [None, "Ada@example.com"]
    assert changes["status"] == [None, "lead"]
    assert all(before is None for before, _ in changes.values())


async def test_actor_user_of_journey_entry_is_the_caller(as_admin: Api, acme: Tenant) -> None:
    contact = await create(as_admin, email="who@example.com")
    viewer = await as_admin.data("{ viewer { user { id } } }")
    (event,) = contact["journey"]["nodes"]
    assert event["actor"]["user"]["id"] == viewer["viewer"]["user"]["id"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [("DE", "DE"), ("deu", "DE"), ("Germany", "DE"), ("germany", "DE"), ("fr", "FR")],
)
async def test_country_accepts_code_or_name_and_stores_alpha2(
    as_admin: Api, acme: Tenant, given: str, stored: str
) -> None:
    contact = await create(as_admin, firstName="Hans", address={"country": given})
    assert contact["address"]["country"] == stored
    assert (await card(as_admin, contact["id"]))["address"]["country"] == stored


async def test_display_name_falls_back_from_name_to_business_to_email_to_guest(
    as_admin: Api, acme: Tenant
) -> None:
    cases = [
        (
            {"firstName": "Ada", "lastName": "Lovelace", "businessName": "AE", "email": "a@ae.io"},
            "Ada Lovelace",
        ),
        ({"lastName": "Lovelace", "businessName": "AE"}, "Lovelace"),
        ({"firstName": "Ada", "email": "a@example.com"}, "Ada"),
        ({"businessName": "Analytical Engines", "email": "a@example.com"}, "Analytical Engines"),
        ({"email": "only@example.com", "phone": "+14155550123"}, "only@example.com"),
        ({"phone": "+14155550123"}, "Guest"),
    ]
    for fields, expected in cases:
        contact = await create(as_admin, **fields)
        assert contact["displayName"] == expected, fields
        assert (await card(as_admin, contact["id"]))["displayName"] == expected
        assert expected in contact["journey"]["nodes"][0]["summary"]


BAD_CREATE_INPUTS: list[tuple[dict[str, Any], str | None, str]] = [
    ({"firstName": "A", "phone": "12"}, "phone", "phone number"),
    ({"firstName": "A", "phone": "call me maybe"}, "phone", "phone number"),
    ({"firstName": "A", "phone": "+1 415 555 01234567"}, "phone", "phone number"),
    ({"firstName": "A", "secondaryPhone": "000"}, "secondaryPhone", "phone number"),
    ({"firstName": "A", "email": "not-an-email"}, "email", "not a valid email"),
    ({"firstName": "A", "email": "a@@example.com"}, "email", "not a valid email"),
    ({"firstName": "A", "secondaryEmail": "b@"}, "secondaryEmail", "not a valid email"),
    ({"firstName": "A", "ipAddress": "999.1.1.1"}, "ipAddress", "IPv4 or IPv6"),
    ({"firstName": "A", "ipAddress": "localhost"}, "ipAddress", "IPv4 or IPv6"),
    ({"firstName": "A", "address": {"country": "Atlantis"}}, "country", "not a country"),
    ({"firstName": "A", "address": {"country": "XX"}}, "country", "not a country"),
    ({"firstName": "x" * 101}, "firstName", "limit is 100"),
    ({"firstName": "Ada\x00"}, "firstName", "NUL"),  # PostgreSQL cannot store it
    ({"firstName": "A", "address": {"city": "Pa\x00ris"}}, "city", "NUL"),
    ({"firstName": "A", "lastName": "y" * 101}, "lastName", "limit is 100"),
    ({"businessName": "b" * 201}, "businessName", "limit is 200"),
    ({"firstName": "A", "title": "t" * 121}, "title", "limit is 120"),
    ({"firstName": "A", "address": {"zip": "1" * 21}}, "zip", "limit is 20"),
    ({"firstName": "A", "address": {"street": "s" * 201}}, "street", "limit is 200"),
    ({"title": "CEO", "address": {"city": "Paris"}, "ipAddress": "203.0.113.7"}, None, "needs at least"),
    ({"firstName": "   ", "email": ""}, None, "needs at least"),
    ({}, None, "needs at least"),
    (
        {"firstName": "A", "formAnswers": [{"question": f"q{i}", "answer": "a"} for i in range(101)]},
        "formAnswers",
        "at most 100",
    ),
    ({"firstName": "A", "formAnswers": [{"question": "  ", "answer": "a"}]}, "formAnswers.question", "empty"),
    ({"firstName": "A", "utm": {"source": "s" * 201}}, "utm.source", "limit is 200"),
]


async def test_bad_create_input_is_refused_and_creates_nothing(as_admin: Api, acme: Tenant) -> None:
    await create(as_admin, firstName="Existing")
    for fields, field, message in BAD_CREATE_INPUTS:
        error = await as_admin.error(CREATE, {"input": fields})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (fields, error)
        assert error["extensions"].get("field") == field, (fields, error)
        assert message in error["message"], (fields, error)
    assert await total(as_admin) == 1


async def test_exactly_100_form_answers_are_accepted(as_admin: Api, acme: Tenant) -> None:
    answers = [{"question": f"q{i}", "answer": str(i)} for i in range(100)]
    contact = await create(as_admin, firstName="Forms", formAnswers=answers)
    assert len(contact["formAnswers"]) == 100
    assert [(a["question"], a["answer"]) for a in contact["formAnswers"]][-1] == ("q99", "99")


# --------------------------------------------------------------------------------------
# updateContact
# --------------------------------------------------------------------------------------


async def make_ada(api: Api) -> dict[str, Any]:
    return await create(
        api,
        firstName="Ada",
        lastName="Lovelace",
        title="CEO",
        email="ada@example.com",
        phone="+14155550123",
        address={
            "street": "1 Main St",
            "city": "San Francisco",
            "state": "CA",
            "zip": "94105",
            "country": "US",
        },
    )


def without_journey(contact: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in contact.items() if k != "journey"}


async def test_update_changes_only_the_fields_sent(as_admin: Api, acme: Tenant) -> None:
    before = await make_ada(as_admin)
    after = await as_admin.data(
        UPDATE, {"input": {"id": before["id"], "title": "CTO", "phone": "415 555 0199"}}
    )
    after = after["updateContact"]

    assert after["title"] == "CTO"
    assert after["phone"] == "+14155550199"
    untouched = {k: v for k, v in without_journey(before).items() if k not in ("title", "phone", "updatedAt")}
    assert {k: after[k] for k in untouched} == untouched

    journey = (await card(as_admin, before["id"]))["journey"]
    assert journey["totalCount"] == 2
    latest = journey["nodes"][0]
    assert latest["kind"] == "CONTACT_UPDATED"
    assert latest["actor"]["kind"] == "USER"
    assert latest["actor"]["name"] == "Acme Admin"
    assert changes_of(latest) == {"title": ["CEO", "CTO"], "phone": ["+14155550123", "+14155550199"]}


async def test_update_with_null_clears_a_field(as_admin: Api, acme: Tenant) -> None:
    ada = await make_ada(as_admin)
    updated = (await as_admin.data(UPDATE, {"input": {"id": ada["id"], "title": None}}))["updateContact"]
    assert updated["title"] is None
    assert updated["firstName"] == "Ada"
    stored = await card(as_admin, ada["id"])
    assert stored["title"] is None
    assert changes_of(stored["journey"]["nodes"][0]) == {"title": ["CEO", None]}


async def test_address_updates_part_by_part_and_null_clears_it(as_admin: Api, acme: Tenant) -> None:
    ada = await make_ada(as_admin)
    partial = await as_admin.data(
        UPDATE, {"input": {"id": ada["id"], "address": {"city": "Oakland", "zip": "94607"}}}
    )
    assert partial["updateContact"]["address"] == {
        "street": "1 Main St",
        "city": "Oakland",
        "state": "CA",
        "zip": "94607",
        "country": "US",
    }
    assert changes_of(partial["updateContact"]["journey"]["nodes"][0]) == {
        "city": ["San Francisco", "Oakland"],
        "zip": ["94105", "94607"],
    }

    country = await as_admin.data(UPDATE, {"input": {"id": ada["id"], "address": {"country": "Canada"}}})
    assert country["updateContact"]["address"]["country"] == "CA"
    assert country["updateContact"]["address"]["city"] == "Oakland"

    cleared = await as_admin.data(UPDATE, {"input": {"id": ada["id"], "address": None}})
    assert cleared["updateContact"]["address"] is None
    assert changes_of(cleared["updateContact"]["journey"]["nodes"][0]) == {
        "street": ["1 Main St", None],
        "city": ["Oakland", None],
        "state": ["CA", None],
        "zip": ["94607", None],
        "country": ["CA", None],
    }
    assert (await card(as_admin, ada["id"]))["address"] is None


async def test_update_with_unchanged_values_writes_no_journey_entry(as_admin: Api, acme: Tenant) -> None:
    ada = await make_ada(as_admin)
    same = {
        "id": ada["id"],
        "firstName": " Ada ",
        "email": "ada@example.com",
        "phone": "(415) 555-0123",  # the same number in another format
        "address": {"country": "United States"},
    }
    result = (await as_admin.data(UPDATE, {"input": same}))["updateContact"]
    assert without_journey(result) == without_journey(ada)
    assert (await card(as_admin, ada["id"]))["journey"]["totalCount"] == 1

    # An input with nothing but the id changes nothing either.
    await as_admin.data(UPDATE, {"input": {"id": ada["id"]}})
    assert (await card(as_admin, ada["id"]))["journey"]["totalCount"] == 1


async def test_update_with_a_bad_id(as_admin: Api, acme: Tenant) -> None:
    ada = await make_ada(as_admin)
    users = await as_admin.data("{ users { id } }")
    cases = [
        ("not-an-id", "BAD_USER_INPUT", "not a valid Contact id"),
        (gid("Contact", "x"), "BAD_USER_INPUT", "not a valid Contact id"),
        (users["users"][0]["id"], "BAD_USER_INPUT", "is a User id, not a Contact id"),
        (gid("Contact", 999999), "NOT_FOUND", "no contact with id 999999"),
        (gid("Contact", 2**31 - 1), "NOT_FOUND", "no contact with id"),  # the largest id there can be
        (gid("Contact", 2**31), "BAD_USER_INPUT", "not a valid Contact id"),  # beyond the id column
        (gid("Contact", 10**20), "BAD_USER_INPUT", "not a valid Contact id"),
        (gid("Contact", 0), "BAD_USER_INPUT", "not a valid Contact id"),
        (gid("Contact", -3), "BAD_USER_INPUT", "not a valid Contact id"),
    ]
    for contact_id, code, message in cases:
        error = await as_admin.error(UPDATE, {"input": {"id": contact_id, "title": "CTO"}})
        assert error["extensions"]["code"] == code, (contact_id, error)
        assert message in error["message"], (contact_id, error)
    stored = await card(as_admin, ada["id"])
    assert stored["title"] == "CEO"
    assert stored["journey"]["totalCount"] == 1
    assert await total(as_admin) == 1


async def test_update_with_bad_values_changes_nothing(as_admin: Api, acme: Tenant) -> None:
    ada = await make_ada(as_admin)
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"phone": "555"}, "phone"),
        ({"secondaryPhone": "+1 000"}, "secondaryPhone"),
        ({"email": "ada-at-example.com"}, "email"),
        ({"title": "Chief", "email": "nope"}, "email"),  # one bad field spoils the whole update
        ({"address": {"city": "Oakland", "country": "Narnia"}}, "country"),
        ({"ipAddress": "1.2.3"}, "ipAddress"),
        ({"lastName": "L" * 101}, "lastName"),
        # Clearing every identifying field would leave a card nobody can recognise.
        ({"firstName": None, "lastName": None, "email": None, "phone": None}, None),
    ]
    for fields, field in cases:
        error = await as_admin.error(UPDATE, {"input": {"id": ada["id"], **fields}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (fields, error)
        assert error["extensions"].get("field") == field, (fields, error)
    stored = await card(as_admin, ada["id"])
    assert without_journey(stored) == without_journey(ada)
    assert stored["journey"]["totalCount"] == 1


# --------------------------------------------------------------------------------------
# contacts: pagination and search
# --------------------------------------------------------------------------------------


async def test_contacts_are_paged_newest_first_with_cursors(as_admin: Api, acme: Tenant) -> None:
    names = [f"Person{i}" for i in range(5)]
    for name in names:
        await create(as_admin, firstName=name)
    newest_first = list(reversed(names))

    seen: list[str] = []
    after = None
    pages = []
    while True:
        page = (await as_admin.data(LIST, {"first": 2, "after": after}))["contacts"]
        pages.append(page)
        assert page["totalCount"] == 5
        seen += [e["node"]["displayName"] for e in page["edges"]]
        info = page["pageInfo"]
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]
        assert info["hasPreviousPage"] is (after is not None)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == newest_first
    assert [len(p["edges"]) for p in pages] == [2, 2, 1]

    everything = (await as_admin.data(LIST, {"first": 100}))["contacts"]
    assert [e["node"]["displayName"] for e in everything["edges"]] == newest_first
    assert everything["pageInfo"]["hasNextPage"] is False

    # An exact fit: 5 of 5 has no next page.
    exact = (await as_admin.data(LIST, {"first": 5}))["contacts"]
    assert exact["pageInfo"]["hasNextPage"] is False
    beyond = (await as_admin.data(LIST, {"first": 5, "after": exact["pageInfo"]["endCursor"]}))["contacts"]
    assert beyond["edges"] == []
    assert beyond["pageInfo"]["endCursor"] is None


async def test_contacts_search(as_admin: Api, acme: Tenant) -> None:
    await create(as_admin, firstName="Ada", lastName="Lovelace", email="ada@engines.example.com")
    await create(as_admin, firstName="Ada", lastName="Byron", phone="(415) 555-0123")
    await create(as_admin, firstName="Charles", lastName="Babbage", businessName="Difference Co")
    await create(as_admin, email="grace@navy.example.org", phone="+44 20 7946 0958")

    async def found(search: str) -> list[str]:
        page = (await as_admin.data(LIST, {"first": 50, "search": search}))["contacts"]
        names = sorted(e["node"]["displayName"] for e in page["edges"])
        assert page["totalCount"] == len(names)
        return names

    assert await found("ada") == ["Ada Byron", "Ada Lovelace"]
    assert await found("LOVE") == ["Ada Lovelace"]
    assert await found("engines.example") == ["Ada Lovelace"]
    assert await found("difference") == ["Charles Babbage"]
    assert await found("grace@navy") == ["grace@navy.example.org"]
    assert await found("555-0123") == ["Ada Byron"]  # digits compared without punctuation
    assert await found("(415)") == ["Ada Byron"]
    assert await found("7946") == ["grace@navy.example.org"]
    assert await found("Ada Byron") == ["Ada Byron"]  # every word must match
    assert await found("byron ada") == ["Ada Byron"]
    assert await found("Ada Babbage") == []
    assert await found("nobody") == []
    assert await found("   ") == ["Ada Byron", "Ada Lovelace", "Charles Babbage", "grace@navy.example.org"]


async def test_search_pages_with_cursors(as_admin: Api, acme: Tenant) -> None:
    for i in range(3):
        await create(as_admin, firstName=f"Match{i}")
        await create(as_admin, firstName=f"Other{i}")
    first = (await as_admin.data(LIST, {"first": 2, "search": "match"}))["contacts"]
    assert [e["node"]["displayName"] for e in first["edges"]] == ["Match2", "Match1"]
    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (
        await as_admin.data(LIST, {"first": 2, "search": "match", "after": first["pageInfo"]["endCursor"]})
    )["contacts"]
    assert [e["node"]["displayName"] for e in rest["edges"]] == ["Match0"]
    assert rest["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("window", [1, 3, 4, 100])
async def test_search_reads_the_newest_contacts_first_then_the_older_ones(
    as_admin: Api, acme: Tenant, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    """On PostgreSQL a search walks the newest SEARCH_WINDOW contacts, then asks the indexes
    for older matches (graph.resolvers.queries._searched_rows): pages must read as one list
    whatever the window, across its edge and across cursors. (SQLite has one plan.)"""
    monkeypatch.setattr(queries, "SEARCH_WINDOW", window)
    names = ["Match0", "Other0", "Other1", "Match1", "Match2", "Other2", "Other3", "Other4", "Match3"]
    for name in names:
        await create(as_admin, firstName=name)
    expected = [n for n in reversed(names) if n.startswith("Match")]
    for first in (1, 2, 3, 4, 5):
        seen: list[str] = []
        after = None
        while True:
            variables = {"first": first, "search": "match", "after": after}
            page = (await as_admin.data(LIST, variables))["contacts"]
            assert page["totalCount"] == 4
            seen += [e["node"]["displayName"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == expected, (first, seen)
    none = (await as_admin.data(LIST, {"first": 2, "search": "nobody"}))["contacts"]
    assert none["edges"] == [] and none["pageInfo"]["hasNextPage"] is False


async def test_contacts_bad_arguments(as_admin: Api, acme: Tenant) -> None:
    contact = await create(as_admin, firstName="Ada")
    journey_cursor = base64.urlsafe_b64encode(b"journey:1").decode()
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"first": 0}, "first", "between 1 and 100"),
        ({"first": 101}, "first", "between 1 and 100"),
        ({"first": -5}, "first", "between 1 and 100"),
        ({"first": 10, "after": "garbage!"}, "after", "not a cursor"),
        ({"first": 10, "after": journey_cursor}, "after", "not a cursor"),  # a cursor of another list
        ({"first": 10, "after": contact["id"]}, "after", "not a cursor"),
        (
            {"first": 10, "after": base64.urlsafe_b64encode(b"contact:99999999999999999999").decode()},
            "after",
            "not a cursor",
        ),
        ({"first": 10, "search": "x" * 201}, "search", "200 characters"),
    ]
    for variables, field, message in cases:
        error = await as_admin.error(LIST, variables)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (variables, error)
        assert error["extensions"].get("field") == field, (variables, error)
        assert message in error["message"], (variables, error)


async def test_out_of_range_ids_are_bad_input_on_every_read(as_admin: Api, acme: Tenant) -> None:
    contact = await create(as_admin, firstName="Ada")
    for type_name in ("Contact", "User", "Call", "Deal", "Note", "Tag", "JourneyEvent"):
        for number in (2**31, 10**20, 0):
            error = await as_admin.error(
                "query($id: ID!) { node(id: $id) { id } }", {"id": gid(type_name, number)}
            )
            assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}, (
                type_name,
                number,
                error,
            )
            assert "not a valid global id" in error["message"]
    error = await as_admin.error(GET, {"id": gid("Contact", 10**20)})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}
    journey = "query($id: ID!, $after: String) { contact(id: $id) { journey(after: $after) { totalCount } } }"
    huge = base64.urlsafe_b64encode(b"journey:99999999999999999999").decode()
    error = await as_admin.error(journey, {"id": contact["id"], "after": huge})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}
