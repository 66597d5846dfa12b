"""Tenant isolation: one account never sees or changes another's data; API keys authenticate."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.services import accounts
from tests.conftest import Api, Tenant

FULL_CARD = """
  id firstName lastName email phone status subStatus convertedAt updatedAt displayName
  address { city country }
  setterOwner { id name } closerOwner { id name } assignedTo { id name }
  tags { id name }
  utms { source } formAnswers { question answer }
  calls { id eventName scheduledAt status outcome cancelledAt rescheduleCount updatedAt }
  deals { id productName amount currency status recurring updatedAt }
  notes { id body updatedAt }
  journey(first: 100) { totalCount nodes { id kind summary changes { field before after } } }
"""
CARD = f"query($id: ID!) {{ contact(id: $id) {{ {FULL_CARD} }} }}"
ACCOUNT_STATE = f"""
{{
  viewer {{ user {{ id name }} account {{ name statuses {{ name }} convertedCount tags {{ id name }} }} }}
  users {{ id name email role }}
  contacts(first: 100) {{ totalCount nodes {{ {FULL_CARD} }} }}
}}
"""
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


def gid(type_name: str, number: int) -> str:
    return base64.b64encode(f"{type_name}:{number}".encode()).decode()


def future(days: int = 3) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


async def seed(api: Api, tenant: Tenant, person: str) -> dict[str, str]:
    """A contact with a call, a deal, a note, a tag and an owner; returns every global id involved."""
    admin = api.as_(tenant.admin_key)
    first, last = person.split()
    created = await admin.data(
        "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }",
        {
            "input": {
                "firstName": first,
                "lastName": last,
                "email": f"{first.lower()}@{tenant.name.lower()}.example.com",
                "phone": "+14155550123",
            }
        },
    )
    contact = created["createContact"]["id"]
    call = await admin.data(
        "mutation($input: ScheduleCallInput!) { scheduleCall(input: $input) { id } }",
        {"input": {"contactId": contact, "scheduledAt": future(), "eventName": f"{tenant.name} demo"}},
    )
    deal = await admin.data(
        "mutation($input: AddDealInput!) { addDeal(input: $input) { id } }",
        {
            "input": {
                "contactId": contact,
                "productName": f"{tenant.name} plan",
                "amount": "1200.00",
                "currency": "USD",
                "paymentType": "ONE_TIME",
            }
        },
    )
    note = await admin.data(
        "mutation($input: AddNoteInput!) { addNote(input: $input) { id } }",
        {"input": {"contactId": contact, "body": f"<b>{tenant.name}</b> secret plans"}},
    )
    users = {u["role"].lower(): u["id"] for u in (await admin.data("{ users { id role } }"))["users"]}
    tagged = await admin.data(
        "mutation($input: TagInput!) { addTag(input: $input) { tags { id } } }",
        {"input": {"contactId": contact, "name": f"{tenant.name} VIP"}},
    )
    await admin.data(
        "mutation($input: AssignOwnersInput!) { assignOwners(input: $input) { id } }",
        {"input": {"contactId": contact, "assignedToId": users["rep"]}},
    )
    journey = await admin.data(
        "query($id: ID!) { contact(id: $id) { journey(first: 1) { nodes { id } } } }", {"id": contact}
    )
    return {
        "Contact": contact,
        "Call": call["scheduleCall"]["id"],
        "Deal": deal["addDeal"]["id"],
        "Note": note["addNote"]["id"],
        "Tag": tagged["addTag"]["tags"][0]["id"],
        "JourneyEvent": journey["contact"]["journey"]["nodes"][0]["id"],
        "User": users["rep"],
        "admin": users["admin"],
        "manager": users["manager"],
        "tagName": f"{tenant.name} VIP",
    }


@pytest.fixture
async def world(api: Api, acme: Tenant, globex: Tenant) -> dict[str, dict[str, str]]:
    return {"acme": await seed(api, acme, "Ada Lovelace"), "globex": await seed(api, globex, "Grace Hopper")}


# --------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------

NODE_TYPES = ("Contact", "Call", "Deal", "Note", "User", "Tag", "JourneyEvent")


async def test_node_returns_own_objects_and_never_another_accounts(
    api: Api, acme: Tenant, globex: Tenant, world: dict[str, dict[str, str]]
) -> None:
    for tenant, own, other in (
        (acme, world["acme"], world["globex"]),
        (globex, world["globex"], world["acme"]),
    ):
        for type_name in NODE_TYPES:
            found = await api.data(NODE, {"id": own[type_name]}, key=tenant.admin_key)
            assert found["node"] == {"__typename": type_name, "id": own[type_name]}

            error = await api.error(NODE, {"id": other[type_name]}, key=tenant.admin_key)
            assert error["extensions"]["code"] == "NOT_FOUND", (tenant.name, type_name, error)
            assert "in this account" in error["message"]


async def test_contact_of_another_account_is_not_found(
    api: Api, acme: Tenant, globex: Tenant, world: dict[str, dict[str, str]]
) -> None:
    error = await api.error(CARD, {"id": world["globex"]["Contact"]}, key=acme.admin_key)
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "Grace" not in str(error)
    # Every role sees the same boundary.
    for key in (acme.manager_key, acme.rep_key):
        assert (await api.error(CARD, {"id": world["globex"]["Contact"]}, key=key))["extensions"][
            "code"
        ] == "NOT_FOUND"
    own = await api.data(CARD, {"id": world["acme"]["Contact"]}, key=acme.rep_key)
    assert own["contact"]["displayName"] == "Ada Lovelace"


async def test_lists_hold_only_the_callers_rows(
    api: Api, acme: Tenant, globex: Tenant, world: dict[str, dict[str, str]]
) -> None:
    state = await api.data(ACCOUNT_STATE, key=acme.admin_key)
    assert state["contacts"]["totalCount"] == 1
    (contact,) = state["contacts"]["nodes"]
    assert contact["displayName"] == "Ada Lovelace"
    assert [c["eventName"] for c in contact["calls"]] == ["Acme demo"]
    assert [d["productName"] for d in contact["deals"]] == ["Acme plan"]
    assert [n["body"] for n in contact["notes"]] == ["<b>Acme</b> secret plans"]
    assert [t["name"] for t in contact["tags"]] == ["Acme VIP"]
    assert "Globex" not in str(contact["journey"])

    assert state["viewer"]["user"] == {"id": world["acme"]["admin"], "name": "Acme Admin"}
    assert state["viewer"]["account"]["name"] == "Acme"
    assert [t["name"] for t in state["viewer"]["account"]["tags"]] == ["Acme VIP"]
    assert state["users"] == [
        {
            "id": world["acme"]["admin"],
            "name": "Acme Admin",
            "email": "admin@acme.example.com",
            "role": "ADMIN",
        },
        {
            "id": world["acme"]["manager"],
            "name": "Acme Manager",
            "email": "manager@acme.example.com",
            "role": "MANAGER",
        },
        {"id": world["acme"]["User"], "name": "Acme Rep", "email": "rep@acme.example.com", "role": "REP"},
    ]

    # A search that matches the other account's contact finds nothing; phone digits match only our own.
    search = "query($s: String) { contacts(search: $s) { totalCount nodes { displayName } } }"
    assert (await api.data(search, {"s": "grace"}, key=acme.admin_key))["contacts"]["totalCount"] == 0
    assert (await api.data(search, {"s": "globex"}, key=acme.admin_key))["contacts"]["totalCount"] == 0
    by_phone = (await api.data(search, {"s": "5550123"}, key=acme.admin_key))["contacts"]
    assert [n["displayName"] for n in by_phone["nodes"]] == ["Ada Lovelace"]

    theirs = await api.data(ACCOUNT_STATE, key=globex.rep_key)
    assert [c["displayName"] for c in theirs["contacts"]["nodes"]] == ["Grace Hopper"]
    assert {u["email"] for u in theirs["users"]} == {
        "admin@globex.example.com",
        "manager@globex.example.com",
        "rep@globex.example.com",
    }
    assert theirs["viewer"]["account"]["name"] == "Globex"


async def test_converted_count_and_status_list_are_per_account(
    api: Api, acme: Tenant, globex: Tenant, world: dict[str, dict[str, str]]
) -> None:
    await api.data(
        'mutation($id: ID!) { setContactStatus(input: {contactId: $id, status: "customer"}) { id } }',
        {"id": world["globex"]["Contact"]},
        key=globex.admin_key,
    )
    await api.data(
        'mutation { setStatusList(input: {statuses: [{name: "lead"}, {name: "won", converts: true}]}) {'
        " name } }",
        key=acme.admin_key,
    )
    account = "{ viewer { account { convertedCount statuses { name } } } }"
    ours = (await api.data(account, key=acme.admin_key))["viewer"]["account"]
    theirs = (await api.data(account, key=globex.admin_key))["viewer"]["account"]
    assert ours == {"convertedCount": 0, "statuses": [{"name": "lead"}, {"name": "won"}]}
    assert theirs["convertedCount"] == 1
    assert [s["name"] for s in theirs["statuses"]] == ["lead", "contacted", "qualified", "customer", "lost"]


# --------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------


def foreign_mutations(other: dict[str, str], own: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every mutation, aimed at the other account's records (or at its users, from our contact)."""
    contact, call, deal, note = other["Contact"], other["Call"], other["Deal"], other["Note"]
    return [
        ("updateContact", "UpdateContactInput", {"id": contact, "firstName": "Hacked"}),
        ("setContactStatus", "SetContactStatusInput", {"contactId": contact, "status": "lost"}),
        ("assignOwners", "AssignOwnersInput", {"contactId": contact, "assignedToId": own["User"]}),
        ("assignOwners", "AssignOwnersInput", {"contactId": contact, "setterOwnerId": None}),
        ("assignOwners", "AssignOwnersInput", {"contactId": own["Contact"], "closerOwnerId": other["User"]}),
        ("addTag", "TagInput", {"contactId": contact, "name": "pwned"}),
        ("removeTag", "TagInput", {"contactId": contact, "name": other["tagName"]}),
        (
            "scheduleCall",
            "ScheduleCallInput",
            {"contactId": contact, "scheduledAt": future(5), "eventName": "Sneaky call"},
        ),
        ("rescheduleCall", "RescheduleCallInput", {"id": call, "scheduledAt": future(9)}),
        ("cancelCall", "CancelCallInput", {"id": call, "reason": "mischief"}),
        ("setCallOutcome", "SetCallOutcomeInput", {"id": call, "outcome": "SPOKE"}),
        (
            "addDeal",
            "AddDealInput",
            {
                "contactId": contact,
                "productName": "Stolen",
                "amount": "1",
                "currency": "USD",
                "paymentType": "ONE_TIME",
            },
        ),
        ("updateDeal", "UpdateDealInput", {"id": deal, "status": "LOST"}),
        ("addNote", "AddNoteInput", {"contactId": contact, "body": "hello from the other side"}),
        ("editNote", "EditNoteInput", {"id": note, "body": "rewritten"}),
        ("deleteNote", "DeleteNoteInput", {"id": note}),
    ]


async def test_every_mutation_on_another_accounts_records_is_not_found_and_changes_nothing(
    api: Api, acme: Tenant, globex: Tenant, world: dict[str, dict[str, str]]
) -> None:
    for tenant, victim, own, other in (
        (acme, globex, world["acme"], world["globex"]),
        (globex, acme, world["globex"], world["acme"]),
    ):
        victim_before = await api.data(ACCOUNT_STATE, key=victim.admin_key)
        own_before = await api.data(ACCOUNT_STATE, key=tenant.admin_key)
        for mutation, input_type, values in foreign_mutations(other, own):
            query = f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ __typename }} }}"
            body = await api.post(query, {"input": values}, key=tenant.admin_key)
            assert body.get("data") is None, (mutation, values, body)
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "NOT_FOUND", (tenant.name, mutation, values, error)
            assert "in this account" in error["message"], (mutation, error)
        # The victim sees exactly what it had, and the caller's own account did not change either.
        assert await api.data(ACCOUNT_STATE, key=victim.admin_key) == victim_before
        assert await api.data(ACCOUNT_STATE, key=tenant.admin_key) == own_before


async def test_same_tag_names_stay_separate_per_account(
    api: Api, acme: Tenant, globex: Tenant, world: dict[str, dict[str, str]]
) -> None:
    add = "mutation($input: TagInput!) { addTag(input: $input) { tags { id name } } }"
    ours = await api.data(
        add, {"input": {"contactId": world["acme"]["Contact"], "name": "shared"}}, key=acme.admin_key
    )
    theirs = await api.data(
        add, {"input": {"contactId": world["globex"]["Contact"], "name": "SHARED"}}, key=globex.admin_key
    )
    our_tag = next(t for t in ours["addTag"]["tags"] if t["name"] == "shared")
    their_tag = next(t for t in theirs["addTag"]["tags"] if t["name"] == "SHARED")  # not acme's spelling
    assert our_tag["id"] != their_tag["id"]
    assert (await api.error(NODE, {"id": their_tag["id"]}, key=acme.admin_key))["extensions"][
        "code"
    ] == "NOT_FOUND"

    # Removing our tag leaves theirs alone.
    remove = "mutation($input: TagInput!) { removeTag(input: $input) { tags { name } } }"
    await api.data(
        remove, {"input": {"contactId": world["acme"]["Contact"], "name": "Shared"}}, key=acme.admin_key
    )
    card = await api.data(CARD, {"id": world["globex"]["Contact"]}, key=globex.admin_key)
    assert sorted(t["name"] for t in card["contact"]["tags"]) == ["Globex VIP", "SHARED"]


# --------------------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------------------


async def raw(api: Api, headers: dict[str, str], query: str = "{ viewer { user { name } } }") -> Any:
    return await api.client.post("/graphql", json={"query": query}, headers=headers)


async def test_requests_without_a_valid_key_get_401(api: Api, acme: Tenant) -> None:
    create = 'mutation { createContact(input: {firstName: "Intruder"}) { id } }'
    for headers in (
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer dsk_not-a-real-key"},
        {"Authorization": "Bearer not-even-our-format"},
        {"Authorization": f"Basic {acme.admin_key}"},
        {"Authorization": f"Bearer {acme.admin_key}x"},
    ):
        for query in ("{ viewer { user { name } } }", create):
            response = await raw(api, headers, query)
            assert response.status_code == 401, (headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            body = response.json()
            assert body["data"] is None
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "UNAUTHENTICATED"
            assert "API key" in error["message"]
    # GET operations need a key too.
    response = await api.client.get("/graphql", params={"query": "{ viewer { user { name } } }"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    # None of the refused createContact calls left a contact behind.
    count = await api.data("{ contacts { totalCount } }", key=acme.admin_key)
    assert count["contacts"]["totalCount"] == 0


async def test_a_revoked_key_stops_working_and_others_keep_working(api: Api, acme: Tenant) -> None:
    viewer = "{ viewer { user { name role } } }"
    assert (await api.data(viewer, key=acme.rep_key))["viewer"]["user"] == {"name": "Acme Rep", "role": "REP"}

    assert await accounts.revoke_api_keys(acme.user_ids["rep"]) == 1
    response = await raw(api, {"Authorization": f"Bearer {acme.rep_key}"}, viewer)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "revoked" in response.json()["errors"][0]["message"]

    assert (await api.data(viewer, key=acme.manager_key))["viewer"]["user"]["name"] == "Acme Manager"
    # A new key for the same user works again.
    fresh = await accounts.issue_api_key(acme.user_ids["rep"], "replacement")
    assert (await api.data(viewer, key=fresh))["viewer"]["user"]["name"] == "Acme Rep"
    assert (await raw(api, {"Authorization": f"Bearer {acme.rep_key}"}, viewer)).status_code == 401


async def test_users_lists_the_accounts_users_with_roles(api: Api, acme: Tenant, globex: Tenant) -> None:
    for tenant in (acme, globex):
        for key in (tenant.admin_key, tenant.manager_key, tenant.rep_key):
            users = (await api.data("{ users { name email role } }", key=key))["users"]
            domain = f"{tenant.name.lower()}.example.com"
            assert users == [
                {"name": f"{tenant.name} Admin", "email": f"admin@{domain}", "role": "ADMIN"},
                {"name": f"{tenant.name} Manager", "email": f"manager@{domain}", "role": "MANAGER"},
                {"name": f"{tenant.name} Rep", "email": f"rep@{domain}", "role": "REP"},
            ]
