"""Duplicating a contact (D4): identity, owners, profile, tags and deals are copied; notes, calls,
messages, UTMs, form answers and the journey are not. The copy's journey starts with
CONTACT_DUPLICATED pointing at the source; the source's journey says so too."""

from __future__ import annotations

from typing import Any

from crm.events import CardEvent
from crm.models import Contact
from graph.ids import decode_id, global_id_text
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant

CREATE = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
DUPLICATE = """mutation($i: DuplicateContactInput!) {
  duplicateContact(input: $i) { contact { ...Card } source { id } }
}
fragment Card on Contact {
  id firstName lastName businessName title email secondaryEmail phone secondaryPhone
  address { street city state zip country } ipAddress status subStatus okToSms archivedAt
  setterOwner { name } closerOwner { name } assignedTo { name }
  tags { name }
  deals { productName amount currency paymentType status recurring createdBy { name } }
  notes { id } calls { id } utms { source } formAnswers { question }
  journey(first: 10) { totalCount nodes { kind summary subjectType subjectId } }
}"""
CARD = """query($id: ID!) {
  contact(id: $id) { id firstName journey(first: 10) { nodes { kind summary subjectType subjectId } } }
}"""


async def seeded_source(api: Api, tenant: Tenant) -> str:
    source = (
        await api.data(
            CREATE,
            {
                "i": {
                    "firstName": "Ada",
                    "lastName": "Lovelace",
                    "businessName": "Analytical Engines",
                    "title": "Countess",
                    "email": "ada@example.com",
                    "secondaryEmail": "ada@home.example.com",
                    "phone": "+14155550123",
                    "secondaryPhone": "+14155550124",
                    "address": {"street": "12 St James's Sq", "city": "London", "country": "GB"},
                    "ipAddress": "203.0.113.5",
                    "utm": {"source": "google"},
                    "formAnswers": [{"question": "Budget?", "answer": "10k"}],
                }
            },
        )
    )["createContact"]["id"]
    users = tenant.user_ids
    await api.data(
        "mutation($i: AssignOwnersInput!) { assignOwners(input: $i) { id } }",
        {
            "i": {
                "contactId": source,
                "setterOwnerId": global_id_text("User", users["rep"]),
                "assignedToId": global_id_text("User", users["manager"]),
            }
        },
    )
    await api.data(
        "mutation($i: SetContactStatusInput!) { setContactStatus(input: $i) { id } }",
        {"i": {"contactId": source, "status": "qualified", "subStatus": "hot"}},
    )
    for name in ("VIP", "Referral"):
        await api.data(
            "mutation($i: TagInput!) { addTag(input: $i) { id } }", {"i": {"contactId": source, "name": name}}
        )
    for product, amount in (("Annual plan", "1200.00"), ("Setup", "99.50")):
        await api.data(
            "mutation($i: AddDealInput!) { addDeal(input: $i) { id } }",
            {
                "i": {
                    "contactId": source,
                    "productName": product,
                    "amount": amount,
                    "currency": "USD",
                    "paymentType": "ONE_TIME",
                }
            },
        )
    await api.data(
        "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }",
        {"i": {"contactId": source, "body": "<p>Private history</p>"}},
    )
    return source


def without(card: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in card.items() if k not in keys}


async def test_the_copy_has_identity_owners_tags_and_deals_but_no_history(api: Api, acme: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    source = await seeded_source(admin, acme)
    rep = api.as_(acme.rep_key)  # any user may duplicate
    done = (await rep.data(DUPLICATE, {"i": {"id": source}}))["duplicateContact"]
    copy = done["contact"]
    assert done["source"]["id"] == source and copy["id"] != source
    whole = "query($id: ID!) { contact(id: $id) { ...Card } }" + DUPLICATE[DUPLICATE.index("fragment") :]
    original = await admin.data(whole, {"id": source})
    original = original["contact"]
    same = ("firstName", "lastName", "businessName", "title", "email", "secondaryEmail", "phone",
            "secondaryPhone", "address", "ipAddress", "status", "subStatus", "okToSms", "setterOwner",
            "closerOwner", "assignedTo", "tags")  # fmt: skip
    for key in same:
        assert copy[key] == original[key], key
    assert copy["status"] == "qualified" and copy["subStatus"] == "hot"
    assert copy["setterOwner"] == {"name": "Acme Rep"} and copy["assignedTo"] == {"name": "Acme Manager"}
    assert [t["name"] for t in copy["tags"]] == ["Referral", "VIP"]
    assert copy["deals"] == original["deals"]
    assert [d["productName"] for d in copy["deals"]] == ["Annual plan", "Setup"]
    assert copy["deals"][0]["createdBy"] == {"name": "Acme Admin"}
    # Not copied: notes, calls, UTMs, form answers, history.
    assert (copy["notes"], copy["calls"], copy["utms"], copy["formAnswers"]) == ([], [], [], [])
    assert copy["archivedAt"] is None
    journey = copy["journey"]
    # It starts with CONTACT_DUPLICATED, then records the deals it got (newest first here).
    assert [n["kind"] for n in journey["nodes"]] == ["DEAL_ADDED", "DEAL_ADDED", "CONTACT_DUPLICATED"]
    assert journey["nodes"][1]["summary"].startswith(
        f"Acme Rep copied a deal from contact {decode_id(source, 'Contact')}: Annual plan"
    )
    entry = journey["nodes"][-1]
    assert (entry["subjectType"], entry["subjectId"]) == ("Contact", source)
    source_id = decode_id(source, "Contact")
    assert entry["summary"] == f"Acme Rep duplicated Ada Lovelace (contact {source_id}) as this contact"
    # The source's journey says it was copied, pointing at the copy.
    latest = (await admin.data(CARD, {"id": source}))["contact"]["journey"]["nodes"][0]
    assert latest["kind"] == "CONTACT_DUPLICATED"
    assert (latest["subjectType"], latest["subjectId"]) == ("Contact", copy["id"])
    assert (
        latest["summary"] == f"Acme Rep duplicated this contact as contact {decode_id(copy['id'], 'Contact')}"
    )
    # Changing the copy leaves the source alone.
    await admin.data(
        "mutation($i: UpdateContactInput!) { updateContact(input: $i) { id } }",
        {"i": {"id": copy["id"], "firstName": "Augusta"}},
    )
    assert (await admin.data(CARD, {"id": source}))["contact"]["firstName"] == "Ada"


async def test_an_archived_contact_duplicates_into_a_live_copy(as_admin: Api) -> None:
    source = (await as_admin.data(CREATE, {"i": {"firstName": "Old"}}))["createContact"]["id"]
    await as_admin.data(
        "mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }",
        {"i": {"ids": [source]}},
    )
    copy = (await as_admin.data(DUPLICATE, {"i": {"id": source}}))["duplicateContact"]["contact"]
    assert copy["archivedAt"] is None and copy["firstName"] == "Old"


async def test_bad_ids_are_refused_and_copy_nothing(api: Api, acme: Tenant, globex: Tenant) -> None:
    theirs = (await api.as_(globex.admin_key).data(CREATE, {"i": {"firstName": "Eve"}}))["createContact"][
        "id"
    ]
    admin = api.as_(acme.admin_key)
    before = await Contact.all().count()
    error = await admin.error(DUPLICATE, {"i": {"id": theirs}})
    assert error["extensions"]["code"] == "NOT_FOUND"
    for bad in ("nope", global_id_text("Call", 1)):
        error = await admin.error(DUPLICATE, {"i": {"id": bad}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", bad
    error = await admin.error(DUPLICATE, {"i": {"id": global_id_text("Contact", 999_999)}})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await Contact.all().count() == before


class DuplicationRecorder:
    name = "duplication-recorder"

    def __init__(self) -> None:
        self.events: list[CardEvent] = []

    @hookimpl
    def contact_duplicated(self, event: CardEvent) -> None:
        self.events.append(event)


async def test_contact_duplicated_fires_once_for_the_copy(running_app: AppFactory) -> None:
    recorder = DuplicationRecorder()
    async with running_app(plugins=(recorder,), disabled_plugins=builtin_names()) as app:
        acme = await make_tenant("Acme")
        admin = app.as_(acme.admin_key)
        source = await seeded_source(admin, acme)
        copy = (await admin.data(DUPLICATE, {"i": {"id": source}}))["duplicateContact"]["contact"]["id"]
        await app.runtime.dispatcher.drain()
        (event,) = recorder.events
        assert event.kind == "CONTACT_DUPLICATED"
        assert event.contact_id == decode_id(copy, "Contact")
        assert event.subject_id == decode_id(source, "Contact")
        assert event.subject["sourceId"] == decode_id(source, "Contact")
        assert event.subject["tags"] == ["Referral", "VIP"]
        assert [d["productName"] for d in event.subject["deals"]] == ["Annual plan", "Setup"]
        assert event.subject["deals"][0]["amount"] == "1200.00"
        assert event.changes["email"] == [None, "ada@example.com"]
        assert event.changes["status"] == [None, "qualified"]
        assert event.changes["setterOwner"] == [None, "Acme Rep"]
        assert event.changes["tags"] == [None, ["Referral", "VIP"]]


async def test_the_copy_gets_the_expanded_profile_journaled(running_app: AppFactory) -> None:
    """The profile is identity-like data (article 002: only history notes stay behind): the copy
    gets the whole row, and its CONTACT_DUPLICATED entry lists each field as `[None, value]`."""
    from tests.test_card_header_profile import FULL_PROFILE, PROFILE_FIELDS

    recorder = DuplicationRecorder()
    async with running_app(plugins=(recorder,), disabled_plugins=builtin_names()) as app:
        acme = await make_tenant("Acme")
        admin = app.as_(acme.admin_key)
        source = (await admin.data(CREATE, {"i": {"firstName": "Ada", "profile": FULL_PROFILE}}))[
            "createContact"
        ]["id"]
        profile_of = "query($id: ID!) { contact(id: $id) { profile { " + PROFILE_FIELDS + " } } }"
        original = (await admin.data(profile_of, {"id": source}))["contact"]["profile"]
        assert original["occupation"] == "Engineer" and original["pets"] is False
        copy = (await admin.data(DUPLICATE, {"i": {"id": source}}))["duplicateContact"]["contact"]["id"]
        assert (await admin.data(profile_of, {"id": copy}))["contact"]["profile"] == original
        await app.runtime.dispatcher.drain()
        (event,) = recorder.events
        assert event.changes["profile.netWorth"] == [None, {"amount": "250000.50", "currency": "USD"}]
        assert event.changes["profile.marketValue"] == [None, {"amount": "45000000", "currency": "JPY"}]
        assert event.changes["profile.occupation"] == [None, "Engineer"]
        assert event.changes["profile.pets"] == [None, False]  # an answer, not a blank
        assert event.changes["profile.anniversary1"] == [None, {"date": "2015-09-12", "label": "Wedding"}]
        assert event.changes["profile.birthDate"] == [None, "1990-06-15"]
        assert "profile.age" not in event.changes  # derived from the birth date, not stored
        # The two rows are separate: editing the copy's profile leaves the source's alone.
        await admin.data(
            "mutation($i: UpdateContactInput!) { updateContact(input: $i) { id } }",
            {"i": {"id": copy, "profile": {"occupation": "Pilot"}}},
        )
        assert (await admin.data(profile_of, {"id": source}))["contact"]["profile"][
            "occupation"
        ] == "Engineer"
        # A contact without a profile row duplicates into one without a row either.
        bare = (await admin.data(CREATE, {"i": {"firstName": "Bo"}}))["createContact"]["id"]
        bare_copy = (await admin.data(DUPLICATE, {"i": {"id": bare}}))["duplicateContact"]["contact"]["id"]
        from crm.models.profile import ContactProfile

        assert not await ContactProfile.filter(contact_id=decode_id(bare_copy, "Contact")).exists()
        await app.runtime.dispatcher.drain()
        assert not any(key.startswith("profile.") for key in recorder.events[-1].changes)
