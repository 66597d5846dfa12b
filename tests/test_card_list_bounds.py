"""A card's plain lists are bounded: at most 100 items per field, `first` for fewer, `after` for more.

Rows are seeded straight into the tables (set-up only, as in tests/test_statement_counts.py):
one contact carries 105 calls, deals, notes, tags, UTMs and form answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from crm.clock import utcnow
from crm.models import Call, Contact, ContactTag, Deal, FormAnswer, Note, Tag, Utm
from graph.ids import encode_cursor, global_id_text
from tests.conftest import Api, Tenant
from tests.test_statement_counts import Sizes, account_of, add_contacts, add_users, fill_sections

MANY = Sizes(journey=0, calls=105, deals=105, notes=105, tags=105, utms=105, answers=105)

CARD = "query Card($id: ID!) { contact(id: $id) { %s } }"


def gid(type_name: str, node_id: int) -> str:
    return global_id_text(type_name, node_id)


@dataclass
class Card:
    """A contact with 105 items in every list, and each list's ids in its documented order."""

    id: str
    contact_id: int
    orders: dict[str, list[str]]  # field (calls by `when`) -> its items' ids or cursors, in order


async def expected_orders(contact_id: int) -> dict[str, list[str]]:
    now = utcnow()
    calls = (
        await Call.filter(contact_id=contact_id).order_by("scheduled_at", "id").values("id", "scheduled_at")
    )
    tags = await ContactTag.filter(contact_id=contact_id).values("tag__id", "tag__name")
    deals = await Deal.filter(contact_id=contact_id).order_by("created_at", "id").values_list("id", flat=True)
    notes = (
        await Note.filter(contact_id=contact_id).order_by("-created_at", "-id").values_list("id", flat=True)
    )
    utms = await Utm.filter(contact_id=contact_id).order_by("captured_at", "id").values_list("id", flat=True)
    answers = (
        await FormAnswer.filter(contact_id=contact_id)
        .order_by("answered_at", "id")
        .values_list("id", flat=True)
    )
    return {
        "ALL": [gid("Call", c["id"]) for c in calls],
        "UPCOMING": [gid("Call", c["id"]) for c in calls if c["scheduled_at"] > now],
        "PAST": [gid("Call", c["id"]) for c in reversed(calls) if c["scheduled_at"] <= now],
        "deals": [gid("Deal", i) for i in deals],
        "notes": [gid("Note", i) for i in notes],
        "tags": [
            gid("Tag", t["tag__id"]) for t in sorted(tags, key=lambda t: (t["tag__name"], t["tag__id"]))
        ],
        # UTMs and answers have no ids: their cursors, as the API writes them.
        "utms": [cursor("utm", i) for i in utms],
        "formAnswers": [cursor("answer", i) for i in answers],
    }


def cursor(kind: str, row_id: int) -> str:
    return encode_cursor(kind, row_id)


async def seed_card(tenant: Tenant, sizes: Sizes = MANY, contacts: int = 1) -> list[Card]:
    """`contacts` cards of `tenant`, each with `sizes` items; users and tags are new each time."""
    account_id = await account_of(tenant)
    prefix = f"bounds{await Contact.filter(account_id=account_id).count()}"
    users = await add_users(account_id, 2, prefix)
    await Tag.bulk_create(
        [
            Tag(account_id=account_id, name=f"{prefix} {i:03}", key=f"{prefix} {i:03}")
            for i in range(sizes.tags)
        ]
    )
    tag_ids = await Tag.filter(account_id=account_id, key__startswith=prefix).values_list("id", flat=True)
    ids = await add_contacts(account_id, [(None, None, None)] * contacts)
    cards = []
    for contact_id in ids:
        await fill_sections(account_id, [contact_id], sizes, users, tag_ids)
        cards.append(Card(gid("Contact", contact_id), contact_id, await expected_orders(contact_id)))
    return cards


@pytest.fixture
async def card(acme: Tenant) -> Card:
    return (await seed_card(acme))[0]


# Each list as a field selection: (selection with $first/$after, how to read an item's id).
LISTS: dict[str, tuple[str, str, str]] = {
    # key: (field with arguments, the `after` variable's type, the item's key in the response)
    "ALL": ("calls(when: ALL, first: $first, after: $after) { id }", "ID", "id"),
    "UPCOMING": ("calls(when: UPCOMING, first: $first, after: $after) { id }", "ID", "id"),
    "PAST": ("calls(when: PAST, first: $first, after: $after) { id }", "ID", "id"),
    "deals": ("deals(first: $first, after: $after) { id }", "ID", "id"),
    "notes": ("notes(first: $first, after: $after) { id }", "ID", "id"),
    "tags": ("tags(first: $first, after: $after) { id }", "ID", "id"),
    "utms": ("utms(first: $first, after: $after) { cursor }", "String", "cursor"),
    "formAnswers": ("formAnswers(first: $first, after: $after) { cursor }", "String", "cursor"),
}


def page_query(name: str) -> str:
    selection, after_type, _ = LISTS[name]
    return (
        f"query Page($id: ID!, $first: Int!, $after: {after_type}) "
        f"{{ contact(id: $id) {{ items: {selection} }} }}"
    )


async def read_page(api: Api, card: Card, name: str, first: int, after: str | None) -> list[str]:
    data = await api.data(page_query(name), {"id": card.id, "first": first, "after": after})
    item_key = LISTS[name][2]
    return [item[item_key] for item in data["contact"]["items"]]


# --------------------------------------------------------------------------------------
# Bounds
# --------------------------------------------------------------------------------------


async def test_every_list_gives_at_most_100_by_default_and_first_gives_fewer(
    as_admin: Api, card: Card
) -> None:
    query = CARD % (
        "calls { id } upcoming: calls(when: UPCOMING) { id } past: calls(when: PAST) { id }"
        " deals { id } notes { id } tags { id } utms { cursor } formAnswers { cursor }"
        " fewCalls: calls(first: 5) { id } fewNotes: notes(first: 5) { id } fewTags: tags(first: 5) { id }"
        " fewDeals: deals(first: 5) { id } fewUtms: utms(first: 5) { cursor }"
        " fewAnswers: formAnswers(first: 5) { cursor } lastBookedEvent"
    )
    contact = (await as_admin.data(query, {"id": card.id}))["contact"]
    orders = card.orders
    assert len(orders["ALL"]) == 105 and len(orders["notes"]) == 105 and len(orders["tags"]) == 105
    assert [c["id"] for c in contact["calls"]] == orders["ALL"][:100]
    assert [c["id"] for c in contact["upcoming"]] == orders["UPCOMING"][:100]
    assert [c["id"] for c in contact["past"]] == orders["PAST"][:100]
    for name in ("deals", "notes", "tags"):
        assert [item["id"] for item in contact[name]] == orders[name][:100], name
    for name in ("utms", "formAnswers"):
        assert [item["cursor"] for item in contact[name]] == orders[name][:100], name
    assert [c["id"] for c in contact["fewCalls"]] == orders["ALL"][:5]
    assert [n["id"] for n in contact["fewNotes"]] == orders["notes"][:5]
    assert [t["id"] for t in contact["fewTags"]] == orders["tags"][:5]
    assert [d["id"] for d in contact["fewDeals"]] == orders["deals"][:5]
    assert [u["cursor"] for u in contact["fewUtms"]] == orders["utms"][:5]
    assert [a["cursor"] for a in contact["fewAnswers"]] == orders["formAnswers"][:5]
    # The latest booked call is found among all 105, not only the first page.
    latest = await Call.filter(contact_id=card.contact_id).order_by("-created_at", "-id").first()
    assert latest is not None and contact["lastBookedEvent"] == latest.event_name


@pytest.mark.parametrize("name", list(LISTS))
async def test_after_pages_to_the_end_without_overlap_or_gap(as_admin: Api, card: Card, name: str) -> None:
    expected = card.orders[name]
    seen: list[str] = []
    after = None
    while True:
        page = await read_page(as_admin, card, name, 40, after)
        seen.extend(page)
        if len(page) < 40:
            break
        after = page[-1]
    assert seen == expected
    assert len(set(seen)) == len(seen)


async def test_after_the_last_item_the_list_is_empty(as_admin: Api, card: Card) -> None:
    assert await read_page(as_admin, card, "notes", 100, card.orders["notes"][-1]) == []
    assert await read_page(as_admin, card, "utms", 100, card.orders["utms"][-1]) == []


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [0, -1, 101, 10_000])
@pytest.mark.parametrize("name", ["ALL", "deals", "notes", "tags", "utms", "formAnswers"])
async def test_first_outside_1_to_100_is_bad_input(as_admin: Api, card: Card, name: str, first: int) -> None:
    body = await as_admin.post(page_query(name), {"id": card.id, "first": first, "after": None})
    assert body["data"] == {"contact": None}
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
    assert "between 1 and 100" in error["message"]


async def after_error(api: Api, card: Card, name: str, after: str) -> dict[str, Any]:
    body = await api.post(page_query(name), {"id": card.id, "first": 5, "after": after})
    # The lists are non-null: the error nulls the card, and no item of any list is returned.
    assert body["data"] == {"contact": None}, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == "after"
    return error


async def test_after_must_name_an_item_of_this_contacts_list(
    api: Api, acme: Tenant, globex: Tenant, card: Card
) -> None:
    as_admin = api.as_(acme.admin_key)
    [other] = await seed_card(acme, Sizes(0, 3, 3, 3, 3, 3, 3))
    [foreign] = await seed_card(globex, Sizes(0, 3, 3, 3, 3, 3, 3))
    for name in ("ALL", "deals", "notes", "tags", "utms", "formAnswers"):
        # An item of another contact of the same account, and one of another account.
        neighbour = await after_error(as_admin, card, name, other.orders[name][0])
        stranger = await after_error(as_admin, card, name, foreign.orders[name][0])
        # An id of another account reads exactly like one of another contact: nothing leaks.
        assert stranger["message"] == neighbour["message"].replace(
            other.orders[name][0], foreign.orders[name][0]
        )
    # Malformed, of the wrong type, or naming nothing.
    await after_error(as_admin, card, "notes", "not an id")
    wrong_type = await after_error(as_admin, card, "notes", card.orders["deals"][0])
    assert "is a Deal id, not a Note id" in wrong_type["message"]
    await after_error(as_admin, card, "notes", gid("Note", 2**31 - 1))
    await after_error(as_admin, card, "utms", card.orders["formAnswers"][0])
    # A call of this contact is a valid bound for every `when`, even one it is not in.
    upcoming_after_past = await read_page(as_admin, card, "UPCOMING", 100, card.orders["PAST"][0])
    assert upcoming_after_past == card.orders["UPCOMING"]


# --------------------------------------------------------------------------------------
# Slices side by side, and their cost
# --------------------------------------------------------------------------------------

ALIASES = """
query Aliases($id: ID!, $note: ID!, $call: ID!, $tag: ID!, $utm: String!) {
  contact(id: $id) {
    a: notes(first: 3) { id }
    b: notes(first: 3, after: $note) { id }
    c: notes { id }
    d: notes(first: 2) { id }
    soon: calls(when: UPCOMING, first: 2) { id }
    later: calls(when: UPCOMING, first: 2, after: $call) { id }
    before: calls(when: PAST, first: 1) { id }
    t1: tags(first: 1) { id }
    t2: tags(first: 1, after: $tag) { id }
    u1: utms(first: 1) { cursor }
    u2: utms(first: 2, after: $utm) { cursor }
  }
}
"""
ONE_EACH = """
query One($id: ID!) {
  contact(id: $id) {
    notes(first: 3) { id } calls(when: UPCOMING, first: 2) { id }
    tags(first: 1) { id } utms(first: 1) { cursor }
  }
}
"""


async def test_aliases_on_one_contact_each_get_their_slice_in_one_statement_per_list(
    as_admin: Api, card: Card, count_statements: Any
) -> None:
    orders = card.orders
    variables = {
        "id": card.id,
        "note": orders["notes"][10],
        "call": orders["UPCOMING"][1],
        "tag": orders["tags"][0],
        "utm": orders["utms"][50],
    }
    with count_statements() as aliased:
        contact = (await as_admin.data(ALIASES, variables))["contact"]
    with count_statements() as plain:
        await as_admin.data(ONE_EACH, {"id": card.id})

    def ids(alias: str) -> list[str]:
        return [item.get("id") or item["cursor"] for item in contact[alias]]

    assert ids("a") == orders["notes"][:3]
    assert ids("b") == orders["notes"][11:14]
    assert ids("c") == orders["notes"][:100]
    assert ids("d") == orders["notes"][:2]
    assert ids("soon") == orders["UPCOMING"][:2]
    assert ids("later") == orders["UPCOMING"][2:4]
    assert ids("before") == orders["PAST"][:1]
    assert ids("t1") == orders["tags"][:1] and ids("t2") == orders["tags"][1:2]
    assert ids("u1") == orders["utms"][:1] and ids("u2") == orders["utms"][51:53]
    # Eleven slices of four lists cost what four plain lists cost: one statement per list.
    assert aliased.count == plain.count, "\n".join(aliased.statements)


PAGE = """
query Page($first: Int!) {
  contacts(first: $first) {
    edges { node { id
      notes(first: 2) { id } allNotes: notes { id } calls(when: PAST, first: 3) { id } deals { id }
      tags(first: 4) { id } formAnswers(first: 1) { cursor } lastBookedEvent
    } }
  }
}
"""


async def test_a_page_of_contacts_each_get_their_own_slice_at_the_cost_of_one(
    as_admin: Api, acme: Tenant, count_statements: Any
) -> None:
    cards = await seed_card(acme, Sizes(0, 8, 6, 105, 5, 0, 3), contacts=4)
    with count_statements() as one:
        await as_admin.data(PAGE, {"first": 1})
    with count_statements() as four:
        data = await as_admin.data(PAGE, {"first": 4})
    nodes = {edge["node"]["id"]: edge["node"] for edge in data["contacts"]["edges"]}
    assert set(nodes) == {card.id for card in cards}
    for card in cards:
        node, orders = nodes[card.id], card.orders
        assert [n["id"] for n in node["notes"]] == orders["notes"][:2]
        assert [n["id"] for n in node["allNotes"]] == orders["notes"][:100]
        assert [c["id"] for c in node["calls"]] == orders["PAST"][:3]
        assert [d["id"] for d in node["deals"]] == orders["deals"]
        assert [t["id"] for t in node["tags"]] == orders["tags"][:4]
        assert [a["cursor"] for a in node["formAnswers"]] == orders["formAnswers"][:1]
        assert node["lastBookedEvent"] is not None
    assert one.count == four.count, "\n".join(four.statements)
