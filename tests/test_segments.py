"""Segments (D12): dynamic and static, membership and its journey, Segment.count / contacts,
Contact.segments, a segment as a filter, permissions and other accounts' ids."""

from __future__ import annotations

from typing import Any

import pytest

from crm.models import Segment as SegmentModel
from crm.models import SegmentMember
from graph.ids import global_id_text
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant

SEGMENT = "id name kind filter count createdBy { id } createdAt updatedAt"
CREATE = f"mutation($i: CreateSegmentInput!) {{ createSegment(input: $i) {{ {SEGMENT} }} }}"
UPDATE = f"mutation($i: UpdateSegmentInput!) {{ updateSegment(input: $i) {{ {SEGMENT} }} }}"
DELETE = "mutation($i: DeleteSegmentInput!) { deleteSegment(input: $i) { deletedId } }"
ADD = "mutation($i: SegmentMembersInput!) { addToSegment(input: $i) { id count } }"
REMOVE = "mutation($i: SegmentMembersInput!) { removeFromSegment(input: $i) { id count } }"
MEMBERS = """
query($id: ID!, $first: Int!, $after: String) {
  node(id: $id) {
    ... on Segment {
      count
      contacts(first: $first, after: $after) {
        totalCount edges { cursor node { id firstName } } pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""
SEGMENTS = """
query($first: Int!, $after: String) {
  segments(first: $first, after: $after) { nodes { name kind count } pageInfo { hasNextPage endCursor } }
}
"""
CARD_SEGMENTS = "query($id: ID!) { contact(id: $id) { segments { name kind } } }"
PAGE_SEGMENTS = "{ contacts(first: 50) { nodes { firstName segments { name } } } }"
FILTERED = """
query($f: ContactFilter) { contacts(filter: $f, first: 50) { totalCount nodes { firstName } } }
"""
CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
JOURNEY = """
query($id: ID!) {
  contact(id: $id) {
    journey(first: 20, kinds: [ADDED_TO_SEGMENT, REMOVED_FROM_SEGMENT]) {
      nodes { kind summary subjectType subjectId changes { field before after } }
    }
  }
}
"""
ARCHIVE = "mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }"
DELETE_CONTACTS = "mutation($i: DeleteContactsInput!) { deleteContacts(input: $i) { deletedIds } }"
MERGE = "mutation($i: MergeContactsInput!) { mergeContacts(input: $i) { merge { id } } }"
UNMERGE = "mutation($i: UnmergeContactsInput!) { unmergeContacts(input: $i) { merge { id } } }"


async def contact(api: Api, first: str, title: str | None = None, last: str = "Doe") -> str:
    values: dict[str, Any] = {"firstName": first, "lastName": last}
    if title:
        values["title"] = title
    return (await api.data(CREATE_CONTACT, {"i": values}))["createContact"]["id"]


async def create(api: Api, name: str = "VIP", **values: Any) -> dict[str, Any]:
    return (await api.data(CREATE, {"i": {"name": name, **values}}))["createSegment"]


async def members(api: Api, segment_id: str, first: int = 50) -> list[str]:
    data = await api.data(MEMBERS, {"id": segment_id, "first": first})
    return [e["node"]["firstName"] for e in data["node"]["contacts"]["edges"]]


async def journey(api: Api, contact_id: str) -> list[dict[str, Any]]:
    return (await api.data(JOURNEY, {"id": contact_id}))["contact"]["journey"]["nodes"]


async def segment_rows() -> tuple[int, int]:
    return await SegmentModel.all().count(), await SegmentMember.all().count()


# --------------------------------------------------------------------------------------
# Dynamic segments
# --------------------------------------------------------------------------------------


async def test_a_dynamic_segment_is_its_filter_now(as_admin: Api, acme: Tenant) -> None:
    await contact(as_admin, "Ada", "qualified")
    await contact(as_admin, "Bob", "lead")
    made = await create(as_admin, "Qualified", filter={"title": {"eq": "qualified"}})
    assert made["kind"] == "DYNAMIC" and made["filter"] == {"title": {"eq": "qualified"}}
    assert made["count"] == 1 and made["createdBy"]["id"] == global_id_text("User", acme.user_ids["admin"])
    assert await members(as_admin, made["id"]) == ["Ada"]
    cy = await contact(as_admin, "Cy", "qualified")  # joins by matching, at once
    assert await members(as_admin, made["id"]) == ["Cy", "Ada"]
    assert (await as_admin.data(CARD_SEGMENTS, {"id": cy}))["contact"]["segments"] == [
        {"name": "Qualified", "kind": "DYNAMIC"}
    ]
    assert await journey(as_admin, cy) == []  # matching a filter is no change to the card
    await as_admin.data(ARCHIVE, {"i": {"ids": [cy]}})
    assert await members(as_admin, made["id"]) == ["Ada"]  # live contacts only
    changed = await as_admin.data(UPDATE, {"i": {"id": made["id"], "filter": {"title": {"eq": "lead"}}}})
    assert changed["updateSegment"]["count"] == 1
    assert await members(as_admin, made["id"]) == ["Bob"]


async def test_segments_are_paged_oldest_first(as_admin: Api) -> None:
    for name in ("A", "B", "C"):
        await create(as_admin, name, contactIds=[])
    first = (await as_admin.data(SEGMENTS, {"first": 2}))["segments"]
    assert [n["name"] for n in first["nodes"]] == ["A", "B"] and first["pageInfo"]["hasNextPage"]
    rest = (await as_admin.data(SEGMENTS, {"first": 2, "after": first["pageInfo"]["endCursor"]}))["segments"]
    assert [n["name"] for n in rest["nodes"]] == ["C"] and not rest["pageInfo"]["hasNextPage"]
    error = await as_admin.error(SEGMENTS, {"first": 101})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# --------------------------------------------------------------------------------------
# Static segments: membership and its journey
# --------------------------------------------------------------------------------------


async def test_static_membership_is_journaled_on_each_contact(as_admin: Api) -> None:
    ada, bob, cy = [await contact(as_admin, name) for name in ("Ada", "Bob", "Cy")]
    made = await create(as_admin, "Picked", contactIds=[ada, bob, ada])
    assert made["kind"] == "STATIC" and made["filter"] is None and made["count"] == 2
    assert await members(as_admin, made["id"]) == ["Bob", "Ada"]
    (entry,) = await journey(as_admin, ada)
    assert entry["kind"] == "ADDED_TO_SEGMENT" and entry["subjectType"] == "Segment"
    assert entry["changes"] == [{"field": "segments", "before": None, "after": "Picked"}]
    added = (await as_admin.data(ADD, {"i": {"segmentId": made["id"], "contactIds": [bob, cy]}}))[
        "addToSegment"
    ]
    assert added["count"] == 3
    assert len(await journey(as_admin, bob)) == 1  # a member already: nothing new
    removed = await as_admin.data(REMOVE, {"i": {"segmentId": made["id"], "contactIds": [ada, ada]}})
    assert removed["removeFromSegment"]["count"] == 2
    assert [e["kind"] for e in await journey(as_admin, ada)] == ["REMOVED_FROM_SEGMENT", "ADDED_TO_SEGMENT"]
    again = await as_admin.data(REMOVE, {"i": {"segmentId": made["id"], "contactIds": [ada]}})
    assert again["removeFromSegment"]["count"] == 2 and len(await journey(as_admin, ada)) == 2
    assert (await as_admin.data(CARD_SEGMENTS, {"id": cy}))["contact"]["segments"] == [
        {"name": "Picked", "kind": "STATIC"}
    ]


async def test_segment_contacts_are_paged_newest_first(as_admin: Api) -> None:
    ids = [await contact(as_admin, f"C{i}") for i in range(5)]
    made = await create(as_admin, "Five", contactIds=ids)
    page = (await as_admin.data(MEMBERS, {"id": made["id"], "first": 2}))["node"]["contacts"]
    assert [e["node"]["firstName"] for e in page["edges"]] == ["C4", "C3"] and page["totalCount"] == 5
    names = [e["node"]["firstName"] for e in page["edges"]]
    while page["pageInfo"]["hasNextPage"]:
        page = (
            await as_admin.data(
                MEMBERS, {"id": made["id"], "first": 2, "after": page["pageInfo"]["endCursor"]}
            )
        )["node"]["contacts"]
        names += [e["node"]["firstName"] for e in page["edges"]]
    assert names == ["C4", "C3", "C2", "C1", "C0"]


async def test_archived_members_stay_members_but_are_not_counted(as_admin: Api) -> None:
    ada, bob = await contact(as_admin, "Ada"), await contact(as_admin, "Bob")
    made = await create(as_admin, "Pair", contactIds=[ada, bob])
    await as_admin.data(ARCHIVE, {"i": {"ids": [bob]}})
    assert await members(as_admin, made["id"]) == ["Ada"]
    assert (await as_admin.data(MEMBERS, {"id": made["id"], "first": 5}))["node"]["count"] == 1
    assert await SegmentMember.all().count() == 2
    await as_admin.data(DELETE_CONTACTS, {"i": {"ids": [bob]}})
    assert await SegmentMember.all().count() == 1  # deleting the contact drops its membership


async def test_a_merge_moves_memberships_to_the_survivor_and_an_unmerge_gives_them_back(
    as_admin: Api,
) -> None:
    ada, dup, bob = [await contact(as_admin, n) for n in ("Ada", "Ada2", "Bob")]
    picked = await create(as_admin, "Picked", contactIds=[dup])
    both = await create(as_admin, "Both", contactIds=[ada, dup])
    merge = (await as_admin.data(MERGE, {"i": {"primaryId": ada, "duplicateIds": [dup]}}))["mergeContacts"]
    assert await members(as_admin, picked["id"]) == ["Ada"]
    assert await members(as_admin, both["id"]) == ["Ada"]
    names = [s["name"] for s in (await as_admin.data(CARD_SEGMENTS, {"id": ada}))["contact"]["segments"]]
    assert names == ["Both", "Picked"]
    await as_admin.data(UNMERGE, {"i": {"mergeId": merge["merge"]["id"]}})
    assert await members(as_admin, picked["id"]) == ["Ada2"]
    assert sorted(await members(as_admin, both["id"])) == ["Ada", "Ada2"]
    assert bob


# --------------------------------------------------------------------------------------
# A segment as a filter; the card's segments
# --------------------------------------------------------------------------------------


async def test_a_segment_is_usable_as_a_filter(as_admin: Api) -> None:
    ada = await contact(as_admin, "Ada", "qualified")
    bob = await contact(as_admin, "Bob", "lead")
    await contact(as_admin, "Cy", "lead")
    dynamic = await create(as_admin, "Qualified", filter={"title": {"eq": "qualified"}})
    static = await create(as_admin, "Bob only", contactIds=[bob])
    found = (await as_admin.data(FILTERED, {"f": {"segment": {"in": [dynamic["id"], static["id"]]}}}))[
        "contacts"
    ]
    assert found["totalCount"] == 2 and sorted(n["firstName"] for n in found["nodes"]) == ["Ada", "Bob"]
    found = (await as_admin.data(FILTERED, {"f": {"not": {"segment": {"in": [static["id"]]}}}}))["contacts"]
    assert sorted(n["firstName"] for n in found["nodes"]) == ["Ada", "Cy"]
    # A dynamic segment built on another segment.
    nested = await create(
        as_admin, "Qualified or Bob", filter={"segment": {"in": [dynamic["id"], static["id"]]}}
    )
    assert nested["count"] == 2
    assert ada


async def test_a_page_of_cards_shows_each_cards_segments(as_admin: Api) -> None:
    ada = await contact(as_admin, "Ada", "qualified")
    bob = await contact(as_admin, "Bob", "lead")
    await contact(as_admin, "Cy", "lead")
    await create(as_admin, "Qualified", filter={"title": {"eq": "qualified"}})
    await create(as_admin, "Leads", filter={"title": {"eq": "lead"}})
    await create(as_admin, "Picked", contactIds=[ada, bob])
    page = (await as_admin.data(PAGE_SEGMENTS))["contacts"]["nodes"]
    assert {n["firstName"]: [s["name"] for s in n["segments"]] for n in page} == {
        "Ada": ["Picked", "Qualified"],
        "Bob": ["Leads", "Picked"],
        "Cy": ["Leads"],
    }


async def test_a_cards_segments_cost_a_bounded_number_of_statements(
    as_admin: Api, count_statements: Any
) -> None:
    for i in range(12):
        await contact(as_admin, f"C{i}", "lead" if i % 2 else "qualified")
    await create(as_admin, "Qualified", filter={"title": {"eq": "qualified"}})
    await create(as_admin, "Leads", filter={"title": {"eq": "lead"}})
    await create(as_admin, "Picked", contactIds=[])
    query = "query($n: Int!) { contacts(first: $n) { nodes { segments { name } } } }"
    counts = []
    for size in (2, 12):
        with count_statements() as counter:
            await as_admin.data(query, {"n": size})
        counts.append(counter.count)
    assert counts[0] == counts[1], counts  # the same for 2 cards as for 12


# --------------------------------------------------------------------------------------
# Bad input, permissions, other accounts
# --------------------------------------------------------------------------------------


async def test_create_needs_exactly_one_of_filter_and_contact_ids(as_admin: Api) -> None:
    ada = await contact(as_admin, "Ada")
    for values in ({}, {"filter": {"title": {"eq": "lead"}}, "contactIds": [ada]}):
        error = await as_admin.error(CREATE, {"i": {"name": "S", **values}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert "exactly one of filter" in error["message"]
    assert await segment_rows() == (0, 0)


@pytest.mark.parametrize(
    ("values", "code", "fragment"),
    [
        ({"name": " ", "contactIds": []}, "BAD_USER_INPUT", "name cannot be empty"),
        ({"name": "x" * 101, "contactIds": []}, "BAD_USER_INPUT", "the limit is 100"),
        ({"name": "S", "filter": {"status": {"in": []}}}, "BAD_USER_INPUT", ""),
        ({"name": "S", "contactIds": ["nope"]}, "BAD_USER_INPUT", "not a valid Contact id"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    as_admin: Api, values: dict[str, Any], code: str, fragment: str
) -> None:
    error = await as_admin.error(CREATE, {"i": values})
    assert error["extensions"]["code"] == code, error
    assert fragment in error["message"], error
    assert await segment_rows() == (0, 0)


async def test_more_than_100_ids_go_through_the_bulk_action(as_admin: Api) -> None:
    made = await create(as_admin, "S", contactIds=[])
    ids = [global_id_text("Contact", i) for i in range(1, 102)]
    error = await as_admin.error(ADD, {"i": {"segmentId": made["id"], "contactIds": ids}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "ADD_TO_SEGMENT" in error["message"]


async def test_names_are_unique_in_the_account(as_admin: Api) -> None:
    await create(as_admin, "S", contactIds=[])
    error = await as_admin.error(CREATE, {"i": {"name": "S", "filter": {"title": {"eq": "lead"}}}})
    assert error["extensions"]["code"] == "CONFLICT" and "already has a segment named 'S'" in error["message"]


async def test_membership_of_a_dynamic_segment_is_its_filters(as_admin: Api) -> None:
    ada = await contact(as_admin, "Ada")
    made = await create(as_admin, "Leads", filter={"title": {"eq": "lead"}})
    for document in (ADD, REMOVE):
        error = await as_admin.error(document, {"i": {"segmentId": made["id"], "contactIds": [ada]}})
        assert error["extensions"]["code"] == "CONFLICT" and "is DYNAMIC" in error["message"], error
    static = await create(as_admin, "Picked", contactIds=[ada])
    error = await as_admin.error(UPDATE, {"i": {"id": static["id"], "filter": {"title": {"eq": "lead"}}}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "is STATIC" in error["message"]
    error = await as_admin.error(UPDATE, {"i": {"id": made["id"], "filter": None}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await journey(as_admin, ada) != []  # only Picked's entry
    assert len(await journey(as_admin, ada)) == 1


async def test_a_filter_never_reaches_its_own_segment(as_admin: Api) -> None:
    a = await create(as_admin, "A", filter={"title": {"eq": "lead"}})
    b = await create(as_admin, "B", filter={"segment": {"in": [a["id"]]}})
    error = await as_admin.error(UPDATE, {"i": {"id": a["id"], "filter": {"segment": {"in": [b["id"]]}}}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "itself" in error["message"], error
    error = await as_admin.error(DELETE, {"i": {"id": a["id"]}})
    assert error["extensions"]["code"] == "CONFLICT" and "'B'" in error["message"], error
    await as_admin.data(DELETE, {"i": {"id": b["id"]}})
    assert (await as_admin.data(DELETE, {"i": {"id": a["id"]}}))["deleteSegment"]["deletedId"] == a["id"]
    assert await segment_rows() == (0, 0)


async def test_only_the_creator_a_manager_or_an_admin_changes_a_segment(api: Api, acme: Tenant) -> None:
    admin, manager, rep = (api.as_(k) for k in (acme.admin_key, acme.manager_key, acme.rep_key))
    ada = await contact(admin, "Ada")
    made = await create(admin, "Admin's", contactIds=[])
    for document, extra in ((UPDATE, {"name": "Mine"}), (DELETE, {})):
        error = await rep.error(document, {"i": {"id": made["id"], **extra}})
        assert error["extensions"]["code"] == "FORBIDDEN", error
    # Anyone in the account puts contacts in it.
    assert (await rep.data(ADD, {"i": {"segmentId": made["id"], "contactIds": [ada]}}))["addToSegment"][
        "count"
    ] == 1
    renamed = (await manager.data(UPDATE, {"i": {"id": made["id"], "name": "Team"}}))["updateSegment"]
    assert renamed["name"] == "Team"
    reps = await create(rep, "Rep's", contactIds=[])
    assert (await rep.data(UPDATE, {"i": {"id": reps["id"], "name": "Rep's own"}}))["updateSegment"]["name"]


async def test_other_accounts_segments_and_contacts_are_not_found(
    as_admin: Api, api: Api, globex: Tenant
) -> None:
    them = api.as_(globex.admin_key)
    their_contact = await contact(them, "Grace")
    theirs = await create(them, "Theirs", contactIds=[their_contact])
    ours = await create(as_admin, "Ours", contactIds=[])
    ada = await contact(as_admin, "Ada")
    before = await segment_rows()
    attempts = [
        (UPDATE, {"id": theirs["id"], "name": "Mine"}),
        (DELETE, {"id": theirs["id"]}),
        (ADD, {"segmentId": theirs["id"], "contactIds": [ada]}),
        (REMOVE, {"segmentId": theirs["id"], "contactIds": [ada]}),
        (ADD, {"segmentId": ours["id"], "contactIds": [ada, their_contact]}),
        (CREATE, {"name": "Mixed", "contactIds": [ada, their_contact]}),
    ]
    for document, values in attempts:
        error = await as_admin.error(document, {"i": values})
        assert error["extensions"]["code"] == "NOT_FOUND", (values, error)
    assert await segment_rows() == before
    assert await journey(as_admin, ada) == []
    assert (await as_admin.error(MEMBERS, {"id": theirs["id"], "first": 5}))["extensions"][
        "code"
    ] == "NOT_FOUND"
    error = await as_admin.error(FILTERED, {"f": {"segment": {"in": [theirs["id"]]}}})
    assert error["extensions"]["code"] in ("NOT_FOUND", "BAD_USER_INPUT"), error
    error = await as_admin.error(
        CREATE, {"i": {"name": "Nested", "filter": {"segment": {"in": [theirs["id"]]}}}}
    )
    assert error["extensions"]["code"] in ("NOT_FOUND", "BAD_USER_INPUT"), error


# --------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------


class SegmentListener:
    name = "segment-listener"

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def contact_added_to_segment(self, event: Any) -> None:
        self.events.append(("contact_added_to_segment", event))

    @hookimpl
    def contact_removed_from_segment(self, event: Any) -> None:
        self.events.append(("contact_removed_from_segment", event))

    @hookimpl
    def segment_saved(self, event: Any) -> None:
        self.events.append(("segment_saved", event))

    @hookimpl
    def segment_deleted(self, event: Any) -> None:
        self.events.append(("segment_deleted", event))


async def test_every_mutation_fires_its_hook(running_app: AppFactory) -> None:
    listener = SegmentListener()
    async with running_app(plugins=(listener,), disabled_plugins=builtin_names()) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        ada = await contact(api, "Ada")
        made = await create(api, "Picked", contactIds=[ada])
        await api.data(UPDATE, {"i": {"id": made["id"], "name": "Chosen"}})
        await api.data(REMOVE, {"i": {"segmentId": made["id"], "contactIds": [ada]}})
        await api.data(ADD, {"i": {"segmentId": made["id"], "contactIds": [ada]}})
        await api.data(DELETE, {"i": {"id": made["id"]}})
        await app.runtime.dispatcher.drain()
    hooks = [hook for hook, _ in listener.events]
    assert sorted(hooks) == sorted(
        [
            "segment_saved",
            "contact_added_to_segment",
            "segment_saved",
            "contact_removed_from_segment",
            "contact_added_to_segment",
            "segment_deleted",
        ]
    )
    added = next(e for hook, e in listener.events if hook == "contact_added_to_segment")
    assert added.kind == "ADDED_TO_SEGMENT" and added.contact_id == int(_db_id(ada))
    assert added.subject == {"id": made["id"], "name": "Picked", "kind": "STATIC"}
    deleted = next(e for hook, e in listener.events if hook == "segment_deleted")
    assert deleted.subject == {"id": made["id"], "name": "Chosen", "kind": "STATIC", "members": 1}


def _db_id(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().split(":", 1)[1]


# --------------------------------------------------------------------------------------
# The demo
# --------------------------------------------------------------------------------------


async def test_the_demo_has_views_and_both_kinds_of_segments(api: Api) -> None:
    from dossier.demo import ensure_demo
    from tests.test_demo import SMALL

    demo = await ensure_demo(**SMALL)
    admin = api.as_(demo.api_key)
    views = (await admin.data("{ views { name filter orderBy columns filterCount shared } }"))["views"]
    assert {v["name"] for v in views} == {
        "Customers by deal total",
        "Hot leads this month",
    }  # the shared ones
    for view in views:  # each view's filter and sort run on the contacts table as they are
        found = await admin.data(
            "query($f: ContactFilter, $o: [ContactOrder!])"
            " { contacts(filter: $f, orderBy: $o) { totalCount } }",
            {"f": view["filter"], "o": view["orderBy"]},
        )
        assert found["contacts"]["totalCount"] >= 0
    segments = (await admin.data(SEGMENTS, {"first": 10}))["segments"]["nodes"]
    assert {(s["name"], s["kind"]) for s in segments} == {
        ("Qualified or hot", "DYNAMIC"),
        ("VIP customers", "DYNAMIC"),
        ("Spring campaign", "STATIC"),
    }
    counts = {s["name"]: s["count"] for s in segments}
    assert counts["Spring campaign"] > 0 and counts["Qualified or hot"] > 0
    picked = next(s for s in (await admin.data("{ segments { nodes { id name } } }"))["segments"]["nodes"]
                  if s["name"] == "Spring campaign")  # fmt: skip
    edge = (await admin.data(MEMBERS, {"id": picked["id"], "first": 1}))["node"]["contacts"]["edges"][0]
    entries = await journey(admin, edge["node"]["id"])
    assert [e["kind"] for e in entries] == ["ADDED_TO_SEGMENT"]


async def test_the_readme_examples_run(as_admin: Api) -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Saved views and segments", 1)[1].split("\n### ", 1)[0]
    save_view, make_segments, groups = re.findall(r"```graphql\n(.*?)```", section, flags=re.DOTALL)
    view = (await as_admin.data(save_view))["createView"]
    assert view["filterCount"] == 3 and view["shared"] is True
    found = await as_admin.data(FILTERED.replace("first: 50", "first: 5"), {"f": view["filter"]})
    assert found["contacts"]["totalCount"] == 0
    made = await as_admin.data(make_segments)
    assert (made["vip"]["kind"], made["picked"]["kind"]) == ("DYNAMIC", "STATIC")
    listed = (await as_admin.data(groups))["segments"]["nodes"]
    assert [(s["name"], s["count"]) for s in listed] == [("VIP customers", 0), ("Spring campaign", 0)]


CORPUS: list[dict[str, Any]] = [
    {"tags": {"any": ["vip"]}},
    {"not": {"tags": {"any": ["vip"]}}},
    {"or": [{"firstName": {"startsWith": "a"}}, {"title": {"eq": "lead"}}]},
    {"email": {"isNull": True}},
    {"calls": {"exists": True}},
    {"and": [{"tags": {"none": ["cold"]}}, {"lastName": {"contains": "oe"}}]},
    {"customFields": [{"key": "budget", "gte": 100}]},
]


async def test_a_cards_dynamic_segments_are_exactly_what_their_filters_match(as_admin: Api) -> None:
    """Contact.segments runs every dynamic filter in one statement (a CASE column each): it must
    agree with contacts(filter:) for each kind of clause."""
    field = "mutation($i: CreateCustomFieldInput!) { createCustomField(input: $i) { id } }"
    await as_admin.data(field, {"i": {"key": "budget", "label": "Budget", "type": "NUMBER"}})
    values = "mutation($i: SetCustomFieldValuesInput!) { setCustomFieldValues(input: $i) { id } }"
    tag = "mutation($i: TagInput!) { addTag(input: $i) { id } }"
    call = "mutation($i: ScheduleCallInput!) { scheduleCall(input: $i) { id } }"
    people = [
        ("Ada", "lead", "vip", 150),
        ("Bob", None, "cold", 50),
        ("Amy", None, None, None),
        ("Cy", "x", "vip", None),
    ]
    for first, title, tag_name, budget in people:
        made = await contact(as_admin, first, title)
        if tag_name:
            await as_admin.data(tag, {"i": {"contactId": made, "name": tag_name}})
        if budget is not None:
            await as_admin.data(
                values, {"i": {"contactId": made, "values": [{"key": "budget", "value": budget}]}}
            )
        if first == "Bob":
            await as_admin.data(
                call, {"i": {"contactId": made, "scheduledAt": "2099-01-01T10:00:00Z", "eventName": "Demo"}}
            )
    for index, spec in enumerate(CORPUS):
        await create(as_admin, f"S{index}", filter=spec)
    page = (await as_admin.data(PAGE_SEGMENTS))["contacts"]["nodes"]
    shown = {(n["firstName"], s["name"]) for n in page for s in n["segments"]}
    for index, spec in enumerate(CORPUS):
        matched = (await as_admin.data(FILTERED, {"f": spec}))["contacts"]["nodes"]
        expected = {n["firstName"] for n in matched}
        assert {name for name, segment in shown if segment == f"S{index}"} == expected, spec
