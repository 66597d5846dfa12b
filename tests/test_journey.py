"""The journey (B1, F4): every change on a card, who made it, in order, paged, and append-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.models import Call as CallModel
from crm.models import JourneyEvent as JourneyEventModel
from crm.models.journey import JournalIsAppendOnly
from graph.ids import decode_id, global_id
from tests.conftest import Api, Tenant

CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
ENTRY = """
    id kind occurredAt summary subjectType subjectId
    actor { kind name user { name } }
    changes { field before after }
"""
JOURNEY = f"""
query($id: ID!, $first: Int!, $after: String, $kinds: [JourneyKind!], $order: JourneyOrder!) {{
  contact(id: $id) {{
    journey(first: $first, after: $after, kinds: $kinds, order: $order) {{
      totalCount
      edges {{ cursor node {{ {ENTRY} }} }}
      pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    }}
  }}
}}
"""
NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Call { eventName }
    ... on Deal { productName }
    ... on Note { text }
    ... on JourneyEvent { kind summary }
  }
}
"""


def at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0).isoformat()


async def new_contact(api: Api, first_name: str = "Ada") -> str:
    data = await api.data(CREATE_CONTACT, {"i": {"firstName": first_name, "lastName": "Lovelace"}})
    return data["createContact"]["id"]


async def journey(
    api: Api,
    contact_id: str,
    *,
    first: int = 100,
    after: str | None = None,
    kinds: list[str] | None = None,
    order: str = "NEWEST_FIRST",
) -> dict[str, Any]:
    variables = {"id": contact_id, "first": first, "after": after, "kinds": kinds, "order": order}
    return (await api.data(JOURNEY, variables))["contact"]["journey"]


def nodes(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in page["edges"]]


def changes_of(entry: dict[str, Any]) -> dict[str, list[Any]]:
    return {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}


async def add_notes(api: Api, contact_id: str, count: int, prefix: str = "note") -> None:
    """Many notes in one request: mutations in one document run one after another."""
    fields = " ".join(
        f'n{i}: addNote(input: {{contactId: "{contact_id}", body: "{prefix} {i}"}}) {{ id }}'
        for i in range(count)
    )
    await api.data(f"mutation {{ {fields} }}")


async def a_busy_card(api: Api, acme: Tenant) -> dict[str, Any]:
    """A card touched by an admin and a rep through calls, deals and notes."""
    admin, rep = api.as_(acme.admin_key), api.as_(acme.rep_key)
    contact_id = await new_contact(admin)
    call = (
        await admin.data(
            "mutation($i: ScheduleCallInput!) { scheduleCall(input: $i) { id } }",
            {"i": {"contactId": contact_id, "scheduledAt": at(days=1), "eventName": "Discovery"}},
        )
    )["scheduleCall"]
    await admin.data(
        "mutation($i: RescheduleCallInput!) { rescheduleCall(input: $i) { id } }",
        {"i": {"id": call["id"], "scheduledAt": at(days=2)}},
    )
    await rep.data(
        "mutation($i: CancelCallInput!) { cancelCall(input: $i) { id } }",
        {"i": {"id": call["id"], "reason": "Client on holiday"}},
    )
    past = await CallModel.create(
        contact_id=decode_id(contact_id, "Contact"),
        event_name="Intro",
        scheduled_at=datetime.now(UTC) - timedelta(hours=1),
        duration_minutes=30,
    )
    past_id = str(global_id("Call", past.id))
    await rep.data(
        "mutation($i: SetCallOutcomeInput!) { setCallOutcome(input: $i) { id } }",
        {"i": {"id": past_id, "outcome": "SPOKE"}},
    )
    deal = (
        await admin.data(
            "mutation($i: AddDealInput!) { addDeal(input: $i) { id } }",
            {
                "i": {
                    "contactId": contact_id,
                    "productName": "Mastermind",
                    "amount": "4999.50",
                    "currency": "usd",
                    "paymentType": "PAYMENT_PLAN",
                }
            },
        )
    )["addDeal"]
    await admin.data(
        "mutation($i: UpdateDealInput!) { updateDeal(input: $i) { id } }",
        {"i": {"id": deal["id"], "status": "WON"}},
    )
    note = (
        await rep.data(
            "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }",
            {"i": {"contactId": contact_id, "body": "<b>Paid</b> the deposit"}},
        )
    )["addNote"]
    await rep.data(
        "mutation($i: EditNoteInput!) { editNote(input: $i) { id } }",
        {"i": {"id": note["id"], "body": "<b>Paid</b> the full deposit"}},
    )
    kept = (
        await admin.data(
            "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }",
            {"i": {"contactId": contact_id, "body": "Send a welcome pack"}},
        )
    )["addNote"]
    await admin.data(
        "mutation($i: DeleteNoteInput!) { deleteNote(input: $i) { id } }", {"i": {"id": note["id"]}}
    )
    return {
        "contact": contact_id,
        "call": call["id"],
        "past_call": past_id,
        "deal": deal["id"],
        "note": note["id"],
        "kept_note": kept["id"],
    }


EXPECTED_NEWEST_FIRST = [
    # (kind, actor, subject key)
    ("NOTE_DELETED", "Acme Admin", "note"),
    ("NOTE_ADDED", "Acme Admin", "kept_note"),
    ("NOTE_EDITED", "Acme Rep", "note"),
    ("NOTE_ADDED", "Acme Rep", "note"),
    ("DEAL_UPDATED", "Acme Admin", "deal"),
    ("DEAL_ADDED", "Acme Admin", "deal"),
    ("CALL_OUTCOME_SET", "Acme Rep", "past_call"),
    ("CALL_CANCELLED", "Acme Rep", "call"),
    ("CALL_RESCHEDULED", "Acme Admin", "call"),
    ("CALL_SCHEDULED", "Acme Admin", "call"),
    ("CONTACT_CREATED", "Acme Admin", None),
]


async def test_the_journey_lists_every_change_newest_first(api: Api, acme: Tenant) -> None:
    ids = await a_busy_card(api, acme)
    admin = api.as_(acme.admin_key)

    page = await journey(admin, ids["contact"])
    entries = nodes(page)

    assert page["totalCount"] == len(EXPECTED_NEWEST_FIRST)
    assert [(e["kind"], e["actor"]["name"]) for e in entries] == [(k, a) for k, a, _ in EXPECTED_NEWEST_FIRST]
    for entry, (_, actor, subject) in zip(entries, EXPECTED_NEWEST_FIRST, strict=True):
        assert entry["actor"] == {"kind": "USER", "name": actor, "user": {"name": actor}}
        assert entry["summary"].strip()
        assert entry["subjectId"] == (ids[subject] if subject else None)
    times = [datetime.fromisoformat(e["occurredAt"]) for e in entries]
    assert times == sorted(times, reverse=True)
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["hasPreviousPage"] is False

    by_kind = {e["kind"]: e for e in entries}
    assert by_kind["CALL_SCHEDULED"]["subjectType"] == "Call"
    assert "Discovery" in by_kind["CALL_SCHEDULED"]["summary"]
    before, after = changes_of(by_kind["CALL_RESCHEDULED"])["scheduledAt"]
    assert datetime.fromisoformat(after) - datetime.fromisoformat(before) > timedelta(hours=23)
    assert changes_of(by_kind["CALL_CANCELLED"])["cancelReason"] == [None, "Client on holiday"]
    assert "Client on holiday" in by_kind["CALL_CANCELLED"]["summary"]
    assert changes_of(by_kind["CALL_OUTCOME_SET"]) == {"outcome": [None, "SPOKE"]}
    assert by_kind["DEAL_ADDED"]["subjectType"] == "Deal"
    assert changes_of(by_kind["DEAL_ADDED"])["currency"] == [None, "USD"]
    assert changes_of(by_kind["DEAL_UPDATED"]) == {"status": ["OPEN", "WON"]}
    assert "Mastermind" in by_kind["DEAL_UPDATED"]["summary"]
    assert changes_of(by_kind["NOTE_EDITED"]) == {
        "body": ["<b>Paid</b> the deposit", "<b>Paid</b> the full deposit"]
    }
    assert changes_of(entries[0]) == {"body": ["<b>Paid</b> the full deposit", None]}
    assert "Paid the full deposit" in entries[0]["summary"]


async def test_subject_ids_resolve_through_node(api: Api, acme: Tenant) -> None:
    ids = await a_busy_card(api, acme)
    admin = api.as_(acme.admin_key)
    entries = nodes(await journey(admin, ids["contact"]))

    expected = {
        ids["call"]: ("Call", "eventName", "Discovery"),
        ids["past_call"]: ("Call", "eventName", "Intro"),
        ids["deal"]: ("Deal", "productName", "Mastermind"),
        ids["kept_note"]: ("Note", "text", "Send a welcome pack"),
    }
    seen = set()
    for entry in entries:
        subject = entry["subjectId"]
        if subject is None or subject == ids["note"]:
            continue
        node = (await admin.data(NODE, {"id": subject}))["node"]
        typename, field, value = expected[subject]
        assert node["__typename"] == typename == entry["subjectType"]
        assert node["id"] == subject
        assert node[field] == value
        seen.add(subject)
    assert seen == set(expected)

    # The deleted note's entries still point at it, and the API says plainly that it is gone.
    gone = await admin.error(NODE, {"id": ids["note"]})
    assert gone["extensions"]["code"] == "NOT_FOUND"

    # Journey entries are nodes too.
    first = entries[-1]
    node = (await admin.data(NODE, {"id": first["id"]}))["node"]
    assert node == {"__typename": "JourneyEvent", "id": first["id"], "kind": "CONTACT_CREATED",
                    "summary": first["summary"]}  # fmt: skip


async def test_oldest_first_reverses_the_order(api: Api, acme: Tenant) -> None:
    ids = await a_busy_card(api, acme)
    admin = api.as_(acme.admin_key)

    newest = nodes(await journey(admin, ids["contact"]))
    oldest = await journey(admin, ids["contact"], order="OLDEST_FIRST")

    assert nodes(oldest) == list(reversed(newest))
    assert nodes(oldest)[0]["kind"] == "CONTACT_CREATED"
    assert oldest["totalCount"] == len(newest)


async def test_kinds_filter_the_entries_and_the_total(api: Api, acme: Tenant) -> None:
    ids = await a_busy_card(api, acme)
    admin = api.as_(acme.admin_key)

    notes_added = await journey(admin, ids["contact"], kinds=["NOTE_ADDED"])
    assert [e["kind"] for e in nodes(notes_added)] == ["NOTE_ADDED", "NOTE_ADDED"]
    assert [e["subjectId"] for e in nodes(notes_added)] == [ids["kept_note"], ids["note"]]
    assert notes_added["totalCount"] == 2

    calls = await journey(
        admin,
        ids["contact"],
        kinds=["CALL_CANCELLED", "CALL_SCHEDULED", "CALL_SCHEDULED"],
        order="OLDEST_FIRST",
    )
    assert [e["kind"] for e in nodes(calls)] == ["CALL_SCHEDULED", "CALL_CANCELLED"]
    assert calls["totalCount"] == 2

    none = await journey(admin, ids["contact"], kinds=["TAG_ADDED"])
    assert nodes(none) == []
    assert none["totalCount"] == 0
    assert none["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None,
                                "endCursor": None}  # fmt: skip

    unfiltered = await journey(admin, ids["contact"], kinds=[])
    assert unfiltered["totalCount"] == len(EXPECTED_NEWEST_FIRST)


async def test_unknown_kind_is_bad_input(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    error = await as_admin.error(
        JOURNEY, {"id": contact_id, "first": 10, "kinds": ["NOTE_WRITTEN"], "order": "NEWEST_FIRST"}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "NOTE_WRITTEN" in error["message"]


async def walk(api: Api, contact_id: str, size: int, **options: Any) -> tuple[list[dict], list[dict]]:
    """All entries page by page; returns the entries and each page's info."""
    entries: list[dict[str, Any]] = []
    infos: list[dict[str, Any]] = []
    after = None
    while True:
        page = await journey(api, contact_id, first=size, after=after, **options)
        infos.append({**page["pageInfo"], "count": len(page["edges"]), "total": page["totalCount"]})
        entries.extend(nodes(page))
        assert page["pageInfo"]["endCursor"] == (page["edges"][-1]["cursor"] if page["edges"] else None)
        assert page["pageInfo"]["startCursor"] == (page["edges"][0]["cursor"] if page["edges"] else None)
        if not page["pageInfo"]["hasNextPage"]:
            return entries, infos
        after = page["pageInfo"]["endCursor"]
        assert len(infos) < 20, "pagination does not end"


async def test_pages_walk_every_entry_exactly_once(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    await add_notes(as_admin, contact_id, 24)  # 25 entries with CONTACT_CREATED
    everything = nodes(await journey(as_admin, contact_id))
    assert len(everything) == 25

    entries, infos = await walk(as_admin, contact_id, 10)

    assert entries == everything
    assert len({e["id"] for e in entries}) == 25
    assert [(i["count"], i["hasNextPage"], i["hasPreviousPage"]) for i in infos] == [
        (10, True, False),
        (10, True, True),
        (5, False, True),
    ]
    assert {i["total"] for i in infos} == {25}
    assert entries[0]["summary"].endswith("note 23")
    assert entries[-1]["kind"] == "CONTACT_CREATED"


async def test_pages_oldest_first_and_filtered(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    await add_notes(as_admin, contact_id, 24)

    oldest, infos = await walk(as_admin, contact_id, 10, order="OLDEST_FIRST")
    assert [i["count"] for i in infos] == [10, 10, 5]
    assert oldest == list(reversed(nodes(await journey(as_admin, contact_id))))

    # An exact multiple of the page size: the last full page says there is no more.
    notes, infos = await walk(as_admin, contact_id, 8, kinds=["NOTE_ADDED"])
    assert [(i["count"], i["hasNextPage"]) for i in infos] == [(8, True), (8, True), (8, False)]
    assert {i["total"] for i in infos} == {24}
    assert len({e["id"] for e in notes}) == 24
    assert all(e["kind"] == "NOTE_ADDED" for e in notes)


async def test_cursor_past_the_end_gives_an_empty_page(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    page = await journey(as_admin, contact_id, first=5)
    assert len(page["edges"]) == 1
    after = await journey(as_admin, contact_id, first=5, after=page["pageInfo"]["endCursor"])
    assert after["edges"] == []
    assert after["pageInfo"]["hasNextPage"] is False
    assert after["totalCount"] == 1


async def test_each_card_in_a_list_gets_its_own_journey(as_admin: Api, acme: Tenant) -> None:
    busy = await new_contact(as_admin, "Busy")
    quiet = await new_contact(as_admin, "Quiet")
    await add_notes(as_admin, busy, 4, prefix="busy")
    await add_notes(as_admin, quiet, 1, prefix="quiet")

    data = await as_admin.data(
        "{ contacts(first: 10) { nodes { firstName journey(first: 3) { totalCount "
        "nodes { summary } pageInfo { hasNextPage } } } } }"
    )
    by_name = {c["firstName"]: c["journey"] for c in data["contacts"]["nodes"]}

    assert by_name["Busy"]["totalCount"] == 5
    assert by_name["Busy"]["pageInfo"]["hasNextPage"] is True
    assert [n["summary"][-6:] for n in by_name["Busy"]["nodes"]] == ["busy 3", "busy 2", "busy 1"]
    assert by_name["Quiet"]["totalCount"] == 2
    assert by_name["Quiet"]["pageInfo"]["hasNextPage"] is False
    assert by_name["Quiet"]["nodes"][0]["summary"].endswith("quiet 0")


@pytest.mark.parametrize("first", [0, -1, 101, 1000])
async def test_page_size_out_of_range_is_bad_input(as_admin: Api, acme: Tenant, first: int) -> None:
    contact_id = await new_contact(as_admin)
    error = await as_admin.error(JOURNEY, {"id": contact_id, "first": first, "order": "NEWEST_FIRST"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "between 1 and 100" in error["message"]


async def test_page_size_of_100_is_fine(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    page = await journey(as_admin, contact_id, first=100)
    assert page["totalCount"] == 1


async def test_a_cursor_from_another_list_is_bad_input(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    await new_contact(as_admin, "Other")
    contacts = await as_admin.data("{ contacts(first: 1) { pageInfo { endCursor } } }")
    foreign_cursor = contacts["contacts"]["pageInfo"]["endCursor"]
    assert foreign_cursor

    for cursor in (foreign_cursor, "not-a-cursor", contact_id):
        error = await as_admin.error(
            JOURNEY, {"id": contact_id, "first": 10, "after": cursor, "order": "NEWEST_FIRST"}
        )
        assert error["extensions"]["code"] == "BAD_USER_INPUT", cursor
        assert "not a cursor from this list" in error["message"]


async def test_the_api_has_no_way_to_change_the_journey(as_admin: Api, acme: Tenant) -> None:
    data = await as_admin.data('{ __type(name: "Mutation") { fields { name } } }')
    names = [f["name"] for f in data["__type"]["fields"]]
    assert "addNote" in names  # the introspection worked
    assert [n for n in names if "journey" in n.lower()] == []


async def test_journey_rows_refuse_to_be_edited_or_deleted(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    row = await JourneyEventModel.get(contact_id=decode_id(contact_id, "Contact"))
    original = row.summary

    row.summary = "nothing happened here"
    with pytest.raises(JournalIsAppendOnly):
        await row.save()
    with pytest.raises(JournalIsAppendOnly):
        await row.delete()

    stored = await JourneyEventModel.get(id=row.id)
    assert stored.summary == original
    entries = nodes(await journey(as_admin, contact_id))
    assert [(e["kind"], e["summary"]) for e in entries] == [("CONTACT_CREATED", original)]
