"""Status (and the account's status list), owners, and tags on a contact card."""

from __future__ import annotations

import base64
from typing import Any

from tests.conftest import Api, Tenant

CARD = """
    id status subStatus convertedAt updatedAt
    setterOwner { id name } closerOwner { id name } assignedTo { id name role }
    tags { id name }
    journey(first: 50) {
      totalCount
      nodes { kind summary subjectType subjectId actor { kind name } changes { field before after } }
    }
"""
CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
GET = f"query($id: ID!) {{ contact(id: $id) {{ {CARD} }} }}"
SET_STATUS = f"mutation($input: SetContactStatusInput!) {{ setContactStatus(input: $input) {{ {CARD} }} }}"
ASSIGN = f"mutation($input: AssignOwnersInput!) {{ assignOwners(input: $input) {{ {CARD} }} }}"
ADD_TAG = f"mutation($input: TagInput!) {{ addTag(input: $input) {{ {CARD} }} }}"
REMOVE_TAG = f"mutation($input: TagInput!) {{ removeTag(input: $input) {{ {CARD} }} }}"
SET_STATUS_LIST = """
mutation($statuses: [StatusOptionInput!]!) {
  setStatusList(input: {statuses: $statuses}) { name statuses { name subStatuses converts } convertedCount }
}
"""
ACCOUNT = "{ viewer { account { statuses { name subStatuses converts } convertedCount tags { id name } } } }"
USERS = "{ users { id name email role } }"

DEFAULT_STATUSES = [
    {"name": "lead", "subStatuses": ["new", "working"], "converts": False},
    {"name": "contacted", "subStatuses": ["attempted", "connected", "follow up"], "converts": False},
    {"name": "qualified", "subStatuses": ["hot", "warm", "cold"], "converts": False},
    {"name": "customer", "subStatuses": [], "converts": True},
    {
        "name": "lost",
        "subStatuses": ["not interested", "no budget", "unreachable", "duplicate"],
        "converts": False,
    },
]


def changes_of(event: dict[str, Any]) -> dict[str, list[Any]]:
    return {c["field"]: [c["before"], c["after"]] for c in event["changes"]}


async def new_contact(api: Api, name: str = "Ada") -> str:
    return (await api.data(CREATE, {"input": {"firstName": name}}))["createContact"]["id"]


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(GET, {"id": contact_id}))["contact"]


async def account(api: Api) -> dict[str, Any]:
    return (await api.data(ACCOUNT))["viewer"]["account"]


async def user_ids(api: Api) -> dict[str, str]:
    """Global user ids of the caller's account, by role."""
    return {u["role"].lower(): u["id"] for u in (await api.data(USERS))["users"]}


# --------------------------------------------------------------------------------------
# setContactStatus
# --------------------------------------------------------------------------------------


async def test_status_matches_the_account_list_case_insensitively(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    result = await as_admin.data(
        SET_STATUS, {"input": {"contactId": contact_id, "status": " QUALIFIED ", "subStatus": "Hot"}}
    )
    contact = result["setContactStatus"]
    assert (contact["status"], contact["subStatus"]) == ("qualified", "hot")  # the list's spelling
    assert contact["convertedAt"] is None

    stored = await card(as_admin, contact_id)
    assert (stored["status"], stored["subStatus"]) == ("qualified", "hot")
    event = stored["journey"]["nodes"][0]
    assert event["kind"] == "STATUS_CHANGED"
    assert event["actor"] == {"kind": "USER", "name": "Acme Admin"}
    assert "qualified (hot)" in event["summary"]
    assert changes_of(event) == {"status": ["lead", "qualified"], "subStatus": [None, "hot"]}

    # Changing only the sub-status records only that.
    await as_admin.data(
        SET_STATUS, {"input": {"contactId": contact_id, "status": "qualified", "subStatus": "cold"}}
    )
    event = (await card(as_admin, contact_id))["journey"]["nodes"][0]
    assert changes_of(event) == {"subStatus": ["hot", "cold"]}

    # Leaving subStatus out clears it.
    await as_admin.data(SET_STATUS, {"input": {"contactId": contact_id, "status": "contacted"}})
    stored = await card(as_admin, contact_id)
    assert (stored["status"], stored["subStatus"]) == ("contacted", None)
    assert changes_of(stored["journey"]["nodes"][0]) == {
        "status": ["qualified", "contacted"],
        "subStatus": ["cold", None],
    }


async def test_bad_status_or_sub_status_changes_nothing(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    await as_admin.data(
        SET_STATUS, {"input": {"contactId": contact_id, "status": "lead", "subStatus": "new"}}
    )
    before = await card(as_admin, contact_id)

    error = await as_admin.error(SET_STATUS, {"input": {"contactId": contact_id, "status": "won"}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "status"}
    for name in ("lead", "contacted", "qualified", "customer", "lost"):
        assert name in error["message"]  # the options are listed

    cases = [
        ({"status": "lead", "subStatus": "hot"}, "new, working"),  # a sub-status of another status
        ({"status": "customer", "subStatus": "vip"}, "none"),  # customer has no sub-statuses
        ({"status": "lost", "subStatus": "x" * 51}, "limit is 50"),
    ]
    for fields, hint in cases:
        error = await as_admin.error(SET_STATUS, {"input": {"contactId": contact_id, **fields}})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "subStatus"}, (fields, error)
        assert hint in error["message"], (fields, error)

    error = await as_admin.error(SET_STATUS, {"input": {"contactId": contact_id, "status": ""}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"

    for bad_id, code in (
        ("nope", "BAD_USER_INPUT"),
        (base64.b64encode(b"Contact:424242").decode(), "NOT_FOUND"),
    ):
        error = await as_admin.error(SET_STATUS, {"input": {"contactId": bad_id, "status": "lost"}})
        assert error["extensions"]["code"] == code, error

    assert await card(as_admin, contact_id) == before


async def test_setting_the_same_status_writes_nothing(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    await as_admin.data(
        SET_STATUS, {"input": {"contactId": contact_id, "status": "qualified", "subStatus": "warm"}}
    )
    before = await card(as_admin, contact_id)
    again = await as_admin.data(
        SET_STATUS, {"input": {"contactId": contact_id, "status": "Qualified", "subStatus": "WARM"}}
    )
    assert again["setContactStatus"] == before
    assert await card(as_admin, contact_id) == before


async def test_converting_status_records_the_first_conversion_only(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    other_id = await new_contact(as_admin, "Bob")
    assert (await account(as_admin))["convertedCount"] == 0

    converted = (await as_admin.data(SET_STATUS, {"input": {"contactId": contact_id, "status": "Customer"}}))[
        "setContactStatus"
    ]
    first_date = converted["convertedAt"]
    assert converted["status"] == "customer"
    assert first_date is not None
    event = converted["journey"]["nodes"][0]
    assert changes_of(event)["convertedAt"][0] is None
    assert changes_of(event)["convertedAt"][1] is not None
    assert (await account(as_admin))["convertedCount"] == 1

    await as_admin.data(
        SET_STATUS, {"input": {"contactId": contact_id, "status": "lost", "subStatus": "no budget"}}
    )
    back = (await as_admin.data(SET_STATUS, {"input": {"contactId": contact_id, "status": "customer"}}))[
        "setContactStatus"
    ]
    assert back["convertedAt"] == first_date
    assert "convertedAt" not in changes_of(back["journey"]["nodes"][0])
    assert (await card(as_admin, contact_id))["convertedAt"] == first_date
    assert (await account(as_admin))["convertedCount"] == 1  # still one contact, not two conversions

    # A contact that leaves the converting status still counts as converted.
    await as_admin.data(SET_STATUS, {"input": {"contactId": contact_id, "status": "lost"}})
    assert (await account(as_admin))["convertedCount"] == 1
    assert (await card(as_admin, other_id))["convertedAt"] is None


async def test_reps_and_managers_can_set_a_contacts_status(api: Api, acme: Tenant) -> None:
    contact_id = await new_contact(api.as_(acme.admin_key))
    for key, status in ((acme.rep_key, "contacted"), (acme.manager_key, "qualified")):
        result = await api.data(SET_STATUS, {"input": {"contactId": contact_id, "status": status}}, key=key)
        assert result["setContactStatus"]["status"] == status
    actors = [
        e["actor"]["name"] for e in (await card(api.as_(acme.admin_key), contact_id))["journey"]["nodes"]
    ]
    assert actors[:2] == ["Acme Manager", "Acme Rep"]


# --------------------------------------------------------------------------------------
# setStatusList
# --------------------------------------------------------------------------------------


async def test_account_lists_its_default_statuses(as_admin: Api, acme: Tenant) -> None:
    assert (await account(as_admin))["statuses"] == DEFAULT_STATUSES


async def test_only_admins_can_change_the_status_list(api: Api, acme: Tenant) -> None:
    for key in (acme.rep_key, acme.manager_key):
        error = await api.error(SET_STATUS_LIST, {"statuses": [{"name": "new"}]}, key=key)
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert "admin" in error["message"]
    assert (await account(api.as_(acme.admin_key)))["statuses"] == DEFAULT_STATUSES


async def test_bad_status_lists_are_refused(as_admin: Api, acme: Tenant) -> None:
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([{"name": "lead"}, {"name": "Won"}, {"name": "won"}], "listed twice"),
        ([], "at least one"),
        ([{"name": "  "}], "cannot be empty"),
        ([{"name": "lead", "subStatuses": ["new", "NEW"]}], "sub-status twice"),
        ([{"name": "s" * 51}], "limit is 50"),
        ([{"name": f"s{i}"} for i in range(31)], "at most 30"),
    ]
    for statuses, message in cases:
        error = await as_admin.error(SET_STATUS_LIST, {"statuses": statuses})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (statuses, error)
        assert message in error["message"], (statuses, error)
    assert (await account(as_admin))["statuses"] == DEFAULT_STATUSES


async def test_a_status_in_use_cannot_be_dropped(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    await as_admin.data(SET_STATUS, {"input": {"contactId": contact_id, "status": "qualified"}})
    without_qualified = [s for s in DEFAULT_STATUSES if s["name"] != "qualified"]
    error = await as_admin.error(SET_STATUS_LIST, {"statuses": without_qualified})
    assert error["extensions"]["code"] == "CONFLICT"
    assert "qualified" in error["message"]
    assert "1 contact" in error["message"]
    assert (await account(as_admin))["statuses"] == DEFAULT_STATUSES

    # Once nobody holds it any more, it can go.
    await as_admin.data(SET_STATUS, {"input": {"contactId": contact_id, "status": "lead"}})
    result = await as_admin.data(SET_STATUS_LIST, {"statuses": without_qualified})
    assert [s["name"] for s in result["setStatusList"]["statuses"]] == [
        "lead",
        "contacted",
        "customer",
        "lost",
    ]
    error = await as_admin.error(SET_STATUS, {"input": {"contactId": contact_id, "status": "qualified"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_new_status_list_drives_new_contacts_and_conversions(as_admin: Api, acme: Tenant) -> None:
    # Keep "lead" (the default contacts were created with) but add a new converting status.
    statuses = [
        {"name": "lead", "subStatuses": [], "converts": False},
        {"name": "Trial", "subStatuses": ["Day 1", "Day 7"], "converts": False},
        {"name": "Won", "subStatuses": ["Annual", "Monthly"], "converts": True},
    ]
    old_contact = await new_contact(as_admin, "Old")
    result = await as_admin.data(SET_STATUS_LIST, {"statuses": statuses})
    assert result["setStatusList"]["statuses"] == statuses
    assert result["setStatusList"]["name"] == "Acme"
    assert (await account(as_admin))["statuses"] == statuses

    won = (
        await as_admin.data(
            SET_STATUS, {"input": {"contactId": old_contact, "status": "won", "subStatus": "annual"}}
        )
    )["setContactStatus"]
    assert (won["status"], won["subStatus"]) == ("Won", "Annual")
    assert won["convertedAt"] is not None
    assert (await account(as_admin))["convertedCount"] == 1

    # "customer" is no longer a status, so it no longer converts (nor exists).
    error = await as_admin.error(SET_STATUS, {"input": {"contactId": old_contact, "status": "customer"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "lead, Trial, Won" in error["message"]

    # The first status of the list is the status of new contacts.
    reordered = [statuses[1], statuses[0], statuses[2]]
    await as_admin.data(SET_STATUS_LIST, {"statuses": reordered})
    newcomer = await new_contact(as_admin, "New")
    assert (await card(as_admin, newcomer))["status"] == "Trial"


# --------------------------------------------------------------------------------------
# assignOwners
# --------------------------------------------------------------------------------------


async def test_admin_assigns_owners_and_the_journey_names_them(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    users = await user_ids(as_admin)
    result = await as_admin.data(
        ASSIGN,
        {
            "input": {
                "contactId": contact_id,
                "setterOwnerId": users["rep"],
                "closerOwnerId": users["manager"],
                "assignedToId": users["rep"],
            }
        },
    )
    contact = result["assignOwners"]
    assert contact["setterOwner"] == {"id": users["rep"], "name": "Acme Rep"}
    assert contact["closerOwner"] == {"id": users["manager"], "name": "Acme Manager"}
    assert contact["assignedTo"] == {"id": users["rep"], "name": "Acme Rep", "role": "REP"}
    stored = await card(as_admin, contact_id)
    assert stored == contact
    event = stored["journey"]["nodes"][0]
    assert event["kind"] == "OWNER_CHANGED"
    assert event["actor"] == {"kind": "USER", "name": "Acme Admin"}
    assert changes_of(event) == {
        "setterOwner": [None, "Acme Rep"],
        "closerOwner": [None, "Acme Manager"],
        "assignedTo": [None, "Acme Rep"],
    }
    assert "Acme Manager" in event["summary"]


async def test_omitted_owners_stay_and_null_clears(api: Api, acme: Tenant) -> None:
    manager = api.as_(acme.manager_key)
    contact_id = await new_contact(manager)
    users = await user_ids(manager)
    await manager.data(
        ASSIGN,
        {"input": {"contactId": contact_id, "setterOwnerId": users["rep"], "closerOwnerId": users["admin"]}},
    )
    contact = (await manager.data(ASSIGN, {"input": {"contactId": contact_id, "setterOwnerId": None}}))[
        "assignOwners"
    ]
    assert contact["setterOwner"] is None
    assert contact["closerOwner"] == {"id": users["admin"], "name": "Acme Admin"}
    assert contact["assignedTo"] is None
    event = contact["journey"]["nodes"][0]
    assert event["actor"]["name"] == "Acme Manager"
    assert changes_of(event) == {"setterOwner": ["Acme Rep", None]}

    # Reassigning a field records the old and new names.
    contact = (
        await manager.data(ASSIGN, {"input": {"contactId": contact_id, "closerOwnerId": users["manager"]}})
    )["assignOwners"]
    assert changes_of(contact["journey"]["nodes"][0]) == {"closerOwner": ["Acme Admin", "Acme Manager"]}

    # The same owners again, or nothing at all, is not a change.
    count = contact["journey"]["totalCount"]
    for owners in ({"closerOwnerId": users["manager"], "setterOwnerId": None}, {}):
        again = (await manager.data(ASSIGN, {"input": {"contactId": contact_id, **owners}}))["assignOwners"]
        assert again["journey"]["totalCount"] == count


async def test_reps_cannot_assign_owners(api: Api, acme: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    contact_id = await new_contact(admin)
    users = await user_ids(admin)
    before = await card(admin, contact_id)
    error = await api.error(
        ASSIGN, {"input": {"contactId": contact_id, "assignedToId": users["rep"]}}, key=acme.rep_key
    )
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "admins and managers" in error["message"]
    assert await card(admin, contact_id) == before


async def test_owners_must_be_users_of_the_same_account(api: Api, acme: Tenant, globex: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    contact_id = await new_contact(admin)
    ours = await user_ids(admin)
    theirs = await user_ids(api.as_(globex.admin_key))
    await admin.data(ASSIGN, {"input": {"contactId": contact_id, "assignedToId": ours["rep"]}})
    before = await card(admin, contact_id)

    for field in ("setterOwnerId", "closerOwnerId", "assignedToId"):
        error = await admin.error(ASSIGN, {"input": {"contactId": contact_id, field: theirs["rep"]}})
        assert error["extensions"]["code"] == "NOT_FOUND", error
        assert "in this account" in error["message"]
    # One bad owner spoils the whole assignment.
    error = await admin.error(
        ASSIGN,
        {
            "input": {
                "contactId": contact_id,
                "setterOwnerId": ours["manager"],
                "closerOwnerId": theirs["admin"],
            }
        },
    )
    assert error["extensions"]["code"] == "NOT_FOUND"

    unknown = base64.b64encode(b"User:987654").decode()
    error = await admin.error(ASSIGN, {"input": {"contactId": contact_id, "closerOwnerId": unknown}})
    assert error["extensions"]["code"] == "NOT_FOUND"
    error = await admin.error(ASSIGN, {"input": {"contactId": contact_id, "closerOwnerId": contact_id}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "closerOwnerId"}
    assert "not a User id" in error["message"]

    assert await card(admin, contact_id) == before


# --------------------------------------------------------------------------------------
# addTag / removeTag
# --------------------------------------------------------------------------------------


async def test_tags_are_case_insensitive_and_tagging_twice_changes_nothing(
    as_admin: Api, acme: Tenant
) -> None:
    contact_id = await new_contact(as_admin)
    first = (await as_admin.data(ADD_TAG, {"input": {"contactId": contact_id, "name": "VIP"}}))["addTag"]
    assert [t["name"] for t in first["tags"]] == ["VIP"]
    event = first["journey"]["nodes"][0]
    assert event["kind"] == "TAG_ADDED"
    assert event["actor"] == {"kind": "USER", "name": "Acme Admin"}
    assert changes_of(event) == {"tags": [None, "VIP"]}
    assert event["subjectType"] == "Tag"
    assert event["subjectId"] == first["tags"][0]["id"]

    for spelling in ("vip", " VIP ", "Vip"):
        again = (await as_admin.data(ADD_TAG, {"input": {"contactId": contact_id, "name": spelling}}))[
            "addTag"
        ]
        assert again["tags"] == first["tags"]  # the first spelling is kept
        assert again["journey"]["totalCount"] == first["journey"]["totalCount"]
    assert [t["name"] for t in (await account(as_admin))["tags"]] == ["VIP"]

    # Another contact tagged "vip" shares the same tag.
    other_id = await new_contact(as_admin, "Bob")
    other = (await as_admin.data(ADD_TAG, {"input": {"contactId": other_id, "name": "vip"}}))["addTag"]
    assert other["tags"] == first["tags"]


async def test_tag_names_collapse_whitespace_and_join_the_account_list(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    tagged = (
        await as_admin.data(ADD_TAG, {"input": {"contactId": contact_id, "name": "  Big \t  Spender "}})
    )["addTag"]
    assert [t["name"] for t in tagged["tags"]] == ["Big Spender"]
    await as_admin.data(ADD_TAG, {"input": {"contactId": contact_id, "name": "big spender"}})
    await as_admin.data(ADD_TAG, {"input": {"contactId": contact_id, "name": "Referral"}})
    stored = await card(as_admin, contact_id)
    assert [t["name"] for t in stored["tags"]] == ["Big Spender", "Referral"]
    assert [t["name"] for t in (await account(as_admin))["tags"]] == ["Big Spender", "Referral"]
    assert [e["kind"] for e in stored["journey"]["nodes"]].count("TAG_ADDED") == 2


async def test_bad_tag_names_are_refused(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    before = await card(as_admin, contact_id)
    for name, message in (("", "cannot be empty"), ("   ", "cannot be empty"), ("t" * 51, "limit is 50")):
        for mutation in (ADD_TAG, REMOVE_TAG):
            error = await as_admin.error(mutation, {"input": {"contactId": contact_id, "name": name}})
            assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "name"}, (name, error)
            assert message in error["message"]
    ok = (await as_admin.data(ADD_TAG, {"input": {"contactId": contact_id, "name": "t" * 50}}))["addTag"]
    assert [t["name"] for t in ok["tags"]] == ["t" * 50]

    unknown = base64.b64encode(b"Contact:999999").decode()
    error = await as_admin.error(ADD_TAG, {"input": {"contactId": unknown, "name": "VIP"}})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert [t["name"] for t in (await account(as_admin))["tags"]] == ["t" * 50]
    assert (await card(as_admin, contact_id))["journey"]["totalCount"] == before["journey"]["totalCount"] + 1


async def test_remove_tag(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    other_id = await new_contact(as_admin, "Bob")
    await as_admin.data(ADD_TAG, {"input": {"contactId": contact_id, "name": "VIP"}})
    await as_admin.data(ADD_TAG, {"input": {"contactId": contact_id, "name": "Referral"}})
    await as_admin.data(ADD_TAG, {"input": {"contactId": other_id, "name": "VIP"}})
    tag_id = (await card(as_admin, contact_id))["tags"][1]["id"]

    removed = (await as_admin.data(REMOVE_TAG, {"input": {"contactId": contact_id, "name": "  vip "}}))[
        "removeTag"
    ]
    assert [t["name"] for t in removed["tags"]] == ["Referral"]
    event = removed["journey"]["nodes"][0]
    assert event["kind"] == "TAG_REMOVED"
    assert changes_of(event) == {"tags": ["VIP", None]}
    assert event["subjectId"] == tag_id
    # The other contact keeps its tag, and the account keeps the tag in its list.
    assert [t["name"] for t in (await card(as_admin, other_id))["tags"]] == ["VIP"]
    assert [t["name"] for t in (await account(as_admin))["tags"]] == ["Referral", "VIP"]

    before = await card(as_admin, contact_id)
    for name in ("VIP", "never-used"):
        error = await as_admin.error(REMOVE_TAG, {"input": {"contactId": contact_id, "name": name}})
        assert error["extensions"] == {"code": "NOT_FOUND", "field": "name"}
        assert f"no tag {name!r}" in error["message"]
    assert await card(as_admin, contact_id) == before
