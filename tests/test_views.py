"""Saved views of the contacts table (D6): createView, updateView, deleteView, `views`, the 10-filter
limit, columns, permissions and other accounts' ids."""

from __future__ import annotations

from typing import Any

import pytest

from crm.models import JourneyEvent, SavedView
from crm.services.views import MAX_VIEW_FILTERS, VIEW_COLUMNS
from graph.ids import global_id_text
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant

VIEW = "id name filter orderBy columns filterCount shared owner { id name } createdAt updatedAt"
CREATE = f"mutation($i: CreateViewInput!) {{ createView(input: $i) {{ {VIEW} }} }}"
UPDATE = f"mutation($i: UpdateViewInput!) {{ updateView(input: $i) {{ {VIEW} }} }}"
DELETE = "mutation($i: DeleteViewInput!) { deleteView(input: $i) { deletedId } }"
VIEWS = "{ views { id name shared owner { id } } }"
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on View {{ {VIEW} }} }} }}"
CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
CONTACTS = """
query($f: ContactFilter, $o: [ContactOrder!]) {
  contacts(filter: $f, orderBy: $o, first: 50) { totalCount nodes { firstName } }
}
"""
CUSTOM_FIELD = "mutation($i: CreateCustomFieldInput!) { createCustomField(input: $i) { id key } }"


async def create(api: Api, **values: Any) -> dict[str, Any]:
    return (await api.data(CREATE, {"i": {"name": "Hot leads", **values}}))["createView"]


async def view_count() -> int:
    return await SavedView.all().count()


def user_id(tenant: Tenant, role: str) -> str:
    return global_id_text("User", tenant.user_ids[role])


def ten_filters(extra: int = 0) -> dict[str, Any]:
    """A filter of 10 + `extra` conditions the table shows, spread over and/or/not groups."""
    names = [{"firstName": {"contains": f"a{i}"}} for i in range(6)]
    return {
        "and": names[:3],
        "or": names[3:],
        "not": {"lastName": {"eq": "Nobody", "startsWith": "No"}},
        "status": {"in": ["lead"]},
        "tags": {"any": ["vip"]},
        **({"email": {"contains": "@", "startsWith": "x", "isNull": False}} if extra else {}),
    } | ({"city": {"eq": "Paris"}} if extra > 3 else {})


# --------------------------------------------------------------------------------------
# Saving and reading
# --------------------------------------------------------------------------------------


async def test_a_view_reads_back_as_a_client_can_send_it_again(as_admin: Api, acme: Tenant) -> None:
    rep = user_id(acme, "rep")
    made = await create(
        as_admin,
        filter={"firstName": {"startsWith": "Ad"}, "owner": {"in": [rep]}, "tags": {"any": ["VIP"]}},
        orderBy=[{"field": "LAST_NAME", "direction": "DESC"}],
        columns=["displayName", "email", "status", "tags"],
        shared=True,
    )
    assert made["name"] == "Hot leads" and made["shared"] is True
    assert made["filter"] == {
        "firstName": {"startsWith": "Ad"},
        "owner": {"in": [rep]},
        "tags": {"any": ["VIP"]},
    }
    assert made["orderBy"] == [{"field": "LAST_NAME", "direction": "DESC"}]
    assert made["columns"] == ["displayName", "email", "status", "tags"]
    assert made["filterCount"] == 3
    assert made["owner"]["id"] == user_id(acme, "admin")
    node = await as_admin.data(NODE, {"id": made["id"]})
    assert node["node"] == made
    # What it reads back is what contacts(filter:, orderBy:) takes.
    await as_admin.data(CONTACTS, {"f": made["filter"], "o": made["orderBy"]})
    # An account-level object: no contact's journey changed.
    assert await JourneyEvent.all().count() == 0


async def test_a_views_filter_runs_on_the_contacts_table(as_admin: Api) -> None:
    for first, last in (("Ada", "Lovelace"), ("Adam", "Smith"), ("Grace", "Hopper")):
        await as_admin.data(CREATE_CONTACT, {"i": {"firstName": first, "lastName": last}})
    made = await create(
        as_admin,
        filter={"firstName": {"startsWith": "ad"}},
        orderBy=[{"field": "FIRST_NAME", "direction": "DESC"}],
    )
    found = (await as_admin.data(CONTACTS, {"f": made["filter"], "o": made["orderBy"]}))["contacts"]
    assert found["totalCount"] == 2
    assert [n["firstName"] for n in found["nodes"]] == ["Adam", "Ada"]


async def test_views_lists_the_callers_own_and_the_shared_ones(api: Api, acme: Tenant) -> None:
    admin, rep = api.as_(acme.admin_key), api.as_(acme.rep_key)
    mine = await create(rep, name="Mine")
    shared = await create(admin, name="Team", shared=True)
    private = await create(admin, name="Admin's own")
    assert [v["name"] for v in (await rep.data(VIEWS))["views"]] == ["Mine", "Team"]
    assert [v["name"] for v in (await admin.data(VIEWS))["views"]] == ["Admin's own", "Team"]
    # Another user's private view is as missing as one that never was.
    error = await rep.error(NODE, {"id": private["id"]})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert (await rep.data(NODE, {"id": shared["id"]}))["node"]["name"] == "Team"
    # Admins reach every view of the account by id.
    assert (await admin.data(NODE, {"id": mine["id"]}))["node"]["name"] == "Mine"


async def test_update_changes_only_what_is_sent_and_delete_removes(as_admin: Api) -> None:
    made = await create(as_admin, filter={"status": {"in": ["lead"]}}, columns=["email"])
    updated = (await as_admin.data(UPDATE, {"i": {"id": made["id"], "name": "Leads", "shared": True}}))[
        "updateView"
    ]
    assert updated["name"] == "Leads" and updated["shared"] is True
    assert updated["filter"] == made["filter"] and updated["columns"] == ["email"]
    cleared = (await as_admin.data(UPDATE, {"i": {"id": made["id"], "filter": None, "columns": []}}))[
        "updateView"
    ]
    assert cleared["filter"] is None and cleared["columns"] == [] and cleared["filterCount"] == 0
    gone = (await as_admin.data(DELETE, {"i": {"id": made["id"]}}))["deleteView"]
    assert gone["deletedId"] == made["id"]
    assert await view_count() == 0
    error = await as_admin.error(DELETE, {"i": {"id": made["id"]}})
    assert error["extensions"]["code"] == "NOT_FOUND"


# --------------------------------------------------------------------------------------
# The 10-filter limit and bad input
# --------------------------------------------------------------------------------------


async def test_a_view_holds_at_most_ten_filters(as_admin: Api) -> None:
    made = await create(as_admin, filter=ten_filters())
    assert made["filterCount"] == MAX_VIEW_FILTERS == 10
    error = await as_admin.error(CREATE, {"i": {"name": "Too many", "filter": ten_filters(extra=3)}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "at most 10 filters" in error["message"] and "has 13" in error["message"], error
    assert error["extensions"]["field"] == "filter"
    error = await as_admin.error(UPDATE, {"i": {"id": made["id"], "filter": ten_filters(extra=4)}})
    assert "at most 10 filters" in error["message"] and "has 14" in error["message"], error
    assert await view_count() == 1
    node = (await as_admin.data(NODE, {"id": made["id"]}))["node"]
    assert node["filterCount"] == 10  # unchanged


@pytest.mark.parametrize(
    ("values", "field", "fragment"),
    [
        ({"name": "  "}, "name", "name cannot be empty"),
        ({"name": "x" * 101}, "name", "the limit is 100"),
        ({"columns": ["email", "favouriteColour"]}, "columns", "unknown column 'favouriteColour'"),
        ({"columns": ["email", "email"]}, "columns", "listed twice"),
        ({"columns": ["customField:nope"]}, "columns", "no custom field 'nope'"),
        ({"columns": ["email"] * 101}, "columns", "at most 100 columns"),
        ({"orderBy": [{"field": "LAST_NAME"}] * 6}, "orderBy", "at most 5"),
        (
            {"orderBy": [{"field": "CUSTOM_FIELD", "customField": "nope"}]},
            "orderBy[0].customField",
            "no custom field with key 'nope'",
        ),
        ({"filter": {"status": {"in": []}}}, None, ""),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    as_admin: Api, values: dict[str, Any], field: str | None, fragment: str
) -> None:
    error = await as_admin.error(CREATE, {"i": {"name": "V", **values}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert fragment in error["message"], error
    if field is not None:
        assert error["extensions"].get("field") == field, error
    assert await view_count() == 0


async def test_a_custom_field_column_needs_the_field(as_admin: Api) -> None:
    await as_admin.data(CUSTOM_FIELD, {"i": {"key": "colour", "label": "Colour", "type": "TEXT"}})
    made = await create(
        as_admin,
        columns=["displayName", "customField:colour"],
        orderBy=[{"field": "CUSTOM_FIELD", "customField": "colour", "direction": "ASC"}],
    )
    assert made["columns"] == ["displayName", "customField:colour"]
    assert made["orderBy"] == [{"field": "CUSTOM_FIELD", "customField": "colour", "direction": "ASC"}]


async def test_names_are_unique_per_user(api: Api, acme: Tenant) -> None:
    admin, rep = api.as_(acme.admin_key), api.as_(acme.rep_key)
    first = await create(admin, name="Mine")
    error = await admin.error(CREATE, {"i": {"name": "Mine"}})
    assert (
        error["extensions"]["code"] == "CONFLICT" and "already have a view named 'Mine'" in error["message"]
    )
    await create(rep, name="Mine")  # another user's name space
    other = await create(admin, name="Other")
    error = await admin.error(UPDATE, {"i": {"id": other["id"], "name": "Mine"}})
    assert error["extensions"]["code"] == "CONFLICT"
    # Renaming to its own name is no conflict.
    await admin.data(UPDATE, {"i": {"id": first["id"], "name": "Mine"}})
    assert await view_count() == 3


def test_every_view_column_is_a_field_of_the_contact_type() -> None:
    from graph.schema import schema

    contact = schema._schema.type_map["Contact"]  # type: ignore[attr-defined]
    missing = [column for column in VIEW_COLUMNS if column not in contact.fields]
    assert not missing, f"VIEW_COLUMNS names fields Contact does not have: {missing}"


# --------------------------------------------------------------------------------------
# Who may change a view; other accounts
# --------------------------------------------------------------------------------------


async def test_only_the_owner_or_an_admin_changes_a_view(api: Api, acme: Tenant) -> None:
    admin, manager, rep = (api.as_(k) for k in (acme.admin_key, acme.manager_key, acme.rep_key))
    team = await create(manager, name="Team", shared=True)
    for other in (rep,):
        for document, extra in ((UPDATE, {"name": "Mine now"}), (DELETE, {})):
            error = await other.error(document, {"i": {"id": team["id"], **extra}})
            assert error["extensions"]["code"] == "FORBIDDEN", error
            assert "only its owner or an admin" in error["message"]
    renamed = (await admin.data(UPDATE, {"i": {"id": team["id"], "name": "Sales team"}}))["updateView"]
    assert renamed["name"] == "Sales team" and renamed["owner"]["id"] == user_id(acme, "manager")
    reps = await create(rep, name="Rep's own")
    error = await manager.error(UPDATE, {"i": {"id": reps["id"], "shared": True}})
    assert error["extensions"]["code"] == "NOT_FOUND"  # private: managers do not see it
    await admin.data(DELETE, {"i": {"id": reps["id"]}})
    assert await view_count() == 1


async def test_other_accounts_views_are_not_found(as_admin: Api, api: Api, globex: Tenant) -> None:
    theirs = await create(api.as_(globex.admin_key), name="Theirs", shared=True)
    for document, extra in ((UPDATE, {"name": "Ours"}), (DELETE, {})):
        error = await as_admin.error(document, {"i": {"id": theirs["id"], **extra}})
        assert error["extensions"]["code"] == "NOT_FOUND", error
    assert (await as_admin.error(NODE, {"id": theirs["id"]}))["extensions"]["code"] == "NOT_FOUND"
    assert (await as_admin.data(VIEWS))["views"] == []
    node = (await api.as_(globex.admin_key).data(NODE, {"id": theirs["id"]}))["node"]
    assert node["name"] == "Theirs"


# --------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------


class ViewAuditor:
    name = "view-auditor"

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def view_saved(self, event: Any) -> None:
        self.events.append(("view_saved", event))

    @hookimpl
    def view_deleted(self, event: Any) -> None:
        self.events.append(("view_deleted", event))


async def test_saving_and_deleting_fire_account_events(running_app: AppFactory) -> None:
    auditor = ViewAuditor()
    async with running_app(plugins=(auditor,), disabled_plugins=builtin_names()) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        made = await create(api, filter={"status": {"in": ["lead"]}}, columns=["email"])
        await api.data(UPDATE, {"i": {"id": made["id"], "name": "Hot leads"}})  # no change: no event
        await api.data(UPDATE, {"i": {"id": made["id"], "shared": True}})
        await api.data(DELETE, {"i": {"id": made["id"]}})
        await app.runtime.dispatcher.drain()
    assert [hook for hook, _ in auditor.events] == ["view_saved", "view_saved", "view_deleted"]
    saved = auditor.events[0][1]
    assert saved.kind == "VIEW_SAVED" and saved.subject_type == "View"
    assert saved.subject == {
        "id": made["id"],
        "name": "Hot leads",
        "shared": False,
        "ownerId": global_id_text("User", acme.user_ids["admin"]),
        "columns": ["email"],
        "filterCount": 1,
    }
    assert auditor.events[2][1].subject["shared"] is True
