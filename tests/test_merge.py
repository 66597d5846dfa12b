"""D2: mergeContacts / unmergeContacts, Contact.merges and Contact.duplicateCandidates."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.models import ContactTag, Merge, Message, Note, Tag
from crm.models.contacts import every_contact
from crm.services import merges as merge_service
from crm.services.merges import contact_sections
from graph.ids import decode_id
from plugins.manager import builtin_names
from tests.conftest import Api, Tenant, make_tenant
from tests.test_hooks import Recorder
from tests.test_statement_counts import CARD_FIELDS as FULL_CARD_FIELDS

# The full card, as a client shows it; the journey and the merge history are what a merge and
# its undoing add to, so the round trip leaves them aside.
CARD = """
fragment Card on Contact {
  id displayName firstName lastName businessName title contactType
  email secondaryEmail phone secondaryPhone ipAddress status subStatus convertedAt
  okToSms smsBlockedReason phoneLineType phoneCheckedAt archivedAt createdAt updatedAt
  address { street city state zip country }
  setterOwner { name } closerOwner { name } assignedTo { name }
  lastBookedEvent
  tags { id name }
  utms { source medium campaign term content capturedAt }
  formAnswers { question answer form answeredAt }
  leads { id formName status matchReason }
  calls { id eventName scheduledAt outcome }
  deals { id productName amount currency status }
  notes { id body createdAt }
  messages(first: 50) { edges { node { id channel body status } } }
  duplicateCandidates { reason contact { id } }
}
"""
GET = "query($id: ID!) { contact(id: $id) { ...Card } }" + CARD


def without(document: str, *fields: str) -> str:
    """`document` with each selection of the named fields (arguments and sub-selection) cut out."""
    for name in fields:
        while (start := document.find(f"  {name}(")) >= 0 or (start := document.find(f"  {name} {{")) >= 0:
            opening = document.index("{", start)
            depth, end = 0, opening
            for end in range(opening, len(document)):
                depth += {"{": 1, "}": -1}.get(document[end], 0)
                if depth == 0:
                    break
            document = document[:start] + document[end + 1 :]
    return document


# The statement-count test's card, the fullest the suite asks for, journey and merges aside.
FULL = "query($id: ID!) { contact(id: $id) { ...Card } }" + without(FULL_CARD_FIELDS, "journey", "merges")
MERGE = """
mutation($i: MergeContactsInput!) {
  mergeContacts(input: $i) {
    contact { id firstName lastName email phone secondaryPhone title okToSms tags { name }
              notes { id } calls { id } deals { id } leads { id } utms { source } formAnswers { question }
              journey(first: 5) { nodes { kind summary subjectType changes { field before after } } } }
    merge { id createdAt undoneAt actor { kind name } absorbed { id displayName }
            moved { kind count } filled { field fromContactId value } primary { id } }
  }
}
"""
UNMERGE = """
mutation($i: UnmergeContactsInput!) {
  unmergeContacts(input: $i) { merge { id undoneAt undoneBy } contacts { id displayName } }
}
"""
MERGES = """
query($id: ID!, $first: Int, $after: ID) {
  contact(id: $id) {
    merges(first: $first, after: $after) { id undoneAt absorbed { id } moved { kind count } }
  }
}
"""
CANDIDATES = "query($id: ID!) { contact(id: $id) { duplicateCandidates { reason contact { id } } } }"
COUNT = "{ contacts(first: 100) { totalCount nodes { id } } }"


def gid(type_name: str, number: int) -> str:
    return base64.b64encode(f"{type_name}:{number}".encode()).decode()


async def create(api: Api, **fields: Any) -> str:
    document = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
    return (await api.data(document, {"i": fields}))["createContact"]["id"]


async def fill(api: Api, contact_id: str, mark: str, *, tags: tuple[str, ...] = ()) -> None:
    """A call, a deal, a note, a message and tags on the card."""
    soon = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()
    await api.data(
        "mutation($i: ScheduleCallInput!) { scheduleCall(input: $i) { id } }",
        {"i": {"contactId": contact_id, "scheduledAt": soon, "eventName": f"Demo {mark}"}},
    )
    await api.data(
        "mutation($i: AddDealInput!) { addDeal(input: $i) { id } }",
        {
            "i": {
                "contactId": contact_id,
                "productName": f"Plan {mark}",
                "amount": "100.00",
                "currency": "USD",
                "paymentType": "ONE_TIME",
            }
        },
    )
    await add_note(api, contact_id, f"Note {mark}")
    # An inbound text, as the SMS webhook stores one (no provider runs in these tests).
    await Message.create(
        contact_id=decode_id(contact_id, "Contact"),
        channel="SMS",
        direction="INBOUND",
        status="RECEIVED",
        to_address="+14155550000",
        from_address="+14155550100",
        body=f"Text {mark}",
    )
    for tag in tags:
        await api.data(
            "mutation($i: TagInput!) { addTag(input: $i) { id } }",
            {"i": {"contactId": contact_id, "name": tag}},
        )


async def add_note(api: Api, contact_id: str, body: str) -> str:
    document = "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }"
    return (await api.data(document, {"i": {"contactId": contact_id, "body": body}}))["addNote"]["id"]


async def lead(api: Api, email: str, form: str) -> None:
    await api.data(
        "mutation($i: SubmitLeadInput!) { submitLead(input: $i) { lead { id } } }",
        {
            "i": {
                "formName": form,
                "email": email,
                "answers": [{"question": "Budget?", "answer": form}],
                "utm": {"source": form.lower(), "campaign": "spring"},
            }
        },
    )


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(GET, {"id": contact_id}))["contact"]


async def merge(api: Api, primary: str, *duplicates: str) -> dict[str, Any]:
    return (await api.data(MERGE, {"i": {"primaryId": primary, "duplicateIds": list(duplicates)}}))[
        "mergeContacts"
    ]


async def unmerge(api: Api, merge_id: str) -> dict[str, Any]:
    return (await api.data(UNMERGE, {"i": {"mergeId": merge_id}}))["unmergeContacts"]


async def merge_error(api: Api, primary: str, *duplicates: str) -> dict[str, Any]:
    return await api.error(MERGE, {"i": {"primaryId": primary, "duplicateIds": list(duplicates)}})


async def unmerge_error(api: Api, merge_id: str) -> dict[str, Any]:
    return await api.error(UNMERGE, {"i": {"mergeId": merge_id}})


async def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every contact section, and the contacts themselves, for 'nothing changed'."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for model in contact_sections():
        rows[model._meta.db_table] = sorted(await model.all().values_list("id", "contact_id"))
    rows["contact"] = sorted(
        await every_contact().values_list("id", "merged_into_id", "email", "phone", "title")
    )
    rows["merge"] = sorted(await Merge.all().values_list("id", "undone_at"))
    return rows


@pytest.fixture
async def pair(as_admin: Api) -> tuple[str, str]:
    """Two cards of one person: the primary has a phone, the duplicate an email, title and a second phone."""
    primary = await create(as_admin, firstName="Ann", lastName="Lee", phone="+14155550100")
    duplicate = await create(
        as_admin,
        firstName="Ann",
        lastName="Lee",
        email="ann@example.com",
        title="CTO",
        secondaryPhone="+14155550199",
        utm={"source": "google", "campaign": "dup"},
        formAnswers=[{"question": "Size?", "answer": "50"}],
    )
    return primary, duplicate


# --------------------------------------------------------------------------------------
# mergeContacts
# --------------------------------------------------------------------------------------


async def test_merge_moves_every_section_fills_empty_fields_and_hides_the_duplicate(
    as_admin: Api, pair: tuple[str, str]
) -> None:
    primary, duplicate = pair
    await fill(as_admin, primary, "P", tags=("VIP", "Hot"))
    await fill(as_admin, duplicate, "D", tags=("VIP", "Cold"))
    await lead(as_admin, "ann@example.com", "Webinar")  # matched to the duplicate by email
    before_total = (await as_admin.data(COUNT))["contacts"]["totalCount"]

    result = await merge(as_admin, primary, duplicate)

    merged = result["contact"]
    assert merged["id"] == primary
    # Filled where empty, never overwritten: the primary's phone stays, the duplicate's email,
    # title and second phone fill its gaps.
    assert (merged["firstName"], merged["phone"], merged["email"], merged["title"]) == (
        "Ann",
        "+14155550100",
        "ann@example.com",
        "CTO",
    )
    assert merged["secondaryPhone"] == "+14155550199"
    assert sorted(t["name"] for t in merged["tags"]) == ["Cold", "Hot", "VIP"]
    assert (len(merged["notes"]), len(merged["calls"]), len(merged["deals"]), len(merged["leads"])) == (
        2,
        2,
        2,
        1,
    )
    assert [u["source"] for u in merged["utms"]] == ["google", "webinar"]
    assert {a["question"] for a in merged["formAnswers"]} == {"Size?", "Budget?"}
    entry = merged["journey"]["nodes"][0]
    assert entry["kind"] == "CONTACTS_MERGED" and entry["subjectType"] == "Merge"
    assert "Ann Lee" in entry["summary"]
    assert {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}["email"] == [
        None,
        "ann@example.com",
    ]

    record = result["merge"]
    assert record["undoneAt"] is None and record["actor"] == {"kind": "USER", "name": "Acme Admin"}
    assert record["absorbed"] == [{"id": duplicate, "displayName": "Ann Lee"}]
    assert record["primary"]["id"] == primary
    moved = {m["kind"]: m["count"] for m in record["moved"]}
    # VIP was on both: the primary keeps its own link, the duplicate's stays with it (hidden).
    assert moved["Tag"] == 1 and moved["Call"] == 1 and moved["Deal"] == 1 and moved["Note"] == 1
    assert moved["Message"] == 1 and moved["Lead"] == 1 and moved["Utm"] == 2 and moved["FormAnswer"] == 2
    assert moved["JourneyEvent"] >= 6  # created, call, deal, note, tags, lead
    filled = {f["field"]: f for f in record["filled"]}
    assert set(filled) == {"email", "title", "secondaryPhone"}
    assert filled["email"] == {"field": "email", "fromContactId": duplicate, "value": "ann@example.com"}

    # The duplicate's journey moved too: the merged card tells the whole story.
    journey = await as_admin.data(
        "query($id: ID!) { contact(id: $id) { journey(first: 100) { nodes { summary } } } }", {"id": primary}
    )
    assert any(
        "Note D" in n["summary"] or "Plan D" in n["summary"] for n in journey["contact"]["journey"]["nodes"]
    )

    # The duplicate is hidden: not in the list, the count, search, or by id (which names the primary).
    listing = (await as_admin.data(COUNT))["contacts"]
    assert listing["totalCount"] == before_total - 1 and duplicate not in {n["id"] for n in listing["nodes"]}
    found = await as_admin.data('{ contacts(search: "ann@example.com") { totalCount } }')
    assert found["contacts"]["totalCount"] == 1
    error = await as_admin.error(GET, {"id": duplicate})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "merged into contact" in error["message"] and primary in error["message"]
    error = await as_admin.error("query($id: ID!) { node(id: $id) { id } }", {"id": duplicate})
    assert error["extensions"]["code"] == "NOT_FOUND"
    # Writes to the absorbed contact are refused like any unknown contact.
    error = await as_admin.error(
        "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }",
        {"i": {"contactId": duplicate, "body": "x"}},
    )
    assert error["extensions"]["code"] == "NOT_FOUND"

    listed = (await as_admin.data(MERGES, {"id": primary}))["contact"]["merges"]
    assert [m["id"] for m in listed] == [record["id"]]
    node = await as_admin.data(
        "query($id: ID!) { node(id: $id) { ... on ContactMerge { id } } }", {"id": record["id"]}
    )
    assert node["node"]["id"] == record["id"]


async def test_merge_several_fills_from_the_first_that_has_a_field(as_admin: Api) -> None:
    primary = await create(as_admin, firstName="Bo")
    first = await create(as_admin, firstName="Bo", businessName="First Co")
    second = await create(as_admin, firstName="Bo", businessName="Second Co", lastName="Ng")
    result = await merge(as_admin, primary, first, second)
    filled = {f["field"]: f["fromContactId"] for f in result["merge"]["filled"]}
    assert filled == {"businessName": first, "lastName": second}
    assert [a["id"] for a in result["merge"]["absorbed"]] == [first, second]


async def test_the_duplicates_other_email_and_phone_land_in_the_empty_secondary_slots(as_admin: Api) -> None:
    primary = await create(as_admin, firstName="Jo", email="jo@example.com", phone="+14155550160")
    duplicate = await create(as_admin, firstName="Jo", email="jo@work.example.com", phone="+14155550161")
    result = await merge(as_admin, primary, duplicate)
    merged = result["contact"]
    assert (merged["email"], merged["phone"]) == ("jo@example.com", "+14155550160")  # never overwritten
    assert merged["secondaryPhone"] == "+14155550161"
    filled = {f["field"]: f["value"] for f in result["merge"]["filled"]}
    assert filled == {"secondaryEmail": "jo@work.example.com", "secondaryPhone": "+14155550161"}
    # So the merged card answers for the duplicate's number.
    found = await as_admin.data('{ contactByPhone(phone: "(415) 555-0161") { id } }')
    assert found["contactByPhone"]["id"] == primary


async def test_a_filled_phone_brings_its_consent_along(as_admin: Api) -> None:
    primary = await create(as_admin, firstName="Cy")
    duplicate = await create(as_admin, firstName="Cy", phone="+14155550111")
    await as_admin.data(
        "mutation($i: SetSmsConsentInput!) { setSmsConsent(input: $i) { okToSms } }",
        {"i": {"contactId": duplicate, "okToSms": True}},
    )
    result = await merge(as_admin, primary, duplicate)
    assert result["contact"]["phone"] == "+14155550111" and result["contact"]["okToSms"] is True
    assert {f["field"] for f in result["merge"]["filled"]} == {"phone", "okToSms"}


# --------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------


async def test_bad_merges_are_refused_and_change_nothing(
    as_admin: Api, api: Api, acme: Tenant, globex: Tenant, pair: tuple[str, str]
) -> None:
    primary, duplicate = pair
    third = await create(as_admin, firstName="Third")
    theirs = await create(api.as_(globex.admin_key), firstName="Theirs")
    before = await snapshot()

    cases: list[tuple[str, tuple[str, ...], str, str]] = [
        (primary, (primary,), "BAD_USER_INPUT", "into itself"),
        (primary, (), "BAD_USER_INPUT", "at least one"),
        (primary, (duplicate, duplicate), "BAD_USER_INPUT", "twice"),
        (primary, (duplicate, theirs), "NOT_FOUND", "no contact"),
        (theirs, (duplicate,), "NOT_FOUND", "no contact"),
        (primary, (gid("Contact", 999_999),), "NOT_FOUND", "no contact"),
        (primary, (gid("Note", 1),), "BAD_USER_INPUT", "not a Contact id"),
    ]
    too_many = tuple(gid("Contact", 100_000 + i) for i in range(merge_service.MAX_DUPLICATES + 1))
    cases.append((primary, too_many, "BAD_USER_INPUT", f"at most {merge_service.MAX_DUPLICATES}"))
    for target, duplicates, code, words in cases:
        error = await merge_error(as_admin, target, *duplicates)
        assert error["extensions"]["code"] == code, (target, duplicates, error)
        assert words in error["message"], error

    # Reps may not merge; managers may.
    error = await merge_error(as_admin.as_(acme.rep_key), primary, duplicate)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert await snapshot() == before

    # An archived contact, as primary or duplicate.
    await as_admin.data(
        "mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }",
        {"i": {"ids": [third]}},
    )
    before = await snapshot()
    for target, duplicates in ((primary, (third,)), (third, (duplicate,))):
        error = await merge_error(as_admin, target, *duplicates)
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and "archived" in error["message"], error
    assert await snapshot() == before

    # An already absorbed contact cannot be merged again, nor be merged into.
    await merge(as_admin.as_(acme.manager_key), primary, duplicate)
    fourth = await create(as_admin, firstName="Fourth")
    before = await snapshot()
    for target, duplicates in ((fourth, (duplicate,)), (duplicate, (fourth,))):
        error = await merge_error(as_admin, target, *duplicates)
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and "already merged" in error["message"], error
    assert await snapshot() == before


async def test_a_failure_half_way_changes_nothing(
    as_admin: Api, pair: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    primary, duplicate = pair
    await fill(as_admin, duplicate, "D", tags=("VIP",))
    before = await snapshot()
    cards = [await card(as_admin, primary), await card(as_admin, duplicate)]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    # After every row moved, before the primary is filled and the duplicate hidden.
    monkeypatch.setattr(merge_service, "_fill", broken)
    body = await as_admin.post(MERGE, {"i": {"primaryId": primary, "duplicateIds": [duplicate]}})
    assert body["errors"] and body["data"] is None
    assert await snapshot() == before
    assert [await card(as_admin, primary), await card(as_admin, duplicate)] == cards


# --------------------------------------------------------------------------------------
# unmergeContacts
# --------------------------------------------------------------------------------------


async def test_merge_then_unmerge_gives_every_card_back_as_it_was(as_admin: Api, acme: Tenant) -> None:
    primary = await create(
        as_admin, firstName="Dee", lastName="Fox", phone="+14155550120", utm={"source": "bing"}
    )
    duplicate = await create(
        as_admin,
        firstName="Dee",
        lastName="Fox",
        email="dee@example.com",
        businessName="Fox Ltd",
        formAnswers=[{"question": "When?", "answer": "Now"}],
    )
    other = await create(as_admin, lastName="Fox", email="dee.fox@example.com", phone="+14155550120")
    await as_admin.data(
        "mutation($i: AssignOwnersInput!) { assignOwners(input: $i) { id } }",
        {"i": {"contactId": duplicate, "assignedToId": gid("User", acme.user_ids["rep"])}},
    )
    await fill(as_admin, primary, "P", tags=("VIP", "Hot"))
    await fill(as_admin, duplicate, "D", tags=("VIP", "Cold"))
    await fill(as_admin, other, "O", tags=("Warm",))
    await lead(as_admin, "dee@example.com", "Quiz")
    await lead(as_admin, "dee.fox@example.com", "Demo")
    # A conversion held for review (a status routed to a manager, the card sent by hand).
    statuses = [
        {"name": n, "converts": n == "customer"} for n in ("lead", "contacted", "qualified", "customer")
    ]
    statuses += [{"name": "lost"}, {"name": "manager check", "routing": "MANAGER"}]
    await as_admin.data(
        "mutation($i: SetStatusListInput!) { setStatusList(input: $i) { name } }",
        {"i": {"statuses": statuses}},
    )
    await as_admin.data(
        "mutation($i: SendToClientInput!) { sendToClient(input: $i) { id } }",
        {"i": {"contactId": duplicate, "fields": [{"name": "Budget", "value": "10k"}]}},
    )
    involved = (primary, duplicate, other)
    assert "journey" not in FULL and "merges" not in FULL and "conversions" in FULL
    before = [await card(as_admin, c) for c in involved]
    full_before = [(await as_admin.data(FULL, {"id": c}))["contact"] for c in involved]
    assert full_before[1]["conversions"]["edges"] and full_before[1]["leads"] and full_before[2]["leads"]
    rows_before = await snapshot()

    result = await merge(as_admin, primary, duplicate, other)
    assert result["contact"]["email"] == "dee@example.com"
    assert {m["kind"]: m["count"] for m in result["merge"]["moved"]}["Conversion"] == 1
    record = result["merge"]
    undone = await unmerge(as_admin, record["id"])

    assert undone["merge"]["undoneAt"] is not None and undone["merge"]["undoneBy"] == "Acme Admin"
    assert [c["id"] for c in undone["contacts"]] == list(involved)
    after = [await card(as_admin, c) for c in involved]
    assert after == before
    assert [(await as_admin.data(FULL, {"id": c}))["contact"] for c in involved] == full_before
    # Row by row too: every row of every section is back on the contact it came from, and the
    # contacts' own columns are as they were (the journey grew; the merge is recorded as undone).
    rows_after = await snapshot()
    for table in rows_before:
        if table not in ("journey_event", "merge"):
            assert rows_after[table] == rows_before[table], table
    assert set(rows_before["journey_event"]) < set(rows_after["journey_event"])
    # The journey keeps the story: merged, then unmerged, on every card involved.
    for contact_id in involved:
        kinds = await as_admin.data(
            "query($id: ID!) { contact(id: $id) { journey(first: 3) { nodes { kind } } } }",
            {"id": contact_id},
        )
        assert kinds["contact"]["journey"]["nodes"][0]["kind"] == "CONTACT_UNMERGED"
    listed = (await as_admin.data(MERGES, {"id": primary}))["contact"]["merges"]
    assert listed[0]["undoneAt"] is not None

    # A merge is undone once.
    error = await unmerge_error(as_admin, record["id"])
    assert error["extensions"]["code"] == "CONFLICT" and "already undone" in error["message"]


async def test_what_came_after_the_merge_stays_on_the_primary(as_admin: Api, pair: tuple[str, str]) -> None:
    primary, duplicate = pair
    await add_note(as_admin, duplicate, "Before")
    record = (await merge(as_admin, primary, duplicate))["merge"]
    later = await add_note(as_admin, primary, "After the merge")
    await unmerge(as_admin, record["id"])
    assert [n["body"] for n in (await card(as_admin, duplicate))["notes"]] == ["Before"]
    assert [n["id"] for n in (await card(as_admin, primary))["notes"]] == [later]


async def test_unmerge_refuses_when_something_since_depends_on_the_merge(
    as_admin: Api, acme: Tenant, globex: Tenant, api: Api, pair: tuple[str, str]
) -> None:
    primary, duplicate = pair
    note = await add_note(as_admin, duplicate, "Moved")
    await as_admin.data(
        "mutation($i: TagInput!) { addTag(input: $i) { id } }",
        {"i": {"contactId": duplicate, "name": "Gold"}},
    )
    record = (await merge(as_admin, primary, duplicate))["merge"]

    async def refused(words: str) -> None:
        before = await snapshot()
        error = await unmerge_error(as_admin, record["id"])
        assert error["extensions"]["code"] == "CONFLICT", error
        assert words in error["message"], error
        assert await snapshot() == before

    # 1. A moved row deleted since.
    await as_admin.data(
        "mutation($i: DeleteNoteInput!) { deleteNote(input: $i) { id } }", {"i": {"id": note}}
    )
    await refused("has been deleted since")
    await Note.create(
        id=decode_id(note, "Note"), contact_id=decode_id(primary, "Contact"), body="Moved", text_length=5
    )

    # A moved row that belongs to another contact now (no mutation does that today; a section
    # added later might): the same refusal.
    elsewhere = await create(as_admin, firstName="Elsewhere")
    await Note.filter(id=decode_id(note, "Note")).update(contact_id=decode_id(elsewhere, "Contact"))
    await refused(f"has moved to contact {decode_id(elsewhere, 'Contact')} since")
    await Note.filter(id=decode_id(note, "Note")).update(contact_id=decode_id(primary, "Contact"))

    # 2. A moved tag removed since.
    await as_admin.data(
        "mutation($i: TagInput!) { removeTag(input: $i) { id } }",
        {"i": {"contactId": primary, "name": "Gold"}},
    )
    await refused("the tag")
    # Tagging again makes a new link: the moved one is still gone. Put the very row back.
    primary_id = decode_id(primary, "Contact")
    moved_links = (await Merge.get(id=decode_id(record["id"], "ContactMerge"))).moved["contact_tag"]
    original = next(iter(moved_links.values()))[0]
    tag_id = (await Tag.get(key="gold")).id
    await ContactTag.create(id=original, contact_id=primary_id, tag_id=tag_id)

    # 3. A filled field edited since.
    await as_admin.data(
        "mutation($i: UpdateContactInput!) { updateContact(input: $i) { id } }",
        {"i": {"id": primary, "title": "CEO"}},
    )
    await refused("title was changed")
    await as_admin.data(
        "mutation($i: UpdateContactInput!) { updateContact(input: $i) { id } }",
        {"i": {"id": primary, "title": "CTO"}},
    )

    # 4. A later merge into the same primary, still in effect.
    third = await create(as_admin, firstName="Third")
    later = (await merge(as_admin, primary, third))["merge"]
    await refused(f"merge {decode_id(later['id'], 'ContactMerge')}")
    await unmerge(as_admin, later["id"])

    # 5. The primary itself merged into another since.
    fourth = await create(as_admin, firstName="Fourth")
    outer = (await merge(as_admin, fourth, primary))["merge"]
    await refused("was itself merged into")
    # The hint of an id absorbed twice over names the card that shows.
    error = await as_admin.error(GET, {"id": duplicate})
    assert error["extensions"]["code"] == "NOT_FOUND" and f"merged into contact {fourth}" in error["message"]
    await unmerge(as_admin, outer["id"])

    # Other accounts' merges are not found; reps may not undo one.
    error = await api.as_(globex.admin_key).error(UNMERGE, {"i": {"mergeId": record["id"]}})
    assert error["extensions"]["code"] == "NOT_FOUND"
    error = await as_admin.as_(acme.rep_key).error(UNMERGE, {"i": {"mergeId": record["id"]}})
    assert error["extensions"]["code"] == "FORBIDDEN"

    # With everything back in place, it undoes.
    undone = await unmerge(as_admin, record["id"])
    assert [c["id"] for c in undone["contacts"]] == [primary, duplicate]
    assert [t["name"] for t in (await card(as_admin, duplicate))["tags"]] == ["Gold"]


# --------------------------------------------------------------------------------------
# Contact.merges and Contact.duplicateCandidates
# --------------------------------------------------------------------------------------


async def test_merges_are_paged_newest_first(as_admin: Api, api: Api, globex: Tenant) -> None:
    primary = await create(as_admin, firstName="Eve")
    ids = []
    for i in range(3):
        other = await create(as_admin, firstName=f"Eve{i}")
        ids.append((await merge(as_admin, primary, other))["merge"]["id"])
    first = (await as_admin.data(MERGES, {"id": primary, "first": 2}))["contact"]["merges"]
    assert [m["id"] for m in first] == [ids[2], ids[1]]
    rest = (await as_admin.data(MERGES, {"id": primary, "first": 2, "after": first[-1]["id"]}))["contact"][
        "merges"
    ]
    assert [m["id"] for m in rest] == [ids[0]]
    # `after` must be one of this card's merges.
    other = await create(as_admin, firstName="Other")
    error = await as_admin.error(MERGES, {"id": other, "after": ids[0]})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_duplicate_candidates_with_their_reasons(as_admin: Api, api: Api, globex: Tenant) -> None:
    card_id = await create(
        as_admin, firstName="Gus", lastName="Hale", email="Gus@Example.com", phone="+14155550150",
        secondaryPhone="+14155550151",
    )  # fmt: skip
    both = await create(as_admin, firstName="G", email="gus@example.com", phone="+14155550150")
    by_email = await create(as_admin, firstName="Other", email="gus@example.com")
    by_phone = await create(as_admin, firstName="Other", phone="(415) 555-0150")
    same_name = await create(as_admin, firstName="gus", lastName="HALE", phone="+14155550151")
    office_line = await create(as_admin, firstName="Receptionist", phone="+14155550151")
    await create(as_admin, firstName="Gus", lastName="Hale", email="someone@example.com")  # a namesake
    archived = await create(as_admin, firstName="Old", email="gus@example.com")
    await as_admin.data(
        "mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }",
        {"i": {"ids": [archived]}},
    )
    await create(api.as_(globex.admin_key), firstName="Gus", email="gus@example.com", phone="+14155550150")

    found = (await as_admin.data(CANDIDATES, {"id": card_id}))["contact"]["duplicateCandidates"]
    assert [(c["contact"]["id"], c["reason"]) for c in found] == [
        (both, "EMAIL_AND_PHONE"),
        (by_email, "EMAIL"),
        (by_phone, "PHONE"),
        (same_name, "NAME_AND_IDENTIFIER"),
    ]
    assert office_line not in {c["contact"]["id"] for c in found}
    # Merged contacts are no candidates any more.
    await merge(as_admin, card_id, both)
    found = (await as_admin.data(CANDIDATES, {"id": card_id}))["contact"]["duplicateCandidates"]
    assert both not in {c["contact"]["id"] for c in found}
    error = await as_admin.error(
        "query($id: ID!) { contact(id: $id) { duplicateCandidates(first: 21) { reason } } }", {"id": card_id}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_merges_and_candidates_cost_constant_statements(as_admin: Api, count_statements: Any) -> None:
    document = """
    query($first: Int!) { contacts(first: $first) { nodes { id
      merges { id createdAt actor { name user { name } } absorbed { id displayName } moved { kind count }
               filled { field value } primary { id } }
      duplicateCandidates { reason contact { id displayName } }
    } } }
    """
    contacts = []
    for i in range(6):
        primary = await create(
            as_admin, firstName=f"P{i}", email=f"p{i}@example.com", phone=f"+1415555{i:04}"
        )
        await create(as_admin, firstName=f"Q{i}", email=f"p{i}@example.com")
        if i % 2 == 0:
            other = await create(as_admin, firstName=f"R{i}", phone=f"+1415555{i:04}")
            await merge(as_admin, primary, other)
        contacts.append(primary)

    async def measure(first: int) -> int:
        with count_statements() as counter:
            data = await as_admin.data(document, {"first": first})
        assert len(data["contacts"]["nodes"]) == first
        return int(counter.count)

    assert await measure(1) == await measure(12)


# --------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------


async def test_merge_and_unmerge_fire_their_hooks(running_app: Any) -> None:
    recorder = Recorder()
    async with running_app(plugins=(recorder,), disabled_plugins=builtin_names()) as api:
        tenant = await make_tenant("Hooked")
        admin = api.as_(tenant.admin_key)
        primary = await create(admin, firstName="Ivy", phone="+14155550170")
        duplicate = await create(admin, firstName="Ivy", lastName="Ray", email="ivy@example.com")
        await add_note(admin, duplicate, "Hello")
        await api.runtime.dispatcher.drain()
        recorder.take()

        record = (await merge(admin, primary, duplicate))["merge"]
        await api.runtime.dispatcher.drain()
        ((hook, event),) = recorder.take()
        assert hook == "contacts_merged" and event.kind == "CONTACTS_MERGED"
        assert event.contact_id == decode_id(primary, "Contact") and event.subject_type == "Merge"
        assert event.subject["absorbed"] == [
            {"id": decode_id(duplicate, "Contact"), "displayName": "Ivy Ray"}
        ]
        assert event.subject["moved"]["Note"] == 1
        assert event.subject["filled"]["email"] == {
            "from": decode_id(duplicate, "Contact"),
            "value": "ivy@example.com",
        }
        assert event.changes["lastName"] == [None, "Ray"]

        await unmerge(admin, record["id"])
        await api.runtime.dispatcher.drain()
        calls = recorder.take()
        assert [hook for hook, _ in calls] == ["contact_unmerged", "contact_unmerged"]
        assert {e.contact_id for _, e in calls} == {
            decode_id(primary, "Contact"),
            decode_id(duplicate, "Contact"),
        }
        assert all(e.subject["mergeId"] == decode_id(record["id"], "ContactMerge") for _, e in calls)
        # Outgoing webhooks can subscribe to both.
        events = (await admin.data("{ webhookEvents }"))["webhookEvents"]
        assert {"contacts_merged", "contact_unmerged"} <= set(events)


async def test_a_status_held_only_by_an_absorbed_contact_stays_in_the_list(as_admin: Api) -> None:
    primary = await create(as_admin, firstName="Kim")
    duplicate = await create(as_admin, firstName="Kim")
    await as_admin.data(
        "mutation($i: SetContactStatusInput!) { setContactStatus(input: $i) { status } }",
        {"i": {"contactId": duplicate, "status": "qualified"}},
    )
    await merge(as_admin, primary, duplicate)
    statuses = [{"name": n, "converts": n == "customer"} for n in ("lead", "contacted", "customer", "lost")]
    error = await as_admin.error(
        "mutation($i: SetStatusListInput!) { setStatusList(input: $i) { name } }",
        {"i": {"statuses": statuses}},
    )
    # unmergeContacts would give the contact back a status the account no longer has.
    assert error["extensions"]["code"] == "CONFLICT" and "qualified" in error["message"]


async def test_deleting_the_primary_deletes_what_it_absorbed(as_admin: Api, pair: tuple[str, str]) -> None:
    primary, duplicate = pair
    await add_note(as_admin, duplicate, "Kept on the card")
    await as_admin.data(
        "mutation($i: TagInput!) { addTag(input: $i) { id } }", {"i": {"contactId": primary, "name": "VIP"}}
    )
    await as_admin.data(
        "mutation($i: TagInput!) { addTag(input: $i) { id } }", {"i": {"contactId": duplicate, "name": "VIP"}}
    )
    await merge(as_admin, primary, duplicate)
    await as_admin.data(
        "mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }",
        {"i": {"ids": [primary]}},
    )
    deleted = await as_admin.data(
        "mutation($i: DeleteContactsInput!) { deleteContacts(input: $i) { deletedIds } }",
        {"i": {"ids": [primary]}},
    )
    assert deleted["deleteContacts"]["deletedIds"] == [primary]
    ids = [decode_id(primary, "Contact"), decode_id(duplicate, "Contact")]
    assert await every_contact().filter(id__in=ids).count() == 0
    assert await Merge.all().count() == 0
    # The duplicate's own VIP link (kept on it: the primary had VIP) went with it.
    assert await ContactTag.filter(contact_id__in=ids).count() == 0
